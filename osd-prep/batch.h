/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `castlectl osd batch`: many LVM OSDs in one go, planned like `ceph-volume lvm batch`.
 * Without --db-devices a mix of rotational and non-rotational devices is split: rotational
 * ones hold data, the others hold block.db; each fast device is cut into as many even slots
 * as the OSDs it serves (or --block-db-size each, which must fit a slot). The plan is made
 * from one scan and changes nothing; each OSD is then an ordinary LVM prepare, with all its
 * checks, so a rerun finishes what was interrupted and adds nothing that exists. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "discovery/device.h"
#include "osd-prep/context.h"
#include "osd-prep/prepare.h"

/* Bounds of what a batch may be asked (the agent takes them from the network). */
#define BATCH_MAX_SLOTS 256
#define BATCH_MAX_OSD_IDS 256
#define BATCH_AFFINITY_MAX 63

/* An osdspec affinity (a spec's service id) fits an LVM tag: 1..63 of [A-Za-z0-9._-]. Inline:
 * the agent checks it without linking the prepare code. */
static inline bool batch_affinity_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > BATCH_AFFINITY_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[i]))
                        return false;
        return true;
}

typedef struct BatchRequest {
        char *const *devices;
        char *const *db_devices;
        char *const *wal_devices;
        unsigned osds_per_device;       /* 0: 1 */
        uint64_t db_size, wal_size;     /* 0: one slot */
        unsigned db_slots, wal_slots;   /* slots per DB/WAL device; 0: as many as it serves */
        bool raw;                       /* raw OSDs, one per data device, no DB/WAL, no LVM */
        const int *osd_ids;             /* ids to reuse, in the order the new OSDs are made */
        size_t n_osd_ids;
        const char *osdspec_affinity;   /* LVM OSDs' ceph.osdspec_affinity tag; NULL: none */
        /* for batch_execute(): what every OSD of the batch gets */
        const char *crush_class;        /* NULL: the monitor's guess */
        bool dmcrypt;
} BatchRequest;

typedef struct BatchOsd {
        const Device *data, *db, *wal;  /* in the scan the plan was made from */
        unsigned data_slots, db_slots, wal_slots;
        uint64_t data_size, db_size, wal_size; /* what each LV will roughly get, for the report */
        bool exists;                    /* the data device already holds this slot's OSD */
} BatchOsd;

typedef struct BatchPlan {
        BatchOsd *osds;
        size_t n;
        char **skipped;                 /* devices not used, with why, in words */
        const DeviceList *devices;      /* the scan it was made from (the caller's) */
} BatchPlan;

void batch_plan_done(BatchPlan *p);

/* Fails with *error in words if a device is missing, named twice, unusable, or a requested
 * size does not fit a slot. */
int batch_plan(const DeviceList *devices, const BatchRequest *req, BatchPlan *ret, char **error);

/* After each OSD that batch_execute() prepared or tried to: what it asked, what came of it,
 * and osd_prepare()'s return value. */
typedef void (*BatchOsdDone)(const BatchOsd *o, const PrepareRequest *req, const PrepareResult *res, int r,
                             void *userdata);

/* Prepares every OSD of the plan that does not exist yet, in order, each an ordinary LVM
 * prepare with all its checks. The plan's scan stands in for probing again every device no
 * earlier OSD of the batch wrote to. Unless c has a monitor connection, one is opened for the
 * whole batch (and closed at the end); without it each prepare connects itself. Returns the
 * number of OSDs that failed. */
int batch_execute(OsdContext *c, const BatchRequest *req, const BatchPlan *plan, BatchOsdDone done,
                  void *userdata);
