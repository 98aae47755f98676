/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/retry.h"
#include "common/strv.h"
#include "osd-prep/target.h"

/* systemd-udevd takes a shared flock while it probes a device (BLOCK_DEVICE_LOCKING.md);
 * wait it out for a while, like ceph-volume's mkfs retries. The agent's own scan opens each
 * device O_EXCL for a moment (discovery/probe.c), and so does the kernel while it re-reads a
 * partition table; a real holder (a mount, an OSD) is still there after the same wait. */
#define FLOCK_TRIES 50
#define FLOCK_WAIT_USEC (100 * USEC_PER_MSEC)

Device *target_find(const DeviceList *l, const char *arg) {
        struct stat st;

        if (arg[0] == '/' && stat(arg, &st) == 0) {
                if (!S_ISBLK(st.st_mode))
                        return NULL;
                return device_list_find_devnum(l, st.st_rdev);
        }
        for (size_t i = 0; i < l->n; i++) {
                Device *d = l->items[i];
                if (streq_ptr(d->stable_id, arg) || streq_ptr(d->device_id, arg) || streq_ptr(d->kname, arg))
                        return d;
        }
        return NULL;
}

static Device *find_stable(const DeviceList *l, const char *stable_id) {
        for (size_t i = 0; i < l->n; i++)
                if (streq_ptr(l->items[i]->stable_id, stable_id))
                        return l->items[i];
        return NULL;
}

int target_open_node(const char *node, bool exclusive) {
        Retry busy = RETRY(.attempts = FLOCK_TRIES, .interval_usec = FLOCK_WAIT_USEC);
        int fd;

        do
                fd = open(node, exclusive ? O_RDWR | O_EXCL | O_CLOEXEC | O_NOCTTY : O_RDONLY | O_CLOEXEC | O_NOCTTY);
        while (fd < 0 && errno == EBUSY && retry_wait(&busy));
        return fd < 0 ? -errno : fd;
}

int target_open_exclusive(const Device *d, int *ret_fd, char **error) {
        return target_open_locked(d, true, ret_fd, error);
}

int target_open_locked(const Device *d, bool exclusive, int *ret_fd, char **error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *node = NULL;
        struct stat st;

        if (asprintf(&node, "/dev/%s", d->kname) < 0)
                return -ENOMEM;
        fd = target_open_node(node, exclusive);
        if (fd < 0) {
                int r = fd;
                error_set(error, r == -EBUSY ? "%s is in use: another program holds it open exclusively (a mount, a holder, an OSD)"
                                             : "cannot open %s: %s", node, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode) || st.st_rdev != d->devnum) {
                error_set(error, "%s is no longer the device that was scanned (it was renamed or replaced)", node);
                return -ESTALE;
        }
        Retry t = RETRY(.attempts = FLOCK_TRIES, .interval_usec = FLOCK_WAIT_USEC);
        while (flock(fd, LOCK_EX | LOCK_NB) < 0)
                if (errno != EWOULDBLOCK || !retry_wait(&t)) {
                        int r = -errno;
                        error_set(error, "cannot lock %s: %s", node,
                                  r == -EWOULDBLOCK ? "another program holds its lock (udev, a prepare, an OSD)" : strerror(-r));
                        return r;
                }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int target_lock_all(const TargetWant *want, size_t n, const ScanOptions *base, const DeviceList *recent,
                    TargetLock *ret, ScanResult **ret_scan, char **error) {
        _cleanup_(scan_result_freep) ScanResult *found = NULL, *locked = NULL;
        TargetLock l[TARGET_MAX];
        dev_t held[TARGET_MAX];
        size_t n_held = 0;
        ScanOptions o = *base;
        int r;

        assert(n <= TARGET_MAX);
        for (size_t i = 0; i < n; i++)
                l[i] = (TargetLock) { .fd = -EBADF };

        /* Where is each now? Names and identities are enough for that. */
        o.previous = NULL;
        o.identity_only = true;
        r = devscan_run(&o, &found);
        if (r < 0) {
                error_set(error, "cannot scan the devices: %s", strerror(-r));
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                const Device *d;

                if (!want[i].stable_id)
                        continue;
                d = find_stable(found->devices, want[i].stable_id);
                if (!d) {
                        error_set(error, "no device with stable id %s is present now (it was %s)", want[i].stable_id,
                                  strempty(want[i].planned_kname));
                        r = -ENODEV;
                        goto fail;
                }
                l[i].moved = want[i].planned_kname && !streq(d->kname, want[i].planned_kname);
                if (l[i].moved)
                        log_debug("%s is now /dev/%s (was /dev/%s): following its stable id", want[i].stable_id,
                                   d->kname, want[i].planned_kname);
                r = target_open_locked(d, want[i].exclusive, &l[i].fd, error);
                if (r < 0)
                        goto fail;
                held[n_held++] = d->devnum;
        }

        /* Again, now that nobody else can open them exclusively or mount them. */
        o.identity_only = false;
        o.previous = recent;
        o.dirty = NULL;
        o.held = held;
        o.n_held = n_held;
        r = devscan_run(&o, &locked);
        if (r < 0) {
                error_set(error, "cannot scan the devices: %s", strerror(-r));
                goto fail;
        }
        for (size_t i = 0, k = 0; i < n; i++) {
                Device *d;

                if (!want[i].stable_id)
                        continue;
                d = device_list_find_devnum(locked->devices, held[k++]);
                if (!d || !streq_ptr(d->stable_id, want[i].stable_id)) {
                        error_set(error, "the device changed under the lock: stable id %s expected, found %s",
                                  want[i].stable_id, d ? strempty(d->stable_id) : "nothing");
                        r = -ESTALE;
                        goto fail;
                }
                l[i].device = d;
        }
        memcpy(ret, l, sizeof(TargetLock) * n);
        *ret_scan = TAKE_PTR(locked);
        return 0;
fail:
        for (size_t i = 0; i < n; i++)
                safe_close(l[i].fd);
        return r;
}

void target_unlock(TargetLock *l) {
        l->fd = safe_close(l->fd);
        l->device = NULL;
}
