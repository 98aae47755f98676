#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Disk health on loop devices (which report none): castlectl inventory --health says unknown
# with the reason, and an agent with a short health-interval carries it to the coordinator,
# where cluster devices --health and cluster device ID show it, and the metrics count it.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq curl
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

BASE=$(free_loop_base 2) || skip "no block of 2 free loop device numbers between 200 and 999"
attach_at "$BASE" "$(new_image h1 10G)"
dev=/dev/loop$BASE
udevadm settle

# --- castlectl inventory --health reads it now
"$CASTLECTL" inventory --allow-loop --health --format json "$dev" >"$WORK/inv.json"
[ "$(jq -r '.devices[0].health.verdict' "$WORK/inv.json")" = health_unknown ] ||
        fail "loop health: $(jq -c '.devices[0].health' "$WORK/inv.json")"
jq -e '.devices[0].health.reasons | index("loop devices report no health")' "$WORK/inv.json" >/dev/null ||
        fail "loop health reason: $(jq -c '.devices[0].health.reasons' "$WORK/inv.json")"
[ "$(jq -r '.devices[0].health.percent_used' "$WORK/inv.json")" = -1 ] || fail "metrics not reported are -1"
[ "$(jq -r '.devices[0].available' "$WORK/inv.json")" = true ] || fail "unknown health does not refuse a device"
pass "inventory --health: a loop device's health is unknown, with the reason"
"$CASTLECTL" inventory --allow-loop --health "$dev" >"$WORK/inv.table"
grep -q "HEALTH" "$WORK/inv.table" && grep -q "unknown: loop devices report no health" "$WORK/inv.table" ||
        fail "inventory --health table: $(cat "$WORK/inv.table")"
"$CASTLECTL" inventory --allow-loop "$dev" >"$WORK/inv.plain"
! grep -q "HEALTH" "$WORK/inv.plain" || fail "no HEALTH column without --health"
"$CASTLECTL" inventory --allow-loop --format json "$dev" | jq -e '.devices[0].health == null' >/dev/null ||
        fail "no health read without --health"
pass "inventory --health table has a HEALTH column, plain inventory none"

# --- the agent reads it and the coordinator shows it
port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
MPORT=$((port + 2))
"$COORD" --config /dev/null --insecure --agent-endpoint "$AEP" --query-endpoint "$QEP" \
        --database "$WORK/coordinator.db" >>"$WORK/coordinator.log" 2>&1 &
PIDS+=("$!")
"$AGENT" --config /dev/null --verbose --insecure --node-id h1 --coordinator "$AEP" --allow-loop \
        --filter "^loop$BASE\$" --heartbeat-interval 1s --health-interval 3s \
        --metrics-listen "127.0.0.1:$MPORT" >>"$WORK/agent.log" 2>&1 &
PIDS+=("$!")
cluster() { "$CASTLECTL" cluster --insecure --coordinator "$QEP" "$@"; }
health_reached() {
        cluster devices --format json 2>/dev/null |
                jq -e --arg p "$dev" 'map(select(.device.path == $p))[0].device.health.verdict == "health_unknown"' >/dev/null
}
wait_for "the loop device's health reaches the coordinator" health_reached
cluster devices --health >"$WORK/cluster.table"
grep -q "HEALTH" "$WORK/cluster.table" && grep -q "unknown: loop devices report no health" "$WORK/cluster.table" ||
        fail "cluster devices --health: $(cat "$WORK/cluster.table")"
cluster devices --health=unknown --format json | jq -e 'length == 1' >/dev/null || fail "--health=unknown lists it"
cluster devices --health=failing --format json | jq -e 'length == 0' >/dev/null || fail "--health=failing lists none"
rc=0; cluster devices --health=bad >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--health=bad is a usage error (exit $rc)"
stable=$(cluster devices --format json | jq -r --arg p "$dev" 'map(select(.device.path == $p))[0].device.stable_id')
cluster device "$stable" >"$WORK/device.txt"
grep -q "^health: *unknown" "$WORK/device.txt" && grep -q "loop devices report no health" "$WORK/device.txt" &&
        grep -q "percentage used" "$WORK/device.txt" || fail "cluster device ID: $(cat "$WORK/device.txt")"
pass "the agent reports health: cluster devices --health and cluster device ID show it"

metrics_ok() {
        curl -fsS "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics" 2>/dev/null &&
                grep -q "^castle_agent_device_health{device=\"$dev\",stable_id=\"$stable\"} 0" "$WORK/metrics" &&
                awk '$1 == "castle_agent_health_reads_total" && $2 >= 2 { ok = 1 } END { exit !ok }' "$WORK/metrics"
}
wait_for "the metrics show the health and the reads every health-interval" metrics_ok
pass "castle_agent_device_health and castle_agent_health_reads_total"
