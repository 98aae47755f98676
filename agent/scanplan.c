/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's scan schedule on its zloop: the debounce state, its timer, the step after the
 * handlers, and the scan worker with the one scan it may run. */
#include <errno.h>
#include <stdlib.h>

#include "agent/debounce.h"
#include "agent/scanplan.h"
#include "common/macro.h"
#include "common/strv.h"
#include "common/timeutil.h"

struct ScanPlan {
        zloop_t *loop;
        ScanPlanOutcomeFn cb;
        void *userdata;
        Debounce debounce;
        zactor_t *scanner;
        int debounce_timer;
        bool step_armed;        /* the step after the handlers is on its way */
        bool scanning;
        bool scan_full;         /* the running scan is a full one */
};

int scan_plan_new(zloop_t *loop, uint64_t quiet_usec, uint64_t max_delay_usec, ScanPlanOutcomeFn cb,
                  void *userdata, ScanPlan **ret) {
        ScanPlan *p = calloc(1, sizeof *p);

        if (!p)
                return -ENOMEM;
        *p = (ScanPlan) { .loop = loop, .cb = cb, .userdata = userdata, .debounce_timer = -1 };
        debounce_init(&p->debounce, quiet_usec, max_delay_usec);
        *ret = p;
        return 0;
}

ScanPlan *scan_plan_free(ScanPlan *p) {
        if (!p)
                return NULL;
        scan_plan_stop(p);
        debounce_done(&p->debounce);
        free(p);
        return NULL;
}

void scan_plan_set_debounce(ScanPlan *p, uint64_t quiet_usec, uint64_t max_delay_usec) {
        p->debounce.quiet_usec = quiet_usec;
        p->debounce.max_delay_usec = MAX(max_delay_usec, quiet_usec);
}

static void schedule(ScanPlan *p);

static int on_debounce(zloop_t *loop, int timer_id, void *arg) {
        ScanPlan *p = arg;

        p->debounce_timer = -1;
        schedule(p);
        return 0;
}

/* Starts a scan if one is due and none is running, or arms the timer for when one is due. */
static void schedule(ScanPlan *p) {
        uint64_t now = now_usec(), due;
        char **dirty = NULL;
        bool full = false;

        if (p->scanning || !p->scanner)
                return; /* the scan's completion asks again */
        if (debounce_take(&p->debounce, now, &dirty, &full)) {
                if (p->debounce_timer >= 0) {
                        zloop_timer_end(p->loop, p->debounce_timer);
                        p->debounce_timer = -1;
                }
                if (scanner_request(p->scanner, full, dirty) >= 0) {
                        p->scanning = true;
                        p->scan_full = full;
                }
                strv_free(dirty);
                return;
        }
        due = debounce_due(&p->debounce);
        if (due != UINT64_MAX && p->debounce_timer < 0)
                p->debounce_timer = zloop_timer(p->loop, (size_t) ((due - now) / 1000) + 1, 1, on_debounce, p);
}

static int on_step(zloop_t *loop, int timer_id, void *arg) {
        ScanPlan *p = arg;

        p->step_armed = false;
        schedule(p);
        return 0;
}

/* The step after the handlers: a zero-delay timer runs once the loop is through the handlers
 * that were ready, however many of them noted something. */
static void schedule_after_handlers(ScanPlan *p) {
        if (p->step_armed)
                return;
        if (zloop_timer(p->loop, 0, 1, on_step, p) < 0)
                schedule(p); /* no timer: at once, which is almost the same */
        else
                p->step_armed = true;
}

void scan_plan_device(ScanPlan *p, const char *kname, uint64_t now) {
        debounce_touch(&p->debounce, kname, now);
        schedule_after_handlers(p);
}

void scan_plan_state(ScanPlan *p, uint64_t now) {
        debounce_rescan(&p->debounce, now);
        schedule_after_handlers(p);
}

void scan_plan_full(ScanPlan *p, uint64_t now) {
        debounce_full(&p->debounce, now);
        schedule_after_handlers(p);
}

static int on_scanner(zloop_t *loop, zsock_t *s, void *arg) {
        ScanPlan *p = arg;
        ScanOutcome *o = scanner_receive(p->scanner);

        p->scanning = false;
        if (!o)
                return 0;
        p->cb(o, p->scan_full, p->userdata);
        scan_outcome_free(o);
        schedule_after_handlers(p); /* what came in during the scan */
        return 0;
}

int scan_plan_start(ScanPlan *p, ScannerConfig *cfg) {
        p->scanner = scanner_new(cfg);
        if (!p->scanner)
                return -ENOMEM;
        zloop_reader(p->loop, zactor_sock(p->scanner), on_scanner, p);
        return 0;
}

void scan_plan_stop(ScanPlan *p) {
        if (!p->scanner)
                return;
        zloop_reader_end(p->loop, zactor_sock(p->scanner));
        if (p->scanning)
                scan_outcome_free(scanner_receive(p->scanner)); /* let it finish; it owns a config copy */
        p->scanning = false;
        zactor_destroy(&p->scanner);
}
