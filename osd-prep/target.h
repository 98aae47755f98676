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

#define TARGET_MAX 3

typedef struct TargetWant {
        const char *stable_id;  /* NULL: nothing wanted in this slot */
        const char *planned_kname; /* its name when the plan was made, or NULL */
        bool exclusive;         /* O_RDWR|O_EXCL and flock; else (a PV whose LVs
                                 * device-mapper holds open) a read-only open and flock */
} TargetWant;

typedef struct TargetLock {
        int fd;                 /* the open, flock(LOCK_EX)ed device */
        Device *device;         /* in the scan made under the locks */
        bool moved;             /* it now has another kernel name than in the plan */
} TargetLock;

/* Finds each wanted device by its stable id (whatever its name now) with an identity-only
 * scan, opens and locks them all, then scans once more under all the locks and checks
 * that each locked device still carries its stable id. The locked devices are probed
 * afresh; the others keep the content facts of recent (a scan the caller made moments
 * ago; NULL: everything is probed), as the agent's rescans do. base: scan options
 * (allow_loop...). want and ret have n (<= TARGET_MAX) slots; ret[i] is filled for every
 * want[i] with a stable id, and *ret_scan owns the devices they point to. On failure
 * nothing stays locked and *error says why in words. Writes nothing. */
int target_lock_all(const TargetWant *want, size_t n, const ScanOptions *base, const DeviceList *recent,
                    TargetLock *ret, ScanResult **ret_scan, char **error);
void target_unlock(TargetLock *l);

/* Opens node O_RDWR|O_EXCL (exclusive) or O_RDONLY, retrying for a few seconds while it is
 * busy: scans and partition re-reads hold a device exclusively for a moment. Returns the fd
 * or -errno (-EBUSY: it stayed held). */
int target_open_node(const char *node, bool exclusive);
/* Opens /dev/<kname> of d O_RDWR|O_EXCL and takes flock(LOCK_EX), retrying while udev holds
 * the lock for a moment. Checks the node is still d's device number. */
int target_open_exclusive(const Device *d, int *ret_fd, char **error);
/* The same with a plain read-only open: for a device that device-mapper holds. */
int target_open_locked(const Device *d, bool exclusive, int *ret_fd, char **error);
