#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every layout through the coordinator, with real processes and a one-monitor cluster: a
# coordinator (CURVE on, one operator key) and an agent with four loop devices. One
# `castlectl cluster osd create NODE DEV DEV` makes two raw OSDs in one command (the agent
# runs `castlectl-osd osd batch --method=raw`) and both come up; the audit trail names both
# devices. `castlectl cluster zap` without --yes sends nothing; with it, a device holding a
# filesystem loses its signature, and the device of a running OSD is refused by zap's own
# checks on the node. `cluster rescan NODE` and `rescan --all` answer. LVM and dm-crypt need
# device-mapper: they are the VM tier's.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"
source "$(dirname "$0")/fleet.sh"

require_root
require_ceph
require_cmd losetup udevadm jq blkid mkfs.ext4
BUILD=$(dirname "$CASTLECTL")
for b in "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work
ceph_start || { fail "the test cluster did not start"; exit 1; }

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
L=$((BASE / 10)) # loop${L}0..loop${L}9
fleet_keys

for i in 0 1 2 3; do attach_at "${L}$i" "$(new_image d$i 10G)"; done
mkfs.ext4 -q "/dev/loop${L}2" || fail "mkfs.ext4 on /dev/loop${L}2"
udevadm settle

fleet_coordinator coord-batch
fleet_agent node-b "^loop${L}[0-9]\$"
wait_for "node-b is online" fleet_online node-b
D0=/dev/loop${L}0 D1=/dev/loop${L}1 FS=/dev/loop${L}2 D3=/dev/loop${L}3

# --- two raw OSDs in one command
if cluster --timeout 600s osd create node-b "$D0" "$D1" >"$WORK/create.out" 2>"$WORK/create.err"; then
        pass "one cluster osd create of two devices: $(cat "$WORK/create.out")"
else
        fail "cluster osd create of two raw devices: $(cat "$WORK/create.out" "$WORK/create.err")"
fi
grep -q "running .*castlectl-osd osd batch" "$WORK/agent.log" || fail "the agent ran osd batch"
ids=$(sed -n 's/^On node-b: //p' "$WORK/create.out")
[ "$(echo "$ids" | wc -w)" = 2 ] || fail "the command names two OSDs: '$ids'"
for o in $ids; do
        ceph_wait_up "${o#osd.}" 120 && pass "$o is up" || fail "$o is not up"
done
[ "$(grep -c '^\[' "$WORK/create.err")" -ge 2 ] && pass "progress was shown" || fail "no progress on stderr"
audit_devices() {
        cluster audit --format json | jq -e --arg d "$D0,$D1" \
                'map(select(.action == "osd create" and .device == $d and .result == "ok")) | length == 1'
}
wait_for "the audit trail names both devices of the batch" audit_devices

# --- refused by the agent: a field out of bounds comes back as the command's error
if cluster osd create node-b "$D3" --osds-per-device 2 --db-slots 1 --db-devices "$FS" --lvm --dry-run \
        >"$WORK/bad.out" 2>&1; then
        fail "an LVM batch that cannot fit its DB slots is refused: $(cat "$WORK/bad.out")"
else
        pass "a batch the node cannot plan is refused: $(tail -1 "$WORK/bad.out")"
fi

# --- zap
blkid -p "$FS" >/dev/null || fail "$FS holds a filesystem before the zap"
rc=0
cluster zap node-b "$FS" >"$WORK/zap-no.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--yes" "$WORK/zap-no.out" && pass "zap without --yes is refused" ||
        fail "zap without --yes: status $rc, $(cat "$WORK/zap-no.out")"
blkid -p "$FS" >/dev/null || fail "zap without --yes changed nothing"
if cluster --timeout 120s zap node-b "$FS" --yes >"$WORK/zap.out" 2>&1; then
        pass "zap through the coordinator: $(tail -1 "$WORK/zap.out")"
else
        fail "zap through the coordinator: $(cat "$WORK/zap.out")"
fi
udevadm settle
if blkid -p "$FS" >/dev/null 2>&1; then fail "$FS still has a signature after the zap"; else pass "$FS has no signature left"; fi
if cluster --timeout 120s zap node-b "$D0" --yes >"$WORK/zap-osd.out" 2>&1; then
        fail "zap of a running OSD's device is refused: $(cat "$WORK/zap-osd.out")"
else
        pass "zap of a running OSD's device is refused on the node: $(tail -1 "$WORK/zap-osd.out")"
fi
ceph_wait_up "$(echo "$ids" | awk '{ print $1 }' | tr -d osd.)" 10 || fail "the refused zap left the OSD up"
audit_zap() {
        cluster audit --format json | jq -e --arg d "$FS" 'map(select(.action == "zap" and .device == $d and .result == "ok")) | length == 1'
}
wait_for "the audit trail has the zap" audit_zap

# --- rescan
out=$(cluster rescan node-b 2>&1) && [ "$out" = "Sent to node-b." ] && pass "rescan node-b" || fail "rescan node-b: $out"
out=$(cluster rescan --all 2>&1) && [ "$out" = "Sent to node-b." ] && pass "rescan --all" || fail "rescan --all: $out"
cluster rescan no-such-node >/dev/null 2>&1 && fail "rescan of an unknown node fails"
grep -q "Command .*: rescan" "$WORK/agent.log" && pass "the agent rescanned" || fail "the agent got no rescan"
wait_for "the audit trail has the rescans" sh -c "\"$CASTLECTL\" cluster --coordinator $QEP --server-key $K/coordinator.key --key $K/client.key audit --format json | jq -e 'map(select(.action == \"rescan\" and .result == \"ok\")) | length >= 2'"

[ "$FAILED" -eq 0 ] && pass "test-cluster-batch"
