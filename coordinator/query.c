/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The query endpoint: nodes, devices with filters, and a watch stream. Large device lists
 * go out in parts so that no single message grows with the fleet. */
#include <string.h>

#include "common/log.h"
#include "coordinator/coordinator.h"
#include "coordinator/metrics.h"
#include "proto/codec.h"
#include "proto/link.h"

#define REPLY_PART_DEVICES 512
#define MAX_WATCHERS 1024

typedef struct Reply {
        Coordinator *c;
        zframe_t *rid;
        uint64_t request_id;
        Castle__ClusterDevice items[REPLY_PART_DEVICES];
        Castle__ClusterDevice *ptrs[REPLY_PART_DEVICES];
        size_t n;
} Reply;

static void send_reply(Coordinator *c, zframe_t *rid, Castle__QueryReply *r) {
        int k = link_send(c->query, rid, &r->base);

        if (k < 0)
                log_debug_errno(k, "Failed to answer a query: %m");
}

static void flush_devices(Reply *rp, bool last) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = rp->request_id;
        r.devices = rp->ptrs;
        r.n_devices = rp->n;
        r.last = last;
        send_reply(rp->c, rp->rid, &r);
        for (size_t i = 0; i < rp->n; i++) {
                free(rp->items[i].node_id);
                castle__device__free_unpacked(rp->items[i].device, NULL);
        }
        rp->n = 0;
}

static int add_device(const char *node_id, const uint8_t *data, size_t size, void *userdata) {
        Reply *rp = userdata;
        Castle__ClusterDevice *item = &rp->items[rp->n];
        Castle__Device *d = castle__device__unpack(NULL, size, data);

        if (!d)
                return 0; /* a row we cannot read is skipped, not fatal */
        castle__cluster_device__init(item);
        item->node_id = strdup(node_id);
        if (!item->node_id) {
                castle__device__free_unpacked(d, NULL);
                return -ENOMEM;
        }
        item->device = d;
        rp->ptrs[rp->n++] = item;
        if (rp->n == REPLY_PART_DEVICES)
                flush_devices(rp, false);
        return 0;
}

static void reply_error(Coordinator *c, zframe_t *rid, uint64_t request_id, const char *error) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = request_id;
        r.error = (char *) error;
        r.last = true;
        send_reply(c, rid, &r);
}

static void list_nodes(Coordinator *c, zframe_t *rid, uint64_t request_id) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        StoreNode *nodes = NULL;
        Castle__NodeInfo *infos;
        Castle__NodeInfo **ptrs;
        size_t n = 0;
        int k;

        k = store_list_nodes(c->store, &nodes, &n);
        if (k < 0) {
                reply_error(c, rid, request_id, "the store could not list nodes");
                return;
        }
        infos = calloc(n ?: 1, sizeof(Castle__NodeInfo));
        ptrs = calloc(n ?: 1, sizeof(Castle__NodeInfo *));
        if (!infos || !ptrs) {
                reply_error(c, rid, request_id, "out of memory");
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                node_info_fill(&infos[i], &nodes[i]);
                ptrs[i] = &infos[i];
        }
        r.request_id = request_id;
        r.nodes = ptrs;
        r.n_nodes = n;
        r.last = true;
        send_reply(c, rid, &r);
finish:
        free(infos);
        free(ptrs);
        store_nodes_free(nodes, n);
}

static void list_devices(Coordinator *c, zframe_t *rid, uint64_t request_id, const Castle__DeviceFilter *f) {
        DeviceQuery q = DEVICE_QUERY_INIT;
        _cleanup_free_ Reply *rp = calloc(1, sizeof(Reply));
        int k;

        if (!rp) {
                reply_error(c, rid, request_id, "out of memory");
                return;
        }
        *rp = (Reply) { .c = c, .rid = rid, .request_id = request_id };

        q.node_id = isempty(f->node_id) ? NULL : f->node_id;
        q.stable_id = isempty(f->stable_id) ? NULL : f->stable_id;
        q.available = f->available == CASTLE__DEVICE_FILTER__TRI__YES ? 1
                      : f->available == CASTLE__DEVICE_FILTER__TRI__NO ? 0 : -1;
        q.rotational = f->rotational == CASTLE__DEVICE_FILTER__TRI__YES ? 1
                       : f->rotational == CASTLE__DEVICE_FILTER__TRI__NO ? 0 : -1;
        q.min_size = f->min_size;
        q.max_size = f->max_size;
        q.transport = isempty(f->transport) ? NULL : f->transport;
        q.model = isempty(f->model) ? NULL : f->model;
        q.limit = f->limit;
        k = store_query_devices(c->store, &q, add_device, rp);
        if (k < 0) {
                flush_devices(rp, false);
                reply_error(c, rid, request_id, "the store could not answer");
                return;
        }
        flush_devices(rp, true);
}

static void add_watcher(Coordinator *c, zframe_t *rid, uint64_t request_id) {
        if (zlistx_size(c->watchers) >= MAX_WATCHERS) {
                reply_error(c, rid, request_id, "too many watch clients");
                return;
        }
        zlistx_add_end(c->watchers, zframe_dup(rid));
        log_debug("A watch client subscribed (%zu now).", zlistx_size(c->watchers));
        (void) request_id;
}

void watch_publish(Coordinator *c, const Castle__WatchEvent *e) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.event = (Castle__WatchEvent *) e;
        for (zframe_t *w = zlistx_first(c->watchers); w; w = zlistx_next(c->watchers)) {
                /* A watcher that went away: its queue fills, sends fail, it is dropped. */
                if (link_send(c->query, w, &r.base) < 0) {
                        zframe_t *gone = zlistx_detach_cur(c->watchers);
                        zframe_destroy(&gone);
                }
        }
}

int query_message(Coordinator *c, zmsg_t *msg) {
        Castle__QueryRequest *q = NULL;
        zframe_t *rid, *payload;
        int r;

        if (zmsg_size(msg) != 2) {
                c->dropped[DROP_FRAMING]++;
                coordinator_metrics_query(c->metrics, CASTLE__QUERY_REQUEST__KIND__NOT_SET, true);
                return 0;
        }
        rid = zmsg_first(msg);
        payload = zmsg_next(msg);
        r = codec_query_request_unpack(zframe_data(payload), zframe_size(payload), &q);
        coordinator_metrics_query(c->metrics, r < 0 ? CASTLE__QUERY_REQUEST__KIND__NOT_SET : q->kind_case, r < 0);
        if (r < 0) {
                c->dropped[r == -EPROTO ? DROP_VERSION : DROP_DECODE]++;
                reply_error(c, rid, 0, r == -EPROTO ? "unsupported protocol version" : "malformed request");
                return 0;
        }
        switch (q->kind_case) {
        case CASTLE__QUERY_REQUEST__KIND_NODES:
                list_nodes(c, rid, q->request_id);
                break;
        case CASTLE__QUERY_REQUEST__KIND_DEVICES:
                list_devices(c, rid, q->request_id, q->devices);
                break;
        case CASTLE__QUERY_REQUEST__KIND_WATCH:
                add_watcher(c, rid, q->request_id);
                break;
        case CASTLE__QUERY_REQUEST__KIND_COMMAND:
                jobs_submit(c, rid, q->request_id, q->command);
                break;
        default:
                reply_error(c, rid, q->request_id, "unknown request");
        }
        castle__query_request__free_unpacked(q, NULL);
        return 0;
}
