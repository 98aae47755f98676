/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Debounce: quiet window, maximum delay, coalescing, and the bound on touched devices. */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "agent/debounce.h"
#include "common/strv.h"

#define MS 1000

static void test_quiet_window(void **state) {
        Debounce d;
        char **dirty = NULL;
        bool full;

        debounce_init(&d, 20 * MS, 200 * MS);
        assert_int_equal(debounce_due(&d), UINT64_MAX);
        assert_false(debounce_take(&d, 0, &dirty, &full));
        debounce_touch(&d, "sda", 1000 * MS);
        assert_int_equal(debounce_due(&d), 1020 * MS);
        assert_false(debounce_take(&d, 1019 * MS, &dirty, &full));
        assert_true(debounce_take(&d, 1020 * MS, &dirty, &full));
        assert_false(full);
        assert_int_equal(strv_length(dirty), 1);
        assert_string_equal(dirty[0], "sda");
        strv_free(dirty);
        assert_int_equal(debounce_due(&d), UINT64_MAX);
        debounce_done(&d);
}

static void test_storm_is_bounded_by_max_delay(void **state) {
        Debounce d;
        char **dirty = NULL;
        bool full;
        unsigned batches = 0;

        /* 500 events, one every millisecond for one disk: the quiet window never passes, the
         * maximum delay fires. */
        debounce_init(&d, 20 * MS, 200 * MS);
        for (uint64_t t = 0; t < 500; t++) {
                debounce_touch(&d, "sdb", t * MS);
                if (debounce_take(&d, t * MS, &dirty, &full)) {
                        batches++;
                        assert_int_equal(strv_length(dirty), 1);
                        dirty = strv_free(dirty);
                }
        }
        assert_true(debounce_take(&d, 600 * MS, &dirty, &full));
        batches++;
        strv_free(dirty);
        assert_int_equal(batches, 3); /* at 200 ms, 400 ms, and the tail */
        debounce_done(&d);
}

static void test_coalescing_and_full(void **state) {
        Debounce d;
        char **dirty = NULL;
        bool full;

        debounce_init(&d, 20 * MS, 200 * MS);
        debounce_touch(&d, "sda", 0);
        debounce_touch(&d, "sda", 1 * MS);
        debounce_touch(&d, "sdb", 2 * MS);
        debounce_rescan(&d, 3 * MS);
        assert_true(debounce_take(&d, 100 * MS, &dirty, &full));
        assert_false(full);
        assert_int_equal(strv_length(dirty), 2);
        dirty = strv_free(dirty);

        debounce_rescan(&d, 200 * MS);
        assert_true(debounce_take(&d, 300 * MS, &dirty, &full));
        assert_null(dirty); /* a mount change re-reads state, re-probes nothing */
        assert_false(full);

        debounce_touch(&d, "sda", 400 * MS);
        debounce_full(&d, 401 * MS);
        debounce_touch(&d, "sdc", 402 * MS);
        assert_true(debounce_take(&d, 500 * MS, &dirty, &full));
        assert_true(full);
        assert_null(dirty);
        debounce_done(&d);
}

static void test_too_many_devices_means_full(void **state) {
        Debounce d;
        char **dirty = NULL, name[32];
        bool full;

        debounce_init(&d, 20 * MS, 200 * MS);
        for (int i = 0; i < DEBOUNCE_MAX_DIRTY + 5; i++) {
                snprintf(name, sizeof name, "sd%d", i);
                debounce_touch(&d, name, 0);
        }
        assert_true(debounce_take(&d, 1000 * MS, &dirty, &full));
        assert_true(full);
        assert_null(dirty);
        debounce_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_quiet_window),
                cmocka_unit_test(test_storm_is_bounded_by_max_delay),
                cmocka_unit_test(test_coalescing_and_full),
                cmocka_unit_test(test_too_many_devices_means_full),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
