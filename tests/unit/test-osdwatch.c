/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's OSD daemon watch: `systemctl show` parsed, exit texts, and ticks over a report
 * made by hand, a fake /proc (one ceph-osd, one other process) and a fake systemctl (a script
 * that prints what the test wrote): running without a unit, stopped, a unit that restarted
 * after SIGKILL with the last exit kept, systemd not answering, a unit starting its OSD, a crash
 * loop, and an OSD gone. */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/osdwatch.h"
#include "common/timeutil.h"

#define T0 INT64_C(1700000000000000)

static const char show_two[] =
        "Id=castle-osd@3.service\n"
        "LoadState=loaded\n"
        "ActiveState=activating\n"
        "SubState=auto-restart\n"
        "NRestarts=2\n"
        "ExecMainCode=2\n"
        "ExecMainStatus=9\n"
        "\n"
        "Id=ceph-osd@3.service\n"
        "LoadState=not-found\n"
        "ActiveState=inactive\n"
        "SubState=dead\n"
        "NRestarts=0\n"
        "ExecMainCode=0\n"
        "ExecMainStatus=0\n";

static void test_parse_show(void **state) {
        OsdUnitState s;
        char buf[48];

        (void) state;
        assert_int_equal(osd_watch_parse_show(show_two, "castle-osd@3.service", &s), 0);
        assert_true(s.loaded);
        assert_string_equal(s.active, "activating");
        assert_string_equal(s.sub, "auto-restart");
        assert_int_equal(s.restarts, 2);
        assert_string_equal(osd_watch_exit_text(s.exec_code, s.exec_status, buf, sizeof buf), "killed by SIGKILL");
        assert_int_equal(osd_watch_parse_show(show_two, "ceph-osd@3.service", &s), 0);
        assert_false(s.loaded);
        assert_string_equal(s.active, "inactive");
        assert_int_equal(osd_watch_parse_show(show_two, "castle-osd@4.service", &s), -ENOENT);
        assert_int_equal(osd_watch_parse_show("", "castle-osd@3.service", &s), -ENOENT);
        assert_string_equal(osd_watch_exit_text(1, 1, buf, sizeof buf), "exit status 1");
        assert_string_equal(osd_watch_exit_text(3, 6, buf, sizeof buf), "dumped core (SIGABRT)");
        assert_string_equal(osd_watch_exit_text(0, 0, buf, sizeof buf), "");
}

typedef struct Fixture {
        char dir[64], proc[96], systemctl[96], show[96];
} Fixture;

static void write_file(const char *path, const char *data, size_t n) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

/* /proc/PID with comm and cmdline (NUL-separated, n bytes) */
static void add_process(Fixture *f, int pid, const char *comm, const char *cmdline, size_t n) {
        char p[160];

        snprintf(p, sizeof p, "%s/%d", f->proc, pid);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s/%d/comm", f->proc, pid);
        write_file(p, comm, strlen(comm));
        snprintf(p, sizeof p, "%s/%d/cmdline", f->proc, pid);
        write_file(p, cmdline, n);
}

static void remove_process(Fixture *f, int pid) {
        char p[160];

        snprintf(p, sizeof p, "%s/%d/comm", f->proc, pid);
        assert_int_equal(unlink(p), 0);
        snprintf(p, sizeof p, "%s/%d/cmdline", f->proc, pid);
        assert_int_equal(unlink(p), 0);
        snprintf(p, sizeof p, "%s/%d", f->proc, pid);
        assert_int_equal(rmdir(p), 0);
}

static void set_show(Fixture *f, const char *text) {
        write_file(f->show, text, strlen(text));
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        char script[256];

        assert_non_null(f);
        snprintf(f->dir, sizeof f->dir, "/tmp/castle-test-osdwatch.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->proc, sizeof f->proc, "%s/proc", f->dir);
        snprintf(f->systemctl, sizeof f->systemctl, "%s/systemctl", f->dir);
        snprintf(f->show, sizeof f->show, "%s/show", f->dir);
        assert_int_equal(mkdir(f->proc, 0755), 0);
        snprintf(script, sizeof script, "#!/bin/sh\ncat '%s'\n", f->show);
        write_file(f->systemctl, script, strlen(script));
        assert_int_equal(chmod(f->systemctl, 0755), 0);
        set_show(f, "");
        add_process(f, 100, "bash\n", "bash\0", 5);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* A report with one disk that holds raw osd.3 (BlueStore label). */
typedef struct OneOsd {
        Castle__Device d;
        Castle__CephFacts c;
        Castle__CephFacts *cp;
        ReportEntry e;
        Report r;
} OneOsd;

static void one_osd(OneOsd *o, int32_t id) {
        castle__device__init(&o->d);
        castle__ceph_facts__init(&o->c);
        o->c.source = (char *) "bluestore-label";
        o->c.osd_id = id;
        o->c.osd_uuid = (char *) "2c5b6d1e-0000-4000-8000-000000000003";
        o->c.cluster_fsid = (char *) "7e3f0d8a-0000-4000-8000-00000000c1a5";
        o->c.type = (char *) "block";
        o->cp = &o->c;
        o->d.stable_id = (char *) "wwn-0x5000c500a1b2c3d4";
        o->d.kname = (char *) "sdb";
        o->d.path = (char *) "/dev/sdb";
        o->d.ceph = &o->cp;
        o->d.n_ceph = 1;
        o->e = (ReportEntry) { .key = o->d.stable_id, .msg = &o->d };
        o->r = (Report) { .entries = &o->e, .n = 1 };
}

static Castle__OsdState *only_state(OsdWatch *w) {
        Castle__OsdState *const *v;

        assert_int_equal(osd_watch_states(w, &v), 1);
        return v[0];
}

static void test_process_only(void **state) {
        Fixture *f = *state;
        OsdWatchOptions o = { .proc = f->proc };
        OsdWatch *w = NULL;
        OsdReport *rep = NULL;
        OneOsd one;
        Castle__OsdState *s;

        one_osd(&one, 3);
        assert_int_equal(osd_watch_new(&o, &w), 0);
        assert_int_equal(osd_report_new(&rep), 0);
        /* no report yet: nothing, and nothing changed */
        assert_int_equal(osd_watch_tick(w, NULL, T0, rep), 0);
        add_process(f, 4242, "ceph-osd\n", "ceph-osd\0-f\0--cluster\0ceph\0--id\0003\0", 35);
        assert_int_equal(osd_watch_tick(w, &one.r, T0, rep), 1);
        s = only_state(w);
        assert_int_equal(s->osd_id, 3);
        assert_string_equal(s->state, "running");
        assert_string_equal(s->supervisor, "process");
        assert_string_equal(s->kind, "raw");
        assert_string_equal(s->device, "wwn-0x5000c500a1b2c3d4");
        assert_string_equal(s->path, "/dev/sdb");
        assert_int_equal(s->pid, 4242);
        /* the same again: no change, no heartbeat */
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + USEC_PER_SEC, rep), 0);
        /* kill -9 without a supervisor: stopped, since then */
        remove_process(f, 4242);
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + 2 * USEC_PER_SEC, rep), 1);
        s = only_state(w);
        assert_string_equal(s->state, "stopped");
        assert_string_equal(s->supervisor, "");
        assert_int_equal(s->pid, 0);
        assert_int_equal(s->state_since_usec, T0 + 2 * USEC_PER_SEC);
        /* the OSD is gone from the node */
        assert_int_equal(osd_watch_tick(w, NULL, T0 + 3 * USEC_PER_SEC, rep), 1);
        assert_int_equal(osd_watch_states(w, &(Castle__OsdState *const *) { NULL }), 0);
        osd_report_free(rep);
        osd_watch_free(w);
}

static void test_systemd_unit(void **state) {
        Fixture *f = *state;
        OsdWatchOptions o = { .proc = f->proc, .systemd = true, .systemctl = f->systemctl };
        OsdWatch *w = NULL;
        OsdReport *rep = NULL;
        OneOsd one;
        Castle__OsdState *s;

        one_osd(&one, 3);
        assert_int_equal(osd_watch_new(&o, &w), 0);
        assert_int_equal(osd_report_new(&rep), 0);
        add_process(f, 4242, "ceph-osd\n", "ceph-osd\0-f\0-i\0003\0", 18);
        set_show(f, "Id=castle-osd@3.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
                    "NRestarts=0\nExecMainCode=0\nExecMainStatus=0\n\n"
                    "Id=ceph-osd@3.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n");
        assert_int_equal(osd_watch_tick(w, &one.r, T0, rep), 1);
        s = only_state(w);
        assert_string_equal(s->state, "running");
        assert_string_equal(s->supervisor, "castle-osd@3");
        assert_int_equal(s->restarts, 0);
        /* killed: systemd waits to restart it, and says how it ended */
        remove_process(f, 4242);
        set_show(f, show_two);
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + 3 * USEC_PER_SEC, rep), 1);
        s = only_state(w);
        assert_string_equal(s->state, "crash-looping");
        assert_string_equal(s->last_exit, "killed by SIGKILL");
        assert_int_equal(s->restarts, 2);
        /* systemd does not answer in time: the unit's OSD keeps its state, not "stopped" */
        assert_int_equal(chmod(f->systemctl, 0644), 0);
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + 5 * USEC_PER_SEC, rep), 0);
        assert_string_equal(only_state(w)->state, "crash-looping");
        assert_int_equal(chmod(f->systemctl, 0755), 0);
        /* started again: castlectl osd run activates it before it becomes ceph-osd */
        set_show(f, "Id=castle-osd@3.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
                    "NRestarts=2\nExecMainCode=0\nExecMainStatus=0\n");
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + 14 * USEC_PER_SEC, rep), 1);
        assert_string_equal(only_state(w)->state, "starting");
        /* restarted: running again, the last exit and the count kept */
        add_process(f, 4300, "ceph-osd\n", "ceph-osd\0-f\0-i\0003\0", 18);
        set_show(f, "Id=castle-osd@3.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
                    "NRestarts=2\nExecMainCode=0\nExecMainStatus=0\n");
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + 15 * USEC_PER_SEC, rep), 1);
        s = only_state(w);
        assert_string_equal(s->state, "running");
        assert_string_equal(s->last_exit, "killed by SIGKILL");
        assert_int_equal(s->restarts, 2);
        assert_int_equal(s->pid, 4300);
        /* three restarts within the window: crash-looping even while it runs for a moment */
        set_show(f, "Id=castle-osd@3.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
                    "NRestarts=3\nExecMainCode=0\nExecMainStatus=0\n");
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + 30 * USEC_PER_SEC, rep), 1);
        assert_string_equal(only_state(w)->state, "crash-looping");
        /* the window passed without more restarts: running */
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + 11 * USEC_PER_MINUTE, rep), 1);
        assert_string_equal(only_state(w)->state, "running");
        /* systemd gave up: failed */
        remove_process(f, 4300);
        set_show(f, "Id=castle-osd@3.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\n"
                    "NRestarts=5\nExecMainCode=1\nExecMainStatus=1\n");
        assert_int_equal(osd_watch_tick(w, &one.r, T0 + 12 * USEC_PER_MINUTE, rep), 1);
        s = only_state(w);
        assert_string_equal(s->state, "failed");
        assert_string_equal(s->last_exit, "exit status 1");
        osd_report_free(rep);
        osd_watch_free(w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_show),
                cmocka_unit_test_setup_teardown(test_process_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_systemd_unit, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
