#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The oracle test (tests/oracle) on a live scan: loop devices this test made (sizes on both
# sides of ceph-volume's unit boundaries, one with a filesystem, one read-only) and whatever
# else this machine has, scanned by castlectl inventory --all --allow-loop, then 1,000 generated specs selected
# by castle (tests/oracle/castle-select) and by Ceph's own Python DriveSelection.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm mkfs.ext4 jq
BUILD=$(dirname "$CASTLECTL")
SELECT=$BUILD/tests/oracle/castle-select
[ -x "$SELECT" ] || skip "$SELECT is not built (make check builds it)"
/usr/bin/python3 -c 'import ceph.deployment.drive_selection' 2>/dev/null ||
        skip "/usr/bin/python3 cannot import ceph.deployment (python3-ceph-common)"
ensure_udevd
setup_work

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
P=$((BASE / 10))
# 5 GiB (the verdict's least), 10 GiB ("10.00 GB"), 1 TiB less 1 MiB ("1024.00 GB"), 1 TiB
# ("1.00 TB"), 20 GiB with ext4, 6 GiB read-only
attach_at ${P}0 "$(new_image a 5G)"
attach_at ${P}1 "$(new_image b 10G)"
attach_at ${P}2 "$(new_image c $((1024 * 1024 - 1))M)"
attach_at ${P}3 "$(new_image d 1T)"
attach_at ${P}4 "$(new_image e 20G)"
mkfs.ext4 -q /dev/loop${P}4
attach_at ${P}5 "$(new_image f 6G)" -r
udevadm settle

"$CASTLECTL" inventory --all --allow-loop --format json >"$WORK/inventory.json" || fail "castlectl inventory"
for n in 0 1 2 3 4 5; do
        jq -e --arg p /dev/loop${P}$n '.devices[] | select(.path == $p)' "$WORK/inventory.json" >/dev/null ||
                fail "the scan lists /dev/loop${P}$n"
done
if /usr/bin/python3 "$(dirname "$0")/../oracle/drive_selection.py" "$SELECT" --cases 0 \
        --inventory "$WORK/inventory.json" >"$WORK/oracle.log" 2>&1; then
        pass "$(head -1 "$WORK/oracle.log")"
else
        cat "$WORK/oracle.log"
        fail "castle's selection differs from cephadm's on the live scan"
fi
[ "$FAILED" -eq 0 ] && echo "test-spec-oracle: all checks passed"
