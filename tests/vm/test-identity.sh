#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Device identity on real virtual hardware: two NVMe, two SCSI (one rotational, one not, with
# vendor, product, serial, WWN) and two virtio disks. castlectl inventory must report what the
# disk specs say; after a reboot with the disks attached in reverse order (kernel names
# swapped, checked independently of castle) every disk keeps its stable id.
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq
require_built "$CASTLECTL"
setup_work

# serial|bus|spec extras|transport|vendor|model|wwn|rotational|size
# (qemu's NVMe controller reports the model "QEMU NVMe Ctrl" and is non-rotational; virtio-blk
# reports neither model nor rotation, so the kernel's default applies: "kernel".)
SPECS=(
        "NV1|nvme|size=10G|nvme||QEMU NVMe Ctrl|kernel|false|10G"
        "NV2|nvme|size=11G|nvme||QEMU NVMe Ctrl|kernel|false|11G"
        "S1|scsi|size=12G,wwn=0x5000c500a1b2c3d4,vendor=SEAGATE,product=ST1000NM0055,rotation_rate=7200|scsi|SEAGATE|ST1000NM0055|0x5000c500a1b2c3d4|true|12G"
        "S2|scsi|size=13G,wwn=0x5002538e40a1b2c3,vendor=SAMSUNG,product=MZ7LH960,rotation_rate=1|scsi|SAMSUNG|MZ7LH960|0x5002538e40a1b2c3|false|13G"
        "V1|virtio|size=5G|virtio|||none|kernel|5G"
        "V2|virtio|size=6G|virtio|||none|kernel|6G"
)
disk_args=()
for s in "${SPECS[@]}"; do
        IFS='|' read -r serial bus extra _ <<<"$s"
        disk_args+=(--disk "bus=$bus,serial=$serial,id=d$serial,$extra")
done

# In the guest: castle's inventory, and, independently of castle, which kernel name each serial
# has (lsblk, from udev), the kernel's rotational flag and the NVMe namespaces' WWIDs (sysfs).
guest_script identity.sh <<'EOF'
b=$CASTLE_VM_BOOT
"$CASTLECTL" inventory --format json >"$WORK/inv.$b.json" 2>"$WORK/inv.$b.err"
echo $? >"$WORK/inv.$b.rc"
lsblk -J -d -o NAME,SERIAL >"$WORK/lsblk.$b.json"
for d in /sys/block/*; do
        k=${d##*/}
        echo "$k $(cat "$d/queue/rotational") $(cat "$d/wwid" 2>/dev/null || echo none)"
done >"$WORK/sysfs.$b"
EOF

rc=0
vm_run --reboot "${disk_args[@]}" -- bash "$WORK/identity.sh" || rc=$?
[ "$rc" = 0 ] || { fail "tests/vm/run --reboot exited $rc"; exit 1; }
for b in 1 2; do
        [ "$(cat "$WORK/inv.$b.rc")" = 0 ] || fail "boot $b: castlectl inventory exited $(cat "$WORK/inv.$b.rc"): $(cat "$WORK/inv.$b.err")"
        jq -e '.devices | length > 0' "$WORK/inv.$b.json" >/dev/null || fail "boot $b: inventory JSON has no devices"
done
[ "$FAILED" = 0 ] || exit 1

kname_of() { # kname_of BOOT SERIAL (lsblk's answer, not castle's)
        jq -r --arg s "$2" '[.blockdevices[] | select(.serial == $s) | .name] | if length == 1 then .[0] else "?" end' "$WORK/lsblk.$1.json"
}
sysfs_of() { # sysfs_of BOOT KNAME FIELD(2 rotational, 3 wwid)
        awk -v k="$2" -v f="$3" '$1 == k { print $f }' "$WORK/sysfs.$1"
}
dev_of() { # dev_of BOOT SERIAL: castle's record of the disk with that serial
        jq -c --arg s "$2" '[.devices[] | select(.serial == $s and .type == "disk")] | if length == 1 then .[0] else null end' "$WORK/inv.$1.json"
}
bytes() { numfmt --from=iec "$1"; }

for b in 1 2; do
        for s in "${SPECS[@]}"; do
                IFS='|' read -r serial bus _ transport vendor model wwn rot size <<<"$s"
                k=$(kname_of "$b" "$serial")
                [ "$k" != "?" ] || { fail "boot $b: lsblk does not show one disk with serial $serial"; continue; }
                d=$(dev_of "$b" "$serial")
                [ "$d" != null ] || { fail "boot $b: castle does not report one disk with serial $serial"; continue; }
                [ "$wwn" = kernel ] && wwn=$(sysfs_of "$b" "$k" 3)
                [ "$wwn" = none ] && wwn=""
                [ "$rot" = kernel ] && { [ "$(sysfs_of "$b" "$k" 2)" = 1 ] && rot=true || rot=false; }
                case $bus in
                virtio) stable="virtio-$serial" ;;
                *) stable="wwn-${wwn}_$serial" ;;
                esac
                want=$(jq -cn --arg k "$k" --arg t "$transport" --arg v "$vendor" --arg m "$model" --arg s "$serial" \
                        --arg w "$wwn" --argjson r "$rot" --argjson z "$(bytes "$size")" --arg id "$stable" \
                        '{kname: $k, transport: $t, vendor: $v, model: $m, serial: $s, wwn: $w, rotational: $r, size: $z, stable_id: $id}')
                got=$(jq -c '{kname, transport, vendor, model, serial, wwn, rotational, size, stable_id}' <<<"$d")
                if [ "$got" = "$want" ]; then
                        pass "boot $b: $serial ($bus, /dev/$k) as specified"
                else
                        fail "boot $b: $serial: castle reports $got, the spec says $want"
                fi
        done
done

# The second boot attached the disks in reverse order: within each bus the kernel names must
# have swapped (checked with lsblk), and castle's stable ids must not have moved.
for pair in NV1:NV2 S1:S2 V1:V2; do
        a=${pair%:*} z=${pair#*:}
        if [ "$(kname_of 1 "$a")" = "$(kname_of 2 "$z")" ] && [ "$(kname_of 1 "$z")" = "$(kname_of 2 "$a")" ]; then
                pass "reordered boot swapped kernel names: $a $(kname_of 1 "$a") -> $(kname_of 2 "$a"), $z $(kname_of 1 "$z") -> $(kname_of 2 "$z")"
        else
                fail "reordered boot did not swap $a/$z: boot 1 $(kname_of 1 "$a")/$(kname_of 1 "$z"), boot 2 $(kname_of 2 "$a")/$(kname_of 2 "$z")"
        fi
done
for s in "${SPECS[@]}"; do
        serial=${s%%|*}
        id1=$(dev_of 1 "$serial" | jq -r '.stable_id // empty')
        id2=$(dev_of 2 "$serial" | jq -r '.stable_id // empty')
        if [ -n "$id1" ] && [ "$id1" = "$id2" ]; then
                pass "$serial keeps stable id $id1 across the reordered reboot"
        else
                fail "$serial: stable id '$id1' in boot 1, '$id2' in boot 2"
        fi
done
# No two disks share a stable id.
for b in 1 2; do
        dup=$(jq -r '[.devices[] | select(.type == "disk") | .stable_id] | group_by(.) | map(select(length > 1) | .[0]) | join(" ")' "$WORK/inv.$b.json")
        [ -z "$dup" ] || fail "boot $b: stable ids shared by several disks: $dup"
done
exit 0
