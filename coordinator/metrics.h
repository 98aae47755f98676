/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-coordinator's metrics: counted as things happen (messages by type, queries, store
 * transactions, jobs), and read at each scrape from the coordinator's state (nodes by
 * liveness, devices by availability from the store, drops by reason from ingest's own
 * counters). Served over HTTP at /metrics when metrics-listen is set, on the loop thread.
 * docs/metrics.md lists every metric. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "coordinator/coordinator.h"

int coordinator_metrics_new(Coordinator *c, CoordinatorMetrics **ret);
CoordinatorMetrics *coordinator_metrics_free(CoordinatorMetrics *m);

/* Serves /metrics on listen (see netaddr_parse_listen()) through c->loop; "" stops. */
int coordinator_metrics_listen(CoordinatorMetrics *m, const char *listen);
const char *coordinator_metrics_address(const CoordinatorMetrics *m);

/* All of these accept m == NULL (tests that build a Coordinator by hand). */
/* A message on the agents' endpoint; invalid: it did not get as far as a decoded Envelope. */
void coordinator_metrics_received(CoordinatorMetrics *m, Castle__Envelope__BodyCase body, bool invalid);
/* A request on the query endpoint. */
void coordinator_metrics_query(CoordinatorMetrics *m, Castle__QueryRequest__KindCase kind, bool invalid);
/* One store transaction: op is "snapshot", "delta" or "node_seen". */
void coordinator_metrics_store(CoordinatorMetrics *m, const char *op, uint64_t usec);
/* A command's end: result is "done", "failed", "refused" or "node_lost". */
void coordinator_metrics_job(CoordinatorMetrics *m, Castle__Command__KindCase kind, const char *result);

int coordinator_metrics_render(CoordinatorMetrics *m, char **ret, size_t *ret_size);
