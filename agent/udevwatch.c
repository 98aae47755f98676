/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* inotify on /run/udev/data. udevd replaces a record by writing a temporary file and
 * renaming it over the old one (IN_MOVED_TO), or writes it in place (IN_CLOSE_WRITE), and
 * unlinks it on removal (IN_DELETE). Temporary names do not start with 'b' and are skipped,
 * as are records of other subsystems (c: character devices, n: network, +: others). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent/udevwatch.h"
#include "common/macro.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF)
#define READS_MAX 64 /* per call: a storm cannot starve the loop, the rest waits for the next poll */

struct UdevWatch {
        int fd;
        int wd;
        char *root;
};

UdevWatch *udev_watch_free(UdevWatch *w) {
        if (!w)
                return NULL;
        safe_close(w->fd);
        free(w->root);
        free(w);
        return NULL;
}

int udev_watch_new(const char *root, UdevWatch **ret) {
        UdevWatch *w = calloc(1, sizeof *w);
        char dir[PATH_MAX];
        int r;

        if (!w)
                return -ENOMEM;
        w->fd = -1;
        w->root = strdup(root);
        if (!w->root) {
                udev_watch_free(w);
                return -ENOMEM;
        }
        snprintf(dir, sizeof dir, "%s/run/udev/data", streq(root, "/") ? "" : root);
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
                r = -errno;
                udev_watch_free(w);
                return r;
        }
        w->wd = inotify_add_watch(w->fd, dir, WATCH_MASK | IN_ONLYDIR);
        if (w->wd < 0) {
                r = -errno;
                udev_watch_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int udev_watch_fd(const UdevWatch *w) {
        return w->fd;
}

/* "b259:3" -> 259, 3 */
static bool parse_record(const char *name, unsigned *ret_major, unsigned *ret_minor) {
        unsigned maj, min;
        int n = 0;

        if (name[0] != 'b' || sscanf(name + 1, "%u:%u%n", &maj, &min, &n) != 2 || name[1 + n] != 0)
                return false;
        *ret_major = maj;
        *ret_minor = min;
        return true;
}

/* The kernel name of a block device number, from the /sys/dev/block/M:m link. */
static bool kname_of(const UdevWatch *w, unsigned maj, unsigned min, char *buf, size_t size) {
        char path[PATH_MAX], target[PATH_MAX];
        const char *slash;
        ssize_t n;

        snprintf(path, sizeof path, "%s/sys/dev/block/%u:%u", streq(w->root, "/") ? "" : w->root, maj, min);
        n = readlink(path, target, sizeof target - 1);
        if (n <= 0)
                return false;
        target[n] = 0;
        slash = strrchr(target, '/');
        slash = slash ? slash + 1 : target;
        if (strlen(slash) >= size)
                return false;
        memcpy(buf, slash, strlen(slash) + 1);
        return !isempty(buf);
}

int udev_watch_process(UdevWatch *w, UdevWatchFn fn, void *userdata) {
        char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
        int count = 0;

        for (int i = 0; i < READS_MAX; i++) {
                ssize_t n = read(w->fd, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;
                        char kname[NAME_MAX + 1] = "";
                        unsigned maj, min;
                        bool known;

                        p += sizeof(struct inotify_event) + e->len;
                        if (e->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                                fn(UDEV_WATCH_OVERFLOW, NULL, NULL, userdata);
                                count++;
                                continue;
                        }
                        if (e->len == 0 || !parse_record(e->name, &maj, &min))
                                continue;
                        known = kname_of(w, maj, min, kname, sizeof kname);
                        if ((e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) && known)
                                fn(UDEV_WATCH_CHANGED, e->name, kname, userdata);
                        else
                                fn(UDEV_WATCH_REMOVED, e->name, known ? kname : NULL, userdata);
                        count++;
                }
        }
        return count;
}
