/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OSD daemons' states, for the heartbeat: a tick every few seconds on the agent's loop
 * reads the last scan's report (no LVM or disk access), one pass over /proc for the ceph-osd
 * processes, and, where systemd runs the host, one `systemctl show` for every OSD's two
 * possible units (castle-osd@ID, ceph-osd@ID) under a short deadline. A unit's last exit is
 * seen while it waits to restart (RestartSec) and kept here, since systemd forgets it when
 * the daemon starts again. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/osdwatch.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/strv.h"

/* systemctl show answers in milliseconds; a systemd that does not is not worth stalling the
 * loop (heartbeats) for longer. */
#define SYSTEMCTL_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define SYSTEMCTL_OUT_MAX (256 * 1024)
/* OSDs one node may list: more than any node holds (the coordinator's bound too). */
#define OSD_WATCH_MAX 4096

/* What is remembered of one OSD from tick to tick. */
typedef struct Tracked {
        int32_t id;
        char state[24];
        char last_exit[48];
        char supervisor[48];
        uint32_t restarts;
        int64_t since;
        uint32_t window_base;   /* NRestarts when the crash-loop window started */
        int64_t window_start;
        bool seen;              /* in this tick's list */
} Tracked;

struct OsdWatch {
        OsdWatchOptions o;
        Tracked *tracked;
        size_t n_tracked;
        Castle__OsdState *states;       /* the last tick's list */
        Castle__OsdState **ptrs;
        size_t n_states;
};

int osd_watch_new(const OsdWatchOptions *o, OsdWatch **ret) {
        OsdWatch *w = calloc(1, sizeof *w);

        if (!w)
                return -ENOMEM;
        w->o = *o;
        *ret = w;
        return 0;
}

/* The string fields of an OsdState the watch owns (heap copies, or NULL). */
#define OWNED_FIELDS(s) \
        &(s)->osd_uuid, &(s)->kind, &(s)->device, &(s)->path, &(s)->db_device, &(s)->wal_device, \
                &(s)->state, &(s)->supervisor, &(s)->last_exit, &(s)->cluster_fsid

static void state_free_fields(Castle__OsdState *s) {
        char **f[] = { OWNED_FIELDS(s) };

        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                *f[i] = mfree(*f[i]);
}

/* Copies of the strings that pointed into the report (which the next scan frees); the
 * daemon's fields start NULL. -ENOMEM leaves NULLs. */
static int state_own_fields(Castle__OsdState *s) {
        char **f[] = { OWNED_FIELDS(s) };
        int r = 0;

        s->state = s->supervisor = s->last_exit = NULL;
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                if (*f[i]) {
                        *f[i] = strdup(*f[i]);
                        if (!*f[i])
                                r = -ENOMEM;
                }
        return r;
}

static void states_clear(OsdWatch *w) {
        for (size_t i = 0; i < w->n_states; i++)
                state_free_fields(&w->states[i]);
        w->states = mfree(w->states);
        w->ptrs = mfree(w->ptrs);
        w->n_states = 0;
}

OsdWatch *osd_watch_free(OsdWatch *w) {
        if (!w)
                return NULL;
        states_clear(w);
        free(w->tracked);
        free(w);
        return NULL;
}

size_t osd_watch_states(const OsdWatch *w, Castle__OsdState *const **ret) {
        *ret = w->ptrs;
        return w->n_states;
}

/* ---- systemctl show ---- */

int osd_watch_parse_show(const char *out, const char *unit, OsdUnitState *ret) {
        _cleanup_free_ char *copy = strdup(strempty(out));
        OsdUnitState s = {};
        bool match = false;
        char *p, *nl;

        if (!copy)
                return -ENOMEM;
        /* one more round at the end: the last block has no empty line after it */
        for (p = copy;; p = nl + 1) {
                char *v;
                uint64_t u;
                int k;

                nl = strchr(p, '\n');
                if (nl)
                        *nl = 0;
                if (isempty(p)) {
                        if (match) {
                                *ret = s;
                                return 0;
                        }
                        s = (OsdUnitState) {};
                } else if ((v = strchr(p, '='))) {
                        *v++ = 0;
                        if (streq(p, "Id"))
                                match = streq(v, unit);
                        else if (streq(p, "ActiveState"))
                                snprintf(s.active, sizeof s.active, "%s", v);
                        else if (streq(p, "SubState"))
                                snprintf(s.sub, sizeof s.sub, "%s", v);
                        else if (streq(p, "LoadState"))
                                s.loaded = streq(v, "loaded");
                        else if (streq(p, "NRestarts") && safe_atou64(v, &u) >= 0)
                                s.restarts = (uint32_t) MIN(u, (uint64_t) UINT32_MAX);
                        else if (streq(p, "ExecMainCode") && safe_atoi(v, &k) >= 0)
                                s.exec_code = k;
                        else if (streq(p, "ExecMainStatus") && safe_atoi(v, &k) >= 0)
                                s.exec_status = k;
                }
                if (!nl)
                        break;
        }
        if (match) {
                *ret = s;
                return 0;
        }
        return -ENOENT;
}

const char *osd_watch_exit_text(int exec_code, int exec_status, char *buf, size_t n) {
        const char *sig = sigabbrev_np(exec_status);

        switch (exec_code) {
        case 1: /* CLD_EXITED */
                snprintf(buf, n, "exit status %d", exec_status);
                break;
        case 2: /* CLD_KILLED */
                if (sig)
                        snprintf(buf, n, "killed by SIG%s", sig);
                else
                        snprintf(buf, n, "killed by signal %d", exec_status);
                break;
        case 3: /* CLD_DUMPED */
                if (sig)
                        snprintf(buf, n, "dumped core (SIG%s)", sig);
                else
                        snprintf(buf, n, "dumped core (signal %d)", exec_status);
                break;
        default:
                snprintf(buf, n, "%s", "");
        }
        return buf;
}

/* `systemctl show` for both units of every OSD, in one run: NULL when systemd is not asked or
 * did not answer (then only the processes count). */
static char *systemctl_show(const OsdWatch *w, const Castle__OsdState *v, size_t n) {
        SpawnOptions so = { .timeout_usec = SYSTEMCTL_TIMEOUT_USEC, .out_max = SYSTEMCTL_OUT_MAX };
        _cleanup_(spawn_result_done) SpawnResult res = {};
        _cleanup_strv_free_ char **argv = NULL;
        int r;

        if (!w->o.systemd || n == 0)
                return NULL;
        r = strv_extend(&argv, w->o.systemctl ?: "systemctl");
        if (r >= 0)
                r = strv_extend(&argv, "show");
        if (r >= 0)
                r = strv_extend(&argv, "--property=Id,LoadState,ActiveState,SubState,NRestarts,ExecMainCode,ExecMainStatus");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char unit[64];

                snprintf(unit, sizeof unit, "castle-osd@%" PRId32 ".service", v[i].osd_id);
                r = strv_extend(&argv, unit);
                snprintf(unit, sizeof unit, "ceph-osd@%" PRId32 ".service", v[i].osd_id);
                if (r >= 0)
                        r = strv_extend(&argv, unit);
        }
        if (r < 0)
                return NULL;
        r = spawn_capture(argv, NULL, &so, &res);
        if (r < 0 || res.status != 0) {
                log_debug("systemctl show: %s", r < 0 ? strerror(-r) : strempty(res.err));
                return NULL;
        }
        return TAKE_PTR(res.out);
}

/* ---- /proc ---- */

/* "-i 3", "--id 3", "--id=3", "-i3" in a ceph-osd command line (NUL-separated, n bytes) */
static int cmdline_osd_id(const char *cmd, size_t n) {
        for (size_t off = 0; off < n; off += strlen(cmd + off) + 1) {
                const char *a = cmd + off, *next = off + strlen(a) + 1 < n ? cmd + off + strlen(a) + 1 : NULL;
                const char *v = NULL;
                int id;

                if ((streq(a, "-i") || streq(a, "--id")) && next)
                        v = next;
                else if (strncmp(a, "--id=", 5) == 0)
                        v = a + 5;
                else if (strncmp(a, "-i", 2) == 0 && isdigit((unsigned char) a[2]))
                        v = a + 2;
                if (v && safe_atoi(v, &id) >= 0)
                        return id;
        }
        return -1;
}

typedef struct OsdPid {
        int32_t id;
        pid_t pid;
} OsdPid;

/* Every ceph-osd process and its OSD id, in one pass. */
static int osd_pids(const char *proc, OsdPid **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **pids = NULL;
        OsdPid *v = NULL;
        size_t n = 0;
        int r;

        r = list_dir_at(AT_FDCWD, proc, &pids);
        if (r < 0)
                return r;
        STRV_FOREACH(p, pids) {
                _cleanup_free_ char *path = NULL, *comm = NULL, *cmd = NULL;
                size_t size;
                int pid, id;
                OsdPid *g;

                if (!isdigit((unsigned char) (*p)[0]) || safe_atoi(*p, &pid) < 0)
                        continue;
                if (asprintf(&path, "%s/%s/comm", proc, *p) < 0)
                        goto oom;
                if (read_one_line_at(AT_FDCWD, path, &comm) < 0 || !streq(comm, "ceph-osd"))
                        continue;
                free(path);
                if (asprintf(&path, "%s/%s/cmdline", proc, *p) < 0)
                        goto oom;
                if (read_full_file_at(AT_FDCWD, path, 65536, &cmd, &size) < 0)
                        continue;
                id = cmdline_osd_id(cmd, size);
                if (id < 0)
                        continue;
                g = realloc(v, (n + 1) * sizeof *v);
                if (!g)
                        goto oom;
                v = g;
                v[n++] = (OsdPid) { .id = id, .pid = pid };
        }
        *ret = v;
        *ret_n = n;
        return 0;
oom:
        free(v);
        return -ENOMEM;
}

static pid_t pid_of(const OsdPid *v, size_t n, int32_t id) {
        for (size_t i = 0; i < n; i++)
                if (v[i].id == id)
                        return v[i].pid;
        return 0;
}

/* ---- the OSDs of the report ---- */

static const char *lv_tag(const Castle__Device *d, const char *lv_path, const char *key) {
        if (!d->lvm || isempty(lv_path))
                return NULL;
        for (size_t i = 0; i < d->lvm->n_lvs; i++) {
                const Castle__LogicalVolume *lv = d->lvm->lvs[i];

                if (!streq_ptr(lv->path, lv_path))
                        continue;
                for (size_t t = 0; t < lv->n_tags; t++)
                        if (streq_ptr(lv->tags[t]->key, key))
                                return lv->tags[t]->value;
        }
        return NULL;
}

static Castle__OsdState *find_state(Castle__OsdState *v, size_t n, int32_t id) {
        for (size_t i = 0; i < n; i++)
                if (v[i].osd_id == id)
                        return &v[i];
        return NULL;
}

/* One entry per OSD id: the block volume's device (an LV's PV disk for LVM: the disk whose
 * health counts; a raw OSD's device), its db and wal devices. The LV's own device, which
 * carries a BlueStore label too, does not make it a second OSD, nor a raw one. Strings point
 * into r. */
static int osds_of(const Report *r, Castle__OsdState **ret, size_t *ret_n) {
        Castle__OsdState *v = NULL;
        size_t n = 0;

        for (size_t i = 0; r && i < r->n; i++) {
                const Castle__Device *d = r->entries[i].msg;

                for (size_t k = 0; k < d->n_ceph; k++) {
                        const Castle__CephFacts *f = d->ceph[k];
                        bool lvm = streq_ptr(f->source, "lvm-tags");
                        Castle__OsdState *s;

                        if (f->osd_id < 0)
                                continue;
                        s = find_state(v, n, f->osd_id);
                        if (!s) {
                                if (n >= OSD_WATCH_MAX)
                                        continue;
                                s = realloc(v, (n + 1) * sizeof *v);
                                if (!s) {
                                        free(v);
                                        return -ENOMEM;
                                }
                                v = s;
                                s = &v[n++];
                                castle__osd_state__init(s);
                                s->osd_id = f->osd_id;
                        }
                        if (streq_ptr(f->type, "db"))
                                s->db_device = d->stable_id;
                        else if (streq_ptr(f->type, "wal"))
                                s->wal_device = d->stable_id;
                        else if (lvm || isempty(s->kind)) {
                                /* block (an LVM OSD's tags win over its LV's label) */
                                if (streq_ptr(s->kind, "lvm") && !lvm)
                                        continue;
                                s->kind = lvm ? (char *) "lvm" : (char *) "raw";
                                s->osd_uuid = f->osd_uuid;
                                s->cluster_fsid = f->cluster_fsid;
                                s->device = d->stable_id;
                                s->path = lvm && !isempty(f->lv_path) ? f->lv_path : d->path;
                                s->encrypted = lvm && streq_ptr(lv_tag(d, f->lv_path, "ceph.encrypted"), "1");
                        }
                }
        }
        /* an OSD whose block volume is not here (only its db was seen) is not this node's to run */
        for (size_t i = 0; i < n;)
                if (isempty(v[i].kind))
                        v[i] = v[--n];
                else
                        i++;
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- the states ---- */

static Tracked *tracked_get(OsdWatch *w, int32_t id, int64_t now) {
        Tracked *t;

        for (size_t i = 0; i < w->n_tracked; i++)
                if (w->tracked[i].id == id)
                        return &w->tracked[i];
        t = realloc(w->tracked, (w->n_tracked + 1) * sizeof *t);
        if (!t)
                return NULL;
        w->tracked = t;
        t = &w->tracked[w->n_tracked++];
        *t = (Tracked) { .id = id, .since = now, .window_start = now };
        return t;
}

/* The daemon's state from its process and its unit (us: NULL when systemd said nothing of
 * either unit; unit_unknown: systemd was asked but did not answer in time, so a unit-supervised
 * OSD keeps the state it had rather than look stopped while systemd restarts it). */
static void decide(Tracked *t, const char *unit, const OsdUnitState *us, bool unit_unknown, pid_t pid, int64_t now,
                   Castle__OsdState *s) {
        const char *state;
        char exit_text[48];

        if (us) {
                /* NRestarts counts since the unit was last started by hand: a new count is a
                 * new window. */
                if (us->restarts < t->window_base || now - t->window_start > (int64_t) OSD_WATCH_LOOP_WINDOW_USEC) {
                        t->window_base = us->restarts;
                        t->window_start = now;
                }
                osd_watch_exit_text(us->exec_code, us->exec_status, exit_text, sizeof exit_text);
                if (!isempty(exit_text))
                        snprintf(t->last_exit, sizeof t->last_exit, "%s", exit_text);
                t->restarts = us->restarts;
                if (streq(us->active, "failed"))
                        state = "failed";
                else if (streq(us->sub, "auto-restart") ||
                         us->restarts - t->window_base >= OSD_WATCH_LOOP_RESTARTS)
                        state = "crash-looping";
                else if (streq(us->active, "active") || streq(us->active, "activating"))
                        /* castlectl osd run activating the OSD, before it becomes ceph-osd */
                        state = pid > 0 ? "running" : "starting";
                else
                        state = "stopped";
                snprintf(t->supervisor, sizeof t->supervisor, "%s", unit);
        } else if (unit_unknown && (startswith(t->supervisor, "castle-osd@") || startswith(t->supervisor, "ceph-osd@")))
                state = isempty(t->state) ? "unknown" : t->state;
        else {
                state = pid > 0 ? "running" : "stopped";
                snprintf(t->supervisor, sizeof t->supervisor, "%s", pid > 0 ? "process" : "");
        }
        if (!streq(t->state, state)) {
                if (!isempty(t->state) || !streq(state, "running")) {
                        if (!isempty(t->last_exit) && !streq(state, "running"))
                                log_info("osd.%" PRId32 ": %s -> %s (%s, %" PRIu32 " restarts)", t->id,
                                         isempty(t->state) ? "unknown" : t->state, state, t->last_exit, t->restarts);
                        else
                                log_info("osd.%" PRId32 ": %s -> %s", t->id, isempty(t->state) ? "unknown" : t->state,
                                         state);
                }
                snprintf(t->state, sizeof t->state, "%s", state);
                t->since = now;
        }
        s->state = strdup(t->state);
        s->supervisor = strdup(t->supervisor);
        s->last_exit = strdup(t->last_exit);
        s->restarts = t->restarts;
        s->state_since_usec = t->since;
        s->pid = (int32_t) pid;
}

/* The unit that speaks for the OSD: the loaded one that is not inactive (castle's first); none
 * when neither is (a stopped unit says no more than the absent process). */
static const char *pick_unit(const char *show, int32_t id, OsdUnitState *ret) {
        static char name[2][24];
        OsdUnitState st[2];
        bool have[2];

        if (!show)
                return NULL;
        snprintf(name[0], sizeof name[0], "castle-osd@%" PRId32, id);
        snprintf(name[1], sizeof name[1], "ceph-osd@%" PRId32, id);
        for (int i = 0; i < 2; i++) {
                char unit[64];

                snprintf(unit, sizeof unit, "%s.service", name[i]);
                have[i] = osd_watch_parse_show(show, unit, &st[i]) >= 0 && st[i].loaded;
        }
        for (int i = 0; i < 2; i++)
                if (have[i] && !streq(st[i].active, "inactive")) {
                        *ret = st[i];
                        return name[i];
                }
        return NULL;
}

int osd_watch_tick(OsdWatch *w, const Report *r, int64_t now, OsdReport *out) {
        _cleanup_free_ OsdPid *pids = NULL;
        _cleanup_free_ char *show = NULL;
        Castle__OsdState *v = NULL;
        size_t n = 0, n_pids = 0;
        int k;

        k = osds_of(r, &v, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++)
                if (state_own_fields(&v[i]) < 0)
                        k = -ENOMEM;
        /* From here v is the watch's, freed with the next list. */
        states_clear(w);
        w->states = v;
        w->n_states = n;
        w->ptrs = calloc(MAX(n, (size_t) 1), sizeof *w->ptrs);
        if (!w->ptrs || k < 0) {
                states_clear(w);
                return -ENOMEM;
        }
        if (osd_pids(w->o.proc ?: "/proc", &pids, &n_pids) < 0)
                n_pids = 0; /* no /proc: every daemon looks stopped, and says so */
        show = systemctl_show(w, v, n);
        for (size_t i = 0; i < w->n_tracked; i++)
                w->tracked[i].seen = false;
        for (size_t i = 0; i < n; i++) {
                Tracked *t = tracked_get(w, v[i].osd_id, now);
                OsdUnitState us;
                const char *unit;

                if (!t) {
                        states_clear(w);
                        return -ENOMEM;
                }
                t->seen = true;
                unit = pick_unit(show, v[i].osd_id, &us);
                decide(t, unit, unit ? &us : NULL, w->o.systemd && !show, pid_of(pids, n_pids, v[i].osd_id), now,
                       &v[i]);
                if (!v[i].state || !v[i].supervisor || !v[i].last_exit) {
                        states_clear(w);
                        return -ENOMEM;
                }
                w->ptrs[i] = &v[i];
        }
        /* OSDs gone from the node (removed, their disk pulled) are forgotten. */
        for (size_t i = 0; i < w->n_tracked;)
                if (!w->tracked[i].seen) {
                        log_info("osd.%" PRId32 ": no longer on this node.", w->tracked[i].id);
                        w->tracked[i] = w->tracked[--w->n_tracked];
                } else
                        i++;
        return osd_report_set_states(out, w->ptrs, n);
}
