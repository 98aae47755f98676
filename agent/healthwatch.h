/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's disk health reads: a thread of their own reads each disk's health no more often
 * than the health interval (and at once on demand), so that neither the loop nor the scans
 * wait for smartctl. Scans attach the last reading of each disk to its record; the loop hears
 * through an eventfd that new readings are there and rescans to report them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "discovery/device.h"

typedef struct HealthWatch HealthWatch;

typedef struct HealthWatchStats {
        uint64_t reads;         /* health reads done */
        uint64_t read_errors;   /* reads that failed (unknown, with an error) */
} HealthWatchStats;

/* interval: how often each disk is read (> 0); timeout: one read's deadline; sysroot: a
 * captured tree (nothing is read). Starts the thread. */
int health_watch_new(uint64_t interval_usec, uint64_t timeout_usec, const char *sysroot, HealthWatch **ret);
/* Stops the thread once its current read is done (each read has its deadline). */
HealthWatch *health_watch_free(HealthWatch *w);
static inline void health_watch_freep(HealthWatch **w) {
        *w = health_watch_free(*w);
}

/* Readable when readings came in since health_watch_ack(). */
int health_watch_get_fd(const HealthWatch *w);
void health_watch_ack(HealthWatch *w);

/* From the scan worker, after each scan: the disks there are now (the watch reads a new one
 * soon and forgets one that is gone), each given a copy of its last reading; then every
 * device whose disk's health is failing gets HEALTH_FAILING. Returns -ENOMEM only. */
int health_watch_attach(HealthWatch *w, DeviceList *devices);
/* Read every disk again now (a Rescan command, castlectl inventory --health on the node). */
void health_watch_now(HealthWatch *w);
void health_watch_stats(HealthWatch *w, HealthWatchStats *ret);
