/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* When the agent scans. Device events, host state changes and requests for a full rescan are
 * noted in a Debounce (agent/debounce.h); one step after the loop's handlers, a zero-delay
 * timer, starts the scan that is due on the scan worker (agent/scanner.h) or arms a timer for
 * when one will be. One scan runs at a time: what comes in meanwhile is scanned after it. So
 * the handlers only say what happened, and none of them decides when to scan. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/scanner.h"

typedef struct ScanPlan ScanPlan;

/* A scan's outcome (full: every device's content was probed); the plan frees it after. */
typedef void (*ScanPlanOutcomeFn)(ScanOutcome *o, bool full, void *userdata);

int scan_plan_new(zloop_t *loop, uint64_t quiet_usec, uint64_t max_delay_usec, ScanPlanOutcomeFn cb,
                  void *userdata, ScanPlan **ret);
/* Waits for a running scan to end (the worker owns a copy of its configuration). */
ScanPlan *scan_plan_free(ScanPlan *p);

/* Starts the scan worker, taking cfg->filter. */
int scan_plan_start(ScanPlan *p, ScannerConfig *cfg);
/* Stops the worker, after the scan it runs; its outcome is dropped. */
void scan_plan_stop(ScanPlan *p);
void scan_plan_set_debounce(ScanPlan *p, uint64_t quiet_usec, uint64_t max_delay_usec);

/* A device's content may have changed. */
void scan_plan_device(ScanPlan *p, const char *kname, uint64_t now);
/* Host state changed (mounts, a device gone): re-read state, not content. */
void scan_plan_state(ScanPlan *p, uint64_t now);
/* Re-probe every device. now = 0: at once. */
void scan_plan_full(ScanPlan *p, uint64_t now);
