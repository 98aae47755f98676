#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One agent, several coordinators (issue 14): the agent reports to each coordinator of its
# list, every one of them shows its devices and each hotplug; a coordinator killed with -9
# holds up no other, and when it is back it catches up (a snapshot, since it missed a
# generation). A command id forwarded by two coordinators runs once: castle-poke plays the two
# coordinators that forward it, and the second gets the command's last job update again. Then
# CURVE with one key per coordinator.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq curl
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
POKE=$BUILD/tests/castle-poke
for b in "$CASTLECTL" "$AGENT" "$COORD" "$POKE"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
L=$((BASE / 10)) # our loop names: loop${L}0..loop${L}9

port=$((20000 + RANDOM % 20000))
declare -a AEP QEP COORD_PIDS
for i in 1 2 3 4 5; do
        AEP[i]=tcp://127.0.0.1:$((port + 2 * i))
        QEP[i]=tcp://127.0.0.1:$((port + 2 * i + 1))
done
F1=tcp://127.0.0.1:$((port + 20)) # castle-poke playing coordinators
F2=tcp://127.0.0.1:$((port + 21))
MP=$((port + 22))

start_coordinator() { # start_coordinator I [options]: coordinator I, its own database
        local i=$1
        shift
        "$COORD" --config /dev/null --agent-endpoint "${AEP[i]}" --query-endpoint "${QEP[i]}" \
                --database "$WORK/coordinator-$i.db" --stale-after 3s --offline-after 60s "$@" \
                >>"$WORK/coordinator-$i.log" 2>&1 &
        COORD_PIDS[i]=$!
        PIDS+=("$!")
}
cluster() { # cluster I ARGS...: castlectl against coordinator I
        local i=$1
        shift
        "$CASTLECTL" cluster --coordinator "${QEP[i]}" --insecure --timeout 2 "$@"
}
has_device() { cluster "$1" devices --format json | jq -e --arg n "$2" --arg p "$3" 'map(select(.node_id == $n and .device.path == $p)) | length == 1'; }
no_device() { cluster "$1" devices --format json | jq -e --arg p "$2" 'map(select(.device.path == $p)) | length == 0'; }
# The page is read whole before grep -q: grep stopping at the first match would leave curl
# writing to a closed pipe ("Failed writing body"), a failure under pipefail.
metric_is() {
        local page
        page=$(curl -sS --max-time 2 "http://127.0.0.1:$MP/metrics") || return 1
        grep -qx "$1 $2" <<<"$page"
}

attach_at "${L}0" "$(new_image d0 10G)"
attach_at "${L}1" "$(new_image d1 10G)"
udevadm settle

for i in 1 2 3; do start_coordinator "$i" --insecure; done
"$AGENT" --config /dev/null --verbose --node-id node-ha --insecure \
        --coordinator "${AEP[1]},${AEP[2]},${AEP[3]},$F1,$F2" --allow-loop --filter "^loop${L}[0-9]\$" \
        --heartbeat-interval 1s --metrics-listen "$MP" >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")

# --- every coordinator shows the node and its devices
for i in 1 2 3; do
        wait_for "coordinator $i shows the node's devices" has_device "$i" node-ha "/dev/loop${L}1"
done
wait_for "the agent counts three coordinators connected (of five)" metric_is castle_agent_coordinators_connected 3
metric_is castle_agent_coordinators 5 || fail "castle_agent_coordinators is 5"
metric_is "castle_agent_coordinator_connected{coordinator=\"$F1\"}" 0 || fail "the absent one is not connected"

# --- hotplug reaches every coordinator
attach_at "${L}2" "$(new_image d2 10G)"
for i in 1 2 3; do
        wait_for "coordinator $i sees the hotplugged device" has_device "$i" node-ha "/dev/loop${L}2"
done

# --- kill -9 one coordinator: the others stay current
kill -9 "${COORD_PIDS[2]}"
wait "${COORD_PIDS[2]}" 2>/dev/null || true
attach_at "${L}3" "$(new_image d3 10G)"
for i in 1 3; do
        wait_for "coordinator $i sees a device attached while coordinator 2 is down" has_device "$i" node-ha "/dev/loop${L}3"
done
detach "/dev/loop${L}0"
for i in 1 3; do
        wait_for "coordinator $i sees a device go while coordinator 2 is down" no_device "$i" "/dev/loop${L}0"
done
wait_for "the agent counts two coordinators connected" metric_is castle_agent_coordinators_connected 2
metric_is "castle_agent_coordinator_connected{coordinator=\"${AEP[2]}\"}" 0 || fail "coordinator 2 counted as gone"

# --- it comes back and catches up (its database still has the old picture)
start_coordinator 2 --insecure
wait_for "the restarted coordinator sees the device attached meanwhile" has_device 2 node-ha "/dev/loop${L}3"
wait_for "the restarted coordinator no longer shows the device gone meanwhile" no_device 2 "/dev/loop${L}0"
wait_for "the agent counts three coordinators connected again" metric_is castle_agent_coordinators_connected 3

# --- one command id, forwarded by two coordinators, runs once
id=$(cluster 1 devices --format json | jq -r --arg p "/dev/loop${L}1" 'map(select(.device.path == $p))[0].device.stable_id')
[ -n "$id" ] && [ "$id" != null ] || fail "no stable id for /dev/loop${L}1"
"$POKE" coordinator "$F1" 4242000001 "$id" >"$WORK/f1.out" 2>&1 || fail "castle-poke as the first coordinator"
grep -q "^job_update 4242000001 .* done$" "$WORK/f1.out" || fail "the first coordinator heard the job end: $(cat "$WORK/f1.out")"
"$POKE" coordinator "$F2" 4242000001 "$id" >"$WORK/f2.out" 2>&1 || fail "castle-poke as the second coordinator"
grep -q "^job_update 4242000001 .* done$" "$WORK/f2.out" ||
        fail "the second coordinator got the command's last update again: $(cat "$WORK/f2.out")"
n=$(grep -c "Job 4242000001: running" "$WORK/agent.log" || true)
[ "$n" = 1 ] && pass "the job ran once" || fail "the job ran $n times"
grep -q "Command 4242000001 from $F2 was received before: not run again (done)" "$WORK/agent.log" ||
        fail "the agent logs the repeat"

"$POKE" coordinator "$F1" 4242000002 rescan >/dev/null || fail "a rescan through the first"
"$POKE" coordinator "$F2" 4242000002 rescan >/dev/null || fail "the same rescan through the second"
n=$(grep -c "Command 4242000002 from .*: rescan\.$" "$WORK/agent.log" || true)
[ "$n" = 1 ] && pass "the rescan ran once" || fail "the rescan ran $n times"
metric_is castle_agent_commands_repeated_total 2 || fail "two repeats counted"

kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true

# --- CURVE, one key pair per coordinator, one key file per endpoint
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for name in coord4 coord5 agent client; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null; done
cp "$K/agent.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"
for i in 4 5; do
        start_coordinator "$i" --key "$K/coord$i.key" --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d"
done
"$AGENT" --config /dev/null --check-config --coordinator "${AEP[4]},${AEP[5]}" \
        --coordinator-key "$K/coord4.key,$K/coord5.key,$K/coord5.key" \
        >"$WORK/check.out" 2>&1 && fail "three keys for two coordinators accepted"
grep -q "coordinator-key: 3 keys for 2 coordinators" "$WORK/check.out" || fail "the key count error: $(cat "$WORK/check.out")"
"$AGENT" --config /dev/null --verbose --node-id node-curve --key "$K/agent.key" \
        --coordinator "${AEP[4]},${AEP[5]}" --coordinator-key "$K/coord4.key,$K/coord5.key" \
        --allow-loop --filter "^loop${L}[0-9]\$" --heartbeat-interval 1s >>"$WORK/agent-curve.log" 2>&1 &
PIDS+=("$!")
curve_has() { # curve_has I PATH
        "$CASTLECTL" cluster --coordinator "${QEP[$1]}" --server-key "$K/coord$1.key" --key "$K/client.key" \
                --timeout 2 devices --format json |
                jq -e --arg p "$2" 'map(select(.node_id == "node-curve" and .device.path == $p)) | length == 1'
}
for i in 4 5; do wait_for "CURVE coordinator $i shows the node's devices" curve_has "$i" "/dev/loop${L}3"; done
attach_at "${L}4" "$(new_image d4 10G)"
for i in 4 5; do wait_for "CURVE coordinator $i sees a hotplug" curve_has "$i" "/dev/loop${L}4"; done

