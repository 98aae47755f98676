#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OSD specs end to end (issue 15): a coordinator, three agents (each in its own UTS namespace,
# so with its own hostname host-N, its own loop devices and labels) and a one-monitor cluster.
# A raw spec placed by host pattern on host-1 and host-2 with a limit of 3 makes the expected
# OSDs on those nodes only, though the coordinator and one agent restart while it is applied;
# re-applying it changes nothing; a device attached later is claimed once it has settled and
# not before, one attached to the unplaced node is not; a device that gets a filesystem during
# its settle time is never claimed, and one being written to is claimed only once the writes
# stop; an unmanaged spec writes nothing (the backing files' bytes are compared).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"

require_root
require_ceph
require_cmd losetup udevadm jq unshare mkfs.ext4 blkid
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
unshare --uts true 2>/dev/null || skip "cannot make a UTS namespace (unshare --uts)"
ensure_udevd
setup_work
ceph_start || { fail "the test cluster did not start"; exit 1; }

SETTLE=5
BASE=$(free_loop_base 30) || skip "no block of 30 free loop device numbers between 200 and 999"
P=$((BASE / 10)) # node-N's loops: loop$((P + N - 1))0..9
dev() { echo "/dev/loop$((P + $1 - 1))$2"; } # dev NODE I

K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
"$CASTLECTL" keygen --dir "$K" coordinator >/dev/null
"$CASTLECTL" keygen --dir "$K" operator >/dev/null
for n in 1 2 3; do "$CASTLECTL" keygen --dir "$K" --node "node-$n" "agent-$n" >/dev/null; done
cp "$K"/agent-?.key "$WORK/agents.d/"
cp "$K/operator.key" "$WORK/clients.d/"

start_coordinator() {
        "$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
                --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
                --stale-after 3s --offline-after 60s >>"$WORK/coordinator.log" 2>&1 &
        COORD_PID=$!
        PIDS+=("$COORD_PID")
}
LABELS=([1]=osd,fast [2]=osd [3]=spare)
declare -A AGENT_PID
start_agent() { # start_agent N: node-N on host-N
        local n=$1
        unshare --uts sh -c 'hostname "$0" && exec "$@"' "host-$n" \
                "$AGENT" --config /dev/null --verbose --node-id "node-$n" --coordinator "$AEP" \
                --coordinator-key "$K/coordinator.key" --key "$K/agent-$n.key" --allow-loop \
                --filter "^loop$((P + n - 1))[0-9]$" --heartbeat-interval 1s --labels "${LABELS[n]}" \
                --spec-settle "${SETTLE}s" --conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" \
                --osd-root "$CEPH_DIR/osd" --state-dir "$WORK/state-$n" --start-mode fork \
                >>"$WORK/agent-$n.log" 2>&1 &
        AGENT_PID[$n]=$!
        PIDS+=("$!")
}
cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/operator.key" "$@"; }
osd_count() { ceph_cmd osd ls -f json | jq length; }
up_count() { ceph_cmd osd dump -f json | jq '[.osds[] | select(.up == 1)] | length'; }
# equals N CMD...: CMD's output is N (run on every try of wait_for, not once when it is called)
equals() { [ "$("${@:2}")" = "$1" ]; }
# has_osd DEV: the device carries a BlueStore label
has_osd() {
        "$CASTLECTL" inventory --allow-loop --format json "$1" |
                jq -e '.devices[0].reasons | map(.message) | index("Has BlueStore device label") != null' >/dev/null
}
# osds_on N: how many of node-N's devices carry an OSD
osds_on() {
        local n=$1 i c=0
        for i in 0 1 2 3 4 5; do [ -e "$(dev "$n" "$i")" ] && has_osd "$(dev "$n" "$i")" && c=$((c + 1)); done
        echo "$c"
}
spec_jobs() { cat "$WORK"/agent-?.log | grep -c "Spec fast: job" || true; }
online() { cluster nodes --format json 2>/dev/null | jq -e 'map(select(.state == "online")) | length == 3' >/dev/null; }
devices_are() { [ "$(cluster devices --format json 2>/dev/null | jq length)" = "$1" ]; }
layout_is() { [ "$(osds_on 1)" = "$1" ] && [ "$(osds_on 2)" = "$2" ] && [ "$(osds_on 3)" = "$3" ]; }

# node-1: one device, node-2: four, node-3: one, each 10 GiB
attach_at "${P}0" "$(new_image n1-0 10G)"
for i in 0 1 2 3; do attach_at "$((P + 1))$i" "$(new_image "n2-$i" 10G)"; done
attach_at "$((P + 2))0" "$(new_image n3-0 10G)"
udevadm settle
start_coordinator
for n in 1 2 3; do start_agent "$n"; done
wait_for "the three nodes are online" online
wait_for "the coordinator has their six devices" devices_are 6
cluster nodes --format json | jq -e 'map(select(.node_id == "node-1"))[0].labels == ["osd", "fast"]' >/dev/null &&
        pass "the coordinator knows node-1's labels" || fail "node-1's labels: $(cluster nodes --format json)"

cat >"$WORK/fast.yaml" <<'YAML'
service_type: osd
service_id: fast
placement:
  host_pattern: 'host-[12]'
spec:
  method: raw
  data_devices:
    size: '5G:'
    limit: 3
YAML

# ---- the preview, then the apply, with a coordinator and an agent restart in the middle ----
cluster apply -i "$WORK/fast.yaml" --dry-run >"$WORK/preview.out" 2>&1 || fail "apply --dry-run: $(cat "$WORK/preview.out")"
sed 's/^/    /' "$WORK/preview.out"
grep -q "limit 3 reached" "$WORK/preview.out" && pass "the preview says node-2's fourth device is past the limit" ||
        fail "the preview does not give the limit as the reason"
[ "$(osd_count)" = 0 ] && pass "the preview made nothing" || fail "the preview made $(osd_count) OSDs"

cluster apply -i "$WORK/fast.yaml" >"$WORK/apply.out" 2>&1 || fail "apply: $(cat "$WORK/apply.out")"
kill -9 "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
start_coordinator
kill "${AGENT_PID[2]}"
wait "${AGENT_PID[2]}" 2>/dev/null || true
start_agent 2
wait_for "the coordinator and node-2, both restarted, are back" online
WAIT_SECONDS=300 wait_for "the spec converges: 1 OSD on node-1, 3 on node-2, none on node-3" layout_is 1 3 0
[ "$(osd_count)" = 4 ] && pass "the cluster has exactly 4 OSDs" || fail "the cluster has $(osd_count) OSDs, 4 expected"
WAIT_SECONDS=120 wait_for "the 4 OSDs are up" equals 4 up_count
has_osd "$(dev 2 3)" && fail "node-2's fourth device, past the limit, became an OSD" ||
        pass "node-2's fourth device, past the limit, was left alone"
cluster specs >"$WORK/specs.out" 2>&1 && grep -q fast "$WORK/specs.out" && pass "cluster specs lists the spec" ||
        fail "cluster specs: $(cat "$WORK/specs.out")"

# ---- re-applying changes nothing ----
jobs_before=$(spec_jobs)
cluster apply -i "$WORK/fast.yaml" >"$WORK/apply2.out" 2>&1 || fail "apply again: $(cat "$WORK/apply2.out")"
sleep $((SETTLE * 2 + 2))
[ "$(spec_jobs)" = "$jobs_before" ] && [ "$(osd_count)" = 4 ] && pass "re-applying the spec started no job and made no OSD" ||
        fail "re-applying: $(($(spec_jobs) - jobs_before)) new jobs, $(osd_count) OSDs"

# ---- a device attached later: claimed once it has settled, not before ----
attach_at "${P}1" "$(new_image n1-1 10G)"
t0=$SECONDS
udevadm settle
late_id=$("$CASTLECTL" inventory --allow-loop --format json "$(dev 1 1)" | jq -r '.devices[0].stable_id')
attach_at "$((P + 2))1" "$(new_image n3-1 10G)"
udevadm settle
sleep $((SETTLE - 2))
if grep -q "Spec fast: job .* on .*$late_id" "$WORK/agent-1.log"; then
        fail "node-1's new device was claimed $((SECONDS - t0)) s after it appeared, before it settled (${SETTLE} s)"
else
        pass "node-1's new device is not claimed during its settle time"
fi
WAIT_SECONDS=120 wait_for "node-1's new device becomes an OSD once it settled" has_osd "$(dev 1 1)"
sleep 2
has_osd "$(dev 3 1)" && fail "the device attached to the unplaced node-3 became an OSD" ||
        pass "the device attached to the unplaced node-3 was left alone"

# ---- a device that gets a filesystem during its settle time is never claimed ----
attach_at "${P}2" "$(new_image n1-2 10G)"
udevadm settle
sleep 1
mkfs.ext4 -q -F "$(dev 1 2)" >/dev/null 2>&1 || fail "mkfs.ext4 on $(dev 1 2)"
udevadm settle
sleep $((SETTLE * 2 + 2))
if has_osd "$(dev 1 2)"; then
        fail "a device that got a filesystem during its settle time became an OSD"
elif [ "$(blkid -o value -s TYPE "$(dev 1 2)")" = ext4 ]; then
        pass "a device that got a filesystem during its settle time was left alone (still ext4)"
else
        fail "the filesystem on $(dev 1 2) is gone: $(blkid "$(dev 1 2)")"
fi

# ---- a device being written to (no signature: only its sectors written change) ----
attach_at "${P}3" "$(new_image n1-3 10G)"
udevadm settle
writer() {
        local end=$((SECONDS + 3 * SETTLE))
        while [ "$SECONDS" -lt "$end" ]; do
                dd if=/dev/urandom of="$(dev 1 3)" bs=64k count=16 seek=$((16 + RANDOM % 1000)) oflag=direct \
                        conv=notrunc status=none 2>/dev/null
                sleep 0.5
        done
}
writer &
WRITER=$!
PIDS+=("$WRITER")
wait "$WRITER"
has_osd "$(dev 1 3)" && fail "a device was claimed while it was being written to" ||
        pass "a device is not claimed while it is being written to ($((3 * SETTLE)) s of writes)"
WAIT_SECONDS=120 wait_for "once the writes stop it settles and becomes an OSD" has_osd "$(dev 1 3)"
WAIT_SECONDS=120 wait_for "node-1 is at the limit: 3 OSDs" equals 3 osds_on 1

# ---- unmanaged: previewed on the node, nothing written ----
cat >"$WORK/look.yaml" <<'YAML'
service_type: osd
service_id: look
placement:
  label: spare
unmanaged: true
spec:
  method: raw
  data_devices:
    size: '5G:'
YAML
sums_before=$(fingerprint "$WORK/n3-0.img" && fingerprint "$WORK/n3-1.img")
cluster apply -i "$WORK/look.yaml" >"$WORK/apply3.out" 2>&1 || fail "apply unmanaged: $(cat "$WORK/apply3.out")"
WAIT_SECONDS=60 wait_for "node-3's agent logs what the unmanaged spec would make" \
        grep -q "Spec look: unmanaged: it would make" "$WORK/agent-3.log"
sleep $((SETTLE * 2 + 2))
sums_after=$(fingerprint "$WORK/n3-0.img" && fingerprint "$WORK/n3-1.img")
[ "$sums_before" = "$sums_after" ] && [ "$(osds_on 3)" = 0 ] &&
        pass "the unmanaged spec wrote nothing: node-3's backing files are byte for byte the same" ||
        fail "the unmanaged spec changed node-3's devices"
[ "$(osd_count)" = 6 ] && pass "the cluster has the 6 OSDs the spec asks for" || fail "the cluster has $(osd_count) OSDs, 6 expected"

[ "$FAILED" -eq 0 ] && pass "test-specs"
