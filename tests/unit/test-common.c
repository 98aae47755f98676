/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/: sizes, string vectors, bounded retries, random UUIDs (spawning: test-spawn.c). */
#include "tests/unit/testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_size),
                cmocka_unit_test(test_format_size),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_retry),
                cmocka_unit_test(test_uuid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
