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
#include "coordinator/specs.h"
#include "coordinator/store.h"
#include "coordinator/watch.h"
#include "coordinator/zap.h"

typedef struct Query Query;

/* query: the query endpoint's ROUTER; metrics may be NULL. */
int query_new(zsock_t *query, Store *store, Nodes *nodes, Watch *watch, Jobs *jobs, CoordinatorMetrics *metrics,
              Query **ret);
Query *query_free(Query *q);
/* The audit trail (NULL: none, as query_new() starts): with one, a command or a node's
 * removal is recorded there before it is acted on, and refused when it cannot be; the trail
 * answers AuditQuery. */
void query_set_audit(Query *q, Audit *audit);
/* The applied OSD specs (NULL: none, as query_new() starts; the spec requests are refused):
 * apply (with --dry-run), the list, removal and the fleet's plans. */
void query_set_specs(Query *q, Specs *specs);

/* One request from the query ROUTER ([routing id, payload]); every request gets an answer,
 * an error if nothing else. Returns 0. */
int query_message(Query *q, zmsg_t *msg);
/* The same from the client that user_id (its ZAP User-Id, coordinator/zap.h) names; NULL: no
 * ZAP handler spoke for it (see query_set_require_peer()). query_message() reads it from the
 * message's metadata. A request outside the client's role is refused: an error that names
 * the role it needs, QueryReply.required_role, and a count in the metrics. */
int query_message_as(Query *q, zmsg_t *msg, const char *user_id);
/* Requests without a User-Id are refused (the coordinator sets it: its query socket always
 * has a ZAP handler). Unset (the default, for tests on sockets without ZAP) they may do
 * anything. */
void query_set_require_peer(Query *q, bool require);
/* The least role that may make a request of this kind: nodes, devices and watch need viewer;
 * commands, node removal, spec apply and removal, and the audit trail operator; specs and plans
 * viewer (and so is an apply with dry_run, which permitted() checks as a preview); key unbind
 * (and anything unknown) admin. */
ZapRole query_required_role(Castle__QueryRequest__KindCase kind);

/* Adds the requests dropped so far, by reason, to dropped. */
void query_add_drops(const Query *q, uint64_t dropped[static _DROP_MAX]);
