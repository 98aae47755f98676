/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job table: commands that query clients send to a node's agent, and their progress
 * relayed back to the clients that asked, until the last update. A command's id is the one its
 * client chose, or one drawn here: a random prefix drawn at start-up, so that an update meant
 * for a command of an earlier run of the coordinator matches no command of this one. */
#pragma once

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "common/timeutil.h"
#include "coordinator/audit.h"
#include "coordinator/metrics.h"
#include "coordinator/nodes.h"
#include "proto/castle.pb-c.h"

#define JOBS_MAX_PENDING 4096
#define JOBS_MAX_PER_CLIENT 64
#define JOBS_TIMEOUT_USEC USEC_PER_HOUR
/* Clients that follow one command (that sent its id again while it was pending). */
#define JOBS_MAX_CLIENTS 8
/* Client-chosen command ids are below 2^53, exact in JSON readers that use doubles. */
#define JOBS_MAX_COMMAND_ID (UINT64_C(1) << 53)

typedef struct Jobs Jobs;

/* agents, query: the two ROUTERs commands go out on and replies go back on; nodes: where a
 * node's routing id and liveness are; metrics may be NULL. */
int jobs_new(zsock_t *agents, zsock_t *query, Nodes *nodes, CoordinatorMetrics *metrics, Jobs **ret);
Jobs *jobs_free(Jobs *jobs);
/* Quotas (jobs_new() starts with the defaults above): commands one client (its routing id on
 * the query socket) may have pending, 0 for no limit, and how long a command may wait for a
 * word from its agent before it fails as timed out, 0 for ever. */
void jobs_set_limits(Jobs *jobs, size_t max_per_client, uint64_t timeout_usec);

/* The audit trail that commands' results are recorded in (NULL: none, as jobs_new() starts). */
void jobs_set_audit(Jobs *jobs, Audit *audit);

/* A client's command for a node: sent to the node's agent, or refused with a reply saying why. */
/* A client's command for a node: sent to the node's agent, or refused with a reply saying why.
 * Its command id is the client's (0: one is drawn here); a command id that is pending for the
 * same node is not sent again: the client follows it too (its latest progress first, then
 * every update, as the earlier clients do). */
void jobs_submit(Jobs *jobs, zframe_t *client, uint64_t request_id, const Castle__NodeCommand *nc);
/* The same for a command whose request is in the audit trail already (query.c): its end (a
 * refusal, its last update, a timeout, its node's loss) is recorded there too, as who's. */
void jobs_submit_as(Jobs *jobs, zframe_t *client, uint64_t request_id, const Castle__NodeCommand *nc,
                    const AuditWho *who);
/* A JobUpdate from node_id's agent, relayed to the command's client. */
void jobs_update(Jobs *jobs, const char *node_id, Castle__JobUpdate *u);
/* The node went offline (or was removed): its commands fail with why. */
void jobs_node_lost(Jobs *jobs, const char *node_id);
void jobs_node_gone(Jobs *jobs, const char *node_id, const char *why);
/* At now (monotonic usec): commands whose agent said nothing for the timeout fail. */
void jobs_tick(Jobs *jobs, uint64_t now);
/* Commands sent and waiting for their last update. */
size_t jobs_pending(const Jobs *jobs);
