/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Agents' messages into the store: hello, snapshot, delta, heartbeat and job updates, each
 * answered with an Ack, or with a Resync when the coordinator cannot follow (an unknown node, a
 * generation gap). A message that fails validation is dropped and counted. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "coordinator/jobs.h"
#include "coordinator/metrics.h"
#include "coordinator/nodes.h"
#include "coordinator/specs.h"
#include "coordinator/store.h"
#include "coordinator/watch.h"

typedef struct Ingest Ingest;

/* Quotas on what one agent may send; 0 turns one off. What is over a quota is dropped whole
 * (nothing of it stored) and counted under DROP_QUOTA or DROP_RATE. */
typedef struct IngestLimits {
        size_t max_devices;     /* devices one node may have */
        size_t max_device_size; /* packed bytes of one Device */
        unsigned max_rate;      /* messages per second per agent, with a burst of two seconds' worth */
} IngestLimits;

#define INGEST_MAX_DEVICES 8192
#define INGEST_MAX_DEVICE_SIZE (256 * 1024)
#define INGEST_MAX_RATE 50

/* agents: the agents' ROUTER, for the answers; metrics may be NULL. */
int ingest_new(zsock_t *agents, Store *store, Nodes *nodes, Watch *watch, Jobs *jobs,
               CoordinatorMetrics *metrics, Ingest **ret);
Ingest *ingest_free(Ingest *ingest);
/* The OSD specs (NULL: none, as ingest_new() starts): a node's agent is sent its set after
 * each Hello. */
void ingest_set_specs(Ingest *ingest, Specs *specs);
/* Labels one Hello may carry. */
#define INGEST_MAX_LABELS 64
/* Replaces the quotas (ingest_new() starts with the INGEST_MAX_* defaults). */
void ingest_set_limits(Ingest *ingest, const IngestLimits *limits);

/* One message from the agents' ROUTER ([routing id, payload]), received at now (realtime
 * usec). Whatever is wrong with it is dropped here: it returns 0. */
int ingest_message(Ingest *ingest, zmsg_t *msg, int64_t now);
/* The same, from the sender that user_id (its ZAP User-Id, see coordinator/zap.h) names; NULL:
 * unauthenticated (no ZAP handler), no key binding is checked. A key that may not speak for
 * the message's node has the message dropped (DROP_BINDING). ingest_message() reads it from
 * the message's metadata. */
int ingest_message_as(Ingest *ingest, zmsg_t *msg, const char *user_id, int64_t now);

/* Adds the messages dropped so far, by reason, to dropped. */
void ingest_add_drops(const Ingest *ingest, uint64_t dropped[static _DROP_MAX]);
/* Snapshots and deltas stored. */
uint64_t ingest_applied(const Ingest *ingest);

/* Overload: after each message, whether the agents' queue still holds more (more) at now
 * (monotonic usec). A queue that has not been empty for INGEST_BEHIND_USEC means the
 * coordinator is behind: agents are answered late (and, under CURVE handshakes and reconnects,
 * later still). That is logged once when it starts and once when the queue drains, with how
 * long and how many messages it took. */
#define INGEST_BEHIND_USEC (5 * UINT64_C(1000000))
void ingest_queue_state(Ingest *ingest, bool more, uint64_t now);
/* How long the agents' queue has not been empty at now: 0 when it was empty at the last
 * message (for castle_coordinator_ingest_lag_seconds). */
uint64_t ingest_lag_usec(const Ingest *ingest, uint64_t now);
/* Whether ingest is behind now (the queue has not been empty for INGEST_BEHIND_USEC). */
bool ingest_behind(const Ingest *ingest);

/* While the store fails: every INGEST_RETRY_USEC, the connected nodes whose reports were not
 * stored are asked for a snapshot again (agents also do so on their next heartbeat), and the
 * store reports the failures it held back from the log. Called from the coordinator's timer. */
#define INGEST_RETRY_USEC (5 * UINT64_C(1000000))
void ingest_tick(Ingest *ingest);
