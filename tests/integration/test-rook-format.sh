#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# castlectl cluster devices --format rook against a real coordinator and agent (CURVE, with
# the key files laid out as Kubernetes mounts a Secret volume): every LocalDisk field of
# Rook's local-device-<node> ConfigMap is checked against what the kernel, udev, sgdisk and
# blkid say about loop devices this test made (clean, read-only, ext4 and mounted, an empty
# GPT, a GPT with a named partition holding ext4). The agent is told it runs in a container
# ($container, systemd's convention) with NODE_NAME set, as the DaemonSet sets it.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq mkfs.ext4 sgdisk partx blkid blockdev python3
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
P=$((BASE / 10)) # our devices: loop${P}0 .. loop${P}9

port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
# A 55-character node name: with "local-device-" it passes 63, so Rook hashes it.
NODE=castle-rook-format-test-node.$(printf '%026d' 0 | tr 0 x).lan

# Keys, then each mounted directory built the way the kubelet builds a Secret volume:
# DIR/..<timestamp>/FILE, DIR/..data -> ..<timestamp>, DIR/FILE -> ..data/FILE.
K=$WORK/keys
mkdir -p "$K"
for name in coordinator agent client; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null; done
secret_volume() { # secret_volume DIR MODE FILE...
        local dir=$1 mode=$2 ts=..2026_01_01_00_00_00.000000001 f
        shift 2
        mkdir -p "$dir/$ts"
        for f in "$@"; do
                install -m "$mode" "$K/$f" "$dir/$ts/$f"
                ln -s "..data/$f" "$dir/$f"
        done
        ln -s "$ts" "$dir/..data"
}
secret_volume "$WORK/agents.d" 0644 agent.key
secret_volume "$WORK/clients.d" 0644 client.key
secret_volume "$WORK/agent-secret" 0400 agent.key agent.key_secret coordinator.key

"$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
        --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
        >>"$WORK/coordinator.log" 2>&1 &
PIDS+=("$!")

# --- the devices
attach_at ${P}0 "$(new_image clean 10G)"
attach_at ${P}1 "$(new_image ro 6G)" -r
attach_at ${P}2 "$(new_image ext4 8G)"
mkfs.ext4 -q /dev/loop${P}2
udevadm settle
mkdir -p "$WORK/mnt/data-${P}"
# A probe that holds the device O_EXCL for a moment (udev's, or any castle-agent on this
# machine) makes mount fail with EBUSY: try again briefly.
for i in 1 2 3 4 5 6 7 8 9 10; do
        mount -o ro,noload /dev/loop${P}2 "$WORK/mnt/data-${P}" 2>/dev/null && break
        sleep 0.2
done
mountpoint -q "$WORK/mnt/data-${P}" || mount -o ro,noload /dev/loop${P}2 "$WORK/mnt/data-${P}"
MOUNTS+=("$WORK/mnt/data-${P}")
attach_at ${P}3 "$(new_image gpt-empty 12G)"
sgdisk -o /dev/loop${P}3 >/dev/null
attach_at ${P}4 "$(new_image gpt-part 12G)"
sgdisk -o -n 1:2048:+1G -c 1:castle-data /dev/loop${P}4 >/dev/null
partx -u /dev/loop${P}4
udevadm settle
mkfs.ext4 -q /dev/loop${P}4p1
# udev's record must be current before it is the yardstick: a filesystem made before udev
# watched the new partition would stay unknown to udev until the next event.
udevadm trigger --action=change --sysname-match="loop${P}[0-9]*"
udevadm settle

NODE_NAME=$NODE container=castle-test "$AGENT" --config /dev/null --verbose --coordinator "$AEP" \
        --key "$WORK/agent-secret/agent.key" --coordinator-key "$WORK/agent-secret/coordinator.key" \
        --allow-loop --all --filter "^loop${P}[0-9](p[0-9]+)?\$" --heartbeat-interval 1s \
        >>"$WORK/agent.log" 2>&1 &
PIDS+=("$!")

cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
count_is() { [ "$(cluster devices --format json | jq 'length')" = "$1" ]; }
wait_for "the agent's six devices reach the coordinator (its keys in Secret-volume layout)" count_is 6

# --- identity: NODE_NAME in a container
grep -q "Running in a container (\$container)" "$WORK/agent.log" || fail "the agent says it runs in a container"
grep -q "hostname $NODE (from \$NODE_NAME)" "$WORK/agent.log" || fail "hostname from NODE_NAME: $(grep 'Node id' "$WORK/agent.log")"
line=$(grep -m1 "Node id " "$WORK/agent.log")
case $line in
*"(from \$NODE_NAME)"*) [ "$(cluster nodes --format json | jq -r '.[0].node_id')" = "$NODE" ] || fail "node id is NODE_NAME" ;;
*machine-id*) pass "node id from a host machine-id: $line" ;;
*) fail "node id source: $line" ;;
esac
case $line in *"(from /etc/machine-id)"*) fail "a container's own /etc/machine-id was used: $line" ;; esac
pass "identity: $line"

# --- the ConfigMaps
cluster devices --format rook >"$WORK/rook.json" || fail "cluster devices --format rook"
jq -e '.apiVersion == "v1" and .kind == "List" and (.items | length == 1)' "$WORK/rook.json" >/dev/null ||
        fail "a List of one ConfigMap: $(head -c 300 "$WORK/rook.json")"
hash=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:32])' "$NODE")
jq -e --arg name "local-device-$hash" --arg node "$NODE" '.items[0] | .kind == "ConfigMap"
        and .metadata.name == $name and .metadata.namespace == "rook-ceph"
        and .metadata.labels.app == "rook-discover" and .metadata.labels["rook.io/node"] == $node' \
        "$WORK/rook.json" >/dev/null || fail "ConfigMap metadata: $(jq -c '.items[0].metadata' "$WORK/rook.json")"
jq -r '.items[0].data.devices' "$WORK/rook.json" >"$WORK/devices.json"
jq -e 'type == "array" and length == 6' "$WORK/devices.json" >/dev/null || fail "data.devices is a JSON array string of 6"
cluster devices --format rook --namespace "" | jq -e '.items[0].metadata | has("namespace") | not' >/dev/null ||
        fail "--namespace \"\" leaves the namespace out"

dev() { jq -c --arg n "$1" 'map(select(.name == $n))[0]' "$WORK/devices.json"; }
field() { jq -r --arg n "$1" "map(select(.name == \$n))[0].$2" "$WORK/devices.json"; }
expect() { # expect KNAME FIELD VALUE
        local got
        got=$(field "$1" "$2")
        [ "$got" = "$3" ] || fail "$1 .$2: expected '$3', got '$got'"
}
udev_prop() { udevadm info --query=property --name "$1" | sed -n "s/^$2=//p"; }
sorted_words() { tr ' ' '\n' | grep -v '^$' | sort | tr '\n' ' '; }

# Every device: the fields that come straight from the kernel and udev.
for n in loop${P}0 loop${P}1 loop${P}2 loop${P}3 loop${P}4 loop${P}4p1; do
        expect "$n" size "$(blockdev --getsize64 /dev/$n)"
        expect "$n" rotational "$([ "$(cat /sys/class/block/$n/queue/rotational 2>/dev/null ||
                cat /sys/class/block/${n%p*}/queue/rotational)" = 1 ] && echo true || echo false)"
        expect "$n" readOnly "$([ "$(cat /sys/class/block/$n/ro)" = 1 ] && echo true || echo false)"
        expect "$n" '"real-path"' "/dev/$n"
        expect "$n" '"kernel-name"' "$n"
        expect "$n" serial "$(udev_prop /dev/$n ID_SERIAL)"
        expect "$n" filesystem "$(udev_prop /dev/$n ID_FS_TYPE)"
        [ "$(field "$n" devLinks | sorted_words)" = "$(udev_prop /dev/$n DEVLINKS | sorted_words)" ] ||
                fail "$n devLinks '$(field "$n" devLinks)' are udev's DEVLINKS '$(udev_prop /dev/$n DEVLINKS)'"
        jq -e --arg n "$n" 'map(select(.name == $n))[0] | keys_unsorted[0:11] ==
                ["name","parent","hasChildren","devLinks","size","uuid","serial","type","rotational","readOnly","Partitions"]' \
                "$WORK/devices.json" >/dev/null || fail "$n: keys in Rook's struct order: $(dev "$n" | jq -c keys_unsorted)"
done
pass "size, rotational, readOnly, real-path, kernel-name, serial, filesystem and devLinks match the kernel and udev"

# The clean disk: empty, nothing on it.
expect loop${P}0 type loop
expect loop${P}0 empty true
expect loop${P}0 hasChildren false
expect loop${P}0 Partitions null
expect loop${P}0 uuid ""
expect loop${P}0 parent ""
expect loop${P}0 mountpoint ""
expect loop${P}1 readOnly true
# ext4, mounted: Rook keeps the last component of the mount point.
expect loop${P}2 filesystem ext4
expect loop${P}2 mountpoint "data-${P}"
expect loop${P}2 empty false
# An empty GPT: the disk GUID that sgdisk prints, in lower case as Rook stores it.
guid() { sgdisk --print "$1" | sed -n 's/^Disk identifier (GUID): //p' | tr 'A-Z' 'a-z'; }
expect loop${P}3 uuid "$(guid /dev/loop${P}3)"
[ -n "$(field loop${P}3 uuid)" ] || fail "the empty GPT disk has a uuid"
expect loop${P}3 empty true
expect loop${P}3 Partitions null
# A GPT with a named ext4 partition: the disk lists it, the partition names its parent.
expect loop${P}4 uuid "$(guid /dev/loop${P}4)"
expect loop${P}4 hasChildren true
expect loop${P}4 empty false
expect loop${P}4 'Partitions | length' 1
expect loop${P}4 'Partitions[0].Name' "loop${P}4p1"
expect loop${P}4 'Partitions[0].Size' "$(blockdev --getsize64 /dev/loop${P}4p1)"
expect loop${P}4 'Partitions[0].Label' castle-data
expect loop${P}4 'Partitions[0].Filesystem' ext4
expect loop${P}4p1 type part
expect loop${P}4p1 parent "loop${P}4"
expect loop${P}4p1 uuid ""
pass "type, empty, Partitions, uuid, parent and mountpoint are what rook-discover would write"

# cephVolumeData: the string of what Rook keeps from ceph-volume inventory.
cv=$(field loop${P}0 cephVolumeData)
jq -e --arg p /dev/loop${P}0 --argjson size "$(blockdev --getsize64 /dev/loop${P}0)" '
        (keys_unsorted == ["path","available","rejected_reasons","sys_api","lvs"]) and .path == $p
        and .available == true and .sys_api.size == $size and .sys_api.devname == ($p | ltrimstr("/dev/"))' \
        <<<"$cv" >/dev/null || fail "cephVolumeData of loop${P}0: $cv"
jq -e '.available == false and (.rejected_reasons | index("Has a FileSystem") != null)' \
        <<<"$(field loop${P}2 cephVolumeData)" >/dev/null || fail "cephVolumeData of loop${P}2: $(field loop${P}2 cephVolumeData)"
pass "cephVolumeData carries castle's verdict in ceph-volume's layout"

# --node selects one node's map; an unknown node is an error.
[ "$(cluster devices --format rook --node "$(cluster nodes --format json | jq -r '.[0].node_id')" | jq '.items | length')" = 1 ] ||
        fail "--node keeps that node's map"
cluster devices --format rook --node no-such-node >/dev/null 2>&1 && fail "--node with an unknown node fails"
cluster nodes --format rook >/dev/null 2>&1 && fail "--format rook is refused for nodes"
grep -q "local-device-<node>" <<<"$(cluster --help)" || fail "--help describes --format rook"
pass "--node, refusals and --help"

jq -r ".items[0].data.devices" "$WORK/rook.json" | jq -c "map(select(.name == \"loop${P}4\"))[0] | del(.cephVolumeData)"
[ "$FAILED" -eq 0 ] && echo "test-rook-format: all checks passed"
