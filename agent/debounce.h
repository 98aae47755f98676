/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Coalesces hotplug events into scans. A scan starts after a short quiet window with no new
 * events, or at the latest a maximum delay after the first event of a burst, so that a storm
 * of hundreds of events (a partition table rewritten, rook#11408) costs a few scans, not
 * hundreds. Pure logic on a clock the caller passes in, so it is tested without timers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define DEBOUNCE_MAX_DIRTY 256 /* more touched devices than this: re-probe all */

typedef struct Debounce {
        uint64_t quiet_usec, max_delay_usec;
        uint64_t first, last;   /* times of the first and last event of the pending batch */
        bool pending;           /* something to scan */
        bool full;              /* re-probe every device's content */
        char **dirty;           /* kernel names whose content may have changed */
} Debounce;

void debounce_init(Debounce *d, uint64_t quiet_usec, uint64_t max_delay_usec);
void debounce_done(Debounce *d);
/* A device's content may have changed (uevent add/change/remove). */
void debounce_touch(Debounce *d, const char *kname, uint64_t now);
/* Host state changed (mount table), content did not: a scan re-reads state only. */
void debounce_rescan(Debounce *d, uint64_t now);
/* Re-probe everything (periodic rescan, netlink overflow, coordinator's request). */
void debounce_full(Debounce *d, uint64_t now);
/* When the pending batch is due, or UINT64_MAX when nothing is pending. */
uint64_t debounce_due(const Debounce *d);
/* Takes the batch if it is due at now: ret_dirty (NULL-terminated, to free) and ret_full. */
bool debounce_take(Debounce *d, uint64_t now, char ***ret_dirty, bool *ret_full);
