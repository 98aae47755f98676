/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysfs reader. Attributes that are missing stay at their zero value: virtual devices lack
 * many of them. A missing device directory is an error (the device went away). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/strv.h"
#include "discovery/sysfs.h"

/* Attributes are read relative to the device's own sysfs directory (dfd): one path walk
 * for the device, not one per attribute. */
static int read_attr(int dfd, const char *attr, char **ret) {
        return read_one_line_at(dfd, attr, ret);
}

static uint64_t read_attr_u64(int dfd, const char *attr) {
        uint64_t v = 0;

        if (read_u64_at(dfd, attr, &v) < 0)
                return 0;
        return v;
}

static bool attr_exists(int dfd, const char *attr) {
        struct stat st;

        return fstatat(dfd, attr, &st, 0) >= 0;
}

static int list_attr_dir(int dfd, const char *attr, char ***ret) {
        int r = list_dir_at(dfd, attr, ret);
        return r == -ENOENT ? 0 : r;
}

/* Keeps the string attribute if it has content: vendor/model strings are space-padded. */
static void take_attr(int dfd, const char *attr, char **field) {
        char *v = NULL;

        if (read_attr(dfd, attr, &v) < 0)
                return;
        if (isempty(v)) {
                free(v);
                return;
        }
        free(*field);
        *field = v;
}

/* sysfs wwid holds the best SCSI/NVMe designator; only NAA and EUI-64 ones are world-wide
 * names. A "t10." vendor id is just vendor, model and serial again. */
static void take_wwid(int dfd, Device *d) {
        _cleanup_free_ char *v = NULL;
        const char *naa;

        if (read_attr(dfd, "device/wwid", &v) < 0)
                return;
        if ((naa = startswith(v, "naa.")))
                (void) asprintf(&d->wwn, "0x%s", naa);
        else if (startswith(v, "eui."))
                d->wwn = TAKE_PTR(v);
}

/* The scheduler file lists all with the active one in brackets: "mq-deadline [none]". */
static char *active_scheduler(const char *line) {
        const char *a = strchr(line, '['), *b;

        if (!a)
                return strdup(line);
        b = strchr(a, ']');
        return b ? strndup(a + 1, (size_t) (b - a - 1)) : NULL;
}

/* The parent of a partition is the directory above it in the resolved sysfs path. */
static int read_parent(int root_fd, Device *d) {
        char target[PATH_MAX];
        char *slash;
        ssize_t n;

        n = readlinkat(root_fd, d->syspath, target, sizeof target - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        slash = strrchr(target, '/');
        if (!slash)
                return -EINVAL;
        *slash = 0;
        slash = strrchr(target, '/');
        d->parent = strdup(slash ? slash + 1 : target);
        return d->parent ? 0 : -ENOMEM;
}

int sysfs_fill(int root_fd, Device *d) {
        _cleanup_strv_free_ char **entries = NULL;
        _cleanup_free_ char *sched = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        dfd = openat(root_fd, d->syspath, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;

        d->size = read_attr_u64(dfd, "size") * 512; /* always 512-byte units */
        d->logical_sector_size = (unsigned) read_attr_u64(dfd, "queue/logical_block_size");
        d->physical_sector_size = (unsigned) read_attr_u64(dfd, "queue/physical_block_size");
        d->rotational = read_attr_u64(dfd, "queue/rotational") == 1;
        d->read_only = read_attr_u64(dfd, "ro") == 1;
        d->removable = read_attr_u64(dfd, "removable") == 1;
        d->nr_requests = (unsigned) read_attr_u64(dfd, "queue/nr_requests");
        d->discard_granularity = read_attr_u64(dfd, "queue/discard_granularity");
        d->optimal_io_size = read_attr_u64(dfd, "queue/optimal_io_size");
        if (read_attr(dfd, "queue/scheduler", &sched) >= 0)
                d->scheduler = active_scheduler(sched);

        if (attr_exists(dfd, "partition")) {
                d->partition_number = (unsigned) read_attr_u64(dfd, "partition");
                r = read_parent(root_fd, d);
                if (r < 0)
                        return r;
                /* Partitions inherit the rotation flag; their own queue dir is the parent's. */
        }

        /* Partitions are the subdirectories that carry a "partition" attribute. */
        r = list_attr_dir(dfd, ".", &entries);
        if (r < 0)
                return r;
        STRV_FOREACH(e, entries) {
                _cleanup_free_ char *p = NULL;

                if (!startswith(*e, d->kname))
                        continue;
                if (asprintf(&p, "%s/partition", *e) < 0)
                        return -ENOMEM;
                if (!attr_exists(dfd, p))
                        continue;
                r = strv_extend(&d->partitions, *e);
                if (r < 0)
                        return r;
        }

        r = list_attr_dir(dfd, "holders", &d->holders);
        if (r < 0)
                return r;
        r = list_attr_dir(dfd, "slaves", &d->slaves);
        if (r < 0)
                return r;

        /* The kernel names these dm-N, loopN and mdN; other devices have none of them. */
        if (startswith(d->kname, "dm-")) {
                take_attr(dfd, "dm/name", &d->dm_name);
                take_attr(dfd, "dm/uuid", &d->dm_uuid);
        }
        if (startswith(d->kname, "loop"))
                take_attr(dfd, "loop/backing_file", &d->loop_backing_file);
        d->is_md = startswith(d->kname, "md") && attr_exists(dfd, "md");

        /* Hardware strings come from udev (the full ATA model, not sysfs' 16 characters);
         * sysfs stands in when udev has nothing, e.g. when udevd is not running. */
        if (!d->vendor && attr_exists(dfd, "device/type"))
                /* only SCSI devices have a vendor string here; virtio's is a PCI id (0x1af4) */
                take_attr(dfd, "device/vendor", &d->vendor);
        if (!d->model)
                take_attr(dfd, "device/model", &d->model);
        if (!d->serial) /* virtio-blk keeps its serial in the block directory */
                take_attr(dfd, "serial", &d->serial);
        if (!d->serial)
                take_attr(dfd, "device/serial", &d->serial);
        if (!d->wwn)
                take_wwid(dfd, d);
        take_attr(dfd, "device/rev", &d->revision);
        if (!d->revision)
                take_attr(dfd, "device/firmware_rev", &d->revision); /* NVMe */
        take_attr(dfd, "device/sas_address", &d->sas_address);
        return 0;
}
