/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Agents' messages into the store, and node liveness. Every message is validated before it
 * touches anything; whatever fails is dropped and counted, and the sender, if it can be
 * helped, is asked for a full snapshot. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "coordinator/coordinator.h"
#include "coordinator/metrics.h"
#include "proto/codec.h"
#include "proto/link.h"

static const char *const drop_names[_DROP_MAX] = {
        [DROP_FRAMING] = "framing", [DROP_DECODE] = "decode",         [DROP_VERSION] = "version",
        [DROP_INVALID] = "invalid", [DROP_UNEXPECTED] = "unexpected", [DROP_STORE] = "store",
};

const char *drop_reason_to_string(DropReason r) {
        return r < _DROP_MAX ? drop_names[r] : "unknown";
}

int64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int drop(Coordinator *c, DropReason why, const char *node, int error) {
        uint64_t now = now_usec();

        c->dropped[why]++;
        if (now - c->last_drop_log[why] >= USEC_PER_SEC) {
                c->last_drop_log[why] = now;
                log_warning("Dropped a message from %s (%s: %s); %" PRIu64 " dropped for this reason so far.",
                            node ?: "an unidentified peer", drop_names[why], strerror(abs(error)), c->dropped[why]);
        }
        return 0;
}

/* The store's node record, timed for the metrics like every transaction here. */
static int node_seen(Coordinator *c, const char *node_id, const char *hostname, const char *agent_version,
                     int64_t now) {
        uint64_t start = now_usec();
        int r = store_node_seen(c->store, node_id, hostname, agent_version, now);

        coordinator_metrics_store(c->metrics, "node_seen", now_usec() - start);
        return r;
}

static NodeRuntime *node_get(Coordinator *c, const char *node_id, bool create) {
        NodeRuntime *n = zhashx_lookup(c->nodes, node_id);

        if (n || !create)
                return n;
        n = calloc(1, sizeof(NodeRuntime));
        if (!n)
                return NULL;
        n->node_id = strdup(node_id);
        n->state = NODE_OFFLINE;
        if (!n->node_id) {
                free(n);
                return NULL;
        }
        zhashx_insert(c->nodes, node_id, n);
        return n;
}

void node_info_fill(Castle__NodeInfo *info, const StoreNode *n) {
        castle__node_info__init(info);
        info->node_id = n->node_id;
        info->hostname = n->hostname ?: (char *) "";
        info->agent_version = n->agent_version ?: (char *) "";
        info->state = (char *) node_state_to_string(n->state);
        info->state_since_usec = n->state_since;
        info->last_seen_usec = n->last_seen;
        info->generation = n->generation;
        info->devices = n->n_devices;
}

static void publish_node(Coordinator *c, const char *node_id) {
        StoreNode sn = {};
        Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
        Castle__NodeInfo info;

        if (store_node_get(c->store, node_id, &sn) < 0)
                return;
        node_info_fill(&info, &sn);
        e.node_id = sn.node_id;
        e.node = &info;
        watch_publish(c, &e);
        store_node_done(&sn);
}

static int set_state(Coordinator *c, NodeRuntime *n, NodeState s, int64_t now) {
        int r;

        if (n->state == s)
                return 0;
        r = store_node_set_state(c->store, n->node_id, s, now);
        if (r < 0)
                return r;
        if (s != NODE_ONLINE || n->state != NODE_OFFLINE)
                log_info("Node %s is %s.", n->node_id, node_state_to_string(s));
        n->state = s;
        publish_node(c, n->node_id);
        return 0;
}

static void reply(Coordinator *c, NodeRuntime *n, Castle__Envelope *e) {
        int r;

        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        r = link_send(c->agents, n->routing_id, &e->base);
        if (r < 0)
                log_debug_errno(r, "Failed to answer node %s: %m", n->node_id);
}

static void ack(Coordinator *c, NodeRuntime *n, uint64_t message_id) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Ack a = CASTLE__ACK__INIT;

        a.message_id = message_id;
        a.generation = n->generation;
        e.body_case = CASTLE__ENVELOPE__BODY_ACK;
        e.ack = &a;
        reply(c, n, &e);
}

static void resync(Coordinator *c, NodeRuntime *n, const char *why) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Resync rs = CASTLE__RESYNC__INIT;

        log_debug("Asking node %s for a snapshot: %s.", n->node_id, why);
        rs.reason = (char *) why;
        e.body_case = CASTLE__ENVELOPE__BODY_RESYNC;
        e.resync = &rs;
        reply(c, n, &e);
}

static char *device_key(const Castle__Device *d) {
        char *k = NULL;

        if (!isempty(d->stable_id))
                return strdup(d->stable_id);
        return asprintf(&k, "kname:%s", d->kname) < 0 ? NULL : k;
}

static void publish_devices(Coordinator *c, const char *node_id, Castle__Device *const *changed, size_t n,
                            char *const *removed, size_t n_removed) {
        if (zlistx_size(c->watchers) == 0)
                return;
        for (size_t i = 0; i < n; i++) {
                Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
                e.node_id = (char *) node_id;
                e.changed = changed[i];
                watch_publish(c, &e);
        }
        for (size_t i = 0; i < n_removed; i++) {
                Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
                e.node_id = (char *) node_id;
                e.removed = removed[i];
                watch_publish(c, &e);
        }
}

typedef struct KeyList {
        char **keys;
        size_t n;
} KeyList;

static int collect_key(const char *node_id, const uint8_t *data, size_t size, void *userdata) {
        KeyList *l = userdata;
        Castle__Device *d = castle__device__unpack(NULL, size, data);
        char **k;

        if (!d)
                return 0;
        k = realloc(l->keys, (l->n + 1) * sizeof(char *));
        if (k) {
                l->keys = k;
                l->keys[l->n] = device_key(d);
                if (l->keys[l->n])
                        l->n++;
        }
        castle__device__free_unpacked(d, NULL);
        return k ? 0 : -ENOMEM;
}

/* A snapshot replaces the node's devices: the keys that are gone are reported as removed. */
static int apply_snapshot(Coordinator *c, NodeRuntime *n, const Castle__Snapshot *s) {
        KeyList old = {};
        DeviceQuery q = DEVICE_QUERY_INIT;
        char **gone = NULL;
        size_t n_gone = 0;
        uint64_t start;
        int r;

        q.node_id = n->node_id;
        if (zlistx_size(c->watchers) > 0)
                (void) store_query_devices(c->store, &q, collect_key, &old);
        start = now_usec();
        r = store_apply_snapshot(c->store, n->node_id, s->generation, s->devices, s->n_devices);
        coordinator_metrics_store(c->metrics, "snapshot", now_usec() - start);
        if (r >= 0 && old.n > 0 && (gone = calloc(old.n, sizeof(char *)))) {
                for (size_t i = 0; i < old.n; i++) {
                        bool present = false;
                        for (size_t j = 0; j < s->n_devices && !present; j++) {
                                char *k = device_key(s->devices[j]);
                                present = k && streq(k, old.keys[i]);
                                free(k);
                        }
                        if (!present)
                                gone[n_gone++] = old.keys[i];
                }
        }
        if (r >= 0)
                publish_devices(c, n->node_id, s->devices, s->n_devices, gone, n_gone);
        free(gone);
        for (size_t i = 0; i < old.n; i++)
                free(old.keys[i]);
        free(old.keys);
        return r;
}

int ingest_message(Coordinator *c, zmsg_t *msg) {
        zframe_t *rid, *payload;
        Castle__Envelope *e = NULL;
        NodeRuntime *n;
        char *node_id = NULL;
        int64_t now = realtime_usec();
        uint64_t start;
        int r;

        c->received++;
        if (zmsg_size(msg) != 2) {
                coordinator_metrics_received(c->metrics, CASTLE__ENVELOPE__BODY__NOT_SET, true);
                return drop(c, DROP_FRAMING, NULL, EBADMSG);
        }
        rid = zmsg_first(msg);
        payload = zmsg_next(msg);
        node_id = zframe_strdup(rid);
        if (!codec_valid_id(node_id)) {
                free(node_id);
                coordinator_metrics_received(c->metrics, CASTLE__ENVELOPE__BODY__NOT_SET, true);
                return drop(c, DROP_INVALID, NULL, EINVAL);
        }
        r = codec_envelope_unpack(zframe_data(payload), zframe_size(payload), &e);
        coordinator_metrics_received(c->metrics, r < 0 ? CASTLE__ENVELOPE__BODY__NOT_SET : e->body_case, r < 0);
        if (r < 0) {
                drop(c, r == -EPROTO ? DROP_VERSION : r == -EBADMSG ? DROP_DECODE : DROP_INVALID, node_id, r);
                free(node_id);
                return 0;
        }

        n = node_get(c, node_id, e->body_case == CASTLE__ENVELOPE__BODY_HELLO ||
                                         e->body_case == CASTLE__ENVELOPE__BODY_SNAPSHOT);
        if (!n) {
                /* A node we know nothing of, mid-conversation: start over. */
                NodeRuntime tmp = { .node_id = node_id, .routing_id = rid };
                resync(c, &tmp, "unknown node");
                goto finish;
        }
        if (!n->routing_id || !zframe_eq(n->routing_id, rid)) {
                zframe_destroy(&n->routing_id);
                n->routing_id = zframe_dup(rid);
        }
        n->last_seen = now;

        switch (e->body_case) {
        case CASTLE__ENVELOPE__BODY_HELLO:
                if (!streq(e->hello->node_id, node_id)) {
                        drop(c, DROP_UNEXPECTED, node_id, EPERM);
                        goto finish;
                }
                r = node_seen(c, node_id, e->hello->hostname, e->hello->agent_version, now);
                if (r < 0)
                        break;
                log_info("Node %s (%s, agent %s) connected.", node_id, e->hello->hostname, e->hello->agent_version);
                ack(c, n, e->message_id);
                if (e->hello->generation != n->generation || n->generation == 0)
                        resync(c, n, "hello");
                break;
        case CASTLE__ENVELOPE__BODY_SNAPSHOT:
                r = node_seen(c, node_id, NULL, NULL, now);
                if (r >= 0)
                        r = apply_snapshot(c, n, e->snapshot);
                if (r < 0)
                        break;
                n->generation = e->snapshot->generation;
                c->applied++;
                ack(c, n, e->message_id);
                break;
        case CASTLE__ENVELOPE__BODY_DELTA:
                if (e->delta->generation != n->generation + 1) {
                        resync(c, n, "generation gap");
                        break;
                }
                start = now_usec();
                r = store_apply_delta(c->store, node_id, e->delta->generation, e->delta->changed,
                                      e->delta->n_changed, e->delta->removed, e->delta->n_removed);
                coordinator_metrics_store(c->metrics, "delta", now_usec() - start);
                if (r < 0)
                        break;
                n->generation = e->delta->generation;
                c->applied++;
                publish_devices(c, node_id, e->delta->changed, e->delta->n_changed, e->delta->removed,
                                e->delta->n_removed);
                ack(c, n, e->message_id);
                break;
        case CASTLE__ENVELOPE__BODY_HEARTBEAT:
                r = node_seen(c, node_id, NULL, NULL, now);
                if (e->heartbeat->generation != n->generation)
                        resync(c, n, "heartbeat generation differs");
                else
                        ack(c, n, e->message_id);
                break;
        case CASTLE__ENVELOPE__BODY_JOB_UPDATE:
                jobs_update(c, node_id, e->job_update);
                break;
        default:
                drop(c, DROP_UNEXPECTED, node_id, EBADMSG);
                goto finish;
        }
        if (r < 0) {
                drop(c, DROP_STORE, node_id, r);
                goto finish;
        }
        if (n->state != NODE_ONLINE)
                (void) set_state(c, n, NODE_ONLINE, now);
finish:
        castle__envelope__free_unpacked(e, NULL);
        free(node_id);
        return 0;
}

int liveness_tick(Coordinator *c) {
        int64_t now = realtime_usec();

        for (NodeRuntime *n = zhashx_first(c->nodes); n; n = zhashx_next(c->nodes)) {
                int64_t silent = now - n->last_seen;

                if (n->state == NODE_ONLINE && silent > (int64_t) c->cfg.stale_after)
                        (void) set_state(c, n, NODE_STALE, now);
                else if (n->state == NODE_STALE && silent > (int64_t) c->cfg.offline_after) {
                        (void) set_state(c, n, NODE_OFFLINE, now);
                        jobs_node_lost(c, n->node_id);
                }
        }
        return 0;
}

static void node_runtime_free(void **item) {
        NodeRuntime *n = *item;

        if (!n)
                return;
        zframe_destroy(&n->routing_id);
        free(n->node_id);
        free(n);
        *item = NULL;
}

/* Start-up: every stored node is stale until it speaks; its generation is what the store has. */
int nodes_load(Coordinator *c) {
        StoreNode *nodes = NULL;
        size_t n = 0;
        int64_t now = realtime_usec();
        int r;

        zhashx_set_destructor(c->nodes, node_runtime_free);
        r = store_mark_all_stale(c->store, now);
        if (r < 0)
                return r;
        r = store_list_nodes(c->store, &nodes, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                NodeRuntime *rt = node_get(c, nodes[i].node_id, true);
                if (!rt)
                        continue;
                rt->generation = nodes[i].generation;
                rt->state = nodes[i].state;
                rt->last_seen = now; /* the stale -> offline clock starts now */
        }
        store_nodes_free(nodes, n);
        return (int) n;
}
