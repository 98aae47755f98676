/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OSDs on this node, found the way ceph-volume finds them (BlueStore labels for raw
 * OSDs, ceph.* LV tags for LVM ones), whoever made them; and raw activation, which is what
 * a node runs at boot: prime each OSD's directory from its label and start it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "discovery/device.h"
#include "osd-prep/context.h"

typedef struct OsdEntry {
        int id;
        char *uuid;
        char *cluster_fsid;
        char *kind;             /* "raw" or "lvm" */
        char *type;             /* block, db, wal */
        char *device;           /* /dev node, or the LV path */
        char *stable_id;
        pid_t pid;              /* of its running ceph-osd, 0 if none */
} OsdEntry;

typedef struct OsdList {
        OsdEntry *items;
        size_t n;
} OsdList;

void osd_list_done(OsdList *l);

/* From a scan: one entry per OSD device (block, and db/wal where they are separate), ordered
 * by id. */
int osd_list_build(const DeviceList *devices, OsdList *ret);

/* How many OSDs have their block volume on d (a raw label, or LVs with ceph.* tags). */
unsigned osd_count_on(const Device *d);

/* The cluster fsid from the configuration file, without contacting the monitors; NULL if it
 * names none. */
char *ceph_conf_fsid(const CephTarget *t);

typedef struct ActivateResult {
        int id;
        char *device;
        bool started;           /* false: it was running already */
        char *error;
} ActivateResult;

/* Activates the OSDs of this cluster found on this node (raw, LVM, dm-crypt): id < 0 for all
 * of them. Results are returned per OSD; the call fails only if nothing could be looked at. */
int osd_activate(const OsdContext *c, int id, ActivateResult **ret, size_t *ret_n);
void activate_results_free(ActivateResult *a, size_t n);
