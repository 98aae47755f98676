/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Agents' messages into the store: hello, snapshot, delta, heartbeat and job updates, each
 * answered with an Ack, or with a Resync when the coordinator cannot follow (an unknown node, a
 * generation gap). A message that fails validation is dropped and counted. */
#pragma once

#include <czmq.h>
#include <stdint.h>

#include "coordinator/jobs.h"
#include "coordinator/metrics.h"
#include "coordinator/nodes.h"
#include "coordinator/store.h"
#include "coordinator/watch.h"

typedef struct Ingest Ingest;

/* agents: the agents' ROUTER, for the answers; metrics may be NULL. */
int ingest_new(zsock_t *agents, Store *store, Nodes *nodes, Watch *watch, Jobs *jobs,
               CoordinatorMetrics *metrics, Ingest **ret);
Ingest *ingest_free(Ingest *ingest);

/* One message from the agents' ROUTER ([routing id, payload]), received at now (realtime
 * usec). Whatever is wrong with it is dropped here: it returns 0. */
int ingest_message(Ingest *ingest, zmsg_t *msg, int64_t now);

/* Adds the messages dropped so far, by reason, to dropped. */
void ingest_add_drops(const Ingest *ingest, uint64_t dropped[static _DROP_MAX]);
/* Snapshots and deltas stored. */
uint64_t ingest_applied(const Ingest *ingest);

/* While the store fails: every INGEST_RETRY_USEC, the connected nodes whose reports were not
 * stored are asked for a snapshot again (agents also do so on their next heartbeat), and the
 * store reports the failures it held back from the log. Called from the coordinator's timer. */
#define INGEST_RETRY_USEC (5 * UINT64_C(1000000))
void ingest_tick(Ingest *ingest);
