/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container detection, the host's namespaces as seen from the agent, and the node's
 * identity. The container checks are the ones systemd-detect-virt and the runtimes
 * themselves document: $container, /run/.containerenv (podman), /.dockerenv (docker),
 * $KUBERNETES_SERVICE_HOST (every pod), /run/systemd/container, and the cgroup path. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/hostview.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/strv.h"

#define MOUNTINFO_MAX (16 * 1024 * 1024)
#define PROC_SCAN_MAX 65536

static bool exists_at(int root_fd, const char *path) {
        return faccessat(root_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static const char *detect_container(int root_fd) {
        static const char *const cgroup_hints[] = { "kubepods", "docker", "containerd", "libpod", "crio" };
        _cleanup_free_ char *cgroup = NULL;
        const char *e = getenv("container");

        if (!isempty(e))
                return "$container";
        if (exists_at(root_fd, "run/.containerenv"))
                return "/run/.containerenv";
        if (exists_at(root_fd, ".dockerenv"))
                return "/.dockerenv";
        if (!isempty(getenv("KUBERNETES_SERVICE_HOST")))
                return "$KUBERNETES_SERVICE_HOST";
        if (exists_at(root_fd, "run/systemd/container"))
                return "/run/systemd/container";
        if (read_full_file_at(root_fd, "proc/self/cgroup", 1024 * 1024, &cgroup, NULL) >= 0)
                for (size_t i = 0; i < ELEMENTSOF(cgroup_hints); i++)
                        if (strstr(cgroup, cgroup_hints[i]))
                                return "/proc/self/cgroup";
        return NULL;
}

/* 1: same namespace, 0: different, -1: cannot tell. */
static int same_ns(int root_fd, const char *a, const char *b) {
        char x[64], y[64];
        ssize_t n, m;

        n = readlinkat(root_fd, a, x, sizeof x - 1);
        m = readlinkat(root_fd, b, y, sizeof y - 1);
        if (n <= 0 || m <= 0)
                return -1;
        x[n] = y[m] = 0;
        return streq(x, y);
}

/* The udevd whose network namespace counts: the one that broadcasts the events. */
static int find_udevd(int root_fd) {
        _cleanup_strv_free_ char **pids = NULL;
        size_t scanned = 0;

        if (list_dir_at(root_fd, "proc", &pids) < 0)
                return 0;
        STRV_FOREACH(p, pids) {
                _cleanup_free_ char *comm = NULL;
                char path[PATH_MAX];
                int pid;

                if (++scanned > PROC_SCAN_MAX)
                        break;
                if (safe_atoi(*p, &pid) < 0 || pid <= 0 || pid == getpid())
                        continue;
                snprintf(path, sizeof path, "proc/%d/comm", pid);
                if (read_one_line_at(root_fd, path, &comm) < 0)
                        continue;
                if (streq(comm, "systemd-udevd") || streq(comm, "udevd"))
                        return pid;
        }
        return 0;
}

void host_view_detect(int root_fd, HostView *ret) {
        HostView v = { .udevd_netns = -1 };
        int pid, r;

        v.container = detect_container(root_fd);
        r = same_ns(root_fd, "proc/self/ns/mnt", "proc/1/ns/mnt");
        v.pid1_is_host = r == 0;
        v.pid1_is_ours = r == 1;
        /* In a container that is its own PID namespace and not udevd's, /proc/1 is our own
         * init; without hostPID no udevd is visible and only "cannot tell" is honest. */
        pid = find_udevd(root_fd);
        if (pid > 0) {
                char path[64];

                snprintf(path, sizeof path, "proc/%d/ns/net", pid);
                v.udevd_netns = same_ns(root_fd, "proc/self/ns/net", path);
                if (v.udevd_netns >= 0)
                        v.udevd_pid = pid;
        }
        if (v.udevd_netns < 0 && (!v.container || v.pid1_is_host))
                v.udevd_netns = same_ns(root_fd, "proc/self/ns/net", "proc/1/ns/net");
        *ret = v;
}

/* Is path a mount point in our own mount table (a file bind-mounted into the container)? */
static bool is_mount_point(int root_fd, const char *path) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;

        if (read_full_file_at(root_fd, "proc/self/mountinfo", MOUNTINFO_MAX, &text, NULL) < 0)
                return false;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *s2 = NULL, *tok = strtok_r(line, " ", &s2);
                for (int i = 1; tok && i < 5; i++)
                        tok = strtok_r(NULL, " ", &s2);
                if (tok && streq(tok, path))
                        return true;
        }
        return false;
}

static char *read_id(int root_fd, const char *path, bool (*validate)(const char *id)) {
        char *id = NULL;

        if (read_one_line_at(root_fd, path, &id) >= 0 && validate(id))
                return id;
        free(id);
        return NULL;
}

int host_identity(int root_fd, const HostView *v, bool (*validate)(const char *id), HostIdentity *ret) {
        HostIdentity id = {};
        const char *node_name = getenv("NODE_NAME");
        char host[256] = "";

        if (v->container && !isempty(node_name) && validate(node_name)) {
                id.hostname = strdup(node_name);
                id.hostname_source = "$NODE_NAME";
        } else {
                (void) gethostname(host, sizeof host - 1);
                id.hostname = strdup(host);
                id.hostname_source = "the hostname";
        }
        if (!id.hostname)
                return -ENOMEM;

        if (!v->container) {
                id.node_id = read_id(root_fd, "etc/machine-id", validate);
                id.node_id_source = "/etc/machine-id";
        } else {
                static const struct {
                        const char *path, *source;
                } ids[] = {
                        { "host/etc/machine-id", "/host/etc/machine-id, the host's, mounted in" },
                        { "etc/machine-id", "/etc/machine-id, bind-mounted from the host" },
                        { "proc/1/root/etc/machine-id", "/proc/1/root/etc/machine-id, the host's, through the host PID namespace" },
                };
                for (size_t i = 0; !id.node_id && i < ELEMENTSOF(ids); i++) {
                        if (i == 1 && !is_mount_point(root_fd, "/etc/machine-id"))
                                continue;
                        if (i == 2 && !v->pid1_is_host)
                                continue;
                        id.node_id = read_id(root_fd, ids[i].path, validate);
                        id.node_id_source = ids[i].source;
                }
                if (!id.node_id && !isempty(node_name) && validate(node_name)) {
                        id.node_id = strdup(node_name);
                        id.node_id_source = "$NODE_NAME";
                        if (!id.node_id) {
                                host_identity_done(&id);
                                return -ENOMEM;
                        }
                }
        }
        if (!id.node_id) {
                id.node_id = strdup(id.hostname);
                id.node_id_source = v->container ? "the hostname; no host machine-id is visible in this container"
                                                 : "the hostname";
                if (!id.node_id) {
                        host_identity_done(&id);
                        return -ENOMEM;
                }
        }
        *ret = id;
        return 0;
}

void host_identity_done(HostIdentity *id) {
        id->node_id = mfree(id->node_id);
        id->hostname = mfree(id->hostname);
}
