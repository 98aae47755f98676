#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A loop number someone else used cannot fail our tests: partitions added with partx outlive
# `losetup -d`, so a clean image attached later under that number would show them ("Has
# partitions"). Here a stale partition is left behind on purpose, as a careless user would;
# lib.sh's attach_at must clear it, castlectl inventory must call the clean image available,
# and lib.sh's detach must leave no partition of ours behind.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup partx sgdisk udevadm jq
[ -x "$CASTLECTL" ] || skip "castlectl is not built ($CASTLECTL)"
ensure_udevd
setup_work

N=$(free_loop_base 1) || skip "no free loop number from 200 up"
DEV=/dev/loop$N
stale() { compgen -G "/sys/block/loop$N/loop${N}p*" >/dev/null; }
# If this test fails half-way, cleanup detaches the number and removes its partitions.
LOOPS+=("$DEV")

# --- the careless user: a GPT disk with a partition, partx -a, losetup -d without partx -d
GPT=$(new_image gpt 2G)
sgdisk -o -n 1:2048:+100M "$GPT" >/dev/null
[ -e "$DEV" ] || mknod "$DEV" b 7 "$N"
losetup "$DEV" "$GPT"
partx -a "$DEV"
losetup -d "$DEV"
udevadm settle
if stale; then
        pass "loop${N}p1 outlives losetup -d"
else
        fail "no partition of loop$N is left after losetup -d: the kernel may have changed, and this test proves nothing"
fi

# --- the next test: a clean 10G image on the same number, through the helper
attach_at "$N" "$(new_image clean 10G)"
udevadm settle
stale && fail "attach_at left $(cd "/sys/block/loop$N" && echo "loop${N}"p*) on $DEV" ||
        pass "attach_at removed the stale partition of $DEV"
inv=$("$CASTLECTL" inventory --allow-loop --format json "$DEV")
if jq -e '.devices[0] | .available == true and ([.reasons[]?.code] | index("has_partitions") | not)' \
        <<<"$inv" >/dev/null; then
        pass "castlectl inventory: the clean image on $DEV is available, no 'Has partitions'"
else
        fail "castlectl inventory of the clean image on $DEV: $(jq -c '.devices[0] | {available, reasons}' <<<"$inv")"
fi
"$CASTLECTL" inventory --allow-loop --all --format json | jq -e --arg p "loop${N}p" \
        '[.devices[].kname | select(startswith($p))] | length == 0' >/dev/null &&
        pass "castlectl inventory --all lists no partition of $DEV" ||
        fail "castlectl inventory --all still lists a partition of $DEV"

# --- our own partitions go with the device: detach is partx -d, then losetup -d
detach "$DEV"
attach_at "$N" "$GPT"
partx -a "$DEV"
stale || fail "partx -a made no partition on $DEV"
detach "$DEV"
stale && fail "detach left $(cd "/sys/block/loop$N" && echo "loop${N}"p*) behind" ||
        pass "detach removed the partition it found before losetup -d"

[ "$FAILED" -eq 0 ] && echo "PASS: stale loop partitions are cleared on attach and ours on detach"
