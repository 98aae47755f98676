#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The coordinator's quotas against the real daemons on loopback, CURVE on, with simulated
# agents (bench/castle-fleet): a snapshot over max-devices-per-node is refused and nothing of
# it stored; `castlectl cluster node rm` refuses an online node without --force and forgets
# it with it; a `castlectl cluster watch` that stops reading is dropped and, once it reads
# again, says why on stderr and exits non-zero instead of waiting for ever.
source "$(dirname "$0")/lib.sh"

require_cmd jq
BUILD=$(dirname "$CASTLECTL")
COORD=$BUILD/castle-coordinator
FLEET=$BUILD/bench/castle-fleet
for b in "$CASTLECTL" "$COORD" "$FLEET"; do [ -x "$b" ] || skip "$b is not built"; done
setup_work

port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for name in coordinator client; do
        "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null
done
"$CASTLECTL" keygen --dir "$K" --node '*' sim >/dev/null # one key for every simulated node
cp "$K/sim.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"

"$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
        --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
        --stale-after 60s --offline-after 120s --max-devices-per-node 500 --watch-queue 1000 >>"$WORK/coordinator.log" 2>&1 &
COORD_PID=$!
PIDS+=("$COORD_PID")

cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
# fleet FIRST COUNT DEVICES: simulated agents sim-FIRST..., a snapshot each, no deltas.
fleet() { "$FLEET" "$AEP" "$K/sim.key" "$K/coordinator.key" "$1" "$2" "$3" 0; }
node_field() { cluster nodes --format json | jq -r --arg n "$1" "map(select(.node_id == \$n))[0].$2"; }
field_is() { [ "$(node_field "$1" "$2")" = "$3" ]; }

wait_for "the coordinator answers" cluster nodes

# --- devices per node
timeout 30 "$FLEET" "$AEP" "$K/sim.key" "$K/coordinator.key" 0 1 10 0 >"$WORK/fleet0.log" 2>&1 ||
        fail "a 10-device snapshot was not acknowledged: $(cat "$WORK/fleet0.log")"
field_is sim-000000 devices 10 || fail "sim-000000 has $(node_field sim-000000 devices) devices, not 10"
timeout -s KILL 3 "$FLEET" "$AEP" "$K/sim.key" "$K/coordinator.key" 1 1 501 0 >"$WORK/fleet1.log" 2>&1 &&
        fail "a snapshot over max-devices-per-node was acknowledged"
grep -q "Dropped a message from sim-000001 (quota: the node would have 501 devices, max-devices-per-node is 500)" \
        "$WORK/coordinator.log" || fail "the refused snapshot is not logged"
grep -q "rate:" "$WORK/coordinator.log" && fail "a simulated agent went over max-agent-rate"
field_is sim-000001 devices 0 || fail "the refused snapshot was stored: $(node_field sim-000001 devices) devices"
pass "a snapshot over max-devices-per-node is refused, logged, and nothing of it stored"

# --- node rm
cluster node rm sim-000000 2>"$WORK/rm.err" && fail "node rm removed an online node without --force"
grep -q "is online" "$WORK/rm.err" || fail "node rm does not say why: $(cat "$WORK/rm.err")"
cluster nodes --format json | jq -e 'map(select(.node_id == "sim-000000")) | length == 1' >/dev/null ||
        fail "a refused node rm removed the node"
cluster node rm --force sim-000000 >/dev/null || fail "node rm --force failed"
cluster nodes --format json | jq -e 'map(select(.node_id == "sim-000000")) | length == 0' >/dev/null ||
        fail "node rm --force left the node listed"
cluster devices --node sim-000000 --format json | jq -e 'length == 0' >/dev/null ||
        fail "node rm --force left the node's devices"
cluster node rm sim-000000 2>"$WORK/rm.err" && fail "node rm of an unknown node succeeded"
grep -q "no such node" "$WORK/rm.err" || fail "node rm of an unknown node: $(cat "$WORK/rm.err")"
pass "node rm refuses an online node, forgets it with --force, and knows no unknown node"

# --- a watcher that stops reading is dropped, and told so
"$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" watch --format json \
        >"$WORK/watch.out" 2>"$WORK/watch.err" &
WATCH=$! # castlectl itself, not a subshell: it is the one to stop
PIDS+=("$WATCH")
sleep 1 # its subscription is logged at debug level only
kill -STOP "$WATCH"
# 40 agents x 500 devices: 20,000 events while it reads nothing (the coordinator queues 1,000
# to it: --watch-queue). The watch must be resumed
# before the ZMTP heartbeat timeout (6 s) makes the coordinator close its connection.
fleet 100 40 500 >"$WORK/fleet2.log" 2>&1 &
FLEET_PID=$!
PIDS+=("$FLEET_PID")
WAIT_SECONDS=5 wait_for "the coordinator drops the watcher that reads nothing" \
        grep -q "Dropped a watch client that read too slowly" "$WORK/coordinator.log"
kill -CONT "$WATCH"
exited() { ! kill -0 "$WATCH" 2>/dev/null; }
if wait_for "the dropped watch exits" exited; then
        rc=0
        wait "$WATCH" || rc=$?
        [ "$rc" -ne 0 ] || fail "the dropped watch exited with status 0"
        grep -q "dropped: too slow" "$WORK/watch.err" ||
                fail "the dropped watch does not say why: $(cat "$WORK/watch.err")"
        pass "a watch that falls behind is dropped, says 'dropped: too slow' and exits with status $rc"
else
        kill -CONT "$WATCH" 2>/dev/null
        kill "$WATCH" 2>/dev/null
fi
wait "$FLEET_PID" || fail "the fleet's snapshots were not all acknowledged: $(tail -3 "$WORK/fleet2.log")"
kill -0 "$COORD_PID" || fail "the coordinator died"
