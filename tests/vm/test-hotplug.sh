#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hot-add and hot-remove through QMP, in one guest with castle-agent, castle-coordinator and
# a one-monitor cluster. A SCSI disk (serial HOT1, a WWN) hot-added while the agent runs must
# show at the coordinator with its serial and stable id, from the udev event alone (the
# agent's periodic rescan is an hour away). Then `castlectl osd prepare --mode lvm` of that
# disk is paused (fault point osd-dir: VG, LV and OSD id exist) and the disk is pulled
# (device_del): the prepare must fail with exit 1 and a clear error, roll back what it can,
# keep its journal entry for the volumes it could not remove, and leave an unrelated disk
# attached from the start without one changed byte (its whole image, compared on the host).
# The same backing file hot-added again (same serial) and the same prepare run again must
# converge: one OSD on that disk, up, no orphan id in the osd map, no journal entry left, its
# LV mapped onto the disk as it is now (not the stale mapping of the pulled one).
VM_TIMEOUT=${VM_TIMEOUT:-900} # one boot with a monitor and an OSD's mkfs under TCG
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq python3
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
require_built "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"
command -v ceph-mon >/dev/null 2>&1 || skip "ceph-mon is not installed (scripts/install-deps)"
setup_work
# The pause in the middle of the prepare needs them; scripts/check builds with them.
grep -q '^#define CASTLE_FAULT_POINTS 1' "$BUILD/config.h" 2>/dev/null ||
        { fail "$BUILD is built without fault points (configure --enable-fault-points)"; exit 1; }

HOT_SERIAL=HOT1
HOT_WWN=0x5000c500bb000001
HOT_IMG=$WORK/hot.img
KEEP_IMG=$WORK/keep.img
QMP=$WORK/qmp.sock
truncate -s 10G "$HOT_IMG"
# The bystander: a disk with data at its start, at 1 GiB (a BlueStore label offset) and at
# its end, attached from the start on the same SCSI bus.
truncate -s 6G "$KEEP_IMG"
for mib in 0 1024 $((6 * 1024 - 4)); do
        head -c $((4 << 20)) /dev/urandom | dd of="$KEEP_IMG" bs=1M seek="$mib" conv=notrunc status=none
done
image_digest "$KEEP_IMG" >"$WORK/keep.digest.before"

guest_script hotplug.sh <<'EOF'
fact() { printf '%s\n' "$2" >"$WORK/$1"; }
say() { echo "guest: $*"; }
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
# ask NAME: the host does NAME through QMP and answers in $WORK/done.NAME (its exit status)
ask() {
        : >"$WORK/req.$1"
        for _ in $(seq 600); do
                if [ -s "$WORK/done.$1" ]; then
                        [ "$(cat "$WORK/done.$1")" = 0 ] && return 0
                        say "QMP $1 failed: $(cat "$WORK/qmp.$1.log")"; return 1
                fi
                sleep 0.2
        done
        say "the host did not answer $1 within 120 s"; return 1
}
# wait_for SECONDS COMMAND...: 0 as soon as COMMAND succeeds
wait_for() {
        local t=$1 i; shift
        for i in $(seq $((t * 5))); do "$@" && return 0; sleep 0.2; done
        return 1
}
HOT=/dev/disk/by-id/wwn-0x5000c500bb000001
STATE=/var/lib/castle-hotplug # guest RAM
mkdir -p "$STATE"

# Coordinator and agent; the agent's periodic rescan is an hour away.
K=$STATE/keys
mkdir -p "$K" "$STATE/agents.d" "$STATE/clients.d"
for n in coordinator agent client; do "$CASTLECTL" keygen --dir "$K" "$n" >/dev/null || exit 1; done
cp "$K/agent.key" "$STATE/agents.d/"
cp "$K/client.key" "$STATE/clients.d/"
AEP=tcp://127.0.0.1:7101 QEP=tcp://127.0.0.1:7102
"$BUILD/castle-coordinator" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" \
        --key "$K/coordinator.key" --agent-keys "$STATE/agents.d" --query-keys "$STATE/clients.d" \
        --database /run/coordinator.db >"$WORK/coordinator.log" 2>&1 &
coord=$!
"$BUILD/castle-agent" --config /dev/null --verbose --node-id vm-node --coordinator "$AEP" --key "$K/agent.key" \
        --coordinator-key "$K/coordinator.key" --heartbeat-interval 1s --rescan-interval 1h \
        >"$WORK/agent.log" 2>&1 &
agent=$!
cluster() { timeout 30 "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
has_serial() { cluster devices --format json 2>/dev/null | jq -e --arg s "$1" 'any(.[]; .device.serial == $s)' >/dev/null; }
no_serial() { cluster devices --format json 2>/dev/null | jq -e --arg s "$1" 'length > 0 and all(.[]; .device.serial != $s)' >/dev/null; }
wait_for 60 has_serial KEEP1 || { say "the agent's first report (KEEP1) never reached the coordinator"; tail -20 "$WORK/agent.log"; exit 1; }
cluster devices --format json >"$WORK/devices.before.json"

# 1. Hot-add: the disk must reach the coordinator from the udev event.
t0=$(date +%s%N)
ask add || exit 1
if wait_for 90 has_serial HOT1; then fact appear-ms "$(ms "$t0")"; fi
cluster devices --format json >"$WORK/devices.added.json"
wait_for 30 test -b "$HOT" || { say "no $HOT in the guest: $(ls /dev/disk/by-id)"; exit 1; }
udevadm settle --timeout=60
kname1=$(basename "$(readlink -f "$HOT")")
fact kname1 "$kname1"
lsblk -dn -o NAME,MAJ:MIN,SERIAL,WWN >"$WORK/lsblk.added"

# 2. A cluster, and a prepare that pauses once its volumes and its OSD id exist.
CLEANUP_HOOKS=()
source "$TOP/tests/integration/ceph.sh"
log=$WORK/ceph-start.log
WORK=$STATE ceph_start >"$log" 2>&1 || { say "the cluster did not start: $(tail -5 "$log")"; exit 1; }
OPTS=(--conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd"
      --state-dir "$STATE/castle" --mode lvm --start-mode fork --timeout 600 --format json --data "$HOT")
PAUSE=$STATE/pause
touch "$PAUSE"
CASTLE_PAUSE=osd-dir CASTLE_PAUSE_FILE=$PAUSE "$CASTLECTL" osd prepare "${OPTS[@]}" \
        >"$WORK/prepare1.json" 2>"$WORK/prepare1.err" &
p1=$!
paused() { grep -q "Fault point osd-dir: paused" "$WORK/prepare1.err" || ! kill -0 $p1 2>/dev/null; }
wait_for 600 paused
if grep -q "Fault point osd-dir: paused" "$WORK/prepare1.err"; then fact paused yes; else fact paused no; fi
lvs --reportformat json -o lv_name,vg_name,lv_tags,devices >"$WORK/lvs.paused.json" 2>"$WORK/lvs.paused.err"
ceph_cmd osd ls -f json >"$WORK/osd-ls.paused.json" 2>&1
ls -A "$STATE/castle/prepare" >"$WORK/journal.paused" 2>&1

# 3. Pull the disk while the prepare waits, then let it go on.
ask del || exit 1
gone() { [ ! -e "/sys/class/block/$kname1" ]; }
wait_for 60 gone && fact gone yes || fact gone no
udevadm settle --timeout=60
{ dmsetup ls; echo; dmsetup table; } >"$WORK/dm.pulled" 2>&1
t0=$(date +%s%N)
if wait_for 60 no_serial HOT1; then fact vanish-ms "$(ms "$t0")"; fi
cluster devices --format json >"$WORK/devices.pulled.json"
rm -f "$PAUSE"
done1() { ! kill -0 $p1 2>/dev/null; }
wait_for 900 done1 || { say "the first prepare is still running 900 s after the disk was pulled"; kill -9 $p1; }
wait $p1
fact prepare1.rc $?
ls -A "$STATE/castle/prepare" >"$WORK/journal.after1" 2>&1
cp "$STATE"/castle/prepare/*.json "$WORK/journal.after1.json" 2>/dev/null
ceph_cmd osd ls -f json >"$WORK/osd-ls.after1.json" 2>&1
ls -A "$CEPH_DIR/osd" >"$WORK/osd-root.after1" 2>&1
{ dmsetup ls; echo; dmsetup table; } >"$WORK/dm.after1" 2>&1

# 4. The same disk again (same backing file, same serial), and the same prepare again.
ask add2 || exit 1
t0=$(date +%s%N)
wait_for 60 test -b "$HOT" || { say "the disk did not come back: $(ls /dev/disk/by-id)"; exit 1; }
udevadm settle --timeout=60
kname2=$(basename "$(readlink -f "$HOT")")
fact kname2 "$kname2"
fact devnum2 "$(cat "/sys/class/block/$kname2/dev")"
if wait_for 90 has_serial HOT1; then fact reappear-ms "$(ms "$t0")"; fi
{ dmsetup ls; echo; dmsetup table; } >"$WORK/dm.readded" 2>&1
"$CASTLECTL" osd prepare "${OPTS[@]}" >"$WORK/prepare2.json" 2>"$WORK/prepare2.err"
fact prepare2.rc $?
id=$(jq -r '.osd_id // empty' "$WORK/prepare2.json" 2>/dev/null)
if [ -n "$id" ] && ceph_wait_up "$id" 300; then fact up yes; else fact up no; fi
ceph_cmd osd ls -f json >"$WORK/osd-ls.after2.json" 2>&1
ceph_cmd osd tree -f json >"$WORK/osd-tree.after2.json" 2>&1
ls -A "$STATE/castle/prepare" >"$WORK/journal.after2" 2>&1
lvs --reportformat json -o lv_name,vg_name,lv_tags,devices,lv_dm_path >"$WORK/lvs.after2.json" 2>"$WORK/lvs.after2.err"
dmsetup table >"$WORK/dm.after2" 2>&1
"$CASTLECTL" inventory --format json "$HOT" >"$WORK/inventory.after2.json" 2>&1

ceph_stop
kill "$agent" "$coord" 2>/dev/null
wait "$agent" "$coord" 2>/dev/null
sync
exit 0
EOF

# The host's side: QMP on the guest's requests.
qmp() { "$VM_QMP" --timeout 60 "$QMP" "$@"; }
hot_add() {
        qmp blockdev-add "{\"driver\":\"raw\",\"node-name\":\"hot-drive\",\"file\":{\"driver\":\"file\",\"filename\":\"$HOT_IMG\"}}" &&
                qmp device_add "{\"driver\":\"scsi-hd\",\"id\":\"hot\",\"bus\":\"scsi0.0\",\"drive\":\"hot-drive\",\"serial\":\"$HOT_SERIAL\",\"wwn\":$((HOT_WWN)),\"rotation_rate\":7200}"
}
hot_del() {
        qmp --wait-event DEVICE_DELETED device_del '{"id":"hot"}' && qmp blockdev-del '{"node-name":"hot-drive"}'
}
serve() {
        local r rc
        while kill -0 "$vm" 2>/dev/null; do
                for r in add del add2; do
                        [ -e "$WORK/req.$r" ] && [ ! -e "$WORK/done.$r" ] || continue
                        rc=0
                        case $r in
                        add | add2) hot_add >"$WORK/qmp.$r.log" 2>&1 || rc=$? ;;
                        del) hot_del >"$WORK/qmp.$r.log" 2>&1 || rc=$? ;;
                        esac
                        echo "$rc" >"$WORK/done.$r.tmp" && mv "$WORK/done.$r.tmp" "$WORK/done.$r"
                done
                sleep 0.2
        done
}

rc=0
vm_run --qmp "$QMP" --mem 3072 --disk "bus=scsi,serial=KEEP1,id=keep,file=$KEEP_IMG" \
        -- bash "$WORK/hotplug.sh" >"$WORK/guest.out" 2>&1 &
vm=$!
serve
wait "$vm" || rc=$?
cat "$WORK/guest.out"
[ "$rc" = 0 ] || fail "the guest run exited $rc"
f() { cat "$WORK/$1" 2>/dev/null; }
j() { jq -r "$2" "$WORK/$1" 2>/dev/null; }

# 1. The hot-added disk at the coordinator, as the test attached it.
STABLE="wwn-${HOT_WWN}_$HOT_SERIAL" # castle's stable id of a SCSI disk with WWN and serial
got=$(jq -c --arg s "$HOT_SERIAL" '[.[] | select(.device.serial == $s)] |
        if length == 1 then .[0] | {node_id, serial: .device.serial, wwn: .device.wwn, stable_id: .device.stable_id,
        kname: .device.kname, available: .device.available} else length end' "$WORK/devices.added.json" 2>/dev/null)
want=$(jq -nc --arg s "$HOT_SERIAL" --arg w "$HOT_WWN" --arg id "$STABLE" --arg k "$(f kname1)" \
        '{node_id: "vm-node", serial: $s, wwn: $w, stable_id: $id, kname: $k, available: true}')
if [ -z "$(f appear-ms)" ]; then
        fail "the hot-added disk did not appear at the coordinator within 90 s: $(head -c 400 "$WORK/devices.added.json")"
elif [ "$got" = "$want" ]; then
        pass "the hot-added disk reached the coordinator $(f appear-ms) ms after device_add (rescan interval 1h): $got"
else
        fail "the hot-added disk at the coordinator: $got, expected $want"
fi
grep -q '"serial": *"KEEP1"' "$WORK/devices.before.json" && ! grep -q "$HOT_SERIAL" "$WORK/devices.before.json" ||
        fail "before the hot-add the coordinator had: $(head -c 400 "$WORK/devices.before.json")"

# 2-3. The prepare that lost its disk.
if [ "$(f paused)" != yes ]; then
        fail "the prepare did not reach the osd-dir fault point: $(tail -5 "$WORK/prepare1.err")"
else
        pass "the prepare paused at osd-dir with its LV and OSD id made ($(jq -c '[.report[0].lv[] | .lv_name]' "$WORK/lvs.paused.json" 2>/dev/null), osd ls $(jq -c . "$WORK/osd-ls.paused.json" 2>/dev/null))"
fi
[ "$(f gone)" = yes ] && pass "device_del removed /dev/$(f kname1) from the guest" || fail "/dev/$(f kname1) is still there after device_del"
[ -n "$(f vanish-ms)" ] && pass "the pulled disk left the coordinator's list after $(f vanish-ms) ms" ||
        fail "the pulled disk is still at the coordinator 60 s later: $(jq -c --arg s "$HOT_SERIAL" '[.[] | select(.device.serial == $s) | .device.kname]' "$WORK/devices.pulled.json" 2>/dev/null)"
err1=$(j prepare1.json '.error // empty')
rb1=$(j prepare1.json '.rolled_back // empty')
id1=$(j prepare1.json '.osd_id // empty')
if [ "$(f prepare1.rc)" = 1 ] && [[ $err1 == *"/dev/$(f kname1) is gone"* ]]; then
        pass "the prepare failed with exit 1 and names the pulled disk: $err1"
else
        fail "the prepare without its disk: exit '$(f prepare1.rc)', error '$err1' ($(tail -3 "$WORK/prepare1.err"))"
fi
# What was undone and what could not be must be said: the LV on the pulled disk is left,
# osd.N is purged, the journal entry is kept for the rerun.
if [[ $rb1 == *"kept the journal entry"* ]] && [[ $rb1 == *"/dev/$(f kname1) is gone"* ]] && [[ $rb1 == *"purged osd.$id1"* ]]; then
        pass "rolled_back: $rb1"
else
        fail "rolled_back does not say that /dev/$(f kname1) is gone, osd.$id1 purged and the journal entry kept: '$rb1'"
fi
if [ "$(grep -c '\.json$' "$WORK/journal.after1" 2>/dev/null)" = 1 ] &&
   [ "$(j journal.after1.json .stable_id)" = "$STABLE" ] && [ "$(j journal.after1.json .volumes.block.lv)" = "osd-block-$(j prepare1.json .osd_uuid)" ]; then
        pass "the journal keeps one entry for $STABLE, step $(j journal.after1.json .step), LV $(j journal.after1.json '.volumes.block.vg + "/" + .volumes.block.lv')"
else
        fail "the journal after the failed prepare: $(f journal.after1) $(jq -c 'del(.secret, .lockbox)' "$WORK/journal.after1.json" 2>/dev/null)"
fi
[ "$(jq -c . "$WORK/osd-ls.after1.json" 2>/dev/null)" = "[]" ] && pass "osd.$id1 was purged: the osd map is empty" ||
        fail "the osd map after the failed prepare: $(f osd-ls.after1.json)"
[ -z "$(f osd-root.after1)" ] && pass "no OSD directory is left" || fail "OSD directories left: $(f osd-root.after1)"
image_digest "$KEEP_IMG" >"$WORK/keep.digest.after"
cmp -s "$WORK/keep.digest.before" "$WORK/keep.digest.after" && pass "the disk attached from the start (KEEP1) has not one byte changed" ||
        fail "KEEP1's image changed"

# 4. The same disk back, the same prepare again.
stale=$(grep 'osd--block' "$WORK/dm.after1" | grep -v "^ceph.*(" | cut -c1-160)
echo "note: the LV's mapping left behind by the pulled disk: ${stale:-none}"
[ -n "$(f reappear-ms)" ] && pass "the disk came back as /dev/$(f kname2) and reached the coordinator after $(f reappear-ms) ms" ||
        fail "the re-added disk did not reach the coordinator within 90 s"
id2=$(j prepare2.json '.osd_id // empty')
if [ "$(f prepare2.rc)" = 0 ] && [ -n "$id2" ]; then
        pass "the same prepare again: osd.$id2 (resumed $(j prepare2.json .resumed), same osd fsid as the journal's: $([ "$(j prepare2.json .osd_uuid)" = "$(j journal.after1.json .uuid)" ] && echo yes || echo no))"
else
        fail "the second prepare: exit '$(f prepare2.rc)', error '$(j prepare2.json '.error // empty')', rolled back '$(j prepare2.json '.rolled_back // empty')' ($(tail -5 "$WORK/prepare2.err"))"
fi
[ "$(f up)" = yes ] && pass "osd.$id2 is up" || fail "osd.$id2 did not come up"
[ "$(jq -c . "$WORK/osd-ls.after2.json" 2>/dev/null)" = "[$id2]" ] && pass "ceph osd ls is exactly [$id2]: no orphan id" ||
        fail "ceph osd ls after the second prepare: $(f osd-ls.after2.json)"
jq -e --argjson id "${id2:--1}" 'any(.nodes[]; .id == $id and .status == "up")' "$WORK/osd-tree.after2.json" >/dev/null 2>&1 &&
        pass "ceph osd tree shows osd.$id2 up" || fail "ceph osd tree: $(head -c 400 "$WORK/osd-tree.after2.json")"
[ -z "$(f journal.after2)" ] || [[ $(f journal.after2) == *"No such file"* ]] && pass "no journal entry is left" ||
        fail "journal entries left: $(f journal.after2)"
osd_lvs=$(jq -c '[.report[0].lv[] | select(.lv_tags | test("ceph.osd_id=")) | {lv_name, vg_name, devices, osd: (.lv_tags | capture("ceph.osd_id=(?<id>[0-9]+)").id)}]' "$WORK/lvs.after2.json" 2>/dev/null)
if jq -e --arg id "${id2:-x}" --arg k "/dev/$(f kname2)" --arg vg "$(j journal.after1.json .volumes.block.vg)" \
        'length == 1 and .[0].osd == $id and (.[0].devices | startswith($k)) and .[0].vg_name == $vg' <<<"$osd_lvs" >/dev/null 2>&1; then
        pass "exactly one OSD LV, osd.$id2's, on /dev/$(f kname2) in the journal's VG: $osd_lvs"
else
        fail "the OSD LVs after the second prepare: $osd_lvs ($(head -c 300 "$WORK/lvs.after2.json"))"
fi
# The LV's mapping must point at the disk as it is now (major:minor), not at the pulled one.
maps=$(grep -c 'osd--block' "$WORK/dm.after2" 2>/dev/null)
if [ "$maps" = 1 ] && grep 'osd--block' "$WORK/dm.after2" | grep -q " $(f devnum2) "; then
        pass "one osd-block mapping, onto $(f devnum2) (/dev/$(f kname2)): $(grep 'osd--block' "$WORK/dm.after2" | cut -c1-120)"
else
        fail "the osd-block mappings after the second prepare ($(f devnum2) expected): $(f dm.after2)"
fi
jq -e --argjson id "${id2:--1}" '.devices[0].available == false and any(.devices[0].ceph[]; .osd_id == $id)' \
        "$WORK/inventory.after2.json" >/dev/null 2>&1 && pass "the inventory reports the disk as osd.$id2's" ||
        fail "the inventory of the disk: $(head -c 400 "$WORK/inventory.after2.json")"

if [ "$FAILED" != 0 ]; then
        echo "--- mappings when the disk was pulled:"; f dm.pulled
        echo "--- mappings when it was back:"; f dm.readded
        echo "--- prepare1.err:"; tail -20 "$WORK/prepare1.err"
        echo "--- prepare2.err:"; tail -20 "$WORK/prepare2.err"
        echo "--- agent.log:"; tail -20 "$WORK/agent.log"
fi
[ "$FAILED" = 0 ]
