/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw-mode BlueStore preparation, ceph-volume's `raw prepare` steps with castle's safety:
 *   plan     find the device by what the user named; refuse unless it is available
 *   lock     find it again by stable id, O_EXCL + flock, probe again under the lock
 *   journal  uuid + cephx secret + stable id on disk before anything leaves this node
 *   osd-new  the monitor allocates the id (same uuid and secret: same id)
 *   lvm      (LVM mode) VG, LVs with their ceph.* tags, LUKS2 on each with --dmcrypt
 *   osd-dir  directory, block link, keyring, monmap
 *   mkfs     ceph-osd --mkfs, then the label on the device is read back and checked
 *   start    ceph-osd runs, and we wait until the osd map says it is up
 * A rerun after a crash at any point finds the journal entry by the device's stable id and
 * carries on from the last completed step; a step that fails rolls back what this prepare
 * created (the id with purge-new, unless it was a destroyed id being reused; the directory;
 * the label, only where it carries this prepare's uuid). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "osd-prep/context.h"

typedef struct PrepareRequest {
        const char *data;        /* /dev path or link, stable id, or ceph-volume device id */
        const char *crush_class; /* NULL: the monitor's guess */
        int osd_id;              /* < 0: any; else reuse this (destroyed) id */
        bool dry_run;
        /* LVM mode (ceph-volume lvm's layout) */
        bool lvm;
        bool dmcrypt;            /* LUKS2 on every LV; the key is kept by the monitors */
        const char *db, *wal;    /* devices for block.db / block.wal, named like data */
        unsigned data_slots;     /* this OSD's LV gets 1/data_slots of the data device (0: 1) */
        unsigned db_slots, wal_slots;
        uint64_t db_size, wal_size; /* bytes, instead of a slot */
        /* the OSD spec this OSD is made for: the LVs' ceph.osdspec_affinity tag and the
         * BlueStore label's osdspec_affinity, as cephadm sets them through
         * CEPH_VOLUME_OSDSPEC_AFFINITY; NULL: none */
        const char *osdspec_affinity;
        /* A scan the caller made moments ago (a batch's plan): the plan step keeps its
         * content facts for every device not in dirty (the devices earlier OSDs of the
         * batch wrote to) instead of probing them again. The lock step probes the devices
         * it locks afresh either way. NULL: the plan step probes everything. */
        const DeviceList *recent;
        char *const *dirty;
} PrepareRequest;

typedef struct StepTiming {
        const char *name;
        uint64_t usec;
} StepTiming;

#define PREPARE_MAX_STEPS 12

typedef struct PrepareResult {
        /* the plan */
        char *device;            /* /dev/<kname> */
        char *stable_id;
        uint64_t size;
        bool available;
        char **reasons;          /* why not, when !available */
        /* the outcome */
        int osd_id;              /* -1 if none */
        char *osd_uuid;
        char *cluster_fsid;
        bool already_prepared;   /* the device already held this OSD: nothing was prepared */
        bool resumed;            /* a journal entry from an interrupted run was finished */
        bool started;            /* ceph-osd started (and up) by this run */
        bool lvm, encrypted;
        char *db_device, *wal_device;   /* /dev/<kname> of the planned db / wal devices */
        char *block_path;        /* what the OSD's block link points at (LV or crypt mapping) */
        char *error;             /* what went wrong, in words */
        char *rolled_back;       /* what a failed run undid, in words */
        StepTiming steps[PREPARE_MAX_STEPS];
        size_t n_steps;
        uint64_t total_usec;
} PrepareResult;

void prepare_result_done(PrepareResult *r);

/* The step names in order, for --dry-run plans and progress. */
extern const char *const prepare_step_names[];

int osd_prepare(const OsdContext *c, const PrepareRequest *req, PrepareResult *ret);
