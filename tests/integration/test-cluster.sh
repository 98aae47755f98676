#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A coordinator and two agents as separate processes on loopback, CURVE on, each agent with
# its own loop devices (kernel-name filters stand for two hosts): hotplug reaches the
# coordinator without a periodic rescan; unknown keys and plain-text clients are refused;
# hostile messages are dropped; kill -9 of either side heals.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq mkfs.ext4
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
POKE=$BUILD/tests/castle-poke
for b in "$CASTLECTL" "$AGENT" "$COORD" "$POKE"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

# Loop numbers of our own: a block of 20 free ones from 200 up. Agent A's devices are
# BASE+0..9, agent B's BASE+10..19, so kernel-name filters stand for two hosts.
BASE=$(free_loop_base 20) || skip "no block of 20 free loop device numbers between 200 and 999"
A=$((BASE / 10))      # loop names loop${A}0..loop${A}9
B=$((BASE / 10 + 1))  # loop${B}0..loop${B}9

port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for name in coordinator agent-a agent-b client rogue poke; do
        "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null
done
cp "$K/agent-a.key" "$K/agent-b.key" "$K/poke.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"

start_coordinator() {
        "$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
                --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
                --stale-after 3s --offline-after 60s >>"$WORK/coordinator.log" 2>&1 &
        COORD_PID=$!
        PIDS+=("$COORD_PID")
}

start_agent() { # start_agent NAME FILTER KEY [extra options]
        local name=$1 filter=$2 key=$3
        shift 3
        "$AGENT" --config /dev/null --verbose --node-id "$name" --coordinator "$AEP" --key "$K/$key.key" \
                --coordinator-key "$K/coordinator.key" --allow-loop --filter "$filter" --heartbeat-interval 1s \
                "$@" >>"$WORK/agent-$name.log" 2>&1 &
        eval "AGENT_PID_${name//-/_}=$!"
        PIDS+=("$!")
}

cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }

devices_json() { cluster devices --format json; }
has_device() { devices_json | jq -e --arg n "$1" --arg p "$2" 'map(select(.node_id == $n and .device.path == $p)) | length == 1'; }
no_device() { devices_json | jq -e --arg p "$1" 'map(select(.device.path == $p)) | length == 0'; }
device_field() { devices_json | jq -r --arg p "$1" "map(select(.device.path == \$p))[0].device.$2"; }
node_state() { cluster nodes --format json | jq -r --arg n "$1" 'map(select(.node_id == $n))[0].state'; }
state_is() { [ "$(node_state "$1")" = "$2" ]; }

loop_at() { # loop_at N NAME SIZE: a sparse image on /dev/loopN
        attach_at "$1" "$(new_image "$2" "$3")"
}

loop_at ${A}0 a1 10G
loop_at ${A}1 a2 10G
loop_at ${B}0 b1 10G
udevadm settle

start_coordinator
start_agent node-a "^loop${A}[0-9]\$" agent-a
start_agent node-b "^loop${B}[0-9]\$" agent-b

wait_for "node-a's devices reach the coordinator" has_device node-a /dev/loop${A}1
wait_for "node-b's devices reach the coordinator" has_device node-b /dev/loop${B}0
[ "$(devices_json | jq 'length')" = 3 ] || fail "expected 3 devices, got $(devices_json | jq -c 'map(.device.path)')"
cluster devices >"$WORK/table"
grep -q "^node-a  */dev/loop${A}0 " "$WORK/table" || fail "table lists node-a's devices: $(cat "$WORK/table")"
wait_for "both nodes online" state_is node-b online

# --- hotplug, without waiting for the periodic rescan (10 min by default)
loop_at ${A}2 a3 10G
wait_for "an attached disk appears" has_device node-a /dev/loop${A}2
[ "$(device_field /dev/loop${A}2 available)" = true ] || fail "new clean disk available"
mkfs.ext4 -q /dev/loop${A}2
reasons_are() { [ "$(devices_json | jq -r --arg p "$1" 'map(select(.device.path == $p))[0].device.reasons | map(.code) | join(",")')" = "$2" ]; }
wait_for "mkfs changes its verdict" reasons_are /dev/loop${A}2 has_filesystem ||
        echo "reasons now: $(devices_json | jq -c 'map(select(.device.path == "/dev/loop${A}2"))[0].device.reasons')"
id=$(device_field /dev/loop${A}2 stable_id)
cluster device "$id" --format json | jq -e 'length == 1' >/dev/null || fail "cluster device ID"
detach /dev/loop${A}2
wait_for "a detached disk disappears" no_device /dev/loop${A}2

# --- watch sees a change live
"$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" watch --format json \
        >"$WORK/watch.out" 2>&1 &
WATCH=$!
PIDS+=("$WATCH")
sleep 0.5
mkfs.ext4 -q /dev/loop${A}1
wait_for "watch streams the change" grep -q '"has_filesystem"' "$WORK/watch.out"

# --- a mount changes the verdict (the agent watches the mount table, no uevent involved)
mkdir -p "$WORK/mnt"
mount -o ro,noload "/dev/loop${A}1" "$WORK/mnt"
MOUNTS+=("$WORK/mnt")
wait_for "a mount reaches the coordinator" reasons_are "/dev/loop${A}1" has_filesystem,mounted
umount "$WORK/mnt"
MOUNTS=()
wait_for "an unmount reaches the coordinator" reasons_are "/dev/loop${A}1" has_filesystem

# --- SIGHUP re-reads the configuration and the agent carries on
kill -HUP "$AGENT_PID_node_a"
wait_for "the agent reloads on SIGHUP" grep -q "SIGHUP: re-reading" "$WORK/agent-node-a.log"
loop_at ${A}3 a5 10G
wait_for "after the reload, hotplug still arrives" has_device node-a "/dev/loop${A}3"
detach "/dev/loop${A}3"

# --- refused peers
start_agent rogue "^loop${B}[0-9]\$" rogue
sleep 2
state=$(node_state rogue)
[ "$state" = null ] || fail "an agent whose key is not allowlisted got in (state $state)"
grep -q "key not in the allowlist" "$WORK/coordinator.log" || fail "coordinator logs the refused key"
pass "an agent with an unknown key is refused"
if "$CASTLECTL" cluster --coordinator "$QEP" --insecure --timeout 2 nodes >/dev/null 2>&1; then
        fail "a plain-text client got an answer"
else
        pass "a plain-text client is refused"
fi
rogue_client=$("$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/rogue.key" \
        --timeout 2 nodes 2>&1) && fail "a client with an unknown key got an answer"
pass "a query client with an unknown key is refused"

# --- hostile messages: dropped, counted, and the coordinator still answers
for what in garbage truncated version huge; do
        "$POKE" "$AEP" "$K/poke.key" "$K/coordinator.key" "$what" || fail "poke $what could not send"
        sleep 1.1 # drops are logged at most once a second per reason
done
grep -q "Dropped a message from poke (decode" "$WORK/coordinator.log" || fail "garbage not counted as a decode drop"
grep -q "Dropped a message from poke (version" "$WORK/coordinator.log" || fail "wrong version not counted"
cluster nodes >/dev/null || fail "coordinator does not answer after hostile messages"
kill -0 "$COORD_PID" || fail "coordinator died"
pass "garbage, truncated, wrong-version and 100 MB messages are dropped; queries still answered"

# --- kill -9 the coordinator; its successor serves the stored inventory at once
kill -9 "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
loop_at ${A}2 a4 10G # changes while the coordinator is down
start_coordinator
wait_for "the restarted coordinator answers from its store" has_device node-b /dev/loop${B}0
wait_for "agents resync after the restart (change made while it was down arrives)" has_device node-a /dev/loop${A}2
wait_for "node-a online again" state_is node-a online

# --- kill -9 an agent: stale, then online when it returns
kill -9 "$AGENT_PID_node_b"
wait_for "a killed agent's node goes stale" state_is node-b stale
has_device node-b /dev/loop${B}0 >/dev/null || fail "a stale node keeps its devices"
start_agent node-b "^loop${B}[0-9]\$" agent-b
wait_for "the restarted agent's node is online" state_is node-b online

# --- a burst of 500 uevents for one disk costs a bounded number of scans
before=$(grep -c "^castle-agent.*Scan [0-9]*:" "$WORK/agent-node-a.log" || true)
for _ in $(seq 500); do echo change >/sys/block/loop${A}0/uevent; done
udevadm settle
sleep 1
after=$(grep -c "^castle-agent.*Scan [0-9]*:" "$WORK/agent-node-a.log" || true)
scans=$((after - before))
echo "note: 500 uevents led to $scans scans"
[ "$scans" -ge 1 ] && [ "$scans" -le 25 ] || fail "500 uevents led to $scans scans (expected 1..25)"
pass "a burst of 500 uevents is debounced"

kill "$AGENT_PID_node_a" 2>/dev/null
wait "$AGENT_PID_node_a" 2>/dev/null
grep -q "stopping" "$WORK/agent-node-a.log" || fail "agent logs an orderly stop on SIGTERM"
