#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# castlectl inventory as a user runs it: device arguments, errors and exit codes, filters,
# and a device scanned the moment it is attached (castle waits for udev, not the test).
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq mkfs.ext4
[ -x "$CASTLECTL" ] || skip "castlectl is not built ($CASTLECTL)"
ensure_udevd
setup_work

expect_exit() { # expect_exit CODE DESCRIPTION COMMAND...
        local want=$1 what=$2 rc=0
        shift 2
        "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
        if [ "$rc" -ne "$want" ]; then
                fail "$what: exit $rc, expected $want ($(head -c 300 "$WORK/err"))"
        else
                pass "$what"
        fi
}

# --- usage and errors
expect_exit 0 "--help" "$CASTLECTL" inventory --help
grep -q -- "--path-filter" "$WORK/out" || fail "--help lists --path-filter"
expect_exit 0 "castlectl --help" "$CASTLECTL" --help
expect_exit 2 "unknown command" "$CASTLECTL" frobnicate
expect_exit 2 "unknown option" "$CASTLECTL" inventory --frobnicate
expect_exit 2 "bad format" "$CASTLECTL" inventory --format yaml
grep -q "table, json or ceph-volume" "$WORK/err" || fail "bad format message names the choices"
expect_exit 2 "bad size" "$CASTLECTL" inventory --min-size 5X
expect_exit 2 "bad regex" "$CASTLECTL" inventory --filter '(['
expect_exit 2 "bad rotational" "$CASTLECTL" inventory --rotational maybe
expect_exit 1 "missing device" "$CASTLECTL" inventory /dev/castle-no-such-disk
grep -q "No such file or directory" "$WORK/err" || fail "missing device message"
expect_exit 1 "not a block device" "$CASTLECTL" inventory /etc/hostname
grep -q "not a block device" "$WORK/err" || fail "not-a-block-device message"
expect_exit 1 "sysroot that is not a capture" "$CASTLECTL" inventory --sysroot "$WORK"
grep -q "not a captured tree" "$WORK/err" || fail "sysroot message"

# --- a device scanned the instant it appears: no settle between attach and scan
img=$(new_image fresh 8G)
mkfs.ext4 -q -F "$img"
attach "$img"
fresh=$ATTACHED
"$CASTLECTL" inventory --allow-loop --format json "$fresh" >"$WORK/fresh.json"
[ "$(jq -r '.devices | length' "$WORK/fresh.json")" = 1 ] || fail "fresh device listed once"
[ "$(jq -r '.devices[0].reasons | map(.code) | join(",")' "$WORK/fresh.json")" = has_filesystem ] ||
        fail "fresh device: $(jq -c '.devices[0].reasons' "$WORK/fresh.json")"
# udev's own facts are there: the by-diskseq link is made by udev rules, not the kernel.
jq -e '.devices[0].links | map(select(startswith("/dev/disk/"))) | length > 0' "$WORK/fresh.json" >/dev/null ||
        fail "fresh device has no udev links: castle did not wait for udev"
pass "device scanned right after attach has udev facts and the right verdict"

# --- selection: by path, by kname, by stable id, by link; filters
img=$(new_image clean 12G)
attach "$img"
clean=$ATTACHED
udevadm settle
id=$(jq -r '.devices[0].stable_id' < <("$CASTLECTL" inventory --allow-loop -f json "$clean"))
[ -n "$id" ] && [ "$id" != null ] || fail "clean device has a stable id"
for arg in "$clean" "$(basename "$clean")" "$id"; do
        n=$("$CASTLECTL" inventory --allow-loop -f json "$arg" | jq -r '.devices | map(.path) | join(",")')
        [ "$n" = "$clean" ] || fail "select by '$arg' gave '$n'"
done
pass "select a device by path, kernel name and stable id"

both=$("$CASTLECTL" inventory --allow-loop -f json --filter "^($(basename "$fresh")|$(basename "$clean"))\$" |
        jq -r '.devices | map(.path) | sort | join(",")')
[ "$both" = "$(printf '%s\n' "$fresh" "$clean" | sort | paste -sd,)" ] || fail "--filter regex gave '$both'"
only=$("$CASTLECTL" inventory --allow-loop -f json --filter "^($(basename "$fresh")|$(basename "$clean"))\$" \
        --min-size 10G | jq -r '.devices | map(.path) | join(",")')
[ "$only" = "$clean" ] || fail "--min-size gave '$only'"
only=$("$CASTLECTL" inventory --allow-loop -f json --filter "^($(basename "$fresh")|$(basename "$clean"))\$" \
        --available | jq -r '.devices | map(.path) | join(",")')
[ "$only" = "$clean" ] || fail "--available gave '$only'"
n=$("$CASTLECTL" inventory --allow-loop -f json --path-filter "^$fresh\$" | jq -r '.devices | length')
[ "$n" = 1 ] || fail "--path-filter gave $n devices"
n=$("$CASTLECTL" inventory --allow-loop -f json --filter '^loop' --limit 1 | jq -r '.devices | length')
[ "$n" = 1 ] || fail "--limit 1 gave $n devices"
pass "filters: kernel-name regex, path regex, size, available, limit"

# Loop devices are listed only with --allow-loop (or --all), and then are acceptable.
n=$("$CASTLECTL" inventory -f json | jq --arg p "$clean" '[.devices[] | select(.path == $p)] | length')
[ "$n" = 0 ] || fail "loop device listed without --allow-loop"
r=$("$CASTLECTL" inventory --all -f json | jq -r --arg p "$clean" '.devices[] | select(.path == $p) | .reasons[0].code')
[ "$r" = device_type_not_acceptable ] || fail "loop without --allow-loop: '$r'"
pass "loop devices need --allow-loop"

# The table has the heading and one line per device; --no-headings drops the heading.
"$CASTLECTL" inventory --allow-loop "$clean" >"$WORK/t"
[ "$(head -1 "$WORK/t" | awk '{print $1}')" = PATH ] && [ "$(wc -l <"$WORK/t")" = 2 ] || fail "table layout"
[ "$("$CASTLECTL" inventory --allow-loop -n "$clean" | wc -l)" = 1 ] || fail "--no-headings"
pass "table output"
