/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The LVM changes an LVM-mode OSD needs, each one `lvm` command with a deadline and its
 * stderr as the error. Names follow ceph-volume: VG ceph-<uuid>, LVs osd-block-<osd fsid>,
 * osd-db-<uuid>, osd-wal-<uuid>. Nothing here forces or answers yes to a prompt about a
 * signature on a device: LVM refuses, and castle reports it. */
#pragma once

#include <stdint.h>

typedef struct VgInfo {
        uint64_t extent_size;   /* bytes */
        uint64_t extent_count;
        uint64_t free_count;
} VgInfo;

/* "vg/lv", the name LVM commands take; NULL when out of memory. */
char *lvmcmd_lv_spec(const char *vg, const char *lv);

int lvmcmd_pv_remove(const char *device, char **error);
int lvmcmd_vg_create(const char *vg, const char *pv, char **error);
int lvmcmd_vg_remove(const char *vg, char **error);
/* -ENOENT if there is no such VG. */
int lvmcmd_vg_info(const char *vg, VgInfo *ret, char **error);

/* Creates vg/lv of extents extents (0: all the VG's free space) with the tags
 * ("key=value") set in the same command, so no LV exists without its ceph.* tags. */
int lvmcmd_lv_create(const char *vg, const char *lv, uint64_t extents, char *const *tags, char **error);
int lvmcmd_lv_remove(const char *vg, const char *lv, char **error);
int lvmcmd_lv_activate(const char *vg, const char *lv, char **error);
/* On every LV of lvs ("vg/lv"), in one command: sets addtags and deletes deltags
 * ("key=value"). */
int lvmcmd_lv_tags(char *const *lvs, char *const *addtags, char *const *deltags, char **error);
/* The LV's uuid (LVM's 38-character form). -ENOENT if there is no such LV. */
int lvmcmd_lv_uuid(const char *vg, const char *lv, char **ret, char **error);
