/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The watchers' routing ids in a list, and one QueryReply with the event sent to each. Events
 * are not queued here: ZeroMQ's send queue per client is the buffer, and a full one drops the
 * client. */
#include "common/log.h"
#include "coordinator/watch.h"
#include "proto/link.h"

struct Watch {
        zsock_t *query;
        zlistx_t *clients; /* routing ids (zframe_t) */
};

int watch_new(zsock_t *query, Watch **ret) {
        Watch *w = calloc(1, sizeof(Watch));

        if (!w)
                return -ENOMEM;
        w->query = query;
        w->clients = zlistx_new();
        if (!w->clients) {
                free(w);
                return -ENOMEM;
        }
        zlistx_set_destructor(w->clients, (zlistx_destructor_fn *) zframe_destroy);
        *ret = w;
        return 0;
}

Watch *watch_free(Watch *w) {
        if (!w)
                return NULL;
        zlistx_destroy(&w->clients);
        free(w);
        return NULL;
}

int watch_subscribe(Watch *w, zframe_t *client) {
        if (zlistx_size(w->clients) >= WATCH_MAX_CLIENTS)
                return -EBUSY;
        zlistx_add_end(w->clients, zframe_dup(client));
        log_debug("A watch client subscribed (%zu now).", zlistx_size(w->clients));
        return 0;
}

void watch_publish(Watch *w, const Castle__WatchEvent *e) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.event = (Castle__WatchEvent *) e;
        for (zframe_t *c = zlistx_first(w->clients); c; c = zlistx_next(w->clients)) {
                /* A watcher that went away: its queue fills, sends fail, it is dropped. */
                if (link_send(w->query, c, &r.base) < 0) {
                        zframe_t *gone = zlistx_detach_cur(w->clients);
                        zframe_destroy(&gone);
                }
        }
}

size_t watch_count(const Watch *w) {
        return zlistx_size(w->clients);
}
