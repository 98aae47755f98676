/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Agents' messages into the store. Every message is validated before it touches anything;
 * whatever fails is dropped and counted, and the sender, if it can be helped, is asked for a
 * full snapshot. Changes go to the watchers as they are stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "coordinator/binding.h"
#include "coordinator/ingest.h"
#include "proto/codec.h"
#include "proto/link.h"

struct Ingest {
        zsock_t *agents;
        Store *store;
        Nodes *nodes;
        Watch *watch;
        Jobs *jobs;
        CoordinatorMetrics *metrics;
        Bindings *bindings;
        Specs *specs;
        IngestLimits limits;
        uint64_t applied, dropped[_DROP_MAX];
        uint64_t last_drop_log[_DROP_MAX];
        uint64_t last_retry;
        /* the agents' queue: not empty since busy_since (0: empty at the last message), with
         * busy_messages handled since; behind once that lasted INGEST_BEHIND_USEC */
        uint64_t busy_since, busy_messages;
        bool behind;
};

int ingest_new(zsock_t *agents, Store *store, Nodes *nodes, Watch *watch, Jobs *jobs,
               CoordinatorMetrics *metrics, Ingest **ret) {
        Ingest *ingest = calloc(1, sizeof(Ingest));

        if (!ingest)
                return -ENOMEM;
        *ingest = (Ingest) { .agents = agents, .store = store, .nodes = nodes, .watch = watch, .jobs = jobs,
                        .metrics = metrics,
                        .limits = { .max_devices = INGEST_MAX_DEVICES, .max_device_size = INGEST_MAX_DEVICE_SIZE,
                                    .max_rate = INGEST_MAX_RATE } };
        if (bindings_new(store, &ingest->bindings) < 0) {
                free(ingest);
                return -ENOMEM;
        }
        *ret = ingest;
        return 0;
}

Ingest *ingest_free(Ingest *ingest) {
        if (!ingest)
                return NULL;
        bindings_free(ingest->bindings);
        free(ingest);
        return NULL;
}

void ingest_set_specs(Ingest *ingest, Specs *specs) {
        ingest->specs = specs;
}

/* The agent's labels (in its Hello and every snapshot) on the node's record in this run;
 * labels that are not printable words are left out (the agent checks its own). */
static void set_labels(NodeRuntime *n, char *const *l, size_t n_l) {
        _cleanup_strv_free_ char **labels = NULL;

        for (size_t i = 0; i < n_l && i < INGEST_MAX_LABELS; i++)
                if (codec_valid_id(l[i]) && strv_extend_unique(&labels, l[i]) < 0)
                        return;
        strv_free(n->labels);
        n->labels = TAKE_PTR(labels);
}

static bool labels_equal(char *const *have, char *const *l, size_t n_l) {
        size_t k = 0;

        for (size_t i = 0; i < n_l && i < INGEST_MAX_LABELS; i++)
                if (codec_valid_id(l[i])) {
                        if (!strv_contains(have, l[i]))
                                return false;
                        k++;
                }
        return k == strv_length(have);
}

/* OSDs, removals or reservations a node may list in a heartbeat: far more than a node holds. */
#define OSD_REPORT_MAX 4096U

/* The heartbeat's OSD lists on the node's record in this run (a copy). */
static void set_osd_report(NodeRuntime *n, const Castle__Heartbeat *hb) {
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;
        _cleanup_free_ uint8_t *packed = NULL;
        Castle__Heartbeat *copy;
        size_t size;

        if (hb->n_osds > OSD_REPORT_MAX || hb->n_removals > OSD_REPORT_MAX || hb->n_reservations > OSD_REPORT_MAX) {
                log_warning("Node %s lists %zu OSDs, %zu removals, %zu reservations in a heartbeat: more than %u, "
                            "ignored.", n->node_id, hb->n_osds, hb->n_removals, hb->n_reservations, OSD_REPORT_MAX);
                return;
        }
        h.osds = hb->osds;
        h.n_osds = hb->n_osds;
        h.removals = hb->removals;
        h.n_removals = hb->n_removals;
        h.reservations = hb->reservations;
        h.n_reservations = hb->n_reservations;
        size = castle__heartbeat__get_packed_size(&h);
        packed = malloc(MAX(size, 1U));
        if (!packed) {
                log_oom();
                return;
        }
        castle__heartbeat__pack(&h, packed);
        copy = castle__heartbeat__unpack(NULL, size, packed);
        if (!copy) {
                log_oom();
                return;
        }
        if (n->osd_report)
                castle__heartbeat__free_unpacked(n->osd_report, NULL);
        n->osd_report = copy;
}

/* The Hello's hostname and labels on the node's record in this run. */
static void hello_labels(NodeRuntime *n, const Castle__Hello *h) {
        char *hostname = strdup(h->hostname);

        if (!hostname)
                return;
        free(n->hostname);
        n->hostname = hostname;
        set_labels(n, h->labels, h->n_labels);
}

void ingest_set_limits(Ingest *ingest, const IngestLimits *limits) {
        ingest->limits = *limits;
}

void ingest_add_drops(const Ingest *ingest, uint64_t dropped[static _DROP_MAX]) {
        for (int d = 0; d < _DROP_MAX; d++)
                dropped[d] += ingest->dropped[d];
}

uint64_t ingest_applied(const Ingest *ingest) {
        return ingest->applied;
}

void ingest_queue_state(Ingest *ingest, bool more, uint64_t now) {
        if (!more) {
                if (ingest->behind)
                        log_notice("Ingest caught up: the agents' queue is empty again after %.1f s and %" PRIu64
                                   " messages.",
                                   (double) (now - ingest->busy_since) / USEC_PER_SEC, ingest->busy_messages + 1);
                ingest->behind = false;
                ingest->busy_since = ingest->busy_messages = 0;
                return;
        }
        if (ingest->busy_since == 0) {
                ingest->busy_since = now;
                ingest->busy_messages = 0;
        }
        ingest->busy_messages++;
        if (!ingest->behind && now - ingest->busy_since >= INGEST_BEHIND_USEC) {
                ingest->behind = true;
                log_warning("Ingest is behind: the agents' queue has not been empty for %.1f s (%" PRIu64
                            " messages); reports are stored and answered late "
                            "(castle_coordinator_ingest_lag_seconds).",
                            (double) (now - ingest->busy_since) / USEC_PER_SEC, ingest->busy_messages);
        }
}

uint64_t ingest_lag_usec(const Ingest *ingest, uint64_t now) {
        return ingest->busy_since > 0 && now > ingest->busy_since ? now - ingest->busy_since : 0;
}

bool ingest_behind(const Ingest *ingest) {
        return ingest->behind;
}

/* Counts the drop, and logs it at most once a second per reason. */
static int drop_because(Ingest *ingest, DropReason why, const char *node, const char *text) {
        uint64_t now = now_usec();

        ingest->dropped[why]++;
        if (now - ingest->last_drop_log[why] >= USEC_PER_SEC) {
                ingest->last_drop_log[why] = now;
                log_warning("Dropped a message from %s (%s: %s); %" PRIu64 " dropped for this reason so far.",
                            node ?: "an unidentified peer", drop_reason_to_string(why), text, ingest->dropped[why]);
        }
        return 0;
}

static int drop(Ingest *ingest, DropReason why, const char *node, int error) {
        /* The store logs its own failures, each kind, and paces them itself; a device the
         * message got wrong (EINVAL) is not one of them. */
        if (why == DROP_STORE && abs(error) != EINVAL) {
                ingest->dropped[why]++;
                return 0;
        }
        return drop_because(ingest, why, node, strerror(abs(error)));
}

/* The agent's token bucket: max_rate tokens a second, up to two seconds' worth saved. False
 * when the message is over the rate. now is the message's (realtime) time; a clock that went
 * back refills nothing. */
static bool rate_take(Ingest *ingest, NodeRuntime *n, int64_t now) {
        double rate = ingest->limits.max_rate, burst = 2 * rate;

        if (ingest->limits.max_rate == 0)
                return true;
        if (n->rate_at == 0)
                n->rate_tokens = burst;
        else if (now > n->rate_at)
                n->rate_tokens = MIN(burst, n->rate_tokens + (double) (now - n->rate_at) * rate / USEC_PER_SEC);
        if (n->rate_at == 0 || now > n->rate_at)
                n->rate_at = now;
        if (n->rate_tokens < 1)
                return false;
        n->rate_tokens -= 1;
        return true;
}

/* The store's node record, timed for the metrics like every transaction here. */
static int node_seen(Ingest *ingest, const char *node_id, const char *hostname, const char *agent_version,
                     int64_t now) {
        uint64_t start = now_usec();
        int r = store_node_seen(ingest->store, node_id, hostname, agent_version, now);

        coordinator_metrics_store(ingest->metrics, "node_seen", now_usec() - start);
        return r;
}

static void reply(Ingest *ingest, NodeRuntime *n, Castle__Envelope *e) {
        int r;

        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        r = link_send(ingest->agents, n->routing_id, &e->base);
        if (r < 0)
                log_debug_errno(r, "Failed to answer node %s: %m", n->node_id);
}

static void ack(Ingest *ingest, NodeRuntime *n, uint64_t message_id) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Ack a = CASTLE__ACK__INIT;

        a.message_id = message_id;
        a.generation = n->generation;
        e.body_case = CASTLE__ENVELOPE__BODY_ACK;
        e.ack = &a;
        reply(ingest, n, &e);
}

static void resync(Ingest *ingest, NodeRuntime *n, const char *why) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Resync rs = CASTLE__RESYNC__INIT;

        log_debug("Asking node %s for a snapshot: %s.", n->node_id, why);
        rs.reason = (char *) why;
        e.body_case = CASTLE__ENVELOPE__BODY_RESYNC;
        e.resync = &rs;
        reply(ingest, n, &e);
}

static char *device_key(const Castle__Device *d) {
        char *k = NULL;

        if (!isempty(d->stable_id))
                return strdup(d->stable_id);
        return asprintf(&k, "kname:%s", d->kname) < 0 ? NULL : k;
}

static void publish_devices(Ingest *ingest, const char *node_id, Castle__Device *const *changed, size_t n,
                            char *const *removed, size_t n_removed) {
        if (watch_count(ingest->watch) == 0)
                return;
        for (size_t i = 0; i < n; i++) {
                Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
                e.node_id = (char *) node_id;
                e.changed = changed[i];
                watch_publish(ingest->watch, &e);
        }
        for (size_t i = 0; i < n_removed; i++) {
                Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
                e.node_id = (char *) node_id;
                e.removed = removed[i];
                watch_publish(ingest->watch, &e);
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

static void key_list_done(KeyList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->keys[i]);
        free(l->keys);
        *l = (KeyList) {};
}

/* The keys of devices as a set (a hash whose values are unused). */
static int key_set_new(Castle__Device *const *devices, size_t n, zhashx_t **ret) {
        zhashx_t *set = zhashx_new();

        if (!set)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *k = device_key(devices[i]);

                if (!k) {
                        zhashx_destroy(&set);
                        return -ENOMEM;
                }
                (void) zhashx_insert(set, k, (void *) 1); /* a duplicate key is already in */
        }
        *ret = set;
        return 0;
}

/* A snapshot replaces the node's devices: the keys that are gone are reported as removed. The
 * snapshot's keys go into a hash first, so that each stored key costs one lookup: comparing
 * every stored key with every key of the snapshot made a 4,096-device snapshot take ten times
 * as long with a watcher as without. */
static int apply_snapshot(Ingest *ingest, NodeRuntime *n, const Castle__Snapshot *s) {
        KeyList old = {};
        DeviceQuery q = DEVICE_QUERY_INIT;
        zhashx_t *now_keys = NULL;
        char **gone = NULL;
        size_t n_gone = 0;
        uint64_t start;
        int r;

        q.node_id = n->node_id;
        if (watch_count(ingest->watch) > 0)
                (void) store_query_devices(ingest->store, &q, collect_key, &old);
        start = now_usec();
        r = store_apply_snapshot(ingest->store, n->node_id, s->generation, s->devices, s->n_devices);
        coordinator_metrics_store(ingest->metrics, "snapshot", now_usec() - start);
        if (r >= 0 && old.n > 0 && key_set_new(s->devices, s->n_devices, &now_keys) >= 0 &&
            (gone = calloc(old.n, sizeof(char *))))
                for (size_t i = 0; i < old.n; i++)
                        if (!zhashx_lookup(now_keys, old.keys[i]))
                                gone[n_gone++] = old.keys[i];
        if (r >= 0)
                publish_devices(ingest, n->node_id, s->devices, s->n_devices, gone, n_gone);
        zhashx_destroy(&now_keys);
        free(gone);
        key_list_done(&old);
        return r;
}

/* How many devices the node would have after the delta: what it has, plus the changed keys
 * it does not have, minus the removed keys it has. The stored count plus every changed device
 * is enough when that is within the quota; the exact count reads the node's keys. */
static int delta_device_count(Ingest *ingest, const char *node_id, const Castle__Delta *d, size_t *ret) {
        DeviceQuery q = DEVICE_QUERY_INIT;
        StoreNode sn = {};
        KeyList have = {};
        zhashx_t *keys = NULL;
        int r;

        r = store_node_get(ingest->store, node_id, &sn);
        if (r < 0 && r != -ENOENT)
                return r;
        if ((size_t) sn.n_devices + d->n_changed <= ingest->limits.max_devices) {
                *ret = (size_t) sn.n_devices + d->n_changed;
                store_node_done(&sn);
                return 0;
        }
        store_node_done(&sn);
        q.node_id = node_id;
        r = store_query_devices(ingest->store, &q, collect_key, &have);
        if (r >= 0)
                r = key_set_new(d->changed, d->n_changed, &keys);
        if (r >= 0) {
                for (size_t i = 0; i < have.n; i++)
                        (void) zhashx_insert(keys, have.keys[i], (void *) 1);
                for (size_t i = 0; i < d->n_removed; i++)
                        zhashx_delete(keys, d->removed[i]);
                *ret = zhashx_size(keys);
        }
        zhashx_destroy(&keys);
        key_list_done(&have);
        return r;
}

/* Whether devices (a snapshot's, or a delta's changed ones) keep within the device size
 * quota; n_after: how many the node would have. A message over a quota is dropped whole. */
static bool within_quota(Ingest *ingest, const char *node_id, Castle__Device *const *devices, size_t n,
                         size_t n_after) {
        char text[256];

        if (ingest->limits.max_devices > 0 && n_after > ingest->limits.max_devices) {
                snprintf(text, sizeof text, "the node would have %zu devices, max-devices-per-node is %zu", n_after,
                         ingest->limits.max_devices);
                drop_because(ingest, DROP_QUOTA, node_id, text);
                return false;
        }
        for (size_t i = 0; ingest->limits.max_device_size > 0 && i < n; i++) {
                size_t size = castle__device__get_packed_size(devices[i]);

                if (size > ingest->limits.max_device_size) {
                        snprintf(text, sizeof text, "device %zu of the message is %zu bytes, max-device-size is %zu",
                                 i + 1, size, ingest->limits.max_device_size);
                        drop_because(ingest, DROP_QUOTA, node_id, text);
                        return false;
                }
        }
        return true;
}

void ingest_tick(Ingest *ingest) {
        _cleanup_strv_free_ char **unsaved = NULL;
        uint64_t now = now_usec();

        store_health_tick(ingest->store);
        if (now - ingest->last_retry < INGEST_RETRY_USEC)
                return;
        ingest->last_retry = now;
        if (store_unsaved_nodes(ingest->store, &unsaved) < 0)
                return;
        STRV_FOREACH(id, unsaved) {
                NodeRuntime *n = nodes_get(ingest->nodes, *id);

                if (n && n->routing_id)
                        resync(ingest, n, "its last report was not stored");
        }
}

/* Whether the sender's key may speak for node_id (coordinator/binding.c); user_id NULL: the
 * socket has no ZAP handler (unit tests), nothing to check. */
static bool may_speak_for(Ingest *ingest, const char *user_id, const char *node_id, int64_t now) {
        ZapPeer peer;
        char why[512];

        if (!user_id)
                return true;
        if (zap_peer_parse(user_id, &peer) < 0) {
                drop_because(ingest, DROP_BINDING, node_id, "the sender's ZAP User-Id is unreadable");
                return false;
        }
        if (bindings_check(ingest->bindings, &peer, node_id, now, why, sizeof why) == -EPERM) {
                drop_because(ingest, DROP_BINDING, node_id, why);
                return false;
        }
        return true;
}

int ingest_message(Ingest *ingest, zmsg_t *msg, int64_t now) {
        zframe_t *payload = zmsg_size(msg) == 2 ? zmsg_last(msg) : NULL;

        return ingest_message_as(ingest, msg, payload ? zframe_meta(payload, "User-Id") : NULL, now);
}

int ingest_message_as(Ingest *ingest, zmsg_t *msg, const char *user_id, int64_t now) {
        zframe_t *rid, *payload;
        Castle__Envelope *e = NULL;
        NodeRuntime *n;
        char *node_id = NULL;
        bool labels_changed = false;
        size_t count = 0;
        uint64_t start;
        int r, k;

        if (zmsg_size(msg) != 2) {
                coordinator_metrics_received(ingest->metrics, CASTLE__ENVELOPE__BODY__NOT_SET, true);
                return drop(ingest, DROP_FRAMING, NULL, EBADMSG);
        }
        rid = zmsg_first(msg);
        payload = zmsg_next(msg);
        node_id = zframe_strdup(rid);
        if (!codec_valid_id(node_id)) {
                free(node_id);
                coordinator_metrics_received(ingest->metrics, CASTLE__ENVELOPE__BODY__NOT_SET, true);
                return drop(ingest, DROP_INVALID, NULL, EINVAL);
        }
        /* Over the rate before decoding: a flood costs a hash lookup per message. */
        n = nodes_get(ingest->nodes, node_id);
        if (n && !rate_take(ingest, n, now)) {
                coordinator_metrics_received(ingest->metrics, CASTLE__ENVELOPE__BODY__NOT_SET, true);
                drop_because(ingest, DROP_RATE, node_id, "over max-agent-rate");
                free(node_id);
                return 0;
        }
        r = codec_envelope_unpack(zframe_data(payload), zframe_size(payload), &e);
        coordinator_metrics_received(ingest->metrics, r < 0 ? CASTLE__ENVELOPE__BODY__NOT_SET : e->body_case, r < 0);
        if (r < 0) {
                /* -EMSGSIZE: it would not decode within its budget (proto/codec.h) */
                drop_because(ingest,
                             r == -EPROTO                     ? DROP_VERSION
                             : r == -EBADMSG || r == -EMSGSIZE ? DROP_DECODE
                                                               : DROP_INVALID,
                             node_id, codec_strerror(r));
                free(node_id);
                return 0;
        }
        /* Before the node's record is touched (its routing id, its liveness): a key that may not
         * speak for the node changes nothing of it. */
        if (!may_speak_for(ingest, user_id, node_id, now))
                goto finish;

        if (e->body_case == CASTLE__ENVELOPE__BODY_HELLO || e->body_case == CASTLE__ENVELOPE__BODY_SNAPSHOT) {
                if (nodes_add(ingest->nodes, node_id, &n) < 0)
                        n = NULL;
        } else
                n = nodes_get(ingest->nodes, node_id);
        if (!n) {
                /* A node we know nothing of, mid-conversation: start over. */
                NodeRuntime tmp = { .node_id = node_id, .routing_id = rid };
                resync(ingest, &tmp, "unknown node");
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
                        drop(ingest, DROP_UNEXPECTED, node_id, EPERM);
                        goto finish;
                }
                /* A record the store could not write does not end the conversation: the snapshot
                 * asked for next is what matters, and one that is not stored is asked again. */
                r = node_seen(ingest, node_id, e->hello->hostname, e->hello->agent_version, now);
                log_info("Node %s (%s, agent %s) connected.", node_id, e->hello->hostname, e->hello->agent_version);
                ack(ingest, n, e->message_id);
                if (e->hello->generation != n->generation || n->generation == 0)
                        resync(ingest, n, "hello");
                hello_labels(n, e->hello);
                /* online now (below), so that its set can be sent: the specs name hosts and
                 * labels, which the Hello carries */
                if (r >= 0 && n->state != NODE_ONLINE)
                        (void) nodes_set_state(ingest->nodes, n, NODE_ONLINE, now);
                if (r >= 0 && ingest->specs)
                        specs_node_hello(ingest->specs, n);
                break;
        case CASTLE__ENVELOPE__BODY_SNAPSHOT:
                if (!within_quota(ingest, node_id, e->snapshot->devices, e->snapshot->n_devices,
                                  e->snapshot->n_devices))
                        goto finish;
                /* Each is its own transaction: a record that could not be written does not keep
                 * the snapshot out, and a snapshot that is not stored is marked and asked again. */
                r = node_seen(ingest, node_id, NULL, NULL, now);
                k = apply_snapshot(ingest, n, e->snapshot);
                if (k < 0) {
                        r = k;
                        break;
                }
                n->generation = e->snapshot->generation;
                ingest->applied++;
                ack(ingest, n, e->message_id);
                break;
        case CASTLE__ENVELOPE__BODY_DELTA:
                if (e->delta->generation != n->generation + 1) {
                        resync(ingest, n, "generation gap");
                        break;
                }
                if (ingest->limits.max_devices > 0 && (r = delta_device_count(ingest, node_id, e->delta, &count)) < 0)
                        break;
                if (!within_quota(ingest, node_id, e->delta->changed, e->delta->n_changed, count))
                        goto finish;
                start = now_usec();
                r = store_apply_delta(ingest->store, node_id, e->delta->generation, e->delta->changed,
                                      e->delta->n_changed, e->delta->removed, e->delta->n_removed);
                coordinator_metrics_store(ingest->metrics, "delta", now_usec() - start);
                if (r < 0)
                        break;
                n->generation = e->delta->generation;
                ingest->applied++;
                publish_devices(ingest, node_id, e->delta->changed, e->delta->n_changed, e->delta->removed,
                                e->delta->n_removed);
                ack(ingest, n, e->message_id);
                break;
        case CASTLE__ENVELOPE__BODY_HEARTBEAT:
                r = node_seen(ingest, node_id, NULL, NULL, now);
                if (e->heartbeat->generation != n->generation)
                        resync(ingest, n, "heartbeat generation differs");
                else
                        ack(ingest, n, e->message_id);
                /* a coordinator that restarted learns the labels here (it asked no Hello) */
                if (!labels_equal(n->labels, e->heartbeat->labels, e->heartbeat->n_labels)) {
                        set_labels(n, e->heartbeat->labels, e->heartbeat->n_labels);
                        labels_changed = true;
                }
                set_osd_report(n, e->heartbeat);
                break;
        case CASTLE__ENVELOPE__BODY_JOB_UPDATE:
                jobs_update(ingest->jobs, node_id, e->job_update);
                break;
        default:
                drop(ingest, DROP_UNEXPECTED, node_id, EBADMSG);
                goto finish;
        }
        if (r < 0) {
                drop(ingest, DROP_STORE, node_id, r);
                goto finish;
        }
        if (n->state != NODE_ONLINE)
                (void) nodes_set_state(ingest->nodes, n, NODE_ONLINE, now);
        if (labels_changed && ingest->specs)
                specs_node_hello(ingest->specs, n); /* its set may have changed with them */
finish:
        castle__envelope__free_unpacked(e, NULL);
        free(node_id);
        return 0;
}
