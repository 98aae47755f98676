/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/: sizes, string vectors, and spawning helpers with deadlines. */
#include "tests/unit/testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/size.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "common/timeutil.h"

static void test_parse_size(void **state) {
        uint64_t v;

        assert_int_equal(parse_size("512", &v), 0);
        assert_int_equal(v, 512);
        assert_int_equal(parse_size("5G", &v), 0);
        assert_int_equal(v, UINT64_C(5368709120));
        assert_int_equal(parse_size("5GiB", &v), 0);
        assert_int_equal(v, UINT64_C(5368709120));
        assert_int_equal(parse_size("1.5t", &v), 0);
        assert_int_equal(v, UINT64_C(1649267441664));
        assert_int_equal(parse_size("100MB", &v), 0);
        assert_int_equal(v, UINT64_C(104857600));
        assert_int_equal(parse_size("", &v), -EINVAL);
        assert_int_equal(parse_size("-1G", &v), -EINVAL);
        assert_int_equal(parse_size("5X", &v), -EINVAL);
        assert_int_equal(parse_size("5Gx", &v), -EINVAL);
        assert_int_equal(parse_size("99999999E", &v), -ERANGE);
}

static void test_format_size(void **state) {
        char b[FORMAT_SIZE_MAX];

        assert_string_equal(format_size(0, b, sizeof b), "0B");
        assert_string_equal(format_size(1023, b, sizeof b), "1023B");
        assert_string_equal(format_size(UINT64_C(5368709120), b, sizeof b), "5G");
        assert_string_equal(format_size(UINT64_C(1610612736), b, sizeof b), "1.5G");
        assert_string_equal(format_size(UINT64_C(4000787030016), b, sizeof b), "3.6T");
}

static void test_strv(void **state) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *j = NULL;

        assert_int_equal(strv_extend(&l, "b"), 0);
        assert_int_equal(strv_extend_unique(&l, "a"), 0);
        assert_int_equal(strv_extend_unique(&l, "b"), 0);
        assert_int_equal(strv_length(l), 2);
        strv_sort(l);
        j = strv_join(l, ", ");
        assert_string_equal(j, "a, b");
        assert_true(strv_contains(l, "a"));
        assert_false(strv_contains(l, "c"));
}

static bool has_done(const char *out, size_t n) {
        return n >= 5 && memcmp(out, "done\n", 5) == 0;
}

static void test_spawn(void **state) {
        char *ok[] = { (char *) "sh", (char *) "-c", (char *) "echo out; echo err >&2; exit 3", NULL };
        char *slow[] = { (char *) "sleep", (char *) "10", NULL };
        char *big[] = { (char *) "sh", (char *) "-c", (char *) "head -c 100000 /dev/zero", NULL };
        char *missing[] = { (char *) "castle-no-such-program", NULL };
        char *early[] = { (char *) "sh", (char *) "-c", (char *) "echo done; exec sleep 2", NULL };
        SpawnResult r = {};

        assert_int_equal(spawn_capture(ok, NULL, &(SpawnOptions) { 5 * USEC_PER_SEC, 4096 }, &r), 0);
        assert_int_equal(r.status, 3);
        assert_string_equal(r.out, "out\n");
        assert_string_equal(r.err, "err\n");
        spawn_result_done(&r);

        /* Killed at the deadline: returns only once the child is gone. */
        assert_int_equal(spawn_capture(slow, NULL, &(SpawnOptions) { 200 * USEC_PER_MSEC, 4096 }, &r), -ETIMEDOUT);

        assert_int_equal(spawn_capture(big, NULL, &(SpawnOptions) { 5 * USEC_PER_SEC, 1000 }, &r), -EFBIG);
        /* Output complete before the child exits: it is left to finish, and reaped later. */
        assert_int_equal(spawn_capture(early, NULL, &(SpawnOptions) { .timeout_usec = 5 * USEC_PER_SEC, .out_max = 4096, .out_complete = has_done }, &r), 0);
        assert_false(r.exited);
        assert_string_equal(r.out, "done\n");
        spawn_result_done(&r);
        assert_int_equal(spawn_reap_finished(), 1); /* still sleeping */

        char *cat[] = { (char *) "cat", NULL };
        assert_int_equal(spawn_capture(cat, NULL, &(SpawnOptions) { .timeout_usec = 5 * USEC_PER_SEC, .out_max = 4096,
                                                                     .in = "a secret on stdin" }, &r), 0);
        assert_string_equal(r.out, "a secret on stdin"); /* given on stdin, never in argv */
        spawn_result_done(&r);
        /* A daemon blocks SIGTERM for its signalfd; its children must not inherit that. */
        sigset_t term, old;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        assert_int_equal(sigprocmask(SIG_BLOCK, &term, &old), 0);
        char *mask[] = { (char *) "grep", (char *) "^SigBlk:", (char *) "/proc/self/status", NULL };
        assert_int_equal(spawn_capture(mask, NULL, &(SpawnOptions) { .timeout_usec = 5 * USEC_PER_SEC, .out_max = 4096 }, &r), 0);
        assert_string_equal(r.out, "SigBlk:\t0000000000000000\n");
        spawn_result_done(&r);
        assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
        assert_int_equal(spawn_capture(missing, NULL, &(SpawnOptions) { 5 * USEC_PER_SEC, 1000 }, &r), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_size),
                cmocka_unit_test(test_format_size),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_spawn),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
