/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The watch stream: the query clients that asked to follow the inventory, and the fan-out of
 * each change (a node's liveness, a device changed or removed) to every one of them. A client
 * that went away, or reads too slowly, is dropped at the first send that fails. */
#pragma once

#include <czmq.h>
#include <stddef.h>

#include "proto/castle.pb-c.h"

#define WATCH_MAX_CLIENTS 1024

typedef struct Watch Watch;

/* query: the query endpoint's ROUTER, with router_mandatory set so that a send to a client
 * that is gone fails instead of vanishing. */
int watch_new(zsock_t *query, Watch **ret);
Watch *watch_free(Watch *w);

/* Adds the client (its routing id on query); -EBUSY with WATCH_MAX_CLIENTS already. */
int watch_subscribe(Watch *w, zframe_t *client);
/* Tells every watcher about a change. */
void watch_publish(Watch *w, const Castle__WatchEvent *e);
/* How many clients watch (a caller skips building events nobody would get). */
size_t watch_count(const Watch *w);
