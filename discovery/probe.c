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

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe);

static const char *value(blkid_probe pr, const char *name) {
        const char *v = NULL;

        if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0)
                return NULL;
        return v;
}

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
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);

        /* Low-level probing returns one signature per call, like wipefs, so that two
         * signatures on one device are both reported instead of cancelling out. */
        for (unsigned n = 0; n < 64; n++) {
                const char *type, *pttype;

                errno = 0;
                r = blkid_do_probe(pr);
                if (r == 1)
                        break;
                if (r < 0)
                        return errno > 0 ? -errno : -EIO;
                pttype = value(pr, "PTTYPE");
                if (pttype) {
                        if (!d->pttype) {
                                const char *ptuuid = value(pr, "PTUUID");
                                d->pttype = strdup(pttype);
                                if (!d->pttype || (ptuuid && !(d->ptuuid = strdup(ptuuid))))
                                        return -ENOMEM;
                        }
                        continue;
                }
                type = value(pr, "TYPE");
                if (!type)
                        continue;
                r = device_add_signature(d, type, value(pr, "USAGE"), value(pr, "UUID"),
                                         value(pr, "LABEL"), value(pr, "VERSION"));
                if (r < 0)
                        return r;
        }
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
