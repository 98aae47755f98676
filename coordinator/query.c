/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The query endpoint: nodes, devices with filters, a watch stream, commands and the removal
 * of a node, and the audit trail. Large device lists and the trail go out in parts so that no
 * single message grows with the fleet. A command or a removal waits for its record in the
 * audit trail to be stored before anything is done. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "coordinator/nodes.h"
#include "coordinator/query.h"
#include "proto/codec.h"
#include "proto/link.h"

#define REPLY_PART_DEVICES 512
#define REPLY_PART_AUDIT 256

struct Query {
        zsock_t *sock;
        Store *store;
        Nodes *nodes;
        Watch *watch;
        Jobs *jobs;
        CoordinatorMetrics *metrics;
        uint64_t dropped[_DROP_MAX];
        Audit *audit;
        zlistx_t *recording;    /* Recording: requests waiting for their audit record */
};

/* A state-changing request, held until its audit record is stored. */
typedef struct Recording {
        Query *q;
        zframe_t *rid;
        Castle__QueryRequest *req;
        AuditCaller caller;
        void *handle;           /* in q->recording */
} Recording;

static void recording_free(void **item) {
        Recording *r = *item;

        if (!r)
                return;
        zframe_destroy(&r->rid);
        if (r->req)
                castle__query_request__free_unpacked(r->req, NULL);
        free(r);
        *item = NULL;
}

typedef struct Reply {
        Query *q;
        zframe_t *rid;
        uint64_t request_id;
        Castle__ClusterDevice items[REPLY_PART_DEVICES];
        Castle__ClusterDevice *ptrs[REPLY_PART_DEVICES];
        size_t n;
} Reply;

int query_new(zsock_t *query, Store *store, Nodes *nodes, Watch *watch, Jobs *jobs, CoordinatorMetrics *metrics,
              Query **ret) {
        Query *q = calloc(1, sizeof(Query));

        if (!q)
                return -ENOMEM;
        *q = (Query) { .sock = query, .store = store, .nodes = nodes, .watch = watch, .jobs = jobs,
                       .metrics = metrics };
        q->recording = zlistx_new();
        if (!q->recording) {
                free(q);
                return -ENOMEM;
        }
        zlistx_set_destructor(q->recording, recording_free);
        *ret = q;
        return 0;
}

void query_set_audit(Query *q, Audit *audit) {
        q->audit = audit;
}

Query *query_free(Query *q) {
        if (!q)
                return NULL;
        zlistx_destroy(&q->recording);
        free(q);
        return NULL;
}

void query_add_drops(const Query *q, uint64_t dropped[static _DROP_MAX]) {
        for (int d = 0; d < _DROP_MAX; d++)
                dropped[d] += q->dropped[d];
}

static void send_reply(Query *q, zframe_t *rid, Castle__QueryReply *r) {
        int k = link_send(q->sock, rid, &r->base);

        if (k < 0)
                log_debug_errno(k, "Failed to answer a query: %m");
}

static void flush_devices(Reply *rp, bool last) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = rp->request_id;
        r.devices = rp->ptrs;
        r.n_devices = rp->n;
        r.last = last;
        send_reply(rp->q, rp->rid, &r);
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

static void reply_error(Query *q, zframe_t *rid, uint64_t request_id, const char *error) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = request_id;
        r.error = (char *) error;
        r.last = true;
        send_reply(q, rid, &r);
}

static void list_nodes(Query *q, zframe_t *rid, uint64_t request_id) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        Castle__StoreStatus status = CASTLE__STORE_STATUS__INIT;
        StoreHealth health;
        StoreNode *nodes = NULL;
        Castle__NodeInfo *infos;
        Castle__NodeInfo **ptrs;
        size_t n = 0;
        int k;

        k = store_list_nodes(q->store, &nodes, &n);
        if (k < 0) {
                reply_error(q, rid, request_id, "the store could not list nodes");
                return;
        }
        infos = calloc(n ?: 1, sizeof(Castle__NodeInfo));
        ptrs = calloc(n ?: 1, sizeof(Castle__NodeInfo *));
        if (!infos || !ptrs) {
                reply_error(q, rid, request_id, "out of memory");
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                nodes_info_fill(&infos[i], &nodes[i]);
                ptrs[i] = &infos[i];
        }
        /* The store's health goes with every node list, so that a client can say when what it
         * shows is not what the nodes reported. */
        store_get_health(q->store, &health);
        status.error = health.error < 0 ? (char *) strerror(-health.error) : (char *) "";
        status.failing_since_usec = health.failing_since;
        status.failures = health.failures;
        status.unsaved_nodes = (uint32_t) MIN(health.unsaved, (size_t) UINT32_MAX);
        r.store = &status;
        r.request_id = request_id;
        r.nodes = ptrs;
        r.n_nodes = n;
        r.last = true;
        send_reply(q, rid, &r);
finish:
        free(infos);
        free(ptrs);
        store_nodes_free(nodes, n);
}

static void list_devices(Query *q, zframe_t *rid, uint64_t request_id, const Castle__DeviceFilter *f) {
        DeviceQuery dq = DEVICE_QUERY_INIT;
        _cleanup_free_ Reply *rp = calloc(1, sizeof(Reply));
        int k;

        if (!rp) {
                reply_error(q, rid, request_id, "out of memory");
                return;
        }
        *rp = (Reply) { .q = q, .rid = rid, .request_id = request_id };

        dq.node_id = isempty(f->node_id) ? NULL : f->node_id;
        dq.stable_id = isempty(f->stable_id) ? NULL : f->stable_id;
        dq.available = f->available == CASTLE__DEVICE_FILTER__TRI__YES ? 1
                       : f->available == CASTLE__DEVICE_FILTER__TRI__NO ? 0 : -1;
        dq.rotational = f->rotational == CASTLE__DEVICE_FILTER__TRI__YES ? 1
                        : f->rotational == CASTLE__DEVICE_FILTER__TRI__NO ? 0 : -1;
        dq.min_size = f->min_size;
        dq.max_size = f->max_size;
        dq.transport = isempty(f->transport) ? NULL : f->transport;
        dq.model = isempty(f->model) ? NULL : f->model;
        dq.limit = f->limit;
        k = store_query_devices(q->store, &dq, add_device, rp);
        if (k < 0) {
                flush_devices(rp, false);
                reply_error(q, rid, request_id, "the store could not answer");
                return;
        }
        flush_devices(rp, true);
}

static void add_watcher(Query *q, zframe_t *rid, uint64_t request_id) {
        int r = watch_subscribe(q->watch, rid, request_id);

        if (r == -EDQUOT) {
                q->dropped[DROP_QUOTA]++;
                reply_error(q, rid, request_id, "too many watches from this client (max-watches-per-client)");
        } else if (r < 0)
                reply_error(q, rid, request_id, r == -EBUSY ? "too many watch clients" : "out of memory");
}

static const char *remove_action(const Castle__RemoveNode *rn) {
        return rn->force ? "node rm --force" : "node rm";
}

/* who: the caller, when the request is in the audit trail (its result goes there too). */
static void remove_node(Query *q, zframe_t *rid, uint64_t request_id, const Castle__RemoveNode *rn,
                        const AuditWho *who) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        char error[256], result[300];
        int k;

        if (!codec_valid_id(rn->node_id)) {
                reply_error(q, rid, request_id, "invalid node id");
                return;
        }
        k = nodes_remove(q->nodes, rn->node_id, rn->force);
        if (k < 0) {
                if (k == -ENOENT)
                        snprintf(error, sizeof error, "no such node");
                else if (k == -EBUSY)
                        snprintf(error, sizeof error,
                                 "node %s is online: stop its agent first, or use --force (it comes back when its "
                                 "agent speaks again)", rn->node_id);
                else
                        snprintf(error, sizeof error, "the store could not remove the node: %s", strerror(-k));
                reply_error(q, rid, request_id, error);
                if (q->audit && who) {
                        snprintf(result, sizeof result, "refused: %s", error);
                        (void) audit_result(q->audit, who, remove_action(rn), rn->node_id, NULL, 0, result);
                }
                return;
        }
        if (q->audit && who)
                (void) audit_result(q->audit, who, remove_action(rn), rn->node_id, NULL, 0, "ok");
        jobs_node_gone(q->jobs, rn->node_id, "the node was removed before the command finished");
        r.request_id = request_id;
        r.last = true;
        send_reply(q, rid, &r);
}

static void list_audit(Query *q, zframe_t *rid, uint64_t request_id, const Castle__AuditQuery *aq) {
        Castle__AuditRecord **records = NULL;
        size_t n = 0, sent = 0;
        int k;

        if (!q->audit) {
                reply_error(q, rid, request_id, "this coordinator keeps no audit trail");
                return;
        }
        k = audit_list(q->audit, aq->since_usec, aq->limit > 0 ? aq->limit : AUDIT_DEFAULT_LIMIT, &records, &n);
        if (k < 0) {
                char error[128];
                snprintf(error, sizeof error, "the audit trail could not be read: %s", strerror(-k));
                reply_error(q, rid, request_id, error);
                return;
        }
        do {
                Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
                size_t part = MIN(n - sent, (size_t) REPLY_PART_AUDIT);

                r.request_id = request_id;
                r.audit = records + sent;
                r.n_audit = part;
                sent += part;
                r.last = sent == n;
                send_reply(q, rid, &r);
        } while (sent < n);
        audit_records_free(records, n);
}

/* What a state-changing request is, for its audit record. */
static void request_what(const Castle__QueryRequest *req, const char **ret_action, const char **ret_node,
                         const char **ret_device, uint64_t *ret_command_id) {
        if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_COMMAND) {
                *ret_action = audit_command_action(req->command->command);
                *ret_node = req->command->node_id;
                *ret_device = audit_command_device(req->command->command);
                *ret_command_id = req->command->command->command_id;
        } else {
                *ret_action = remove_action(req->remove_node);
                *ret_node = req->remove_node->node_id;
                *ret_device = NULL;
                *ret_command_id = 0;
        }
}

/* The request's record is stored (error 0): act on it now; or it is not: refuse it. */
static void on_recorded(int error, void *userdata) {
        Recording *rec = userdata;
        Query *q = rec->q;
        Castle__QueryRequest *req = rec->req;

        if (error < 0) {
                const char *action, *node_id, *device;
                uint64_t command_id;
                char why[256], result[300];

                snprintf(why, sizeof why, "the intent store cannot record the request: %s; nothing was done",
                         strerror(-error));
                reply_error(q, rec->rid, req->request_id, why);
                request_what(req, &action, &node_id, &device, &command_id);
                snprintf(result, sizeof result, "refused: %s", why);
                (void) audit_result(q->audit, &rec->caller.who, action, node_id, device, command_id, result);
        } else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_COMMAND)
                jobs_submit_as(q->jobs, rec->rid, req->request_id, req->command, &rec->caller.who);
        else
                remove_node(q, rec->rid, req->request_id, req->remove_node, &rec->caller.who);
        zlistx_delete(q->recording, rec->handle);
}

/* Records a state-changing request and holds it until the record is stored. Returns true when
 * it took req over; false when it answered the request with an error and req stays the
 * caller's. */
static bool record_request(Query *q, zframe_t *rid, zframe_t *payload, Castle__QueryRequest *req) {
        const char *action, *node_id, *device, *user_id = zframe_meta(payload, "User-Id");
        uint64_t command_id;
        Recording *rec;
        int k;

        /* what would be refused anyway, before anything is recorded */
        if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE && !codec_valid_id(req->remove_node->node_id)) {
                reply_error(q, rid, req->request_id, "invalid node id");
                return false;
        }
        rec = calloc(1, sizeof(Recording));
        if (!rec || !(rec->rid = zframe_dup(rid))) {
                free(rec);
                reply_error(q, rid, req->request_id, "out of memory");
                return false;
        }
        if (audit_caller_parse(user_id, &rec->caller) < 0)
                log_debug("Query: a User-Id that does not parse; the request is recorded as by 'unknown'.");
        rec->q = q;
        rec->req = req;
        rec->handle = zlistx_add_end(q->recording, rec);
        request_what(req, &action, &node_id, &device, &command_id);
        k = audit_request(q->audit, &rec->caller.who, action, node_id, device, command_id, on_recorded, rec);
        if (k < 0) {
                char why[256];

                snprintf(why, sizeof why, "the intent store cannot record the request: %s; nothing was done",
                         strerror(-k));
                reply_error(q, rid, req->request_id, why);
                rec->req = NULL;
                zlistx_delete(q->recording, rec->handle);
                return false;
        }
        return true;
}

int query_message(Query *q, zmsg_t *msg) {
        Castle__QueryRequest *req = NULL;
        zframe_t *rid, *payload;
        int r;

        if (zmsg_size(msg) != 2) {
                q->dropped[DROP_FRAMING]++;
                coordinator_metrics_query(q->metrics, CASTLE__QUERY_REQUEST__KIND__NOT_SET, true);
                return 0;
        }
        rid = zmsg_first(msg);
        payload = zmsg_next(msg);
        r = codec_query_request_unpack(zframe_data(payload), zframe_size(payload), &req);
        coordinator_metrics_query(q->metrics, r < 0 ? CASTLE__QUERY_REQUEST__KIND__NOT_SET : req->kind_case, r < 0);
        if (r < 0) {
                q->dropped[r == -EPROTO ? DROP_VERSION : DROP_DECODE]++;
                reply_error(q, rid, 0, r == -EPROTO ? "unsupported protocol version" : "malformed request");
                return 0;
        }
        switch (req->kind_case) {
        case CASTLE__QUERY_REQUEST__KIND_NODES:
                list_nodes(q, rid, req->request_id);
                break;
        case CASTLE__QUERY_REQUEST__KIND_DEVICES:
                list_devices(q, rid, req->request_id, req->devices);
                break;
        case CASTLE__QUERY_REQUEST__KIND_WATCH:
                add_watcher(q, rid, req->request_id);
                break;
        case CASTLE__QUERY_REQUEST__KIND_COMMAND:
                if (q->audit) {
                        if (record_request(q, rid, payload, req))
                                req = NULL; /* acted on once recorded */
                } else
                        jobs_submit(q->jobs, rid, req->request_id, req->command);
                break;
        case CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE:
                if (q->audit) {
                        if (record_request(q, rid, payload, req))
                                req = NULL;
                } else
                        remove_node(q, rid, req->request_id, req->remove_node, NULL);
                break;
        case CASTLE__QUERY_REQUEST__KIND_AUDIT:
                list_audit(q, rid, req->request_id, req->audit);
                break;
        default:
                reply_error(q, rid, req->request_id, "unknown request");
        }
        if (req)
                castle__query_request__free_unpacked(req, NULL);
        return 0;
}
