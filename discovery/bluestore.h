/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The BlueStore device label: "bluestore block device\n<osd uuid>\n" followed by an encoded
 * bluestore_bdev_label_t (osd uuid, size, btime, description, meta map) and a crc32c, in the
 * first 4 KiB of the device. Ceph >= 19 writes copies at 1, 10, 100 and 1000 GiB. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BLUESTORE_LABEL_SIZE 4096
#define BLUESTORE_MAGIC "bluestore block device\n"
#define BLUESTORE_MAGIC_LEN 22 /* what ceph-volume compares: without the newline */

typedef struct BlueStoreLabel {
        char osd_uuid[37];
        uint64_t size;
        char description[64];   /* "main", "bluefs db", "bluefs wal" */
        char ceph_fsid[37];
        int osd_id;              /* meta "whoami"; -1 if absent */
        char type[16];           /* meta "type": "bluestore" */
        char osdspec_affinity[65]; /* meta "osdspec_affinity": the OSD spec that made it; "" if none */
        int crc_ok;              /* 1: checksum verified, 0: mismatch or not decodable */
} BlueStoreLabel;

extern const uint64_t bluestore_label_offsets[5];

/* Returns 1 if buf starts with the label magic (a label, whatever follows), 0 if not. */
int bluestore_has_magic(const void *buf, size_t n);
/* Parses a label. Returns 0 with ret filled when the magic is there (crc_ok tells whether
 * the binary part decoded and matched its checksum), -ENODATA when there is no label. The
 * input is untrusted: every length is checked against the buffer. */
int bluestore_label_parse(const void *buf, size_t n, BlueStoreLabel *ret);

uint32_t bluestore_crc32c(uint32_t crc, const void *buf, size_t n);
