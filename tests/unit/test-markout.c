/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mark-out decision (agent/markout.c): a failing disk's OSD is marked once with the
 * option on, never with it off, not again in the same episode, again after the disk
 * recovered and failed anew, and again after its mark-out failed; only done ones count. */
#include "tests/unit/testutil.h"

#include <stdlib.h>

#include "agent/markout.h"

static size_t decide(MarkOut *m, bool on, const MarkOutOsd *o, size_t n, int *first) {
        _cleanup_free_ int *ids = NULL;
        size_t k = 99;

        assert_int_equal(mark_out_decide(m, on, o, n, &ids, &k), 0);
        if (k > 0)
                *first = ids[0];
        else
                assert_null(ids);
        return k;
}

static void test_decide(void **state) {
        MarkOutOsd osds[] = { { 3, false }, { 5, false } };
        MarkOut *m = NULL;
        int id = -1;

        (void) state;
        assert_int_equal(mark_out_new(&m), 0);
        /* healthy disks: nothing */
        assert_int_equal(decide(m, true, osds, 2, &id), 0);
        /* osd.5's disk fails, the option is off: nothing */
        osds[1].failing = true;
        assert_int_equal(decide(m, false, osds, 2, &id), 0);
        /* on: osd.5, once */
        assert_int_equal(decide(m, true, osds, 2, &id), 1);
        assert_int_equal(id, 5);
        assert_int_equal(decide(m, true, osds, 2, &id), 0);
        assert_int_equal(mark_out_count(m), 0);
        /* its mark-out failed (the monitors unreachable): asked for again, not counted */
        mark_out_result(m, 5, false);
        assert_int_equal(mark_out_count(m), 0);
        assert_int_equal(decide(m, true, osds, 2, &id), 1);
        assert_int_equal(id, 5);
        assert_int_equal(decide(m, true, osds, 2, &id), 0);
        /* done: counted, and not asked for again in this episode */
        mark_out_result(m, 5, true);
        assert_int_equal(mark_out_count(m), 1);
        assert_int_equal(decide(m, true, osds, 2, &id), 0);
        /* the disk recovers, then fails again: a new episode, marked again */
        osds[1].failing = false;
        assert_int_equal(decide(m, true, osds, 2, &id), 0);
        osds[1].failing = true;
        assert_int_equal(decide(m, true, osds, 2, &id), 1);
        assert_int_equal(id, 5);
        mark_out_result(m, 5, true);
        /* the OSD gone from the list ends its episode too */
        assert_int_equal(decide(m, true, osds, 1, &id), 0);
        assert_int_equal(decide(m, true, osds, 2, &id), 1);
        mark_out_result(m, 5, true);
        assert_int_equal(mark_out_count(m), 3);
        /* an OSD without a known id is never marked */
        osds[0] = (MarkOutOsd) { -1, true };
        assert_int_equal(decide(m, true, osds, 1, &id), 0);
        m = mark_out_free(m);
        assert_null(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decide),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
