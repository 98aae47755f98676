/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The LVM side of an LVM-mode OSD, laid out exactly as `ceph-volume lvm prepare` does it:
 * a VG ceph-<uuid> per device, LV osd-block-<osd fsid> (and osd-db-<uuid>, osd-wal-<uuid> on
 * their own devices), the full ceph.* tag set on every LV, and with dm-crypt a LUKS2 volume
 * on each LV opened as /dev/mapper/<lv uuid>. Each LV is created with its ceph.* tags in the
 * same lvcreate, so no untagged LV of castle's ever exists; the tags that name the other LVs'
 * uuids follow in one lvchange for all of them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "discovery/device.h"
#include "osd-prep/journal.h"
#include "osd-prep/lvmcmd.h"
#include "osd-prep/mon.h"

/* The value of an LV's tag ("" for a tag without one), or NULL if it has none. */
const char *lvm_lv_tag(const LogicalVolume *lv, const char *key);

/* True if d is a PV of a ceph VG that may take one more LV: nothing on it but LVM, its VG
 * is named ceph-*, and every LV in it belongs to an OSD (has ceph.osd_fsid tags) or is one of
 * names. vg: that VG's name must be this one (NULL: any ceph VG). */
bool lvm_device_in_ceph_vg(const Device *d, const char *vg, char *const *names);

/* The names this OSD's volumes will have, chosen before anything is created and kept in the
 * journal. d: the device; a ceph VG already on it is reused, else a new one is named. */
int lvm_volume_plan(JournalVolume *v, VolumeType t, const Device *d, const char *osd_uuid);

typedef struct LayoutRequest {
        const char *node[_VOLUME_MAX];  /* /dev node of each volume's device; NULL: none */
        unsigned slots[_VOLUME_MAX];     /* the LV gets 1/slots of its VG (0: 1) */
        uint64_t size[_VOLUME_MAX];      /* or exactly this many bytes */
        /* an existing VG's extents as the scan under the locks saw them (extent_size 0:
         * unknown, LVM is asked) */
        VgInfo vg[_VOLUME_MAX];
        const char *cluster_name;
        const char *dmcrypt_key;         /* NULL: no dm-crypt */
        const char *osdspec_affinity;    /* the OSD spec that made it (cephadm's tag); NULL: none */
} LayoutRequest;

typedef struct OsdPaths {
        char *path[_VOLUME_MAX];         /* what mkfs and the OSD directory use */
        char *lv_uuid[_VOLUME_MAX];
} OsdPaths;

void osd_paths_done(OsdPaths *p);

/* Creates the VGs, LVs (with tags) and crypt volumes of e. On failure the caller rolls back
 * with lvm_layout_remove(). */
int lvm_layout_create(const JournalEntry *e, const LayoutRequest *req, OsdPaths *ret, char **error);

/* Removes what lvm_layout_create() made for e, and only that: crypt mappings of its LVs,
 * its LVs by name, and the VGs and PVs this entry created (node[] gives the PVs). What was
 * done is appended to done in words. Returns how many volumes could not be cleaned up (a
 * device that is gone, an LV LVM would not remove). */
unsigned lvm_layout_remove(const JournalEntry *e, const char *const node[_VOLUME_MAX], char ***done);

/* Activation: the volumes of OSD uuid found by their ceph.* tags in devices (as `ceph-volume
 * lvm activate` finds them), their LVs activated, and with ceph.encrypted=1 their LUKS
 * volumes opened with the key fetched from the monitors with the lockbox secret of the
 * tags. ret: the paths the OSD directory links to. */
int lvm_layout_open(const CephTarget *t, const DeviceList *devices, const char *uuid, OsdPaths *ret, char **error);
