#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Disk health in a guest with an NVMe and a SCSI data disk, castle-agent (health-interval 5s)
# and castle-coordinator: the NVMe disk starts ok; the host sets its controller's
# smart_critical_warning through QMP (qom-set, 8: media read-only) and the agent must report
# it failing within a few intervals; the coordinator shows it (cluster devices --health,
# cluster device ID) and the verdict refuses the disk (reason health_failing) at the
# coordinator and in castlectl inventory --health. smartctl's reading of the SCSI disk (qemu's
# has no SMART data: unknown, source smartctl) reaches the coordinator too.
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq python3
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
require_built "$CASTLECTL" "$AGENT" "$COORD"
command -v smartctl >/dev/null 2>&1 || skip "smartctl is not installed (smartmontools, scripts/install-deps)"
setup_work
QMP=$WORK/qmp.sock

guest_script health.sh <<'EOF'
fact() { printf '%s\n' "$2" >"$WORK/$1"; }
say() { echo "guest: $*"; }
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
ask() { # ask NAME: the host does NAME through QMP and answers in $WORK/done.NAME
        : >"$WORK/req.$1"
        for _ in $(seq 300); do
                [ -s "$WORK/done.$1" ] && { [ "$(cat "$WORK/done.$1")" = 0 ]; return; }
                sleep 0.2
        done
        say "the host did not answer $1"; return 1
}
wait_for() { # wait_for SECONDS COMMAND...: 0 as soon as COMMAND succeeds, by the clock
        local end=$(($(date +%s) + $1)); shift
        while [ "$(date +%s)" -lt "$end" ]; do "$@" && return 0; sleep 0.5; done
        return 1
}
AEP=tcp://127.0.0.1:7101 QEP=tcp://127.0.0.1:7102
"$BUILD/castle-coordinator" --config /dev/null --insecure --agent-endpoint "$AEP" --query-endpoint "$QEP" \
        --database /run/coordinator.db >"$WORK/coordinator.log" 2>&1 &
"$BUILD/castle-agent" --config /dev/null --verbose --insecure --node-id vm-node --coordinator "$AEP" \
        --heartbeat-interval 1s --rescan-interval 1h --health-interval 5s >"$WORK/agent.log" 2>&1 &
cluster() { timeout 30 "$CASTLECTL" cluster --insecure --coordinator "$QEP" "$@"; }
verdict_of() { # verdict_of SERIAL: its health verdict at the coordinator
        cluster devices --format json 2>/dev/null |
                jq -r --arg s "$1" 'map(select(.device.serial == $s))[0].device.health.verdict // "none"'
}
verdict_is() { [ "$(verdict_of "$1")" = "$2" ]; }
wait_for 90 verdict_is NV1 ok || say "NV1 never ok: $(verdict_of NV1)"
wait_for 30 verdict_is SC1 health_unknown || true
cluster devices --format json >"$WORK/devices.before.json"
nvme=$(jq -r 'map(select(.device.serial == "NV1"))[0].device.stable_id' "$WORK/devices.before.json")
fact nvme-stable "$nvme"

t0=$(date +%s%N)
ask crit || exit 1
if wait_for 60 verdict_is NV1 failing; then fact fail-ms "$(ms "$t0")"; fi
cluster devices --format json >"$WORK/devices.after.json"
cluster devices --health >"$WORK/devices.health.txt"
cluster devices --health=failing --format json >"$WORK/devices.failing.json"
cluster device "$nvme" >"$WORK/device.nvme.txt"
"$CASTLECTL" inventory --health --format json >"$WORK/inventory.json" 2>"$WORK/inventory.err"
smartctl --json=c -x "$(jq -r 'map(select(.device.serial == "SC1"))[0].device.path' "$WORK/devices.after.json")" \
        >"$WORK/smartctl.scsi.json" 2>&1
echo "smartctl exit $?" >>"$WORK/smartctl.scsi.json.rc"
true
EOF

qmp() { "$VM_QMP" --timeout 30 "$QMP" "$@"; }
serve() {
        local rc
        while kill -0 "$vm" 2>/dev/null; do
                if [ -e "$WORK/req.crit" ] && [ ! -e "$WORK/done.crit" ]; then
                        rc=0
                        qmp qom-set '{"path":"/machine/peripheral/nv","property":"smart_critical_warning","value":8}' \
                                >"$WORK/qmp.crit.log" 2>&1 || rc=$?
                        echo "$rc" >"$WORK/done.crit.tmp" && mv "$WORK/done.crit.tmp" "$WORK/done.crit"
                fi
                sleep 0.2
        done
}
rc=0
vm_run --qmp "$QMP" --disk bus=nvme,size=10G,id=nv,serial=NV1 \
        --disk bus=scsi,size=10G,id=sc,serial=SC1,wwn=0x5000c500cc000001 \
        -- bash "$WORK/health.sh" >"$WORK/guest.out" 2>&1 &
vm=$!
serve
wait "$vm" || rc=$?
cat "$WORK/guest.out"
[ "$rc" = 0 ] || fail "the guest run exited $rc"
f() { cat "$WORK/$1" 2>/dev/null; }
dev() { jq -c --arg s "$2" "map(select(.device.serial == \$s))[0].device$3" "$WORK/$1" 2>/dev/null; }

before=$(dev devices.before.json NV1 .health.verdict)
[ "$before" = '"ok"' ] && pass "the NVMe disk's health starts ok ($(dev devices.before.json NV1 '.health | {source, critical_warning, temperature_celsius, percent_used}'))" ||
        fail "the NVMe disk's health before: $(dev devices.before.json NV1 .health)"
[ "$(f done.crit)" = 0 ] || fail "qom-set smart_critical_warning failed: $(f qmp.crit.log)"
if [ -n "$(f fail-ms)" ]; then
        pass "the agent reported the NVMe disk failing $(f fail-ms) ms after qom-set (health-interval 5s)"
else
        fail "the NVMe disk's health never turned failing at the coordinator: $(dev devices.after.json NV1 .health)"
fi
[ "$(dev devices.after.json NV1 .health.critical_warning)" = 8 ] &&
        dev devices.after.json NV1 .health.reasons | grep -q "read-only" ||
        fail "critical warning 8 and its reason: $(dev devices.after.json NV1 .health)"
[ "$(dev devices.after.json NV1 .available)" = false ] &&
        dev devices.after.json NV1 '.reasons | map(.code)' | grep -q health_failing &&
        pass "the coordinator's verdict refuses the failing disk: $(dev devices.after.json NV1 '.reasons | map(.message)')" ||
        fail "verdict at the coordinator: available $(dev devices.after.json NV1 .available), $(dev devices.after.json NV1 .reasons)"
grep -q "failing: NVMe critical warning: media placed in read-only mode" "$WORK/devices.health.txt" &&
        [ "$(jq 'length' "$WORK/devices.failing.json")" = 1 ] &&
        grep -q "^health: *failing" "$WORK/device.nvme.txt" && grep -q "critical warning *0x08" "$WORK/device.nvme.txt" &&
        pass "cluster devices --health, --health=failing and cluster device ID show it" ||
        fail "cluster output: $(cat "$WORK/devices.health.txt") / $(cat "$WORK/device.nvme.txt")"
inv=$(jq -c '.devices | map(select(.serial == "NV1"))[0] | {available, reasons: (.reasons | map(.code)), health: .health.verdict}' \
        "$WORK/inventory.json" 2>/dev/null)
[ "$inv" = '{"available":false,"reasons":["health_failing"],"health":"failing"}' ] &&
        pass "castlectl inventory --health refuses the disk: $inv" || fail "castlectl inventory --health: $inv ($(f inventory.err))"
sc=$(dev devices.after.json SC1 .health)
if [ "$(dev devices.after.json SC1 .health.source)" = '"smartctl"' ]; then
        pass "the SCSI disk's smartctl reading reached the coordinator: $sc"
else
        fail "the SCSI disk's health: $sc"
fi
echo "smartctl on qemu's SCSI disk: $(jq -c '{exit: .smartctl.exit_status, smart_support, smart_status, temperature, messages: .smartctl.messages}' "$WORK/smartctl.scsi.json" 2>/dev/null)"
