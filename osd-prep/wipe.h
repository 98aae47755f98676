/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The destructive core of `castlectl zap`, in the manner of `wipefs --all` and
 * `ceph-bluestore-tool zap-device`: every libblkid signature (superblocks, LVM PV, LUKS,
 * RAID, partition tables with their backups), every BlueStore label copy, then the head of
 * the device. The caller holds the device O_RDWR|O_EXCL with flock(LOCK_EX). */
#pragma once

#include <stdint.h>

typedef struct WipeReport {
        unsigned n_signatures;  /* libblkid signatures erased */
        unsigned n_labels;      /* BlueStore label copies zeroed */
        uint64_t zeroed_bytes;  /* head zeroing */
        char **erased;          /* "xfs at 0x0", "gpt at 0x200", "bluestore label at 0x40000000" */
} WipeReport;

/* Works on a block device or a regular file (an image). Returns 0 or -errno. */
int wipe_device(int fd, uint64_t head_bytes, WipeReport *ret);
void wipe_report_done(WipeReport *r);
