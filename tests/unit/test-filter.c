/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drive-group style filters. */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/strv.h"
#include "discovery/filter.h"

#define GIB (UINT64_C(1) << 30)

static Device *disk(void) {
        Device *d = device_new("sdb");

        assert_non_null(d);
        d->path = strdup("/dev/sdb");
        assert_int_equal(strv_extend(&d->links, "/dev/disk/by-path/pci-0000:03:00.0-sas-phy4-lun-0"), 0);
        assert_int_equal(strv_extend(&d->links, "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"), 0);
        d->size = 4000 * GIB;
        d->rotational = true;
        d->model = strdup("ST4000NM0035-1V4107");
        d->vendor = strdup("SEAGATE");
        d->transport = TRANSPORT_SAS;
        return d;
}

static void test_empty_filter_matches(void **state) {
        _cleanup_(device_freep) Device *d = disk();
        Filter f;

        filter_init(&f);
        assert_true(filter_match(&f, d));
        filter_done(&f);
}

static void test_regexes(void **state) {
        _cleanup_(device_freep) Device *d = disk();
        _cleanup_free_ char *err = NULL;
        Filter f;

        filter_init(&f);
        assert_int_equal(filter_set_name_regex(&f, "^sd[b-d]$", NULL), 0);
        assert_true(filter_match(&f, d));
        assert_int_equal(filter_set_name_regex(&f, "^nvme", NULL), 0);
        assert_false(filter_match(&f, d));
        filter_done(&f);

        filter_init(&f);
        assert_int_equal(filter_set_path_regex(&f, "^/dev/disk/by-path/pci-0000:03:00.0", NULL), 0);
        assert_true(filter_match(&f, d));
        assert_int_equal(filter_set_path_regex(&f, "by-id/wwn-0x5000c500a1b2c3d4$", NULL), 0);
        assert_true(filter_match(&f, d));
        assert_int_equal(filter_set_path_regex(&f, "^/dev/sdb$", NULL), 0);
        assert_true(filter_match(&f, d));
        assert_int_equal(filter_set_path_regex(&f, "by-path/pci-0000:04", NULL), 0);
        assert_false(filter_match(&f, d));

        assert_int_equal(filter_set_path_regex(&f, "([", &err), -EINVAL);
        assert_non_null(err);
        assert_non_null(strstr(err, "(["));
        filter_done(&f);
}

static void test_size_and_rotation(void **state) {
        _cleanup_(device_freep) Device *d = disk();
        Filter f;

        filter_init(&f);
        f.min_size = 1000 * GIB;
        f.max_size = 4000 * GIB;
        assert_true(filter_match(&f, d));
        f.max_size = 3999 * GIB;
        assert_false(filter_match(&f, d));
        f.max_size = 0;
        f.rotational = 0;
        assert_false(filter_match(&f, d));
        f.rotational = 1;
        assert_true(filter_match(&f, d));
        filter_done(&f);
}

static void test_model_vendor_transport(void **state) {
        _cleanup_(device_freep) Device *d = disk();
        Filter f;

        filter_init(&f);
        assert_int_equal(filter_set_model(&f, "nm0035"), 0); /* substring, any case */
        assert_true(filter_match(&f, d));
        assert_int_equal(filter_set_model(&f, "ST4000*"), 0); /* glob */
        assert_true(filter_match(&f, d));
        assert_int_equal(filter_set_model(&f, "ST8000*"), 0);
        assert_false(filter_match(&f, d));
        assert_int_equal(filter_set_model(&f, "ST4000*"), 0);
        assert_int_equal(filter_set_vendor(&f, "seagate"), 0);
        assert_true(filter_match(&f, d));
        f.transport = TRANSPORT_NVME;
        assert_false(filter_match(&f, d));
        f.transport = (int) transport_from_string("SAS");
        assert_true(filter_match(&f, d));
        assert_int_equal(transport_from_string("warp"), _TRANSPORT_MAX);
        filter_done(&f);

        /* A device without a model never matches a model filter. */
        d->model = mfree(d->model);
        filter_init(&f);
        assert_int_equal(filter_set_model(&f, "*"), 0);
        assert_false(filter_match(&f, d));
        filter_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_filter_matches),
                cmocka_unit_test(test_regexes),
                cmocka_unit_test(test_size_and_rotation),
                cmocka_unit_test(test_model_vendor_transport),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
