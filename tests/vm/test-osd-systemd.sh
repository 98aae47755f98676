#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# castle-osd@.service under systemd as PID 1 (tests/vm/run --init systemd): a one-monitor
# cluster in the guest, a raw OSD prepared on a virtio disk with start mode none, then
# `systemctl start castle-osd@ID` (castlectl osd run ID, which becomes ceph-osd -f: the unit's
# main process) brings it up; kill -9 of that ceph-osd is restarted by systemd (NRestarts 1,
# up again), and castle-agent reports it: crash-looping with "killed by SIGKILL" while systemd
# waits to restart it, then running with one restart and that last exit, through the
# coordinator (`castlectl cluster osds`).
VM_TIMEOUT=${VM_TIMEOUT:-420}
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd (package systemd, scripts/install-deps)"
command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null || skip "ceph-mon and ceph-osd are not installed"
require_built "$CASTLECTL" "$BUILD/castlectl-osd" "$BUILD/castlectl-net" "$BUILD/castle-agent" "$BUILD/castle-coordinator"
[ -f "$BUILD/systemd/castle-osd@.service" ] || skip "$BUILD/systemd/castle-osd@.service is not built (make builds it)"
setup_work

guest_script osd-systemd.sh <<'EOF'
step() { echo "$(date +%T) $*"; }
fact() { local name=$1; shift; "$@" >"$WORK/$name" 2>"$WORK/$name.err"; echo $? >"$WORK/$name.rc"; }
if [ "${CASTLE_VM_INIT:-}" != systemd ]; then echo "not in a --init systemd guest" >&2; exit 1; fi
readlink -f /proc/1/exe >"$WORK/pid1"

step "a one-monitor cluster (tests/integration/ceph.sh), its configuration as /etc/ceph/ceph.conf"
FAILED=0 CLEANUP_HOOKS=()
source "$TOP/tests/integration/ceph.sh"
ceph_start >"$WORK/ceph-start.log" 2>&1 || { echo "ceph_start failed" >&2; cat "$WORK/ceph-start.log" >&2; exit 1; }
mkdir -p /etc/ceph /var/lib/ceph/osd
cp "$CEPH_CONF_FILE" /etc/ceph/ceph.conf
# the packaged unit knows the default OSD directories only (castlectl's default osd-root)
sed -i '/^osd data = /d' /etc/ceph/ceph.conf

step "install castle-osd@.service and castlectl at its ExecStart= path"
unit=$BUILD/systemd/castle-osd@.service
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
install -D -m 0755 "$CASTLECTL" "$exe" && install -m 0755 "$BUILD/castlectl-osd" "$BUILD/castlectl-net" "$(dirname "$exe")/" || exit 1
install -m 0644 "$unit" /etc/systemd/system/ || exit 1
systemctl daemon-reload

dev=$(lsblk -dn -o NAME,SERIAL | awk '$2 == "OSDSYS1" { print "/dev/" $1 }')
step "prepare a raw OSD on $dev, start mode none"
fact prepare "$CASTLECTL" osd prepare --data "$dev" --keyring "$CEPH_BOOTSTRAP_KEYRING" --start-mode none \
        --format json --progress none
ID=$(jq -r .osd_id "$WORK/prepare")
echo "$ID" >"$WORK/id"
[ -n "$ID" ] && [ "$ID" != null ] || exit 0

step "coordinator and agent (insecure, in the guest)"
"$BUILD/castle-coordinator" --config /dev/null --insecure --agent-endpoint tcp://127.0.0.1:7100 \
        --query-endpoint tcp://127.0.0.1:7101 --database /run/castle-coordinator.db >"$WORK/coordinator.log" 2>&1 &
"$BUILD/castle-agent" --config /dev/null --insecure --verbose --node-id node-s --coordinator tcp://127.0.0.1:7100 \
        --heartbeat-interval 1s >"$WORK/agent.log" 2>&1 &
cluster() { "$CASTLECTL" cluster --insecure --coordinator tcp://127.0.0.1:7101 "$@"; }
# (SQLite cannot keep its file on the 9p share: the coordinator's is in the guest's /run.)
osd_json() { cluster osds --format json 2>>"$WORK/cluster.err" | jq -c --argjson id "$ID" '.osds[] | select(.osd.osd_id == $id) | .osd'; }
# wait_json SECONDS JQ-FILTER NAME: until osd_json matches, keeping the last in $WORK/NAME
wait_json() {
        local deadline=$((SECONDS + $1))
        while :; do
                osd_json >"$WORK/$3"
                # (not jq -e alone: jq 1.6 exits 0 on empty input)
                [ -s "$WORK/$3" ] && jq -e "$2" "$WORK/$3" >/dev/null 2>&1 && return 0
                [ "$SECONDS" -lt "$deadline" ] || return 1
                sleep 1
        done
}

step "systemctl start castle-osd@$ID"
fact start systemctl start "castle-osd@$ID.service"
ceph_wait_up "$ID" 180; echo $? >"$WORK/up1.rc"
pid1=$(systemctl show -p MainPID --value "castle-osd@$ID.service")
cat "/proc/$pid1/comm" >"$WORK/main.comm" 2>&1
wait_json 60 '.state == "running" and .supervisor == "castle-osd@'"$ID"'"' running1.json; echo $? >"$WORK/running1.rc"

step "kill -9 ceph-osd (pid $pid1)"
kill -9 "$pid1"
wait_json 12 '.state == "crash-looping" and .last_exit == "killed by SIGKILL"' looping.json; echo $? >"$WORK/looping.rc"
ceph_cmd osd down "$ID" >/dev/null 2>&1
deadline=$((SECONDS + 60))
while [ "$(systemctl show -p NRestarts --value "castle-osd@$ID.service")" = 0 ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 1; done
ceph_wait_up "$ID" 180; echo $? >"$WORK/up2.rc"
systemctl show -p ActiveState,SubState,NRestarts,MainPID "castle-osd@$ID.service" >"$WORK/show.after"
wait_json 60 '.state == "running" and .restarts == 1 and .last_exit == "killed by SIGKILL"' running2.json; echo $? >"$WORK/running2.rc"
journalctl -b --no-pager -o cat -u "castle-osd@$ID.service" >"$WORK/journal"
grep "osd\.$ID" "$WORK/agent.log" >"$WORK/agent.osd" 2>&1
ceph_stop
exit 0
EOF

rc=0
vm_run --init systemd --disk "bus=virtio,serial=OSDSYS1,size=10G" -- bash "$WORK/osd-systemd.sh" || rc=$?
[ "$rc" = 0 ] || { fail "tests/vm/run --init systemd exited $rc"; exit 1; }

ID=$(cat "$WORK/id" 2>/dev/null)
[ "$(cat "$WORK/pid1")" = "$(readlink -f /lib/systemd/systemd)" ] && pass "PID 1 in the guest is systemd" || fail "PID 1 is '$(cat "$WORK/pid1")'"
[ "$(cat "$WORK/prepare.rc")" = 0 ] && [ -n "$ID" ] && [ "$ID" != null ] && pass "osd.$ID prepared, start mode none" ||
        { fail "osd prepare: $(cat "$WORK/prepare" "$WORK/prepare.err")"; exit 1; }
[ "$(cat "$WORK/start.rc")" = 0 ] && [ "$(cat "$WORK/up1.rc")" = 0 ] && pass "systemctl start castle-osd@$ID: osd.$ID is up" ||
        fail "castle-osd@$ID did not bring osd.$ID up: $(cat "$WORK/start.err"); $(tail -5 "$WORK/journal")"
[ "$(cat "$WORK/main.comm")" = ceph-osd ] && pass "the unit's main process is ceph-osd (castlectl osd run exec'd it)" ||
        fail "the unit's main process is '$(cat "$WORK/main.comm")'"
[ "$(cat "$WORK/running1.rc")" = 0 ] && pass "the agent reports osd.$ID running under castle-osd@$ID: $(cat "$WORK/running1.json")" ||
        fail "the agent's report before the kill: $(cat "$WORK/running1.json")"
[ "$(cat "$WORK/looping.rc")" = 0 ] && pass "while systemd waits to restart it: $(cat "$WORK/looping.json")" ||
        fail "no crash-looping with the last exit after kill -9: $(cat "$WORK/looping.json")"
grep -q "^NRestarts=1$" "$WORK/show.after" && [ "$(cat "$WORK/up2.rc")" = 0 ] &&
        pass "systemd restarted it (NRestarts=1) and osd.$ID is up again" || fail "after the kill: $(cat "$WORK/show.after"); up: $(cat "$WORK/up2.rc")"
[ "$(cat "$WORK/running2.rc")" = 0 ] && pass "the agent reports the restart: $(cat "$WORK/running2.json")" ||
        fail "the agent's report after the restart: $(cat "$WORK/running2.json")"
grep -q "osd.$ID: running -> crash-looping (killed by SIGKILL" "$WORK/agent.osd" && pass "the agent logged: $(grep -m1 crash-looping "$WORK/agent.osd" | sed 's/^.*osd\./osd./')" ||
        fail "the agent's log: $(cat "$WORK/agent.osd")"
if [ "$FAILED" -gt 0 ]; then
        echo "--- journalctl -u castle-osd@$ID:"; tail -30 "$WORK/journal"
        echo "--- agent:"; tail -20 "$WORK/agent.log"
        exit 1
fi
echo "PASS: castle-osd@.service runs an OSD, systemd restarts it after kill -9, the agent reports the restart"
