/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scan pipeline. Everything that may block on a device (the content probe) runs in the
 * probe pool with a deadline; the rest reads sysfs, /proc and the udev database. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "discovery/devscan.h"
#include "discovery/devsource.h"
#include "discovery/dmdev.h"
#include "discovery/identity.h"
#include "discovery/lvmreport.h"
#include "discovery/mounts.h"
#include "discovery/probepool.h"
#include "discovery/sysfs.h"
#include "discovery/verdict.h"

ScanResult *scan_result_free(ScanResult *r) {
        if (!r)
                return NULL;
        device_list_free(r->devices);
        free(r->lvm_status);
        free(r->warning);
        free(r);
        return NULL;
}

void scan_result_freep(ScanResult **r) {
        scan_result_free(*r);
}

const Device *devscan_parent(const DeviceList *l, const Device *d) {
        return d->parent ? device_list_find(l, d->parent) : NULL;
}

/* RAM disks and compressed RAM swap are memory, not storage; a loop device without a
 * backing file is not attached. Neither is worth a line in an inventory. */
static bool ignored(const Device *d) {
        if (startswith(d->kname, "ram") || startswith(d->kname, "zram") || startswith(d->kname, "fd"))
                return true;
        if (startswith(d->kname, "loop") && !d->partition_number && isempty(d->loop_backing_file))
                return true;
        return false;
}

static void set_probe_error(Device *d, int error, const char *msg) {
        if (d->probe_error < 0)
                return;
        d->probe_error = error;
        free(d->probe_error_msg);
        d->probe_error_msg = strdup(msg);
}

/* Is the mount/swap source path this device? On the live system, by device number. */
static bool source_is(const Device *d, const char *source, bool live) {
        struct stat st;

        if (!source || source[0] != '/')
                return false;
        if (live && stat(source, &st) >= 0 && S_ISBLK(st.st_mode))
                return st.st_rdev == d->devnum;
        if (streq_ptr(d->path, source) || strv_contains(d->links, source))
                return true;
        return d->dm_name && startswith(source, "/dev/mapper/") && streq(source + 12, d->dm_name);
}

/* Marks the disk below an OS filesystem, through partitions and device-mapper slaves. */
static void mark_os(DeviceList *l, Device *d, unsigned depth) {
        const Device *parent;

        if (!d || depth > 16 || d->os_disk)
                return;
        d->os_disk = true;
        parent = devscan_parent(l, d);
        if (parent)
                mark_os(l, (Device *) parent, depth + 1);
        STRV_FOREACH(s, d->slaves)
                mark_os(l, device_list_find(l, *s), depth + 1);
}

static int apply_mounts(DeviceList *l, const MountTable *t, bool live) {
        int r;

        for (size_t i = 0; i < l->n; i++) {
                Device *d = l->items[i];

                for (size_t m = 0; m < t->n_mounts; m++) {
                        const MountEntry *e = &t->mounts[m];
                        bool hit = major(e->devnum) != 0 ? e->devnum == d->devnum
                                                          : source_is(d, e->source, live);
                        if (!hit)
                                continue;
                        r = strv_extend_unique(&d->mountpoints, e->mountpoint);
                        if (r < 0)
                                return r;
                        if (mountpoint_is_os(e->mountpoint))
                                mark_os(l, d, 0);
                }
                STRV_FOREACH(s, t->swaps)
                        if (source_is(d, *s, live))
                                d->swap = true;
        }
        return 0;
}

/* In a captured tree without a disk image, udev's own blkid results stand in for ours. */
static void content_from_udev(Device *d) {
        if (d->fs_type_udev && !streq(d->fs_type_udev, "mpath_member")) {
                if (device_add_signature(d, d->fs_type_udev, NULL, NULL, NULL, NULL) < 0)
                        return;
                if (streq(d->fs_type_udev, "ceph_bluestore"))
                        d->label_offsets[d->n_label_offsets++] = 0;
        }
        /* udev gives a partition its disk's ID_PART_TABLE_TYPE: only a disk's own counts. */
        if (d->pttype_udev && d->partition_number == 0)
                d->pttype = strdup(d->pttype_udev);
        d->probed = true;
}

static bool held(const ScanOptions *o, dev_t devnum) {
        for (size_t i = 0; i < o->n_held; i++)
                if (o->held[i] == devnum)
                        return true;
        return false;
}

/* A device nothing happened to keeps the content facts of the previous scan. */
static bool reuse_content(Device *d, const ScanOptions *o) {
        const Device *p;

        if (!o->previous || strv_contains(o->dirty, d->kname) || held(o, d->devnum))
                return false;
        p = device_list_find(o->previous, d->kname);
        /* A holder may let go without any event: ask again rather than remember "locked". */
        if (!p || !p->probed || p->locked || p->devnum != d->devnum || p->size != d->size)
                return false;
        return device_copy_content(d, p) >= 0;
}

static int probe_all(DevSource *src, DeviceList *l, const ScanOptions *o, unsigned *reused) {
        _cleanup_free_ ProbeRequest *reqs = calloc(l->n ?: 1, sizeof(ProbeRequest));
        size_t n = 0;
        int r;

        if (!reqs)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                Device *d = l->items[i];
                char *node = NULL;
                struct stat st;

                if (d->probe_error < 0)
                        continue;
                if (reuse_content(d, o)) {
                        (*reused)++;
                        continue;
                }
                if (devsource_is_live(src)) {
                        /* /dev/mapper/NAME is udev's to make, and udev may never finish with
                         * a hung device; the kernel's own /dev/dm-N node is there regardless. */
                        if (access(d->path, F_OK) == 0 || asprintf(&node, "/dev/%s", d->kname) < 0)
                                node = strdup(d->path);
                } else {
                        if (asprintf(&node, "%s/dev/%s", devsource_root(src), d->kname) < 0)
                                node = NULL;
                        else if (stat(node, &st) < 0 || !S_ISREG(st.st_mode)) {
                                node = mfree(node);
                                content_from_udev(d);
                                continue;
                        }
                }
                if (!node) {
                        r = -ENOMEM;
                        goto finish;
                }
                reqs[n++] = (ProbeRequest) {
                        .device = d,
                        .node = node,
                        .opts.test_exclusive = !o->no_exclusive_test && devsource_is_live(src) && strv_isempty(d->holders) &&
                                               strv_isempty(d->partitions) && strv_isempty(d->mountpoints) &&
                                               !d->swap && !held(o, d->devnum),
                };
        }
        r = probepool_run(reqs, n, o->workers ?: SCAN_DEFAULT_WORKERS,
                          o->probe_timeout_usec ?: SCAN_DEFAULT_PROBE_TIMEOUT_USEC);
finish:
        for (size_t i = 0; i < n; i++)
                free(reqs[i].node);
        return r;
}

static int run_lvm(DevSource *src, DeviceList *l, const ScanOptions *o, char **ret_status) {
        _cleanup_(lvm_report_freep) LvmReport *rep = NULL;
        _cleanup_strv_free_ char **pvs = NULL;
        _cleanup_free_ char *err = NULL, *json = NULL;
        int r;

        if (!devsource_is_live(src)) {
                r = read_full_file_at(devsource_root_fd(src), "lvm-fullreport.json", 64 * 1024 * 1024, &json, NULL);
                if (r == -ENOENT) {
                        *ret_status = strdup("not captured");
                        return 0;
                }
                if (r >= 0)
                        r = lvm_report_parse(json, &rep);
                if (r < 0) {
                        *ret_status = strdup("captured report unreadable");
                        return 0;
                }
                goto apply;
        }

        /* Only devices that carry an LVM label can be PVs: no label, no lvm call at all. */
        for (size_t i = 0; i < l->n; i++)
                if (device_has_signature(l->items[i], "LVM2_member")) {
                        r = strv_extend(&pvs, l->items[i]->path);
                        if (r < 0)
                                return r;
                }
        if (strv_isempty(pvs)) {
                *ret_status = strdup("not needed");
                return 0;
        }
        r = lvm_report_run(pvs, o->lvm_timeout_usec ?: SCAN_DEFAULT_LVM_TIMEOUT_USEC, &rep, &err);
        if (r == -ENOENT) {
                *ret_status = strdup("not installed");
                return 0;
        }
        if (r < 0) {
                if (asprintf(ret_status, "failed: %s", err ?: strerror(-r)) < 0)
                        *ret_status = NULL;
                return 0;
        }
apply:
        r = lvm_report_apply(rep, l);
        if (r < 0)
                return r;
        *ret_status = strdup("ok");
        return 0;
}

static void classify(DeviceList *l, bool live) {
        /* Types first (identity needs them), whole devices before partitions. */
        for (size_t i = 0; i < l->n; i++) {
                Device *d = l->items[i];

                if (live && startswith(d->kname, "dm-"))
                        (void) dmdev_refresh(d);
                d->type = identity_type(d);
                if (d->dm_name) {
                        free(d->path);
                        if (asprintf(&d->path, "/dev/mapper/%s", d->dm_name) < 0)
                                d->path = NULL;
                }
        }
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < l->n; i++) {
                        Device *d = l->items[i];
                        const Device *parent = devscan_parent(l, d);

                        if ((d->type == DEVICE_TYPE_PART && d->parent) != (pass == 1))
                                continue;
                        if (parent) { /* a partition has no queue of its own */
                                d->rotational = parent->rotational;
                                d->logical_sector_size = parent->logical_sector_size;
                                d->physical_sector_size = parent->physical_sector_size;
                        }
                        d->transport = identity_transport(d, parent);
                        d->stable_id = identity_stable_id(d, parent);
                        d->device_id = identity_ceph_device_id(d);
                }
}

int devscan_run(const ScanOptions *o, ScanResult **ret) {
        _cleanup_(devsource_freep) DevSource *src = NULL;
        _cleanup_(scan_result_freep) ScanResult *res = calloc(1, sizeof(ScanResult));
        _cleanup_(mount_table_freep) MountTable *mounts = NULL;
        uint64_t start = now_usec();
        DeviceList *l;
        int r;

        if (!res)
                return -ENOMEM;
        r = o->sysroot ? devsource_new_sysroot(&src, o->sysroot) : devsource_new_live(&src);
        if (r < 0)
                return r;
        if (!devsource_udev_running(src))
                res->warning = strdup("udevd is not running: serials, WWNs and /dev links are missing");

        r = devsource_enumerate(src, o->udev_timeout_usec ?: SCAN_DEFAULT_UDEV_TIMEOUT_USEC, &res->devices);
        if (r < 0)
                return r;
        l = res->devices;

        /* sysfs; drop what is not storage */
        for (size_t i = 0; i < l->n;) {
                Device *d = l->items[i];

                r = sysfs_fill(devsource_root_fd(src), d);
                if (r == -ENOENT || ignored(d)) { /* gone since enumeration, or not storage */
                        device_free(d);
                        memmove(l->items + i, l->items + i + 1, sizeof(Device *) * (l->n - i - 1));
                        l->n--;
                        continue;
                }
                if (r < 0)
                        set_probe_error(d, r, "sysfs unreadable");
                i++;
        }
        classify(l, devsource_is_live(src));
        log_debug("scan: enumerate + sysfs + classify: %.1f ms", (double) (now_usec() - start) / 1000);
        if (o->identity_only)
                goto done;

        r = mount_table_load(devsource_root_fd(src), &mounts);
        if (r < 0) {
                /* Without a mount table no device can be called unmounted. */
                for (size_t i = 0; i < l->n; i++)
                        set_probe_error(l->items[i], r, "mount table unreadable");
        } else {
                r = apply_mounts(l, mounts, devsource_is_live(src));
                if (r < 0)
                        return r;
        }

        {
                unsigned reused = 0;
                r = probe_all(src, l, o, &reused);
                if (r < 0)
                        return r;
                res->n_probed = (unsigned) l->n - reused;
        }
        log_debug("scan: content probes done: %.1f ms", (double) (now_usec() - start) / 1000);

        r = run_lvm(src, l, o, &res->lvm_status);
        if (r < 0)
                return r;
        log_debug("scan: LVM report (%s): %.1f ms", strempty(res->lvm_status), (double) (now_usec() - start) / 1000);

        for (size_t i = 0; i < l->n; i++) {
                Device *d = l->items[i];
                VerdictOptions vo = { .allow_loop = o->allow_loop };

                if (d->probe_error < 0) {
                        d->probed = false;
                        res->n_failed++;
                }
                verdict_evaluate(d, devscan_parent(l, d), l, &vo);
        }
done:
        res->duration_usec = now_usec() - start;
        *ret = TAKE_PTR(res);
        return 0;
}
