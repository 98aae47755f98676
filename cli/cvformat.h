/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ceph-volume's `inventory --format json` record of a device, made from castle's wire record
 * of it: what `castlectl inventory --format ceph-volume` prints, and what Rook keeps of it in
 * a LocalDisk's cephVolumeData. One renderer for both, so the two cannot drift apart. */
#pragma once

#include <json-c/json.h>

#include "proto/castle.pb-c.h"

/* Another device of the same node by kernel name (a partition, the parent), or NULL. */
typedef const Castle__Device *(*CvFindFn)(const char *kname, void *userdata);

/* ceph-volume's record, keys in the order ceph-volume's Device.json_report() has them: path,
 * sys_api (find looks up the partitions and the parent), lvs (ceph-volume's
 * Volume.report(): name and comment, or the ceph.* tags including <type>_uuid), ceph_device,
 * lsm_data, available, rejected_reasons (castle's), device_id. NULL when out of memory. */
json_object *cv_device(const Castle__Device *d, CvFindFn find, void *userdata);

/* A JSON string, "" for NULL: ceph-volume's and Rook's empty value. */
json_object *cv_json_string(const char *s);

/* A protobuf repeated string (counted, not NULL-terminated) joined with sep; NULL when out of
 * memory. */
char *cv_join(char *const *l, size_t n, const char *sep);
