#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# What cephadm would run for an OSD spec on this host: its own DriveSelection over
# `ceph-volume inventory --format json` (read from a file), turned into a ceph-volume command
# by its own translate.to_ceph_volume (preview: --report --format json). Prints the command's
# arguments after "ceph-volume", one per line.
#   spec-oracle.py SPEC.yaml INVENTORY.json
import json
import sys

import yaml
from ceph.deployment.drive_group import DriveGroupSpec
from ceph.deployment.drive_selection.selector import DriveSelection
from ceph.deployment.inventory import Devices
from ceph.deployment.translate import to_ceph_volume

with open(sys.argv[1]) as f:
    spec = DriveGroupSpec.from_json(yaml.safe_load(f))
with open(sys.argv[2]) as f:
    inventory = Devices.from_json(json.load(f))
selection = DriveSelection(spec, inventory.devices)
for cmd in to_ceph_volume(selection, preview=True).run():
    print('\n'.join(cmd.split()))
