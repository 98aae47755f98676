#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Dirty disks that need device-mapper, in one guest: (a) a disk with an active LV, (b) a disk
# with an open LUKS2 mapping, (c) a multipath member, (d) a disk whose LV carries the ceph.*
# tags of osd.7 of another cluster. `castlectl osd prepare` refuses each, in LVM and in raw
# mode, with exit 1 and a reason naming what it found, and changes no byte of any of them:
# the whole content of every backing image is compared on the host, before the first prepare
# (the guest has synced) and after the guest powered off. (a)-(c) are refused while planning,
# before the monitors are asked (--conf names a file that does not exist); (d) is refused
# once the cluster's fsid is known, so it runs against a one-monitor cluster in the guest,
# which must end with no OSD at all. The inventory must report (d)'s disk as osd.7's.
#
# The multipath member is made with dmsetup's multipath target, as multipathd makes its maps
# (one path group, round-robin, DM uuid mpath-<wwid>): multipath-tools is not among the
# packages scripts/install-deps installs, and its udev rules would run on every block device
# of the shared host. So what its rules add is not covered here: the path's
# ID_FS_TYPE=mpath_member and DM_MULTIPATH_DEVICE_PATH, and multipathd's own path checks.
VM_TIMEOUT=${VM_TIMEOUT:-900} # one boot with a monitor, eight prepares and LVM under TCG
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq python3
require_built "$CASTLECTL" "$BUILD/castlectl-osd"
command -v ceph-mon >/dev/null 2>&1 || skip "ceph-mon is not installed (scripts/install-deps)"
setup_work

# case|serial|wwn: each on SCSI with a WWN, so that the path has a wwid as multipathd uses it
CASES=(
        "lv|DLV|0x5000c500cc000001"
        "luks|DLUKS|0x5000c500cc000002"
        "mpath|DMPATH|0x5000c500cc000003"
        "ceph|DCEPH|0x5000c500cc000004"
)
OSD_FSID=$(cat /proc/sys/kernel/random/uuid)
OTHER_FSID=$(cat /proc/sys/kernel/random/uuid)
disks=()
for c in "${CASES[@]}"; do
        IFS='|' read -r name serial wwn <<<"$c"
        disks+=(--disk "bus=scsi,serial=$serial,wwn=$wwn,id=$name,size=6G,file=$WORK/$name.img")
done

{
printf 'OSD_FSID=%q OTHER_FSID=%q\n' "$OSD_FSID" "$OTHER_FSID"
cat <<'EOF'
fact() { printf '%s\n' "$2" >"$WORK/$1"; }
say() { echo "guest: $*"; }
# ask NAME: the host does NAME and answers in $WORK/done.NAME
ask() {
        : >"$WORK/req.$1"
        for _ in $(seq 1500); do [ -e "$WORK/done.$1" ] && return 0; sleep 0.2; done
        say "the host did not answer $1 within 300 s"; return 1
}
by_wwn() { echo "/dev/disk/by-id/wwn-$1"; }
LV=$(by_wwn 0x5000c500cc000001) LUKS=$(by_wwn 0x5000c500cc000002)
MP=$(by_wwn 0x5000c500cc000003) CEPHD=$(by_wwn 0x5000c500cc000004)
for d in "$LV" "$LUKS" "$MP" "$CEPHD"; do
        [ -b "$d" ] || { say "$d is missing: $(ls /dev/disk/by-id)"; exit 1; }
        echo "$d $(readlink -f "$d")"
done >"$WORK/disks"
STATE=/var/lib/castle-dirty # guest RAM
mkdir -p "$STATE"
(
set -e
# Data as on disks in use: random bytes in the last 4 MiB of each (under the LVM and LUKS
# data areas), at the start of the multipath disk, and written through the LV and the
# crypt mapping below, so that a wipe anywhere there would show.
for d in "$LV" "$LUKS" "$MP" "$CEPHD"; do
        dd if=/dev/urandom of="$d" bs=1M count=4 seek=$(($(blockdev --getsize64 "$d") / 1048576 - 4)) status=none
done
dd if=/dev/urandom of="$MP" bs=1M count=4 conv=notrunc status=none
# (a) an active LV
pvcreate -q "$LV"
vgcreate -q dirtyvg "$LV"
lvcreate -q -y -L 1G -n data dirtyvg
dd if=/dev/urandom of=/dev/dirtyvg/data bs=1M count=4 status=none
# (b) an open LUKS2 mapping
printf 'not-a-real-secret' >/run/luks.key
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file /run/luks.key "$LUKS"
cryptsetup open --key-file /run/luks.key "$LUKS" dirtycrypt
dd if=/dev/urandom of=/dev/mapper/dirtycrypt bs=1M count=4 status=none
# (c) a multipath map over the disk, as multipathd makes it (see the test's header)
modprobe -a dm_multipath dm_round_robin
wwid=$(udevadm info -q property -n "$MP" | sed -n 's/^ID_SERIAL=//p')
mpdev=$(readlink -f "$MP")
dmsetup create "$wwid" --uuid "mpath-$wwid" \
        --table "0 $(blockdev --getsz "$MP") multipath 0 0 1 1 round-robin 0 1 1 $(cat "/sys/class/block/${mpdev#/dev/}/dev") 1"
# (d) an LV of osd.7 of another cluster, laid out as ceph-volume does, not active (a disk
# moved over from another node)
vg=ceph-$(cat /proc/sys/kernel/random/uuid)
pvcreate -q "$CEPHD"
vgcreate -q "$vg" "$CEPHD"
lvcreate -q -y -l 100%FREE -n "osd-block-$OSD_FSID" --addtag ceph.osd_id=7 --addtag "ceph.osd_fsid=$OSD_FSID" \
        --addtag "ceph.cluster_fsid=$OTHER_FSID" --addtag ceph.cluster_name=ceph --addtag ceph.type=block \
        --addtag ceph.encrypted=0 --addtag ceph.objectstore=bluestore "$vg"
lv_uuid=$(lvs --noheadings -o lv_uuid "$vg/osd-block-$OSD_FSID" | tr -d ' ')
lvchange -q --addtag "ceph.block_uuid=$lv_uuid" --addtag "ceph.block_device=/dev/$vg/osd-block-$OSD_FSID" "$vg/osd-block-$OSD_FSID"
lvchange -q -an "$vg/osd-block-$OSD_FSID"
udevadm settle --timeout=60
) >"$WORK/setup.log" 2>&1 # not in an || list: set -e must stay in force in the subshell
[ $? = 0 ] || { say "setting up the dirty disks failed: $(tail -5 "$WORK/setup.log")"; exit 1; }
{ dmsetup ls; echo; dmsetup table; echo; lsblk -o NAME,MAJ:MIN,TYPE,SIZE,SERIAL,FSTYPE; } >"$WORK/dm-layout" 2>&1

CLEANUP_HOOKS=()
source "$TOP/tests/integration/ceph.sh"
log=$WORK/ceph-start.log
WORK=$STATE ceph_start >"$log" 2>&1 || { say "the cluster did not start: $(tail -5 "$log")"; exit 1; }
ceph_cmd fsid >"$WORK/cluster-fsid" 2>&1

# Everything settled and on the disks: the host takes its digests of the images now.
sync
for d in "$LV" "$LUKS" "$MP" "$CEPHD"; do blockdev --flushbufs "$d"; done
ask digest || exit 1

NOCONF=(--conf /nonexistent/ceph.conf --keyring /nonexistent/bootstrap-osd.keyring)
CONF=(--conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING")
for c in lv:"$LV" luks:"$LUKS" mpath:"$MP" ceph:"$CEPHD"; do
        name=${c%%:*} dev=${c#*:}
        if [ "$name" = ceph ]; then cl=("${CONF[@]}"); else cl=("${NOCONF[@]}"); fi
        for mode in lvm raw; do
                timeout 300 "$CASTLECTL" osd prepare "${cl[@]}" --osd-root "$STATE/osd" --state-dir "$STATE/castle" \
                        --mode "$mode" --data "$dev" --start-mode none --format json \
                        >"$WORK/prepare.$name.$mode.json" 2>"$WORK/prepare.$name.$mode.err"
                fact "prepare.$name.$mode.rc" $?
        done
done
"$CASTLECTL" inventory --format json >"$WORK/inventory.json" 2>"$WORK/inventory.err"
fact inventory.rc $?
"$CASTLECTL" inventory --all --format json >"$WORK/inventory-all.json" 2>&1
ceph_cmd osd ls -f json >"$WORK/osd-ls.json" 2>&1
ls -A "$STATE/castle/prepare" >"$WORK/journal.ls" 2>&1
ls -A "$STATE/osd" >"$WORK/osd-root.ls" 2>&1
{ dmsetup ls; echo; dmsetup table; } >"$WORK/dm-layout.after" 2>&1
ceph_stop
sync
exit 0
EOF
} | guest_script dirty.sh

# The host's side: digests of the images when the guest asks (it waits meanwhile).
serve() {
        while kill -0 "$vm" 2>/dev/null; do
                if [ -e "$WORK/req.digest" ] && [ ! -e "$WORK/done.digest" ]; then
                        for c in "${CASES[@]}"; do
                                name=${c%%|*}
                                image_digest "$WORK/$name.img" >"$WORK/digest.before.$name"
                        done
                        : >"$WORK/done.digest"
                fi
                sleep 0.2
        done
}

rc=0
vm_run --mem 3072 "${disks[@]}" -- bash "$WORK/dirty.sh" >"$WORK/guest.out" 2>&1 &
vm=$!
serve
wait "$vm" || rc=$?
cat "$WORK/guest.out"
[ "$rc" = 0 ] || { fail "the guest run exited $rc"; exit 1; }
echo "disks in the guest (by-id link, kernel name):"
cat "$WORK/disks"

# What each refusal must name (from what the guest set up, not from castle's output).
declare -A WANT=(
        [lv]="LVM detected|Has holders"
        [luks]="Has holders|crypto_LUKS|: crypt dirtycrypt"
        [mpath]="Multipath member"
        [ceph]="osd.7|another cluster|$OTHER_FSID"
)
for c in "${CASES[@]}"; do
        IFS='|' read -r name serial wwn <<<"$c"
        kname=$(awk -v l="/dev/disk/by-id/wwn-$wwn" '$1 == l { print $2 }' "$WORK/disks")
        for mode in lvm raw; do
                j=$WORK/prepare.$name.$mode.json
                prc=$(cat "$WORK/prepare.$name.$mode.rc" 2>/dev/null)
                err=$(jq -r '.error // empty' "$j" 2>/dev/null)
                what="$name ($kname, $serial) in $mode mode"
                if [ "$prc" != 1 ]; then
                        fail "$what: prepare exited '$prc', not 1: $(head -c 600 "$j") $(tail -3 "$WORK/prepare.$name.$mode.err")"
                        continue
                fi
                missing=""
                IFS='|' read -ra words <<<"${WANT[$name]}"
                for w in "${words[@]}"; do [[ $err == *"$w"* ]] || missing+=" '$w'"; done
                [[ $err == *"$kname"* ]] || missing+=" '$kname'"
                if [ -n "$missing" ]; then
                        fail "$what: the error does not name$missing: '$err'"
                elif [[ $err == *"cannot connect"* ]]; then
                        fail "$what: refused for the connection, not for the disk: '$err'"
                else
                        pass "$what: refused, exit 1: $err"
                fi
                [ "$(jq -r '.osd_id' "$j")" = null ] || fail "$what: the result names an OSD id: $(jq -c .osd_id "$j")"
        done
        image_digest "$WORK/$name.img" >"$WORK/digest.after.$name"
        if [ ! -s "$WORK/digest.before.$name" ]; then
                fail "$name: no digest was taken before the prepares"
        elif cmp -s "$WORK/digest.before.$name" "$WORK/digest.after.$name"; then
                pass "$name: not one byte of the disk changed (whole image compared on the host)"
        else
                fail "$name: the disk's content changed during the prepares and the inventory"
        fi
done

inv() { jq -c --arg s "$1" '[.devices[] | select(.serial == $s and .type == "disk")] | if length == 1 then .[0] else null end' "$WORK/inventory.json" 2>/dev/null || echo null; }
[ "$(cat "$WORK/inventory.rc")" = 0 ] || fail "castlectl inventory exited $(cat "$WORK/inventory.rc"): $(cat "$WORK/inventory.err")"
d=$(inv DCEPH)
if jq -e --arg u "$OSD_FSID" --arg f "$OTHER_FSID" '(.available | not) and
        any(.ceph[]; .osd_id == 7 and .osd_uuid == $u and .cluster_fsid == $f and .source == "lvm-tags")' <<<"$d" >/dev/null 2>&1; then
        pass "the inventory reports DCEPH as osd.7's disk ($(jq -c '.ceph[0] | {osd_id, cluster_fsid, source}' <<<"$d"))"
else
        fail "the inventory's record of DCEPH: $(jq -c '{available, ceph, reasons: [.reasons[]?.code]}' <<<"$d" 2>/dev/null || echo "$d")"
fi
# The inventory's reason codes for the other three (the same verdict the prepares refused on).
for want in "DLV lvm_detected has_holders" "DLUKS has_holders" "DMPATH multipath_member"; do
        read -r serial codes <<<"$want"
        d=$(inv "$serial")
        got=$(jq -r '[.reasons[]?.code] | join(" ")' <<<"$d" 2>/dev/null)
        ok=1
        for c in $codes; do [[ " $got " == *" $c "* ]] || ok=0; done
        if [ "$ok" = 1 ] && [ "$(jq -r .available <<<"$d")" = false ]; then
                pass "the inventory: $serial is not available ($got)"
        else
                fail "the inventory: $serial should be unavailable with $codes, has '$got' ($(head -c 300 <<<"$d"))"
        fi
done
[ "$(jq -c . "$WORK/osd-ls.json" 2>/dev/null)" = "[]" ] && pass "the cluster has no OSD: nothing was allocated" ||
        fail "ceph osd ls after the refusals: $(cat "$WORK/osd-ls.json")"
[ -z "$(cat "$WORK/journal.ls" 2>/dev/null | grep -v 'No such file')" ] && pass "no prepare journal entry was written" ||
        fail "journal entries after refusals: $(cat "$WORK/journal.ls")"
if [ "$FAILED" != 0 ]; then
        echo "--- device-mapper layout in the guest"; cat "$WORK/dm-layout"
fi
[ "$FAILED" = 0 ]
