#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hotplug for an agent outside udevd's network namespace, as in a pod without hostNetwork
# (rook/rook#14844: udev's netlink events never reach such a pod). A coordinator and two
# agents run in a network namespace this test makes; loop devices are attached on the host.
# The agent left to udev-events=auto must notice it is not in udevd's namespace, watch
# /run/udev/data with inotify, and report the new device with no periodic rescan to help
# (rescan-interval 1 day); the agent held to udev-events=netlink hears no event at all. An
# agent in the host's namespace picks netlink by itself.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq ip mkfs.ext4
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
[ -d /run/udev/data ] || skip "udevd keeps no database in /run/udev/data"
setup_work

NS=castle-test-$$
ip netns add "$NS" || skip "cannot create a network namespace (ip netns add)"
NS_PIDS=()
drop_netns() {
        local p
        for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        ip netns del "$NS" 2>/dev/null
}
CLEANUP_HOOKS+=(drop_netns)
ip netns exec "$NS" ip link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
P=$((BASE / 10))

port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for name in coordinator inotify netlink client; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null; done
cp "$K/inotify.key" "$K/netlink.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"

# (ip netns exec execs the program: $! is the daemon itself, which cleanup can stop.)
ip netns exec "$NS" "$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
        --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
        >>"$WORK/coordinator.log" 2>&1 &
NS_PIDS+=("$!")

start_agent() { # start_agent NAME [options]: in the namespace, no rescan for a day
        local name=$1
        shift
        ip netns exec "$NS" "$AGENT" --config /dev/null --verbose --node-id "$name" --coordinator "$AEP" --key "$K/$name.key" \
                --coordinator-key "$K/coordinator.key" --allow-loop --all --filter "^loop${P}[0-9](p[0-9]+)?\$" \
                --rescan-interval 1d --heartbeat-interval 1s "$@" >>"$WORK/agent-$name.log" 2>&1 &
        NS_PIDS+=("$!")
}
start_agent inotify
start_agent netlink --udev-events netlink

cluster() { in_ns "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
online() { [ "$(cluster nodes --format json | jq -r --arg n "$1" 'map(select(.node_id == $n))[0].state')" = online ]; }
has_device() { cluster devices --format json --node "$1" | jq -e --arg p "$2" 'map(select(.device.path == $p)) | length == 1'; }
no_device() { cluster devices --format json --node "$1" | jq -e --arg p "$2" 'map(select(.device.path == $p)) | length == 0'; }
wait_for "the inotify agent is online (inside the namespace)" online inotify
wait_for "the netlink agent is online (inside the namespace)" online netlink

grep -q "Device events: inotify on /run/udev/data (this is not udevd's network namespace" "$WORK/agent-inotify.log" ||
        fail "auto picks inotify outside udevd's namespace: $(grep 'Device events' "$WORK/agent-inotify.log")"
grep -q "Device events: udev netlink (udev-events option)" "$WORK/agent-netlink.log" ||
        fail "udev-events=netlink is netlink only: $(grep 'Device events' "$WORK/agent-netlink.log")"
pass "each agent says where its device events come from"

# --- hotplug on the host
attach_at ${P}0 "$(new_image hot 10G)"
wait_for "a loop device attached on the host reaches the coordinator through the inotify agent" \
        has_device inotify /dev/loop${P}0
grep -q "udev database: loop${P}0 updated" "$WORK/agent-inotify.log" ||
        fail "the inotify agent learnt it from /run/udev/data (no line in its log)"
# The netlink agent had the same time and more: nothing reached it.
sleep 2
if grep -q "udev event: .* loop${P}0" "$WORK/agent-netlink.log"; then
        fail "a netlink event reached an agent outside udevd's network namespace"
else
        pass "no netlink event reached the agent outside udevd's network namespace (rook#14844)"
fi
if has_device netlink /dev/loop${P}0 >/dev/null 2>&1; then
        echo "note: the netlink agent has the device anyway: a rescan for another reason (a mount on this machine)"
else
        pass "the netlink-only agent does not know the device"
fi

mkfs.ext4 -q /dev/loop${P}0
reasons() { cluster devices --format json --node inotify | jq -r --arg p "$1" 'map(select(.device.path == $p))[0].device.reasons | map(.code) | join(",")'; }
reasons_are() { [ "$(reasons "$1")" = "$2" ]; }
wait_for "mkfs on the host changes the verdict through inotify" reasons_are /dev/loop${P}0 has_filesystem
# A detached loop device stays (size 0): udevd rewrites its record, it does not delete it.
before=$(grep -c "udev database: loop${P}0 updated" "$WORK/agent-inotify.log")
detach /dev/loop${P}0
wait_for "a detach on the host reaches the coordinator through inotify" no_device inotify /dev/loop${P}0
[ "$(grep -c "udev database: loop${P}0 updated" "$WORK/agent-inotify.log")" -gt "$before" ] ||
        fail "the detach came from /run/udev/data"

# A partition that goes away: udevd deletes its record (IN_DELETE), the device is gone.
img=$(new_image gpt 10G)
sgdisk -o -n 1:2048:+1G "$img" >/dev/null
attach_at ${P}1 "$img"
partx -u /dev/loop${P}1
wait_for "a partition made on the host arrives through inotify" has_device inotify /dev/loop${P}1p1
partx -d /dev/loop${P}1
wait_for "a partition deleted on the host disappears through inotify" no_device inotify /dev/loop${P}1p1
grep -q "udev database: a device removed (b259:" "$WORK/agent-inotify.log" ||
        fail "the partition's record was deleted: $(grep 'udev database' "$WORK/agent-inotify.log" | tail -3)"
scans=$(grep -c "^castle-agent.*on_scanner\]: Scan " "$WORK/agent-inotify.log")
[ "$scans" -ge 5 ] || fail "the inotify agent scanned for each change ($scans scans)"
grep -q "rescanning everything" "$WORK/agent-inotify.log" && fail "events were lost and a full rescan helped"
pass "attach, mkfs, detach, partition add and delete took $scans scans (the periodic rescan is a day away)"

# --- in the host's network namespace, auto means netlink
"$AGENT" --config /dev/null --verbose --node-id host-ns --coordinator "tcp://127.0.0.1:1" --insecure --allow-loop \
        --filter "^loop${P}[0-9]\$" >>"$WORK/agent-host.log" 2>&1 &
HOST_AGENT=$!
PIDS+=("$HOST_AGENT")
wait_for "an agent in the host's namespace decides" grep -q "Device events:" "$WORK/agent-host.log"
grep -q "Device events: udev netlink (this is udevd's network namespace)" "$WORK/agent-host.log" ||
        fail "auto picks netlink in udevd's namespace: $(grep 'Device events' "$WORK/agent-host.log")"
# ... and there the same log line that stayed away above does appear: the check is not blind.
wait_for "the host agent's first scan" grep -q "Scan 1:" "$WORK/agent-host.log"
attach_at ${P}2 "$(new_image host 10G)"
wait_for "in the host's namespace a netlink event arrives" grep -q "udev event: .* loop${P}2" "$WORK/agent-host.log"

[ "$FAILED" -eq 0 ] && echo "test-netns: all checks passed"
