#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The audit trail with real processes: a coordinator (CURVE on, one client key) whose SQLite
# database lives on a small tmpfs in this test's own mount namespace, an agent with two loop
# devices, and a second agent that goes away. An osd create --dry-run and a
# `node rm --force` of the offline node each appear in `castlectl cluster audit --format json`
# with a "requested" record and a result, with the client key's fingerprint; a coordinator
# restart keeps them (they are durable); when the database's file system is full, a command
# is refused with the intent store's error and nothing reaches the agent.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq curl unshare mount
if [ -z "${CASTLE_TEST_MOUNT_NS:-}" ]; then
        unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace (unshare -m)"
        exec env CASTLE_TEST_MOUNT_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

BASE=$(free_loop_base 2) || skip "no block of 2 free loop device numbers between 200 and 999"
port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
MPORT=$((port + 2))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d" "$WORK/store"
for name in coordinator agent gone client; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null; done
cp "$K/agent.key" "$K/gone.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"
CLIENT_FP=$(sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$K/client.key")
[ -n "$CLIENT_FP" ] || fail "the client key file names its public key"

mount -t tmpfs -o size=1m castle-test-audit "$WORK/store" || skip "cannot mount a tmpfs"
MOUNTS+=("$WORK/store")
stop_daemons() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
CLEANUP_HOOKS+=(stop_daemons)

start_coordinator() {
        "$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
                --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" \
                --database "$WORK/store/coordinator.db" --name coord-it --metrics-listen "127.0.0.1:$MPORT" \
                --stale-after 2s --offline-after 3s >>"$WORK/coordinator.log" 2>&1 &
        COORD_PID=$!
        PIDS+=("$COORD_PID")
}
start_coordinator

attach_at "$BASE" "$(new_image a 1G)"
attach_at "$((BASE + 1))" "$(new_image b 1G)"
udevadm settle
"$AGENT" --config /dev/null --verbose --node-id real --coordinator "$AEP" --key "$K/agent.key" \
        --coordinator-key "$K/coordinator.key" --allow-loop --filter "^loop($BASE|$((BASE + 1)))\$" \
        --heartbeat-interval 1s >"$WORK/agent.log" 2>&1 &
PIDS+=("$!")
# a node that goes away: its agent sees no device
"$AGENT" --config /dev/null --node-id gone --coordinator "$AEP" --key "$K/gone.key" \
        --coordinator-key "$K/coordinator.key" --filter '^castle-test-none$' --heartbeat-interval 1s \
        >"$WORK/agent-gone.log" 2>&1 &
GONE_PID=$!
PIDS+=("$GONE_PID")

cluster() { timeout 30 "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" \
        --key "$K/client.key" "$@"; }
node_field() { cluster nodes --format json 2>/dev/null | jq -r --arg n "$1" "map(select(.node_id == \$n))[0].$2"; }
state_is() { [ "$(node_field "$1" state)" = "$2" ]; }
devices_of() { [ "$(node_field "$1" devices)" = "$2" ]; }
metric() { curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
audit_json() { cluster audit --format json 2>/dev/null; }
# has_record ACTION NODE RESULT-PREFIX: one record of the trail matches
has_record() {
        audit_json | jq -e --arg a "$1" --arg n "$2" --arg r "$3" --arg fp "$CLIENT_FP" \
                'map(select(.action == $a and .node_id == $n and (.result | startswith($r)) and
                            .coordinator == "coord-it" and .key_fingerprint == $fp)) | length >= 1' >/dev/null
}
creates_received() { grep -c "Command [0-9]* from .*: create an OSD" "$WORK/agent.log" || true; }
# dry_run: an osd create --dry-run of node real's first device (audited, changes nothing);
# whatever the node answers, the command was accepted unless the coordinator refused it
dry_run() { cluster osd create real "$DEV" --dry-run >"$1" 2>&1 || ! grep -qi "intent store\|refused" "$1"; }

wait_for "the agent's two devices are stored" devices_of real 2
wait_for "the second node is online" state_is gone online

# --- an osd create --dry-run, a node rm --force of an offline node
DEV=$(cluster devices --node real --format json | jq -r 'map(.device.path)[0]')
[ -n "$DEV" ] && [ "$DEV" != null ] || fail "a device of node real to name"
cluster osd create real "$DEV" --dry-run >"$WORK/dryrun.out" 2>&1 || true # whatever the node says, it is recorded
kill "$GONE_PID"
wait "$GONE_PID" 2>/dev/null
wait_for "the second node goes offline" state_is gone offline
cluster node rm gone --force >"$WORK/rm.out" 2>&1 || fail "node rm --force: $(cat "$WORK/rm.out")"

wait_for "the osd create --dry-run is in the trail as requested, with its device" has_record "osd create --dry-run" real requested
has_result() { audit_json | jq -e --arg d "$DEV" 'map(select(.action == "osd create --dry-run" and .device == $d and
                                                                 .result != "requested")) | length >= 1' >/dev/null; }
wait_for "the osd create --dry-run's result is in the trail" has_result
wait_for "node rm --force is in the trail as requested" has_record "node rm --force" gone requested
wait_for "node rm --force's result is in the trail" has_record "node rm --force" gone ok
audit_json >"$WORK/audit.before"
requested_first() {
        jq -e 'map(select(.action == "node rm --force")) | .[0].result == "requested" and .[1].result == "ok" and
               .[0].time_usec <= .[1].time_usec' "$WORK/audit.before" >/dev/null
}
requested_first && pass "the requested record comes before the result, oldest first" ||
        fail "the order of the trail: $(cat "$WORK/audit.before")"
cluster audit >"$WORK/audit.table" 2>&1 || fail "cluster audit (table): $(cat "$WORK/audit.table")"
sed 's/^/    /' "$WORK/audit.table"
head -1 "$WORK/audit.table" | grep -q "TIME *COORDINATOR *KEY *ROLE *ACTION *NODE *DEVICE *COMMAND *RESULT" ||
        fail "the table's columns"
grep -q "Audit coord-it/.*osd create --dry-run, node real" "$WORK/coordinator.log" || fail "the coordinator logs each record"
[ "$(cluster audit --limit 1 --format json | jq length)" = 1 ] || fail "--limit 1 gives one record"
[ "$(cluster audit --since 1h --format json | jq length)" = "$(jq length "$WORK/audit.before")" ] ||
        fail "--since 1h gives every record of this test"
[ "$(cluster audit --since "$(date -d '+1 hour' +%s)" --format json | jq length)" = 0 ] ||
        fail "--since a time to come gives none"
wait_for "castle_coordinator_intent_writable is 1" metric_is castle_coordinator_intent_writable 1

# --- a restart keeps them
kill "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
start_coordinator
same_trail() { [ "$(audit_json | jq -c .)" = "$(jq -c . "$WORK/audit.before")" ]; }
wait_for "after a restart the coordinator lists the same trail" same_trail
wait_for "the agent is back" state_is real online

# --- the file system under the database fills: commands are refused, nothing is sent
(
        i=0
        while :; do
                dd if=/dev/zero of="$WORK/store/filler.$i" bs=4k 2>/dev/null || true
                i=$((i + 1))
                sleep 0.05
        done
) &
FILLER_PID=$!
PIDS+=("$FILLER_PID")
full() { [ "$(df --output=avail "$WORK/store" | tail -1)" -eq 0 ]; }
wait_for "the tmpfs is full" full
# SQLite may still fit a small write into pages its WAL file already has: try a few times
applied_before=$(creates_received)
refused=0
for i in $(seq 1 40); do
        before=$(creates_received)
        if cluster osd create real "$DEV" --dry-run >"$WORK/full.out" 2>&1 ||
                ! grep -q "intent store" "$WORK/full.out"; then
                sleep 0.2
                continue
        fi
        refused=1
        break
done
if [ "$refused" = 1 ] && grep -q "the intent store cannot record the request: .*; nothing was done" "$WORK/full.out"; then
        pass "a command is refused with the intent store's error: $(cat "$WORK/full.out")"
else
        fail "a command while the disk is full: $(cat "$WORK/full.out")"
fi
sleep 2
[ "$(creates_received)" = "$before" ] && pass "the refused command did not reach the agent" ||
        fail "the refused command reached the agent ($(creates_received) received, $before before)"
echo "    (commands accepted while the WAL still had room: $((before - applied_before)))"
wait_for "castle_coordinator_intent_writable is 0" metric_is castle_coordinator_intent_writable 0
failures() { [ "$(metric castle_coordinator_intent_write_failures_total)" -ge 1 ]; }
wait_for "castle_coordinator_intent_write_failures_total counts it" failures
cluster nodes >/dev/null 2>&1 && pass "queries are still answered" || fail "queries while the intent store fails"

# --- space returns: commands work again, and the trail has them
kill "$FILLER_PID" || true
wait "$FILLER_PID" 2>/dev/null || true
rm -f "$WORK"/store/filler.*
accepted() { dry_run "$WORK/again.out"; }
wait_for "a command is accepted again once there is space" accepted
wait_for "castle_coordinator_intent_writable is 1 again" metric_is castle_coordinator_intent_writable 1

[ "$FAILED" -eq 0 ] && pass "test-audit"
