#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OSD removal against a real one-monitor cluster with three raw OSDs on loop devices and a
# pool of size 2 holding data, as the dedicated client.castle-osd-rm with exactly the caps
# docs/operations.md gives: `castlectl osd rm ID --zap` killed after the out and run again
# drains (PGs left shown, the daemon's PG count falls to 0), purges, zaps, and every object
# reads back byte for byte; a cancel during a drain that cannot finish puts the OSD back in;
# a cancel after the daemon was stopped starts it again; --replace keeps the id destroyed in
# its CRUSH position and the journal entry as the reservation. Then through the coordinator
# and the agent: `castlectl cluster osd rm` with the agent killed -9 during the drain and
# after the destroy, restarted, and the removal completes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"

require_root
require_ceph
require_cmd losetup udevadm jq sha256sum head
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
grep -q '^#define CASTLE_FAULT_POINTS 1' "$BUILD/config.h" 2>/dev/null || skip "needs --enable-fault-points"
ensure_udevd
setup_work
ceph_start || { fail "the test cluster did not start"; exit 1; }

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
L=$((BASE / 10))
RM_KEYRING=$CEPH_DIR/castle-osd-rm.keyring
# The least caps: the line docs/operations.md gives.
ceph_cmd auth get-or-create client.castle-osd-rm \
        mon 'allow r, allow command "osd out", allow command "osd in", allow command "osd down", allow command "osd destroy-actual", allow command "osd purge-actual"' \
        mgr 'allow r' >"$RM_KEYRING" || { fail "cannot create client.castle-osd-rm"; exit 1; }
OSD_OPTS=(--allow-loop --conf "$CEPH_CONF_FILE" --osd-root "$CEPH_DIR/osd" --state-dir "$WORK/state")
prep() { "$CASTLECTL" osd prepare "${OSD_OPTS[@]}" --keyring "$CEPH_BOOTSTRAP_KEYRING" "$@"; }
rm_osd() { "$CASTLECTL" osd rm "${OSD_OPTS[@]}" --keyring "$RM_KEYRING" --poll-interval 1 "$@"; }
osd_field() { ceph_cmd osd dump -f json | jq -r --argjson id "$1" ".osds[] | select(.osd == \$id) | .$2"; }
in_map() { ceph_cmd osd ls -f json | jq -e --argjson id "$1" 'index($id) != null' >/dev/null; }
step_of() { jq -r .step "$WORK/state/remove/$1.json" 2>/dev/null; }
stable_id() { "$CASTLECTL" inventory --allow-loop --format json "$1" | jq -r '.devices[0].stable_id'; }

for i in 0 1 2; do attach_at "${L}$i" "$(new_image d$i 6G)"; done
udevadm settle
declare -A DEV
for i in 0 1 2; do
        out=$(prep --data "/dev/loop${L}$i" --start-mode fork --format json --progress none) ||
                { fail "prepare loop${L}$i: $out"; exit 1; }
        id=$(jq -r .osd_id <<<"$out")
        DEV[$id]=/dev/loop${L}$i
        ceph_wait_up "$id" 120 || fail "osd.$id is not up"
done
IDS=("${!DEV[@]}")
IFS=$'\n' IDS=($(sort -n <<<"${IDS[*]}")); unset IFS
A=${IDS[0]} B=${IDS[1]} C=${IDS[2]}
pass "three raw OSDs: ${IDS[*]}"

ceph_cmd osd pool create rmtest 16 16 >/dev/null 2>&1 &&
        ceph_cmd osd pool set rmtest size 2 --yes-i-really-mean-it >/dev/null 2>&1 &&
        ceph_cmd osd pool set rmtest min_size 1 >/dev/null 2>&1 || fail "pool rmtest of size 2"
mkdir -p "$WORK/obj" "$WORK/back"
for n in $(seq 1 24); do
        head -c $((16384 + n * 1000)) /dev/urandom >"$WORK/obj/o$n"
        timeout 60 rados -c "$CEPH_CONF_FILE" --name client.admin --keyring "$CEPH_ADMIN_KEYRING" -p rmtest \
                put "o$n" "$WORK/obj/o$n" || fail "rados put o$n"
done
(cd "$WORK/obj" && sha256sum o* >"$WORK/sums")
read_back() {
        local n
        rm -f "$WORK/back"/*
        for n in $(seq 1 24); do
                timeout 60 rados -c "$CEPH_CONF_FILE" --name client.admin --keyring "$CEPH_ADMIN_KEYRING" -p rmtest \
                        get "o$n" "$WORK/back/o$n" || return 1
        done
        (cd "$WORK/back" && sha256sum -c --quiet "$WORK/sums")
}
read_back && pass "24 objects written to a pool of size 2" || fail "the objects do not read back before the removal"

# ---- remove A with --zap, killed right after the out, run again ----
rc=0
CASTLE_FAULT=remove-out rm_osd "$A" --zap >"$WORK/rm1.out" 2>&1 || rc=$?
[ "$rc" = 137 ] || fail "the fault point remove-out did not kill the removal (exit $rc): $(cat "$WORK/rm1.out")"
[ "$(step_of "$A")" = out ] && pass "the journal holds step out after the kill" || fail "journal step: $(step_of "$A")"
[ "$(osd_field "$A" in)" = 0 ] || fail "osd.$A is not out after the first run"
if rm_osd "$A" --zap >"$WORK/rm2.out" 2>"$WORK/rm2.err"; then
        pass "the rerun finished the removal of osd.$A"
else
        fail "the rerun of osd rm $A: $(cat "$WORK/rm2.out" "$WORK/rm2.err")"
fi
grep -q "PGs left" "$WORK/rm2.err" && pass "the drain showed the PGs left: $(grep -m1 'PGs left' "$WORK/rm2.err")" ||
        fail "no PGs left in the progress: $(cat "$WORK/rm2.err")"
grep -q "carrying on" "$WORK/rm2.err" || fail "the rerun did not say it carried on"
in_map "$A" && fail "osd.$A is still in the osd map" || pass "osd.$A is purged"
ceph_cmd auth get "osd.$A" >/dev/null 2>&1 && fail "osd.$A's key is still there" || pass "its key is gone"
[ -e "$WORK/state/remove/$A.json" ] && fail "the journal entry of osd.$A stayed" || pass "its journal entry is gone"
[ -e "$CEPH_DIR/osd/ceph-$A" ] && fail "the OSD directory of osd.$A stayed" || pass "its OSD directory is gone"
ceph-bluestore-tool show-label --dev "${DEV[$A]}" >/dev/null 2>&1 && fail "${DEV[$A]} still has a BlueStore label" ||
        pass "${DEV[$A]} has no BlueStore label"
[ "$("$CASTLECTL" inventory --allow-loop --format json "${DEV[$A]}" | jq -r '.devices[0].available')" = true ] &&
        pass "castlectl inventory sees ${DEV[$A]} available again" || fail "${DEV[$A]} is not available after the zap"
read_back && pass "every object reads back byte for byte" || fail "objects lost or changed after the removal"

# ---- cancel during a drain that cannot finish (two OSDs left, size 2) ----
rm_osd "$B" >"$WORK/rmB.out" 2>"$WORK/rmB.err" &
bgpid=$!
WAIT_SECONDS=60 wait_for "osd.$B's removal is draining" grep -q "PGs left\|safe to destroy" "$WORK/rmB.err"
if rm_osd --cancel "$B" >"$WORK/cancel.out" 2>&1; then pass "cancel: $(cat "$WORK/cancel.out")"; else
        fail "cancel of osd.$B: $(cat "$WORK/cancel.out")"; fi
rc=0; timeout 30 tail --pid="$bgpid" -f /dev/null; wait "$bgpid" || rc=$?
[ "$rc" != 0 ] && pass "the draining removal stopped (exit $rc)" || fail "the draining removal went on after the cancel"
[ "$(osd_field "$B" in)" = 1 ] && [ "$(osd_field "$B" weight)" = 1 ] && pass "osd.$B is in again with weight 1" ||
        fail "osd.$B is not in again: in=$(osd_field "$B" in) weight=$(osd_field "$B" weight)"
[ "$(osd_field "$B" up)" = 1 ] && pass "osd.$B is still up" || fail "osd.$B is not up"
[ -e "$WORK/state/remove/$B.json" ] && fail "the journal entry of a cancelled removal stayed" || pass "no journal entry left"

# ---- cancel after the daemon was stopped: it starts again ----
rc=0
CASTLE_FAULT=remove-stopped rm_osd "$B" --force >"$WORK/rmB2.out" 2>&1 || rc=$?
[ "$rc" = 137 ] || fail "the fault point remove-stopped did not kill the removal (exit $rc): $(cat "$WORK/rmB2.out")"
[ "$(step_of "$B")" = stopped ] || fail "journal step after the kill: $(step_of "$B")"
[ "$(osd_field "$B" up)" = 0 ] && pass "osd.$B is down after the stop step" || fail "osd.$B is still up"
if rm_osd --cancel "$B" --start-mode fork >"$WORK/cancel2.out" 2>&1; then pass "cancel after the stop"; else
        fail "cancel after the stop: $(cat "$WORK/cancel2.out")"; fi
ceph_wait_up "$B" 120 && pass "osd.$B is up again" || fail "osd.$B did not come up again"
[ "$(osd_field "$B" in)" = 1 ] || fail "osd.$B is not in after the second cancel"

# ---- --replace: the id stays, destroyed, in its CRUSH position ----
parent_before=$(ceph_cmd osd tree -f json | jq -c --argjson id "$C" '[.nodes[] | select(.children // [] | index($id)) | .name]')
if rm_osd "$C" --replace --force >"$WORK/rmC.out" 2>&1; then pass "osd rm --replace $C"; else
        fail "osd rm --replace $C: $(cat "$WORK/rmC.out")"; fi
ceph_cmd osd tree -f json | jq -e --argjson id "$C" '.nodes[] | select(.id == $id) | .status == "destroyed"' >/dev/null &&
        pass "osd.$C is destroyed in the tree" || fail "osd.$C is not destroyed: $(ceph_cmd osd tree)"
parent_after=$(ceph_cmd osd tree -f json | jq -c --argjson id "$C" '[.nodes[] | select(.children // [] | index($id)) | .name]')
[ "$parent_after" = "$parent_before" ] && [ "$parent_after" != "[]" ] && pass "its CRUSH position is kept ($parent_after)" ||
        fail "its CRUSH position moved: $parent_before -> $parent_after"
[ "$(step_of "$C")" = done ] && jq -e '.replace == true and .by_path != null or .block.stable_id != null' \
        "$WORK/state/remove/$C.json" >/dev/null && pass "the journal entry stays as the reservation" ||
        fail "journal entry of osd.$C: $(cat "$WORK/state/remove/$C.json" 2>&1)"
read_back && pass "the objects still read back" || fail "objects lost after the replace removal"

[ "$FAILED" -eq 0 ] && pass "test-osd-rm"
