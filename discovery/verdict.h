/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The availability verdict: a device is available only when no reason speaks against it.
 * ceph-volume's generic, LVM and raw checks (util/device.py), then castle's stricter ones.
 * Anything castle could not establish counts against the device (fail-safe). */
#pragma once

#include <stdbool.h>

#include "discovery/device.h"

#define VERDICT_MIN_SIZE UINT64_C(5368709120) /* ceph-volume: 5 GB, counted in GiB */
#define VERDICT_MIN_VG_FREE_EXTENTS 10

typedef struct VerdictOptions {
        bool allow_loop; /* like CEPH_VOLUME_ALLOW_LOOP_DEVICES, for tests and demos */
} VerdictOptions;

/* Sets d->reasons and d->available. parent: the whole disk of a partition, else NULL.
 * all: every device of the scan, to look up holders and partitions. */
void verdict_evaluate(Device *d, const Device *parent, const DeviceList *all, const VerdictOptions *o);

bool verdict_is_ceph_disk_partition(const Device *part);

/* True if the device's health, or its whole disk's (parent), is failing: never a new OSD's. */
bool verdict_health_failing(const Device *d, const Device *parent);
/* Adds HEALTH_FAILING to every device of a scan whose health (or whose disk's) is failing,
 * for health read after the scan's verdicts (the agent's, castlectl inventory --health). */
void verdict_apply_health(DeviceList *all);

/* The device's reasons as one line for an error message, each with what was found where that
 * helps ("Has a FileSystem (crypto_LUKS); Has holders (dm-3: crypt dirtycrypt)"). all, may be
 * NULL, names the holders' types. NULL on allocation failure. */
char *verdict_explain(const Device *d, const DeviceList *all);
