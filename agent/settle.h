/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether a device has settled: it is taken for an OSD only once its Device record and its
 * count of written sectors have stayed the same for a settle time, so that a disk still being
 * partitioned, assembled or written by someone else is left alone. Shared by the spec
 * reconciliation (agent/specs.c) and the replacement watch (agent/replace.c); time comes in
 * from the caller, so both are tested with fake time. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/report.h"

typedef struct SettleTracker SettleTracker;

/* The device's sectors written so far; < 0: unknown (only its record is compared then). */
typedef int (*SettleWrittenFn)(const char *kname, uint64_t *ret, void *userdata);

int settle_tracker_new(SettleWrittenFn written, void *userdata, SettleTracker **ret);
SettleTracker *settle_tracker_free(SettleTracker *t);

/* A round: settle_begin(), settle_check() for each device followed in it, settle_end() forgets
 * the devices not checked in the round (one that is checked again later starts over). */
void settle_begin(SettleTracker *t);
void settle_end(SettleTracker *t);

/* Whether e has stayed unchanged for settle_usec at now; else *wait_until is raised to when it
 * would have. Any change of its record or of its written sectors starts it over. false when out
 * of memory. */
bool settle_check(SettleTracker *t, const ReportEntry *e, uint64_t settle_usec, uint64_t now, uint64_t *wait_until);
