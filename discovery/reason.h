/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Why a device is not available: stable codes, and the messages users read. The numbers
 * match Reason.Code in proto/castle.proto (a unit test checks that). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef enum ReasonCode {
        REASON_DEVICE_TYPE_NOT_ACCEPTABLE = 1,
        REASON_INSUFFICIENT_SPACE,
        REASON_READ_ONLY,
        REASON_ID_BUS,
        REASON_USED_BY_CEPH_DISK,
        REASON_HAS_BLUESTORE_LABEL,
        REASON_BLUESTORE_LABEL_UNREADABLE,
        REASON_PARENT_HAS_BLUESTORE_LABEL,
        REASON_PARENT_BLUESTORE_LABEL_UNREADABLE,
        REASON_HAS_GPT_HEADERS,
        REASON_HAS_PARTITIONS,
        REASON_HAS_FILESYSTEM,
        REASON_LVM_DETECTED,
        REASON_INSUFFICIENT_VG_SPACE,
        /* castle's own checks */
        REASON_BLUESTORE_LABEL_REPLICA,
        REASON_HAS_PARTITION_TABLE,
        REASON_MOUNTED,
        REASON_SWAP,
        REASON_OS_DISK,
        REASON_LOCKED,
        REASON_HAS_HOLDERS,
        REASON_MULTIPATH_MEMBER,
        REASON_RAID_MEMBER,
        REASON_PROBE_FAILED,
        REASON_NO_STABLE_ID,
        REASON_HEALTH_FAILING,
        _REASON_MAX,
} ReasonCode;

/* A set of reasons; iteration is in code order, so output is deterministic. */
typedef uint64_t ReasonSet;

#define REASON_BIT(c) (UINT64_C(1) << (c))
#define REASON_SET_FOREACH(c, set)                                  \
        for (ReasonCode c = 1; c < _REASON_MAX; c++)                \
                if ((set) & REASON_BIT(c))

/* "Has a FileSystem", "read-only", ... */
const char *reason_message(ReasonCode c);
/* "has_filesystem", "read_only", ...: the machine code. */
const char *reason_code_name(ReasonCode c);
/* True where the message is ceph-volume's own string. */
bool reason_is_ceph_volume(ReasonCode c);
ReasonCode reason_from_message(const char *message);
