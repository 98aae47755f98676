#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OSD removal against a real one-monitor cluster with three raw OSDs on loop devices and a
# pool of size 2 holding data, as the dedicated client.castle-osd-rm with exactly the caps
# docs/operations.md gives. Through the coordinator and the agent: `castlectl cluster osd rm
# ID --zap` with the removal killed -9 in its drain and the agent with it, then again after the
# destroy step; each restarted agent carries it on, the status shows the PGs left, and the OSD
# ends purged, its disk zapped, every object reading back byte for byte. `cluster osd rm cancel`
# during a drain that cannot finish puts the OSD back in. On the node: a cancel after the daemon
# was stopped starts it again; `osd rm --replace` killed after the out and run again keeps the id
# destroyed in its CRUSH position and the journal entry as the reservation.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"
source "$(dirname "$0")/fleet.sh"

require_root
require_ceph
require_cmd losetup udevadm jq sha256sum head
BUILD=$(dirname "$CASTLECTL")
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

# ---- through the coordinator and the agent: kill -9 during the drain, and after the destroy ----
fleet_keys
fleet_coordinator coord-rm
# start_agent [VAR=VALUE...]: the agent, with its children's environment (fault points).
start_agent() {
        FLEET_ENV=("$@")
        fleet_agent node-rm "^loop${L}[0-9]\$" --remove-keyring "$RM_KEYRING"
}
kill_agent() { kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; }
stopped_count() { grep -c "osd\.$1: the removal stopped" "$WORK/agent.log"; }
stopped_at_least() { [ "$(stopped_count "$1")" -ge "$2" ]; }
step_is() { [ "$(step_of "$1")" = "$2" ]; }
pgs_shown() {
        cluster osd rm status --format json | jq -e --argjson id "$1" \
                '[.removals[] | select(.removal.osd_id == $id and .removal.pgs_left > 0)] | length > 0'
}

start_agent CASTLE_FAULT=remove-drain
wait_for "the agent is online" fleet_online node-rm
if cluster osd rm "$A" --zap >"$WORK/crm.out" 2>"$WORK/crm.err"; then
        pass "cluster osd rm $A --zap: $(cat "$WORK/crm.out")"
else
        fail "cluster osd rm $A --zap: $(cat "$WORK/crm.out" "$WORK/crm.err")"
fi
WAIT_SECONDS=60 wait_for "the removal's child was killed in the drain" stopped_at_least "$A" 1
[ "$(step_of "$A")" = out ] || fail "journal step after the kill in the drain: $(step_of "$A")"
WAIT_SECONDS=20 wait_for "cluster osd rm status shows osd.$A draining with PGs left" pgs_shown "$A"
cluster osd rm status >"$WORK/status.out" 2>&1 && grep -q "draining" "$WORK/status.out" &&
        pass "the status table: $(sed -n 2p "$WORK/status.out")" || fail "status: $(cat "$WORK/status.out")"
kill_agent
start_agent CASTLE_FAULT=remove-destroyed
WAIT_SECONDS=120 wait_for "the restarted agent carried the removal on to the destroy" \
        stopped_at_least "$A" 2
[ "$(step_of "$A")" = destroyed ] || fail "journal step after the kill after the destroy: $(step_of "$A")"
kill_agent
start_agent
WAIT_SECONDS=60 wait_for "the agent started again finishes the removal of osd.$A" test ! -e "$WORK/state/remove/$A.json"
grep -q "osd.$A: carrying on with its removal from step destroyed" "$WORK/agent.log" ||
        fail "the agent did not say it carried on from the destroy step"
in_map "$A" && fail "osd.$A is still in the osd map" || pass "osd.$A is purged"
ceph_cmd auth get "osd.$A" >/dev/null 2>&1 && fail "osd.$A's key is still there" || pass "its key is gone"
[ -e "$CEPH_DIR/osd/ceph-$A" ] && fail "the OSD directory of osd.$A stayed" || pass "its OSD directory is gone"
ceph-bluestore-tool show-label --dev "${DEV[$A]}" >/dev/null 2>&1 && fail "${DEV[$A]} still has a BlueStore label" ||
        pass "${DEV[$A]} has no BlueStore label"
[ "$("$CASTLECTL" inventory --allow-loop --format json "${DEV[$A]}" | jq -r '.devices[0].available')" = true ] &&
        pass "castlectl inventory sees ${DEV[$A]} available again" || fail "${DEV[$A]} is not available after the zap"
read_back && pass "every object reads back byte for byte" || fail "objects lost or changed after the removal"

# ---- cancel through the coordinator, during a drain that cannot finish (two OSDs, size 2) ----
if cluster osd rm "$B" >"$WORK/crmB.out" 2>&1; then pass "cluster osd rm $B"; else
        fail "cluster osd rm $B: $(cat "$WORK/crmB.out")"; fi
WAIT_SECONDS=30 wait_for "osd.$B is draining" step_is "$B" out
if cluster osd rm cancel "$B" >"$WORK/ccancel.out" 2>&1; then pass "cluster osd rm cancel $B: $(cat "$WORK/ccancel.out")"
else fail "cluster osd rm cancel $B: $(cat "$WORK/ccancel.out")"; fi
[ "$(osd_field "$B" in)" = 1 ] && [ "$(osd_field "$B" weight)" = 1 ] && pass "osd.$B is in again with weight 1" ||
        fail "osd.$B is not in again: in=$(osd_field "$B" in) weight=$(osd_field "$B" weight)"
[ "$(osd_field "$B" up)" = 1 ] && pass "osd.$B is still up" || fail "osd.$B is not up"
[ -e "$WORK/state/remove/$B.json" ] && fail "the journal entry of a cancelled removal stayed" || pass "no journal entry left"
WAIT_SECONDS=30 wait_for "the draining child noticed the cancel" stopped_at_least "$B" 1

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
# --force skips the drain: the OSD left must have peered with it since it came back (while it
# was stopped, the other served alone, and its PGs would wait for that one to return). A read
# of every object needs every PG holding one active (no mgr here for `ceph pg stat`).
WAIT_SECONDS=120 wait_for "every object reads with both OSDs up, before the forced removal" read_back
parent_before=$(ceph_cmd osd tree -f json | jq -c --argjson id "$C" '[.nodes[] | select(.children // [] | index($id)) | .name]')
rc=0
CASTLE_FAULT=remove-out rm_osd "$C" --replace --force >"$WORK/rmC1.out" 2>&1 || rc=$?
[ "$rc" = 137 ] || fail "the fault point remove-out did not kill the removal (exit $rc): $(cat "$WORK/rmC1.out")"
[ "$(step_of "$C")" = out ] && pass "the journal holds step out after the kill" || fail "journal step: $(step_of "$C")"
if rm_osd "$C" >"$WORK/rmC.out" 2>&1; then pass "a rerun of osd rm $C finished its --replace removal"; else
        fail "osd rm --replace $C: $(cat "$WORK/rmC.out")"; fi
grep -q "carrying on" "$WORK/rmC.out" || fail "the rerun did not say it carried on"
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
