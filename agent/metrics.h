/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-agent's metrics: counted as things happen (scans, probes, udev events, messages,
 * OSD jobs), and read from the agent's state at each scrape (devices by type, verdict and
 * reason, the link to each coordinator, pending jobs). Served over HTTP at /metrics when the
 * metrics-listen option is set; everything runs on the agent's loop thread. docs/metrics.md
 * lists every metric. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/report.h"
#include "agent/scanner.h"
#include "proto/castle.pb-c.h"

typedef struct AgentMetrics AgentMetrics;

/* One coordinator's link, as a scrape sees it. */
typedef struct AgentMetricsLink {
        const char *coordinator; /* its endpoint */
        bool connected;
        int64_t last_contact_realtime_usec; /* 0: never heard from it */
} AgentMetricsLink;

/* What a scrape reads from the agent. */
typedef struct AgentMetricsState {
        const Report *report; /* NULL before the first scan */
        const AgentMetricsLink *links;
        size_t n_links;
        size_t jobs_pending;
        size_t specs;                   /* OSD specs the node holds */
        size_t spec_devices_settling;   /* devices a spec claims that are still settling */
        uint64_t spec_osds_made;        /* OSDs the specs' jobs made in this run */
        uint64_t health_reads, health_read_errors; /* disk health reads, and those that failed */
        uint64_t osds_marked_out;       /* OSDs marked out because their disk turned failing */
        Castle__OsdState *const *osds;  /* the OSD daemons' last states (agent/osdwatch.c) */
        size_t n_osds;
} AgentMetricsState;

typedef void (*AgentMetricsStateFn)(void *userdata, AgentMetricsState *ret);

int agent_metrics_new(AgentMetricsStateFn state, void *userdata, AgentMetrics **ret);
AgentMetrics *agent_metrics_free(AgentMetrics *m);

/* Serves /metrics on listen (see netaddr_parse_listen()) through loop; "" stops serving. The
 * address it already serves is kept as it is (a reload that did not change it). */
int agent_metrics_listen(AgentMetrics *m, zloop_t *loop, const char *listen);
/* Where it listens ("" when off). */
const char *agent_metrics_address(const AgentMetrics *m);

void agent_metrics_scan(AgentMetrics *m, const ScanOutcome *o, bool full);
void agent_metrics_udev_event(AgentMetrics *m);
void agent_metrics_udev_lost(AgentMetrics *m);
/* Shows the message counters of a coordinator at 0 from the start. */
void agent_metrics_add_coordinator(AgentMetrics *m, const char *coordinator);
/* A message to a coordinator, and link_send()'s result. */
void agent_metrics_sent(AgentMetrics *m, const char *coordinator, Castle__Envelope__BodyCase body, int result);
/* A message from a coordinator; malformed: it did not decode. */
void agent_metrics_received(AgentMetrics *m, const char *coordinator, Castle__Envelope__BodyCase body,
                            bool malformed);
/* A command that came again and was not run again. */
void agent_metrics_command_repeated(AgentMetrics *m);
/* A job's last update (done = true). */
void agent_metrics_job_done(AgentMetrics *m, const Castle__JobUpdate *u);

/* The text a scrape gets (tests use it without HTTP). */
int agent_metrics_render(AgentMetrics *m, char **ret, size_t *ret_size);
