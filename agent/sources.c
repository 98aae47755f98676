/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's event sources: udev netlink monitor, udev database watch and mount table, each
 * read on the loop with a bound per wake-up so that an event storm cannot starve the loop. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/sources.h"
#include "agent/udevwatch.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/timeutil.h"

#define UDEV_DRAIN_MAX 1024

struct Sources {
        zloop_t *loop;
        AgentMetrics *metrics;
        SourcesEventFn event;
        void *userdata;
        struct udev *udev;
        struct udev_monitor *monitor;
        UdevWatch *udev_watch;
        int mountinfo_fd;
};

static int on_udev(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Sources *s = arg;
        uint64_t now = now_usec();

        /* Drain what is there, with a bound so that a storm cannot starve the loop. */
        for (int i = 0; i < UDEV_DRAIN_MAX; i++) {
                struct udev_device *d;

                errno = 0;
                d = udev_monitor_receive_device(s->monitor);
                if (!d) {
                        if (errno == ENOBUFS) {
                                agent_metrics_udev_lost(s->metrics);
                                log_warning("udev events were lost (receive buffer overflow): rescanning everything.");
                                s->event(SOURCES_LOST, NULL, now, s->userdata);
                        }
                        break;
                }
                agent_metrics_udev_event(s->metrics);
                log_debug("udev event: %s %s.", strempty(udev_device_get_action(d)), strempty(udev_device_get_sysname(d)));
                if (udev_device_get_sysname(d))
                        s->event(SOURCES_DEVICE, udev_device_get_sysname(d), now, s->userdata);
                udev_device_unref(d);
        }
        return 0;
}

typedef struct RecordBatch {
        Sources *sources;
        uint64_t now;
} RecordBatch;

static void on_udev_record(UdevWatchEvent event, const char *record, const char *kname, void *userdata) {
        RecordBatch *b = userdata;
        Sources *s = b->sources;

        agent_metrics_udev_event(s->metrics);
        switch (event) {
        case UDEV_WATCH_CHANGED:
                log_debug("udev database: %s updated (%s).", kname, record);
                s->event(SOURCES_DEVICE, kname, b->now, s->userdata);
                break;
        case UDEV_WATCH_REMOVED:
                log_debug("udev database: %s removed (%s).", kname ?: "a device", record);
                if (kname)
                        s->event(SOURCES_DEVICE, kname, b->now, s->userdata);
                else
                        s->event(SOURCES_STATE, NULL, b->now, s->userdata); /* the scan finds what is gone */
                break;
        case UDEV_WATCH_OVERFLOW:
                agent_metrics_udev_lost(s->metrics);
                log_warning("udev database events were lost: rescanning everything.");
                s->event(SOURCES_LOST, NULL, b->now, s->userdata);
                break;
        }
}

static int on_udev_watch(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Sources *s = arg;
        RecordBatch b = { .sources = s, .now = now_usec() };
        int r;

        r = udev_watch_process(s->udev_watch, on_udev_record, &b);
        if (r < 0)
                log_warning_errno(r, "Reading the udev database watch failed: %m");
        return 0;
}

static int on_mounts(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Sources *s = arg;
        char buf[65536];

        /* Reading the table to its end re-arms the notification. */
        if (lseek(s->mountinfo_fd, 0, SEEK_SET) >= 0)
                while (read(s->mountinfo_fd, buf, sizeof buf) > 0)
                        ;
        s->event(SOURCES_STATE, NULL, now_usec(), s->userdata);
        return 0;
}

static int open_mountinfo(void) {
        /* The host's table where we can read it (a container with the host's PID namespace),
         * else our own. */
        int fd = open("/proc/1/mountinfo", O_RDONLY | O_CLOEXEC);

        return fd >= 0 ? fd : open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
}

/* udev's netlink broadcast, inotify on its database, or both (the udev-events option). */
static int start_device_events(Sources *s, UdevEvents mode, const HostView *host) {
        static const char *const names[] = { UDEV_EVENTS_NAMES };
        const char *why, *m = names[mode];
        bool netlink, inotify;
        int r;

        assert(mode < _UDEV_EVENTS_MAX);
        if (mode == UDEV_EVENTS_AUTO) {
                netlink = host->udevd_netns != 0;
                inotify = host->udevd_netns != 1;
                why = host->udevd_netns == 1 ? "this is udevd's network namespace"
                      : host->udevd_netns == 0
                              ? "this is not udevd's network namespace: its netlink events do not arrive here (rook#14844)"
                              : "cannot tell whether this is udevd's network namespace";
        } else {
                netlink = mode != UDEV_EVENTS_INOTIFY;
                inotify = mode != UDEV_EVENTS_NETLINK;
                why = "udev-events option";
        }
        if (host->udevd_pid > 0)
                log_debug("Compared network namespaces with udevd, pid %d.", host->udevd_pid);

        if (netlink) {
                s->udev = udev_new();
                s->monitor = s->udev ? udev_monitor_new_from_netlink(s->udev, "udev") : NULL;
                if (!s->monitor || udev_monitor_filter_add_match_subsystem_devtype(s->monitor, "block", NULL) < 0 ||
                    udev_monitor_enable_receiving(s->monitor) < 0)
                        return log_error_errno(errno ?: EIO, "Failed to listen for udev events: %m");
                (void) udev_monitor_set_receive_buffer_size(s->monitor, 128 * 1024 * 1024);
                zloop_poller(s->loop, &(zmq_pollitem_t) { .fd = udev_monitor_get_fd(s->monitor), .events = ZMQ_POLLIN },
                             on_udev, s);
        }
        if (inotify) {
                r = udev_watch_new("/", &s->udev_watch);
                if (r < 0 && mode != UDEV_EVENTS_AUTO)
                        return log_error_errno(r, "udev-events=%s: cannot watch /run/udev/data: %m "
                                               "(in a container, mount the host's /run/udev).", m);
                if (r < 0) {
                        log_warning_errno(r, "Cannot watch /run/udev/data (%m): %s", netlink ? "netlink events only." :
                                          "no device events, only the periodic rescan.");
                        inotify = false;
                } else
                        zloop_poller(s->loop, &(zmq_pollitem_t) { .fd = udev_watch_fd(s->udev_watch), .events = ZMQ_POLLIN },
                                     on_udev_watch, s);
        }
        log_info("Device events: %s (%s).",
                 netlink && inotify ? "udev netlink and inotify on /run/udev/data"
                 : netlink          ? "udev netlink"
                 : inotify          ? "inotify on /run/udev/data"
                                    : "none",
                 why);
        return 0;
}

int sources_new(zloop_t *loop, const SourcesOptions *o, Sources **ret) {
        Sources *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return log_oom();
        *s = (Sources) {
                .loop = loop,
                .metrics = o->metrics,
                .event = o->event,
                .userdata = o->userdata,
                .mountinfo_fd = -EBADF,
        };
        r = start_device_events(s, o->udev_events, o->host);
        if (r < 0) {
                sources_free(s);
                return r;
        }
        s->mountinfo_fd = open_mountinfo();
        if (s->mountinfo_fd >= 0)
                zloop_poller(loop, &(zmq_pollitem_t) { .fd = s->mountinfo_fd, .events = ZMQ_POLLPRI }, on_mounts, s);
        *ret = s;
        return 0;
}

Sources *sources_free(Sources *s) {
        if (!s)
                return NULL;
        if (s->monitor) {
                zloop_poller_end(s->loop, &(zmq_pollitem_t) { .fd = udev_monitor_get_fd(s->monitor) });
                udev_monitor_unref(s->monitor);
        }
        if (s->udev_watch) {
                zloop_poller_end(s->loop, &(zmq_pollitem_t) { .fd = udev_watch_fd(s->udev_watch) });
                udev_watch_free(s->udev_watch);
        }
        if (s->udev)
                udev_unref(s->udev);
        if (s->mountinfo_fd >= 0) {
                zloop_poller_end(s->loop, &(zmq_pollitem_t) { .fd = s->mountinfo_fd });
                safe_close(s->mountinfo_fd);
        }
        free(s);
        return NULL;
}
