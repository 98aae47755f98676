/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The watch stream: the query clients that asked to follow the inventory, and the fan-out of
 * each change (a node's liveness, a device changed or removed) to every one of them. A client
 * that went away is dropped at the first send that fails; one that reads too slowly (its send
 * queue full) is dropped too, and told so with a last reply as soon as its queue has room. */
#pragma once

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/castle.pb-c.h"

#define WATCH_MAX_CLIENTS 1024
#define WATCH_MAX_PER_CLIENT 4
/* How long a dropped watcher's farewell is retried before it is given up. */
#define WATCH_FAREWELL_USEC (30 * USEC_PER_SEC)

#define WATCH_DROPPED_TOO_SLOW \
        "dropped: too slow (the coordinator's send queue to this client was full; events were lost, watch again)"

typedef struct Watch Watch;

/* query: the query endpoint's ROUTER, with router_mandatory set so that a send to a client
 * that is gone fails instead of vanishing. */
int watch_new(zsock_t *query, Watch **ret);
Watch *watch_free(Watch *w);
/* Subscriptions one client (routing id) may hold; 0: no limit but WATCH_MAX_CLIENTS. */
void watch_set_max_per_client(Watch *w, size_t max);

/* Adds the client (its routing id on query; request_id: its watch request's, for the farewell);
 * -EBUSY with WATCH_MAX_CLIENTS already, -EDQUOT with the client's own quota used. */
int watch_subscribe(Watch *w, zframe_t *client, uint64_t request_id);
/* Tells every watcher about a change. */
void watch_publish(Watch *w, const Castle__WatchEvent *e);
/* At now (monotonic usec): retries the farewells of watchers dropped as too slow. */
void watch_tick(Watch *w, uint64_t now);
/* How many clients watch (a caller skips building events nobody would get). */
size_t watch_count(const Watch *w);
/* Watchers dropped so far because they read too slowly. */
uint64_t watch_dropped_slow(const Watch *w);
