#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A reserved id comes back on a new disk through the coordinator, with real processes and a
# one-monitor cluster: a coordinator (CURVE on) and an agent with loop devices (start mode
# fork). A raw OSD is made, then removed with `castlectl osd rm --replace --zap --force` (the
# id and its CRUSH position stay, its removal journal entry is the reservation); the agent says
# the id is reserved. A new loop device that appears is not given the id (loop devices have no
# by-path slot: only a disk in the old disk's slot is taken on its own), nor is a device that
# is not available; `castlectl cluster osd replace ID --device NODE:STABLE-ID` gives it to the
# new device, and the OSD comes up with the same id, the same CRUSH weight and under the same
# host bucket, and the reservation ends. Before that, with fault points, one replacement fails
# after `osd new` (CASTLE_FAIL=mkfs): the agent destroys the id again as the removal client,
# and the next attempt takes the same id. The automatic slot path (a SCSI disk hot-swapped at
# the same address) is the VM tier's.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"
source "$(dirname "$0")/fleet.sh"

require_root
require_ceph
require_cmd losetup udevadm jq mkfs.ext4
BUILD=$(dirname "$CASTLECTL")
OSDHELPER=$BUILD/castlectl-osd
for b in "$CASTLECTL" "$OSDHELPER" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work
ceph_start || { fail "the test cluster did not start"; exit 1; }

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
L=$((BASE / 10)) # loop${L}0..loop${L}9
STATE=$WORK/state
fleet_keys

RM_KEYRING=$CEPH_DIR/castle-osd-rm.keyring
ceph_cmd auth get-or-create client.castle-osd-rm \
        mon 'allow r, allow command "osd out", allow command "osd in", allow command "osd down", allow command "osd destroy-actual", allow command "osd purge-actual"' \
        mgr 'allow r' >"$RM_KEYRING" || { fail "cannot create client.castle-osd-rm"; exit 1; }
FAULTS=false
grep -q '^#define CASTLE_FAULT_POINTS 1' "$BUILD/config.h" 2>/dev/null && FAULTS=true

attach_at "${L}0" "$(new_image d0 10G)"
attach_at "${L}1" "$(new_image d1 10G)"
mkfs.ext4 -q "/dev/loop${L}1" || fail "mkfs.ext4 on /dev/loop${L}1"
udevadm settle

fleet_coordinator coord-replace
# The agent's children fail their mkfs once while $WORK/fail-mkfs exists.
FLEET_ENV=(CASTLE_FAIL=mkfs CASTLE_FAIL_FILE="$WORK/fail-mkfs")
fleet_agent node-r "^loop${L}[0-9]\$" --remove-keyring "$RM_KEYRING" --spec-settle 2s
wait_for "node-r is online" fleet_online node-r
D0=/dev/loop${L}0 FS=/dev/loop${L}1 D2=/dev/loop${L}2

# --- one raw OSD
if cluster --timeout 600s osd create node-r "$D0" >"$WORK/create.out" 2>"$WORK/create.err"; then
        pass "osd create: $(cat "$WORK/create.out")"
else
        fail "osd create on $D0: $(cat "$WORK/create.out" "$WORK/create.err")"
        exit 1
fi
ID=$(sed -n 's/^osd\.\([0-9]*\) is up.*/\1/p' "$WORK/create.out")
[ -n "$ID" ] || { fail "no OSD id in '$(cat "$WORK/create.out")'"; exit 1; }
ceph_wait_up "$ID" 120 && pass "osd.$ID is up" || fail "osd.$ID is not up"
# Where the OSD sits in the CRUSH map: its weight and its parent bucket.
crush_place() {
        ceph_cmd osd tree -f json | jq -c --argjson id "$1" \
                '(.nodes[] | select(.id == $id) | .crush_weight) as $w |
                 (.nodes[] | select((.children // []) | index($id)) | .name) as $p | [$w, $p]'
}
BEFORE=$(crush_place "$ID")
[ -n "$BEFORE" ] && pass "osd.$ID in the CRUSH map: $BEFORE" || fail "osd.$ID is not in the CRUSH map"

# --- remove it, keeping the id
if "$OSDHELPER" osd rm --replace --zap --force --allow-loop --conf "$CEPH_CONF_FILE" --client client.admin \
        --keyring "$CEPH_ADMIN_KEYRING" --osd-root "$CEPH_DIR/osd" --state-dir "$STATE" "$ID" \
        >"$WORK/rm.out" 2>&1; then
        pass "osd rm --replace: $(tail -1 "$WORK/rm.out")"
else
        fail "osd rm --replace $ID: $(cat "$WORK/rm.out")"
        exit 1
fi
destroyed() { ceph_cmd osd dump -f json | jq -e --argjson id "$ID" '.osds[] | select(.osd == $id) | .state | index("destroyed")'; }
destroyed >/dev/null && pass "osd.$ID is destroyed, its id kept" || fail "osd.$ID is not destroyed"
[ -f "$STATE/remove/$ID.json" ] && jq -e '.replace == true and .step == "done"' "$STATE/remove/$ID.json" >/dev/null &&
        pass "the removal journal keeps the reservation: $(jq -c . "$STATE/remove/$ID.json")" || fail "no finished reservation in $STATE/remove/$ID.json"
cluster rescan node-r >/dev/null 2>&1 # the agent reads the journal after a scan
wait_for "the agent holds osd.$ID reserved" grep -q "osd\.$ID is reserved" "$WORK/agent.log"

# --- a new disk appears: not in the old slot, so not given the id
attach_at "${L}2" "$(new_image d2 10G)"
udevadm settle
stable_id() {
        cluster devices --format json | jq -r --arg p "$1" 'map(select(.device.path == $p))[0].device.stable_id // empty'
}
seen() { [ -n "$(stable_id "$D2")" ]; }
wait_for "the coordinator sees the new disk $D2" seen
SID=$(stable_id "$D2")
sleep 5 # longer than spec-settle
grep -q "job .* prepares $D2" "$WORK/agent.log" && fail "the agent gave osd.$ID to $D2 on its own (no slot match)"
destroyed >/dev/null && pass "a new disk in no reserved slot is left alone: osd.$ID stays destroyed" ||
        fail "osd.$ID changed without a replace command"

# --- refused: a device that is not available, an id that is not reserved
if cluster --timeout 60s osd replace "$ID" --device "node-r:$FS" >"$WORK/bad.out" 2>&1; then
        fail "osd replace onto a device holding a filesystem is refused: $(cat "$WORK/bad.out")"
else
        pass "osd replace onto an unavailable device is refused: $(tail -1 "$WORK/bad.out")"
fi
if cluster --timeout 60s osd replace 999 --device "node-r:$SID" >"$WORK/bad2.out" 2>&1; then
        fail "osd replace of an id that is not reserved is refused: $(cat "$WORK/bad2.out")"
else
        pass "osd replace of an id not reserved is refused: $(tail -1 "$WORK/bad2.out")"
fi
[ -f "$STATE/remove/$ID.json" ] && pass "refusals leave the reservation" || fail "a refusal dropped the reservation"

# --- a replacement that fails after `osd new` keeps the id, and the next attempt may take it
if $FAULTS; then
        touch "$WORK/fail-mkfs"
        if cluster --timeout 600s osd replace "$ID" --device "node-r:$SID" >"$WORK/failed.out" 2>&1; then
                fail "the replacement with a failing mkfs succeeded: $(cat "$WORK/failed.out")"
        else
                pass "a replacement failing at mkfs fails: $(tail -1 "$WORK/failed.out")"
        fi
        [ ! -e "$WORK/fail-mkfs" ] || fail "the fault point mkfs was not reached"
        [ -f "$STATE/remove/$ID.json" ] && pass "the failed replacement keeps the reservation" ||
                fail "the failed replacement dropped the reservation"
        wait_for "the agent destroyed osd.$ID again" grep -q "osd\.$ID: its reserved id is destroyed" "$WORK/agent.log"
        destroyed >/dev/null && pass "osd.$ID is destroyed again after the failed attempt" ||
                fail "osd.$ID is not destroyed after the failed attempt: $(ceph_cmd osd dump -f json |
                        jq -c --argjson id "$ID" '.osds[] | select(.osd == $id) | .state')"
else
        echo "SKIP: no fault points in this build: the failed attempt is not tested"
fi

# --- the operator gives the id to the new disk
if cluster --timeout 600s osd replace "$ID" --device "node-r:$SID" >"$WORK/replace.out" 2>"$WORK/replace.err"; then
        pass "osd replace: $(cat "$WORK/replace.out")"
else
        fail "osd replace $ID --device node-r:$SID: $(cat "$WORK/replace.out" "$WORK/replace.err")"
fi
grep -q "^osd\.$ID is up on node-r" "$WORK/replace.out" && pass "the command says osd.$ID is up" ||
        fail "the command's answer names osd.$ID: $(cat "$WORK/replace.out")"
ceph_wait_up "$ID" 120 && pass "osd.$ID is up again" || fail "osd.$ID is not up after the replacement"
AFTER=$(crush_place "$ID")
[ "$AFTER" = "$BEFORE" ] && pass "osd.$ID kept its CRUSH weight and position: $AFTER" ||
        fail "osd.$ID's CRUSH place changed: $BEFORE -> $AFTER"
gone() { [ ! -e "$STATE/remove/$ID.json" ]; }
wait_for "the reservation ended (journal entry removed)" gone
grep -q "Reserved osd\.$ID is back" "$WORK/agent.log" && pass "the agent logged the end of the reservation" ||
        fail "the agent did not log the reservation's end"
audit_replace() {
        cluster audit --format json | jq -e 'map(select(.action == "osd replace" and .result == "ok")) | length == 1'
}
wait_for "the audit trail has the osd replace" audit_replace

[ "$FAILED" -eq 0 ] && pass "test-osd-replace"
