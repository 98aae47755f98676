#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Disk health in a guest with two NVMe disks and a SCSI data disk, castle-agent (health-interval
# 5s, [osd] health-mark-out = yes) and castle-coordinator: the NVMe disks start ok; the host
# sets the first one's controller smart_critical_warning through QMP (qom-set, 8: media
# read-only) and the agent must report it failing within a few intervals; the coordinator shows
# it (cluster devices --health, cluster device ID) and the verdict refuses the disk (reason
# health_failing) at the coordinator, in castlectl inventory --health and in castlectl osd
# prepare, which reads the disk's health itself. smartctl's reading of
# the SCSI disk (qemu's has no SMART data: unknown, source smartctl) reaches the coordinator too.
# The mark-out: a one-monitor cluster in the guest, a raw OSD that castle made on the second
# NVMe disk, and client.castle-osd-rm made with the capabilities docs/operations.md documents
# (its keyring at the default path). The first disk failing leaves the OSD in; the second
# failing marks its OSD out (as client.castle-osd-rm, in the monitor's audit log), the agent
# logs it and counts it (castle_agent_osds_marked_out_total 1). An operator's `ceph osd in`
# holds while the disk stays failing (once per failing episode); once the disk has been seen
# ok and turns failing again, the OSD goes out again (2).
VM_TIMEOUT=${VM_TIMEOUT:-420}
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq python3 curl
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
require_built "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"
command -v smartctl >/dev/null 2>&1 || skip "smartctl is not installed (smartmontools, scripts/install-deps)"
command -v ceph-mon >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1 ||
        skip "ceph-mon and ceph-osd are not installed (scripts/install-deps)"
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
by_serial() { lsblk -dn -o NAME,SERIAL | awk -v s="$1" '$2 == s { print "/dev/" $1 }'; }
step() { echo "$(date +%T) $*"; }

# The cluster and its removal client, in guest RAM; the client's keyring at the default path
# the agent's remove-keyring falls back to.
step "a one-monitor cluster, client.castle-osd-rm"
STATE=/var/lib/castle-health
mkdir -p "$STATE"
CLEANUP_HOOKS=()
source "$TOP/tests/integration/ceph.sh"
WORK=$STATE ceph_start >"$WORK/ceph-start.log" 2>&1 ||
        { say "the cluster did not start: $(tail -5 "$WORK/ceph-start.log")"; exit 1; }
doc=$(sed -n '/ceph auth get-or-create client.castle-osd-rm/,/keyring$/p' "$TOP/docs/operations.md")
mon_caps=$(sed -n "s/.* mon '\([^']*\)'.*/\1/p" <<<"$doc")
mgr_caps=$(sed -n "s/.* mgr '\([^']*\)'.*/\1/p" <<<"$doc")
fact doc-caps "mon '$mon_caps' mgr '$mgr_caps'"
mkdir -p /etc/ceph
ceph_cmd auth get-or-create client.castle-osd-rm mon "$mon_caps" mgr "$mgr_caps" \
        >/etc/ceph/ceph.client.castle-osd-rm.keyring 2>"$WORK/auth.err"
ceph_cmd auth get client.castle-osd-rm -f json >"$WORK/auth.json" 2>>"$WORK/auth.err"

AEP=tcp://127.0.0.1:7101 QEP=tcp://127.0.0.1:7102 METRICS=127.0.0.1:7103
"$BUILD/castle-coordinator" --config /dev/null --insecure --agent-endpoint "$AEP" --query-endpoint "$QEP" \
        --database /run/coordinator.db >"$WORK/coordinator.log" 2>&1 &
cat >"$STATE/agent.conf" <<CONF
[agent]
node-id = vm-node
coordinator = $AEP
insecure = yes
heartbeat-interval = 1s
rescan-interval = 1h
health-interval = 5s
metrics-listen = $METRICS
[osd]
conf = $CEPH_CONF_FILE
keyring = $CEPH_BOOTSTRAP_KEYRING
osd-root = $CEPH_DIR/osd
state-dir = $STATE/castle
start-mode = fork
health-mark-out = yes
CONF
"$BUILD/castle-agent" --config "$STATE/agent.conf" --verbose >"$WORK/agent.log" 2>&1 &
cluster() { timeout 30 "$CASTLECTL" cluster --insecure --coordinator "$QEP" "$@"; }
verdict_of() { # verdict_of SERIAL: its health verdict at the coordinator
        cluster devices --format json 2>/dev/null |
                jq -r --arg s "$1" 'map(select(.device.serial == $s))[0].device.health.verdict // "none"'
}
verdict_is() { [ "$(verdict_of "$1")" = "$2" ]; }
metric() { # metric NAME: its value at the agent's metrics endpoint
        curl -sf --max-time 5 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# A raw OSD on NV2, made by castle while the agent takes its first health readings.
step "a raw OSD on NV2"
NV2=$(by_serial NV2)
fact nv2-dev "$NV2"
"$CASTLECTL" osd prepare --conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd" \
        --state-dir "$STATE/castle" --data "$NV2" --start-mode fork --timeout 300 --format json --progress none \
        >"$WORK/prepare.json" 2>"$WORK/prepare.err"
ID=$(jq -r '.osd_id // empty' "$WORK/prepare.json" 2>/dev/null)
[ -n "$ID" ] || { say "no OSD: $(tail -5 "$WORK/prepare.err")"; exit 1; }
fact id "$ID"
ceph_wait_up "$ID" 300 && fact up yes || fact up no
osd_in() { [ "$(ceph_cmd osd dump -f json 2>/dev/null | jq --argjson id "$ID" '.osds[] | select(.osd == $id) | .in')" = "$1" ]; }
listed() { # the agent reports the OSD on NV2 to the coordinator
        cluster osds --format json 2>/dev/null | jq -e --argjson id "$ID" --arg s "$nv2" \
                'any(.osds[]; .osd.osd_id == $id and .osd.device == $s)' >/dev/null
}
wait_for 90 verdict_is NV1 ok || say "NV1 never ok: $(verdict_of NV1)"
wait_for 60 verdict_is NV2 ok || say "NV2 never ok: $(verdict_of NV2)"
wait_for 30 verdict_is SC1 health_unknown || true
cluster devices --format json >"$WORK/devices.before.json"
nvme=$(jq -r 'map(select(.device.serial == "NV1"))[0].device.stable_id' "$WORK/devices.before.json")
nv2=$(jq -r 'map(select(.device.serial == "NV2"))[0].device.stable_id' "$WORK/devices.before.json")
fact nvme-stable "$nvme"
wait_for 60 listed && fact listed yes || fact listed no
cluster osds --format json >"$WORK/osds.before.json" 2>&1

# NV1 (no OSD) turns failing.
step "NV1 turns failing"
t0=$(date +%s%N)
ask crit || exit 1
if wait_for 60 verdict_is NV1 failing; then fact fail-ms "$(ms "$t0")"; fi
cluster devices --format json >"$WORK/devices.after.json"
cluster devices --health >"$WORK/devices.health.txt"
cluster devices --health=failing --format json >"$WORK/devices.failing.json"
cluster device "$nvme" >"$WORK/device.nvme.txt"
"$CASTLECTL" inventory --health --format json >"$WORK/inventory.json" 2>"$WORK/inventory.err"
# The node's own prepare reads the disk's health itself (the agent's reading may be old).
rc=0
"$CASTLECTL" osd prepare --data "$nvme" --dry-run --state-dir "$WORK/dry-state" --format json --progress none \
        >"$WORK/prepare-dry.json" 2>"$WORK/prepare-dry.err" || rc=$?
fact prepare-dry-rc "$rc"
smartctl --json=c -x "$(jq -r 'map(select(.device.serial == "SC1"))[0].device.path' "$WORK/devices.after.json")" \
        >"$WORK/smartctl.scsi.json" 2>&1
echo "smartctl exit $?" >>"$WORK/smartctl.scsi.json.rc"
# (the report that told the coordinator came from the scan that looked at the OSDs' disks)
osd_in 1 && fact in-after-nv1 yes || fact in-after-nv1 no

# NV2, the OSD's disk, turns failing: the OSD goes out.
step "NV2 turns failing"
t0=$(date +%s%N)
ask crit2 || exit 1
if wait_for 60 osd_in 0; then fact out-ms "$(ms "$t0")"; fi
out_logged() { grep -q "osd\.$ID is out\." "$WORK/agent.log"; }
wait_for 30 out_logged
ceph_cmd osd dump -f json >"$WORK/osd-dump.out.json" 2>&1
ceph_cmd osd tree -f json >"$WORK/osd-tree.out.json" 2>&1
fact marked1 "$(metric castle_agent_osds_marked_out_total)"
grep -h "osd out" "$CEPH_DIR"/log/ceph-mon.a.log >"$WORK/mon-osd-out.log" 2>&1

# The operator marks it in: later health passes, the disk still failing, leave it in.
step "ceph osd in $ID"
ceph_cmd osd in "$ID" >"$WORK/osd-in.log" 2>&1
scans() { curl -sf --max-time 5 "http://$METRICS/metrics" | awk '$1 ~ /^castle_agent_scans_total[{]/ { s += $2 } END { print s + 0 }'; }
reads0=$(metric castle_agent_health_reads_total)
fact reads0 "$reads0"
# A health pass over the 3 disks after `osd in`, then a scan after it: the scan that looks at
# the OSDs' disks (the count is taken there, on the agent's loop, which serves the metrics too).
passed() { [ "$(metric castle_agent_health_reads_total)" -ge $((reads0 + 3)) ]; }
scanned() { [ "$(scans)" -gt "$scans1" ]; }
wait_for 60 passed && scans1=$(scans) && wait_for 30 scanned && fact passes yes || fact passes no
fact reads1 "$(metric castle_agent_health_reads_total)"
fact verdict-held "$(verdict_of NV2)"
osd_in 1 && fact in-held yes || fact in-held no
fact marked-held "$(metric castle_agent_osds_marked_out_total)"

# A new episode: NV2 seen ok, then failing again: out again.
step "NV2 ok, then failing again"
ask ok2 || exit 1
wait_for 60 verdict_is NV2 ok && fact ok2 yes || fact ok2 no
osd_in 1 && fact in-ok2 yes || fact in-ok2 no
t0=$(date +%s%N)
ask crit3 || exit 1
if wait_for 60 osd_in 0; then fact out2-ms "$(ms "$t0")"; fi
out2_logged() { [ "$(grep -c "osd\.$ID is out\." "$WORK/agent.log")" -ge 2 ]; }
wait_for 30 out2_logged
fact marked2 "$(metric castle_agent_osds_marked_out_total)"
grep -h "osd out" "$CEPH_DIR"/log/ceph-mon.a.log >"$WORK/mon-osd-out2.log" 2>&1

step done
ceph_stop >/dev/null 2>&1
true
EOF

qmp() { "$VM_QMP" --timeout 30 "$QMP" "$@"; }
warn() { # warn DEVICE-ID VALUE: the controller's smart_critical_warning
        qmp qom-set "{\"path\":\"/machine/peripheral/$1\",\"property\":\"smart_critical_warning\",\"value\":$2}"
}
serve() {
        local r rc
        while kill -0 "$vm" 2>/dev/null; do
                for r in crit crit2 ok2 crit3; do
                        [ -e "$WORK/req.$r" ] && [ ! -e "$WORK/done.$r" ] || continue
                        rc=0
                        case $r in
                        crit) warn nv 8 ;;
                        crit2 | crit3) warn nv2 8 ;;
                        ok2) warn nv2 0 ;;
                        esac >"$WORK/qmp.$r.log" 2>&1 || rc=$?
                        echo "$rc" >"$WORK/done.$r.tmp" && mv "$WORK/done.$r.tmp" "$WORK/done.$r"
                done
                sleep 0.2
        done
}
start=$SECONDS
rc=0
vm_run --qmp "$QMP" --disk bus=nvme,size=10G,id=nv,serial=NV1 \
        --disk bus=nvme,size=10G,id=nv2,serial=NV2 \
        --disk bus=scsi,size=10G,id=sc,serial=SC1,wwn=0x5000c500cc000001 \
        -- bash "$WORK/health.sh" >"$WORK/guest.out" 2>&1 &
vm=$!
serve
wait "$vm" || rc=$?
cat "$WORK/guest.out"
echo "the guest ran $((SECONDS - start)) s"
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
[ "$(f prepare-dry-rc)" != 0 ] && grep -q "Disk health is failing" "$WORK/prepare-dry.json" "$WORK/prepare-dry.err" &&
        pass "castlectl osd prepare --dry-run refuses the disk on its own reading: $(jq -r .error "$WORK/prepare-dry.json" 2>/dev/null)" ||
        fail "osd prepare --dry-run on the failing disk: exit $(f prepare-dry-rc), $(cat "$WORK/prepare-dry.json" "$WORK/prepare-dry.err")"
sc=$(dev devices.after.json SC1 .health)
if [ "$(dev devices.after.json SC1 .health.source)" = '"smartctl"' ]; then
        pass "the SCSI disk's smartctl reading reached the coordinator: $sc"
else
        fail "the SCSI disk's health: $sc"
fi
echo "smartctl on qemu's SCSI disk: $(jq -c '{exit: .smartctl.exit_status, smart_support, smart_status, temperature, messages: .smartctl.messages}' "$WORK/smartctl.scsi.json" 2>/dev/null)"

# The mark-out.
ID=$(f id)
[ -n "$ID" ] && [ "$(f up)" = yes ] && pass "castle made osd.$ID, raw, on the NVMe disk NV2 ($(f nv2-dev)); it is up" ||
        { fail "no OSD on NV2: $(tail -5 "$WORK/prepare.err" 2>/dev/null) (up: $(f up))"; exit 1; }
[ "$(f listed)" = yes ] && pass "the agent reports osd.$ID on NV2 (cluster osds)" ||
        fail "cluster osds never listed osd.$ID on NV2: $(head -c 400 "$WORK/osds.before.json")"
caps=$(jq -cS '.[0].caps' "$WORK/auth.json" 2>/dev/null)
want=$(f doc-caps)
if [[ $want == "mon 'allow r, allow command \"osd out\""*"' mgr 'allow r'" ]] &&
   [ "$caps" = "$(jq -cnS --arg mon "$(sed -n "s/^mon '\(.*\)' mgr .*/\1/p" <<<"$want")" --arg mgr "allow r" '{mgr: $mgr, mon: $mon}')" ]; then
        pass "client.castle-osd-rm holds exactly docs/operations.md's capabilities: $want"
else
        fail "client.castle-osd-rm: caps $caps, docs/operations.md: $want ($(f auth.err))"
fi
[ "$(f in-after-nv1)" = yes ] && pass "NV1 failing leaves osd.$ID (on NV2) in" || fail "osd.$ID went out when NV1 (not its disk) turned failing"
if [ -n "$(f out-ms)" ] && jq -e --argjson id "$ID" '.osds[] | select(.osd == $id) | .in == 0' "$WORK/osd-dump.out.json" >/dev/null 2>&1 &&
   jq -e --argjson id "$ID" '.nodes[] | select(.id == $id) | .reweight == 0' "$WORK/osd-tree.out.json" >/dev/null 2>&1; then
        pass "with health-mark-out, osd.$ID is out (osd dump in 0, osd tree reweight 0) $(f out-ms) ms after NV2's qom-set"
else
        fail "osd.$ID is not out after NV2 turned failing: $(jq -c --argjson id "$ID" '.osds[] | select(.osd == $id) | {in, up}' "$WORK/osd-dump.out.json" 2>/dev/null)"
fi
logged=$(grep -m1 "osd\.$ID: marking it out: its disk $(f nv2-dev) is failing (NVMe critical warning" "$WORK/agent.log")
[ -n "$logged" ] && grep -q "osd\.$ID is out\." "$WORK/agent.log" && pass "the agent logged: ${logged#*]: }" ||
        fail "the agent's log: $(grep "osd\.$ID" "$WORK/agent.log" | tail -5)"
[ "$(f marked1)" = 1 ] && pass "castle_agent_osds_marked_out_total 1" || fail "castle_agent_osds_marked_out_total '$(f marked1)' after the first mark-out"
n_rm=$(grep -c "entity='client.castle-osd-rm' cmd=\[{\"prefix\": \"osd out\", \"ids\": \[\"$ID\"\]}\]: dispatch" "$WORK/mon-osd-out.log")
n_all=$(grep -c "cmd=\[{\"prefix\": \"osd out\".*: dispatch" "$WORK/mon-osd-out.log")
[ "$n_rm" = 1 ] && [ "$n_all" = 1 ] && pass "the monitor's audit log: osd out came from client.castle-osd-rm (the removal client's key)" ||
        fail "osd out in the monitor's log ($n_rm by client.castle-osd-rm, $n_all in all): $(head -c 600 "$WORK/mon-osd-out.log")"
if [ "$(f passes)" = yes ] && [ "$(f verdict-held)" = failing ] && [ "$(f in-held)" = yes ] && [ "$(f marked-held)" = 1 ]; then
        pass "once per failing episode: after ceph osd in, $(($(f reads1) - $(f reads0))) health reads later (NV2 still failing) osd.$ID stays in, the count stays 1"
else
        fail "after ceph osd in: passes $(f passes), NV2 $(f verdict-held), in $(f in-held), count $(f marked-held)"
fi
if [ "$(f ok2)" = yes ] && [ "$(f in-ok2)" = yes ] && [ -n "$(f out2-ms)" ] && [ "$(f marked2)" = 2 ] &&
   [ "$(grep -c "entity='client.castle-osd-rm' cmd=.*\"osd out\".*: dispatch" "$WORK/mon-osd-out2.log")" = 2 ]; then
        pass "a new episode (NV2 seen ok, then failing again): osd.$ID out again $(f out2-ms) ms after qom-set, castle_agent_osds_marked_out_total 2"
else
        fail "the second episode: NV2 ok $(f ok2), in $(f in-ok2), out again after $(f out2-ms) ms, count $(f marked2)"
fi
if [ "$FAILED" != 0 ]; then
        echo "--- agent.log:"; grep -i "osd\.\|mark\|health" "$WORK/agent.log" | tail -30
fi
[ "$FAILED" = 0 ]
