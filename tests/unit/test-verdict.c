/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verdict rules: one device fact at a time, and the exact reason set it produces. */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/strv.h"
#include "discovery/verdict.h"

#define GIB (UINT64_C(1) << 30)

/* A clean 10 GiB SATA disk that passes every check. */
static Device *clean_disk(const char *kname) {
        Device *d = device_new(kname);

        assert_non_null(d);
        d->type = DEVICE_TYPE_DISK;
        d->size = 10 * GIB;
        d->probed = true;
        d->stable_id = strdup("wwn-0x5000c500a1b2c3d4_ZA1");
        d->path = strdup("/dev/sdb");
        return d;
}

static ReasonSet evaluate(Device *d, const Device *parent, const DeviceList *all, bool allow_loop) {
        VerdictOptions o = { .allow_loop = allow_loop };

        verdict_evaluate(d, parent, all, &o);
        assert_int_equal(d->available, d->reasons == 0);
        return d->reasons;
}

#define ONLY(code) REASON_BIT(code)

static void test_clean_disk_is_available(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sdb");

        assert_int_equal(evaluate(d, NULL, NULL, false), 0);
        assert_true(d->available);
}

static void test_size_boundary(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sdb");

        d->size = VERDICT_MIN_SIZE - 1;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_INSUFFICIENT_SPACE));
        d->size = VERDICT_MIN_SIZE;
        assert_int_equal(evaluate(d, NULL, NULL, false), 0);
}

static void test_loop_needs_allow_loop(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("loop3");

        d->type = DEVICE_TYPE_LOOP;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_DEVICE_TYPE_NOT_ACCEPTABLE));
        assert_int_equal(evaluate(d, NULL, NULL, true), 0);
        /* The size check applies to acceptable types only, as in ceph-volume. */
        d->size = GIB;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_DEVICE_TYPE_NOT_ACCEPTABLE));
        assert_int_equal(evaluate(d, NULL, NULL, true), ONLY(REASON_INSUFFICIENT_SPACE));
}

static void test_unacceptable_types(void **state) {
        static const DeviceType bad[] = { DEVICE_TYPE_CRYPT, DEVICE_TYPE_MD, DEVICE_TYPE_ROM, DEVICE_TYPE_DM };
        static const DeviceType good[] = { DEVICE_TYPE_DISK, DEVICE_TYPE_PART, DEVICE_TYPE_LVM, DEVICE_TYPE_MPATH };
        _cleanup_(device_freep) Device *d = clean_disk("x");

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                d->type = bad[i];
                assert_int_equal(evaluate(d, NULL, NULL, true), ONLY(REASON_DEVICE_TYPE_NOT_ACCEPTABLE));
        }
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                d->type = good[i];
                assert_int_equal(evaluate(d, NULL, NULL, false), 0);
        }
}

static void test_flags(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sdb");

        d->read_only = true;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_READ_ONLY));
        d->read_only = false;
        d->id_bus = strdup("usb");
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_ID_BUS));
        free(d->id_bus);
        d->id_bus = strdup("ata");
        /* Removable alone is no reason (ceph PR #49960). */
        d->removable = true;
        assert_int_equal(evaluate(d, NULL, NULL, false), 0);
}

static void test_signatures(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sdb");

        assert_int_equal(device_add_signature(d, "xfs", "filesystem", "u", NULL, NULL), 0);
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_FILESYSTEM));
        assert_int_equal(device_add_signature(d, "linux_raid_member", "raid", NULL, NULL, NULL), 0);
        assert_int_equal(evaluate(d, NULL, NULL, false),
                         ONLY(REASON_HAS_FILESYSTEM) | ONLY(REASON_RAID_MEMBER));
}

static void test_partition_tables(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sdb");

        d->pttype = strdup("gpt");
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_GPT_HEADERS));
        free(d->pttype);
        d->pttype = strdup("atari");
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_PARTITION_TABLE));
        free(d->pttype);
        d->pttype = strdup("dos");
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_PARTITION_TABLE));
        free(d->pttype);
        /* A GPT's protective MBR whose headers were zeroed, as wipefs lists it: named. */
        d->pttype = strdup("PMBR");
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_PARTITION_TABLE));
        _cleanup_free_ char *why = verdict_explain(d, NULL);
        assert_string_equal(why, "Has a partition table (PMBR)");
}

static void test_bluestore_labels(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sdb");

        d->label_offsets[d->n_label_offsets++] = 0;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_BLUESTORE_LABEL));
        d->n_label_offsets = 0;
        d->label_offsets[d->n_label_offsets++] = GIB;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_BLUESTORE_LABEL_REPLICA));
        d->n_label_offsets = 0;
        d->label_error = -EIO;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_BLUESTORE_LABEL_UNREADABLE));
}

static void test_partition_of_labelled_disk(void **state) {
        _cleanup_(device_list_freep) DeviceList *all = device_list_new();
        Device *disk = clean_disk("sdb"), *part = clean_disk("sdb1");

        assert_int_equal(device_list_add(all, disk), 0);
        assert_int_equal(device_list_add(all, part), 0);
        part->type = DEVICE_TYPE_PART;
        part->parent = strdup("sdb");
        assert_int_equal(strv_extend(&disk->partitions, "sdb1"), 0);

        assert_int_equal(evaluate(part, disk, all, false), 0);
        disk->label_offsets[disk->n_label_offsets++] = 0;
        assert_int_equal(evaluate(part, disk, all, false), ONLY(REASON_PARENT_HAS_BLUESTORE_LABEL));
        assert_int_equal(evaluate(disk, NULL, all, false),
                         ONLY(REASON_HAS_BLUESTORE_LABEL) | ONLY(REASON_HAS_PARTITIONS));
        disk->probed = false;
        assert_true(evaluate(part, disk, all, false) & ONLY(REASON_PARENT_BLUESTORE_LABEL_UNREADABLE));
}

static void test_ceph_disk_partitions(void **state) {
        _cleanup_(device_list_freep) DeviceList *all = device_list_new();
        Device *disk = clean_disk("sdc"), *part = clean_disk("sdc1");

        assert_int_equal(device_list_add(all, disk), 0);
        assert_int_equal(device_list_add(all, part), 0);
        part->type = DEVICE_TYPE_PART;
        part->parent = strdup("sdc");
        assert_int_equal(strv_extend(&disk->partitions, "sdc1"), 0);

        part->part_type = strdup("4FBD7E29-9D25-41B8-AFD0-062C0CEFF05D"); /* ceph-disk OSD data */
        assert_int_equal(evaluate(part, disk, all, false), ONLY(REASON_USED_BY_CEPH_DISK));
        assert_int_equal(evaluate(disk, NULL, all, false),
                         ONLY(REASON_USED_BY_CEPH_DISK) | ONLY(REASON_HAS_PARTITIONS));
        free(part->part_type);
        part->part_type = strdup("0fc63daf-8483-4772-8e79-3d69d8477de4");
        part->part_label = strdup("ceph data");
        assert_int_equal(evaluate(part, disk, all, false), ONLY(REASON_USED_BY_CEPH_DISK));
        free(part->part_label);
        part->part_label = strdup("home");
        assert_int_equal(evaluate(part, disk, all, false), 0);
}

static LvmFacts *vg(const char *name, uint64_t free_extents) {
        LvmFacts *f = calloc(1, sizeof(LvmFacts));

        assert_non_null(f);
        f->vg_name = name ? strdup(name) : NULL;
        f->vg_free_count = free_extents;
        return f;
}

static void test_lvm(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sdd");

        assert_int_equal(device_add_signature(d, "LVM2_member", "raid", NULL, NULL, NULL), 0);
        /* A PV in no VG: only the signature counts (ceph-volume does the same). */
        d->lvm = vg(NULL, 0);
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_FILESYSTEM));
        /* In a VG with room: ceph-volume's LVM mode would take it, raw mode would not. */
        free(d->lvm);
        d->lvm = vg("ceph-1", 11);
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_FILESYSTEM) | ONLY(REASON_LVM_DETECTED));
        /* A full VG, as on an existing LVM OSD. */
        free(d->lvm->vg_name);
        free(d->lvm);
        d->lvm = vg("ceph-1", 10);
        assert_int_equal(evaluate(d, NULL, NULL, false),
                         ONLY(REASON_HAS_FILESYSTEM) | ONLY(REASON_LVM_DETECTED) | ONLY(REASON_INSUFFICIENT_VG_SPACE));
}

static void test_ceph_lv(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("dm-0");

        d->type = DEVICE_TYPE_LVM;
        assert_int_equal(evaluate(d, NULL, NULL, false), 0);
        assert_int_equal(device_add_ceph(d, &(CephFacts) { .source = (char *) "lvm-tags", .osd_id = 1 }), 0);
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_LVM_DETECTED));
}

static void test_host_state(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sde");

        assert_int_equal(strv_extend(&d->mountpoints, "/srv"), 0);
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_MOUNTED));
        d->mountpoints = strv_free(d->mountpoints);
        d->swap = true;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_SWAP));
        d->swap = false;
        d->os_disk = true;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_OS_DISK));
        d->os_disk = false;
        d->locked = true;
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_LOCKED));
        d->locked = false;
        assert_int_equal(strv_extend(&d->holders, "dm-0"), 0);
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_HAS_HOLDERS));
}

static void test_multipath_member(void **state) {
        _cleanup_(device_list_freep) DeviceList *all = device_list_new();
        Device *path = clean_disk("sdf"), *map = clean_disk("dm-3");

        assert_int_equal(device_list_add(all, path), 0);
        assert_int_equal(device_list_add(all, map), 0);
        map->type = DEVICE_TYPE_MPATH;
        assert_int_equal(strv_extend(&path->holders, "dm-3"), 0);
        assert_int_equal(evaluate(path, NULL, all, false),
                         ONLY(REASON_HAS_HOLDERS) | ONLY(REASON_MULTIPATH_MEMBER));
        /* The map itself is a usable device. */
        assert_int_equal(evaluate(map, NULL, all, false), 0);
}

static void test_fail_safe(void **state) {
        _cleanup_(device_freep) Device *d = clean_disk("sdg");

        d->probed = false;
        assert_int_equal(evaluate(d, NULL, NULL, false),
                         ONLY(REASON_PROBE_FAILED) | ONLY(REASON_BLUESTORE_LABEL_UNREADABLE));
        d->probed = true;
        d->stable_id = mfree(d->stable_id);
        assert_int_equal(evaluate(d, NULL, NULL, false), ONLY(REASON_NO_STABLE_ID));
}

static void test_explain(void **state) {
        _cleanup_(device_list_freep) DeviceList *all = device_list_new();
        Device *disk = clean_disk("sdg"), *map = clean_disk("dm-4");
        _cleanup_free_ char *clean = NULL, *why = NULL, *alone = NULL;

        assert_int_equal(device_list_add(all, disk), 0);
        assert_int_equal(device_list_add(all, map), 0);
        assert_int_equal(evaluate(disk, NULL, all, false), 0);
        clean = verdict_explain(disk, all);
        assert_string_equal(clean, "");

        /* An open LUKS volume: the signature and the mapping that holds the disk are named. */
        map->type = DEVICE_TYPE_CRYPT;
        map->dm_name = strdup("dirtycrypt");
        assert_int_equal(device_add_signature(disk, "crypto_LUKS", "crypto", "u", NULL, "2"), 0);
        assert_int_equal(strv_extend(&disk->holders, "dm-4"), 0);
        assert_int_equal(strv_extend(&disk->mountpoints, "/srv"), 0);
        evaluate(disk, NULL, all, false);
        why = verdict_explain(disk, all);
        assert_string_equal(why,
                            "Has a FileSystem (crypto_LUKS); Mounted (/srv); Has holders (dm-4: crypt dirtycrypt)");
        /* Without the scan, a holder is named by its kernel name only. */
        alone = verdict_explain(disk, NULL);
        assert_string_equal(alone, "Has a FileSystem (crypto_LUKS); Mounted (/srv); Has holders (dm-4)");
}

static void test_reason_table(void **state) {
        /* Every code has a name and a message, and messages map back to their code. */
        for (ReasonCode c = 1; c < _REASON_MAX; c++) {
                assert_non_null(reason_code_name(c));
                assert_non_null(reason_message(c));
                assert_int_equal(reason_from_message(reason_message(c)), c);
        }
        assert_string_equal(reason_message(REASON_HAS_FILESYSTEM), "Has a FileSystem");
        assert_string_equal(reason_message(REASON_INSUFFICIENT_SPACE), "Insufficient space (<5GB)");
        assert_true(reason_is_ceph_volume(REASON_LVM_DETECTED));
        assert_false(reason_is_ceph_volume(REASON_MOUNTED));
        assert_true(_REASON_MAX < 64); /* ReasonSet is a 64-bit mask */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_clean_disk_is_available),
                cmocka_unit_test(test_size_boundary),
                cmocka_unit_test(test_loop_needs_allow_loop),
                cmocka_unit_test(test_unacceptable_types),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_signatures),
                cmocka_unit_test(test_partition_tables),
                cmocka_unit_test(test_bluestore_labels),
                cmocka_unit_test(test_partition_of_labelled_disk),
                cmocka_unit_test(test_ceph_disk_partitions),
                cmocka_unit_test(test_lvm),
                cmocka_unit_test(test_ceph_lv),
                cmocka_unit_test(test_host_state),
                cmocka_unit_test(test_multipath_member),
                cmocka_unit_test(test_fail_safe),
                cmocka_unit_test(test_explain),
                cmocka_unit_test(test_reason_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
