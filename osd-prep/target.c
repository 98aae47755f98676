/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "osd-prep/target.h"

/* systemd-udevd takes a shared flock while it probes a device (BLOCK_DEVICE_LOCKING.md);
 * wait it out for a while, like ceph-volume's mkfs retries. */
#define FLOCK_TRIES 50
#define FLOCK_WAIT_NSEC (100 * 1000 * 1000)

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

int target_open_exclusive(const Device *d, int *ret_fd, char **error) {
        return target_open_locked(d, true, ret_fd, error);
}

int target_open_locked(const Device *d, bool exclusive, int *ret_fd, char **error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *node = NULL;
        struct stat st;

        if (asprintf(&node, "/dev/%s", d->kname) < 0)
                return -ENOMEM;
        fd = open(node, exclusive ? O_RDWR | O_EXCL | O_CLOEXEC | O_NOCTTY : O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int r = -errno;
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
        for (int i = 0;; i++) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        break;
                if (errno != EWOULDBLOCK || i + 1 >= FLOCK_TRIES) {
                        int r = -errno;
                        error_set(error, "cannot lock %s: %s", node,
                                  r == -EWOULDBLOCK ? "another program holds its lock (udev, a prepare, an OSD)" : strerror(-r));
                        return r;
                }
                (void) nanosleep(&(struct timespec) { .tv_nsec = FLOCK_WAIT_NSEC }, NULL);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int target_lock(const char *stable_id, const char *planned_kname, const ScanOptions *base, bool exclusive,
                TargetLock *ret, char **error) {
        _cleanup_(scan_result_freep) ScanResult *first = NULL, *locked = NULL;
        _cleanup_close_ int fd = -EBADF;
        ScanOptions o = *base;
        Device *d;
        dev_t devnum;
        bool moved;
        int r;

        o.previous = NULL;
        r = devscan_run(&o, &first);
        if (r < 0) {
                error_set(error, "cannot scan the devices: %s", strerror(-r));
                return r;
        }
        d = find_stable(first->devices, stable_id);
        if (!d) {
                error_set(error, "no device with stable id %s is present now (it was %s)", stable_id,
                          strempty(planned_kname));
                return -ENODEV;
        }
        moved = planned_kname && !streq(d->kname, planned_kname);
        if (moved)
                log_notice("%s is now /dev/%s (was /dev/%s): following its stable id", stable_id, d->kname,
                           planned_kname);
        r = target_open_locked(d, exclusive, &fd, error);
        if (r < 0)
                return r;
        devnum = d->devnum;

        /* Everything again, now that nobody else can open it exclusively or mount it. */
        o.held_devnum = devnum;
        r = devscan_run(&o, &locked);
        if (r < 0) {
                error_set(error, "cannot scan the devices: %s", strerror(-r));
                return r;
        }
        d = device_list_find_devnum(locked->devices, devnum);
        if (!d || !streq_ptr(d->stable_id, stable_id)) {
                error_set(error, "the device changed under the lock: stable id %s expected, found %s", stable_id,
                          d ? strempty(d->stable_id) : "nothing");
                return -ESTALE;
        }
        *ret = (TargetLock) {
                .fd = TAKE_FD(fd),
                .scan = TAKE_PTR(locked),
                .device = d,
                .moved = moved,
        };
        return 0;
}

void target_unlock(TargetLock *l) {
        l->fd = safe_close(l->fd);
        l->scan = scan_result_free(l->scan);
        l->device = NULL;
}
