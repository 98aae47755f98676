/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The removal of one OSD of this node, step by step, each journalled before it is taken and
 * each safe to take again: out, drain (safe-to-destroy, or the daemon's own PG count where no
 * manager runs), stop, destroy or purge, zap. A cancel before the destroy puts the OSD back. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <rados/librados.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/retry.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "discovery/devscan.h"
#include "osd-prep/crypt.h"
#include "osd-prep/fault.h"
#include "osd-prep/journal.h"
#include "osd-prep/mon.h"
#include "osd-prep/osddir.h"
#include "osd-prep/osdlist.h"
#include "osd-prep/remove.h"
#include "osd-prep/start.h"
#include "osd-prep/target.h"
#include "osd-prep/zap.h"

#define POLL_USEC_DEFAULT (5 * USEC_PER_SEC)
#define STOP_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define DOWN_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define ASOK_TIMEOUT_SEC 10
#define ASOK_MAX_REPLY (1024 * 1024)
#define SYSTEMCTL_TIMEOUT_USEC (90 * USEC_PER_SEC)

typedef struct Removal {
        const OsdContext *c;
        const RemoveRequest *req;
        RemovalEntry e;
        MonConn *mon;
        int initial_pgs;        /* the first count seen while draining; -1 none yet */
        RemoveResult *res;
} Removal;

void remove_result_done(RemoveResult *r) {
        free(r->error);
        *r = (RemoveResult) {};
}

static const char *state_dir(const Removal *m) {
        return m->c->state_dir ?: STATE_DIR_DEFAULT;
}

static void progress(Removal *m, const char *step, unsigned percent, const char *fmt, ...) _printf_(4, 5);
static void progress(Removal *m, const char *step, unsigned percent, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!m->c->progress)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        m->c->progress(step, percent, msg ?: step, m->c->userdata);
}

/* Journals m->e at step s, unless the removal was cancelled (its entry removed or marked so)
 * by someone else meanwhile: then -ECANCELED. */
static int journal(Removal *m, RemovalStep s) {
        RemovalEntry cur = { .osd_id = -1 };
        int r;

        r = removal_read(state_dir(m), m->e.osd_id, &cur);
        if (r < 0)
                return r;
        if (r == 0 || cur.step == REMOVAL_CANCELLED) {
                removal_entry_done(&cur);
                return -ECANCELED;
        }
        removal_entry_done(&cur);
        m->e.step = s;
        m->e.updated_usec = now_realtime_usec();
        return removal_write(state_dir(m), &m->e);
}

static int fail(Removal *m, int r, const char *error) {
        free(m->res->error);
        m->res->error = strdup(error ?: strerror(-r));
        if (r != -ECANCELED) {
                free(m->e.error);
                m->e.error = strdup(m->res->error ?: "failed");
                if (m->e.osd_id >= 0 && r != -ENOENT)
                        (void) journal(m, m->e.step);
        }
        return r;
}

static int mon_cmd(Removal *m, bool mgr, char **out, char **outs, char **error, const char *fmt, ...) _printf_(6, 7);
static int mon_cmd(Removal *m, bool mgr, char **out, char **outs, char **error, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return mon_command(m->mon, mgr, cmd, out, outs, error);
}

/* ---- the layout, captured before anything is done ---- */

static const char *lvm_tag(const LogicalVolume *lv, const char *key) {
        for (size_t i = 0; i < lv->n_tags; i++)
                if (streq_ptr(lv->tags[i].key, key))
                        return lv->tags[i].value;
        return NULL;
}

static const LogicalVolume *find_lv(const Device *d, const char *path) {
        if (!d || !d->lvm || !path)
                return NULL;
        for (size_t i = 0; i < d->lvm->n_lvs; i++)
                if (streq_ptr(d->lvm->lvs[i].path, path))
                        return &d->lvm->lvs[i];
        return NULL;
}

static const Device *find_stable(const DeviceList *l, const char *stable_id) {
        for (size_t i = 0; stable_id && i < l->n; i++)
                if (streq_ptr(l->items[i]->stable_id, stable_id))
                        return l->items[i];
        return NULL;
}

static int fill_volume(const DeviceList *l, const OsdEntry *o, RemovalVolume *v, RemovalEntry *e) {
        const Device *d = find_stable(l, o->stable_id);
        const LogicalVolume *lv;

        v->stable_id = strdup(o->stable_id ?: o->device);
        if (!v->stable_id)
                return -ENOMEM;
        lv = streq(o->kind, "lvm") ? find_lv(d, o->device) : NULL;
        if (lv) {
                const char *enc = lvm_tag(lv, "ceph.encrypted"), *cls = lvm_tag(lv, "ceph.crush_device_class");

                v->vg = strdup(lv->vg_name);
                v->lv = strdup(lv->name);
                if (!v->vg || !v->lv)
                        return -ENOMEM;
                v->size = lv->size;
                if (streq_ptr(enc, "1"))
                        e->encrypted = true;
                if (!isempty(cls) && !e->crush_device_class && !(e->crush_device_class = strdup(cls)))
                        return -ENOMEM;
        } else if (d)
                v->size = d->size;
        return 0;
}

static int capture_layout(Removal *m, char **error) {
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        _cleanup_(osd_list_done) OsdList l = {};
        char fsid[37] = "";
        bool found = false;
        int r;

        (void) mon_fsid(m->mon, fsid);
        r = devscan_run(&m->c->scan, &scan);
        if (r < 0) {
                error_set(error, "cannot scan this node's devices: %s", strerror(-r));
                return r;
        }
        r = osd_list_build(scan->devices, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                const OsdEntry *o = &l.items[i];
                RemovalVolume *v;

                if (o->id != m->e.osd_id || (*fsid && o->cluster_fsid && !streq(o->cluster_fsid, fsid)))
                        continue;
                v = streq_ptr(o->type, "db") ? &m->e.db : streq_ptr(o->type, "wal") ? &m->e.wal : &m->e.block;
                if (v->stable_id)
                        continue;
                r = fill_volume(scan->devices, o, v, &m->e);
                if (r < 0)
                        return r;
                if (v == &m->e.block) {
                        const Device *d = find_stable(scan->devices, o->stable_id);

                        found = true;
                        m->e.lvm = streq(o->kind, "lvm");
                        if (!m->e.osd_uuid && o->uuid && !(m->e.osd_uuid = strdup(o->uuid)))
                                return -ENOMEM;
                        STRV_FOREACH(link, d ? d->links : NULL)
                                if (startswith(*link, "/dev/disk/by-path/")) {
                                        m->e.by_path = strdup(*link);
                                        if (!m->e.by_path)
                                                return -ENOMEM;
                                        break;
                                }
                }
        }
        if (!found) {
                error_set(error, "osd.%d has no volume on this node", m->e.osd_id);
                return -ENOENT;
        }
        if (*fsid && !(m->e.cluster_fsid = strdup(fsid)))
                return -ENOMEM;
        if (!m->e.crush_device_class) {
                _cleanup_free_ char *out = NULL;

                /* Raw OSDs keep their class in the CRUSH map only. */
                if (mon_cmd(m, false, &out, NULL, NULL,
                            "{\"prefix\": \"osd crush get-device-class\", \"ids\": [\"%d\"], \"format\": \"json\"}",
                            m->e.osd_id) >= 0)
                        (void) remove_parse_device_class(out, m->e.osd_id, &m->e.crush_device_class);
        }
        return 0;
}

int remove_parse_device_class(const char *json, int osd_id, char **ret) {
        json_object *a;
        char *cls = NULL;
        size_t n;

        assert(ret);

        a = json ? json_tokener_parse(json) : NULL;
        if (!a || !json_object_is_type(a, json_type_array)) {
                json_object_put(a);
                return -EBADMSG;
        }
        n = json_object_array_length(a);
        for (size_t i = 0; i < n && !cls; i++) {
                json_object *o = json_object_array_get_idx(a, i), *v;
                const char *s = NULL;

                if (json_object_is_type(o, json_type_string))
                        s = json_object_get_string(o);  /* before Reef: ["hdd"] */
                else if (json_object_is_type(o, json_type_object) &&
                         json_object_object_get_ex(o, "device_class", &v) &&
                         json_object_is_type(v, json_type_string)) {
                        json_object *id;

                        /* Reef and later: [{"osd": 0, "device_class": "hdd"}] */
                        if (json_object_object_get_ex(o, "osd", &id) && json_object_is_type(id, json_type_int) &&
                            json_object_get_int(id) != osd_id)
                                continue;
                        s = json_object_get_string(v);
                }
                if (isempty(s))
                        continue;
                cls = strdup(s);
                if (!cls) {
                        json_object_put(a);
                        return -ENOMEM;
                }
        }
        json_object_put(a);
        if (!cls)
                return 0;
        *ret = cls;
        return 1;
}

/* ---- drain ---- */

int osd_admin_num_pgs(const CephTarget *t, int id) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = ASOK_TIMEOUT_SEC };
        static const char req[] = "{\"prefix\": \"status\"}";
        _cleanup_free_ char *reply = NULL;
        _cleanup_close_ int fd = -EBADF;
        char name[32], path[sizeof sa.sun_path];
        uint32_t len;
        size_t got = 0;
        json_object *o, *v;
        rados_t h;
        int r;

        snprintf(name, sizeof name, "osd.%d", id);
        r = rados_create2(&h, t->cluster ?: "ceph", name, 0);
        if (r < 0)
                return r;
        r = rados_conf_read_file(h, t->conf);
        if (r >= 0)
                r = rados_conf_get(h, "admin_socket", path, sizeof path);
        rados_shutdown(h);
        if (r < 0)
                return r;
        if (isempty(path))
                return -ENOENT;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        if (write(fd, req, sizeof req) != (ssize_t) sizeof req) /* with its NUL, as ceph sends it */
                return -EIO;
        while (got < sizeof len) {
                ssize_t n = read(fd, (char *) &len + got, sizeof len - got);
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                got += (size_t) n;
        }
        len = ntohl(len);
        if (len > ASOK_MAX_REPLY)
                return -EBADMSG;
        reply = malloc(len + 1);
        if (!reply)
                return -ENOMEM;
        for (got = 0; got < len;) {
                ssize_t n = read(fd, reply + got, len - got);
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                got += (size_t) n;
        }
        reply[len] = 0;
        o = json_tokener_parse(reply);
        r = o && json_object_object_get_ex(o, "num_pgs", &v) && json_object_is_type(v, json_type_int)
                    ? json_object_get_int(v) : -EBADMSG;
        json_object_put(o);
        return r;
}

static bool mgr_available(Removal *m) {
        _cleanup_free_ char *out = NULL;
        json_object *o, *v;
        bool b = false;

        if (mon_cmd(m, false, &out, NULL, NULL, "{\"prefix\": \"mgr stat\", \"format\": \"json\"}") < 0)
                return false;
        o = json_tokener_parse(out);
        b = o && json_object_object_get_ex(o, "available", &v) && json_object_get_boolean(v);
        json_object_put(o);
        return b;
}

/* 1 if the OSD can go, 0 if not yet (m->e.pgs_left updated), < 0 on error. */
static int drain_check(Removal *m, char **error) {
        int pgs = -1, r;

        if (osd_running_pid(m->e.osd_id) > 0) {
                pgs = osd_admin_num_pgs(&m->c->ceph, m->e.osd_id);
                if (pgs < 0)
                        log_debug_errno(pgs, "Cannot read osd.%d's PG count from its admin socket: %m", m->e.osd_id);
        }
        if (mgr_available(m)) {
                _cleanup_free_ char *out = NULL, *outs = NULL, *err = NULL;

                r = mon_cmd(m, true, &out, &outs, &err,
                            "{\"prefix\": \"osd safe-to-destroy\", \"ids\": [\"%d\"], \"format\": \"json\"}",
                            m->e.osd_id);
                m->e.pgs_left = pgs;
                if (r >= 0) {
                        bool safe = false;
                        json_object *o = json_tokener_parse(out), *a;

                        if (o && json_object_object_get_ex(o, "safe_to_destroy", &a) &&
                            json_object_is_type(a, json_type_array))
                                for (size_t i = 0; i < json_object_array_length(a); i++)
                                        if (json_object_get_int(json_object_array_get_idx(a, i)) == m->e.osd_id)
                                                safe = true;
                        json_object_put(o);
                        return safe || !o;
                }
                if (r == -EBUSY || r == -EAGAIN)
                        return 0;
                error_set(error, "%s", strempty(err));
                return r;
        }
        /* No manager: nobody gathers PG states, but the daemon itself knows what it still
         * holds. An out OSD deletes each PG once its new home has it whole (clean). */
        if (pgs < 0) {
                error_set(error, "cannot tell whether osd.%d is drained: no ceph-mgr runs and the daemon does not "
                          "answer on its admin socket (remove it with --force if its data is safe elsewhere)",
                          m->e.osd_id);
                return -EHOSTUNREACH;
        }
        m->e.pgs_left = pgs;
        return pgs == 0;
}

static int step_drain(Removal *m, char **error) {
        Retry t = RETRY(.timeout_usec = m->req->drain_timeout_usec ?: UINT64_MAX / 2,
                        .interval_usec = m->req->poll_usec ?: POLL_USEC_DEFAULT);
        int r, last = -2;

        for (;;) {
                r = drain_check(m, error);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                if (m->initial_pgs < 0 || m->e.pgs_left > m->initial_pgs)
                        m->initial_pgs = m->e.pgs_left;
                unsigned pct = 10;
                if (m->initial_pgs > 0 && m->e.pgs_left >= 0)
                        pct = 10 + (unsigned) (60 * (m->initial_pgs - m->e.pgs_left) / m->initial_pgs);
                if (m->e.pgs_left >= 0)
                        progress(m, "draining", pct, "osd.%d: %d PGs left", m->e.osd_id, m->e.pgs_left);
                else
                        progress(m, "draining", pct, "osd.%d: waiting until it is safe to destroy", m->e.osd_id);
                if (m->e.pgs_left != last) {
                        r = journal(m, REMOVAL_OUT);
                        if (r < 0)
                                return r;
                        last = m->e.pgs_left;
                } else {
                        /* A cancel removes the entry: notice it between two writes too. */
                        RemovalEntry cur = { .osd_id = -1 };
                        r = removal_read(state_dir(m), m->e.osd_id, &cur);
                        bool gone = r == 0 || (r > 0 && cur.step == REMOVAL_CANCELLED);
                        removal_entry_done(&cur);
                        if (gone)
                                return -ECANCELED;
                }
                fault_point("remove-drain");
                if (!retry_wait(&t)) {
                        error_set(error, "osd.%d did not drain within %llu s", m->e.osd_id,
                                  (unsigned long long) (t.timeout_usec / USEC_PER_SEC));
                        return -ETIMEDOUT;
                }
        }
        m->e.pgs_left = 0;
        return 0;
}

/* ---- stop ---- */

static bool have_systemd(void) {
        return access("/run/systemd/system", F_OK) == 0;
}

static int systemctl(const char *verb, const char *unit, bool quiet_is_active, char **error) {
        SpawnOptions so = { .timeout_usec = SYSTEMCTL_TIMEOUT_USEC, .out_max = 65536 };
        _cleanup_(spawn_result_done) SpawnResult res = {};
        char *argv[] = { (char *) "systemctl", (char *) verb, quiet_is_active ? (char *) "--quiet" : (char *) unit,
                         quiet_is_active ? (char *) unit : NULL, NULL };
        int r;

        r = spawn_capture(argv, NULL, &so, &res);
        if (r < 0)
                return r;
        if (quiet_is_active)
                return res.status == 0;
        if (res.status != 0) {
                error_set(error, "systemctl %s %s failed (exit %d): %s", verb, unit, res.status, strip_trailing(res.err));
                return -EIO;
        }
        return 0;
}

static int stop_daemon(Removal *m, char **error) {
        Retry t = RETRY(.timeout_usec = STOP_TIMEOUT_USEC, .interval_usec = 100 * USEC_PER_MSEC);
        pid_t pid;
        int r;

        if (have_systemd()) {
                static const char *const units[] = { "castle-osd", "ceph-osd" };
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        char unit[64];

                        snprintf(unit, sizeof unit, "%s@%d", units[i], m->e.osd_id);
                        if (systemctl("is-active", unit, true, NULL) > 0) {
                                r = systemctl("stop", unit, false, error);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        pid = osd_running_pid(m->e.osd_id);
        if (pid <= 0)
                return 0;
        if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
                return -errno;
        while (osd_running_pid(m->e.osd_id) > 0)
                if (!retry_wait(&t)) {
                        log_debug("osd.%d did not stop within %llu s: killing it", m->e.osd_id,
                                  (unsigned long long) (STOP_TIMEOUT_USEC / USEC_PER_SEC));
                        (void) kill(pid, SIGKILL);
                        t = RETRY(.timeout_usec = 10 * USEC_PER_SEC, .interval_usec = 100 * USEC_PER_MSEC);
                        while (osd_running_pid(m->e.osd_id) > 0)
                                if (!retry_wait(&t)) {
                                        error_set(error, "osd.%d (pid %d) does not stop", m->e.osd_id, (int) pid);
                                        return -EBUSY;
                                }
                        break;
                }
        return 0;
}

/* Closes the dm-crypt mappings the OSD directory's links point at, and unmounts the directory
 * if activation mounted it (a tmpfs, as ceph-volume makes). */
static int close_activation(Removal *m, char **error) {
        static const char *const links[] = { "block", "block.db", "block.wal" };
        _cleanup_free_ char *dir = osd_dir_path(m->c, m->e.osd_id);
        int r;

        if (!dir)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                _cleanup_free_ char *p = NULL, *target = NULL;
                char buf[PATH_MAX];
                ssize_t n;

                if (asprintf(&p, "%s/%s", dir, links[i]) < 0)
                        return -ENOMEM;
                n = readlink(p, buf, sizeof buf - 1);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                const char *name = startswith(buf, "/dev/mapper/");
                if (name && dmcrypt_is_open(name)) {
                        r = dmcrypt_close(name, error);
                        if (r < 0)
                                return r;
                }
        }
        struct stat st, parent;
        _cleanup_free_ char *up = NULL;
        if (asprintf(&up, "%s/..", dir) < 0)
                return -ENOMEM;
        if (stat(dir, &st) >= 0 && stat(up, &parent) >= 0 && st.st_dev != parent.st_dev &&
            umount2(dir, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT) {
                error_set(error, "cannot unmount %s: %s", dir, strerror(errno));
                return -errno;
        }
        return 0;
}

/* Waits until the map says the OSD is down, telling the monitors after a while (a daemon
 * killed without its goodbye is only noticed after its peers' grace). */
static int wait_down(Removal *m, char **error) {
        Retry t = RETRY(.timeout_usec = DOWN_TIMEOUT_USEC, .interval_usec = 500 * USEC_PER_MSEC);
        bool told = false;
        OsdState st;
        int r;

        for (;;) {
                r = mon_osd_state(m->mon, m->e.osd_id, &st, error);
                if (r == -ENOENT || (r >= 0 && !st.up))
                        return 0;
                if (r < 0)
                        return r;
                if (!told || !retry_wait(&t)) {
                        r = mon_cmd(m, false, NULL, NULL, error, "{\"prefix\": \"osd down\", \"ids\": [\"%d\"]}",
                                    m->e.osd_id);
                        if (r < 0)
                                return r;
                        if (told)
                                t = RETRY(.timeout_usec = DOWN_TIMEOUT_USEC, .interval_usec = 500 * USEC_PER_MSEC);
                        told = true;
                }
        }
}

/* ---- destroy or purge ---- */

static int step_destroy(Removal *m, char **error) {
        _cleanup_free_ char *dir = osd_dir_path(m->c, m->e.osd_id);
        OsdState st;
        int r;

        r = mon_osd_state(m->mon, m->e.osd_id, &st, error);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && m->e.osd_uuid && *st.uuid && !streq(st.uuid, m->e.osd_uuid) &&
            !streq(st.uuid, "00000000-0000-0000-0000-000000000000")) {
                error_set(error, "osd.%d in the osd map is another OSD now (uuid %s, not %s): left alone",
                          m->e.osd_id, st.uuid, m->e.osd_uuid);
                return -ESTALE;
        }
        if (m->e.replace) {
                if (r == -ENOENT) {
                        error_set(error, "osd.%d is gone from the osd map: its id cannot be kept", m->e.osd_id);
                        return -ENOENT;
                }
                if (!st.destroyed) {
                        r = mon_cmd(m, false, NULL, NULL, error,
                                    "{\"prefix\": \"osd destroy-actual\", \"id\": %d, \"yes_i_really_mean_it\": true}",
                                    m->e.osd_id);
                        if (r < 0)
                                return r;
                }
        } else if (r == 0) {
                r = mon_cmd(m, false, NULL, NULL, error,
                            "{\"prefix\": \"osd purge-actual\", \"id\": %d, \"yes_i_really_mean_it\": true}", m->e.osd_id);
                if (r < 0)
                        return r;
        }
        if (!dir)
                return -ENOMEM;
        r = osd_dir_remove(dir);
        if (r < 0 && r != -ENOENT) {
                error_set(error, "cannot remove %s: %s", dir, strerror(-r));
                return r;
        }
        return 0;
}

/* A finished removal with replace reserves its id, which must stay destroyed until a new disk
 * takes it. A replacement that failed after `osd new` left the id existing and not destroyed
 * (its prepare cannot destroy with the bootstrap key), and the next attempt would be refused:
 * destroy it again while it is down. An id that is up runs somewhere: left alone. */
static int reassert_destroyed(Removal *m, char **error) {
        _cleanup_strv_free_ char **prepares = NULL;
        OsdState st;
        int r;

        r = mon_osd_state(m->mon, m->e.osd_id, &st, error);
        if (r == -ENOENT) {
                error_set(error, "osd.%d is gone from the osd map: its id cannot be kept", m->e.osd_id);
                return r;
        }
        if (r < 0)
                return r;
        if (st.destroyed) {
                progress(m, "done", 100, "osd.%d is removed already; its id waits for a new disk", m->e.osd_id);
                return 0;
        }
        if (st.up) {
                error_set(error, "osd.%d is reserved for a replacement but is up (uuid %s): left alone", m->e.osd_id,
                          st.uuid);
                return -EBUSY;
        }
        r = journal_list(state_dir(m), &prepares);
        if (r < 0) {
                error_set(error, "cannot read the prepare journal: %s", strerror(-r));
                return r;
        }
        if (strv_contains(prepares, st.uuid)) {
                /* An interrupted prepare of it: running it again carries on with this id. */
                progress(m, "done", 100, "osd.%d is being prepared (interrupted prepare of osd %s): left as it is",
                         m->e.osd_id, st.uuid);
                return 0;
        }
        r = mon_cmd(m, false, NULL, NULL, error,
                    "{\"prefix\": \"osd destroy-actual\", \"id\": %d, \"yes_i_really_mean_it\": true}", m->e.osd_id);
        if (r < 0)
                return r;
        progress(m, "done", 100, "osd.%d destroyed again (a failed replacement had made it, uuid %s); its id waits "
                 "for a new disk", m->e.osd_id, st.uuid);
        return 0;
}

static int step_zap(Removal *m, char **error) {
        /* As `ceph orch osd rm --zap` (ceph-volume lvm zap --destroy --osd-id): the OSD's LVs
         * are removed, not only wiped, so that a shared DB/WAL VG gets their space back for the
         * replacement; a VG left empty goes with its PV. */
        ZapRequest zr = { .osd_id = m->e.osd_id, .osd_fsid = m->e.osd_uuid, .destroy = true };
        ZapResult *res = NULL;
        size_t n = 0;
        int r;

        /* The osd id alone could name another cluster's OSD on this node: the uuid is exact. */
        if (m->e.osd_uuid)
                zr.osd_id = -1;
        r = osd_zap(m->c, &zr, &res, &n);
        if (r < 0) {
                error_set(error, "cannot zap osd.%d's volumes: %s", m->e.osd_id, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < n; i++)
                if (res[i].error) {
                        error_set(error, "cannot zap %s: %s", res[i].device, res[i].error);
                        r = -EIO;
                        break;
                } else
                        progress(m, "zapping", 95, "zapped %s", res[i].device);
        zap_results_free(res, n);
        return r;
}

/* ---- cancel ---- */

static int do_cancel(Removal *m, char **error) {
        ActivateResult *act = NULL;
        size_t n = 0;
        int r;

        if (m->e.step >= REMOVAL_DESTROYED && m->e.step != REMOVAL_CANCELLED) {
                error_set(error, "the removal of osd.%d is past the destroy step (%s): it cannot be cancelled",
                          m->e.osd_id, removal_step_to_string(m->e.step));
                return -EBUSY;
        }
        r = mon_cmd(m, false, NULL, NULL, error, "{\"prefix\": \"osd in\", \"ids\": [\"%d\"]}", m->e.osd_id);
        if (r < 0)
                return r;
        progress(m, "cancelling", 50, "osd.%d is in again", m->e.osd_id);
        if (osd_running_pid(m->e.osd_id) <= 0) {
                r = osd_activate(m->c, m->e.osd_id, &act, &n);
                if (r < 0) {
                        error_set(error, "cannot start osd.%d again: %s", m->e.osd_id, strerror(-r));
                        return r;
                }
                for (size_t i = 0; i < n; i++)
                        if (act[i].error) {
                                error_set(error, "cannot start osd.%d again: %s", m->e.osd_id, act[i].error);
                                r = -EIO;
                        }
                if (n == 0) {
                        error_set(error, "osd.%d is in again, but it has no volume on this node to start", m->e.osd_id);
                        r = -ENOENT;
                }
                activate_results_free(act, n);
                if (r < 0)
                        return r;
                progress(m, "cancelling", 80, "osd.%d started again", m->e.osd_id);
        }
        m->e.step = REMOVAL_CANCELLED;
        m->e.updated_usec = now_realtime_usec();
        r = removal_write(state_dir(m), &m->e);
        if (r >= 0)
                r = removal_remove(state_dir(m), m->e.osd_id);
        if (r < 0)
                return r;
        progress(m, "cancelled", 100, "the removal of osd.%d is cancelled", m->e.osd_id);
        return 0;
}

/* ---- the whole removal ---- */

static int run_steps(Removal *m, char **error) {
        int r;

        if (m->e.step == REMOVAL_REQUESTED) {
                r = mon_cmd(m, false, NULL, NULL, error, "{\"prefix\": \"osd out\", \"ids\": [\"%d\"]}", m->e.osd_id);
                if (r < 0)
                        return r;
                r = journal(m, REMOVAL_OUT);
                if (r < 0)
                        return r;
                progress(m, "out", 10, "osd.%d is out", m->e.osd_id);
                fault_point("remove-out");
        }
        if (m->e.step == REMOVAL_OUT) {
                if (!m->e.force) {
                        r = step_drain(m, error);
                        if (r < 0)
                                return r;
                }
                r = journal(m, REMOVAL_DRAINED);
                if (r < 0)
                        return r;
                progress(m, "drained", 70, m->e.force ? "osd.%d: not drained (--force)" : "osd.%d is drained",
                         m->e.osd_id);
                fault_point("remove-drained");
        }
        if (m->e.step == REMOVAL_DRAINED) {
                r = stop_daemon(m, error);
                if (r >= 0)
                        r = close_activation(m, error);
                if (r >= 0)
                        r = wait_down(m, error);
                if (r < 0)
                        return r;
                r = journal(m, REMOVAL_STOPPED);
                if (r < 0)
                        return r;
                progress(m, "stopped", 80, "osd.%d is stopped", m->e.osd_id);
                fault_point("remove-stopped");
        }
        if (m->e.step == REMOVAL_STOPPED) {
                /* Started again meanwhile (a reboot, a supervisor)? Stop it once more. */
                if (osd_running_pid(m->e.osd_id) > 0) {
                        r = stop_daemon(m, error);
                        if (r >= 0)
                                r = wait_down(m, error);
                        if (r < 0)
                                return r;
                }
                r = step_destroy(m, error);
                if (r < 0)
                        return r;
                r = journal(m, REMOVAL_DESTROYED);
                if (r < 0)
                        return r;
                progress(m, "destroyed", 90, m->e.replace ? "osd.%d is destroyed; its id and CRUSH position are kept"
                                                         : "osd.%d is purged", m->e.osd_id);
                fault_point("remove-destroyed");
        }
        if (m->e.step == REMOVAL_DESTROYED) {
                if (m->e.zap) {
                        r = step_zap(m, error);
                        if (r < 0)
                                return r;
                }
                r = journal(m, m->e.zap ? REMOVAL_ZAPPED : REMOVAL_DONE);
                if (r < 0)
                        return r;
                if (m->e.zap)
                        progress(m, "zapped", 95, "osd.%d's volumes are zapped", m->e.osd_id);
                fault_point("remove-zapped");
        }
        if (m->e.step == REMOVAL_ZAPPED) {
                r = journal(m, REMOVAL_DONE);
                if (r < 0)
                        return r;
        }
        free(m->e.error);
        m->e.error = NULL;
        if (m->e.replace)
                r = journal(m, REMOVAL_DONE);
        else
                r = removal_remove(state_dir(m), m->e.osd_id);
        if (r < 0)
                return r;
        progress(m, "done", 100, m->e.replace ? "osd.%d is removed; its id waits for a new disk in %s"
                                              : "osd.%d is removed", m->e.osd_id, m->e.by_path ?: "its slot");
        return 0;
}

/* The lock one removal of this id holds while it runs. */
static int lock_removal(const Removal *m, int *ret_fd) {
        _cleanup_free_ char *dir = removal_dir(state_dir(m)), *path = NULL;
        int fd, r;

        if (!dir || asprintf(&path, "%s/.%d.lock", dir, m->req->osd_id) < 0)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR) {
                        r = -errno;
                        safe_close(fd);
                        return r;
                }
        *ret_fd = fd;
        return 0;
}

int osd_remove(const OsdContext *c, const RemoveRequest *req, RemoveResult *ret) {
        Removal m = { .c = c, .req = req, .e = { .osd_id = -1, .pgs_left = -1 }, .initial_pgs = -1, .res = ret };
        _cleanup_free_ char *error = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        *ret = (RemoveResult) {};
        if (req->osd_id < 0)
                return -EINVAL;
        if (req->out_only) {
                /* Not a removal: the OSD stays, its data moves away while it still reads. */
                m.e.osd_id = req->osd_id;
                r = mon_connect(&c->ceph, &m.mon, &error);
                if (r >= 0)
                        r = mon_cmd(&m, false, NULL, NULL, &error, "{\"prefix\": \"osd out\", \"ids\": [\"%d\"]}",
                                    req->osd_id);
                if (r < 0)
                        ret->error = error ? TAKE_PTR(error) : strdup(strerror(-r));
                else
                        progress(&m, "out", 100, "osd.%d is out", req->osd_id);
                goto out;
        }
        if (!req->cancel) {
                r = lock_removal(&m, &lock_fd);
                if (r < 0) {
                        error_set(&error, "cannot lock the removal of osd.%d: %s", req->osd_id, strerror(-r));
                        goto finish;
                }
        }
        r = removal_read(state_dir(&m), req->osd_id, &m.e);
        if (r < 0) {
                error_set(&error, "the removal journal entry of osd.%d cannot be read: %s", req->osd_id, strerror(-r));
                goto finish;
        }
        if (r > 0 && m.e.step == REMOVAL_CANCELLED) {
                /* A cancel that stopped before it removed its entry. */
                (void) removal_remove(state_dir(&m), req->osd_id);
                removal_entry_done(&m.e);
                m.e.pgs_left = -1;
                r = 0;
        }
        if (req->resume && r == 0) {
                ret->step = REMOVAL_DONE;
                progress(&m, "done", 100, "osd.%d: no removal to carry on", req->osd_id);
                goto out;
        }
        if (req->cancel && r == 0) {
                error_set(&error, "no removal of osd.%d is in progress on this node", req->osd_id);
                r = -ENOENT;
                goto finish;
        }
        if (r > 0 && m.e.step == REMOVAL_DONE && !req->cancel) {
                ret->step = REMOVAL_DONE;
                ret->resumed = true;
                if (!m.e.replace) {
                        progress(&m, "done", 100, "osd.%d is removed already", req->osd_id);
                        r = 0;
                        goto out;
                }
                r = mon_connect(&c->ceph, &m.mon, &error);
                if (r >= 0)
                        r = reassert_destroyed(&m, &error);
                if (r < 0) /* the journal entry, the reservation, stays as it was */
                        ret->error = error ? TAKE_PTR(error) : strdup(strerror(-r));
                goto out;
        }
        ret->resumed = r > 0;
        r = mon_connect(&c->ceph, &m.mon, &error);
        if (r < 0)
                goto finish;
        if (req->cancel) {
                r = do_cancel(&m, &error);
                goto finish;
        }
        if (!ret->resumed) {
                m.e.osd_id = req->osd_id;
                m.e.replace = req->replace;
                m.e.zap = req->zap;
                m.e.force = req->force;
                m.e.command_id = req->command_id;
                m.e.started_usec = m.e.updated_usec = now_realtime_usec();
                m.e.step = REMOVAL_REQUESTED;
                r = capture_layout(&m, &error);
                if (r < 0)
                        goto finish;
                r = removal_write(state_dir(&m), &m.e);
                if (r < 0) {
                        error_set(&error, "cannot write the removal journal: %s", strerror(-r));
                        goto finish;
                }
                progress(&m, "requested", 0, "removing osd.%d (%s%s%s%s)", m.e.osd_id, m.e.lvm ? "lvm" : "raw",
                         m.e.replace ? ", replace" : "", m.e.zap ? ", zap" : "", m.e.force ? ", force" : "");
                fault_point("remove-requested");
        } else {
                /* A later request may only add to what is asked: a zap, or a skipped drain. */
                m.e.zap = m.e.zap || req->zap;
                m.e.force = m.e.force || req->force;
                if (req->command_id)
                        m.e.command_id = req->command_id;
                progress(&m, removal_step_to_string(m.e.step), 0, "carrying on with the removal of osd.%d from step %s",
                         m.e.osd_id, removal_step_to_string(m.e.step));
        }
        r = run_steps(&m, &error);
finish:
        ret->step = m.e.step;
        if (r < 0)
                (void) fail(&m, r, error);
out:
        mon_disconnect(m.mon);
        removal_entry_done(&m.e);
        return r;
}
