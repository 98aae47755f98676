/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device events without netlink: an inotify watch on udev's database directory
 * (/run/udev/data). udevd writes b<major>:<minor> there when it has processed an event for a
 * block device and deletes it when the device goes, whichever network namespace the reader
 * is in; udev's netlink broadcast reaches only udevd's own namespace (rook#14844). So an
 * agent in a pod without hostNetwork, given the host's /run/udev, still hears of hotplug,
 * and only after udev is done with the device (its links and properties are in place). */
#pragma once

typedef enum UdevWatchEvent {
        UDEV_WATCH_CHANGED,     /* a device's record was written: kname is set */
        UDEV_WATCH_REMOVED,     /* a record went away (kname set if the device still exists) */
        UDEV_WATCH_OVERFLOW,    /* inotify dropped events, or the watch ended: rescan everything */
} UdevWatchEvent;

typedef struct UdevWatch UdevWatch;
typedef void (*UdevWatchFn)(UdevWatchEvent event, const char *record, const char *kname, void *userdata);

/* Watches ROOT/run/udev/data; knames are resolved through ROOT/sys/dev/block ("/" live). */
int udev_watch_new(const char *root, UdevWatch **ret);
UdevWatch *udev_watch_free(UdevWatch *w);
int udev_watch_fd(const UdevWatch *w);
/* Reads what is pending (bounded) and calls fn once per block-device record event.
 * Returns the number of events passed on, or -errno. */
int udev_watch_process(UdevWatch *w, UdevWatchFn fn, void *userdata);
