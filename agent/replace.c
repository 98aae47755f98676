/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The replacement watch (replace.h): the reserved ids read from the removal journal, the slot
 * match and settle check after every scan, the replacement jobs and their ends. */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/replace.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/size.h"
#include "common/strv.h"
#include "common/timeutil.h"

static const char *strnone(const char *s) {
        return isempty(s) ? "n/a" : s;
}

/* Bounds of what the watch holds: a node has a few dozen disks. */
#define REPLACE_MAX 256

typedef enum ReplaceState {
        STATE_WAITING,          /* no disk in the slot */
        STATE_SETTLING,         /* a disk is in the slot, not settled yet */
        STATE_PREPARING,        /* its job runs */
        STATE_FAILED,           /* the last attempt failed: back-off */
} ReplaceState;

static const char *const state_names[] = {
        [STATE_WAITING] = "waiting",
        [STATE_SETTLING] = "settling",
        [STATE_PREPARING] = "preparing",
        [STATE_FAILED] = "failed",
};

typedef struct Reservation {
        RemovalEntry e;         /* the journal's finished entry */
        ReplaceState state;
        int64_t since_usec;     /* when it entered that state (realtime) */
        char *device;           /* the disk settling or being prepared (its key in the report) */
        uint64_t job;           /* its job's command id; 0: none */
        uint64_t retry_after;   /* after a failure: no job before this */
        char *said;             /* what was last logged about it, so it is logged once */
} Reservation;

struct AgentReplace {
        AgentReplaceOps ops;
        char *state_dir;
        uint64_t settle_usec;
        Reservation *v;
        size_t n;
        const Report *report;
        SettleTracker *settle;
        uint64_t next_id;
};

static void reservation_done(Reservation *x) {
        removal_entry_done(&x->e);
        free(x->device);
        free(x->said);
        *x = (Reservation) {};
}

int agent_replace_new(const AgentReplaceOps *ops, const char *state_dir, uint64_t settle_usec, AgentReplace **ret) {
        AgentReplace *r = calloc(1, sizeof *r);

        if (!r)
                return -ENOMEM;
        *r = (AgentReplace) {
                .ops = *ops,
                .state_dir = strdup(state_dir),
                .settle_usec = settle_usec,
                .next_id = AGENT_REPLACE_COMMAND_BASE,
        };
        if (!r->state_dir || settle_tracker_new(ops->written, ops->userdata, &r->settle) < 0) {
                agent_replace_free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

AgentReplace *agent_replace_free(AgentReplace *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n; i++)
                reservation_done(&r->v[i]);
        free(r->v);
        settle_tracker_free(r->settle);
        free(r->state_dir);
        free(r);
        return NULL;
}

void agent_replace_set_settle(AgentReplace *r, uint64_t settle_usec) {
        r->settle_usec = settle_usec;
}

void agent_replace_report(AgentReplace *r, const Report *report) {
        r->report = report;
}

static Reservation *find(AgentReplace *r, int osd_id) {
        for (size_t i = 0; i < r->n; i++)
                if (r->v[i].e.osd_id == osd_id)
                        return &r->v[i];
        return NULL;
}

static void set_state(Reservation *x, ReplaceState s) {
        if (x->state == s && x->since_usec > 0)
                return;
        x->state = s;
        x->since_usec = now_realtime_usec();
}

/* Logs what is said about a reservation once, until it says something else. */
static void say(Reservation *x, int level, const char *fmt, ...) _printf_(3, 4);
static void say(Reservation *x, int level, const char *fmt, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (k < 0 || streq_ptr(x->said, text))
                return;
        log_full_errno(level, 0, "Reserved osd.%d: %s", x->e.osd_id, text);
        free(x->said);
        x->said = TAKE_PTR(text);
}

/* After a failed attempt (or, at start, one the journal says failed): back off, and destroy
 * the id again. The attempt may have got as far as `osd new`: the id exists again, and the
 * next attempt would be refused unless it is destroyed once more; an agent stopped between
 * the failure and that step does it when it starts (the step is idempotent). */
static void after_failure(AgentReplace *r, Reservation *x, uint64_t now) {
        int q;

        x->retry_after = now + AGENT_REPLACE_RETRY_USEC;
        set_state(x, STATE_FAILED);
        if (!r->ops.redestroy)
                return;
        q = r->ops.redestroy(r->next_id++, x->e.osd_id, r->ops.userdata);
        if (q < 0)
                log_warning_errno(q, "Reserved osd.%d: it could not be destroyed again after the failed attempt (%m); "
                                  "the next attempt may be refused.", x->e.osd_id);
}

int agent_replace_load(AgentReplace *r, uint64_t now) {
        _cleanup_free_ int *ids = NULL;
        Reservation *v;
        size_t n_ids = 0, k = 0;
        int q;

        q = r->ops.list(r->state_dir, &ids, &n_ids);
        if (q < 0)
                return q;
        v = calloc(MIN(n_ids, (size_t) REPLACE_MAX) + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n_ids && k < REPLACE_MAX; i++) {
                RemovalEntry e = {};
                Reservation *old;

                q = r->ops.read(r->state_dir, ids[i], &e);
                if (q <= 0) {
                        if (q < 0)
                                log_warning_errno(q, "Removal journal entry of osd.%d could not be read: %m", ids[i]);
                        /* one that is being written stays as it was */
                        old = find(r, ids[i]);
                        if (q < 0 && old) {
                                v[k++] = *old;
                                *old = (Reservation) { .e.osd_id = -1 };
                        }
                        continue;
                }
                if (!e.replace || e.step != REMOVAL_DONE) {
                        removal_entry_done(&e);
                        continue;
                }
                old = find(r, ids[i]);
                if (old) {
                        removal_entry_done(&old->e);
                        old->e = e;
                        v[k++] = *old;
                        *old = (Reservation) { .e.osd_id = -1 };
                } else {
                        _cleanup_free_ char *layout = agent_replace_layout(&e);

                        v[k] = (Reservation) { .e = e, .state = isempty(e.replacement_error) ? STATE_WAITING : STATE_FAILED };
                        v[k].since_usec = e.updated_usec > 0 ? e.updated_usec : now_realtime_usec();
                        log_info("osd.%d is reserved for the disk in slot %s (it was on %s; %s).", e.osd_id,
                                 strnone(e.by_path), strnone(e.block.stable_id), strnone(layout));
                        if (v[k].state == STATE_FAILED)
                                after_failure(r, &v[k], now);
                        k++;
                }
        }
        for (size_t i = 0; i < r->n; i++) {
                if (r->v[i].e.osd_id >= 0 && r->v[i].job)
                        log_info("osd.%d is no longer reserved; its replacement job %" PRIu64 " goes on.",
                                 r->v[i].e.osd_id, r->v[i].job);
                reservation_done(&r->v[i]);
        }
        free(r->v);
        r->v = v;
        r->n = k;
        return 0;
}

char *agent_replace_layout(const RemovalEntry *e) {
        char db[FORMAT_SIZE_MAX], wal[FORMAT_SIZE_MAX];
        char *s = NULL;

        if (asprintf(&s, "%s%s%s%s%s%s%s%s%s%s", e->lvm ? "lvm" : "raw",
                     e->db.stable_id ? ", db " : "", e->db.stable_id ? format_size(e->db.size, db, sizeof db) : "",
                     e->db.stable_id ? " on " : "", strempty(e->db.stable_id),
                     e->wal.stable_id ? ", wal " : "", e->wal.stable_id ? format_size(e->wal.size, wal, sizeof wal) : "",
                     e->wal.stable_id ? " on " : "", strempty(e->wal.stable_id),
                     e->encrypted ? ", encrypted" : "") < 0)
                return NULL;
        return s;
}

/* ---- matching disks ---- */

static bool entry_has_link(const Castle__Device *d, const char *link) {
        for (size_t l = 0; l < d->n_links; l++)
                if (streq_ptr(d->links[l], link))
                        return true;
        return false;
}

/* The report's entry for a device named by stable id, /dev path or link. */
static const ReportEntry *report_find(const Report *rep, const char *id) {
        if (!rep || isempty(id))
                return NULL;
        for (size_t i = 0; i < rep->n; i++) {
                const Castle__Device *d = rep->entries[i].msg;

                if (streq(d->stable_id, id) || streq(d->path, id) || streq(rep->entries[i].key, id) ||
                    entry_has_link(d, id))
                        return &rep->entries[i];
        }
        return NULL;
}

/* The whole disk in slot by_path, if the report has one. */
static const ReportEntry *slot_find(const Report *rep, const char *by_path) {
        if (!rep || isempty(by_path))
                return NULL;
        for (size_t i = 0; i < rep->n; i++) {
                const Castle__Device *d = rep->entries[i].msg;

                if (d->type == CASTLE__DEVICE__TYPE__DISK && entry_has_link(d, by_path))
                        return &rep->entries[i];
        }
        return NULL;
}

/* Whether d may be given an id now: available, and no reason against it. */
static bool device_usable(const Castle__Device *d) {
        return d->available && d->n_reasons == 0;
}

/* A device the plan names as it is known to castlectl-osd: its stable id, else its path. */
static const char *device_name(const Castle__Device *d) {
        return !isempty(d->stable_id) ? d->stable_id : d->path;
}

static bool claimed(const AgentReplace *r, const char *key) {
        for (size_t i = 0; i < r->n; i++)
                if (r->v[i].job && streq_ptr(r->v[i].device, key))
                        return true;
        return false;
}

static bool crush_class_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", s[i]))
                        return false;
        return true;
}

/* The OsdCreate that remakes x's OSD on data device (a name castlectl-osd resolves). */
static int submit(AgentReplace *r, Reservation *x, uint64_t id, const Castle__Device *d) {
        Castle__OsdCreate c = CASTLE__OSD_CREATE__INIT;
        int32_t osd_ids[1] = { x->e.osd_id };
        char *db[2] = { x->e.db.stable_id, NULL }, *wal[2] = { x->e.wal.stable_id, NULL };
        int q;

        c.device_id = (char *) device_name(d);
        c.osd_ids = osd_ids;
        c.n_osd_ids = 1;
        c.lvm = x->e.lvm;
        c.dmcrypt = x->e.encrypted;
        /* A destroyed id keeps its class in the CRUSH map: one the journal holds is only said
         * again, and one that is not a class name is left out rather than failing the job. */
        if (crush_class_ok(x->e.crush_device_class))
                c.crush_device_class = x->e.crush_device_class;
        else if (!isempty(x->e.crush_device_class))
                say(x, LOG_WARNING, "the journal's CRUSH device class is not a class name: the CRUSH map's is kept.");
        if (!isempty(x->e.db.stable_id)) {
                c.db_devices = db;
                c.n_db_devices = 1;
                c.block_db_size = x->e.db.size;
        }
        if (!isempty(x->e.wal.stable_id)) {
                c.wal_devices = wal;
                c.n_wal_devices = 1;
                c.block_wal_size = x->e.wal.size;
        }
        /* The job is the reservation's before it is submitted: a refused one ends at once,
         * with its update, before submit returns. */
        x->job = id;
        set_state(x, STATE_PREPARING);
        q = r->ops.submit(id, &c, r->ops.userdata);
        if (q < 0 && x->job == id) {
                x->job = 0;
                x->retry_after = now_usec() + AGENT_REPLACE_RETRY_USEC;
                set_state(x, STATE_FAILED);
        }
        return q;
}

/* Remembers the device given (or found) for x in the journal, so that an agent restart
 * goes on with the same disk. */
static void record_device(AgentReplace *r, Reservation *x, const Castle__Device *d) {
        char *s;
        int q;

        if (streq_ptr(x->e.replacement, device_name(d)))
                return;
        s = strdup(device_name(d));
        if (!s) {
                log_oom();
                return;
        }
        free(x->e.replacement);
        x->e.replacement = s;
        x->e.updated_usec = now_realtime_usec();
        q = r->ops.write(r->state_dir, &x->e);
        if (q < 0)
                log_warning_errno(q, "Reserved osd.%d: its journal entry could not be written: %m", x->e.osd_id);
}

static uint64_t reconcile_one(AgentReplace *r, Reservation *x, uint64_t now) {
        const ReportEntry *d;
        uint64_t wait_until = 0, id;
        bool given;
        int q;

        if (x->job)
                return 0;
        /* A disk the operator gave is tried again after a back-off; else the slot's. */
        d = x->e.replacement ? report_find(r->report, x->e.replacement) : NULL;
        given = d != NULL;
        if (!d)
                d = slot_find(r->report, x->e.by_path);
        if (!d) {
                if (x->state != STATE_FAILED)
                        set_state(x, STATE_WAITING);
                free(x->device);
                x->device = NULL;
                if (isempty(x->e.by_path))
                        say(x, LOG_INFO, "the old disk's slot is unknown: only `osd replace` gives this id.");
                else
                        say(x, LOG_INFO, "waiting for a disk in slot %s.", x->e.by_path);
                return 0;
        }
        if (!given && !isempty(x->e.block.stable_id) && streq(d->msg->stable_id, x->e.block.stable_id)) {
                say(x, LOG_INFO, "slot %s still holds the old disk %s: waiting for a new one.", x->e.by_path,
                    d->msg->path);
                set_state(x, x->state == STATE_FAILED ? STATE_FAILED : STATE_WAITING);
                return 0;
        }
        if (!device_usable(d->msg)) {
                say(x, LOG_INFO, "%s in slot %s is not available for an OSD: left alone.", d->msg->path,
                    strnone(x->e.by_path));
                if (x->state != STATE_FAILED)
                        set_state(x, STATE_WAITING);
                return 0;
        }
        if (claimed(r, d->key))
                return 0;
        if (!streq_ptr(x->device, d->key)) {
                free(x->device);
                x->device = strdup(d->key);
                if (!x->device) {
                        log_oom();
                        return 0;
                }
        }
        if (!settle_check(r->settle, d, r->settle_usec, now, &wait_until)) {
                if (x->state != STATE_FAILED)
                        set_state(x, STATE_SETTLING);
                say(x, LOG_INFO, "%s appeared in slot %s%s; it is prepared once it has settled.", d->msg->path,
                    strnone(x->e.by_path), given ? " (the disk given)" : "");
                return wait_until;
        }
        if (now < x->retry_after)
                return x->retry_after;

        id = r->next_id++;
        log_info("Reserved osd.%d: job %" PRIu64 " prepares %s (%s, %s) with it.", x->e.osd_id, id, d->msg->path,
                 strnone(d->msg->stable_id), given ? "the disk given" : "in its slot");
        x->said = mfree(x->said);
        record_device(r, x, d->msg);
        q = submit(r, x, id, d->msg);
        if (q < 0) {
                log_error_errno(q, "Reserved osd.%d: job %" PRIu64 " could not be queued (%m); trying again in %u min.",
                                x->e.osd_id, id, (unsigned) (AGENT_REPLACE_RETRY_USEC / 60000000));
                return x->retry_after;
        }
        return x->job == 0 && x->retry_after > now ? x->retry_after : 0;
}

uint64_t agent_replace_reconcile(AgentReplace *r, uint64_t now) {
        uint64_t next = 0;

        if (!r->report)
                return 0;
        settle_begin(r->settle);
        for (size_t i = 0; i < r->n; i++) {
                uint64_t w = reconcile_one(r, &r->v[i], now);

                if (w > 0 && (next == 0 || w < next))
                        next = w;
        }
        settle_end(r->settle);
        return next;
}

static int fail(char **error, int q, const char *fmt, ...) _printf_(3, 4);
static int fail(char **error, int q, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (error && vasprintf(error, fmt, ap) < 0)
                *error = NULL;
        va_end(ap);
        return q;
}

int agent_replace_give(AgentReplace *r, uint64_t command_id, int osd_id, const char *device, uint64_t now,
                       char **error) {
        Reservation *x = find(r, osd_id);
        const ReportEntry *d;
        int q;

        if (!x)
                return fail(error, -ENOENT, "osd.%d is not reserved on this node (remove it with --replace first)",
                            osd_id);
        if (x->job)
                return fail(error, -EBUSY, "osd.%d is being prepared already (job %" PRIu64 ")", osd_id, x->job);
        d = report_find(r->report, device);
        if (!d)
                return fail(error, -ENODEV, "no device %s on this node", strempty(device));
        if (d->msg->type != CASTLE__DEVICE__TYPE__DISK && d->msg->type != CASTLE__DEVICE__TYPE__LOOP)
                return fail(error, -EINVAL, "%s is not a whole disk", d->msg->path);
        if (!device_usable(d->msg))
                return fail(error, -EINVAL, "%s is not available for an OSD", d->msg->path);
        if (claimed(r, d->key))
                return fail(error, -EBUSY, "%s is being prepared for another reserved id", d->msg->path);
        log_info("Reserved osd.%d: the operator gives it to %s (%s): command %" PRIu64 ".", osd_id, d->msg->path,
                 strnone(d->msg->stable_id), command_id);
        free(x->device);
        x->device = strdup(d->key);
        if (!x->device)
                return -ENOMEM;
        x->said = mfree(x->said);
        x->retry_after = 0;
        record_device(r, x, d->msg);
        q = submit(r, x, command_id, d->msg);
        (void) now;
        /* Refused by the queue (-EBUSY): the session says so; the watch tries again later. */
        return q < 0 ? q : 0;
}

bool agent_replace_owns(const AgentReplace *r, uint64_t command_id) {
        if (command_id == 0)
                return false;
        for (size_t i = 0; i < r->n; i++)
                if (r->v[i].job == command_id)
                        return true;
        return command_id >= AGENT_REPLACE_COMMAND_BASE && command_id < (UINT64_C(1) << 62);
}

void agent_replace_job_update(AgentReplace *r, const Castle__JobUpdate *u, uint64_t now) {
        Reservation *x = NULL;
        int q;

        if (!u->done)
                return;
        for (size_t i = 0; i < r->n && !x; i++)
                if (r->v[i].job != 0 && r->v[i].job == u->command_id)
                        x = &r->v[i];
        if (!x)
                return;
        x->job = 0;
        if (isempty(u->error) && u->osd_id == x->e.osd_id) {
                log_info("Reserved osd.%d is back on %s: the reservation ends.", x->e.osd_id,
                         strnone(!isempty(u->device) ? u->device : x->device));
                q = r->ops.remove(r->state_dir, x->e.osd_id);
                if (q < 0)
                        log_error_errno(q, "osd.%d: its removal journal entry could not be removed: %m", x->e.osd_id);
                reservation_done(x);
                *x = r->v[--r->n];
                return;
        }
        free(x->e.replacement_error);
        x->e.replacement_error = strdup(!isempty(u->error) ? u->error : "the job made another OSD id");
        x->e.updated_usec = now_realtime_usec();
        log_error("Reserved osd.%d: job %" PRIu64 " failed: %s; the id stays reserved, trying again in %u min.",
                  x->e.osd_id, u->command_id, strnone(x->e.replacement_error),
                  (unsigned) (AGENT_REPLACE_RETRY_USEC / 60000000));
        q = r->ops.write(r->state_dir, &x->e);
        if (q < 0)
                log_warning_errno(q, "Reserved osd.%d: its journal entry could not be written: %m", x->e.osd_id);
        after_failure(r, x, now);
}

int agent_replace_publish(AgentReplace *r, OsdReport *report) {
        _cleanup_free_ Castle__OsdReservation *m = calloc(r->n + 1, sizeof *m);
        _cleanup_free_ Castle__OsdReservation **p = calloc(r->n + 1, sizeof *p);
        char **layouts = calloc(r->n + 1, sizeof(char *));
        int q = -ENOMEM;

        if (!m || !p || !layouts)
                goto out;
        for (size_t i = 0; i < r->n; i++) {
                const Reservation *x = &r->v[i];
                const ReportEntry *d = x->device ? report_find(r->report, x->device) : NULL;

                layouts[i] = agent_replace_layout(&x->e);
                if (!layouts[i])
                        goto out;
                castle__osd_reservation__init(&m[i]);
                m[i].osd_id = x->e.osd_id;
                m[i].slot = (char *) strempty(x->e.by_path);
                m[i].old_device = (char *) strempty(x->e.block.stable_id);
                m[i].layout = layouts[i];
                m[i].state = (char *) state_names[x->state];
                m[i].error = (char *) strempty(x->e.replacement_error);
                m[i].since_usec = x->since_usec;
                m[i].device = (char *) (d ? d->msg->path : x->state == STATE_PREPARING ? (char *) strempty(x->e.replacement) : (char *) "");
                p[i] = &m[i];
        }
        q = osd_report_set_reservations(report, p, r->n);
out:
        strv_free(layouts);
        return q;
}
