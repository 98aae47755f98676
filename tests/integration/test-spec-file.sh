#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The node's own OSD specs and the end of the node policy: a real coordinator and agent on
# loopback, CURVE on. `castlectl cluster policy` is gone and says what replaces it; an agent
# configuration that still sets auto-prepare-filter (with the pattern that cost glibc's
# regcomp() 17 s and 1.1 GiB) is refused at load with the line and the replacement, and the
# same pattern in `filter` is still refused by the regex gate. A spec-file with an unknown key
# is refused with the parser's error (spec, key, line) by --check-config and at start; a good
# one is applied without any spec from the coordinator: its unmanaged spec is previewed in the
# agent's log and writes nothing to the loop device it selects (its backing file's bytes).
source "$(dirname "$0")/lib.sh"

require_root
require_cmd jq timeout losetup udevadm python3
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

HOSTILE1='((a{1,100}){1,100}){1,100}'
BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
L=$((BASE / 10))

port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for name in coordinator agent client; do
        "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null
done
cp "$K/agent.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"
cluster() { timeout 20 "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" \
        --key "$K/client.key" "$@"; }

# ---- castlectl cluster policy is gone ----
rc=0
cluster policy node-p >"$WORK/policy.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "'cluster policy' was removed: OSD specs replace the node policy (castlectl cluster apply)" \
        "$WORK/policy.out" && pass "castlectl cluster policy is a usage error that names its replacement" ||
        fail "castlectl cluster policy: exit $rc, said: $(cat "$WORK/policy.out")"

# ---- the agent's configuration ----
check() { # check CONFIG-TEXT EXPECTED: --check-config fails (not by timeout) and says EXPECTED
        local rc=0
        printf '%b' "$1" >"$WORK/agent.conf"
        timeout 20 "$AGENT" --config "$WORK/agent.conf" --check-config >"$WORK/check.out" 2>&1 || rc=$?
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF -- "$2" "$WORK/check.out"; then
                pass "--check-config refuses it: $2"
        else
                fail "--check-config: exit $rc, said: $(cat "$WORK/check.out")"
        fi
}
check "[osd]\nauto-prepare-filter = $HOSTILE1\n" \
        "agent.conf:2: auto-prepare-filter was removed: OSD specs replace the node policy (castlectl cluster apply, or the spec-file option"
check "[osd]\nauto-prepare = yes\n" "agent.conf:2: auto-prepare was removed"
check "[agent]\nfilter = $HOSTILE1\n" \
        "agent.conf:2: filter: '$HOSTILE1' is not a valid regular expression: a repeat count above 32"
check "[agent]\nlabels = osd, osd\n" "labels: osd is listed twice"

cat >"$WORK/bad.yaml" <<'YAML'
service_type: osd
service_id: bad
placement:
  host_pattern: '*'
spec:
  data_devices:
    all: true
  journal_devices:
    all: true
YAML
check "[osd]\nspec-file = $WORK/bad.yaml\n" "journal_devices"
grep -q "line 8\|(line 8)\|:8" "$WORK/check.out" && pass "the spec-file's error gives the line" ||
        fail "the spec-file's error does not give the line: $(cat "$WORK/check.out")"
rc=0
timeout 20 "$AGENT" --config /dev/null --insecure --spec-file "$WORK/bad.yaml" --coordinator "$AEP" \
        >"$WORK/bad-start.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "journal_devices" "$WORK/bad-start.out" &&
        pass "the agent does not start with a bad spec-file" || fail "start with a bad spec-file: exit $rc, $(cat "$WORK/bad-start.out")"

# ---- a good spec-file, applied with nothing from the coordinator ----
IMG=$(new_image sf 10G)
attach_at "${L}0" "$IMG"
udevadm settle
cat >"$WORK/node.yaml" <<'YAML'
service_type: osd
service_id: mine
placement:
  host_pattern: '*'
unmanaged: true
spec:
  method: raw
  data_devices:
    size: '5G:'
YAML
sum_before=$(fingerprint "$IMG")
"$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
        --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
        --stale-after 3s --offline-after 60s >>"$WORK/coordinator.log" 2>&1 &
PIDS+=("$!")
"$AGENT" --config /dev/null --verbose --node-id node-p --coordinator "$AEP" --key "$K/agent.key" \
        --coordinator-key "$K/coordinator.key" --allow-loop --filter "^loop${L}0$" --heartbeat-interval 1s \
        --spec-file "$WORK/node.yaml" --spec-settle 1s --state-dir "$WORK/state" >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
state_is() { [ "$(cluster nodes --format json | jq -r --arg n "$1" 'map(select(.node_id == $n))[0].state')" = "$2" ]; }
wait_for "the agent's node is online" state_is node-p online
wait_for "the agent reads its spec-file" grep -q "spec-file $WORK/node.yaml: 1 OSD spec(s)" "$WORK/agent.log"
wait_for "the unmanaged spec of the spec-file is previewed in the log" \
        grep -q "Spec mine: unmanaged: it would make 1 OSD(s)" "$WORK/agent.log"
sleep 3
[ "$(fingerprint "$IMG")" = "$sum_before" ] && pass "the unmanaged spec wrote nothing (the backing file's bytes)" ||
        fail "the unmanaged spec changed the device"
kill -0 "$AGENT_PID" 2>/dev/null && pass "the agent is still running" || fail "the agent died"

[ "$FAILED" -eq 0 ] && pass "test-spec-file"
