/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reason table. ceph-volume's strings are copied exactly (ceph-volume util/device.py)
 * so that people who read `ceph orch device ls` or Rook's logs recognise them. */
#include "common/macro.h"
#include "discovery/reason.h"

static const struct {
        const char *name;
        const char *message;
        bool ceph_volume;
} table[_REASON_MAX] = {
        [REASON_DEVICE_TYPE_NOT_ACCEPTABLE] = { "device_type_not_acceptable",
                "Device type is not acceptable. It should be raw device or partition", true },
        [REASON_INSUFFICIENT_SPACE] = { "insufficient_space", "Insufficient space (<5GB)", true },
        [REASON_READ_ONLY] = { "read_only", "read-only", true },
        [REASON_ID_BUS] = { "id_bus", "id_bus", true },
        [REASON_USED_BY_CEPH_DISK] = { "used_by_ceph_disk", "Used by ceph-disk", true },
        [REASON_HAS_BLUESTORE_LABEL] = { "has_bluestore_label", "Has BlueStore device label", true },
        [REASON_BLUESTORE_LABEL_UNREADABLE] = { "bluestore_label_unreadable",
                "Failed to determine if device is BlueStore", true },
        [REASON_PARENT_HAS_BLUESTORE_LABEL] = { "parent_has_bluestore_label",
                "Parent has BlueStore device label", true },
        [REASON_PARENT_BLUESTORE_LABEL_UNREADABLE] = { "parent_bluestore_label_unreadable",
                "Failed to determine if parent device is BlueStore", true },
        [REASON_HAS_GPT_HEADERS] = { "has_gpt_headers", "Has GPT headers", true },
        [REASON_HAS_PARTITIONS] = { "has_partitions", "Has partitions", true },
        [REASON_HAS_FILESYSTEM] = { "has_filesystem", "Has a FileSystem", true },
        [REASON_LVM_DETECTED] = { "lvm_detected", "LVM detected", true },
        [REASON_INSUFFICIENT_VG_SPACE] = { "insufficient_vg_space",
                "Insufficient space (<10 extents) on vgs", true },
        [REASON_BLUESTORE_LABEL_REPLICA] = { "bluestore_label_replica",
                "Has BlueStore device label copy at a replica offset", false },
        [REASON_HAS_PARTITION_TABLE] = { "has_partition_table", "Has a partition table", false },
        [REASON_MOUNTED] = { "mounted", "Mounted", false },
        [REASON_SWAP] = { "swap", "Used as swap", false },
        [REASON_OS_DISK] = { "os_disk", "Holds the OS root filesystem", false },
        [REASON_LOCKED] = { "locked", "Held open exclusively by another process", false },
        [REASON_HAS_HOLDERS] = { "has_holders", "Has holders", false },
        [REASON_MULTIPATH_MEMBER] = { "multipath_member", "Multipath member", false },
        [REASON_RAID_MEMBER] = { "raid_member", "RAID member", false },
        [REASON_PROBE_FAILED] = { "probe_failed", "Could not be probed", false },
        [REASON_NO_STABLE_ID] = { "no_stable_id", "No stable identity", false },
        [REASON_HEALTH_FAILING] = { "health_failing", "Disk health is failing", false },
};

const char *reason_message(ReasonCode c) {
        return c > 0 && c < _REASON_MAX ? table[c].message : NULL;
}

const char *reason_code_name(ReasonCode c) {
        return c > 0 && c < _REASON_MAX ? table[c].name : NULL;
}

bool reason_is_ceph_volume(ReasonCode c) {
        return c > 0 && c < _REASON_MAX && table[c].ceph_volume;
}

ReasonCode reason_from_message(const char *message) {
        for (ReasonCode c = 1; c < _REASON_MAX; c++)
                if (streq(table[c].message, message))
                        return c;
        return 0;
}
