/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/spawn: every way a child can misbehave (hang with its pipes closed, ignore SIGTERM,
 * leave a grandchild holding the pipe, write too much, die of a signal, not exist) ends in a
 * bounded time with the whole process group gone. Real /bin/sh children; each test runs twice,
 * with a pidfd and with the waitpid() fallback. */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "common/fileio.h"
#include "common/spawn.h"
#include "common/timeutil.h"

/* The children below sleep this long if nothing stops them; every test must return well before. */
#define CHILD_SLEEP "30"
#define WELL_BEFORE_USEC (10 * USEC_PER_SEC)
/* Long enough for sh to have written its pid file on a loaded machine. */
#define DEADLINE_USEC (500 * USEC_PER_MSEC)
/* For children that do finish: long enough for a loaded machine. */
#define AMPLE_USEC (20 * USEC_PER_SEC)

static char pid_file[] = "/tmp/castle-test-spawn-XXXXXX";

/* sh -c SCRIPT sh PIDFILE: the script starts by writing its pid, which is its process group's id. */
#define SH(script) \
        { (char *) "sh", (char *) "-c", (char *) "echo $$ >\"$1\"; " script, (char *) "sh", pid_file, NULL }

static pid_t read_pgid(void) {
        _cleanup_free_ char *s = NULL;
        int pid;

        assert_int_equal(read_one_line_at(AT_FDCWD, pid_file, &s), 0);
        assert_int_equal(safe_atoi(s, &pid), 0);
        assert_true(pid > 1);
        return pid;
}

/* Nothing of the group is left: its orphans were handed to us (a subreaper) and died of a signal,
 * not at the end of their sleep. */
static void assert_group_gone(pid_t pgid) {
        uint64_t until = now_usec() + WELL_BEFORE_USEC;

        for (;;) {
                int status;
                pid_t p;

                while ((p = waitpid(-pgid, &status, WNOHANG)) > 0)
                        assert_true(WIFSIGNALED(status));
                if (kill(-pgid, 0) < 0 && errno == ESRCH)
                        return;
                assert_true(now_usec() < until);
                (void) poll(NULL, 0, 10);
        }
}

static int run(char **argv, size_t out_max, uint64_t timeout_usec, SpawnResult *ret, uint64_t *ret_elapsed) {
        SpawnOptions o = { .timeout_usec = timeout_usec, .out_max = out_max };
        uint64_t start = now_usec();
        int r;

        (void) unlink(pid_file);
        r = spawn_capture(argv, NULL, &o, ret);
        *ret_elapsed = now_usec() - start;
        return r;
}

static void test_closes_pipes_then_hangs(void **state) {
        char *argv[] = SH("exec >&- 2>&-; sleep " CHILD_SLEEP);
        SpawnResult res = {};
        uint64_t t;

        assert_int_equal(run(argv, 4096, DEADLINE_USEC, &res, &t), -ETIMEDOUT);
        assert_true(t < WELL_BEFORE_USEC);
        assert_group_gone(read_pgid());
}

static void test_ignores_sigterm(void **state) {
        /* The ignored disposition is inherited by the sleep too: only SIGKILL ends either. */
        char *argv[] = SH("trap '' TERM; sleep " CHILD_SLEEP);
        SpawnResult res = {};
        uint64_t t;

        assert_int_equal(run(argv, 4096, DEADLINE_USEC, &res, &t), -ETIMEDOUT);
        assert_true(t < WELL_BEFORE_USEC);
        assert_group_gone(read_pgid());
}

static void test_grandchild_holds_pipe(void **state) {
        /* The child exits at once; the sleep it started keeps stdout and stderr open. */
        char *argv[] = SH("sleep " CHILD_SLEEP " & exit 0");
        SpawnResult res = {};
        uint64_t t;

        assert_int_equal(run(argv, 4096, DEADLINE_USEC, &res, &t), -ETIMEDOUT);
        assert_true(t < WELL_BEFORE_USEC);
        assert_group_gone(read_pgid());
}

static void test_too_much_output(void **state) {
        char *big[] = SH("head -c 100000 /dev/zero");
        char *endless[] = SH("exec yes");
        SpawnResult res = {};
        uint64_t t;

        assert_int_equal(run(big, 1000, AMPLE_USEC, &res, &t), -EFBIG);
        assert_group_gone(read_pgid());
        assert_int_equal(run(endless, 1 << 20, AMPLE_USEC, &res, &t), -EFBIG);
        assert_true(t < WELL_BEFORE_USEC);
        assert_group_gone(read_pgid());
}

static void test_exits_nonzero(void **state) {
        char *argv[] = SH("echo out; echo err >&2; exit 3");
        SpawnResult res = {};
        uint64_t t;

        assert_int_equal(run(argv, 4096, AMPLE_USEC, &res, &t), 0);
        assert_true(res.exited);
        assert_int_equal(res.status, 3);
        assert_int_equal(res.signal, 0);
        assert_string_equal(res.out, "out\n");
        assert_int_equal(res.out_size, 4);
        assert_string_equal(res.err, "err\n");
        spawn_result_done(&res);
}

static void test_killed_by_signal(void **state) {
        char *argv[] = SH("echo partial; kill -KILL $$");
        SpawnResult res = {};
        uint64_t t;

        assert_int_equal(run(argv, 4096, AMPLE_USEC, &res, &t), 0);
        assert_true(res.exited);
        assert_int_equal(res.signal, SIGKILL);
        assert_int_equal(res.status, 128 + SIGKILL);
        assert_string_equal(res.out, "partial\n");
        spawn_result_done(&res);
}

static void test_not_found(void **state) {
        char *argv[] = { (char *) "castle-no-such-program", NULL };
        SpawnOptions o = { .timeout_usec = DEADLINE_USEC, .out_max = 4096 };
        SpawnResult res = {};

        assert_int_equal(spawn_capture(argv, NULL, &o, &res), -ENOENT);
        o.path = "/nonexistent/castle-no-such-program";
        assert_int_equal(spawn_capture(argv, NULL, &o, &res), -ENOENT);
        o.timeout_usec = 0; /* every spawn has a deadline */
        assert_int_equal(spawn_capture(argv, NULL, &o, &res), -EINVAL);
}

/* The event loop's side, reduced to poll(). */
static int wait_done(Spawn *s) {
        int n = 0;

        while (spawn_process(s) > 0) {
                uint64_t now = now_usec(), wakeup = spawn_get_wakeup_usec(s);
                int ms = wakeup <= now ? 0 : (int) MIN((wakeup - now + 999) / 1000, (uint64_t) INT_MAX);

                (void) poll(&(struct pollfd) { .fd = spawn_get_fd(s), .events = POLLIN }, 1, ms);
                n++;
        }
        return n;
}

static void collect(const char *buf, size_t n, void *userdata) {
        char *acc = userdata;
        size_t have = strlen(acc);

        assert_true(have + n < 64);
        memcpy(acc + have, buf, n);
        acc[have + n] = 0;
}

static void test_async_completes(void **state) {
        char *argv[] = SH("echo one; sleep 0.1; echo two");
        char acc[64] = "";
        SpawnOptions o = { .timeout_usec = AMPLE_USEC, .on_output = collect, .userdata = acc };
        _cleanup_(spawn_freep) Spawn *s = NULL;
        SpawnResult res = {};

        (void) unlink(pid_file);
        assert_int_equal(spawn_start(argv, NULL, &o, &s), 0);
        assert_true(spawn_get_fd(s) >= 0);
        assert_true(spawn_get_pid(s) > 0);
        assert_int_equal(spawn_finish(s, &res), -EBUSY);
        wait_done(s);
        assert_int_equal(spawn_finish(s, &res), 0);
        assert_int_equal(res.status, 0);
        assert_string_equal(acc, "one\ntwo\n");
        assert_string_equal(res.out, ""); /* handed over, not collected */
        assert_int_equal(read_pgid(), spawn_get_pid(s));
        spawn_result_done(&res);
}

static void test_async_timeout(void **state) {
        char *argv[] = SH("trap '' TERM; sleep " CHILD_SLEEP " & sleep " CHILD_SLEEP);
        SpawnOptions o = { .timeout_usec = DEADLINE_USEC, .out_max = 4096 };
        _cleanup_(spawn_freep) Spawn *s = NULL;
        uint64_t start = now_usec();
        SpawnResult res = {};
        pid_t pgid;

        assert_int_equal(spawn_start(argv, NULL, &o, &s), 0);
        pgid = spawn_get_pid(s);
        wait_done(s);
        assert_int_equal(spawn_finish(s, &res), -ETIMEDOUT);
        assert_true(now_usec() - start < WELL_BEFORE_USEC);
        assert_group_gone(pgid);
}

static void test_async_kill(void **state) {
        char *argv[] = SH("sleep " CHILD_SLEEP);
        SpawnOptions o = { .timeout_usec = 60 * USEC_PER_SEC, .out_max = 4096 };
        _cleanup_(spawn_freep) Spawn *s = NULL;
        uint64_t start = now_usec();
        SpawnResult res = {};

        assert_int_equal(spawn_start(argv, NULL, &o, &s), 0);
        spawn_kill(s);
        wait_done(s);
        assert_int_equal(spawn_finish(s, &res), -ECANCELED);
        assert_true(now_usec() - start < WELL_BEFORE_USEC);
        assert_group_gone(spawn_get_pid(s));
}

/* A handle freed while its child runs: the child is left to finish, but not past its deadline. */
static void test_free_running(void **state) {
        char *argv[] = SH("sleep " CHILD_SLEEP);
        SpawnOptions o = { .timeout_usec = DEADLINE_USEC, .out_max = 4096 };
        uint64_t until = now_usec() + WELL_BEFORE_USEC;
        Spawn *s = NULL;
        pid_t pgid;

        assert_int_equal(spawn_start(argv, NULL, &o, &s), 0);
        pgid = spawn_get_pid(s);
        s = spawn_free(s);
        assert_int_equal(kill(pgid, 0), 0); /* left running */
        while (spawn_reap_finished() > 0) {
                assert_true(now_usec() < until);
                (void) poll(NULL, 0, 10);
        }
        assert_group_gone(pgid);
}

static bool has_done(const char *out, size_t n) {
        return n >= 5 && memcmp(out, "done\n", 5) == 0;
}

static void test_capture(void **state) {
        char *early[] = { (char *) "sh", (char *) "-c", (char *) "echo done; exec sleep " CHILD_SLEEP,
                          NULL };
        char *cat[] = { (char *) "cat", NULL };
        char *mask[] = { (char *) "grep", (char *) "^SigBlk:", (char *) "/proc/self/status", NULL };
        SpawnOptions o = { .out_max = 4096, .out_complete = has_done, .timeout_usec = 2 * USEC_PER_SEC };
        uint64_t until = now_usec() + WELL_BEFORE_USEC;
        sigset_t term, old;
        SpawnResult r = {};

        /* Output complete before the child exits: it is left to finish, and reaped later; at
         * its deadline at the latest. */
        assert_int_equal(spawn_capture(early, NULL, &o, &r), 0);
        assert_false(r.exited);
        assert_string_equal(r.out, "done\n");
        spawn_result_done(&r);
        assert_int_equal(spawn_reap_finished(), 1); /* still sleeping */
        while (spawn_reap_finished() > 0) {
                assert_true(now_usec() < until);
                (void) poll(NULL, 0, 10);
        }

        o = (SpawnOptions) { .timeout_usec = AMPLE_USEC, .out_max = 4096, .in = "a secret on stdin" };
        assert_int_equal(spawn_capture(cat, NULL, &o, &r), 0);
        assert_string_equal(r.out, "a secret on stdin"); /* given on stdin, never in argv */
        spawn_result_done(&r);

        /* A daemon blocks SIGTERM for its signalfd; its children must not inherit that. */
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        assert_int_equal(sigprocmask(SIG_BLOCK, &term, &old), 0);
        o = (SpawnOptions) { .timeout_usec = AMPLE_USEC, .out_max = 4096 };
        assert_int_equal(spawn_capture(mask, NULL, &o, &r), 0);
        assert_string_equal(r.out, "SigBlk:\t0000000000000000\n");
        spawn_result_done(&r);
        assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

static int use_pidfd(void **state) {
        spawn_set_pidfd_enabled(true);
        return 0;
}

static int use_waitpid(void **state) {
        spawn_set_pidfd_enabled(false);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_closes_pipes_then_hangs),
                cmocka_unit_test(test_ignores_sigterm),
                cmocka_unit_test(test_grandchild_holds_pipe),
                cmocka_unit_test(test_too_much_output),
                cmocka_unit_test(test_exits_nonzero),
                cmocka_unit_test(test_killed_by_signal),
                cmocka_unit_test(test_not_found),
                cmocka_unit_test(test_async_completes),
                cmocka_unit_test(test_async_timeout),
                cmocka_unit_test(test_async_kill),
                cmocka_unit_test(test_free_running),
                cmocka_unit_test(test_capture),
        };
        int fd, r;

        /* Orphans of the children's groups come to us, so that we can see them gone. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return 1;
        fd = mkstemp(pid_file);
        if (fd < 0)
                return 1;
        safe_close(fd);
        r = cmocka_run_group_tests_name("pidfd", tests, use_pidfd, NULL);
        r += cmocka_run_group_tests_name("waitpid", tests, use_waitpid, NULL);
        (void) unlink(pid_file);
        return r;
}
