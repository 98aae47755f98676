#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The coordinator's store on a full disk: a real coordinator whose SQLite database lives on a
# 512 KiB tmpfs in this test's own mount namespace, a real agent with two loop devices, and
# the fleet simulator's nodes. While the disk is full, the nodes whose reports were not stored
# are not shown online, `castlectl cluster nodes` says the store fails, the metrics and /ready
# say so too; when space returns the coordinator recovers by itself (it asks those nodes
# again), and what was stored before the disk filled is all there.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq curl unshare mount
# A mount namespace of our own: the tmpfs is nobody else's, and goes when the test ends.
if [ -z "${CASTLE_TEST_MOUNT_NS:-}" ]; then
        unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace (unshare -m)"
        exec env CASTLE_TEST_MOUNT_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
FLEET=$BUILD/bench/castle-fleet
for b in "$CASTLECTL" "$AGENT" "$COORD" "$FLEET"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

BASE=$(free_loop_base 2) || skip "no block of 2 free loop device numbers between 200 and 999"
port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
MPORT=$((port + 2))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d" "$WORK/store"
for name in coordinator agent client; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null; done
"$CASTLECTL" keygen --dir "$K" --node '*' fleet >/dev/null # one key for every simulated node
cp "$K/agent.key" "$K/fleet.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"

mount -t tmpfs -o size=512k castle-test-store "$WORK/store" || skip "cannot mount a tmpfs"
MOUNTS+=("$WORK/store")
# The daemons go before the tmpfs is unmounted: the coordinator holds its database open.
stop_daemons() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
CLEANUP_HOOKS+=(stop_daemons)

"$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
        --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/store/coordinator.db" \
        --metrics-listen "127.0.0.1:$MPORT" --stale-after 5s --offline-after 10min >"$WORK/coordinator.log" 2>&1 &
PIDS+=("$!")

attach_at "$BASE" "$(new_image a 1G)"
attach_at "$((BASE + 1))" "$(new_image b 1G)"
udevadm settle
"$AGENT" --config /dev/null --node-id real --coordinator "$AEP" --key "$K/agent.key" \
        --coordinator-key "$K/coordinator.key" --allow-loop --filter "^loop($BASE|$((BASE + 1)))\$" \
        --heartbeat-interval 1s >"$WORK/agent.log" 2>&1 &
PIDS+=("$!")

cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
nodes_json() { cluster nodes --format json 2>/dev/null; }
node_field() { nodes_json | jq -r --arg n "$1" "map(select(.node_id == \$n))[0].$2"; }
devices_of() { [ "$(node_field "$1" devices)" = "$2" ]; }
metric() { curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
ready_code() { curl -s --max-time 5 -o "$WORK/ready" -w '%{http_code}' "http://127.0.0.1:$MPORT/ready"; }
ready_is() { [ "$(ready_code)" = "$1" ]; }
# fleet FIRST COUNT DEVICES: simulated nodes sim-FIRST.. with DEVICES devices each, in the
# background until every snapshot is acknowledged.
fleet() {
        "$FLEET" "$AEP" "$K/fleet.key" "$K/coordinator.key" "$1" "$2" "$3" 0 >>"$WORK/fleet.log" 2>&1 &
        FLEET_PID=$!
        PIDS+=("$FLEET_PID")
}
fleet_done() { ! kill -0 "$FLEET_PID" 2>/dev/null; }

# --- before: everything stored, ready
wait_for "the agent's two devices are stored" devices_of real 2
fleet 0 3 1
wait_for "three simulated nodes are stored with a device each" fleet_done
wait "$FLEET_PID" || fail "the fleet simulator could store its first snapshots: $(cat "$WORK/fleet.log")"
for i in 0 1 2; do devices_of "sim-00000$i" 1 || fail "sim-00000$i has its device"; done
wait_for "/ready answers 200 while the store takes writes" ready_is 200
cluster nodes >"$WORK/nodes.before" 2>&1
grep -q '^STORE' "$WORK/nodes.before" && fail "no store line while all is well: $(cat "$WORK/nodes.before")"

# --- the disk fills, and something else keeps taking whatever the coordinator gives back
(
        i=0
        while :; do
                dd if=/dev/zero of="$WORK/store/filler.$i" bs=4k 2>/dev/null || true
                i=$((i + 1))
                sleep 0.1
        done
) &
FILLER_PID=$!
PIDS+=("$FILLER_PID")
# New nodes: the coordinator asks each for a snapshot, and cannot store it.
fleet 10 3 100
stored_header() { cluster nodes 2>/dev/null | head -1 | grep -q '^STORE'; }
wait_for "castlectl cluster nodes says the store fails in a header line" stored_header
not_online() { [ "$(node_field sim-000010 state)" != online ] && [ -n "$(node_field sim-000010 store_error)" ] &&
        [ "$(node_field sim-000010 store_error)" != null ]; }
wait_for "a node whose snapshot was not stored is not shown online, and says why (store_error)" not_online
cluster nodes >"$WORK/nodes.full" 2>&1
sed 's/^/    /' "$WORK/nodes.full"
grep -q 'STORE.*No space left on device' "$WORK/nodes.full" ||
        fail "the header names the error: $(cat "$WORK/nodes.full")"
cluster nodes --format json >"$WORK/nodes.json" 2>"$WORK/nodes.json.err"
jq -e 'type == "array"' "$WORK/nodes.json" >/dev/null || fail "JSON stays an array of nodes"
grep -q '^STORE' "$WORK/nodes.json.err" || fail "with --format json the store line goes to stderr"
unsaved_metric() { [ "$(metric castle_coordinator_store_unsaved_nodes)" -ge 1 ]; }
wait_for "castle_coordinator_store_unsaved_nodes counts the nodes not stored" unsaved_metric
failures_metric() { [ "$(metric castle_coordinator_store_write_failures_total)" -ge 1 ]; }
wait_for "castle_coordinator_store_write_failures_total counts the failures" failures_metric
wait_for "/ready answers 503 while reports are not stored" ready_is 503
grep -q "not ready" "$WORK/ready" || fail "/ready says why: $(cat "$WORK/ready")"
grep -q "Failed to store a snapshot of node sim-00001.*No space left on device" "$WORK/coordinator.log" ||
        fail "the coordinator logs the failed snapshot: $(grep -i store "$WORK/coordinator.log" | tail -5)"
devices_of real 2 || fail "the agent's two devices stored before are still there"
for i in 0 1 2; do devices_of "sim-00000$i" 1 || fail "sim-00000$i's device stored before is still there"; done

# --- space returns: the coordinator recovers by itself
kill "$FILLER_PID" || true
wait "$FILLER_PID" 2>/dev/null || true
rm -f "$WORK"/store/filler.*
# The coordinator asks every 5 s; a simulated agent sends its snapshot again at most every 10 s
# (bench/castle-fleet.c, RETRY_USEC, plus up to 4 s of jitter), like an agent that waits for the
# snapshot it sent to be acknowledged before it sends the next.
WAIT_SECONDS=60 wait_for "the coordinator asks again and stores the snapshots it could not" fleet_done
wait "$FLEET_PID" || fail "the fleet simulator's snapshots were all acknowledged: $(tail -3 "$WORK/fleet.log")"
for i in 0 1 2; do devices_of "sim-00001$i" 100 || fail "sim-00001$i has its 100 devices"; done
for i in 0 1 2; do devices_of "sim-00000$i" 1 || fail "sim-00000$i still has its device"; done
recovered() { ! cluster nodes 2>&1 | grep -q '^STORE'; }
wait_for "the store line is gone" recovered
wait_for "castle_coordinator_store_unsaved_nodes is 0 again" metric_is castle_coordinator_store_unsaved_nodes 0
wait_for "castle_coordinator_store_writable is 1 again" metric_is castle_coordinator_store_writable 1
wait_for "/ready answers 200 again" ready_is 200
[ "$(node_field sim-000010 'store_error // ""')" = "" ] || fail "sim-000010 no longer has a store_error"
devices_of real 2 || fail "the agent's devices are intact after the recovery"
grep -q "The store takes writes again" "$WORK/coordinator.log" || fail "the coordinator logs the recovery"

[ "$FAILED" -eq 0 ] && pass "test-store-full"
