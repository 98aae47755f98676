/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device an operation writes to: found by what the user named (a /dev path or link, a
 * stable id, a ceph-volume device id), then, immediately before the first write, found
 * again by its stable id, opened O_RDWR|O_EXCL, flock(LOCK_EX)ed, and probed again under
 * that lock. Kernel names move (a re-attached loop device, sdb after a reboot); the stable
 * id does not, so nothing is ever written to whatever now carries the old name. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "discovery/devscan.h"

/* The device in l that arg names, or NULL. */
Device *target_find(const DeviceList *l, const char *arg);

typedef struct TargetLock {
        int fd;                 /* O_RDWR|O_EXCL, flock(LOCK_EX) held */
        ScanResult *scan;       /* the scan made under the lock */
        Device *device;         /* in scan->devices */
        bool moved;             /* it now has another kernel name than in the plan */
} TargetLock;

/* Finds the device with this stable id (whatever its name now), opens and locks it, and
 * scans again under the lock. base: scan options (allow_loop...). exclusive: O_RDWR|O_EXCL
 * and flock; else (a PV whose LVs device-mapper holds open) only flock. On failure *error
 * says why in words. Writes nothing. */
int target_lock(const char *stable_id, const char *planned_kname, const ScanOptions *base, bool exclusive,
                TargetLock *ret, char **error);
void target_unlock(TargetLock *l);

/* Opens /dev/<kname> of d O_RDWR|O_EXCL and takes flock(LOCK_EX), retrying while udev holds
 * the lock for a moment. Checks the node is still d's device number. */
int target_open_exclusive(const Device *d, int *ret_fd, char **error);
/* The same with a plain read-only open: for a device that device-mapper holds. */
int target_open_locked(const Device *d, bool exclusive, int *ret_fd, char **error);
