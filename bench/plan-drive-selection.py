#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/plan's peer half: Ceph's own DriveSelection (python3-ceph-common) over the inventory
# that bench/castle-fleet simulates (NODES nodes x PER devices, the same fields), with the
# spec bench/plan applies; prints the time of the selection alone (inventory built first).
#   /usr/bin/python3 bench/plan-drive-selection.py NODES PER
import sys, time
from ceph.deployment.drive_group import DriveGroupSpec, DeviceSelection
from ceph.deployment.service_spec import PlacementSpec
from ceph.deployment.drive_selection import DriveSelection
from ceph.deployment.inventory import Device
import logging
logging.disable(logging.CRITICAL)
nodes=int(sys.argv[1]); per=int(sys.argv[2])
spec = DriveGroupSpec(placement=PlacementSpec(host_pattern='*'), service_id='fleet',
                      data_devices=DeviceSelection(rotational=True, size='3T:', model='ST4000'))
def devs(node):
    out=[]
    for i in range(per):
        k='sd'+chr(97+i//26)+chr(97+i%26)
        out.append(Device('/dev/'+k, sys_api={'rotational':'1','size':4000787030016,'model':'ST4000NM0035-1V4107',
            'vendor':'SEAGATE','human_readable_size':'3.64 TB'}, available=(i%3==0), rejected_reasons=[], lvs=[],
            device_id='wwn-0x5000c500%08x_%s'%(i,node)))
    return out
inv=[devs('sim-%06d'%n) for n in range(nodes)]
t0=time.monotonic(); taken=0
for d in inv:
    taken+=len(DriveSelection(spec, d).data_devices())
t=time.monotonic()-t0
print('python %d nodes x %d devices: %.2f s, %d taken' % (nodes, per, t, taken))
