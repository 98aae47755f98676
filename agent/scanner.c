/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scan worker thread (a CZMQ actor): requests come as [ "SCAN", "full"|"partial", kname... ],
 * answers as one pointer frame. */
#include <string.h>

#include "agent/scanner.h"
#include "common/strv.h"

typedef struct Scanner {
        ScannerConfig cfg;
        ScanResult *previous;
} Scanner;

ScanOutcome *scan_outcome_free(ScanOutcome *o) {
        if (!o)
                return NULL;
        report_free(o->report);
        free(o->lvm_status);
        free(o->warning);
        free(o->probe_seconds);
        free(o);
        return NULL;
}

static ScanOutcome *run_scan(Scanner *s, bool full, char **dirty) {
        ScanOutcome *o = calloc(1, sizeof(ScanOutcome));
        ScanOptions opts = s->cfg.scan;
        ScanResult *res = NULL;
        ReportSelection sel = { .filter = &s->cfg.filter, .all = s->cfg.all, .allow_loop = opts.allow_loop };

        if (!o)
                return NULL;
        opts.previous = full || !s->previous ? NULL : s->previous->devices;
        opts.dirty = dirty;
        o->error = devscan_run(&opts, &res);
        if (o->error >= 0 && s->cfg.health)
                o->error = health_watch_attach(s->cfg.health, res->devices);
        if (o->error >= 0)
                o->error = report_build(res, &sel, &o->report);
        if (o->error >= 0) {
                o->duration_usec = res->duration_usec;
                o->n_devices = (unsigned) res->devices->n;
                o->n_probed = res->n_probed;
                o->n_failed = res->n_failed;
                o->lvm_status = res->lvm_status ? strdup(res->lvm_status) : NULL;
                o->warning = res->warning ? strdup(res->warning) : NULL;
                o->probe_seconds = calloc(res->devices->n ?: 1, sizeof(double));
                for (size_t i = 0; i < res->devices->n && o->probe_seconds; i++) {
                        const Device *d = res->devices->items[i];
                        if (d->probe_usec == 0)
                                continue; /* not probed in this scan: facts from the previous one */
                        if (d->probe_error == -ETIMEDOUT)
                                o->n_probe_timeouts++;
                        else
                                o->probe_seconds[o->n_probe_seconds++] = (double) d->probe_usec / 1e6;
                }
                scan_result_free(s->previous);
                s->previous = res;
        } else
                scan_result_free(res);
        return o;
}

static void scanner_actor(zsock_t *pipe, void *arg) {
        Scanner *s = arg;

        zsock_signal(pipe, 0);
        for (;;) {
                zmsg_t *m = zmsg_recv(pipe);
                char *cmd = m ? zmsg_popstr(m) : NULL;
                bool stop = !cmd || streq(cmd, "$TERM");

                if (!stop && streq(cmd, "SCAN")) {
                        char *mode = zmsg_popstr(m), *k;
                        char **dirty = NULL;
                        while ((k = zmsg_popstr(m)))
                                (void) strv_consume(&dirty, k);
                        zsock_send(pipe, "p", run_scan(s, mode && streq(mode, "full"), dirty));
                        free(mode);
                        strv_free(dirty);
                }
                free(cmd);
                zmsg_destroy(&m);
                if (stop)
                        break;
        }
        scan_result_free(s->previous);
        filter_done(&s->cfg.filter);
        free(s);
}

zactor_t *scanner_new(ScannerConfig *cfg) {
        Scanner *s = calloc(1, sizeof(Scanner));

        if (!s)
                return NULL;
        s->cfg = *cfg;
        filter_init(&cfg->filter); /* moved */
        return zactor_new(scanner_actor, s);
}

int scanner_request(zactor_t *s, bool full, char *const *dirty) {
        zmsg_t *m = zmsg_new();

        if (!m)
                return -ENOMEM;
        zmsg_addstr(m, "SCAN");
        zmsg_addstr(m, full ? "full" : "partial");
        STRV_FOREACH(k, dirty)
                zmsg_addstr(m, *k);
        return zmsg_send(&m, s) < 0 ? -EIO : 0;
}

ScanOutcome *scanner_receive(zactor_t *s) {
        void *p = NULL;

        if (zsock_recv(s, "p", &p) < 0)
                return NULL;
        return p;
}
