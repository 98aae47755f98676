#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Regexes from the network are bounded: a real coordinator and agent on loopback, CURVE on.
# `castlectl cluster policy` with the filters that cost glibc's regcomp() 17 s and 1.1 GiB, or
# crashed the agent, is refused at once with the reason; the agent keeps running and answering
# and takes the next good policy; the same pattern in the agent's config is refused at load.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd jq timeout
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

HOSTILE1='((a{1,100}){1,100}){1,100}'
HOSTILE2='(((a{0,255}){0,255}){0,255})'

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

"$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
        --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
        --stale-after 3s --offline-after 60s >>"$WORK/coordinator.log" 2>&1 &
PIDS+=("$!")
# A filter that matches no device: the test needs the agent's session, not its disks.
"$AGENT" --config /dev/null --verbose --node-id node-p --coordinator "$AEP" --key "$K/agent.key" \
        --coordinator-key "$K/coordinator.key" --filter '^castle-test-none$' --heartbeat-interval 1s \
        >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")

cluster() { timeout 20 "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" \
        --key "$K/client.key" "$@"; }
state_is() { [ "$(cluster nodes --format json | jq -r --arg n "$1" 'map(select(.node_id == $n))[0].state')" = "$2" ]; }

wait_for "the agent's node is online" state_is node-p online

# refused_policy OPTION PATTERN EXPECTED: castlectl fails with EXPECTED on stderr, in seconds.
refused_policy() {
        local start=$SECONDS rc=0
        cluster policy node-p --auto-prepare=yes "$1=$2" >"$WORK/policy.out" 2>&1 || rc=$?
        if [ "$rc" -ne 0 ] && grep -qF -- "$3" "$WORK/policy.out"; then
                pass "castlectl cluster policy $1='$2' is refused ($((SECONDS - start)) s)"
        else
                fail "castlectl cluster policy $1='$2': exit $rc, said: $(cat "$WORK/policy.out")"
        fi
}
refused_policy --filter "$HOSTILE1" "--filter refused: a repeat count above 32 at offset 3"
refused_policy --path-filter "$HOSTILE2" "--path-filter refused: a repeat count above 32 at offset 4"
refused_policy --filter '((a{1,32}){1,32}){1,32}' "--filter refused: a group holding a {m,n} repeat is repeated"

kill -0 "$AGENT_PID" 2>/dev/null && pass "the agent is still running" || fail "the agent died"
wait_for "the node stays online (the agent's loop answers heartbeats)" state_is node-p online
if cluster policy node-p --auto-prepare=no --filter '^sd[b-z]$' >"$WORK/policy.out" 2>&1; then
        pass "a good policy is accepted"
else
        fail "a good policy: $(cat "$WORK/policy.out")"
fi
policy_applied() { grep -q "The coordinator set the policy" "$WORK/agent.log"; }
wait_for "the agent applies the good policy" policy_applied
grep -q "policy was not applied" "$WORK/agent.log" && fail "a refused policy reached the agent"

# The same patterns in the agent's own configuration: refused at load, with file and line.
printf '[osd]\nauto-prepare-filter = %s\n' "$HOSTILE1" >"$WORK/agent.conf"
rc=0
timeout 20 "$AGENT" --config "$WORK/agent.conf" --check-config >"$WORK/check.out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
        grep -qF "agent.conf:2: auto-prepare-filter: '$HOSTILE1' is not a valid regular expression: a repeat count above 32" \
                "$WORK/check.out"; then
        pass "the agent's config refuses the pattern at load"
else
        fail "--check-config with a hostile filter: exit $rc, said: $(cat "$WORK/check.out")"
fi

