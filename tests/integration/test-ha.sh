#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# No single point of failure (issue 14): three coordinators and three agents on loopback,
# CURVE on, the intent (audit trail and job ledger) in a real one-monitor Ceph cluster's
# config-key store. Each coordinator in turn is killed -9 while OSDs are created through the
# coordinators and queries run: every query is answered (castlectl fails over), every command
# runs exactly once (the OSD count, the agents' logs and the audit trail prove it), and the
# restarted coordinator catches up. With the monitor stopped, queries still work and state
# changes are refused with a clear error, and work again when it is back. A coordinator cut
# off from the agents by a firewall rule rejoins cleanly. A viewer key cannot change anything.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"

require_root
require_ceph
require_cmd losetup udevadm jq iptables
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
iptables -L INPUT -n >/dev/null 2>&1 || skip "iptables cannot read the filter table here"
ensure_udevd
setup_work
ceph_start || { fail "the test cluster did not start"; exit 1; }

# The coordinators' cephx key may touch castle's prefix and nothing else (docs/operations.md).
CAPS='allow command "config-key get" with key prefix castle/, allow command "config-key set" with key prefix castle/, allow command "config-key rm" with key prefix castle/, allow command "config-key dump" with key prefix castle/'
CKEYRING=$CEPH_DIR/castle-coordinator.keyring
ceph_cmd auth get-or-create client.castle-coordinator mon "$CAPS" >"$CKEYRING" ||
        { fail "could not create the coordinators' cephx key"; exit 1; }

BASE=$(free_loop_base 30) || skip "no block of 30 free loop device numbers between 200 and 999"
P=$((BASE / 10)) # node-N's loops: loop$((P + N - 1))0..9

K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d" "$WORK/viewers.d"
port=$((20000 + RANDOM % 20000))
AEPS=() QEPS=() SKEYS=()
for c in 1 2 3; do
        "$CASTLECTL" keygen --dir "$K" "coordinator-$c" >/dev/null
        AEPS+=("tcp://127.0.0.1:$((port + 2 * c))")
        QEPS+=("tcp://127.0.0.1:$((port + 2 * c + 1))")
        SKEYS+=("$K/coordinator-$c.key")
done
for n in 1 2 3; do "$CASTLECTL" keygen --dir "$K" --node "node-$n" "agent-$n" >/dev/null; done
"$CASTLECTL" keygen --dir "$K" operator >/dev/null
"$CASTLECTL" keygen --dir "$K" dashboard >/dev/null
cp "$K"/agent-?.key "$WORK/agents.d/"
cp "$K/operator.key" "$WORK/clients.d/"
cp "$K/dashboard.key" "$WORK/viewers.d/"
join() { local IFS=,; echo "$*"; }

declare -A COORD_PID
start_coordinator() { # start_coordinator N
        local c=$1
        "$COORD" --config /dev/null --name "coordinator-$c" --agent-endpoint "${AEPS[c - 1]}" \
                --query-endpoint "${QEPS[c - 1]}" --key "$K/coordinator-$c.key" --agent-keys "$WORK/agents.d" \
                --query-keys "$WORK/clients.d" --viewer-keys "$WORK/viewers.d" --admin-keys "$WORK/admins.d" \
                --database "$WORK/coordinator-$c.db" --stale-after 3s --offline-after 60s \
                --intent ceph --ceph-conf "$CEPH_CONF_FILE" --ceph-name client.castle-coordinator \
                --ceph-keyring "$CKEYRING" --ceph-timeout 5s >>"$WORK/coordinator-$c.log" 2>&1 &
        COORD_PID[$c]=$!
        PIDS+=("$!")
}
start_agent() { # start_agent N
        local n=$1
        "$AGENT" --config /dev/null --verbose --node-id "node-$n" --coordinator "$(join "${AEPS[@]}")" \
                --coordinator-key "$(join "${SKEYS[@]}")" --key "$K/agent-$n.key" --allow-loop \
                --filter "^loop$((P + n - 1))[0-9]$" --heartbeat-interval 1s --conf "$CEPH_CONF_FILE" \
                --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd" --state-dir "$WORK/state-$n" \
                --start-mode fork >>"$WORK/agent-$n.log" 2>&1 &
        PIDS+=("$!")
}
# cluster [--at N] ARGS: castlectl with every coordinator (or only coordinator N)
cluster() {
        local eps=("${QEPS[@]}") keys=("${SKEYS[@]}") key=$K/operator.key a=()
        if [ "$1" = --at ]; then eps=("${QEPS[$2 - 1]}") keys=("${SKEYS[$2 - 1]}"); shift 2; fi
        if [ "$1" = --viewer ]; then key=$K/dashboard.key; shift; fi
        for i in "${!eps[@]}"; do a+=(--coordinator "${eps[i]}" --server-key "${keys[i]}"); done
        "$CASTLECTL" cluster "${a[@]}" --key "$key" "$@"
}
osd_count() { ceph_cmd osd ls -f json | jq length; }
stable_id() { "$CASTLECTL" inventory --allow-loop --format json "$1" | jq -r '.devices[0].stable_id'; }
# knows_all N: coordinator N alone shows three online nodes with their devices
knows_all() {
        cluster --at "$1" nodes --format json 2>/dev/null |
                jq -e 'map(select(.state == "online")) | length == 3' >/dev/null
}

for c in 1 2 3; do start_coordinator "$c"; done
for n in 1 2 3; do
        for i in 0 1; do attach_at "$((P + n - 1))$i" "$(new_image "n$n-$i" 10G)"; done
        start_agent "$n"
done
udevadm settle
for c in 1 2 3; do wait_for "coordinator-$c knows the three nodes" knows_all "$c"; done
has_devices() { [ "$(cluster --at "$1" devices --format json 2>/dev/null | jq length)" = 6 ]; }
for c in 1 2 3; do wait_for "coordinator-$c has every node's devices" has_devices "$c"; done

# ---- a viewer can look and nothing else ----
cluster --viewer nodes >/dev/null && pass "the viewer key lists the nodes" || fail "the viewer key cannot list nodes"
sid=$(stable_id "/dev/loop${P}1")
for verb in "osd create node-1 $sid --dry-run" "node rm node-1 --force" "audit"; do
        # shellcheck disable=SC2086
        if cluster --viewer $verb >"$WORK/viewer.out" 2>&1; then
                fail "the viewer key could: $verb"
        elif grep -q "operator role" "$WORK/viewer.out"; then
                pass "the viewer key is refused '$verb' and told it needs the operator role"
        else
                fail "'$verb' by the viewer: $(cat "$WORK/viewer.out")"
        fi
done
knows_all 1 && pass "nothing the viewer tried changed the cluster" || fail "a node went away after the viewer's tries"

# ---- queries while each coordinator in turn is killed ----
QUERY_LOG=$WORK/queries.log
query_loop() {
        while :; do
                local t0 t1 rc=0
                t0=$(date +%s%N)
                cluster --timeout 20s nodes --format json >/dev/null 2>>"$WORK/queries.err" || rc=$?
                t1=$(date +%s%N)
                echo "$rc $(((t1 - t0) / 1000000))" >>"$QUERY_LOG"
                sleep 0.1
        done
}
query_loop &
QUERY_PID=$!
PIDS+=("$QUERY_PID")

# For node-c's first device: an OSD create through the three coordinators (castlectl asks one
# drawn at random); the coordinator that took it is killed once the agent has started it, and
# castlectl sends the same command id to another one.
for c in 1 2 3; do
        n=$c
        sid=$(stable_id "/dev/loop$((P + n - 1))0")
        id=$((1000 + c))
        cluster --timeout 300s --command-id "$id" osd create "node-$n" "$sid" --format json \
                >"$WORK/create-$c.json" 2>"$WORK/create-$c.err" &
        create=$!
        took() { grep -l "Command $id sent to node" "$WORK"/coordinator-?.log 2>/dev/null | head -1; }
        started() { [ -n "$(took)" ] && grep -q "Command $id from .*: create an OSD" "$WORK/agent-$n.log"; }
        wait_for "node-$n started command $id" started
        k=$(took)
        k=${k##*coordinator-}
        k=${k%.log}
        kill -9 "${COORD_PID[$k]}"
        wait "${COORD_PID[$k]}" 2>/dev/null || true
        if wait "$create" && jq -e '.done == true and .osd_id >= 0' "$WORK/create-$c.json" >/dev/null; then
                pass "osd create on node-$n finished after coordinator-$k, which took it, was killed: osd.$(jq -r .osd_id "$WORK/create-$c.json")"
        else
                fail "osd create on node-$n with coordinator-$k killed: $(cat "$WORK/create-$c.err" "$WORK/create-$c.json")"
        fi
        others=$(grep -l "Command $id sent to node" "$WORK"/coordinator-?.log | grep -vc "coordinator-$k.log" || true)
        grep -q "Command $id from .* was received before" "$WORK/agent-$n.log" && [ "$others" -ge 1 ] &&
                pass "castlectl sent command $id again to another coordinator, which forwarded it" ||
                fail "command $id did not move to another coordinator ($others took it)"
        runs=$(grep -c "Command $id from .*: create an OSD" "$WORK/agent-$n.log" || true)
        [ "$runs" = 1 ] && pass "node-$n ran command $id once" || fail "node-$n ran command $id $runs times"
        start_coordinator "$k"
        # under ASan a restart and three agents' snapshots take a while
        WAIT_SECONDS=60 wait_for "the restarted coordinator-$k caught up with the three nodes" knows_all "$k"
        WAIT_SECONDS=60 wait_for "the restarted coordinator-$k has every device again" has_devices "$k"
done
kill "$QUERY_PID" 2>/dev/null
wait "$QUERY_PID" 2>/dev/null || true
total=$(wc -l <"$QUERY_LOG")
failed=$(awk '$1 != 0' "$QUERY_LOG" | wc -l)
p99=$(awk '{print $2}' "$QUERY_LOG" | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; print a[i]}')
[ "$total" -gt 10 ] && [ "$failed" = 0 ] &&
        pass "$total queries during the kills, every one answered (p99 ${p99} ms, max $(awk '{print $2}' "$QUERY_LOG" | sort -n | tail -1) ms)" ||
        fail "$failed of $total queries failed during the kills: $(sort -u "$WORK/queries.err" | head -5)"
[ "$(osd_count)" = 3 ] && pass "the cluster has exactly 3 OSDs for 3 commands" ||
        fail "the cluster has $(osd_count) OSDs for 3 commands"
for c in 1 2 3; do
        n=$(cluster --at "$c" audit --format json | jq '[.[] | select(.action == "osd create" and .result == "requested")] | length')
        [ "$n" -ge 3 ] || sleep 5 # another coordinator's batch reaches this one at its next follow
        n=$(cluster --at "$c" audit --format json | jq '[.[] | select(.action == "osd create" and .result == "requested")] | length')
        [ "$n" -ge 3 ] && pass "coordinator-$c's audit trail holds every osd create (from the monitors)" ||
                fail "coordinator-$c's audit trail has $n osd create requests"
done
cluster audit --format json | jq -e 'map(select(.action == "osd create")) | all(.key_name == "operator")' >/dev/null &&
        pass "the audit trail names the operator's key for each osd create" || fail "the audit trail's key names are wrong"

# ---- the monitor away: queries work, changes are refused, then work again ----
ceph_stop
cluster --timeout 20s devices --format json | jq -e 'length == 6' >/dev/null &&
        pass "with the monitor stopped, queries are answered from the inventory" ||
        fail "queries fail with the monitor stopped"
# an osd create --dry-run changes nothing on the node, but it is audited before it is sent,
# and the audit trail is in the monitors
if cluster --timeout 60s osd create node-1 "$sid" --dry-run >"$WORK/monless.out" 2>&1; then
        fail "an audited command was accepted with the monitor stopped"
else
        grep -qi "intent" "$WORK/monless.out" && pass "with the monitor stopped, a change is refused: $(head -1 "$WORK/monless.out")" ||
                fail "the refusal without a monitor does not say why: $(cat "$WORK/monless.out")"
fi
ceph_restart || fail "the monitor did not come back"
change_ok() { cluster --timeout 60s osd create node-1 "$sid" --dry-run >/dev/null 2>&1; }
wait_for "an audited command works again once the monitor is back" change_ok

# ---- a coordinator cut off from the agents rejoins ----
aport=${AEPS[2]##*:}
iptables -I INPUT -p tcp --dport "$aport" -j DROP
iptables -I INPUT -p tcp --sport "$aport" -j DROP
unblock() { iptables -D INPUT -p tcp --dport "$aport" -j DROP 2>/dev/null; iptables -D INPUT -p tcp --sport "$aport" -j DROP 2>/dev/null; true; }
CLEANUP_HOOKS+=(unblock)
not_online() { cluster --at 3 nodes --format json | jq -e 'map(select(.state == "online")) | length == 0' >/dev/null; }
wait_for "coordinator-3, cut off, sees the nodes go stale" not_online
attach_at "$((P + 1))5" "$(new_image late 10G)"
udevadm settle
late_seen() { [ "$(cluster --at "$1" devices --format json 2>/dev/null | jq length)" = 7 ]; }
wait_for "coordinator-1 sees the device attached during the cut" late_seen 1
unblock
wait_for "coordinator-3 rejoins: the three nodes online" knows_all 3
wait_for "coordinator-3 learns the device attached during the cut" late_seen 3
