/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One full scan: enumerate every block device, gather its facts in a fixed order (udev
 * database, sysfs, device-mapper, mounts and swaps, content probe, LVM report), give it an
 * identity and a verdict. Used by `castlectl inventory` and by the agent. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "discovery/device.h"

typedef struct ScanOptions {
        const char *sysroot;            /* NULL: the live system */
        bool allow_loop;
        unsigned workers;               /* content probe threads; 0: default */
        uint64_t probe_timeout_usec;    /* per device; 0: default */
        uint64_t udev_timeout_usec;     /* wait for udev to initialise new devices; 0: default */
        uint64_t lvm_timeout_usec;      /* 0: default */
        /* Re-probe only what changed: content facts of a device that is in previous (same
         * kernel name, device number and size) and not in dirty are taken from previous.
         * Everything else (udev, sysfs, mounts, LVM, verdicts) is always read afresh. */
        const DeviceList *previous;
        char *const *dirty;
        /* Devices this process holds open O_EXCL itself (OSD preparation re-probes under its
         * own locks): not "locked" by someone else, and always probed afresh. */
        const dev_t *held;
        size_t n_held;
        /* Names and identities only (enumeration, sysfs, types, stable ids): no mounts,
         * content probes, LVM report or verdicts. Finds a device by its stable id quickly. */
        bool identity_only;
        /* Never open a device O_EXCL to learn whether someone holds it: a background scan
         * (the agent's) would, for that millisecond, make another program's exclusive open
         * fail (ceph-osd --mkfs and ceph-osd itself give up at once). Without the test, a
         * device a program holds exclusively is not seen as held; prepare tests under its
         * lock anyway. */
        bool no_exclusive_test;
} ScanOptions;

#define SCAN_DEFAULT_WORKERS 4
#define SCAN_DEFAULT_PROBE_TIMEOUT_USEC (10 * UINT64_C(1000000))
#define SCAN_DEFAULT_UDEV_TIMEOUT_USEC (5 * UINT64_C(1000000))
#define SCAN_DEFAULT_LVM_TIMEOUT_USEC (30 * UINT64_C(1000000))

typedef struct ScanResult {
        DeviceList *devices;
        uint64_t duration_usec;
        unsigned n_probed;      /* content probes run (the rest came from previous) */
        unsigned n_failed;      /* devices that could not be probed */
        char *lvm_status;       /* "ok", "not needed", "not installed", or what went wrong */
        char *warning;          /* something the user should know about the whole scan */
} ScanResult;

int devscan_run(const ScanOptions *o, ScanResult **ret);
ScanResult *scan_result_free(ScanResult *r);
void scan_result_freep(ScanResult **r);

/* The whole disk of a partition, or NULL. */
const Device *devscan_parent(const DeviceList *l, const Device *d);
