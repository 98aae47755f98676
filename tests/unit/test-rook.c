/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli/rook: Rook's ConfigMap names (the hash of a long node name, as k8sutil.Hash makes it)
 * and the LocalDisk fields rook-discover would have written for a given device, with the
 * ceph-volume record (cli/cvformat) it keeps in cephVolumeData. */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/rook.h"

static void test_names(void **state) {
        char *s = NULL;

        assert_int_equal(rook_config_map_name("node-a", &s), 0);
        assert_string_equal(s, "local-device-node-a");
        free(s);
        /* 50 characters fit in 63 with the prefix ... */
        assert_int_equal(rook_config_map_name("n2345678901234567890123456789012345678901234567890", &s), 0);
        assert_string_equal(s, "local-device-n2345678901234567890123456789012345678901234567890");
        free(s);
        /* ... 63 do not: the first 16 bytes of SHA-256, in hex (python3 hashlib says so). */
        assert_int_equal(rook_config_map_name("ip-10-0-12-34.eu-central-1.compute.internal.example-cluster.org", &s), 0);
        assert_string_equal(s, "local-device-c98290b87074e3f01b482d7d7788b0d9");
        free(s);
}

static const char *str(json_object *o, const char *key) {
        json_object *v;

        assert_true(json_object_object_get_ex(o, key, &v));
        return json_object_get_string(v);
}

static void test_local_disk(void **state) {
        Castle__Device disk = CASTLE__DEVICE__INIT, part = CASTLE__DEVICE__INIT, md = CASTLE__DEVICE__INIT;
        Castle__ClusterDevice cd[2] = { CASTLE__CLUSTER_DEVICE__INIT, CASTLE__CLUSTER_DEVICE__INIT };
        Castle__ClusterDevice *all[] = { &cd[0], &cd[1] };
        Castle__Signature sig = CASTLE__SIGNATURE__INIT, *sigs[] = { &sig };
        char *links[] = { "/dev/disk/by-id/ata-ST4000NM0033_Z1Z0ABCD", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1" };
        char *parts[] = { "sda1" }, *mounts[] = { "/var/lib/ceph/osd/ceph-1/" };
        json_object *o, *p, *e, *v;

        disk.kname = "sda";
        disk.path = "/dev/sda";
        disk.type = CASTLE__DEVICE__TYPE__DISK;
        disk.transport = CASTLE__DEVICE__TRANSPORT__SATA;
        disk.size = 4000787030016;
        disk.rotational = true;
        disk.vendor = " ATA     ";
        disk.model = "ST4000NM0033-9ZM170 ";
        disk.id_serial = "ST4000NM0033-9ZM170_Z1Z0ABCD";
        disk.serial = "Z1Z0ABCD";
        disk.wwn = "0x5000c500a1b2c3d4";
        disk.n_links = 2;
        disk.links = links;
        disk.partition_table = "gpt";
        disk.partition_table_uuid = "8c3d5d2e-35c0-4d6e-9f61-3a0e3b1c9b11";
        disk.n_partitions = 1;
        disk.partitions = parts;
        part.kname = "sda1";
        part.path = "/dev/sda1";
        part.type = CASTLE__DEVICE__TYPE__PART;
        part.parent = "sda";
        part.size = 1073741824;
        part.partition_label = "data";
        sig.type = "xfs";
        part.n_signatures = 1;
        part.signatures = sigs;
        part.n_mountpoints = 1;
        part.mountpoints = mounts;
        cd[0].node_id = cd[1].node_id = "node-a";
        cd[0].device = &disk;
        cd[1].device = &part;

        o = rook_local_disk(&disk, all, 2);
        assert_non_null(o);
        assert_string_equal(str(o, "name"), "sda");
        assert_string_equal(str(o, "parent"), "");
        assert_true(json_object_get_boolean(json_object_object_get(o, "hasChildren")));
        assert_string_equal(str(o, "devLinks"),
                            "/dev/disk/by-id/ata-ST4000NM0033_Z1Z0ABCD /dev/disk/by-path/pci-0000:00:1f.2-ata-1");
        assert_int_equal(json_object_get_uint64(json_object_object_get(o, "size")), 4000787030016);
        assert_string_equal(str(o, "uuid"), "8c3d5d2e-35c0-4d6e-9f61-3a0e3b1c9b11");
        assert_string_equal(str(o, "serial"), "ST4000NM0033-9ZM170_Z1Z0ABCD");
        assert_string_equal(str(o, "type"), "disk");
        assert_string_equal(str(o, "vendor"), "ATA");
        assert_string_equal(str(o, "model"), "ST4000NM0033-9ZM170");
        assert_string_equal(str(o, "wwn"), "0x5000c500a1b2c3d4");
        assert_string_equal(str(o, "wwnVendorExtension"), "0x5000c500a1b2c3d4");
        assert_string_equal(str(o, "filesystem"), "");
        assert_false(json_object_get_boolean(json_object_object_get(o, "empty")));
        assert_string_equal(str(o, "real-path"), "/dev/sda");
        assert_string_equal(str(o, "kernel-name"), "sda");
        p = json_object_object_get(o, "Partitions");
        assert_int_equal(json_object_array_length(p), 1);
        e = json_object_array_get_idx(p, 0);
        assert_string_equal(str(e, "Name"), "sda1");
        assert_int_equal(json_object_get_uint64(json_object_object_get(e, "Size")), 1073741824);
        assert_string_equal(str(e, "Label"), "data");
        assert_string_equal(str(e, "Filesystem"), "xfs");
        /* Go's struct order: the keys in the string are where rook-discover puts them. */
        assert_non_null(strstr(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                               "{\"name\":\"sda\",\"parent\":\"\",\"hasChildren\":true,\"devLinks\":"));
        assert_true(json_object_object_get_ex(o, "cephVolumeData", &v));
        json_object_put(o);

        o = rook_local_disk(&part, all, 2);
        assert_string_equal(str(o, "parent"), "sda");
        assert_string_equal(str(o, "uuid"), ""); /* only whole disks carry the GPT GUID */
        assert_string_equal(str(o, "filesystem"), "xfs");
        assert_string_equal(str(o, "mountpoint"), "ceph-1"); /* Rook's path.Base */
        assert_true(json_object_object_get_ex(o, "Partitions", &v));
        assert_null(v); /* a nil slice: null */
        assert_false(json_object_get_boolean(json_object_object_get(o, "empty")));
        json_object_put(o);

        md.kname = "md0";
        md.type = CASTLE__DEVICE__TYPE__MD;
        assert_null(rook_local_disk(&md, all, 2)); /* rook-discover does not list md RAID */
}

/* cephVolumeData holds what Rook's CephVolumeInventory keeps of ceph-volume's record, in
 * its order: sys_api and lvs verbatim, so an OSD's LV has its <type>_uuid as ceph-volume's
 * Volume.report() writes it. */
static void test_ceph_volume_data(void **state) {
        Castle__Device disk = CASTLE__DEVICE__INIT, part = CASTLE__DEVICE__INIT;
        Castle__ClusterDevice cd[2] = { CASTLE__CLUSTER_DEVICE__INIT, CASTLE__CLUSTER_DEVICE__INIT };
        Castle__ClusterDevice *all[] = { &cd[0], &cd[1] };
        Castle__LvmFacts lvm = CASTLE__LVM_FACTS__INIT;
        Castle__LogicalVolume lv = CASTLE__LOGICAL_VOLUME__INIT, *lvs[] = { &lv };
        Castle__LogicalVolume__Tag tag[4] = { CASTLE__LOGICAL_VOLUME__TAG__INIT, CASTLE__LOGICAL_VOLUME__TAG__INIT,
                                              CASTLE__LOGICAL_VOLUME__TAG__INIT, CASTLE__LOGICAL_VOLUME__TAG__INIT };
        Castle__LogicalVolume__Tag *tags[] = { &tag[0], &tag[1], &tag[2], &tag[3] };
        Castle__Reason reason = CASTLE__REASON__INIT, *reasons[] = { &reason };
        char *parts[] = { "sdb1" };
        json_object *o, *cv, *sys, *e;

        disk.kname = "sdb";
        disk.path = "/dev/sdb";
        disk.type = CASTLE__DEVICE__TYPE__DISK;
        disk.size = UINT64_C(1) << 40;
        disk.n_partitions = 1;
        disk.partitions = parts;
        disk.n_reasons = 1;
        disk.reasons = reasons;
        reason.message = "LVM detected";
        tag[0].key = "ceph.osd_id";
        tag[0].value = "3";
        tag[1].key = "ceph.type";
        tag[1].value = "block";
        tag[2].key = "ceph.block_uuid";
        tag[2].value = "ZjNVDE-vCEu-vWFp-jbcj-iFDk-07UZ-SeFk2I";
        tag[3].key = "ceph.db_uuid"; /* another type's: not this LV's */
        tag[3].value = "x";
        lv.name = "osd-block-8a1b2c3d";
        lv.n_tags = 4;
        lv.tags = tags;
        lvm.n_lvs = 1;
        lvm.lvs = lvs;
        disk.lvm = &lvm;
        part.kname = "sdb1";
        part.path = "/dev/sdb1";
        part.type = CASTLE__DEVICE__TYPE__PART;
        part.parent = "sdb";
        part.size = 1 << 30;
        cd[0].node_id = cd[1].node_id = "node-a";
        cd[0].device = &disk;
        cd[1].device = &part;

        o = rook_local_disk(&disk, all, 2);
        assert_non_null(o);
        cv = json_tokener_parse(str(o, "cephVolumeData"));
        assert_non_null(cv);
        assert_non_null(strstr(str(o, "cephVolumeData"), "{\"path\":\"/dev/sdb\",\"available\":false,"
                                                         "\"rejected_reasons\":[\"LVM detected\"],\"sys_api\":{"));
        sys = json_object_object_get(cv, "sys_api");
        assert_string_equal(str(sys, "human_readable_size"), "1.00 TB");
        assert_string_equal(str(sys, "type"), "disk");
        assert_string_equal(str(sys, "parent"), "/dev/sdb");
        assert_string_equal(str(sys, "device_nodes"), "sdb");
        assert_string_equal(str(json_object_object_get(json_object_object_get(sys, "partitions"), "sdb1"),
                                "human_readable_size"), "1.00 GB");
        e = json_object_array_get_idx(json_object_object_get(cv, "lvs"), 0);
        assert_string_equal(str(e, "name"), "osd-block-8a1b2c3d");
        assert_string_equal(str(e, "osd_id"), "3");
        assert_string_equal(str(e, "type"), "block");
        assert_string_equal(str(e, "block_uuid"), "ZjNVDE-vCEu-vWFp-jbcj-iFDk-07UZ-SeFk2I");
        assert_false(json_object_object_get_ex(e, "db_uuid", NULL));
        json_object_put(cv);
        json_object_put(o);

        o = rook_local_disk(&part, all, 2);
        cv = json_tokener_parse(str(o, "cephVolumeData"));
        assert_string_equal(str(json_object_object_get(cv, "sys_api"), "parent"), "/dev/sdb");
        assert_int_equal(json_object_array_length(json_object_object_get(cv, "lvs")), 0);
        json_object_put(cv);
        json_object_put(o);
}

static void test_config_maps(void **state) {
        Castle__Device loop = CASTLE__DEVICE__INIT, rbd = CASTLE__DEVICE__INIT;
        Castle__ClusterDevice cd[2] = { CASTLE__CLUSTER_DEVICE__INIT, CASTLE__CLUSTER_DEVICE__INIT };
        Castle__ClusterDevice *all[] = { &cd[0], &cd[1] };
        Castle__NodeInfo n1 = CASTLE__NODE_INFO__INIT, n2 = CASTLE__NODE_INFO__INIT, *nodes[] = { &n1, &n2 };
        json_object *list = NULL, *items, *cm, *devs;

        loop.kname = "loop3";
        loop.path = "/dev/loop3";
        loop.type = CASTLE__DEVICE__TYPE__LOOP;
        loop.size = 10737418240;
        rbd.kname = "rbd0";
        rbd.path = "/dev/rbd0";
        rbd.type = CASTLE__DEVICE__TYPE__DISK;
        cd[0].node_id = cd[1].node_id = "5f1e";
        cd[0].device = &loop;
        cd[1].device = &rbd;
        n1.node_id = "5f1e";
        n1.hostname = "worker-1";
        n2.node_id = "77aa";
        n2.hostname = "worker-2";

        assert_int_equal(rook_config_maps(nodes, 2, all, 2, "rook-ceph", &list), 0);
        assert_string_equal(str(list, "kind"), "List");
        items = json_object_object_get(list, "items");
        assert_int_equal(json_object_array_length(items), 2);
        cm = json_object_array_get_idx(items, 0);
        assert_string_equal(str(cm, "kind"), "ConfigMap");
        assert_string_equal(str(json_object_object_get(cm, "metadata"), "name"), "local-device-worker-1");
        assert_string_equal(str(json_object_object_get(cm, "metadata"), "namespace"), "rook-ceph");
        assert_string_equal(
                str(json_object_object_get(json_object_object_get(cm, "metadata"), "labels"), "rook.io/node"),
                "worker-1");
        devs = json_tokener_parse(str(json_object_object_get(cm, "data"), "devices"));
        assert_int_equal(json_object_array_length(devs), 1); /* rbd0 is left out, as Rook does */
        assert_string_equal(str(json_object_array_get_idx(devs, 0), "name"), "loop3");
        assert_true(json_object_get_boolean(json_object_object_get(json_object_array_get_idx(devs, 0), "empty")));
        json_object_put(devs);
        /* A node without devices still gets its map, with "[]" as Rook writes it. */
        cm = json_object_array_get_idx(items, 1);
        assert_string_equal(str(json_object_object_get(cm, "data"), "devices"), "[]");
        json_object_put(list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_local_disk),
                cmocka_unit_test(test_ceph_volume_data),
                cmocka_unit_test(test_config_maps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
