#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Roles and node-bound agent keys, with real processes and CURVE on: a coordinator with a
# viewer, an operator and an admin key, and two agents (agent-a's key file names node-a;
# agent-b's key is bound by its first Hello). The viewer lists, but its apply of an OSD spec,
# osd create (--dry-run), node rm and key unbind are each refused with the role they need, exit status 4,
# and change nothing (no command reaches the agent; the store keeps its nodes). The operator's
# osd create --dry-run reaches the agent and its node rm works; the operator cannot unbind, the admin can. An agent key sending a
# Hello for another node is dropped, logged and counted (reason "binding" on /metrics).
# No loop devices: the agents' filter matches nothing.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd udevadm jq curl
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
POKE=$BUILD/tests/castle-poke
for b in "$CASTLECTL" "$AGENT" "$COORD" "$POKE"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
MPORT=$((port + 2))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d" "$WORK/viewers.d" "$WORK/admins.d"
for name in coordinator agent-b spare viewer operator admin; do
        "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null
done
"$CASTLECTL" keygen --dir "$K" --node node-a agent-a >"$WORK/keygen.out"
grep -q "bound to node: node-a" "$WORK/keygen.out" || fail "keygen --node says so: $(cat "$WORK/keygen.out")"
grep -q 'node = "node-a"' "$K/agent-a.key" || fail "keygen --node writes the metadata: $(cat "$K/agent-a.key")"
cp "$K/agent-a.key" "$K/agent-b.key" "$K/spare.key" "$WORK/agents.d/"
cp "$K/viewer.key" "$WORK/viewers.d/"
cp "$K/operator.key" "$WORK/clients.d/"
cp "$K/admin.key" "$WORK/admins.d/"

"$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
        --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --viewer-keys "$WORK/viewers.d" \
        --admin-keys "$WORK/admins.d" --database "$WORK/coordinator.db" --metrics-listen "$MPORT" \
        --stale-after 3s --offline-after 60s >>"$WORK/coordinator.log" 2>&1 &
PIDS+=("$!")

start_agent() { # start_agent NODE KEY
        "$AGENT" --config /dev/null --verbose --node-id "$1" --coordinator "$AEP" --key "$K/$2.key" \
                --coordinator-key "$K/coordinator.key" --filter '^castle-matches-nothing$' --heartbeat-interval 1s \
                >>"$WORK/agent-$1.log" 2>&1 &
        PIDS+=("$!")
        LAST_AGENT=$!
}
start_agent node-a agent-a
start_agent node-b agent-b
AGENT_B=$LAST_AGENT

as() { # as ROLE cluster-args...
        local role=$1
        shift
        "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/$role.key" "$@"
}
node_state() { as viewer nodes --format json | jq -r --arg n "$1" 'map(select(.node_id == $n))[0].state'; }
state_is() { [ "$(node_state "$1")" = "$2" ]; }
nodes_list() { as operator nodes --format json | jq -c 'map(.node_id) | sort'; }

wait_for "node-a online (key bound by its file)" state_is node-a online
wait_for "node-b online (key bound by its Hello)" state_is node-b online
grep -q "Agent key 'agent-b' .* is bound to node node-b\." "$WORK/coordinator.log" ||
        fail "the coordinator logs agent-b's binding"
grep -q "Agent key 'agent-a' .* is bound to node node-a by its key file" "$WORK/coordinator.log" ||
        fail "the coordinator logs agent-a's binding by its key file"

# --- the viewer: reads, and is refused everything else
as viewer nodes >/dev/null || fail "the viewer lists nodes"
as viewer devices >/dev/null || fail "the viewer lists devices"
before_nodes=$(nodes_list)
before_a=$(grep -c "Command [0-9]" "$WORK/agent-node-a.log" || true)
refused() { # refused NEEDED DESCRIPTION cluster-args...: run as the viewer (or $WHO), expect status 4
        local need=$1 what=$2 who=${WHO:-viewer} rc=0
        shift 2
        as "$who" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
        [ "$rc" = 4 ] || fail "$who: $what: exit status $rc, expected 4 ($(cat "$WORK/err"))"
        grep -q "Permission denied: this request needs the $need role; key '$who' has the $who role" "$WORK/err" ||
                fail "$who: $what: the error names the roles: $(cat "$WORK/err")"
        pass "$who: $what is refused (needs $need)"
}
refused operator "osd create --dry-run" osd create node-a some-device --dry-run
refused operator "node rm" node rm node-b --force
refused admin "key unbind" key unbind agent-b
printf 'service_type: osd\nservice_id: roles\nplacement:\n  hosts: [node-a]\nspec:\n  data_devices:\n    all: true\n' \
        >"$WORK/spec.yaml"
refused operator "apply" apply -i "$WORK/spec.yaml"
sleep 1.5 # a command that got through would be in the agent's log by now
[ "$(nodes_list)" = "$before_nodes" ] || fail "the viewer's requests changed the nodes: $(nodes_list)"
after_a=$(grep -c "Command [0-9]" "$WORK/agent-node-a.log" || true)
[ "$after_a" = "$before_a" ] || fail "a refused command reached the agent: $(tail -5 "$WORK/agent-node-a.log")"
grep -q "Refused a request (command) from key 'viewer'" "$WORK/coordinator.log" || fail "the coordinator logs the refusal"
pass "the viewer's refused requests changed nothing"

# --- the operator works, but cannot unbind
# the node has no such device: the dry run fails there, but the command got through
rc=0
as operator osd create node-a some-device --dry-run >"$WORK/out" 2>&1 || rc=$?
[ "$rc" != 4 ] || fail "the operator's osd create --dry-run was refused: $(cat "$WORK/out")"
wait_for "the operator's osd create --dry-run reaches the agent" \
        grep -q "Command [0-9]* from .*: create an OSD on some-device (dry run)" "$WORK/agent-node-a.log"
WHO=operator refused admin "key unbind" key unbind agent-b

# --- an agent key claiming another node: dropped, logged, counted
"$POKE" "$AEP" "$K/agent-b.key" "$K/coordinator.key" hello node-c || fail "poke could not send"
wait_for "a Hello from agent-b's key for node-c is dropped" \
        grep -q "Dropped a message from node-c (binding: key 'agent-b' .* speaks for node node-c, it is bound to node node-b)" \
        "$WORK/coordinator.log"
sleep 1.1 # drops are logged at most once a second per reason
"$POKE" "$AEP" "$K/agent-a.key" "$K/coordinator.key" hello node-d || fail "poke could not send"
wait_for "a Hello from agent-a's key (file: node-a) for node-d is dropped" \
        grep -q "Dropped a message from node-d (binding: .*its key file binds it to node node-a)" "$WORK/coordinator.log"
sleep 1.1
"$POKE" "$AEP" "$K/spare.key" "$K/coordinator.key" hello node-b || fail "poke could not send"
wait_for "a Hello from another key for node-b (held by agent-b) is dropped" \
        grep -q "Dropped a message from node-b (binding: key 'spare' .* which is bound to key 'agent-b'" \
        "$WORK/coordinator.log"
state_is node-c null || fail "node-c exists: $(node_state node-c)"
state_is node-d null || fail "node-d exists"
binding_drops() {
        curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
                awk '/^castle_coordinator_messages_dropped_total\{reason="binding"\}/ { print $2 }'
}
[ "$(binding_drops)" -ge 3 ] || fail "binding drops counted: $(binding_drops)"
metrics=$(curl -sS "http://127.0.0.1:$MPORT/metrics")
grep -q 'castle_coordinator_requests_refused_total{role="viewer",needed="operator"} 3' <<<"$metrics" ||
        fail "refusals counted: $(grep refused <<<"$metrics")"
pass "binding drops and role refusals are counted on /metrics"

# --- the admin unbinds: a new key may then take node-b (a reinstalled node; the old agent is
# gone first, else its next heartbeat would bind its key to node-b again)
kill "$AGENT_B"
wait "$AGENT_B" 2>/dev/null || true
as admin key unbind agent-b >"$WORK/out" || fail "the admin's unbind: $(cat "$WORK/out")"
grep -q "Agent key 'agent-b' .* is no longer bound to node node-b (key unbind by 'admin')" "$WORK/coordinator.log" ||
        fail "the coordinator logs the unbind"
"$POKE" "$AEP" "$K/spare.key" "$K/coordinator.key" hello node-b || fail "poke could not send"
wait_for "after the unbind, another key takes node-b" grep -q "Agent key 'spare' .* is bound to node node-b" \
        "$WORK/coordinator.log"
as admin key unbind nobody 2>"$WORK/err" && fail "unbinding an unknown key succeeds"
grep -q "no agent key" "$WORK/err" || fail "unknown key: $(cat "$WORK/err")"

# --- the operator removes a node (node-c never existed; node-b is taken by spare's Hello)
as operator node rm node-b --force >"$WORK/out" || fail "the operator's node rm: $(cat "$WORK/out")"
pass "the operator removes a node"

coord_help=$("$COORD" --help)
grep -q -- "--viewer-keys" <<<"$coord_help" || fail "castle-coordinator --help lists --viewer-keys"
grep -q -- "--admin-keys" <<<"$coord_help" || fail "castle-coordinator --help lists --admin-keys"
grep -q "key unbind KEY" <<<"$("$CASTLECTL" cluster --help)" || fail "castlectl cluster --help lists key unbind"
pass "roles and node-bound agent keys"
