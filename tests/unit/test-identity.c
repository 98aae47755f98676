/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Identity rules: stable ids, types, transports and ceph-volume's device_id. */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "discovery/identity.h"

static Device *dev(const char *kname) {
        Device *d = device_new(kname);

        assert_non_null(d);
        d->type = DEVICE_TYPE_DISK;
        return d;
}

static void check_id(const Device *d, const Device *parent, const char *expected) {
        _cleanup_free_ char *id = identity_stable_id(d, parent);

        if (!expected)
                assert_null(id);
        else
                assert_string_equal(id, expected);
}

static void test_stable_id_order(void **state) {
        _cleanup_(device_freep) Device *d = dev("sda");

        d->id_path = strdup("pci-0000:00:1f.2-ata-1");
        check_id(d, NULL, "path-pci-0000:00:1f.2-ata-1");
        d->model = strdup("ST4000NM0035 1V4");
        d->serial = strdup("ZC1A2B3C");
        check_id(d, NULL, "ST4000NM0035_1V4_ZC1A2B3C");
        d->vendor = strdup("SEAGATE");
        check_id(d, NULL, "SEAGATE_ST4000NM0035_1V4_ZC1A2B3C");
        d->wwn = strdup("0x5000c500a1b2c3d4");
        check_id(d, NULL, "wwn-0x5000c500a1b2c3d4_ZC1A2B3C");
        d->serial = mfree(d->serial);
        check_id(d, NULL, "wwn-0x5000c500a1b2c3d4");
}

static void test_placeholder_wwn_is_ignored(void **state) {
        _cleanup_(device_freep) Device *d = dev("sdb");

        d->wwn = strdup("0x0000000000000000");
        d->model = strdup("VBOX");
        d->serial = strdup("VB1");
        check_id(d, NULL, "VBOX_VB1");
}

static void test_never_the_kernel_name(void **state) {
        _cleanup_(device_freep) Device *d = dev("sdc");

        check_id(d, NULL, NULL);
        d->type = DEVICE_TYPE_LOOP;
        check_id(d, NULL, NULL);
        d->loop_backing_file = strdup("/var/tmp/disk 1.img");
        check_id(d, NULL, "loop-var_tmp_disk_1.img");
}

static void test_partition_and_dm(void **state) {
        _cleanup_(device_freep) Device *disk = dev("nvme0n1"), *part = dev("nvme0n1p2"), *dm = dev("dm-0");

        disk->wwn = strdup("eui.0025388b71b2c3d4");
        disk->stable_id = identity_stable_id(disk, NULL);
        part->type = DEVICE_TYPE_PART;
        part->partition_number = 2;
        check_id(part, disk, "wwn-eui.0025388b71b2c3d4-part2");
        check_id(part, NULL, NULL);

        dm->dm_uuid = strdup("LVM-abcdefghijklmnopqrstuvwxyz012345");
        check_id(dm, NULL, "dm-uuid-LVM-abcdefghijklmnopqrstuvwxyz012345");
}

static void test_types(void **state) {
        static const struct {
                const char *kname, *dm_uuid;
                unsigned partn;
                bool md;
                DeviceType type;
        } cases[] = {
                { "sda", NULL, 0, false, DEVICE_TYPE_DISK },
                { "sda1", NULL, 1, false, DEVICE_TYPE_PART },
                { "loop4", NULL, 0, false, DEVICE_TYPE_LOOP },
                { "loop4p1", NULL, 1, false, DEVICE_TYPE_PART },
                { "md127", NULL, 0, true, DEVICE_TYPE_MD },
                { "sr0", NULL, 0, false, DEVICE_TYPE_ROM },
                { "dm-0", "LVM-xyz", 0, false, DEVICE_TYPE_LVM },
                { "dm-1", "CRYPT-LUKS2-abc-name", 0, false, DEVICE_TYPE_CRYPT },
                { "dm-2", "mpath-3600508b4000156d7", 0, false, DEVICE_TYPE_MPATH },
                { "dm-3", "part1-mpath-3600508b4000156d7", 0, false, DEVICE_TYPE_PART },
                { "dm-4", "", 0, false, DEVICE_TYPE_DM },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(device_freep) Device *d = dev(cases[i].kname);
                d->dm_uuid = cases[i].dm_uuid ? strdup(cases[i].dm_uuid) : NULL;
                d->partition_number = cases[i].partn;
                d->is_md = cases[i].md;
                assert_int_equal(identity_type(d), cases[i].type);
        }
}

static void test_transports(void **state) {
        static const struct {
                const char *kname, *bus, *path;
                Transport t;
        } cases[] = {
                { "nvme0n1", NULL, "pci-0000:01:00.0-nvme-1", TRANSPORT_NVME },
                { "sda", "ata", "pci-0000:00:1f.2-ata-1.0", TRANSPORT_SATA },
                { "sdb", "scsi", "pci-0000:03:00.0-sas-exp0x500304800000003f-phy4-lun-0", TRANSPORT_SAS },
                { "sdc", "scsi", "pci-0000:00:05.0-scsi-0:0:0:1", TRANSPORT_SCSI },
                { "sdd", "usb", "pci-0000:00:14.0-usb-0:2:1.0-scsi-0:0:0:0", TRANSPORT_USB },
                { "vda", NULL, "pci-0000:00:04.0", TRANSPORT_VIRTIO },
                { "mmcblk0", NULL, "platform-fe340000.mmc", TRANSPORT_MMC },
                { "sde", NULL, NULL, TRANSPORT_UNKNOWN },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(device_freep) Device *d = dev(cases[i].kname);
                d->id_bus = cases[i].bus ? strdup(cases[i].bus) : NULL;
                d->id_path = cases[i].path ? strdup(cases[i].path) : NULL;
                assert_int_equal(identity_transport(d, NULL), cases[i].t);
        }
}

static void test_ceph_device_id(void **state) {
        _cleanup_(device_freep) Device *d = dev("sda");
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *e = NULL;

        e = identity_ceph_device_id(d);
        assert_string_equal(e, "");
        d->id_serial = strdup("MTFDDAK960TDD_1234");
        c = identity_ceph_device_id(d);
        assert_string_equal(c, "Micron_MTFDDAK960TDD_1234");
        d->model = strdup("Samsung SSD 860");
        d->serial = strdup("S3Z9NB0K");
        b = identity_ceph_device_id(d);
        assert_string_equal(b, "Samsung_SSD_860_S3Z9NB0K");
        d->vendor = strdup("HGST");
        d->scsi_serial = strdup("7PK1ABCD");
        a = identity_ceph_device_id(d);
        assert_string_equal(a, "HGST_Samsung_SSD_860_7PK1ABCD");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stable_id_order),
                cmocka_unit_test(test_placeholder_wwn_is_ignored),
                cmocka_unit_test(test_never_the_kernel_name),
                cmocka_unit_test(test_partition_and_dm),
                cmocka_unit_test(test_types),
                cmocka_unit_test(test_transports),
                cmocka_unit_test(test_ceph_device_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
