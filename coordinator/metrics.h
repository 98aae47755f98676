/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-coordinator's metrics: counted as things happen (messages by type, queries, store
 * transactions, jobs), and read at each scrape from a snapshot of the coordinator's state that
 * a callback fills (nodes by liveness, devices by availability, drops by reason, watchers,
 * pending jobs). Served over HTTP at /metrics when metrics-listen is set, on the loop thread.
 * docs/metrics.md lists every metric. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "coordinator/intent.h"
#include "coordinator/store.h"
#include "proto/castle.pb-c.h"

typedef struct CoordinatorMetrics CoordinatorMetrics;

/* Why a message was dropped; counted by whoever dropped it, and reported by reason. */
typedef enum DropReason {
        DROP_FRAMING,    /* not [routing id, payload] */
        DROP_DECODE,     /* not a protobuf Envelope, or no body */
        DROP_VERSION,    /* another protocol version */
        DROP_INVALID,    /* bad ids, too many devices */
        DROP_UNEXPECTED, /* a message only the coordinator sends, or a node id mismatch */
        DROP_STORE,      /* the store refused it */
        DROP_QUOTA,      /* over a quota: devices per node, bytes per device, watches or jobs per client */
        DROP_RATE,       /* over the agent's messages per second */
        DROP_BINDING,    /* an agent key speaking for a node it is not bound to */
        _DROP_MAX,
} DropReason;

const char *drop_reason_to_string(DropReason r);

/* What a scrape reads from the coordinator. */
typedef struct CoordinatorMetricsState {
        uint64_t nodes[_NODE_STATE_MAX]; /* by liveness */
        int devices_error;               /* < 0: the store could not count devices */
        uint64_t devices_available, devices_unavailable;
        uint64_t dropped[_DROP_MAX]; /* agents' and query endpoints together */
        uint64_t applied;            /* snapshots and deltas stored */
        size_t watchers;
        uint64_t watchers_dropped_slow;
        size_t jobs_pending;
        StoreHealth store;           /* whether the store takes writes */
        bool has_intent;
        IntentStatus intent;         /* whether the intent store takes writes */
        uint64_t ingest_lag_usec;    /* ingest_lag_usec(): how far behind the agents' queue is */
} CoordinatorMetricsState;

/* Fills *ret, which comes zeroed but for devices_error (-ENXIO: no store). */
typedef void (*CoordinatorMetricsStateFn)(void *userdata, CoordinatorMetricsState *ret);

int coordinator_metrics_new(CoordinatorMetricsStateFn state, void *userdata, CoordinatorMetrics **ret);
CoordinatorMetrics *coordinator_metrics_free(CoordinatorMetrics *m);

/* Serves /metrics on listen (see netaddr_parse_listen()) through loop; "" stops. /ready on the
 * same address answers 200 when the store takes writes and every node's last report is stored,
 * 503 (and why, in one line) when not. */
int coordinator_metrics_listen(CoordinatorMetrics *m, zloop_t *loop, const char *listen);
const char *coordinator_metrics_address(const CoordinatorMetrics *m);

/* All of these accept m == NULL (tests that run the parts without metrics). */
/* A message on the agents' endpoint; invalid: it did not get as far as a decoded Envelope. */
void coordinator_metrics_received(CoordinatorMetrics *m, Castle__Envelope__BodyCase body, bool invalid);
/* A request on the query endpoint. */
void coordinator_metrics_query(CoordinatorMetrics *m, Castle__QueryRequest__KindCase kind, bool invalid);
/* A query refused for the client's role (role: what it has, needed: what it would need). */
void coordinator_metrics_refused(CoordinatorMetrics *m, const char *role, const char *needed);
/* One store transaction: op is "snapshot", "delta" or "node_seen". */
void coordinator_metrics_store(CoordinatorMetrics *m, const char *op, uint64_t usec);
/* A command's end: result is "done", "failed", "refused", "node_lost" or "timed_out". */
void coordinator_metrics_job(CoordinatorMetrics *m, Castle__Command__KindCase kind, const char *result);

/* /ready's status and text (tests use it without HTTP). */
int coordinator_metrics_ready(CoordinatorMetrics *m, char **ret_body);

/* The text a scrape gets (tests use it without HTTP). */
int coordinator_metrics_render(CoordinatorMetrics *m, char **ret, size_t *ret_size);
