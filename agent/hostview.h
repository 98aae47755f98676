/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where the agent runs: on the host, or in a container (a Kubernetes pod, podman, docker),
 * and what of the host it can see from there: the host's init through the host's PID
 * namespace (its mount table and root), udevd's network namespace (udev's netlink events
 * reach only that one, rook#14844), and the node's identity. Everything is read relative to
 * a root directory fd so that tests can hand in a made-up tree. */
#pragma once

#include <stdbool.h>

typedef struct HostView {
        const char *container;  /* NULL on the host, else what gave the container away */
        /* /proc/1 lives in another mount namespace than ours: it is the host's init, seen
         * through the host's PID namespace (hostPID), or we are a service with a private
         * mount namespace. Then /proc/1/mountinfo and /proc/1/root are the host's. */
        bool pid1_is_host;
        bool pid1_is_ours;      /* /proc/1 shares our mount namespace (in a container: its own init) */
        /* 1: we share udevd's network namespace (netlink events reach us); 0: we do not;
         * -1: cannot tell (no udevd visible, namespaces unreadable). */
        int udevd_netns;
        int udevd_pid;          /* the udevd compared with, 0 when /proc/1 stood in */
} HostView;

void host_view_detect(int root_fd, HostView *ret);

typedef struct HostIdentity {
        char *node_id;
        const char *node_id_source;     /* static text for the log */
        char *hostname;
        const char *hostname_source;
} HostIdentity;

/* The node's id and hostname. On the host: /etc/machine-id, else the hostname. In a
 * container the image's /etc/machine-id is never used (an image built once would give every
 * node the same id); in order: /host/etc/machine-id (a hostPath mount), /etc/machine-id when
 * it is a mount point (bind-mounted from the host), /proc/1/root/etc/machine-id when /proc/1
 * is the host's init, $NODE_NAME (Kubernetes' downward API), the hostname. The hostname is
 * $NODE_NAME in a container that has it, else gethostname(). validate says which ids are
 * acceptable. */
int host_identity(int root_fd, const HostView *v, bool (*validate)(const char *id), HostIdentity *ret);
void host_identity_done(HostIdentity *id);
