/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mountinfo and swaps parsing. */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/strv.h"
#include "discovery/mounts.h"

static void test_mountinfo(void **state) {
        _cleanup_(mount_table_freep) MountTable *t = calloc(1, sizeof(MountTable));
        const char *text =
                "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
                "30 22 8:17 / /mnt/my\\040data rw,relatime shared:5 master:1 - xfs /dev/sdb1 rw\n"
                "31 22 0:45 / /srv/btr rw - btrfs /dev/loop3 rw,space_cache\n"
                "garbage line without separator\n"
                "32 22 x:y / /bad rw - ext4 /dev/x rw\n";

        assert_non_null(t);
        assert_int_equal(mount_table_parse_mountinfo(t, text), 0);
        assert_int_equal(t->n_mounts, 3);
        assert_int_equal(t->mounts[0].devnum, makedev(254, 0));
        assert_string_equal(t->mounts[0].mountpoint, "/");
        assert_string_equal(t->mounts[1].mountpoint, "/mnt/my data");
        assert_string_equal(t->mounts[1].source, "/dev/sdb1");
        assert_string_equal(t->mounts[1].fstype, "xfs");
        assert_int_equal(major(t->mounts[2].devnum), 0);
        assert_string_equal(t->mounts[2].source, "/dev/loop3");

        /* The same mount seen through a second namespace is not listed twice. */
        assert_int_equal(mount_table_parse_mountinfo(t, "22 1 254:0 / / rw - ext4 /dev/vda rw\n"), 0);
        assert_int_equal(t->n_mounts, 3);
}

static void test_swaps(void **state) {
        _cleanup_(mount_table_freep) MountTable *t = calloc(1, sizeof(MountTable));

        assert_non_null(t);
        assert_int_equal(mount_table_parse_swaps(t,
                                                 "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                                                 "/dev/loop5                              partition\t102396\t\t0\t\t-2\n"
                                                 "/var/swap\\040file                      file\t\t102396\t\t0\t\t-3\n"),
                         0);
        assert_int_equal(strv_length(t->swaps), 2);
        assert_string_equal(t->swaps[0], "/dev/loop5");
        assert_string_equal(t->swaps[1], "/var/swap file");
}

static void test_os_mountpoints(void **state) {
        assert_true(mountpoint_is_os("/"));
        assert_true(mountpoint_is_os("/boot/efi"));
        assert_false(mountpoint_is_os("/srv"));
        assert_false(mountpoint_is_os("/bootx"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mountinfo),
                cmocka_unit_test(test_swaps),
                cmocka_unit_test(test_os_mountpoints),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
