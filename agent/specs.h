/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node's OSD specs and their reconciliation: the coordinators' SpecSet with the highest
 * revision, merged with the local spec-file, each planned over the node's own report with
 * spec/select.h, and a plan's OsdCreate run once every device it claims has stayed unchanged
 * (its Device record and its count of written sectors) for the settle time. One job per spec
 * at a time, a failed one retried after a back-off; a device that stops matching is never
 * touched. Time and the outside (planning, the job queue, the write counters) come in through
 * AgentSpecsOps, so the logic is tested alone with fake time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/report.h"
#include "proto/castle.pb-c.h"

/* The agent's own jobs (a spec's OsdCreate) take command ids from here up: far above the
 * coordinator's and the clients' (below 2^53), never 0. */
#define AGENT_SPECS_COMMAND_BASE (UINT64_C(1) << 62)
/* After a spec's job failed, it is not tried again before this. */
#define AGENT_SPECS_RETRY_USEC (UINT64_C(5) * 60 * 1000000)

typedef struct AgentSpecs AgentSpecs;

typedef struct AgentSpecsOps {
        /* spec_plan_node() and spec_node_plan_free(). */
        int (*plan)(const Castle__OsdSpec *s, const char *node_id, const char *hostname, char *const *labels,
                    Castle__Device *const *devices, size_t n_devices, Castle__NodePlan **ret);
        void (*plan_free)(Castle__NodePlan *p);
        /* Queues c as job command_id; < 0 when refused (the spec backs off). */
        int (*submit)(uint64_t command_id, const Castle__OsdCreate *c, void *userdata);
        /* The device's sectors written so far (/sys/class/block/KNAME/stat); < 0: unknown (only the
         * Device record is compared then). NULL: not used. */
        int (*written)(const char *kname, uint64_t *ret, void *userdata);
        void *userdata;
} AgentSpecsOps;

typedef struct AgentSpecsStats {
        size_t specs;           /* known: the coordinators' and the spec-file's */
        size_t settling;        /* devices a plan claims that are still settling */
        size_t running;         /* specs with a job in progress */
        uint64_t osds_made;     /* OSDs made by the specs' jobs in this run */
        uint64_t jobs_failed;
} AgentSpecsStats;

/* settle_usec: how long a claimed device must stay unchanged. labels: the node's (copied). */
int agent_specs_new(const AgentSpecsOps *ops, const char *node_id, const char *hostname, char *const *labels,
                    uint64_t settle_usec, AgentSpecs **ret);
AgentSpecs *agent_specs_free(AgentSpecs *a);

void agent_specs_set_settle(AgentSpecs *a, uint64_t settle_usec);
int agent_specs_set_labels(AgentSpecs *a, char *const *labels);

/* A coordinator's set: replaces the coordinators' specs when its revision is higher than the
 * one held (1), else is ignored (0). The specs are copied. -EINVAL (nothing changes) for a set
 * with a spec whose name is not a valid id, or two of one name. */
int agent_specs_set_remote(AgentSpecs *a, const Castle__SpecSet *set);
/* The spec-file's specs (copied); replaces the previous ones. */
int agent_specs_set_local(AgentSpecs *a, Castle__OsdSpec *const *specs, size_t n);

/* The node's devices changed (a new report; NULL: none yet). Kept by reference until the next
 * one: the caller keeps it alive. */
void agent_specs_report(AgentSpecs *a, const Report *report);
/* Plans every spec over the current report and submits the creates whose devices settled.
 * Returns when it should run again (now_usec() clock; 0: only on the next change). */
uint64_t agent_specs_reconcile(AgentSpecs *a, uint64_t now);

/* Whether command_id is one of the specs' jobs. */
bool agent_specs_owns(uint64_t command_id);
/* A job's update; the last one (done) frees its spec for the next, or starts its back-off. */
void agent_specs_job_update(AgentSpecs *a, const Castle__JobUpdate *u, uint64_t now);

void agent_specs_stats(const AgentSpecs *a, AgentSpecsStats *ret);
