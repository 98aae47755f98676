/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The removal journal (osd-prep/removal.c): an entry written and read back whole, the list of
 * ids in order, entries that are not ours or not JSON refused, and removal; the CRUSH device
 * class read from both shapes of the monitors' reply (osd-prep/remove.c). */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "osd-prep/removal.h"
#include "osd-prep/remove.h"

static char dir[] = "/tmp/castle-test-removal.XXXXXX";

static void put(const char *name, const char *text) {
        char path[256];
        snprintf(path, sizeof path, "%s/remove/%s", dir, name);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
}

static void test_steps(void **state) {
        (void) state;
        for (RemovalStep s = 0; s < _REMOVAL_STEP_MAX; s++)
                assert_int_equal(removal_step_from_string(removal_step_to_string(s)), s);
        assert_int_equal(removal_step_from_string("bogus"), _REMOVAL_STEP_MAX);
        assert_string_equal(removal_step_to_string(REMOVAL_DESTROYED), "destroyed");
}

static void test_round_trip(void **state) {
        RemovalEntry e = {
                .osd_id = 7, .osd_uuid = (char *) "0b5c2f2e-8d7c-4e0e-a3f5-0e5d6b1b2c3d",
                .cluster_fsid = (char *) "c0ffee00-0000-4000-8000-000000000001", .step = REMOVAL_STOPPED,
                .replace = true, .zap = true, .command_id = UINT64_C(9007199254740991),
                .started_usec = INT64_C(1700000000000000), .updated_usec = INT64_C(1700000000500000),
                .error = (char *) "osd.7 is not down", .lvm = true, .encrypted = true,
                .crush_device_class = (char *) "ssd", .by_path = (char *) "/dev/disk/by-path/pci-0000:00:1f.2-ata-3",
                .block = { (char *) "wwn-0x5000c500a1b2c3d4", (char *) "ceph-a", (char *) "osd-block-a", 1 << 30 },
                .db = { (char *) "nvme-eui.0011", (char *) "ceph-db", (char *) "osd-db-a", 1 << 28 },
                .pgs_left = 12,
        };
        RemovalEntry r = { .osd_id = -1 };
        struct stat st;
        char path[256];

        (void) state;
        assert_int_equal(removal_write(dir, &e), 0);
        snprintf(path, sizeof path, "%s/remove/7.json", dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(removal_read(dir, 7, &r), 1);
        assert_int_equal(r.osd_id, 7);
        assert_string_equal(r.osd_uuid, e.osd_uuid);
        assert_string_equal(r.cluster_fsid, e.cluster_fsid);
        assert_int_equal(r.step, REMOVAL_STOPPED);
        assert_true(r.replace && r.zap && !r.force && r.lvm && r.encrypted);
        assert_true(r.command_id == e.command_id);
        assert_true(r.started_usec == e.started_usec && r.updated_usec == e.updated_usec);
        assert_string_equal(r.error, e.error);
        assert_string_equal(r.crush_device_class, "ssd");
        assert_string_equal(r.by_path, e.by_path);
        assert_string_equal(r.block.stable_id, "wwn-0x5000c500a1b2c3d4");
        assert_string_equal(r.block.vg, "ceph-a");
        assert_string_equal(r.block.lv, "osd-block-a");
        assert_true(r.block.size == 1 << 30);
        assert_string_equal(r.db.lv, "osd-db-a");
        assert_null(r.wal.stable_id);
        assert_null(r.replacement);
        assert_int_equal(r.pgs_left, 12);
        removal_entry_done(&r);
        assert_int_equal(removal_read(dir, 8, &r), 0);
}

static void test_list_and_refusals(void **state) {
        _cleanup_free_ int *ids = NULL;
        RemovalEntry r = { .osd_id = -1 };
        size_t n = 0;

        (void) state;
        put("12.json", "{\"osd_id\": 12, \"step\": \"out\"}");
        put("3.json", "{\"osd_id\": 3, \"step\": \"requested\", \"mode\": \"raw\"}");
        put("4.json", "{\"osd_id\": 5, \"step\": \"out\"}");              /* another id inside */
        put("6.json", "not json");
        put("9.json", "{\"osd_id\": 9, \"step\": \"eaten\"}");
        put("10.json", "{\"osd_id\": 10, \"step\": \"out\", \"by_path\": 3}");
        put("README", "x");
        put("x.json", "{}");
        assert_int_equal(removal_list(dir, &ids, &n), 0);
        assert_int_equal(n, 7); /* 3 4 6 7 9 10 12 */
        assert_int_equal(ids[0], 3);
        assert_int_equal(ids[n - 1], 12);
        assert_int_equal(removal_read(dir, 3, &r), 1);
        assert_int_equal(r.pgs_left, -1); /* not in the file */
        assert_false(r.lvm);
        removal_entry_done(&r);
        assert_int_equal(removal_read(dir, 12, &r), 1);
        assert_int_equal(r.step, REMOVAL_OUT);
        removal_entry_done(&r);
        assert_true(removal_read(dir, 4, &r) < 0);
        assert_true(removal_read(dir, 6, &r) < 0);
        assert_true(removal_read(dir, 9, &r) < 0);
        assert_true(removal_read(dir, 10, &r) < 0);
        assert_int_equal(removal_remove(dir, 12), 0);
        assert_int_equal(removal_remove(dir, 12), 0);
        assert_int_equal(removal_read(dir, 12, &r), 0);
}

static void test_device_class(void **state) {
        char *cls = NULL;

        (void) state;
        /* Reef and later: objects; only the class goes to the journal. */
        assert_int_equal(remove_parse_device_class("[{\"osd\": 0, \"device_class\": \"hdd\"}]", 0, &cls), 1);
        assert_string_equal(cls, "hdd");
        free(cls);
        cls = NULL;
        assert_int_equal(remove_parse_device_class(
                        "[{\"osd\": 1, \"device_class\": \"ssd\"}, {\"osd\": 3, \"device_class\": \"nvme\"}]", 3, &cls), 1);
        assert_string_equal(cls, "nvme");
        free(cls);
        cls = NULL;
        /* Before Reef: strings. */
        assert_int_equal(remove_parse_device_class("[\"ssd\"]", 5, &cls), 1);
        assert_string_equal(cls, "ssd");
        free(cls);
        cls = NULL;
        /* No class, or a class of no string: nothing stored. */
        assert_int_equal(remove_parse_device_class("[]", 0, &cls), 0);
        assert_int_equal(remove_parse_device_class("[{\"osd\": 0}]", 0, &cls), 0);
        assert_int_equal(remove_parse_device_class("[{\"osd\": 0, \"device_class\": \"\"}]", 0, &cls), 0);
        assert_int_equal(remove_parse_device_class("[{\"osd\": 0, \"device_class\": 7}]", 0, &cls), 0);
        assert_int_equal(remove_parse_device_class("[{\"osd\": 2, \"device_class\": \"hdd\"}]", 0, &cls), 0);
        assert_null(cls);
        assert_int_equal(remove_parse_device_class("{\"osd\": 0}", 0, &cls), -EBADMSG);
        assert_int_equal(remove_parse_device_class("not json", 0, &cls), -EBADMSG);
        assert_int_equal(remove_parse_device_class(NULL, 0, &cls), -EBADMSG);
        assert_null(cls);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_steps),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_list_and_refusals),
                cmocka_unit_test(test_device_class),
        };
        int r;

        assert_non_null(mkdtemp(dir));
        {
                char sub[300];
                snprintf(sub, sizeof sub, "%s/remove", dir);
                assert_int_equal(mkdir_p(sub, 0700), 0);
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        {
                char cmd[300];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
                if (system(cmd) != 0)
                        r = r ?: 1;
        }
        return r;
}
