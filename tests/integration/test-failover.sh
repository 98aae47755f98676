#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Three coordinators, CURVE on, each with its own key; castlectl is given all three. Each
# coordinator in turn is killed with SIGKILL and started again while a loop asks for the nodes
# and the devices: every query is answered (castlectl fails over), and how long the queries
# took while one coordinator was down is printed, not asserted. A watch survives the loss of
# the coordinator it watches and goes on printing changes; a watch with --exit-on-loss exits
# only once all three are gone. A command sent twice with one --command-id, through two
# coordinators, is accepted by both.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
L=$((BASE / 10)) # loop names loop${L}0..loop${L}9

port=$((20000 + RANDOM % 10000))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for name in coord-0 coord-1 coord-2 agent client; do
        "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null
done
cp "$K/agent.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"
AEP=() QEP=() COORD_PID=()
for i in 0 1 2; do
        AEP[i]=tcp://127.0.0.1:$((port + 10 * i))
        QEP[i]=tcp://127.0.0.1:$((port + 10 * i + 1))
done

start_coordinator() { # start_coordinator I
        local i=$1
        "$COORD" --config /dev/null --agent-endpoint "${AEP[i]}" --query-endpoint "${QEP[i]}" --key "$K/coord-$i.key" \
                --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coord-$i.db" \
                --stale-after 3s --offline-after 60s >>"$WORK/coordinator-$i.log" 2>&1 &
        COORD_PID[i]=$!
        PIDS+=("$!")
}

# One agent that reports to all three (one link and one session each).
start_agent() {
        "$AGENT" --config /dev/null --verbose --node-id node-f --coordinator "${AEP[0]},${AEP[1]},${AEP[2]}" \
                --key "$K/agent.key" --coordinator-key "$K/coord-0.key,$K/coord-1.key,$K/coord-2.key" --allow-loop \
                --filter "^loop${L}[0-9]\$" --heartbeat-interval 1s >>"$WORK/agent.log" 2>&1 &
        PIDS+=("$!")
}

# castlectl with all three: --coordinator repeated and as a list, one server key each.
ALL=(--coordinator "${QEP[0]}" --coordinator "${QEP[1]},${QEP[2]}" --server-key "$K/coord-0.key,$K/coord-1.key,$K/coord-2.key"
     --key "$K/client.key")
cluster() { "$CASTLECTL" cluster "${ALL[@]}" "$@"; }
# castlectl with coordinator I alone.
one() { # one I ARGS...
        local i=$1
        shift
        "$CASTLECTL" cluster --coordinator "${QEP[i]}" --server-key "$K/coord-$i.key" --key "$K/client.key" "$@"
}
knows_node() { # knows_node I: coordinator I alone lists node-f online with its two devices
        [ "$(one "$1" nodes --format json | jq -r 'map(select(.node_id == "node-f"))[0].state')" = online ] &&
                [ "$(one "$1" devices --format json | jq 'map(select(.node_id == "node-f")) | length')" = 2 ]
}
watched() { sed -n 's/^Watching \([^ ]*\) .*/\1/p' "$WORK/$1.out"; }

attach_at "${L}0" "$(new_image f1 10G)"
attach_at "${L}1" "$(new_image f2 10G)"
udevadm settle

for i in 0 1 2; do
        start_coordinator "$i"
done
start_agent
for i in 0 1 2; do wait_for "coordinator $i knows node-f and its devices" knows_node "$i"; done
cluster nodes --format json | jq -e 'length == 1' >/dev/null || fail "castlectl with three coordinators lists the node"

# --- a command sent twice with one id, through two coordinators, is accepted by both
id=$((RANDOM * 32768 + RANDOM + 1))
out0=$(one 0 rescan node-f --command-id "$id" 2>&1) || fail "the command through coordinator 0: $out0"
out1=$(one 1 rescan node-f --command-id "$id" 2>&1) || fail "the same id through coordinator 1: $out1"
if [ "$out0" = "Sent to node-f." ] && [ "$out1" = "Sent to node-f." ]; then
        pass "a command id sent through two coordinators is accepted by both"
else
        fail "a command id sent through two coordinators is accepted by both: '$out0', '$out1'"
fi
for i in 0 1; do
        grep -q "Command $id sent to node node-f" "$WORK/coordinator-$i.log" ||
                fail "coordinator $i forwards the client's command id $id"
done
one 0 rescan node-f --command-id 9007199254740992 >/dev/null 2>&1 &&
        fail "--command-id 2^53 is refused"

# --- watches: one that rides out every loss, one that exits only when all are lost
"$CASTLECTL" cluster "${ALL[@]}" watch >"$WORK/w1.out" 2>"$WORK/w1.err" &
W1=$!
PIDS+=("$W1")
"$CASTLECTL" cluster "${ALL[@]}" --exit-on-loss watch >"$WORK/w2.out" 2>"$WORK/w2.err" &
W2=$!
PIDS+=("$W2")
wait_for "the watch has started" grep -q "^Watching" "$WORK/w1.out"
wait_for "the --exit-on-loss watch has started" grep -q "^Watching" "$WORK/w2.out"
first_watched=$(watched w1)

# --- queries in a loop while each coordinator in turn is killed and started again. Each line
# of loop.log: milliseconds, verb, ok or FAIL, and the phase (which coordinator was down).
echo up >"$WORK/phase"
query_loop() {
        local t0 t1 verb ok
        while [ ! -e "$WORK/stop" ]; do
                for verb in nodes devices; do
                        t0=$(date +%s%N)
                        ok=FAIL
                        if cluster "$verb" --format json 2>>"$WORK/loop.err" >"$WORK/loop.json" &&
                                jq -e 'length >= 1' "$WORK/loop.json" >/dev/null 2>&1; then
                                ok=ok
                        fi
                        t1=$(date +%s%N)
                        echo "$(((t1 - t0) / 1000000)) $verb $ok $(cat "$WORK/phase")" >>"$WORK/loop.log"
                done
        done
}
query_loop &
LOOP=$!
PIDS+=("$LOOP")

for i in 0 1 2; do
        sleep 2
        echo "down-$i" >"$WORK/phase"
        kill -9 "${COORD_PID[i]}"
        wait "${COORD_PID[i]}" 2>/dev/null || true
        sleep 2
        # A command, while one coordinator is down: it goes to one at a time, and on to the next
        # when the one it tried cannot be reached.
        # (Three times: the first one asked is drawn at random.)
        for _ in 1 2 3; do
                t0=$(date +%s%N)
                if out=$(cluster rescan node-f 2>>"$WORK/commands.err") &&
                        [ "$out" = "Sent to node-f." ]; then
                        echo "$(($(date +%s%N) / 1000000 - t0 / 1000000)) rescan" >>"$WORK/commands.log"
                else
                        fail "a command while coordinator $i is down: $out $(tail -3 "$WORK/commands.err")"
                fi
        done
        echo "restart-$i" >"$WORK/phase"
        start_coordinator "$i"
        wait_for "coordinator $i, started again, knows node-f" knows_node "$i"
        echo up >"$WORK/phase"
        kill -0 "$W2" 2>/dev/null || fail "--exit-on-loss: the watch stays while another coordinator answers"
done
sleep 1
touch "$WORK/stop"
wait "$LOOP" || true

[ -s "$WORK/loop.log" ] || fail "the query loop ran"
n=$(wc -l <"$WORK/loop.log")
failed=$(grep -c " FAIL " "$WORK/loop.log" || true)
if [ "$failed" = 0 ]; then
        pass "all $n queries were answered while each coordinator in turn was killed"
else
        fail "$failed of $n queries were not answered: $(grep " FAIL " "$WORK/loop.log" | head -5 | tr '\n' ';') $(tail -5 "$WORK/loop.err")"
fi
# The figures: queries while a coordinator was down (started at random on one of three, so
# about a third of them first asked the dead one).
figures() { # figures PHASE LABEL: count, median and max of the queries' times in that phase
        awk -v p="$1" '$4 == p { print $1 }' "$WORK/loop.log" | sort -n |
                awk -v l="$2" '{ t[NR] = $1 } END { if (NR) printf "  %s: %d queries, median %d ms, max %d ms\n", l, NR, t[int((NR + 1) / 2)], t[NR] }'
}
echo "query times (castlectl started, asked, answered; the first coordinator drawn at random):"
figures up "all three up"
for i in 0 1 2; do figures "down-$i" "coordinator $i killed"; done
echo "  commands while one was down (ms): $(awk '{ print $1 }' "$WORK/commands.log" | tr '\n' ' ')"
echo "  commands that moved to another coordinator: $(grep -c "the command went to" "$WORK/commands.err" || true)"

# --- the watch moved when its coordinator was killed, and goes on printing changes
if grep -q "Lost the coordinator at $first_watched; watching the one at " "$WORK/w1.err"; then
        pass "the watch moved to another coordinator when its own was killed"
else
        fail "the watch says which coordinator it moved to: $(cat "$WORK/w1.err")"
fi
kill -0 "$W1" 2>/dev/null || fail "the watch is still running"
attach_at "${L}2" "$(new_image f3 10G)"
wait_for "the watch prints a disk attached after the losses" grep -q "^device node-f /dev/loop${L}2 " "$WORK/w1.out"

# --- --exit-on-loss: all three gone, the watch exits with status 1
for i in 0 1 2; do kill -9 "${COORD_PID[i]}"; done
exited() { ! kill -0 "$W2" 2>/dev/null; }
wait_for "--exit-on-loss: the watch exits once no coordinator answers" exited
rc=0
wait "$W2" || rc=$?
[ "$rc" = 1 ] || fail "--exit-on-loss exits with status 1, not $rc"
grep -q "and no other answers" "$WORK/w2.err" || fail "--exit-on-loss says why: $(cat "$WORK/w2.err")"
