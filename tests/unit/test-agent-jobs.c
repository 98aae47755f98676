/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent asks castlectl-osd to run for a coordinator's OsdCreate and Zap: one raw
 * device stays `osd prepare`, every other layout becomes `osd batch` with each field as its
 * option, and hostile fields (options as device names, counts and sizes past the bounds,
 * names that are no CRUSH class or spec id) are refused before anything runs. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/jobs.h"
#include "common/strv.h"

static const JobPrepareOptions opts = {
        .cluster = "ceph", .start_mode = "fork", .state_dir = "/run/st", .allow_loop = true,
};

static char *joined(const Castle__OsdCreate *c, int *ret_r, char **ret_err) {
        char **args = NULL, *s;

        *ret_r = job_osd_create_args(&opts, c, NULL, &args, ret_err);
        if (*ret_r < 0)
                return NULL;
        s = strv_join(args, " ");
        strv_free(args);
        return s;
}

static void test_single_raw_is_prepare(void **state) {
        Castle__OsdCreate c = CASTLE__OSD_CREATE__INIT;
        int32_t id = 7;
        char *err = NULL, *s;
        int r;
        (void) state;

        c.device_id = (char *) "wwn-a";
        s = joined(&c, &r, &err);
        assert_int_equal(r, 0);
        assert_string_equal(s, "osd prepare --data=wwn-a --progress=json --start-mode=fork --cluster=ceph "
                               "--state-dir=/run/st --allow-loop");
        free(s);
        /* one id to reuse and a dry run are still a prepare */
        c.osd_ids = &id;
        c.n_osd_ids = 1;
        c.dry_run = true;
        c.crush_device_class = (char *) "ssd";
        s = joined(&c, &r, &err);
        assert_int_equal(r, 0);
        assert_non_null(strstr(s, "osd prepare --data=wwn-a "));
        assert_non_null(strstr(s, " --crush-device-class=ssd --dry-run --osd-id=7"));
        assert_false(job_osd_create_is_batch(&c));
        free(s);
}

static void test_two_raw_is_batch(void **state) {
        Castle__OsdCreate c = CASTLE__OSD_CREATE__INIT;
        char *more[] = { (char *) "/dev/loop9" }, *err = NULL, *s;
        int r;
        (void) state;

        c.device_id = (char *) "/dev/loop8";
        c.data_devices = more;
        c.n_data_devices = 1;
        assert_true(job_osd_create_is_batch(&c));
        s = joined(&c, &r, &err);
        assert_int_equal(r, 0);
        assert_string_equal(s, "osd batch /dev/loop8 /dev/loop9 --progress=json --start-mode=fork --cluster=ceph "
                               "--state-dir=/run/st --allow-loop --method=raw");
        free(s);
}

static void test_lvm_batch_every_field(void **state) {
        Castle__OsdCreate c = CASTLE__OSD_CREATE__INIT;
        char *db[] = { (char *) "nvme-x" }, *wal[] = { (char *) "nvme-y" }, *err = NULL, *s;
        int32_t ids[] = { 3, 4 };
        int r;
        (void) state;

        c.device_id = (char *) "sda";
        c.lvm = true;
        c.db_devices = db;
        c.n_db_devices = 1;
        c.wal_devices = wal;
        c.n_wal_devices = 1;
        c.osds_per_device = 2;
        c.block_db_size = 1073741824;
        c.block_wal_size = 1048576;
        c.db_slots = 4;
        c.wal_slots = 5;
        c.dmcrypt = true;
        c.osd_ids = ids;
        c.n_osd_ids = 2;
        c.spec = (char *) "fast-hdd";
        c.dry_run = true;
        s = joined(&c, &r, &err);
        assert_int_equal(r, 0);
        assert_string_equal(s, "osd batch sda --progress=json --start-mode=fork --cluster=ceph --state-dir=/run/st "
                               "--allow-loop --method=lvm --db-devices=nvme-x --wal-devices=nvme-y "
                               "--osds-per-device=2 --block-db-size=1073741824 --block-wal-size=1048576 "
                               "--db-slots=4 --wal-slots=5 --dmcrypt --osd-id=3 --osd-id=4 "
                               "--osdspec-affinity=fast-hdd --report");
        free(s);
}

static void test_hostile_refused(void **state) {
        Castle__OsdCreate c;
        char *opt[] = { (char *) "--dmcrypt" }, *many[JOB_MAX_DEVICES + 1], *err = NULL;
        char longname[JOB_DEVICE_NAME_MAX + 2];
        int32_t neg = -1;
        char **args = NULL;
        (void) state;

#define REFUSED(expect)                                                                         \
        do {                                                                                    \
                assert_int_equal(job_osd_create_args(&opts, &c, NULL, &args, &err), expect);    \
                assert_null(args);                                                              \
                assert_non_null(err);                                                           \
                free(err);                                                                      \
                err = NULL;                                                                     \
        } while (0)
#define RESET() do { c = (Castle__OsdCreate) CASTLE__OSD_CREATE__INIT; c.device_id = (char *) "sdb"; } while (0)

        RESET();
        c.device_id = (char *) "--help";
        REFUSED(-EINVAL);
        RESET();
        c.device_id = (char *) "";
        REFUSED(-EINVAL);
        RESET();
        c.device_id = (char *) "sd b";
        REFUSED(-EINVAL);
        RESET();
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        c.device_id = longname;
        REFUSED(-EINVAL);
        RESET();
        c.db_devices = opt;
        c.n_db_devices = 1;
        REFUSED(-EINVAL);
        RESET();
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (char *) "sdc";
        c.wal_devices = many;
        c.n_wal_devices = ELEMENTSOF(many);
        REFUSED(-E2BIG);
        RESET();
        c.osds_per_device = JOB_MAX_OSDS_PER_DEVICE + 1;
        REFUSED(-ERANGE);
        RESET();
        c.db_slots = UINT32_MAX;
        REFUSED(-ERANGE);
        RESET();
        c.block_db_size = UINT64_MAX;
        REFUSED(-ERANGE);
        RESET();
        c.osd_ids = &neg;
        c.n_osd_ids = 1;
        REFUSED(-EINVAL);
        RESET();
        c.n_osd_ids = 100000;
        REFUSED(-E2BIG);
        RESET();
        c.crush_device_class = (char *) "ssd;rm";
        REFUSED(-EINVAL);
        RESET();
        c.spec = (char *) "a/b";
        REFUSED(-EINVAL);
        RESET();
        c.lvm = true;
        c.spec = (char *) "has space";
        REFUSED(-EINVAL);
#undef REFUSED
#undef RESET
}

static void test_zap(void **state) {
        Castle__Zap z = CASTLE__ZAP__INIT;
        char **args = NULL, *err = NULL, *s;
        (void) state;

        z.device = (char *) "/dev/loop5";
        z.destroy = true;
        assert_int_equal(job_zap_args(&opts, &z, &args, &err), 0);
        s = strv_join(args, " ");
        assert_string_equal(s, "zap --progress=json --cluster=ceph --state-dir=/run/st --allow-loop --destroy -- "
                               "/dev/loop5");
        free(s);
        args = strv_free(args);
        z.device = (char *) "--osd-id=1";
        assert_int_equal(job_zap_args(&opts, &z, &args, &err), -EINVAL);
        assert_null(args);
        free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_raw_is_prepare),
                cmocka_unit_test(test_two_raw_is_batch),
                cmocka_unit_test(test_lvm_batch_every_field),
                cmocka_unit_test(test_hostile_refused),
                cmocka_unit_test(test_zap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
