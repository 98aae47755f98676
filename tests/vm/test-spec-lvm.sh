#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One OSD spec applied through the coordinator, against a real one-monitor cluster in the guest:
# LVM, rotational SCSI data disks, an NVMe disk for block.db, encrypted, two OSDs per device.
# The node's agent claims the disks after its settle time and makes four OSDs that come up.
# Cephadm's own pipeline is the oracle: its DriveSelection over `ceph-volume inventory` and its
# translation to `ceph-volume lvm batch ... --report` say what cephadm would have made from the
# same spec, and `ceph-volume lvm list` must show exactly that: the same data disks, two OSDs
# each, block.db on the NVMe disk in slots of the reported size, every volume encrypted, and
# the spec's name in ceph.osdspec_affinity. Applying the spec again changes nothing.
VM_TIMEOUT=${VM_TIMEOUT:-900} # four encrypted OSDs under software emulation
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq
require_built "$CASTLECTL" "$BUILD/castlectl-osd" "$BUILD/castle-agent" "$BUILD/castle-coordinator"
command -v ceph-mon >/dev/null 2>&1 || skip "ceph-mon is not installed (scripts/install-deps)"
/usr/bin/python3 -c 'import ceph.deployment.translate, yaml' 2>/dev/null ||
        skip "/usr/bin/python3 cannot import ceph.deployment (python3-ceph-common)"
setup_work

guest_script spec.sh <<'EOF'
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
FAILS=0
STATE=/var/lib/castle-spec # guest RAM
mkdir -p "$STATE"
CLEANUP_HOOKS=()
source "$TOP/tests/integration/ceph.sh"
OUTER_WORK=$WORK
WORK=$STATE ceph_start >"$OUTER_WORK/ceph-start.log" 2>&1 ||
        { bad "the cluster did not start: $(tail -5 "$OUTER_WORK/ceph-start.log")"; exit 1; }
by_serial() { lsblk -dn -o NAME,SERIAL | awk -v s="$1" '$2 == s { print "/dev/" $1 }'; }
H1=$(by_serial HDD1) H2=$(by_serial HDD2) NV=$(by_serial NVDB)
echo "HDD1=$H1 HDD2=$H2 NVDB=$NV"

cat >"$STATE/spec.yaml" <<'YAML'
service_type: osd
service_id: vm_lvm
placement:
  host_pattern: '*'
spec:
  data_devices:
    rotational: 1
  db_devices:
    rotational: 0
  encrypted: true
  osds_per_device: 2
YAML

# What cephadm would do: DriveSelection + translate, then ceph-volume's own report of that
# command (it writes nothing with --report).
ceph_volume inventory --format json >"$OUTER_WORK/cv-inventory.json" 2>"$OUTER_WORK/cv-inventory.err" ||
        bad "ceph-volume inventory: $(tail -3 "$OUTER_WORK/cv-inventory.err")"
mapfile -t CVCMD < <(/usr/bin/python3 "$TOP/tests/vm/spec-oracle.py" "$STATE/spec.yaml" "$OUTER_WORK/cv-inventory.json")
echo "cephadm would run: ceph-volume ${CVCMD[*]}"
ceph_volume "${CVCMD[@]}" >"$OUTER_WORK/cv-report.json" 2>"$OUTER_WORK/cv-report.err" ||
        bad "ceph-volume ${CVCMD[*]}: $(tail -3 "$OUTER_WORK/cv-report.err")"
jq -e 'length == 4' "$OUTER_WORK/cv-report.json" >/dev/null &&
        ok "cephadm's pipeline plans 4 OSDs: $(jq -c '[.[] | {data, block_db, block_db_size}]' "$OUTER_WORK/cv-report.json")" ||
        bad "cephadm's report: $(head -c 800 "$OUTER_WORK/cv-report.json")"

# castle: a coordinator, the node's agent, the spec through castlectl.
K=$STATE/keys
mkdir -p "$K" "$STATE/agents.d" "$STATE/clients.d"
for n in coordinator agent client; do "$CASTLECTL" keygen --dir "$K" "$n" >/dev/null || exit 1; done
cp "$K/agent.key" "$STATE/agents.d/"
cp "$K/client.key" "$STATE/clients.d/"
AEP=tcp://127.0.0.1:7101 QEP=tcp://127.0.0.1:7102
"$BUILD/castle-coordinator" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" \
        --key "$K/coordinator.key" --agent-keys "$STATE/agents.d" --query-keys "$STATE/clients.d" \
        --database /run/coordinator.db >"$OUTER_WORK/coordinator.log" 2>&1 &
cat >"$STATE/agent.conf" <<CONF
[agent]
node-id = vm-node
coordinator = $AEP
key = $K/agent.key
coordinator-key = $K/coordinator.key
[osd]
spec-settle = 3
conf = $CEPH_CONF_FILE
keyring = $CEPH_BOOTSTRAP_KEYRING
osd-root = $CEPH_DIR/osd
state-dir = $STATE/castle
start-mode = fork
CONF
"$BUILD/castle-agent" --config "$STATE/agent.conf" --verbose >"$OUTER_WORK/agent.log" 2>&1 &
cluster() { timeout 60 "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
for _ in $(seq 120); do cluster devices --format json 2>/dev/null | jq -e 'length > 0' >/dev/null && break; sleep 0.5; done
cluster devices --format json 2>/dev/null | jq -e 'length > 0' >/dev/null ||
        { bad "the agent's report never reached the coordinator: $(tail -5 "$OUTER_WORK/agent.log")"; exit 1; }

cluster apply -i "$STATE/spec.yaml" --dry-run >"$OUTER_WORK/preview.out" 2>&1 || bad "apply --dry-run: $(cat "$OUTER_WORK/preview.out")"
cat "$OUTER_WORK/preview.out"
cluster apply -i "$STATE/spec.yaml" --dry-run --format json >"$OUTER_WORK/preview.json" 2>&1
jq -e '[.plans[] | .osds // [] | .[]] | length == 4' "$OUTER_WORK/preview.json" >/dev/null &&
        ok "castle's preview shows 4 OSDs" || bad "castle's preview: $(head -c 800 "$OUTER_WORK/preview.json")"
cluster apply -i "$STATE/spec.yaml" >"$OUTER_WORK/apply.out" 2>&1 || bad "apply: $(cat "$OUTER_WORK/apply.out")"
osd_count() { ceph_cmd osd ls -f json | jq length; }
for _ in $(seq 600); do [ "$(osd_count)" -ge 4 ] && break; sleep 1; done
[ "$(osd_count)" = 4 ] && ok "the spec made 4 OSDs" || bad "$(osd_count) OSDs after the apply: $(tail -20 "$OUTER_WORK/agent.log")"
for id in $(ceph_cmd osd ls -f json | jq -r '.[]'); do
        ceph_wait_up "$id" 300 && ok "osd.$id is up" || bad "osd.$id did not come up"
done

# What was made against what cephadm's ceph-volume would have made.
ceph_volume lvm list --format json >"$OUTER_WORK/cv-list.json" 2>"$OUTER_WORK/cv-list.err"
jq -e --arg h1 "$H1" --arg h2 "$H2" --arg nv "$NV" '
        [.[][] | select(.type == "block") | .devices[0]] | sort == ([$h1, $h1, $h2, $h2] | sort)' \
        "$OUTER_WORK/cv-list.json" >/dev/null && ok "two OSDs on each rotational disk" ||
        bad "block devices: $(jq -c '[.[][] | {type, devices}]' "$OUTER_WORK/cv-list.json")"
jq -e --arg nv "$NV" '[.[][] | select(.type == "db") | .devices[0]] == [$nv, $nv, $nv, $nv]' \
        "$OUTER_WORK/cv-list.json" >/dev/null && ok "all four block.db volumes on the NVMe disk" ||
        bad "db devices: $(jq -c '[.[][] | {type, devices}]' "$OUTER_WORK/cv-list.json")"
jq -e 'all(.[][]; .tags["ceph.encrypted"] == "1" and .tags["ceph.osdspec_affinity"] == "vm_lvm")' \
        "$OUTER_WORK/cv-list.json" >/dev/null && ok "every volume encrypted and tagged ceph.osdspec_affinity=vm_lvm" ||
        bad "tags: $(jq -c '[.[][] | .tags | {e: .["ceph.encrypted"], a: .["ceph.osdspec_affinity"]}]' "$OUTER_WORK/cv-list.json")"
# Sizes: ceph-volume's report gives each OSD's data and block.db size; the LVs castle made
# must match them to within one 4 MiB extent per volume (ceph-volume rounds to extents too).
want=$(jq -c '[.[] | (.block_db_size | tostring)] | sort' "$OUTER_WORK/cv-report.json")
got=$(jq -c '[.[][] | select(.type == "db") | .lv_size] | sort' "$OUTER_WORK/cv-list.json")
echo "block.db sizes: cephadm's report $want, castle's LVs $got"
/usr/bin/python3 - "$OUTER_WORK/cv-report.json" "$OUTER_WORK/cv-list.json" <<'PY' && ok "block.db and data volume sizes match ceph-volume's report to within one extent" || bad "sizes differ from ceph-volume's report"
import json, re, sys
units = {'B': 1, 'KB': 1 << 10, 'MB': 1 << 20, 'GB': 1 << 30, 'TB': 1 << 40}
def parse(v):
    if isinstance(v, (int, float)):
        return float(v)
    m = re.match(r'([\d.]+)\s*([KMGT]?B)', str(v))
    return float(m.group(1)) * units[m.group(2)]
report = json.load(open(sys.argv[1]))
lvs = [lv for osd in json.load(open(sys.argv[2])).values() for lv in osd]
for kind, rkey in (('db', 'block_db_size'), ('block', 'data_size')):
    want = sorted(parse(o[rkey]) for o in report)
    got = sorted(float(lv['lv_size']) for lv in lvs if lv['type'] == kind)
    print(kind, want, got)
    if len(want) != len(got) or any(abs(a - b) > (4 << 20) + a * 0.01 for a, b in zip(want, got)):
        sys.exit(1)
PY

before=$(osd_count)
cluster apply -i "$STATE/spec.yaml" >"$OUTER_WORK/apply2.out" 2>&1 || bad "the second apply: $(cat "$OUTER_WORK/apply2.out")"
sleep 10
[ "$(osd_count)" = "$before" ] && ok "applying the spec again adds nothing" || bad "the second apply changed the OSD count"
pkill -f castle-agent; pkill -f castle-coordinator
pkill -f -- "ceph-osd.*$CEPH_CONF_FILE"; sleep 2
ceph_stop
[ "$FAILS" = 0 ]
EOF

rc=0
vm_run --mem 3072 \
        --disk "bus=scsi,serial=HDD1,id=hdd1,size=12G,rotation_rate=7200,vendor=SEAGATE,product=ST12000,wwn=0x5000c500cc000001" \
        --disk "bus=scsi,serial=HDD2,id=hdd2,size=12G,rotation_rate=7200,vendor=SEAGATE,product=ST12000,wwn=0x5000c500cc000002" \
        --disk "bus=nvme,serial=NVDB,id=nvdb,size=8G" \
        -- bash "$WORK/spec.sh" >"$WORK/guest.out" 2>&1 || rc=$?
cat "$WORK/guest.out"
grep -q '^FAIL' "$WORK/guest.out" && FAILED=$((FAILED + 1))
[ "$rc" = 0 ] || fail "the guest run exited $rc"
grep -c '^ok:' "$WORK/guest.out" >/dev/null || fail "the guest reported nothing"
[ "$FAILED" = 0 ]
