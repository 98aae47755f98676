/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LVM report parsing (the JSON `lvm fullreport` prints) and how facts attach to devices. */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/strv.h"
#include "discovery/lvmreport.h"

/* Output of castle's lvm command on a disk that holds a ceph-volume LVM OSD, plus an orphan
 * PV, as lvm 2.03.16 prints it. */
static const char report[] =
        "{\n"
        "  \"report\": [\n"
        "    {\n"
        "      \"vg\": [ {\"vg_name\":\"ceph-5c3a\", \"vg_uuid\":\"VGU-1\", \"vg_extent_size\":\"4194304\", \"vg_extent_count\":\"2559\", \"vg_free_count\":\"0\"} ],\n"
        "      \"pv\": [ {\"pv_name\":\"/dev/sdb\", \"pv_uuid\":\"PVU-1\", \"vg_name\":\"ceph-5c3a\", \"vg_uuid\":\"VGU-1\"} ],\n"
        "      \"lv\": [ {\"lv_name\":\"osd-block-9d6c\", \"vg_name\":\"ceph-5c3a\", \"lv_path\":\"/dev/ceph-5c3a/osd-block-9d6c\",\n"
        "                \"lv_uuid\":\"LVU-1\", \"lv_size\":\"10733223936\",\n"
        "                \"lv_tags\":\"ceph.block_device=/dev/ceph-5c3a/osd-block-9d6c,ceph.cluster_fsid=0f2e,ceph.osd_fsid=9d6c,ceph.osd_id=4,ceph.type=block,ceph.crush_device_class=\"} ],\n"
        "      \"pvseg\": [ {\"pv_name\":\"/dev/sdb\"} ],\n"
        "      \"seg\": [ {\"lv_uuid\":\"LVU-1\", \"devices\":\"/dev/sdb(0)\"} ]\n"
        "    },\n"
        "    {\n"
        "      \"vg\": [],\n"
        "      \"pv\": [ {\"pv_name\":\"/dev/sdc\", \"pv_uuid\":\"PVU-2\", \"vg_name\":\"\", \"vg_uuid\":\"\"} ],\n"
        "      \"lv\": [], \"pvseg\": [], \"seg\": []\n"
        "    }\n"
        "  ]\n"
        "}\n";

static Device *dev(const char *kname, const char *path) {
        Device *d = device_new(kname);

        assert_non_null(d);
        d->path = strdup(path);
        return d;
}

static void test_parse_and_apply(void **state) {
        _cleanup_(lvm_report_freep) LvmReport *r = NULL;
        _cleanup_(device_list_freep) DeviceList *l = device_list_new();
        Device *sdb = dev("sdb", "/dev/sdb"), *sdc = dev("sdc", "/dev/sdc"), *lv = dev("dm-0", "/dev/mapper/x"),
               *sdd = dev("sdd", "/dev/sdd");

        assert_int_equal(strv_extend(&lv->links, "/dev/ceph-5c3a/osd-block-9d6c"), 0);
        assert_int_equal(device_list_add(l, sdb), 0);
        assert_int_equal(device_list_add(l, sdc), 0);
        assert_int_equal(device_list_add(l, lv), 0);
        assert_int_equal(device_list_add(l, sdd), 0);

        assert_int_equal(lvm_report_parse(report, &r), 0);
        assert_int_equal(lvm_report_apply(r, l), 0);

        assert_non_null(sdb->lvm);
        assert_string_equal(sdb->lvm->vg_name, "ceph-5c3a");
        assert_int_equal(sdb->lvm->vg_free_count, 0);
        assert_int_equal(sdb->lvm->vg_extent_count, 2559);
        assert_int_equal(sdb->lvm->vg_extent_size, 4194304);
        assert_int_equal(sdb->lvm->n_lvs, 1);
        assert_string_equal(sdb->lvm->lvs[0].name, "osd-block-9d6c");
        assert_int_equal(sdb->lvm->lvs[0].size, UINT64_C(10733223936));
        assert_int_equal(sdb->lvm->lvs[0].n_tags, 6);
        assert_string_equal(sdb->lvm->lvs[0].tags[5].key, "ceph.crush_device_class");
        assert_string_equal(sdb->lvm->lvs[0].tags[5].value, "");
        assert_int_equal(sdb->n_ceph, 1);
        assert_string_equal(sdb->ceph[0].source, "lvm-tags");
        assert_int_equal(sdb->ceph[0].osd_id, 4);
        assert_string_equal(sdb->ceph[0].osd_uuid, "9d6c");
        assert_string_equal(sdb->ceph[0].cluster_fsid, "0f2e");
        assert_string_equal(sdb->ceph[0].type, "block");

        /* An orphan PV: LVM facts but no VG. */
        assert_non_null(sdc->lvm);
        assert_null(sdc->lvm->vg_name);
        assert_int_equal(sdc->n_ceph, 0);

        /* The LV's own device knows its OSD from the tags. */
        assert_int_equal(lv->n_ceph, 1);
        assert_int_equal(lv->ceph[0].osd_id, 4);
        assert_string_equal(lv->ceph[0].lv_path, "/dev/ceph-5c3a/osd-block-9d6c");

        assert_null(sdd->lvm);
        assert_int_equal(sdd->n_ceph, 0);
}

static void test_garbage(void **state) {
        _cleanup_(lvm_report_freep) LvmReport *r = NULL;

        assert_int_equal(lvm_report_parse("", &r), -EBADMSG);
        assert_int_equal(lvm_report_parse("{\"report\": 3}", &r), -EBADMSG);
        assert_int_equal(lvm_report_parse("[1,2", &r), -EBADMSG);
        /* Wrong types in fields are ignored, not trusted. */
        assert_int_equal(lvm_report_parse("{\"report\":[{\"pv\":[{\"pv_name\":7}],\"vg\":{}}]}", &r), 0);
}

static void test_command_is_one_fullreport(void **state) {
        /* One process per scan: the command must be a single fullreport in JSON. */
        assert_string_equal(lvm_report_argv[0], "lvm");
        assert_string_equal(lvm_report_argv[1], "fullreport");
        assert_string_equal(lvm_report_argv[3], "json");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_and_apply),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_command_is_one_fullreport),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
