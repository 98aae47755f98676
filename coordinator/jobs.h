/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job table: commands that query clients send to a node's agent, and their progress
 * relayed back to the client that asked, until the last update. */
#pragma once

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/metrics.h"
#include "coordinator/nodes.h"
#include "proto/castle.pb-c.h"

#define JOBS_MAX_PENDING 4096

typedef struct Jobs Jobs;

/* agents, query: the two ROUTERs commands go out on and replies go back on; nodes: where a
 * node's routing id and liveness are; metrics may be NULL. */
int jobs_new(zsock_t *agents, zsock_t *query, Nodes *nodes, CoordinatorMetrics *metrics, Jobs **ret);
Jobs *jobs_free(Jobs *jobs);

/* A client's command for a node: sent to the node's agent, or refused with a reply saying why. */
void jobs_submit(Jobs *jobs, zframe_t *client, uint64_t request_id, const Castle__NodeCommand *nc);
/* A JobUpdate from node_id's agent, relayed to the command's client. */
void jobs_update(Jobs *jobs, const char *node_id, Castle__JobUpdate *u);
/* The node went offline: its commands fail. */
void jobs_node_lost(Jobs *jobs, const char *node_id);
/* Commands sent and waiting for their last update. */
size_t jobs_pending(const Jobs *jobs);
