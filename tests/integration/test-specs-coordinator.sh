#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OSD specs through the coordinator, as real processes on loopback with CURVE: two agents with
# their own loop devices (and labels, when the agent has the labels option); apply --dry-run
# shows, per node, the OSDs a spec would make and every device it leaves with the reason (a
# loop device with a filesystem: "Has a FileSystem"; a node the spec does not place: "not
# placed"); a malformed spec is refused with its line and nothing is stored; an apply is
# stored, listed, kept across a coordinator restart and removed by spec rm; a viewer key may
# preview but not apply (exit status 4). Nothing here makes an OSD or writes to a device.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq mkfs.ext4
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

BASE=$(free_loop_base 20) || skip "no block of 20 free loop device numbers between 200 and 999"
A=$((BASE / 10))
B=$((BASE / 10 + 1))

port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d" "$WORK/viewers.d"
for name in coordinator agent-a agent-b operator viewer; do
        "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null
done
cp "$K/agent-a.key" "$K/agent-b.key" "$WORK/agents.d/"
cp "$K/operator.key" "$WORK/clients.d/"
cp "$K/viewer.key" "$WORK/viewers.d/"

start_coordinator() {
        "$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
                --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --viewer-keys "$WORK/viewers.d" \
                --database "$WORK/coordinator.db" --stale-after 3s --offline-after 60s >>"$WORK/coordinator.log" 2>&1 &
        COORD_PID=$!
        PIDS+=("$COORD_PID")
}

# Labels when the agent has the option (agent-specs); without it, the node that a label
# would leave out is left out by a host list instead.
LABELS=no
"$AGENT" --help 2>&1 | grep -q -- "--labels" && LABELS=yes

start_agent() { # start_agent NAME FILTER KEY [extra options]
        local name=$1 filter=$2 key=$3
        shift 3
        "$AGENT" --config /dev/null --verbose --node-id "$name" --coordinator "$AEP" --key "$K/$key.key" \
                --coordinator-key "$K/coordinator.key" --allow-loop --filter "$filter" --heartbeat-interval 1s \
                "$@" >>"$WORK/agent-$name.log" 2>&1 &
        PIDS+=("$!")
}

cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/operator.key" "$@"; }
viewer() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/viewer.key" "$@"; }
has_device() { cluster devices --format json | jq -e --arg n "$1" --arg p "$2" \
        'map(select(.node_id == $n and .device.path == $p)) | length == 1' >/dev/null; }
reasons_are() { [ "$(cluster devices --format json | jq -r --arg p "$1" \
        'map(select(.device.path == $p))[0].device.reasons | map(.code) | join(",")')" = "$2" ]; }
state_is() { [ "$(cluster nodes --format json | jq -r --arg n "$1" 'map(select(.node_id == $n))[0].state')" = "$2" ]; }
spec_count() { cluster specs --format json | jq '.specs | length'; }

attach_at ${A}0 "$(new_image a0 10G)"
attach_at ${A}1 "$(new_image a1 10G)"
attach_at ${B}0 "$(new_image b0 10G)"
mkfs.ext4 -q /dev/loop${A}1
udevadm settle

start_coordinator
if [ $LABELS = yes ]; then
        start_agent node-a "^loop${A}[0-9]\$" agent-a --labels osd,fast
        start_agent node-b "^loop${B}[0-9]\$" agent-b --labels mon
else
        start_agent node-a "^loop${A}[0-9]\$" agent-a
        start_agent node-b "^loop${B}[0-9]\$" agent-b
fi
wait_for "node-a's devices reach the coordinator" has_device node-a /dev/loop${A}1
wait_for "node-b's devices reach the coordinator" has_device node-b /dev/loop${B}0
wait_for "the filesystem is seen" reasons_are /dev/loop${A}1 has_filesystem
wait_for "both nodes online" state_is node-b online
if [ $LABELS = yes ]; then
        cluster nodes | grep -q "^node-a .* osd,fast" || fail "cluster nodes shows node-a's labels: $(cluster nodes)"
        pass "cluster nodes shows the agents' labels"
fi

# One spec for node-a's devices, raw; node-b is not placed (by label, or by the host list).
if [ $LABELS = yes ]; then
        placement="  label: osd"
else
        placement="  hosts:
    - no-such-host"
fi
cat >"$WORK/spec.yaml" <<YAML
service_type: osd
service_id: loops
placement:
$placement
spec:
  data_devices:
    all: true
  method: raw
YAML
# With labels node-a is placed; without, this second spec places every host.
cat >"$WORK/all.yaml" <<YAML
service_type: osd
service_id: everywhere
placement:
  host_pattern: '*'
spec:
  data_devices:
    all: true
  method: raw
YAML

# --- dry run: plans per node, nothing stored
cluster apply -i "$WORK/all.yaml" --dry-run --format json >"$WORK/dry.json" || fail "apply --dry-run failed"
jq -e --arg d /dev/loop${A}0 '.plans | map(select(.node_id == "node-a"))[0] | .placed and (.osds | map(.data) | index($d) != null)' \
        "$WORK/dry.json" >/dev/null || fail "node-a's plan makes an OSD of loop${A}0: $(jq -c .plans "$WORK/dry.json")"
jq -e --arg d /dev/loop${A}1 '.plans | map(select(.node_id == "node-a"))[0].skipped | map(select(.device == $d))[0].reasons | index("Has a FileSystem") != null' \
        "$WORK/dry.json" >/dev/null || fail "loop${A}1 is not taken because it has a filesystem: $(jq -c .plans "$WORK/dry.json")"
jq -e --arg d /dev/loop${B}0 '.plans | map(select(.node_id == "node-b"))[0].osds | map(.data) | index($d) != null' \
        "$WORK/dry.json" >/dev/null || fail "node-b's plan makes an OSD of loop${B}0"
pass "apply --dry-run: the OSDs each node would get, and a device with a filesystem left out with its reason"
cluster apply -i "$WORK/all.yaml" --dry-run >"$WORK/dry.txt" || fail "apply --dry-run (table) failed"
grep -q "not taken: /dev/loop${A}1: .*Has a FileSystem" "$WORK/dry.txt" || fail "table shows the reason: $(cat "$WORK/dry.txt")"
grep -q "^everywhere: 2 of 2 node(s) placed, 2 OSD(s) to make" "$WORK/dry.txt" || fail "summary line: $(cat "$WORK/dry.txt")"
grep -q "nothing was stored" "$WORK/dry.txt" || fail "a dry run says it stored nothing"
cluster apply -i - --dry-run <"$WORK/spec.yaml" >"$WORK/dry2.txt" || fail "apply -i - --dry-run failed"
grep -q "^loops: node node-b (.*): not placed" "$WORK/dry2.txt" || fail "a node the spec does not place says so: $(cat "$WORK/dry2.txt")"
[ "$(spec_count)" = 0 ] || fail "a dry run stored a spec"
pass "a node the spec does not place says so; a dry run stores nothing"

# --- a malformed spec: refused with its line, nothing stored
printf 'service_type: osd\nservice_id: bad\nplacement:\n  host_pattern: "*"\nspec:\n  data_devices:\n    all: true\n  no_such_key: 1\n' \
        >"$WORK/bad.yaml"
cat "$WORK/spec.yaml" >"$WORK/stream.yaml"
printf -- '---\n' >>"$WORK/stream.yaml"
cat "$WORK/bad.yaml" >>"$WORK/stream.yaml"
if cluster apply -i "$WORK/stream.yaml" >"$WORK/bad.out" 2>&1; then
        fail "a stream with a malformed spec was applied"
fi
grep -q "no_such_key" "$WORK/bad.out" && grep -qi "line" "$WORK/bad.out" ||
        fail "the refusal names the key and the line: $(cat "$WORK/bad.out")"
[ "$(spec_count)" = 0 ] || fail "a refused stream stored something"
pass "a malformed spec is refused with its key and line; no spec of the stream is stored"

# --- a viewer previews but may not apply
viewer apply -i "$WORK/spec.yaml" --dry-run >/dev/null || fail "a viewer cannot preview"
status=0
viewer apply -i "$WORK/spec.yaml" >"$WORK/viewer.out" 2>&1 || status=$?
[ $status = 4 ] || fail "a viewer's apply exits $status, not 4: $(cat "$WORK/viewer.out")"
grep -q "operator" "$WORK/viewer.out" || fail "the refusal names the operator role"
[ "$(spec_count)" = 0 ] || fail "a viewer's apply stored something"
pass "a viewer key cannot apply (exit status 4) and stores nothing"

# --- apply stores; specs lists it; a restart keeps it; spec rm removes it
cluster apply -i "$WORK/spec.yaml" >"$WORK/apply.txt" || fail "apply failed: $(cat "$WORK/apply.txt")"
[ "$(spec_count)" = 1 ] || fail "the applied spec is not listed"
cluster specs >"$WORK/specs.txt"
grep -q "^loops " "$WORK/specs.txt" || fail "cluster specs lists loops: $(cat "$WORK/specs.txt")"
cluster specs --format yaml | grep -q "service_id: loops" || fail "specs --format yaml gives the document back"
cluster audit --format json | jq -e 'map(select(.action == "spec apply" and .result == "ok")) | length == 1' >/dev/null ||
        fail "the apply is in the audit trail"
pass "apply stores the spec, specs lists it, the audit trail has it"

kill "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
start_coordinator
wait_for "the restarted coordinator answers" cluster nodes
[ "$(spec_count)" = 1 ] || fail "a coordinator restart lost the spec"
cluster plan loops >"$WORK/plan.txt" || fail "plan loops failed"
grep -q "^loops: " "$WORK/plan.txt" || fail "plan prints the stored spec's plan: $(cat "$WORK/plan.txt")"
pass "a coordinator restart keeps the spec; plan shows it"

if cluster spec rm no-such-spec >/dev/null 2>&1; then fail "spec rm of an unknown spec succeeded"; fi
cluster spec rm loops >"$WORK/rm.txt" || fail "spec rm failed"
grep -q "OSDs it made stay" "$WORK/rm.txt" || fail "spec rm says the OSDs stay"
[ "$(spec_count)" = 0 ] || fail "spec rm left the spec"
pass "spec rm removes the spec"
