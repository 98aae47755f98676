/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostview: container detection, which namespaces the agent shares with the host's init and
 * with udevd, and the node identity's order of sources, on made-up /proc and /etc trees. */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/hostview.h"
#include "common/fileio.h"

static char root[64];
static int root_fd = -1;

static void put(const char *path, const char *text) {
        char p[512], dir[512];
        FILE *f;

        snprintf(p, sizeof p, "%s/%s", root, path);
        snprintf(dir, sizeof dir, "%s", p);
        *strrchr(dir, '/') = 0;
        assert_int_equal(mkdir_p(dir, 0755), 0);
        f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void link_to(const char *path, const char *target) {
        char p[512], dir[512];

        snprintf(p, sizeof p, "%s/%s", root, path);
        snprintf(dir, sizeof dir, "%s", p);
        *strrchr(dir, '/') = 0;
        assert_int_equal(mkdir_p(dir, 0755), 0);
        assert_int_equal(symlink(target, p), 0);
}

static bool valid(const char *id) {
        return id && *id && !strchr(id, ' ');
}

static int setup(void **state) {
        snprintf(root, sizeof root, "/tmp/castle-hostview.XXXXXX");
        assert_non_null(mkdtemp(root));
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(root_fd >= 0);
        unsetenv("container");
        unsetenv("KUBERNETES_SERVICE_HOST");
        unsetenv("NODE_NAME");
        put("proc/self/cgroup", "0::/\n");
        put("proc/self/mountinfo", "22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw\n");
        link_to("proc/self/ns/mnt", "mnt:[4026531841]");
        link_to("proc/self/ns/net", "net:[4026531840]");
        put("proc/1/comm", "systemd\n");
        return 0;
}

static int teardown(void **state) {
        char cmd[128];

        close(root_fd);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
        unsetenv("container");
        unsetenv("KUBERNETES_SERVICE_HOST");
        unsetenv("NODE_NAME");
        return 0;
}

static void test_host(void **state) {
        HostView v;
        HostIdentity id;

        link_to("proc/1/ns/mnt", "mnt:[4026531841]");
        link_to("proc/1/ns/net", "net:[4026531840]");
        put("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        setenv("NODE_NAME", "not-used-on-a-host", 1);
        host_view_detect(root_fd, &v);
        assert_null(v.container);
        assert_false(v.pid1_is_host);
        assert_true(v.pid1_is_ours);
        assert_int_equal(v.udevd_netns, 1); /* no udevd seen: pid 1's namespace stands in */
        assert_int_equal(v.udevd_pid, 0);
        assert_int_equal(host_identity(root_fd, &v, valid, &id), 0);
        assert_string_equal(id.node_id, "0123456789abcdef0123456789abcdef");
        assert_string_equal(id.node_id_source, "/etc/machine-id");
        assert_string_equal(id.hostname_source, "the hostname");
        host_identity_done(&id);
}

/* A pod with hostPID but not hostNetwork: udevd is visible, in another network namespace. */
static void test_pod_host_pid(void **state) {
        HostView v;
        HostIdentity id;

        setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
        setenv("NODE_NAME", "node-a", 1);
        link_to("proc/1/ns/mnt", "mnt:[4026531840]");
        link_to("proc/1/ns/net", "net:[4026531992]");
        put("proc/412/comm", "systemd-udevd\n");
        link_to("proc/412/ns/net", "net:[4026531992]");
        put("etc/machine-id", "ffffffffffffffffffffffffffffffff\n"); /* the image's: never used */
        put("proc/1/root/etc/machine-id", "11111111111111111111111111111111\n");
        put("host/etc/machine-id", "22222222222222222222222222222222\n");
        host_view_detect(root_fd, &v);
        assert_string_equal(v.container, "$KUBERNETES_SERVICE_HOST");
        assert_true(v.pid1_is_host);
        assert_false(v.pid1_is_ours);
        assert_int_equal(v.udevd_netns, 0);
        assert_int_equal(v.udevd_pid, 412);
        assert_int_equal(host_identity(root_fd, &v, valid, &id), 0);
        assert_string_equal(id.node_id, "22222222222222222222222222222222");
        assert_non_null(strstr(id.node_id_source, "/host/etc/machine-id"));
        assert_string_equal(id.hostname, "node-a");
        assert_string_equal(id.hostname_source, "$NODE_NAME");
        host_identity_done(&id);

        /* Without the hostPath mount, the host's own file through /proc/1/root. */
        unlinkat(root_fd, "host/etc/machine-id", 0);
        assert_int_equal(host_identity(root_fd, &v, valid, &id), 0);
        assert_string_equal(id.node_id, "11111111111111111111111111111111");
        assert_non_null(strstr(id.node_id_source, "/proc/1/root"));
        host_identity_done(&id);
}

/* hostNetwork too: the same network namespace as udevd. */
static void test_pod_host_network(void **state) {
        HostView v;

        put("run/.containerenv", "");
        link_to("proc/1/ns/mnt", "mnt:[4026531840]");
        put("proc/412/comm", "systemd-udevd\n");
        link_to("proc/412/ns/net", "net:[4026531840]");
        host_view_detect(root_fd, &v);
        assert_string_equal(v.container, "/run/.containerenv");
        assert_int_equal(v.udevd_netns, 1);
}

/* A plain container: its own PID namespace, no udevd in sight, only the image's machine-id. */
static void test_plain_container(void **state) {
        HostView v;
        HostIdentity id;

        put(".dockerenv", "");
        link_to("proc/1/ns/mnt", "mnt:[4026531841]");
        link_to("proc/1/ns/net", "net:[4026531840]");
        put("etc/machine-id", "ffffffffffffffffffffffffffffffff\n");
        host_view_detect(root_fd, &v);
        assert_string_equal(v.container, "/.dockerenv");
        assert_true(v.pid1_is_ours);
        assert_int_equal(v.udevd_netns, -1); /* pid 1 is ours: it says nothing about udevd */
        assert_int_equal(host_identity(root_fd, &v, valid, &id), 0);
        assert_string_not_equal(id.node_id, "ffffffffffffffffffffffffffffffff");
        assert_non_null(strstr(id.node_id_source, "the hostname"));
        host_identity_done(&id);

        setenv("NODE_NAME", "node-b", 1);
        assert_int_equal(host_identity(root_fd, &v, valid, &id), 0);
        assert_string_equal(id.node_id, "node-b");
        assert_string_equal(id.node_id_source, "$NODE_NAME");
        host_identity_done(&id);

        /* The host's file bind-mounted over the image's. */
        put("proc/self/mountinfo", "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
                                   "40 22 254:1 /etc/machine-id /etc/machine-id ro - ext4 /dev/vda1 rw\n");
        assert_int_equal(host_identity(root_fd, &v, valid, &id), 0);
        assert_string_equal(id.node_id, "ffffffffffffffffffffffffffffffff");
        assert_non_null(strstr(id.node_id_source, "bind-mounted"));
        host_identity_done(&id);
}

static void test_cgroup_and_env(void **state) {
        HostView v;

        put("proc/self/cgroup", "0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-1.scope\n");
        host_view_detect(root_fd, &v);
        assert_string_equal(v.container, "/proc/self/cgroup");
        setenv("container", "podman", 1);
        host_view_detect(root_fd, &v);
        assert_string_equal(v.container, "$container");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pod_host_pid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pod_host_network, setup, teardown),
                cmocka_unit_test_setup_teardown(test_plain_container, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cgroup_and_env, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
