/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a device is and how to recognise it again: its type, its transport, ceph-volume's
 * device_id, and castle's stable id. Pure functions of the record; no I/O. */
#pragma once

#include "discovery/device.h"

DeviceType identity_type(const Device *d);
Transport identity_transport(const Device *d, const Device *parent);

/* The stable id, by the first rule that applies:
 *   wwn-<WWN>_<serial>   WWN and serial (a WWN alone can be shared by an array's LUNs)
 *   wwn-<WWN>            WWN only
 *   <vendor>_<model>_<serial>   no WWN (the vendor is left out when unknown)
 *   virtio-<serial>      virtio disks, which report a serial but no model
 *   dm-uuid-<DM UUID>    device-mapper devices
 *   path-<ID_PATH>       the physical slot (udev by-path)
 *   loop-<backing file>  loop devices
 *   <parent id>-part<N>  partitions
 * Never the kernel name. Returns NULL (no stable identity) when nothing applies. */
char *identity_stable_id(const Device *d, const Device *parent);

/* ceph-volume's device_id (util/device.py _get_device_id, src/common/blkdev.cc). */
char *identity_ceph_device_id(const Device *d);
