/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Block device enumeration: libudev on the live system, files under a captured tree.
 * libudev objects are not thread-safe, so all udev access happens here, on the caller's
 * thread, before any probe worker starts. */
#include <fcntl.h>
#include <libudev.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "discovery/devsource.h"

struct DevSource {
        char *root;
        int root_fd;
        struct udev *udev;      /* live mode only */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_monitor *, udev_monitor_unref);

static int devsource_new(DevSource **ret, const char *root) {
        _cleanup_(devsource_freep) DevSource *s = calloc(1, sizeof(DevSource));

        if (!s)
                return -ENOMEM;
        s->root_fd = -EBADF;
        s->root = strdup(root);
        if (!s->root)
                return -ENOMEM;
        s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->root_fd < 0)
                return -errno;
        *ret = TAKE_PTR(s);
        return 0;
}

int devsource_new_live(DevSource **ret) {
        _cleanup_(devsource_freep) DevSource *s = NULL;
        int r;

        r = devsource_new(&s, "/");
        if (r < 0)
                return r;
        s->udev = udev_new();
        if (!s->udev)
                return negative_errno();
        *ret = TAKE_PTR(s);
        return 0;
}

int devsource_new_sysroot(DevSource **ret, const char *root) {
        _cleanup_(devsource_freep) DevSource *s = NULL;
        struct stat st;
        int r;

        r = devsource_new(&s, root);
        if (r < 0)
                return r;
        if (fstatat(s->root_fd, "sys/class/block", &st, 0) < 0)
                return -ENOTDIR; /* not a captured tree */
        *ret = TAKE_PTR(s);
        return 0;
}

DevSource *devsource_free(DevSource *s) {
        if (!s)
                return NULL;
        if (s->udev)
                udev_unref(s->udev);
        safe_close(s->root_fd);
        free(s->root);
        free(s);
        return NULL;
}

void devsource_freep(DevSource **s) {
        devsource_free(*s);
}

bool devsource_is_live(const DevSource *s) {
        return s->udev;
}

const char *devsource_root(const DevSource *s) {
        return s->root;
}

int devsource_root_fd(const DevSource *s) {
        return s->root_fd;
}

bool devsource_udev_running(const DevSource *s) {
        if (!s->udev)
                return true;
        return access("/run/udev/control", F_OK) == 0;
}

/* Decodes udev's \xNN escapes and trims the blanks that pad vendor and model strings. */
static int take_encoded(char **field, const char *value) {
        char *c = strndup(value, 1024), *w;

        if (!c)
                return -ENOMEM;
        w = c;
        for (const char *r = c; *r;) {
                unsigned v;
                if (r[0] == '\\' && r[1] == 'x' && sscanf(r + 2, "%2x", &v) == 1 && v >= 0x20 && v < 0x7f) {
                        *w++ = (char) v;
                        r += 4;
                } else
                        *w++ = *r++;
        }
        *w = 0;
        strip_trailing(c);
        if (isempty(c)) {
                free(c);
                return 0;
        }
        free(*field);
        *field = c;
        return 0;
}

/* Takes the udev facts we use from a property list. */
static int take_property(Device *d, const char *key, const char *value) {
        static const struct {
                const char *key;
                size_t offset;
        } map[] = {
                { "DEVTYPE", offsetof(Device, devtype) },
                { "ID_SERIAL", offsetof(Device, id_serial) },
                { "ID_BUS", offsetof(Device, id_bus) },
                { "ID_PATH", offsetof(Device, id_path) },
                { "ID_FS_TYPE", offsetof(Device, fs_type_udev) },
                { "ID_PART_TABLE_TYPE", offsetof(Device, pttype_udev) },
                { "ID_PART_ENTRY_UUID", offsetof(Device, part_uuid) },
                { "ID_PART_ENTRY_NAME", offsetof(Device, part_label) },
                { "ID_PART_ENTRY_TYPE", offsetof(Device, part_type) },
        };
        char **field;

        /* WWN: the form with the vendor extension identifies a LUN, the short one a target. */
        if (streq(key, "ID_WWN_WITH_EXTENSION") || (streq(key, "ID_WWN") && !d->wwn))
                field = &d->wwn;
        /* Serial: for SCSI/SAS disks udev's ID_SERIAL_SHORT is the NAA id from VPD page 0x83,
         * the WWN again; the unit serial is ID_SCSI_SERIAL (lsblk prefers it too). */
        else if (streq(key, "ID_SCSI_SERIAL")) {
                int r = take_encoded(&d->scsi_serial, value);
                return r < 0 ? r : take_encoded(&d->serial, value);
        } else if (streq(key, "ID_SERIAL_SHORT") && !d->scsi_serial)
                return take_encoded(&d->serial, value);
        /* Vendor and model: the _ENC forms keep the device's own blanks; the plain forms
         * (blanks as '_') only stand in when there is no _ENC form. */
        else if (streq(key, "ID_VENDOR_ENC") || (streq(key, "ID_VENDOR") && !d->vendor))
                return take_encoded(&d->vendor, value);
        else if (streq(key, "ID_MODEL_ENC") || (streq(key, "ID_MODEL") && !d->model))
                return take_encoded(&d->model, value);
        else {
                field = NULL;
                for (size_t i = 0; i < ELEMENTSOF(map); i++)
                        if (streq(map[i].key, key)) {
                                field = (char **) ((char *) d + map[i].offset);
                                break;
                        }
                if (!field)
                        return 0;
        }
        if (isempty(value))
                return 0;
        free(*field);
        *field = strndup(value, 1024); /* bound what we keep from the database */
        return *field ? 0 : -ENOMEM;
}

int udevdb_parse(Device *d, const char *text) {
        const char *p = text;
        int r;

        while (*p) {
                const char *nl = strchrnul(p, '\n');
                size_t len = (size_t) (nl - p);
                _cleanup_free_ char *line = strndup(p, len);

                if (!line)
                        return -ENOMEM;
                p = *nl ? nl + 1 : nl;
                if (len < 2 || line[1] != ':')
                        continue;
                if (line[0] == 'S') {
                        _cleanup_free_ char *link = NULL;
                        if (asprintf(&link, "/dev/%s", line + 2) < 0)
                                return -ENOMEM;
                        r = strv_extend_unique(&d->links, link);
                } else if (line[0] == 'E') {
                        char *eq = strchr(line + 2, '=');
                        if (!eq)
                                continue;
                        *eq = 0;
                        r = take_property(d, line + 2, eq + 1);
                } else
                        continue;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int fill_from_udev_device(Device *d, struct udev_device *ud) {
        struct udev_list_entry *e;
        int r;

        udev_list_entry_foreach(e, udev_device_get_properties_list_entry(ud)) {
                r = take_property(d, udev_list_entry_get_name(e), udev_list_entry_get_value(e));
                if (r < 0)
                        return r;
        }
        udev_list_entry_foreach(e, udev_device_get_devlinks_list_entry(ud)) {
                r = strv_extend_unique(&d->links, udev_list_entry_get_name(e));
                if (r < 0)
                        return r;
        }
        strv_sort(d->links);
        return 0;
}

static int new_device(const char *kname, dev_t devnum, Device **ret) {
        _cleanup_(device_freep) Device *d = device_new(kname);

        if (!d)
                return -ENOMEM;
        d->devnum = devnum;
        if (asprintf(&d->syspath, "sys/class/block/%s", kname) < 0 ||
            asprintf(&d->path, "/dev/%s", kname) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(d);
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_queue *, udev_queue_unref);

/* Drops the pending devices udev has finished with by now. */
static void prune_pending(DevSource *s, char **pending) {
        for (size_t i = 0; pending[i];) {
                _cleanup_(udev_device_unrefp) struct udev_device *c =
                        udev_device_new_from_syspath(s->udev, pending[i]);
                if (!c || udev_device_get_is_initialized(c) > 0) {
                        free(pending[i]);
                        memmove(pending + i, pending + i + 1, sizeof(char *) * strv_length(pending + i));
                } else
                        i++;
        }
}

/* Waits, until the deadline, for udev to process the devices it has not initialised yet,
 * like `udevadm settle`: only while udev still has events queued. A device udev has given
 * up on (its rules failed) would otherwise cost the whole timeout on every scan. */
static int wait_for_udev(DevSource *s, struct udev_monitor *mon, char **pending, uint64_t deadline) {
        _cleanup_(udev_queue_unrefp) struct udev_queue *q = udev_queue_new(s->udev);
        int fd = udev_monitor_get_fd(mon);

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int64_t left = (int64_t) (deadline - now_usec());

                prune_pending(s, pending);
                if (strv_isempty(pending) || (q && udev_queue_get_queue_is_empty(q)))
                        return 0;
                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&p, 1, (int) MIN(left / 1000 + 1, 50)) < 0 && errno != EINTR)
                        return -errno;
                if (p.revents & POLLIN) {
                        /* Only to drain the socket: what counts is the database. */
                        _cleanup_(udev_device_unrefp) struct udev_device *ud = udev_monitor_receive_device(mon);
                }
        }
}

static void udev_devices_free(struct udev_device **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                udev_device_unref(v[i]);
        free(v);
}

static int enumerate_live(DevSource *s, uint64_t timeout_usec, DeviceList **ret) {
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *mon = NULL;
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *en = NULL;
        _cleanup_(device_list_freep) DeviceList *l = device_list_new();
        _cleanup_strv_free_ char **pending = NULL;
        struct udev_device **uds = NULL;
        size_t n = 0;
        struct udev_list_entry *e;
        int r;

        if (!l)
                return -ENOMEM;
        /* The monitor first, then enumeration: a device that udev finishes in between still
         * reaches us as an event. */
        if (devsource_udev_running(s)) {
                mon = udev_monitor_new_from_netlink(s->udev, "udev");
                if (mon && (udev_monitor_filter_add_match_subsystem_devtype(mon, "block", NULL) < 0 ||
                            udev_monitor_enable_receiving(mon) < 0))
                        mon = udev_monitor_unref(mon);
        }

        en = udev_enumerate_new(s->udev);
        if (!en)
                return negative_errno();
        r = udev_enumerate_add_match_subsystem(en, "block");
        if (r < 0)
                return r;
        r = udev_enumerate_scan_devices(en);
        if (r < 0)
                return r;
        udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
                struct udev_device *ud = udev_device_new_from_syspath(s->udev, udev_list_entry_get_name(e));

                if (!ud)
                        continue; /* gone meanwhile */
                struct udev_device **v = reallocarray(uds, n + 1, sizeof *uds);
                if (!v) {
                        udev_device_unref(ud);
                        r = -ENOMEM;
                        goto finish;
                }
                uds = v;
                uds[n++] = ud;
                if (mon && udev_device_get_is_initialized(ud) <= 0) {
                        r = strv_extend(&pending, udev_list_entry_get_name(e));
                        if (r < 0)
                                goto finish;
                }
        }

        if (mon && pending) {
                r = wait_for_udev(s, mon, pending, now_usec() + timeout_usec);
                if (r < 0 && r != -ETIMEDOUT)
                        goto finish;
                /* Read those again: udev has written their database entries meanwhile. */
                for (size_t i = 0; i < n; i++) {
                        const char *sp = udev_device_get_syspath(uds[i]);
                        if (!strv_contains(pending, sp))
                                continue;
                        struct udev_device *again = udev_device_new_from_syspath(s->udev, sp);
                        if (again) {
                                udev_device_unref(uds[i]);
                                uds[i] = again;
                        }
                }
        }

        for (size_t i = 0; i < n; i++) {
                _cleanup_(device_freep) Device *d = NULL;
                const char *name = udev_device_get_sysname(uds[i]);

                if (!name)
                        continue;
                r = new_device(name, udev_device_get_devnum(uds[i]), &d);
                if (r < 0)
                        goto finish;
                r = fill_from_udev_device(d, uds[i]);
                if (r < 0)
                        goto finish;
                if (mon && udev_device_get_is_initialized(uds[i]) <= 0) {
                        d->probe_error = -ETIMEDOUT;
                        d->probe_error_msg = strdup("udev has not finished initialising the device");
                }
                r = device_list_add(l, TAKE_PTR(d));
                if (r < 0)
                        goto finish;
        }
        *ret = TAKE_PTR(l);
        r = 0;
finish:
        udev_devices_free(uds, n);
        return r;
}

/* Adds the /dev/disk links of a captured tree that point at kname. */
static int add_captured_links(DevSource *s, Device *d) {
        _cleanup_strv_free_ char **kinds = NULL;
        int r;

        if (list_dir_at(s->root_fd, "dev/disk", &kinds) < 0)
                return 0;
        STRV_FOREACH(k, kinds) {
                _cleanup_strv_free_ char **links = NULL;
                _cleanup_free_ char *dir = NULL;

                if (asprintf(&dir, "dev/disk/%s", *k) < 0)
                        return -ENOMEM;
                if (list_dir_at(s->root_fd, dir, &links) < 0)
                        continue;
                STRV_FOREACH(l, links) {
                        char target[PATH_MAX];
                        _cleanup_free_ char *rel = NULL, *path = NULL;
                        const char *base;
                        ssize_t n;

                        if (asprintf(&rel, "%s/%s", dir, *l) < 0)
                                return -ENOMEM;
                        n = readlinkat(s->root_fd, rel, target, sizeof target - 1);
                        if (n < 0)
                                continue;
                        target[n] = 0;
                        base = strrchr(target, '/');
                        if (!streq(base ? base + 1 : target, d->kname))
                                continue;
                        if (asprintf(&path, "/%s", rel) < 0)
                                return -ENOMEM;
                        r = strv_extend_unique(&d->links, path);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int enumerate_sysroot(DevSource *s, DeviceList **ret) {
        _cleanup_(device_list_freep) DeviceList *l = device_list_new();
        _cleanup_strv_free_ char **names = NULL;
        int r;

        if (!l)
                return -ENOMEM;
        r = list_dir_at(s->root_fd, "sys/class/block", &names);
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                _cleanup_(device_freep) Device *d = NULL;
                _cleanup_free_ char *p = NULL, *dev = NULL, *db = NULL;
                unsigned maj, min;

                if (asprintf(&p, "sys/class/block/%s/dev", *n) < 0)
                        return -ENOMEM;
                if (read_one_line_at(s->root_fd, p, &dev) < 0 || sscanf(dev, "%u:%u", &maj, &min) != 2)
                        continue; /* not a device directory */
                r = new_device(*n, makedev(maj, min), &d);
                if (r < 0)
                        return r;
                free(p);
                if (asprintf(&p, "run/udev/data/b%u:%u", maj, min) < 0)
                        return -ENOMEM;
                if (read_full_file_at(s->root_fd, p, 1024 * 1024, &db, NULL) >= 0) {
                        r = udevdb_parse(d, db);
                        if (r < 0)
                                return r;
                }
                r = add_captured_links(s, d);
                if (r < 0)
                        return r;
                strv_sort(d->links);
                r = device_list_add(l, TAKE_PTR(d));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int devsource_enumerate(DevSource *s, uint64_t timeout_usec, DeviceList **ret) {
        if (s->udev)
                return enumerate_live(s, timeout_usec, ret);
        return enumerate_sysroot(s, ret);
}
