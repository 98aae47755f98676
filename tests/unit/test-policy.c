/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node's auto-prepare policy: filters pick the devices, each device is taken once, and a
 * policy from the coordinator whose filters the regex gate refuses (the patterns that made
 * regcomp() take 17 s and 1.1 GiB, or crash the agent) leaves the old policy in force. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"

static Castle__Device device(const char *kname, const char *path, const char *stable_id) {
        Castle__Device d = CASTLE__DEVICE__INIT;

        d.kname = (char *) kname;
        d.path = (char *) path;
        d.stable_id = (char *) stable_id;
        d.available = true;
        return d;
}

static void test_take_once(void **state) {
        Policy p = {};
        char *err = NULL;
        Castle__Device sdb = device("sdb", "/dev/sdb", "wwn-b"), sdz = device("sdz", "/dev/sdz", "wwn-z");
        (void) state;

        assert_false(policy_take(&p, &sdb)); /* off by default */
        assert_int_equal(policy_set(&p, true, "^sd[b-d]$", "^/dev/", NULL, &err), 0);
        assert_null(err);
        assert_false(policy_take(&p, &sdz));
        assert_true(policy_take(&p, &sdb));
        assert_false(policy_take(&p, &sdb)); /* tried once */
        policy_done(&p);
}

static void test_hostile_filter_keeps_policy(void **state) {
        static const char *const hostile[] = {
                "((a{1,100}){1,100}){1,100}",
                "(((a{0,255}){0,255}){0,255})",
                "((a{1,32}){1,32}){1,32}",
                "sd\x1b[2J(",
        };
        Policy p = {};
        char *err = NULL;
        Castle__Device sdb = device("sdb", "/dev/sdb", "wwn-b"), sdc = device("sdc", "/dev/sdc", "wwn-c"), sdz = device("sdz", "/dev/sdz", "wwn-z");
        (void) state;

        assert_int_equal(policy_set(&p, true, "^sd[b-d]$", NULL, "ssd", &err), 0);
        assert_true(policy_take(&p, &sdb));
        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                assert_int_equal(policy_set(&p, false, hostile[i], NULL, NULL, &err), -EINVAL);
                assert_non_null(strstr(err, "auto-prepare-filter refused: "));
                assert_null(strchr(err, '\x1b')); /* the refused pattern is not echoed */
                err = mfree(err);
                assert_int_equal(policy_set(&p, false, NULL, hostile[i], NULL, &err), -EINVAL);
                assert_non_null(strstr(err, "auto-prepare-path-filter refused: "));
                err = mfree(err);
        }
        /* still the old policy: on, its filter, its class, and what it already tried */
        assert_true(p.auto_prepare);
        assert_string_equal(p.crush_class, "ssd");
        assert_false(policy_take(&p, &sdz));
        assert_false(policy_take(&p, &sdb));
        assert_true(policy_take(&p, &sdc));

        /* a syntax error that the gate lets through is still regcomp()'s to report */
        assert_int_equal(policy_set(&p, false, "[[:bogus:]]", NULL, NULL, &err), -EINVAL);
        assert_non_null(strstr(err, "auto-prepare-filter '[[:bogus:]]': "));
        err = mfree(err);
        assert_true(p.auto_prepare);
        policy_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_take_once),
                cmocka_unit_test(test_hostile_filter_keeps_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
