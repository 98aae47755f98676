#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Replacement in the slot, the failing-disk story end to end in one guest: a one-monitor
# cluster, castle-coordinator and castle-agent (spec-settle 3s). An LVM OSD on a SCSI disk
# (scsi0.0 target 0) with its block.db on a shared NVMe disk is removed with `castlectl osd rm
# --replace --zap --force` (destroyed: the id is kept, its volumes wiped). The host pulls the
# SCSI disk through QMP (device_del), hot-adds a blank disk at another address (target 2) and
# then a new blank disk (new image, new serial) at the old address (target 0, lun 0: the same
# /dev/disk/by-path link). The agent must prepare the new disk on its own with the reserved id:
# the id comes back up, its block.db LV in the NVMe disk's VG (the freed space), tagged
# ceph.osd_id=ID; the disk at the other address is left alone (still available, no OSD).
VM_TIMEOUT=${VM_TIMEOUT:-600}
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq python3
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
require_built "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"
command -v ceph-mon >/dev/null 2>&1 || skip "ceph-mon is not installed (scripts/install-deps)"
setup_work
QMP=$WORK/qmp.sock
NEW_IMG=$WORK/new.img OTHER_IMG=$WORK/other.img
truncate -s 10G "$NEW_IMG" "$OTHER_IMG"

guest_script replace.sh <<'EOF'
fact() { printf '%s\n' "$2" >"$WORK/$1"; }
say() { echo "guest: $*"; }
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
wait_for() { # wait_for SECONDS COMMAND...: 0 as soon as COMMAND succeeds, by the clock
        local end=$(($(date +%s) + $1)); shift
        while [ "$(date +%s)" -lt "$end" ]; do "$@" && return 0; sleep 0.5; done
        return 1
}
by_serial() { lsblk -dn -o NAME,SERIAL | awk -v s="$1" '$2 == s { print "/dev/" $1 }'; }
STATE=/var/lib/castle-replace # guest RAM
mkdir -p "$STATE"
CLEANUP_HOOKS=()
source "$TOP/tests/integration/ceph.sh"
WORK=$STATE ceph_start >"$WORK/ceph-start.log" 2>&1 ||
        { say "the cluster did not start: $(tail -5 "$WORK/ceph-start.log")"; exit 1; }
OLD=$(by_serial OLD1) NV=$(by_serial NVDB)
fact old-dev "$OLD"
fact nv-dev "$NV"
SLOT=$(udevadm info -q symlink "$OLD" | tr ' ' '\n' | grep -m1 '^disk/by-path/.*scsi-0:0:0:0$')
fact slot "/dev/$SLOT"

AEP=tcp://127.0.0.1:7101 QEP=tcp://127.0.0.1:7102
"$BUILD/castle-coordinator" --config /dev/null --insecure --agent-endpoint "$AEP" --query-endpoint "$QEP" \
        --database /run/coordinator.db >"$WORK/coordinator.log" 2>&1 &
coord=$!
"$BUILD/castle-agent" --config /dev/null --verbose --insecure --node-id vm-node --coordinator "$AEP" \
        --heartbeat-interval 1s --rescan-interval 1h --spec-settle 3s \
        --conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd" \
        --state-dir "$STATE/castle" --start-mode fork >"$WORK/agent.log" 2>&1 &
agent=$!
cluster() { timeout 60 "$CASTLECTL" cluster --insecure --coordinator "$QEP" "$@"; }
has_serial() { cluster devices --format json 2>/dev/null | jq -e --arg s "$1" 'any(.[]; .device.serial == $s)' >/dev/null; }
wait_for 90 has_serial OLD1 || { say "the agent's report never reached the coordinator"; tail -20 "$WORK/agent.log"; exit 1; }

# 1. The LVM OSD: data on the SCSI disk, a 2 GiB block.db on the NVMe disk.
"$CASTLECTL" osd prepare --conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd" \
        --state-dir "$STATE/castle" --mode lvm --data "$OLD" --block-db "$NV" --block-db-size 2G \
        --start-mode fork --timeout 300 --format json >"$WORK/prepare.json" 2>"$WORK/prepare.err"
fact prepare.rc $?
ID=$(jq -r '.osd_id // empty' "$WORK/prepare.json" 2>/dev/null)
[ -n "$ID" ] || { say "no OSD: $(tail -5 "$WORK/prepare.err")"; exit 1; }
fact id "$ID"
ceph_wait_up "$ID" 300 && fact up1 yes || fact up1 no
lvs --reportformat json -o lv_name,vg_name,lv_tags,devices,lv_size --units b >"$WORK/lvs.before.json" 2>&1
vgs --reportformat json -o vg_name,vg_free,pv_name --units b >"$WORK/vgs.before.json" 2>&1

# 2. Removed, the id kept for a new disk in the slot.
t0=$(date +%s)
"$CASTLECTL" osd rm --replace --zap --force --conf "$CEPH_CONF_FILE" --client client.admin \
        --keyring "$CEPH_ADMIN_KEYRING" --osd-root "$CEPH_DIR/osd" --state-dir "$STATE/castle" "$ID" \
        >"$WORK/rm.out" 2>&1
fact rm.rc $?
fact rm-s $(($(date +%s) - t0))
ceph_cmd osd dump -f json >"$WORK/osd-dump.removed.json" 2>&1
cp "$STATE/castle/remove/$ID.json" "$WORK/journal.json" 2>/dev/null
lvs --reportformat json -o lv_name,vg_name,lv_tags,devices --units b >"$WORK/lvs.removed.json" 2>&1
vgs --reportformat json -o vg_name,vg_free,pv_name --units b >"$WORK/vgs.removed.json" 2>&1

# 3. The failed disk pulled; a blank disk at another address; the new disk in the slot.
kold=$(basename "$OLD")
ask del || exit 1
gone() { [ ! -e "/sys/class/block/$kold" ]; }
wait_for 60 gone && fact gone yes || fact gone no
udevadm settle --timeout=60
ask other || exit 1
wait_for 60 has_serial OTHER1 || say "the disk at the other address did not reach the coordinator"
ask new || exit 1
t0=$(date +%s)
wait_for 60 test -e "/dev/$SLOT" && udevadm settle --timeout=60
fact new-dev "$(readlink -f "/dev/$SLOT")"
fact new-serial "$(lsblk -dn -o SERIAL "$(readlink -f "/dev/$SLOT")" 2>/dev/null)"
up() { ceph_cmd osd dump -f json 2>/dev/null | jq -e --argjson id "$ID" '.osds[] | select(.osd == $id and .up == 1)' >/dev/null; }
if wait_for 300 up; then fact up2 yes; fact up2-s $(($(date +%s) - t0)); else fact up2 no; fi
sleep 2
ceph_cmd osd dump -f json >"$WORK/osd-dump.after.json" 2>&1
ceph_cmd osd tree -f json >"$WORK/osd-tree.after.json" 2>&1
lvs --reportformat json -o lv_name,vg_name,lv_tags,devices --units b >"$WORK/lvs.after.json" 2>&1
pvs --noheadings -o vg_name,pv_name "$NV" 2>/dev/null | awk '{ print "VG " $1 }' >"$WORK/nv-vgs.after"
ls "$STATE/castle/remove" >"$WORK/journal.after" 2>&1 # the JSON entries, not the dot lock files
OTHER=$(by_serial OTHER1)
fact other-dev "$OTHER"
"$CASTLECTL" inventory --format json "$OTHER" >"$WORK/inventory.other.json" 2>&1
lsblk -n -o NAME "$OTHER" | wc -l >"$WORK/other.nodes"
cluster devices --format json >"$WORK/devices.after.json" 2>&1
ceph_volume lvm list --format json >"$WORK/cv-list.json" 2>"$WORK/cv-list.err"

kill "$agent" "$coord" 2>/dev/null
wait "$agent" "$coord" 2>/dev/null
pkill -f -- "ceph-osd.*$CEPH_CONF_FILE"
ceph_stop >/dev/null 2>&1
sync
exit 0
EOF

# The host's side: QMP on the guest's requests.
qmp() { "$VM_QMP" --timeout 60 "$QMP" "$@"; }
hot_add() { # hot_add ID IMAGE SERIAL SCSI-ID
        qmp blockdev-add "{\"driver\":\"raw\",\"node-name\":\"$1-drive\",\"file\":{\"driver\":\"file\",\"filename\":\"$2\"}}" &&
                qmp device_add "{\"driver\":\"scsi-hd\",\"id\":\"$1\",\"bus\":\"scsi0.0\",\"scsi-id\":$4,\"lun\":0,\"drive\":\"$1-drive\",\"serial\":\"$3\",\"rotation_rate\":7200}"
}
serve() {
        local r rc
        while kill -0 "$vm" 2>/dev/null; do
                for r in del other new; do
                        [ -e "$WORK/req.$r" ] && [ ! -e "$WORK/done.$r" ] || continue
                        rc=0
                        case $r in
                        del) { qmp --wait-event DEVICE_DELETED device_del '{"id":"old"}' &&
                                qmp blockdev-del '{"node-name":"old-drive"}'; } >"$WORK/qmp.$r.log" 2>&1 || rc=$? ;;
                        other) hot_add other "$OTHER_IMG" OTHER1 2 >"$WORK/qmp.$r.log" 2>&1 || rc=$? ;;
                        new) hot_add new "$NEW_IMG" NEW1 0 >"$WORK/qmp.$r.log" 2>&1 || rc=$? ;;
                        esac
                        echo "$rc" >"$WORK/done.$r.tmp" && mv "$WORK/done.$r.tmp" "$WORK/done.$r"
                done
                sleep 0.2
        done
}

start=$SECONDS
rc=0
vm_run --qmp "$QMP" --mem 3072 \
        --disk "bus=scsi,serial=OLD1,id=old,size=10G,rotation_rate=7200" \
        --disk "bus=nvme,serial=NVDB,id=nvdb,size=6G" \
        -- bash "$WORK/replace.sh" >"$WORK/guest.out" 2>&1 &
vm=$!
serve
wait "$vm" || rc=$?
cat "$WORK/guest.out"
echo "the guest ran $((SECONDS - start)) s"
[ "$rc" = 0 ] || fail "the guest run exited $rc"
f() { cat "$WORK/$1" 2>/dev/null; }
j() { jq -r "$2" "$WORK/$1" 2>/dev/null; }
ID=$(f id)
[ -n "$ID" ] || { fail "no OSD was made: $(tail -5 "$WORK/prepare.err" 2>/dev/null)"; exit 1; }

# 1. The OSD as made: block on the SCSI disk, block.db on the NVMe disk.
[ "$(f up1)" = yes ] && pass "osd.$ID is up (LVM, data on $(f old-dev), block.db on $(f nv-dev))" ||
        fail "osd.$ID did not come up: $(tail -5 "$WORK/prepare.err")"
lvs_of() { # lvs_of FILE TYPE: that type's LVs tagged ceph.osd_id=$ID, as {vg, devices}
        jq -c --arg id "$ID" --arg t "$2" '[.report[0].lv[] | select((.lv_tags | contains("ceph.osd_id=" + $id + ",") or endswith("ceph.osd_id=" + $id)) and (.lv_tags | test("ceph.type=" + $t + "(,|$)"))) | {lv_name, vg_name, devices}]' \
                "$WORK/$1" 2>/dev/null
}
DB_VG=$(lvs_of lvs.before.json db | jq -r 'if length == 1 then .[0].vg_name else empty end')
if [ -n "$DB_VG" ] && lvs_of lvs.before.json db | jq -e --arg nv "$(f nv-dev)" '.[0].devices | startswith($nv)' >/dev/null; then
        pass "osd.$ID's block.db LV is in the NVMe disk's VG $DB_VG: $(lvs_of lvs.before.json db)"
else
        fail "osd.$ID's block.db LV before the removal: $(lvs_of lvs.before.json db)"
fi
SLOT=$(f slot)
[ -n "$SLOT" ] && pass "the SCSI disk's slot: $SLOT" || fail "no by-path link ending in scsi-0:0:0:0 for $(f old-dev)"

# 2. The removal.
[ "$(f rm.rc)" = 0 ] && pass "osd rm --replace --zap --force took $(f rm-s) s: $(tail -1 "$WORK/rm.out")" ||
        fail "osd rm --replace: $(tail -5 "$WORK/rm.out")"
jq -e --argjson id "$ID" '.osds[] | select(.osd == $id) | .state | index("destroyed")' "$WORK/osd-dump.removed.json" >/dev/null 2>&1 &&
        pass "osd.$ID is destroyed, its id kept" || fail "osd.$ID is not destroyed: $(head -c 300 "$WORK/osd-dump.removed.json")"
jq -e --arg s "$SLOT" '.replace == true and .step == "done" and .by_path == $s' "$WORK/journal.json" >/dev/null 2>&1 &&
        pass "the journal reserves osd.$ID for slot $SLOT" || fail "the journal entry: $(jq -c . "$WORK/journal.json" 2>/dev/null)"
left=$(jq -c '[.report[0].lv[] | {lv_name, vg_name, devices}]' "$WORK/lvs.removed.json" 2>/dev/null)
[ "$left" = "[]" ] && pass "--zap removed osd.$ID's LVs (block and block.db): no LV is left" ||
        fail "LVs left after osd rm --zap: $left"

# 3. The swap and the replacement.
[ "$(f gone)" = yes ] && pass "device_del pulled $(f old-dev) from the guest" || fail "$(f old-dev) is still there after device_del"
[ "$(f new-serial)" = NEW1 ] && pass "the new disk NEW1 is $(f new-dev), in the same slot $SLOT" ||
        fail "the slot $SLOT after device_add holds '$(f new-dev)' serial '$(f new-serial)'"
if [ "$(f up2)" = yes ]; then
        pass "the agent prepared the new disk with the reserved id: osd.$ID up $(f up2-s) s after device_add (spec-settle 3s)"
else
        fail "osd.$ID did not come up on the new disk within 300 s"
fi
jq -e --argjson id "$ID" 'any(.nodes[]; .id == $id and .status == "up")' "$WORK/osd-tree.after.json" >/dev/null 2>&1 &&
        pass "ceph osd tree shows osd.$ID up" || fail "ceph osd tree: $(head -c 400 "$WORK/osd-tree.after.json")"
[ "$(jq -c '[.osds[].osd]' "$WORK/osd-dump.after.json" 2>/dev/null)" = "[$ID]" ] && pass "no other id: osd ls is [$ID]" ||
        fail "the OSDs after the replacement: $(jq -c '[.osds[] | {osd, up, state}]' "$WORK/osd-dump.after.json" 2>/dev/null)"
if lvs_of lvs.after.json block | jq -e --arg d "$(f new-dev)" 'length == 1 and (.[0].devices | startswith($d))' >/dev/null; then
        pass "osd.$ID's block LV is on the new disk: $(lvs_of lvs.after.json block)"
else
        fail "osd.$ID's block LV after the replacement: $(lvs_of lvs.after.json block)"
fi
# The NVMe disk holds only the new block.db LV: the old one's space was given back and reused.
# (Its only LV gone, the old VG went too, as with ceph-volume lvm zap --destroy: the new LV
# is in a ceph VG on the same disk.)
nv_lvs=$(jq -c --arg nv "$(f nv-dev)" '[.report[0].lv[] | select(.devices | startswith($nv)) | {lv_name, vg_name, osd: (.lv_tags | capture("ceph.osd_id=(?<id>[0-9]+)").id // null), type: (.lv_tags | capture("ceph.type=(?<t>[a-z]+)").t // null)}]' \
        "$WORK/lvs.after.json" 2>/dev/null)
if jq -e --arg id "$ID" 'length == 1 and .[0].osd == $id and .[0].type == "db" and (.[0].vg_name | startswith("ceph-"))' <<<"$nv_lvs" >/dev/null 2>&1; then
        pass "its block.db LV is back on the NVMe disk $(f nv-dev) ($(f nv-vgs.after)), the only LV there: $nv_lvs"
else
        fail "the LVs on the NVMe disk after the replacement: $nv_lvs"
fi
jq -e --arg id "$ID" '.[$id] | length == 2 and any(.[]; .type == "db") and all(.[]; .tags["ceph.osd_id"] == $id)' \
        "$WORK/cv-list.json" >/dev/null 2>&1 && pass "ceph-volume lvm list: osd.$ID with block and db, tagged ceph.osd_id=$ID" ||
        fail "ceph-volume lvm list: $(jq -c 'map_values([.[] | {type, devices}])' "$WORK/cv-list.json" 2>/dev/null || tail -3 "$WORK/cv-list.err")"
[ -z "$(f journal.after)" ] && pass "the reservation ended (no journal entry left)" ||
        fail "journal entries left: $(f journal.after)"

# 4. The disk at the other address: left alone.
if j inventory.other.json '.devices[0].available' | grep -qx true && [ "$(f other.nodes)" = 1 ] &&
   ! grep -q "prepares $(f other-dev)" "$WORK/agent.log"; then
        pass "the blank disk at another address ($(f other-dev)) is left alone: available, no partition or LV"
else
        fail "the disk at the other address: $(head -c 300 "$WORK/inventory.other.json"), $(f other.nodes) nodes"
fi

if [ "$FAILED" != 0 ]; then
        echo "--- agent.log:"; grep -i "reserv\|replace\|slot\|job" "$WORK/agent.log" | tail -30
fi
[ "$FAILED" = 0 ]
