#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/plan's peer: Ceph's own DriveSelection (python3-ceph-common's ceph.deployment, what
# cephadm runs for `ceph orch apply osd --dry-run`) over the same fleet bench/castle-fleet
# simulates: NODES hosts x DEVICES devices (4 TB rotational SEAGATE disks, one in three
# available). Prints the seconds the selection of every host took, and the data devices chosen.
#   plan-oracle.py NODES DEVICES
import sys
import time

from ceph.deployment.drive_group import DriveGroupSpec
from ceph.deployment.drive_selection.selector import DriveSelection
from ceph.deployment.inventory import Devices
from ceph.deployment.service_spec import PlacementSpec


def human(size):
    suffixes = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB']
    i = 0
    while size > 1024:
        i += 1
        size = size / 1024.0
    return '{:.2f} {}'.format(size, suffixes[i])


def host_devices(node, n):
    out = []
    for i in range(n):
        kname = 'sd' + chr(ord('a') + i // 26) + chr(ord('a') + i % 26)
        avail = i % 3 == 0
        out.append({
            'path': '/dev/' + kname,
            'sys_api': {'rotational': '1', 'size': 4000787030016.0, 'human_readable_size': human(4000787030016),
                        'model': 'ST4000NM0035-1V4107', 'vendor': 'SEAGATE'},
            'available': avail,
            'rejected_reasons': [] if avail else ['Has a FileSystem'],
            'device_id': 'wwn-0x5000c500%08x_%s' % (i, node),
            'lvs': [],
        })
    return out


def main():
    nodes, devices = int(sys.argv[1]), int(sys.argv[2])
    spec = DriveGroupSpec(placement=PlacementSpec(host_pattern='*'), service_id='bench',
                          data_devices=DriveGroupSpec._drive_group_spec_from_json(
                              'bench', {'data_devices': {'rotational': 1, 'size': '3T:'}})['data_devices'])
    inventories = [(('sim-%06u' % k), Devices.from_json(host_devices('sim-%06u' % k, devices)))
                   for k in range(nodes)]
    t0 = time.monotonic()
    chosen = 0
    for host, inv in inventories:
        if not spec.placement.filter_matching_hostspecs([type('H', (), {'hostname': host, 'labels': []})()]):
            continue
        sel = DriveSelection(spec, inv.devices)
        chosen += len(sel.data_devices())
    t = time.monotonic() - t0
    print('%.3f %d' % (t, chosen))


main()
