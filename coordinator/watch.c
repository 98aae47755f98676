/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The watchers' routing ids in a list, and one QueryReply with the event sent to each. Events
 * are not queued here: ZeroMQ's send queue per client is the buffer, and a full one drops the
 * client. A dropped client is owed a farewell (a last reply saying why), sent as soon as its
 * queue takes it, so that it does not wait for events that will never come. */
#include <errno.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "coordinator/watch.h"
#include "proto/codec.h"
#include "proto/link.h"

typedef struct Watcher {
        zframe_t *client;       /* routing id on the query socket */
        uint64_t request_id;    /* of its watch request */
        uint64_t give_up;       /* farewells: when to stop trying (monotonic usec) */
} Watcher;

struct Watch {
        zsock_t *query;
        zlistx_t *clients;   /* Watcher */
        zlistx_t *farewells; /* Watcher, dropped as too slow and not told yet */
        size_t max_per_client;
        uint64_t dropped_slow;
};

static void watcher_free(void **item) {
        Watcher *wr = *item;

        if (!wr)
                return;
        zframe_destroy(&wr->client);
        free(wr);
        *item = NULL;
}

int watch_new(zsock_t *query, Watch **ret) {
        Watch *w = calloc(1, sizeof(Watch));

        if (!w)
                return -ENOMEM;
        w->query = query;
        w->max_per_client = WATCH_MAX_PER_CLIENT;
        w->clients = zlistx_new();
        w->farewells = zlistx_new();
        if (!w->clients || !w->farewells) {
                zlistx_destroy(&w->clients);
                zlistx_destroy(&w->farewells);
                free(w);
                return -ENOMEM;
        }
        zlistx_set_destructor(w->clients, watcher_free);
        zlistx_set_destructor(w->farewells, watcher_free);
        *ret = w;
        return 0;
}

Watch *watch_free(Watch *w) {
        if (!w)
                return NULL;
        zlistx_destroy(&w->clients);
        zlistx_destroy(&w->farewells);
        free(w);
        return NULL;
}

void watch_set_max_per_client(Watch *w, size_t max) {
        w->max_per_client = max;
}

int watch_subscribe(Watch *w, zframe_t *client, uint64_t request_id) {
        Watcher *wr;
        size_t mine = 0;

        if (zlistx_size(w->clients) >= WATCH_MAX_CLIENTS)
                return -EBUSY;
        for (Watcher *c = zlistx_first(w->clients); c; c = zlistx_next(w->clients))
                mine += zframe_eq(c->client, client);
        if (w->max_per_client > 0 && mine >= w->max_per_client)
                return -EDQUOT;
        wr = calloc(1, sizeof *wr);
        if (!wr || !(wr->client = zframe_dup(client))) {
                free(wr);
                return -ENOMEM;
        }
        wr->request_id = request_id;
        zlistx_add_end(w->clients, wr);
        log_debug("A watch client subscribed (%zu now).", zlistx_size(w->clients));
        return 0;
}

/* One packed QueryReply to client, without waiting: -EAGAIN when its queue is full,
 * -EHOSTUNREACH when it is gone (router_mandatory). */
static int send_packed(Watch *w, zframe_t *client, const uint8_t *data, size_t size) {
        zmsg_t *m = zmsg_new();

        if (!m)
                return -ENOMEM;
        zmsg_append(m, &(zframe_t *) { zframe_dup(client) });
        zmsg_addmem(m, data, size);
        if (zmsg_send(&m, w->query) < 0) {
                int r = errno > 0 ? -errno : -EIO;
                zmsg_destroy(&m);
                return r;
        }
        return 0;
}

static int send_farewell(Watch *w, Watcher *wr) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = wr->request_id;
        r.error = (char *) WATCH_DROPPED_TOO_SLOW;
        r.last = true;
        return link_send(w->query, wr->client, &r.base);
}

void watch_publish(Watch *w, const Castle__WatchEvent *e) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int k;

        if (zlistx_size(w->clients) == 0)
                return;
        r.event = (Castle__WatchEvent *) e;
        /* Packed once for every watcher. */
        k = codec_pack(&r.base, &data, &size);
        if (k < 0) {
                log_debug_errno(k, "Failed to pack a watch event: %m");
                return;
        }
        for (Watcher *c = zlistx_first(w->clients); c; c = zlistx_next(w->clients)) {
                k = send_packed(w, c->client, data, size);
                if (k >= 0)
                        continue;
                c = zlistx_detach_cur(w->clients);
                if (k == -EAGAIN) {
                        /* Too slow: it has missed this event, so it goes, and is told. */
                        w->dropped_slow++;
                        log_info("Dropped a watch client that read too slowly (%" PRIu64 " so far).",
                                 w->dropped_slow);
                        c->give_up = now_usec() + WATCH_FAREWELL_USEC;
                        if (send_farewell(w, c) == -EAGAIN)
                                zlistx_add_end(w->farewells, c);
                        else
                                watcher_free((void **) &c);
                } else
                        watcher_free((void **) &c); /* gone */
        }
}

void watch_tick(Watch *w, uint64_t now) {
        Watcher *c = zlistx_first(w->farewells);

        while (c) {
                int k = send_farewell(w, c);

                if (k != -EAGAIN || now >= c->give_up)
                        /* told, gone, or given up; detaching moves the cursor back one */
                        zlistx_delete(w->farewells, zlistx_cursor(w->farewells));
                c = zlistx_next(w->farewells);
        }
}

size_t watch_count(const Watch *w) {
        return zlistx_size(w->clients);
}

uint64_t watch_dropped_slow(const Watch *w) {
        return w->dropped_slow;
}
