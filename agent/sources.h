/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where the agent hears that something changed on the node, each a poller on the agent's zloop:
 * udev's netlink broadcast, an inotify watch on udev's database (/run/udev/data, for a network
 * namespace that the broadcast does not reach), or both, as the udev-events option says; and
 * the host's mount table (/proc/1/mountinfo where readable, else our own), which signals
 * POLLPRI when it changes. They only say what changed; the caller decides when to scan. */
#pragma once

#include <czmq.h>
#include <stdint.h>

#include "agent/hostview.h"
#include "agent/metrics.h"

typedef enum SourcesEvent {
        SOURCES_DEVICE,         /* a device's content may have changed: kname is set */
        SOURCES_STATE,          /* host state changed (mounts, a device gone), content did not */
        SOURCES_LOST,           /* events were lost: every device may have changed */
} SourcesEvent;

/* now: now_usec() when the batch that held the event was read. */
typedef void (*SourcesEventFn)(SourcesEvent event, const char *kname, uint64_t now, void *userdata);

/* How device events arrive: the udev-events option. */
typedef enum UdevEvents {
        UDEV_EVENTS_AUTO,       /* netlink in udevd's network namespace, inotify outside it, both when unknown */
        UDEV_EVENTS_NETLINK,
        UDEV_EVENTS_INOTIFY,
        UDEV_EVENTS_BOTH,
        _UDEV_EVENTS_MAX,
} UdevEvents;

/* In UdevEvents' order, for the option table. */
#define UDEV_EVENTS_NAMES "auto", "netlink", "inotify", "both"

typedef struct SourcesOptions {
        UdevEvents udev_events;
        const HostView *host;
        AgentMetrics *metrics;          /* counts udev events and losses; may be NULL */
        SourcesEventFn event;
        void *userdata;
} SourcesOptions;

typedef struct Sources Sources;

/* Starts listening on loop (which must outlive the Sources) and logs which device events it
 * uses and why; errors are logged too. */
int sources_new(zloop_t *loop, const SourcesOptions *o, Sources **ret);
Sources *sources_free(Sources *s);
