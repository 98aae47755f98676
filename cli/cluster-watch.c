/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster watch: prints the coordinator's events as they come, remembers what it
 * printed, and when the connection to the coordinator is lost, says so, subscribes on another
 * coordinator (or on the same one once it is back) and prints what changed meanwhile (or
 * exits, with --exit-on-loss, when no coordinator answers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cluster.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "proto/codec.h"
#include "proto/link.h"

/* What the watch has printed: each node's state and a digest of each device, so that an event
 * that repeats it is not printed again, and so that after losing the coordinator the current
 * state can be compared with it and only what differs printed. */
typedef struct WatchView {
        zhashx_t *nodes;   /* node id -> state (char *) */
        zhashx_t *devices; /* "node\x1fkey" -> digest (uint64_t *) */
} WatchView;

static void watch_view_done(WatchView *v) {
        zhashx_destroy(&v->nodes);
        zhashx_destroy(&v->devices);
}

static void free_item(void **item) {
        free(*item);
        *item = NULL;
}

static int watch_view_init(WatchView *v) {
        v->nodes = zhashx_new();
        v->devices = zhashx_new();
        if (!v->nodes || !v->devices) {
                watch_view_done(v);
                return -ENOMEM;
        }
        zhashx_set_destructor(v->nodes, free_item);
        zhashx_set_destructor(v->devices, free_item);
        return 0;
}

/* The coordinator's key of a device (as WatchEvent.removed names it). */
static char *device_view_key(const char *node_id, const Castle__Device *d) {
        char *k = NULL;

        if (!isempty(d->stable_id))
                return asprintf(&k, "%s\x1f%s", node_id, d->stable_id) < 0 ? NULL : k;
        return asprintf(&k, "%s\x1fkname:%s", node_id, strempty(d->kname)) < 0 ? NULL : k;
}

static uint64_t device_digest(const Castle__Device *d) {
        _cleanup_free_ uint8_t *data = NULL;
        uint64_t h = UINT64_C(14695981039346656037);
        size_t n = 0;

        if (codec_pack(&d->base, &data, &n) < 0)
                return 0; /* never equal to a stored digest of a packed device, in practice */
        for (size_t i = 0; i < n; i++)
                h = (h ^ data[i]) * UINT64_C(1099511628211);
        return h;
}

/* Records what e says; returns true when that differs from what was printed before. */
static bool watch_view_apply(WatchView *v, const Castle__WatchEvent *e) {
        _cleanup_free_ char *key = NULL;

        if (e->node) {
                const char *old = zhashx_lookup(v->nodes, e->node_id);
                char *state;
                if (old && streq(old, e->node->state))
                        return false;
                state = strdup(e->node->state);
                if (state)
                        zhashx_update(v->nodes, e->node_id, state);
                return true;
        }
        if (e->changed) {
                const uint64_t *old;
                uint64_t *digest;
                key = device_view_key(e->node_id, e->changed);
                if (!key)
                        return true;
                digest = malloc(sizeof *digest);
                if (!digest)
                        return true;
                *digest = device_digest(e->changed);
                old = zhashx_lookup(v->devices, key);
                if (old && *old == *digest) {
                        free(digest);
                        return false;
                }
                zhashx_update(v->devices, key, digest);
                return true;
        }
        if (!isempty(e->removed)) {
                if (asprintf(&key, "%s\x1f%s", e->node_id, e->removed) >= 0)
                        zhashx_delete(v->devices, key);
                return true;
        }
        return false;
}

static void print_watch_event(const Castle__WatchEvent *e, const ClusterArgs *a) {
        if (a->json) {
                json_object *o = codec_message_to_json(&e->base);
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (e->node)
                printf("node %s: %s\n", e->node_id, e->node->state);
        else if (e->changed) {
                _cleanup_free_ char *reasons = cluster_device_reasons(e->changed);
                printf("device %s %s %s: %s%s%s\n", e->node_id, e->changed->path, strempty(e->changed->stable_id),
                       e->changed->available ? "available" : "not available", isempty(reasons) ? "" : " - ",
                       strempty(reasons));
        } else if (!isempty(e->removed))
                printf("removed %s %s\n", e->node_id, e->removed);
        fflush(stdout);
}

static void watch_event(WatchView *v, const Castle__WatchEvent *e, const ClusterArgs *a, bool print) {
        if (watch_view_apply(v, e) && print)
                print_watch_event(e, a);
}

/* Reads the coordinator's current state on a connection of its own (so that its replies do not
 * mix with the watch's events) and brings the view up to it: every difference is printed as the
 * event that would have said it (when print), and devices no longer there as removed. Returns
 * the number of differences. */
static int watch_resync(WatchView *v, const ClusterArgs *a, bool print) {
        _cleanup_(device_replies_done) DeviceReplies devs = {};
        Castle__QueryReply *nodes = NULL;
        ClusterArgs b = *a;
        zhashx_t *seen = NULL;
        int r, changes = 0;

        /* The coordinator watched, alone: its state and its events go together. */
        b.endpoints = b.server_keys = NULL;
        b.first = 0;
        castle__device_filter__init(&b.filter);
        r = cluster_query_nodes(&b, &nodes);
        if (r >= 0)
                r = cluster_query_devices(&b, &devs);
        if (r < 0)
                goto finish;
        seen = zhashx_new();
        if (!seen) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < nodes->n_nodes; i++) {
                Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
                e.node_id = nodes->nodes[i]->node_id;
                e.node = nodes->nodes[i];
                if (watch_view_apply(v, &e) && print) {
                        print_watch_event(&e, a);
                        changes++;
                }
        }
        for (size_t i = 0; i < devs.n_devices; i++) {
                Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
                _cleanup_free_ char *key = NULL;
                if (!devs.devices[i]->device)
                        continue;
                e.node_id = devs.devices[i]->node_id;
                e.changed = devs.devices[i]->device;
                key = device_view_key(e.node_id, e.changed);
                if (key)
                        zhashx_insert(seen, key, (void *) 1);
                if (watch_view_apply(v, &e) && print) {
                        print_watch_event(&e, a);
                        changes++;
                }
        }
        /* What the view has and the coordinator no longer does went away meanwhile. */
        for (void *d = zhashx_first(v->devices); d; d = zhashx_next(v->devices)) {
                const char *key = zhashx_cursor(v->devices), *sep = strchr(key, '\x1f');
                if (zhashx_lookup(seen, key) || !sep)
                        continue;
                /* deleting under the cursor is not allowed: collect into seen as a marker */
                zhashx_insert(seen, key, (void *) 2);
        }
        for (void *m = zhashx_first(seen); m; m = zhashx_next(seen)) {
                Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
                _cleanup_free_ char *node = NULL;
                const char *key = zhashx_cursor(seen), *sep;
                if (m != (void *) 2)
                        continue;
                sep = strchr(key, '\x1f');
                node = strndup(key, (size_t) (sep - key));
                if (!node)
                        continue;
                e.node_id = node;
                e.removed = (char *) sep + 1;
                if (print) {
                        print_watch_event(&e, a);
                        changes++;
                }
                zhashx_delete(v->devices, key);
        }
        r = changes;
finish:
        zhashx_destroy(&seen);
        if (nodes)
                castle__query_reply__free_unpacked(nodes, NULL);
        return r;
}

#define WATCH_RESYNC_RETRY_MSEC 2000

/* The coordinator being watched: a connection of its own with a monitor. */
typedef struct Watched {
        ClusterArgs args;       /* with args.endpoint the one watched */
        size_t index;           /* in the list of coordinators */
        zsock_t *s, *monitor;
} Watched;

static void watched_done(Watched *w) {
        if (w->monitor)
                link_monitor_stop(w->s, &w->monitor);
        zsock_destroy(&w->s);
}

/* Subscribes on the i-th coordinator and reads its state (printing what differs from the view
 * when print); returns the number of differences. timeout_usec bounds the reading. */
static int watch_subscribe(const ClusterArgs *a, size_t i, WatchView *view, bool print, uint64_t timeout_usec,
                           Watched *ret) {
        Castle__Watch w = CASTLE__WATCH__INIT;
        Watched n = { .index = i };
        int r;

        r = cluster_connect_at(a, i, &n.args, &n.s);
        if (r < 0)
                return r;
        n.args.timeout_usec = MIN(n.args.timeout_usec, timeout_usec);
        r = link_monitor(n.s, &n.monitor);
        if (r < 0)
                log_error_errno(r, "Cannot watch the connection to the coordinator: %m");
        /* Subscribe first, then read the state: no change falls between the two. */
        if (r >= 0)
                r = cluster_query_send(n.s, 1, CASTLE__QUERY_REQUEST__KIND_WATCH, &w);
        if (r >= 0)
                r = watch_resync(view, &n.args, print);
        if (r < 0) {
                watched_done(&n);
                return r;
        }
        n.args.timeout_usec = a->timeout_usec;
        n.args.quiet = false;
        *ret = n;
        return r;
}

/* Moves to the first coordinator that answers, in order after the one lost (which comes last:
 * it may be back); returns the number of differences printed, or -EHOSTUNREACH. */
static int watch_move(const ClusterArgs *a, size_t lost, WatchView *view, bool print, Watched *ret) {
        size_t n = a->endpoints ? strv_length(a->endpoints) : 1;

        ClusterArgs b = *a;

        b.quiet = true;
        for (size_t k = 1; k <= n; k++) {
                int r = watch_subscribe(&b, (lost + k) % n, view, print, CLUSTER_PART_USEC, ret);
                if (r >= 0)
                        return r;
                if (r == -EINTR)
                        return r;
                log_debug_errno(r, "No watch on the coordinator at %s: %m", a->endpoints ? a->endpoints[(lost + k) % n] : a->endpoint);
        }
        return -EHOSTUNREACH;
}

int cluster_watch(ClusterArgs *a) {
        _cleanup_(watch_view_done) WatchView view = {};
        _cleanup_(watched_done) Watched cur = {};
        zpoller_t *poller = NULL;
        bool lost = false;
        size_t n = a->endpoints ? strv_length(a->endpoints) : 1;
        int r;

        r = watch_view_init(&view);
        if (r < 0)
                return log_oom();
        /* What is there now, not printed: the changes from here on are. The first coordinator
         * that answers is watched. */
        r = watch_subscribe(a, a->first, &view, false, n > 1 ? MIN(a->timeout_usec, CLUSTER_PART_USEC) : a->timeout_usec,
                            &cur);
        if (r < 0 && r != -EINTR && n > 1)
                r = watch_move(a, a->first, &view, false, &cur);
        if (r == -EHOSTUNREACH)
                r = log_error_errno(r, "No coordinator answers.");
        if (r < 0)
                goto finish;
        if (!a->json)
                printf("Watching %s (Ctrl-C to stop).\n", cur.args.endpoint);
        fflush(stdout);
        for (;;) {
                void *which;

                zpoller_destroy(&poller);
                poller = lost ? zpoller_new(NULL) : zpoller_new(cur.s, cur.monitor, NULL);
                if (!poller) {
                        r = log_oom();
                        break;
                }
                which = zpoller_wait(poller, lost ? WATCH_RESYNC_RETRY_MSEC : -1);
                if (!which && (zpoller_terminated(poller) || zsys_interrupted)) {
                        r = 0;
                        break;
                }
                if (lost) {
                        /* Every coordinator in turn, the lost one too: the first that answers. */
                        Watched next = {};
                        int changes = watch_move(a, cur.index, &view, true, &next);
                        if (changes == -EINTR) {
                                r = 0;
                                break;
                        }
                        if (changes < 0)
                                continue;
                        lost = false;
                        if (next.index == cur.index)
                                log_notice("The coordinator at %s is back; watching again (%d change(s) while it "
                                           "was away).", next.args.endpoint, changes);
                        else
                                log_notice("Watching the coordinator at %s now (%d change(s) while none was "
                                           "watched).", next.args.endpoint, changes);
                        watched_done(&cur);
                        cur = next;
                        continue;
                }
                if (which == cur.monitor) {
                        Watched next = {};
                        int changes;
                        if (link_monitor_event(cur.monitor) != LINK_LOST)
                                continue;
                        changes = n > 1 ? watch_move(a, cur.index, &view, true, &next) : -EHOSTUNREACH;
                        if (changes == -EINTR) {
                                r = 0;
                                break;
                        }
                        if (changes >= 0) {
                                log_notice("Lost the coordinator at %s; watching the one at %s now (%d change(s) "
                                           "meanwhile).", cur.args.endpoint, next.args.endpoint, changes);
                                watched_done(&cur);
                                cur = next;
                                continue;
                        }
                        if (a->exit_on_loss) {
                                r = log_error_errno(SYNTHETIC_ERRNO(ECONNRESET), "Lost the coordinator at %s%s.",
                                                    cur.args.endpoint, n > 1 ? ", and no other answers" : "");
                                break;
                        }
                        log_warning("Lost the coordinator at %s%s; waiting for %s to come back.", cur.args.endpoint,
                                    n > 1 ? ", and no other answers" : "", n > 1 ? "one" : "it");
                        lost = true;
                        /* Its socket would reconnect on its own; a new one is made instead, as
                         * for any other coordinator. */
                        link_monitor_stop(cur.s, &cur.monitor);
                        zsock_destroy(&cur.s);
                } else if (which == cur.s) {
                        Castle__QueryReply *rep = NULL;
                        r = cluster_receive(cur.s, &cur.args, 0, &rep);
                        if (r == -EINTR) {
                                r = 0;
                                break;
                        }
                        if (r < 0)
                                break;
                        if (rep->event)
                                watch_event(&view, rep->event, a, true);
                        castle__query_reply__free_unpacked(rep, NULL);
                }
        }
finish:
        zpoller_destroy(&poller);
        return r;
}
