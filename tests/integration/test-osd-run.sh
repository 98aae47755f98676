#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OSDs that run under a supervisor, with real processes and a one-monitor cluster: a raw OSD
# prepared on a loop device with start mode none; `castlectl osd run ID` (in the background,
# as a supervisor runs it) activates it and becomes ceph-osd in the foreground (the same
# process), and the OSD comes up; a second `osd run` is refused while it runs; the agent
# reports it running and `castlectl cluster osds` lists it with its node, device and state;
# kill -9 of the daemon: with no supervisor on this host the agent reports it stopped and
# logs the change; `osd activate --start-mode=exec ID` still runs it; `cluster osd manifests`
# for the node gives a Deployment that runs `castlectl osd run ID` on this host, valid for
# the Kubernetes API (deploy/kubernetes/validate, where node and npm are installed);
# deploy/kubernetes/test-osd-image runs that Deployment in the image. Raw only: LVM and
# dm-crypt OSDs need device-mapper, the VM tier's.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"
source "$(dirname "$0")/fleet.sh"

require_root
require_ceph
require_cmd losetup udevadm jq
BUILD=$(dirname "$CASTLECTL")
TOP=$(cd "$(dirname "$0")/../.." && pwd)
for b in "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work
ceph_start || { fail "the test cluster did not start"; exit 1; }

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
L=$((BASE / 10))
DEV=/dev/loop${L}0
attach_at "${L}0" "$(new_image d0 10G)"
udevadm settle
OSD_OPTS=(--allow-loop --conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd"
          --state-dir "$WORK/state")
osdctl() { "$CASTLECTL" osd "$1" "${OSD_OPTS[@]}" "${@:2}"; }

fleet_keys
RUN_PID=""
stop_run() { [ -z "$RUN_PID" ] || kill -9 "$RUN_PID" 2>/dev/null; }
CLEANUP_HOOKS+=(stop_run)

# --- a raw OSD, not started
out=$(osdctl prepare --data "$DEV" --start-mode none --format json --progress none) ||
        { fail "osd prepare --start-mode none: $out"; exit 1; }
ID=$(jq -r '.osd_id' <<<"$out")
STABLE=$(jq -r '.stable_id' <<<"$out")
[ -n "$ID" ] && [ "$ID" != null ] || { fail "no OSD id from the prepare: $out"; exit 1; }
pgrep -f -- "-i $ID .*$CEPH_CONF_FILE|$CEPH_CONF_FILE.* -i $ID( |\$)" >/dev/null && fail "start mode none started osd.$ID"
pass "osd.$ID prepared on $DEV ($STABLE), not started"

fleet_coordinator coord-run
fleet_agent node-r "^loop${L}[0-9]\$" --start-mode none
wait_for "node-r is online" fleet_online node-r
# osd_state FIELD: the OSD's field as the coordinator lists it
osd_field() { cluster osds --format json | jq -r --argjson id "$ID" ".osds[] | select(.osd.osd_id == \$id) | $1"; }
osd_state_is() { [ "$(osd_field .osd.state)" = "$1" ]; }
wait_for "the agent reports osd.$ID stopped before it runs" osd_state_is stopped

# --- castlectl osd run: activate, then ceph-osd in the foreground in the same process
# not through osdctl(): $! must be castlectl's own pid, which becomes ceph-osd
"$CASTLECTL" osd run "${OSD_OPTS[@]}" "$ID" >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
if ceph_wait_up "$ID" 120; then pass "osd run $ID: osd.$ID is up"; else fail "osd run $ID: osd.$ID is not up: $(tail -5 "$WORK/run.err")"; fi
comm=$(cat "/proc/$RUN_PID/comm" 2>/dev/null)
[ "$comm" = ceph-osd ] && pass "osd run became ceph-osd (pid $RUN_PID, in the foreground)" ||
        fail "the process of osd run is '$comm', not ceph-osd"
grep -q -- " -f" "/proc/$RUN_PID/cmdline" 2>/dev/null || tr '\0' ' ' <"/proc/$RUN_PID/cmdline" | grep -q -- " -f " ||
        fail "ceph-osd runs without -f: $(tr '\0' ' ' <"/proc/$RUN_PID/cmdline")"
rc=0
osdctl run "$ID" >"$WORK/run2.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "runs already" "$WORK/run2.out" && pass "a second osd run $ID is refused: $(cat "$WORK/run2.out")" ||
        fail "a second osd run $ID: exit $rc, $(cat "$WORK/run2.out")"
rc=0
osdctl run 9999 >"$WORK/run3.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && pass "osd run of an OSD not on this node fails: $(cat "$WORK/run3.out")" ||
        fail "osd run 9999: exit $rc, $(cat "$WORK/run3.out")"

# --- the agent's report, through the coordinator
wait_for "the agent reports osd.$ID running" osd_state_is running
[ "$(osd_field .node_id)" = node-r ] && [ "$(osd_field .osd.device)" = "$STABLE" ] &&
        [ "$(osd_field .osd.path)" = "$DEV" ] && [ "$(osd_field .osd.kind)" = raw ] &&
        [ "$(osd_field .osd.pid)" = "$RUN_PID" ] && [ "$(osd_field .osd.supervisor)" = process ] &&
        pass "cluster osds: osd.$ID on node-r, $DEV ($STABLE), raw, running as pid $RUN_PID" ||
        fail "cluster osds: $(cluster osds --format json)"
cluster osds >"$WORK/osds.table" 2>&1
grep -E "^$ID +[^ ]+ +$DEV +$STABLE +raw +unknown +running" "$WORK/osds.table" >/dev/null &&
        pass "cluster osds table: $(grep -E "^$ID " "$WORK/osds.table")" || fail "cluster osds table: $(cat "$WORK/osds.table")"
[ "$(cluster osds --node node-r --format json | jq '.osds | length')" = 1 ] && pass "cluster osds --node node-r" ||
        fail "cluster osds --node node-r: $(cluster osds --node node-r --format json)"
cluster osds --node no-such-node >"$WORK/nonode.out" 2>&1 && fail "cluster osds --node of an unknown node fails" ||
        pass "cluster osds --node no-such-node: $(cat "$WORK/nonode.out")"

# --- kill -9: no supervisor on this host, the daemon stays down and is reported stopped
kill -9 "$RUN_PID"
wait "$RUN_PID" 2>/dev/null || true
RUN_PID=""
wait_for "the agent reports osd.$ID stopped after kill -9" osd_state_is stopped
grep -q "osd.$ID: running -> stopped" "$WORK/agent.log" && pass "the agent logged: $(grep -m1 "osd.$ID: running -> stopped" "$WORK/agent.log" | sed 's/^.*osd\./osd./')" ||
        fail "the agent did not log the change: $(grep "osd\.$ID" "$WORK/agent.log" | tail -3)"

# --- the old name still runs it
"$CASTLECTL" osd activate "${OSD_OPTS[@]}" --start-mode=exec "$ID" >"$WORK/act.out" 2>&1 &
RUN_PID=$!
ceph_wait_up "$ID" 120 && [ "$(cat "/proc/$RUN_PID/comm" 2>/dev/null)" = ceph-osd ] &&
        pass "osd activate --start-mode=exec $ID runs it in the foreground as before" ||
        fail "osd activate --start-mode=exec $ID: $(cat "$WORK/act.out")"
wait_for "the agent reports osd.$ID running again" osd_state_is running
kill -9 "$RUN_PID"
wait "$RUN_PID" 2>/dev/null || true
RUN_PID=""

# --- Kubernetes: one Deployment for the node's OSD
host=$(cluster nodes --format json | jq -r 'map(select(.node_id == "node-r"))[0].hostname')
if cluster osd manifests --node node-r --image registry.example/castle:9 >"$WORK/manifests.json" 2>"$WORK/manifests.err"; then
        d=".items[0]"
        jq -e --argjson id "$ID" --arg host "$host" "
                (.items | length) == 1 and $d.kind == \"Deployment\" and
                $d.metadata.name == \"castle-osd-\(\$id)\" and
                $d.spec.template.spec.nodeSelector[\"kubernetes.io/hostname\"] == \$host and
                $d.spec.template.spec.containers[0].command[0:3] == [\"/usr/sbin/castlectl\", \"osd\", \"run\"] and
                $d.spec.template.spec.containers[0].command[-1] == (\$id | tostring) and
                $d.spec.template.spec.initContainers[0].command == [\"chown\", \"ceph:ceph\", \"/var/log/ceph\"] and
                $d.spec.template.spec.containers[0].image == \"registry.example/castle:9\" and
                $d.spec.template.spec.containers[0].securityContext.privileged == true and
                ($d.spec.template.spec.containers[0].livenessProbe.exec.command | index(\"/var/run/ceph/ceph-osd.\(\$id).asok\")) != null and
                $d.spec.template.metadata.labels[\"ceph-osd-id\"] == (\$id | tostring) and
                $d.spec.strategy.type == \"Recreate\"" "$WORK/manifests.json" >/dev/null &&
                pass "cluster osd manifests: Deployment castle-osd-$ID on $host runs castlectl osd run $ID" ||
                fail "cluster osd manifests: $(cat "$WORK/manifests.json")"
else
        fail "cluster osd manifests: $(cat "$WORK/manifests.err")"
fi
if command -v node >/dev/null && command -v npm >/dev/null; then
        if "$TOP/deploy/kubernetes/validate" --modules "${K8S_VALIDATE_MODULES:-$TOP/build/k8s-validate}" \
                "$WORK/manifests.json" >"$WORK/validate.out" 2>&1; then
                pass "the generated Deployment is valid beside the shipped manifests (validate.mjs)"
        else
                fail "deploy/kubernetes/validate on the generated Deployment: $(grep -m3 FAIL "$WORK/validate.out" || tail -3 "$WORK/validate.out")"
        fi
else
        echo "note: node and npm are not installed: the generated Deployment was not validated"
fi

[ "$FAILED" -eq 0 ] && pass "test-osd-run"
