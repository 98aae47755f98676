/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OSD data directory, <root>/<cluster>-<id>: what mkfs and ceph-osd read (the block
 * link, keyring, monmap), written with our own calls instead of a process per file, and
 * owned by the ceph user when there is one. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "osd-prep/context.h"

/* The ceph user, or (uid_t) -1 when it does not exist or we are not root. */
/* <root>/<cluster>-<id>, as ceph-volume and the ceph-osd units expect it. */
char *osd_dir_path(const OsdContext *c, int id);
void osd_owner(uid_t *uid, gid_t *gid);

/* Creates the directory afresh (anything in it from an earlier, interrupted run is removed)
 * with block -> device, keyring and activate.monmap, written as root through a descriptor of
 * the directory (never through a link planted in it), each file chowned through its own
 * descriptor; the directory goes to the ceph user last, once complete. -EPERM if someone
 * else created the directory meanwhile. */
int osd_dir_create(const char *dir, int id, const char *device, const char *secret, const void *monmap,
                   size_t monmap_size);

/* Points dir/name (block, block.db, block.wal) at device, again at activation: the kernel
 * name may have changed. */
int osd_dir_link(const char *dir, const char *name, const char *device);

/* Removes the directory and the files in it (it has no subdirectories). A symlink in its
 * place is removed itself, never followed. */
int osd_dir_remove(const char *dir);

/* Gives the device node to the ceph user, as ceph-volume does. */
int osd_chown_device(const char *device);
