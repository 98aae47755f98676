#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# castle against util-linux's wipefs on damaged and partial structures: primary copies
# destroyed with the backups intact, truncated and torn superblocks, signatures at the end of
# the device, old labels under a new filesystem. Wherever `wipefs --no-act` lists a signature,
# castle must not call the device available; and castle's scan changes no byte of any image.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq python3 wipefs sgdisk mkfs.ext4 mkfs.xfs mkfs.btrfs mkfs.vfat mkswap \
        cryptsetup
[ -x "$CASTLECTL" ] || skip "castlectl is not built ($CASTLECTL)"
ensure_udevd
setup_work

G=10G
SIZE=$((10 << 30))
CASES=()
declare -A IMG DEV NOTE

# zero IMAGE OFFSET LENGTH: zeroes bytes of an image in place.
zero() {
        dd if=/dev/zero of="$1" bs=512 count=$(($3 / 512)) seek=$(($2 / 512)) conv=notrunc status=none
}

# new_case NAME NOTE: a fresh sparse image for case NAME, its path in $img.
new_case() {
        img=$(new_image "$1" $G)
        CASES+=("$1")
        IMG[$1]=$img
        NOTE[$1]=$2
}

gpt() { sgdisk -n 1:0:+6G "$1" >/dev/null; }
luks() {
        cryptsetup luksFormat -q --type "$2" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
                --key-file "$WORK/key" "$1"
}
head -c 32 /dev/urandom >"$WORK/key"
LAST_LBA=$((SIZE / 512 - 1))

new_case clean "nothing on it (the control: castle must call it available)"

# --- partition tables with their primary copy destroyed
new_case gpt-primary-zeroed "GPT, primary header zeroed: the protective MBR and the backup header remain"
gpt "$img"
zero "$img" 512 512
new_case gpt-head-zeroed "GPT, first MiB zeroed (dd bs=1M count=1): only the backup header at the end left"
gpt "$img"
zero "$img" 0 $((1 << 20))
new_case gpt-pmbr-zeroed "GPT, protective MBR zeroed: both headers remain"
gpt "$img"
zero "$img" 0 512
new_case gpt-pmbr-only "GPT, both headers zeroed: the protective MBR remains"
gpt "$img"
zero "$img" 512 512
zero "$img" $((LAST_LBA * 512)) 512
new_case gpt-under-ext4-image "an ext4 image written with dd over a GPT disk: the backup GPT header remains"
gpt "$img"
truncate -s 64M "$WORK/small-ext4"
mkfs.ext4 -q "$WORK/small-ext4"
dd if="$WORK/small-ext4" of="$img" bs=1M conv=notrunc,sparse status=none

# --- filesystems with the primary superblock destroyed, backups intact (libblkid reads
# only the primary of these: wipefs lists nothing, castle's verdict is shown for the record)
new_case ext4-primary-zeroed "ext4, primary superblock zeroed: backups in later block groups"
mkfs.ext4 -q -E nodiscard "$img"
zero "$img" 1024 1024
new_case xfs-primary-zeroed "XFS, primary superblock zeroed: secondaries in the other AGs"
mkfs.xfs -q -K "$img"
zero "$img" 0 4096
new_case btrfs-primary-zeroed "btrfs, primary superblock zeroed: the mirror at 64 MiB"
mkfs.btrfs -q -K "$img" >/dev/null
zero "$img" 65536 4096

# --- truncated and torn superblocks
new_case ext4-truncated "ext4 made for 20 GiB on a 10 GiB device"
truncate -s 20G "$img"
mkfs.ext4 -q -E nodiscard "$img"
truncate -s $G "$img"
new_case ext4-bad-checksum "ext4 with metadata_csum, one superblock byte changed after mkfs"
mkfs.ext4 -q -E nodiscard -O metadata_csum "$img"
printf X | dd of="$img" bs=1 seek=$((1024 + 0x78)) conv=notrunc status=none

# --- signatures at the end of the device
new_case zfs-end-labels "ZFS labels 2 and 3 at the end, labels 0 and 1 at the start gone"
python3 - "$img" "$SIZE" <<'PY'
import struct, sys
path, size = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    for label in (size - 512 * 1024, size - 256 * 1024):
        for i in range(8):  # uberblocks: magic and version, one per KiB of the array
            f.seek(label + 128 * 1024 + i * 1024)
            f.write(struct.pack("<QQ", 0x00bab10c, 5000))
PY
new_case md-1.0-end "md 1.0 superblock at the end, its checksum torn (so udev's mdadm does not assemble it)"
python3 - "$img" "$SIZE" <<'PY'
import struct, sys, uuid
path, size = sys.argv[1], int(sys.argv[2])
start = (size // 512 - 16) & ~7  # where md 1.0 keeps its superblock, in sectors
sb = bytearray(256 + 2 * 2)
struct.pack_into("<II", sb, 0, 0xa92b4efc, 1)          # magic, major version
sb[16:32] = uuid.uuid4().bytes                         # set uuid
sb[32:43] = b"castle:test"                             # set name
struct.pack_into("<QII", sb, 64, 1700000000, 1, 0)     # ctime, level 1, layout
struct.pack_into("<Q", sb, 80, start - 64)             # size
struct.pack_into("<I", sb, 92, 2)                      # raid disks
struct.pack_into("<QQQ", sb, 128, 0, start - 64, start)  # data offset, data size, super offset
sb[168:184] = uuid.uuid4().bytes                       # device uuid
struct.pack_into("<I", sb, 220, 2)                     # max_dev
struct.pack_into("<HH", sb, 256, 0, 1)                 # dev_roles
struct.pack_into("<I", sb, 216, 0xdeadbeef)            # sb_csum: wrong on purpose
with open(path, "r+b") as f:
    f.seek(start * 512)
    f.write(sb)
PY

# --- old labels under a new one
new_case vfat-over-ext4 "mkfs.vfat over ext4 (mkfs.vfat wipes nothing)"
mkfs.ext4 -q -E nodiscard "$img"
mkfs.vfat "$img" >/dev/null
new_case ext4-over-zfs "mkfs.ext4 over a ZFS member whose end labels it does not reach"
cp --sparse=always "${IMG[zfs-end-labels]}" "$img"
mkfs.ext4 -q -F -E nodiscard "$img"
new_case luks2-over-ext4 "LUKS2 over ext4: both LUKS2 headers"
mkfs.ext4 -q -E nodiscard "$img"
luks "$img" luks2

# --- LUKS with the primary header destroyed
new_case luks2-primary-zeroed "LUKS2, primary header zeroed: the secondary header at 16 KiB remains"
luks "$img" luks2
zero "$img" 0 4096
new_case luks1-primary-zeroed "LUKS1, header zeroed (LUKS1 has no second copy)"
luks "$img" luks1
zero "$img" 0 512

# --- BlueStore: a label copy at 1 GiB, the one at the start gone (castle reads the copies
# itself; libblkid knows only the label at offset 0)
new_case bluestore-copy-only "BlueStore label copy at 1 GiB, label at 0 zeroed"
# The 60-byte text header is what ceph-volume and castle recognise a label by.
printf 'bluestore block device\n%s\n' "$(cat /proc/sys/kernel/random/uuid)" |
        dd of="$img" bs=1M seek=1024 conv=notrunc status=none

for name in "${CASES[@]}"; do
        attach "${IMG[$name]}"
        DEV[$name]=$ATTACHED
done
udevadm settle --timeout=30

# Nothing may have assembled, opened or mapped what the images hold: castle then sees holders
# instead of content, and this test would prove nothing.
for name in "${CASES[@]}"; do
        h=$(ls "/sys/block/${DEV[$name]#/dev/}/holders")
        [ -z "$h" ] || fail "$name: ${DEV[$name]} is held by $h before the scan"
done

declare -A BEFORE
for name in "${CASES[@]}"; do BEFORE[$name]=$(fingerprint "${IMG[$name]}"); done

wipefs_found() { # one "TYPE@OFFSET" per signature wipefs lists, space-separated
        wipefs --no-act --json "$1" | jq -r '[.signatures[]? | "\(.type)@\(.offset)"] | join(" ")'
}

disagree=0
for name in "${CASES[@]}"; do
        dev=${DEV[$name]}
        found=$(wipefs_found "$dev")
        "$CASTLECTL" inventory --allow-loop --format json "$dev" >"$WORK/$name.json"
        avail=$(jq -r '.devices[0].available' "$WORK/$name.json")
        why=$(jq -r '[.devices[0].reasons[].message] | join("; ")' "$WORK/$name.json")
        saw=$(jq -r '.devices[0] | [(.signatures // [])[].type, .partition_table // empty]
                | map(select(. != "")) | join(" ")' "$WORK/$name.json")
        echo "-- $name: ${NOTE[$name]}"
        echo "   wipefs: ${found:-nothing}"
        echo "   castle: available=$avail${why:+: $why}${saw:+ (read: $saw)}"
        if [ -n "$found" ] && [ "$avail" != false ]; then
                fail "$name ($dev): wipefs lists $found, castle calls it available=$avail"
                disagree=$((disagree + 1))
        elif [ -n "$found" ] && ! comm -12 <(tr ' ' '\n' <<<"$saw" | sort -u) \
                <(tr ' ' '\n' <<<"$found" | sed 's/@.*//' | sort -u) | grep -q .; then
                # Refused, but not for what wipefs saw: castle did not read the signature.
                fail "$name ($dev): wipefs lists $found, castle read none of them (${saw:-nothing})"
                disagree=$((disagree + 1))
        fi
done
[ "$disagree" -eq 0 ] && pass "castle rejects every device wipefs finds a signature on (${#CASES[@]} cases)"

# The control: a clean device is available, so the agreement above is not castle refusing all.
[ "$(jq -r '.devices[0].available' "$WORK/clean.json")" = true ] || fail "clean: not available"
# castle reads the BlueStore copy that libblkid does not.
jq -e '.devices[0].reasons[] | select(.code == "bluestore_label_replica")' "$WORK/bluestore-copy-only.json" \
        >/dev/null || fail "bluestore-copy-only: no bluestore_label_replica reason"

for name in "${CASES[@]}"; do
        [ "$(fingerprint "${IMG[$name]}")" = "${BEFORE[$name]}" ] ||
                fail "$name: bytes of the image changed during the scan"
done
pass "no byte of any of ${#CASES[@]} images changed"
