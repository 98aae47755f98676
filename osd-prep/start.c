/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/retry.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "osd-prep/osddir.h"
#include "osd-prep/start.h"

#define START_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define UP_TIMEOUT_USEC (120 * USEC_PER_SEC)
#define UP_POLL_USEC (200 * USEC_PER_MSEC)
#define IDLE_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define IDLE_POLL_USEC (50 * USEC_PER_MSEC)
/* ceph-osd opens its device exclusively and gives up at once if udevd (which probes a device
 * after a writer closes it) or a castle scan holds it at that moment; a little later it works. */
#define CEPH_OSD_BUSY_TRIES 5
#define CEPH_OSD_BUSY_WAIT_USEC (500 * USEC_PER_MSEC)

static const char *const start_modes[] = { START_MODE_PREPARE_NAMES, [START_EXEC] = "exec" };
_Static_assert(ELEMENTSOF(start_modes) == _START_MODE_MAX, "a start mode without a name");

const char *start_mode_to_string(StartMode m) {
        return m < _START_MODE_MAX ? start_modes[m] : "unknown";
}

int start_mode_from_string(const char *s) {
        for (StartMode m = 0; m < _START_MODE_MAX; m++)
                if (streq_ptr(s, start_modes[m]))
                        return (int) m;
        return -EINVAL;
}

/* "-i 3", "--id 3", "--id=3", "-i3" in a ceph-osd command line */
static int cmdline_osd_id(char **argv) {
        for (size_t i = 0; argv[i]; i++) {
                const char *v = NULL;
                int id;

                if ((streq(argv[i], "-i") || streq(argv[i], "--id")) && argv[i + 1])
                        v = argv[i + 1];
                else if (strncmp(argv[i], "--id=", 5) == 0)
                        v = argv[i] + 5;
                else if (strncmp(argv[i], "-i", 2) == 0 && isdigit((unsigned char) argv[i][2]))
                        v = argv[i] + 2;
                if (v && safe_atoi(v, &id) >= 0)
                        return id;
        }
        return -1;
}

pid_t osd_running_pid(int id) {
        _cleanup_strv_free_ char **pids = NULL;

        if (list_dir_at(AT_FDCWD, "/proc", &pids) < 0)
                return 0;
        STRV_FOREACH(p, pids) {
                _cleanup_free_ char *path = NULL, *cmd = NULL, *comm = NULL;
                _cleanup_strv_free_ char **argv = NULL;
                size_t n;
                int pid;

                if (!isdigit((unsigned char) (*p)[0]) || safe_atoi(*p, &pid) < 0)
                        continue;
                if (asprintf(&path, "/proc/%s/comm", *p) < 0)
                        return 0;
                if (read_one_line_at(AT_FDCWD, path, &comm) < 0 || !streq(comm, "ceph-osd"))
                        continue;
                free(path);
                if (asprintf(&path, "/proc/%s/cmdline", *p) < 0)
                        return 0;
                if (read_full_file_at(AT_FDCWD, path, 65536, &cmd, &n) < 0)
                        continue;
                for (size_t off = 0; off < n; off += strlen(cmd + off) + 1)
                        if (strv_extend(&argv, cmd + off) < 0)
                                return 0;
                if (argv && cmdline_osd_id(argv) == id)
                        return pid;
        }
        return 0;
}

/* Whether the unit file is installed where systemd's packages put units. */
static bool unit_installed(const char *name) {
        static const char *const dirs[] = { "/etc/systemd/system", "/usr/local/lib/systemd/system",
                                            "/lib/systemd/system", "/usr/lib/systemd/system" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", dirs[i], name) < 0)
                        return false;
                if (access(p, F_OK) == 0)
                        return true;
        }
        return false;
}

const char *osd_unit_template(void) {
        if (unit_installed("ceph-osd@.service"))
                return "ceph-osd";
        if (unit_installed("castle-osd@.service"))
                return "castle-osd";
        return NULL;
}

StartMode osd_start_mode_resolve(const OsdContext *c) {
        if (c->start != START_AUTO)
                return c->start;
        /* The units only know the default data directory. */
        if (access("/run/systemd/system", F_OK) == 0 && !c->osd_root && osd_unit_template())
                return START_SYSTEMD;
        return START_FORK;
}

int osd_ceph_argv(const OsdContext *c, int id, const char *dir, const char *const *extra, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;
        char ids[16];
        uid_t uid;
        gid_t gid;
        int r;

        snprintf(ids, sizeof ids, "%d", id);
        r = strv_extend(&argv, "ceph-osd");
        if (r >= 0 && c->ceph.conf)
                r = strv_extend(&argv, "-c") < 0 ? -ENOMEM : strv_extend(&argv, c->ceph.conf);
        const char *common[] = { "--cluster", osd_ctx_cluster(c), "-i", ids, "--osd-data", dir };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(common); i++)
                r = strv_extend(&argv, common[i]);
        for (size_t i = 0; r >= 0 && extra && extra[i]; i++)
                r = strv_extend(&argv, extra[i]);
        osd_owner(&uid, &gid);
        if (r >= 0 && uid != (uid_t) -1) {
                const char *user[] = { "--setuser", "ceph", "--setgroup", "ceph" };
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(user); i++)
                        r = strv_extend(&argv, user[i]);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(argv);
        return 0;
}

int osd_ceph_run(char *const *argv, const SpawnOptions *o, const char *device, SpawnResult *ret) {
        Retry t = RETRY(.attempts = CEPH_OSD_BUSY_TRIES, .interval_usec = CEPH_OSD_BUSY_WAIT_USEC);
        int r;

        for (;;) {
                SpawnResult res = {};

                r = spawn_capture(argv, NULL, o, &res);
                if (r < 0)
                        return r;
                if (res.status == 0 || !osd_error_busy(res.err) || !retry_wait(&t)) {
                        *ret = res;
                        return 0;
                }
                log_debug("%s found %s busy, trying again", argv[0], device);
                spawn_result_done(&res);
        }
}

/* systemctl start */
static int run(char **argv, const char *what, char **error) {
        SpawnOptions so = { .timeout_usec = START_TIMEOUT_USEC, .out_max = 65536 };
        _cleanup_(spawn_result_done) SpawnResult res = {};
        int r;

        r = spawn_capture(argv, NULL, &so, &res);
        if (r < 0) {
                error_set(error, "%s: %s", what, r == -ENOENT ? "not installed" : strerror(-r));
                return r;
        }
        if (res.status != 0) {
                error_set(error, "%s failed (exit %d): %s", what, res.status, strip_trailing(res.err));
                return -EIO;
        }
        return 0;
}

int osd_start(const OsdContext *c, int id, const char *dir, char **error) {
        SpawnOptions so = { .timeout_usec = START_TIMEOUT_USEC, .out_max = 65536 };
        _cleanup_(spawn_result_done) SpawnResult res = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *keyring = NULL, *unit = NULL, *device = NULL;
        StartMode m = osd_start_mode_resolve(c);
        int r = 0;

        if (m == START_NONE)
                return 0;
        if (m == START_SYSTEMD) {
                if (asprintf(&unit, "%s@%d", osd_unit_template() ?: "ceph-osd", id) < 0)
                        return -ENOMEM;
                char *sys[] = { (char *) "systemctl", (char *) "start", unit, NULL };
                return run(sys, unit, error);
        }
        if (asprintf(&keyring, "%s/keyring", dir) < 0)
                return -ENOMEM;
        const char *extra[] = { "--keyring", keyring, m == START_EXEC ? "-f" : NULL, NULL };
        r = osd_ceph_argv(c, id, dir, extra, &argv);
        if (r < 0)
                return r;
        if (m == START_EXEC) {
                execvp(argv[0], argv);
                r = -errno;
                error_set(error, "cannot run ceph-osd: %s", strerror(-r));
                return r;
        }
        if (asprintf(&device, "the device of osd.%d", id) < 0)
                return -ENOMEM;
        r = osd_ceph_run(argv, &so, device, &res);
        if (r < 0) {
                error_set(error, "ceph-osd: %s", r == -ENOENT ? "not installed" : strerror(-r));
                return r;
        }
        if (res.status != 0) {
                error_set(error, "ceph-osd failed (exit %d): %s", res.status, strip_trailing(res.err));
                return -EIO;
        }
        return 0;
}

bool osd_error_busy(const char *err) {
        return err && (strstr(err, "(11) Resource temporarily unavailable") || strstr(err, "(16) Device or resource busy"));
}

void osd_wait_device_idle(const char *node) {
        Retry t = RETRY(.timeout_usec = IDLE_TIMEOUT_USEC, .interval_usec = IDLE_POLL_USEC);
        _cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

        if (fd < 0)
                return;
        while (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK && retry_wait(&t))
                ;
        (void) flock(fd, LOCK_UN);
}

int osd_wait_up(const OsdContext *c, MonConn *mon, int id, char **error) {
        Retry t = RETRY(.timeout_usec = c->up_timeout_usec ?: UP_TIMEOUT_USEC,
                        .interval_usec = UP_POLL_USEC);
        unsigned gone = 0;
        OsdState st;
        int r;

        for (;;) {
                /* A daemon that died (its device was busy, a bad key) will never be up. */
                gone = osd_running_pid(id) > 0 ? 0 : gone + 1;
                if (gone >= 5 && osd_start_mode_resolve(c) == START_FORK) {
                        error_set(error, "ceph-osd for osd.%d exited before it was up (see its log)", id);
                        return -ESRCH;
                }
                r = mon_osd_state(mon, id, &st, error);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r == 0 && st.up)
                        return 0;
                if (!retry_wait(&t)) {
                        error_set(error, "osd.%d did not come up within %llu s (see its log)", id,
                                  (unsigned long long) (t.timeout_usec / USEC_PER_SEC));
                        return -ETIMEDOUT;
                }
        }
}
