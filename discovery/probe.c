/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libblkid adapter and label reader. libblkid returns 0/1/-1/-2; here that becomes -errno.
 * The device is opened O_RDONLY: closing a read-only fd makes udev generate no "change"
 * event (ceph PR #38535 dropped its lock probe for the events an O_RDWR open caused). */
#include <blkid.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/retry.h"
#include "discovery/bluestore.h"
#include "discovery/probe.h"

#define PROBE_EXCL_TRIES 4
#define PROBE_EXCL_WAIT_USEC (25 * USEC_PER_MSEC)
/* Signatures, copies included, read from one device at most: ZFS alone has up to 4 labels of
 * 128 uberblocks each, and a hostile device must not keep the prober going. */
#define PROBE_MAX_HITS 256

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe);

static const char *value(blkid_probe pr, const char *name) {
        const char *v = NULL;

        if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0)
                return NULL;
        return v;
}

/* Where the magic of what blkid_do_probe() just found sits: SBMAGIC_OFFSET and SBMAGIC for a
 * superblock, PTMAGIC_OFFSET and PTMAGIC for a partition table. -ENODATA when a prober set none. */
static int magic_range(blkid_probe pr, bool pt, uint64_t *ret_offset, size_t *ret_len) {
        const char *off = NULL, *magic = NULL;
        size_t len = 0;
        char *end;
        unsigned long long v;

        if (blkid_probe_lookup_value(pr, pt ? "PTMAGIC_OFFSET" : "SBMAGIC_OFFSET", &off, NULL) < 0 ||
            blkid_probe_lookup_value(pr, pt ? "PTMAGIC" : "SBMAGIC", &magic, &len) < 0 || !off || len == 0)
                return -ENODATA;
        errno = 0;
        v = strtoull(off, &end, 10);
        if (errno != 0 || end == off || *end != 0)
                return -ENODATA;
        *ret_offset = v;
        *ret_len = len;
        return 0;
}

/* Probes as `wipefs --no-act` does (util-linux misc-utils/wipefs.c), so that castle never calls
 * a device free where wipefs lists a signature: low-level probing returns one signature per
 * call, so two signatures on one device are both reported instead of cancelling out; a GPT is
 * looked for even without a valid protective MBR (a disk whose first MiB was zeroed keeps its
 * backup header at the end); and each find is hidden and its prober run again, to reach the
 * copies behind it (a GPT's backup header, LUKS2's second header, ZFS's other labels).
 * Each type is recorded once, with the first copy found. */
static int probe_signatures(Device *d, int fd) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();
        int r;

        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
                return -EIO;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
                                                      BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL |
                                                      BLKID_SUBLKS_VERSION | BLKID_SUBLKS_MAGIC |
                                                      BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);

        for (unsigned n = 0; n < PROBE_MAX_HITS; n++) {
                const char *type, *pttype;
                uint64_t off;
                size_t len;

                errno = 0;
                r = blkid_do_probe(pr);
                if (r == 1)
                        break;
                if (r < 0)
                        return errno > 0 ? -errno : -EIO;
                type = value(pr, "TYPE");
                pttype = type ? NULL : value(pr, "PTTYPE");
                if (type && !device_has_signature(d, type)) {
                        r = device_add_signature(d, type, value(pr, "USAGE"), value(pr, "UUID"),
                                                 value(pr, "LABEL"), value(pr, "VERSION"));
                        if (r < 0)
                                return r;
                } else if (pttype && !d->pttype) {
                        const char *ptuuid = value(pr, "PTUUID");

                        d->pttype = strdup(pttype);
                        if (!d->pttype || (ptuuid && !(d->ptuuid = strdup(ptuuid))))
                                return -ENOMEM;
                }
                /* Where there is nothing to hide, the next prober runs, as in wipefs. */
                if ((type || pttype) && magic_range(pr, !type, &off, &len) >= 0 &&
                    blkid_probe_hide_range(pr, off, len) >= 0)
                        (void) blkid_probe_step_back(pr);
        }
        /* At the bound, what is left unread cannot make the device available: it has
         * PROBE_MAX_HITS signatures already. */
        return 0;
}

static int read_at(int fd, void *buf, size_t n, uint64_t offset) {
        size_t done = 0;

        while (done < n) {
                ssize_t k = pread(fd, (char *) buf + done, n - done, (off_t) (offset + done));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO; /* short device */
                done += (size_t) k;
        }
        return 0;
}

static int probe_labels(Device *d, int fd) {
        for (size_t i = 0; i < ELEMENTSOF(bluestore_label_offsets); i++) {
                uint64_t off = bluestore_label_offsets[i];
                char buf[BLUESTORE_LABEL_SIZE];
                BlueStoreLabel label;
                int r;

                if (off + BLUESTORE_LABEL_SIZE > d->size)
                        break;
                r = read_at(fd, buf, sizeof buf, off);
                if (r < 0) {
                        /* Fail safe: a location we cannot read may hold a label. */
                        d->label_error = r;
                        continue;
                }
                if (bluestore_label_parse(buf, sizeof buf, &label) < 0)
                        continue;
                d->label_offsets[d->n_label_offsets++] = off;
                if (d->n_ceph == 0) {
                        CephFacts f = {
                                .source = (char *) "bluestore-label",
                                .osd_uuid = label.osd_uuid[0] ? label.osd_uuid : NULL,
                                .osd_id = label.osd_id,
                                .cluster_fsid = label.ceph_fsid[0] ? label.ceph_fsid : NULL,
                                .osdspec_affinity = label.osdspec_affinity[0] ? label.osdspec_affinity : NULL,
                                .type = streq(label.description, "main") ? (char *) "block"
                                        : streq(label.description, "bluefs db") ? (char *) "db"
                                        : streq(label.description, "bluefs wal") ? (char *) "wal"
                                        : NULL,
                        };
                        r = device_add_ceph(d, &f);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int fail(Device *d, int r, const char *what) {
        char *m = NULL;

        if (asprintf(&m, "%s: %s", what, strerror(-r)) < 0)
                m = NULL;
        free(d->probe_error_msg);
        d->probe_error_msg = m;
        d->probe_error = r;
        return r;
}

int probe_device(Device *d, const char *node, const ProbeOptions *opts) {
        _cleanup_close_ int fd = -EBADF;
        int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
        struct stat st;
        int r;

        if (opts->test_exclusive) {
                /* Another scan (a second castle process) holds a device for a moment only; a
                 * real holder (mkfs, a mount, a database) is still there a few tries later. */
                Retry t = RETRY(.attempts = PROBE_EXCL_TRIES, .interval_usec = PROBE_EXCL_WAIT_USEC);
                do
                        fd = open(node, flags | O_EXCL);
                while (fd < 0 && errno == EBUSY && retry_wait(&t));
                if (fd < 0 && errno == EBUSY)
                        d->locked = true;
                else if (fd < 0)
                        return fail(d, -errno, "open");
        }
        if (fd < 0) {
                fd = open(node, flags);
                if (fd < 0)
                        return fail(d, -errno, "open");
        }
        if (fstat(fd, &st) < 0)
                return fail(d, -errno, "stat");
        if (S_ISBLK(st.st_mode) && st.st_rdev != d->devnum)
                return fail(d, -ESTALE, "device node changed under us");
        if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
                return fail(d, -ENOTBLK, "not a block device or image");

        r = probe_signatures(d, fd);
        if (r < 0)
                return fail(d, r, "libblkid probe");
        r = probe_labels(d, fd);
        if (r < 0)
                return fail(d, r, "BlueStore label read");
        d->probed = true;
        return 0;
}
