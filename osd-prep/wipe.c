/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Wipes a device the caller holds exclusively: every libblkid signature with its backups,
 * every BlueStore label copy, then the head of the device (wipefs --all and zap-device). */
#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/strv.h"
#include "discovery/bluestore.h"
#include "osd-prep/wipe.h"

#define WIPE_MAX_SIGNATURES 256 /* a loop guard: no device carries more */

void wipe_report_done(WipeReport *r) {
        r->erased = strv_free(r->erased);
}

static int note(WipeReport *r, const char *what, uint64_t offset) {
        char *s;

        if (asprintf(&s, "%s at 0x%llx", what, (unsigned long long) offset) < 0)
                return -ENOMEM;
        return strv_consume(&r->erased, s);
}

/* Every signature libblkid finds, erased one by one until a probe finds nothing: what
 * wipefs --all does. blkid_do_wipe() also steps the probe past what it erased. */
static int wipe_signatures(int fd, WipeReport *r) {
        blkid_probe pr = blkid_new_probe();
        int k, ret = 0;

        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0) {
                blkid_free_probe(pr);
                return -EIO;
        }
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);
        for (unsigned i = 0; i < WIPE_MAX_SIGNATURES; i++) {
                const char *type = NULL, *off = NULL;

                k = blkid_do_probe(pr);
                if (k == 1)
                        break; /* nothing more */
                if (k < 0) {
                        ret = -EIO;
                        break;
                }
                if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) < 0)
                        (void) blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL);
                if (blkid_probe_lookup_value(pr, "SBMAGIC_OFFSET", &off, NULL) < 0)
                        (void) blkid_probe_lookup_value(pr, "PTMAGIC_OFFSET", &off, NULL);
                if (blkid_do_wipe(pr, 0) < 0) {
                        ret = -errno ?: -EIO;
                        break;
                }
                r->n_signatures++;
                if (note(r, type ?: "signature", off ? strtoull(off, NULL, 10) : 0) < 0) {
                        ret = -ENOMEM;
                        break;
                }
        }
        blkid_free_probe(pr);
        return ret;
}

/* BlueStore labels at 0 and at each replica offset that fits (Ceph >= 19 writes copies). */
static int wipe_labels(int fd, uint64_t size, WipeReport *r) {
        static const uint8_t zeros[BLUESTORE_LABEL_SIZE];
        uint8_t buf[BLUESTORE_LABEL_SIZE];

        for (size_t i = 0; i < ELEMENTSOF(bluestore_label_offsets); i++) {
                uint64_t off = bluestore_label_offsets[i];

                if (off + sizeof buf > size)
                        break;
                if (pread(fd, buf, sizeof buf, (off_t) off) != (ssize_t) sizeof buf)
                        return -errno ?: -EIO;
                if (!bluestore_has_magic(buf, sizeof buf))
                        continue;
                if (pwrite(fd, zeros, sizeof zeros, (off_t) off) != (ssize_t) sizeof zeros)
                        return -errno ?: -EIO;
                r->n_labels++;
                if (note(r, "bluestore label", off) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int zero_head(int fd, uint64_t n, WipeReport *r) {
        static const uint8_t zeros[1 << 16];

        for (uint64_t off = 0; off < n;) {
                size_t chunk = (size_t) MIN(n - off, sizeof zeros);
                ssize_t k = pwrite(fd, zeros, chunk, (off_t) off);
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                off += (uint64_t) k;
        }
        r->zeroed_bytes = n;
        return 0;
}

int wipe_device(int fd, uint64_t head_bytes, WipeReport *ret) {
        WipeReport r = {};
        struct stat st;
        uint64_t size;
        int k;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return -errno;
        } else if (S_ISREG(st.st_mode))
                size = (uint64_t) st.st_size;
        else
                return -ENOTBLK;

        k = wipe_signatures(fd, &r);
        if (k >= 0)
                k = wipe_labels(fd, size, &r);
        if (k >= 0)
                k = zero_head(fd, MIN(head_bytes, size), &r);
        if (k >= 0 && fsync(fd) < 0)
                k = -errno;
        /* The kernel's partitions of a disk whose table is gone. EINVAL: the device has no
         * partition support (a loop device without partscan); EBUSY: a partition is in use. */
        if (k >= 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKRRPART) < 0 && errno != EINVAL)
                (void) note(&r, errno == EBUSY ? "partition table re-read refused (busy)" : "partition table re-read failed", 0);
        if (k < 0) {
                wipe_report_done(&r);
                return k;
        }
        *ret = r;
        return 0;
}
