/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The query endpoint: castlectl cluster and other clients list nodes and devices (with
 * filters), subscribe to the watch stream, send commands to nodes, and remove nodes. */
#pragma once

#include <czmq.h>
#include <stdint.h>

#include "coordinator/audit.h"
#include "coordinator/jobs.h"
#include "coordinator/metrics.h"
#include "coordinator/nodes.h"
#include "coordinator/store.h"
#include "coordinator/watch.h"

typedef struct Query Query;

/* query: the query endpoint's ROUTER; metrics may be NULL. */
int query_new(zsock_t *query, Store *store, Nodes *nodes, Watch *watch, Jobs *jobs, CoordinatorMetrics *metrics,
              Query **ret);
Query *query_free(Query *q);
/* The audit trail (NULL: none, as query_new() starts): with one, a command or a node's
 * removal is recorded there before it is acted on, and refused when it cannot be; the trail
 * answers AuditQuery. */
void query_set_audit(Query *q, Audit *audit);

/* One request from the query ROUTER ([routing id, payload]); every request gets an answer,
 * an error if nothing else. Returns 0. */
int query_message(Query *q, zmsg_t *msg);

/* Adds the requests dropped so far, by reason, to dropped. */
void query_add_drops(const Query *q, uint64_t dropped[static _DROP_MAX]);
