#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `castlectl cluster watch` when its coordinator goes away: it says so on stderr (a stopped
# coordinator at once, a frozen one within its ZMTP heartbeat timeout), and when the
# coordinator is back it subscribes again and prints what changed meanwhile; with
# --exit-on-loss it exits non-zero instead. Nodes are the fleet simulator's: no loop devices.
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
# A second coordinator on other ports, with the same database, stands for changes made while
# the first is down (a coordinator that is down stores nothing).
AEP2=tcp://127.0.0.1:$((port + 2))
QEP2=tcp://127.0.0.1:$((port + 3))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for name in coordinator client; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null; done
"$CASTLECTL" keygen --dir "$K" --node '*' fleet >/dev/null # one key for every simulated node
cp "$K/fleet.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"

start_coordinator() { # start_coordinator AGENT-EP QUERY-EP
        "$COORD" --config /dev/null --agent-endpoint "$1" --query-endpoint "$2" --key "$K/coordinator.key" \
                --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
                >>"$WORK/coordinator.log" 2>&1 &
        COORD_PID=$!
        PIDS+=("$COORD_PID")
}
stop_coordinator() {
        kill "$COORD_PID"
        wait "$COORD_PID" 2>/dev/null || true
}
cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
answers() { "$CASTLECTL" cluster --coordinator "$1" --server-key "$K/coordinator.key" --key "$K/client.key" nodes >/dev/null 2>&1; }
fleet() { # fleet AGENT-EP FIRST: one simulated node, sim-FIRST, with 2 devices; returns when stored
        "$FLEET" "$1" "$K/fleet.key" "$K/coordinator.key" "$2" 1 2 0 >>"$WORK/fleet.log" 2>&1
}
# watch NAME [options]: a watch in the background, its stdout and stderr in $WORK/NAME.out/.err
watch() {
        local name=$1
        shift
        # castlectl itself, not the cluster function: $! must be the watch, not a subshell
        "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@" \
                watch >"$WORK/$name.out" 2>"$WORK/$name.err" &
        WATCH_PID=$!
        PIDS+=("$WATCH_PID")
}

start_coordinator "$AEP" "$QEP"
wait_for "the coordinator answers" answers "$QEP"
fleet "$AEP" 1 || fail "the fleet simulator stores sim-000001: $(cat "$WORK/fleet.log")"

watch w1
wait_for "the watch has started" grep -q "^Watching" "$WORK/w1.out"
W1=$WATCH_PID

# --- the coordinator stops: the watch says so, and keeps waiting
stop_coordinator
wait_for "the watch says on stderr that the coordinator is lost" grep -q "Lost the coordinator at $QEP" "$WORK/w1.err"
kill -0 "$W1" 2>/dev/null || fail "without --exit-on-loss the watch keeps running"

# --- a change while it is away: sim-000005 and its devices
start_coordinator "$AEP2" "$QEP2"
wait_for "the second coordinator answers" answers "$QEP2"
fleet "$AEP2" 5 || fail "the fleet simulator stores sim-000005: $(cat "$WORK/fleet.log")"
stop_coordinator
grep -q "sim-000005" "$WORK/w1.out" && fail "the watch printed sim-000005 before its coordinator was back"

# --- it is back: the watch subscribes again and prints what it missed
start_coordinator "$AEP" "$QEP"
wait_for "the watch says the coordinator is back" grep -q "coordinator at $QEP is back" "$WORK/w1.err"
wait_for "the watch prints the node added meanwhile" grep -q "^node sim-000005: " "$WORK/w1.out"
wait_for "the watch prints its devices" grep -q "^device sim-000005 /dev/sdaa " "$WORK/w1.out"
grep -q "^device sim-000001 " "$WORK/w1.out" && fail "what did not change (sim-000001's devices) is not printed again"
# and new events reach it again (a new node, live)
fleet "$AEP" 7 || fail "the fleet simulator stores sim-000007"
wait_for "events reach the resumed watch" grep -q "^device sim-000007 /dev/sdab " "$WORK/w1.out"

# --- a frozen coordinator: seen through the ZMTP heartbeats, not a closed connection
said_twice() { [ "$(grep -c "$1" "$WORK/w1.err")" -ge 2 ]; }
kill -STOP "$COORD_PID"
wait_for "a frozen coordinator is noticed (heartbeat timeout)" said_twice "Lost the coordinator"
kill -CONT "$COORD_PID"
wait_for "and its return" said_twice "is back"
kill "$W1"
wait "$W1" 2>/dev/null || true

# --- --exit-on-loss: exits non-zero
watch w2 --exit-on-loss
wait_for "the second watch has started" grep -q "^Watching" "$WORK/w2.out"
W2=$WATCH_PID
stop_coordinator
exited() { ! kill -0 "$W2" 2>/dev/null; }
wait_for "--exit-on-loss: the watch exits when the coordinator is lost" exited
rc=0
wait "$W2" || rc=$?
[ "$rc" -ne 0 ] || fail "--exit-on-loss exits non-zero (got $rc)"
grep -q "Lost the coordinator at $QEP" "$WORK/w2.err" || fail "--exit-on-loss says why: $(cat "$WORK/w2.err")"

[ "$FAILED" -eq 0 ] && pass "test-watch-loss"
