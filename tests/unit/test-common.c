/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/: sizes, string vectors, bounded retries, random UUIDs, escaping in logs and tables
 * (spawning: test-spawn.c). */
#include "tests/unit/testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/table.h"
#include "common/escape.h"
#include "common/log.h"
#include "common/retry.h"
#include "common/size.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "common/uuid.h"

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

static void test_retry(void **state) {
        Retry t = RETRY(.attempts = 3, .interval_usec = USEC_PER_MSEC);
        unsigned tries = 0;

        /* Three tries, two pauses; errno survives for the caller. */
        do {
                tries++;
                errno = EBUSY;
        } while (retry_wait(&t));
        assert_int_equal(tries, 3);
        assert_int_equal(errno, EBUSY);

        /* A time limit alone: tries until it has passed, at least once more after the first. */
        t = RETRY(.timeout_usec = 20 * USEC_PER_MSEC, .interval_usec = 5 * USEC_PER_MSEC);
        tries = 0;
        do
                tries++;
        while (retry_wait(&t));
        assert_true(tries >= 2);
        assert_true(now_usec() >= t.start_usec + t.timeout_usec);

        /* Both: whichever comes first. */
        t = RETRY(.attempts = 1, .timeout_usec = 10 * USEC_PER_SEC, .interval_usec = USEC_PER_SEC);
        assert_false(retry_wait(&t));
}

static void test_uuid(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(uuid_random(&a), 0);
        assert_int_equal(uuid_random(&b), 0);
        assert_int_equal(strlen(a), UUID_STRING_LEN);
        assert_int_equal(a[8], '-');
        assert_int_equal(a[14], '4'); /* version 4: random */
        assert_string_not_equal(a, b);
}

/* Text from peers cannot start a log line of its own or reach a terminal as a control. */
static void test_escape(void **state) {
        _cleanup_free_ char *a = strdup_escaped("plain caf\xc3\xa9 \xe2\x82\xac \\x1b"),
                            *b = strdup_escaped("x\ny\r\t\033[2J\x7f\xc2\x9b\xff\xc3");

        assert_string_equal(a, "plain caf\xc3\xa9 \xe2\x82\xac \\x1b");
        assert_string_equal(b, "x\\ny\\r\\t\\x1b[2J\\x7f\\xc2\\x9b\\xff\\xc3");
}

static char *capture_stderr(void (*fn)(void)) {
        FILE *f = tmpfile();
        int saved = dup(STDERR_FILENO);
        char *buf = calloc(1, 16384);

        assert_non_null(f);
        assert_non_null(buf);
        assert_true(saved >= 0);
        fflush(stderr);
        assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
        fn();
        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        rewind(f);
        assert_true(fread(buf, 1, 16383, f) > 0);
        fclose(f);
        return buf;
}

static void log_hostile(void) {
        log_warning("Node %s (%s) connected.", "n1", "x\ncastle-coordinator: Node root connected.\033[2J");
}

static void log_long(void) {
        char big[5000];

        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = 0;
        big[4000] = '\n';
        log_error_errno(SYNTHETIC_ERRNO(ENOENT), "%s: %m", big);
}

static void test_log_escapes(void **state) {
        _cleanup_free_ char *out = capture_stderr(log_hostile), *out2 = NULL;

        assert_non_null(strstr(out, "warning: Node n1 (x\\ncastle-coordinator: Node root connected.\\x1b[2J) "
                                    "connected.\n"));
        assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
        assert_null(strchr(out, '\033'));

        /* longer than the stack buffer: escaped as well, and %m still the given error */
        out2 = capture_stderr(log_long);
        assert_non_null(strstr(out2, "a\\na"));
        assert_non_null(strstr(out2, ": No such file or directory\n"));
}

static void test_table_escapes(void **state) {
        static const char *const headers[] = { "NODE", "HOSTNAME" };
        Table *t = table_new(headers, 2);
        _cleanup_free_ char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);

        assert_non_null(t);
        assert_non_null(f);
        assert_int_equal(table_add_row(t, (const char *[]) { "n1", "evil\033[2J\nnext" }), 0);
        assert_int_equal(table_add_row(t, (const char *[]) { "n2", NULL }), 0);
        table_print(t, f, true);
        fclose(f);
        table_free(t);
        assert_string_equal(out, "NODE  HOSTNAME\n"
                                 "n1    evil\\x1b[2J\\nnext\n"
                                 "n2    -\n");
}

/* --since: a Unix time, an ISO date or date and time (UTC with Z), or a duration ago. */
static void test_parse_timestamp(void **state) {
        const int64_t now = INT64_C(1765000000) * (int64_t) USEC_PER_SEC;
        int64_t t = 0;

        assert_int_equal(parse_timestamp("1764990000", now, &t), 0);
        assert_int_equal(t, INT64_C(1764990000) * (int64_t) USEC_PER_SEC);
        assert_int_equal(parse_timestamp("1h", now, &t), 0);
        assert_int_equal(t, now - (int64_t) USEC_PER_HOUR);
        assert_int_equal(parse_timestamp("30min", now, &t), 0);
        assert_int_equal(t, now - 30 * (int64_t) USEC_PER_MINUTE);
        assert_int_equal(parse_timestamp("2025-12-06T05:46:40Z", now, &t), 0);
        assert_int_equal(t, now);
        assert_int_equal(parse_timestamp("2025-12-06 05:46Z", now, &t), 0);
        assert_int_equal(t, now - 40 * (int64_t) USEC_PER_SEC);
        assert_int_equal(parse_timestamp("2025-12-06Z", now, &t), 0);
        assert_int_equal(t, INT64_C(1764979200) * (int64_t) USEC_PER_SEC);
        assert_int_equal(parse_timestamp("2025-12-06", now, &t), 0); /* local midnight */
        assert_int_equal(parse_timestamp("", now, &t), -EINVAL);
        assert_int_equal(parse_timestamp("yesterday", now, &t), -EINVAL);
        assert_int_equal(parse_timestamp("2025-13-45", now, &t), -EINVAL);
        assert_int_equal(parse_timestamp("2025-12-06T05:46:40+02", now, &t), -EINVAL);
        assert_int_equal(parse_timestamp("99999999999999999999", now, &t), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_size),
                cmocka_unit_test(test_format_size),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_retry),
                cmocka_unit_test(test_uuid),
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_log_escapes),
                cmocka_unit_test(test_table_escapes),
                cmocka_unit_test(test_parse_timestamp),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
