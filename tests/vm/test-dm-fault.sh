#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Device-mapper fault targets in one guest: a device whose first MiB is dm-error and one behind
# dm-delay (every I/O held for minutes, like a dying disk). castlectl inventory must come back
# within its probe deadline and call the delayed device "Could not be probed"; an agent and a
# coordinator in the guest must keep exchanging heartbeats while that device hangs.
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq dmsetup
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
require_built "$CASTLECTL" "$AGENT" "$COORD"
setup_work

# The guest writes facts to $WORK; the host judges them below. Every wait in the guest is
# bounded so that a hang shows up as a finding, not as the boot's timeout.
guest_script dm-fault.sh <<'EOF'
fact() { printf '%s\n' "$2" >"$WORK/$1"; }
err=$(readlink -f /dev/disk/by-id/virtio-VERR)
dly=$(readlink -f /dev/disk/by-id/virtio-VDLY)
[ -b "$err" ] && [ -b "$dly" ] || { echo "guest: the virtio disks VERR/VDLY are missing" >&2; exit 1; }
modprobe dm_delay || exit 1
sectors=$(blockdev --getsz "$dly")

# Coordinator and agent first, so that heartbeats already flow when the device starts to hang.
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for n in coordinator agent client; do "$CASTLECTL" keygen --dir "$K" "$n" >/dev/null || exit 1; done
cp "$K/agent.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"
AEP=tcp://127.0.0.1:7101 QEP=tcp://127.0.0.1:7102
"$BUILD/castle-coordinator" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" \
        --key "$K/coordinator.key" --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" \
        --database /run/coordinator.db --stale-after 3s --offline-after 60s >"$WORK/coordinator.log" 2>&1 &
"$BUILD/castle-agent" --config /dev/null --verbose --node-id vm-node --coordinator "$AEP" --key "$K/agent.key" \
        --coordinator-key "$K/coordinator.key" --all --heartbeat-interval 1s --probe-timeout 2s \
        >"$WORK/agent.log" 2>&1 &
cluster() { timeout 20 "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
for i in $(seq 150); do
        [ "$(cluster nodes --format json 2>/dev/null | jq -r '.[0].state // empty')" = online ] && break
        sleep 0.2
done
cluster nodes --format json >"$WORK/nodes.before.json"

# dm-error over the first MiB of VERR (where every signature probe reads), linear after it.
printf '0 2048 error\n2048 %s linear %s 2048\n' "$(($(blockdev --getsz "$err") - 2048))" "$err" |
        dmsetup create castle-err || exit 1
# dm-delay, twice. castle-delay goes bad after it was healthy: made with no delay (udev
# processes it and makes its /dev/mapper link), then reloaded so that every I/O waits 10
# minutes, like a disk that starts to hang. castle-delay-new hangs from birth: udev's own blkid
# on it hangs too, so nobody waits for udev there (--noudevsync) and its link never appears.
half=$((sectors / 2))
dmsetup create castle-delay --table "0 $half delay $dly 0 0" || exit 1
udevadm settle --timeout=30
dmsetup suspend castle-delay || exit 1
dmsetup reload castle-delay --table "0 $half delay $dly 0 600000" || exit 1
dmsetup resume --noudevsync castle-delay || exit 1
dmsetup create castle-delay-new --noudevsync --table "0 $((sectors - half)) delay $dly $half 600000" || exit 1
for d in /sys/block/dm-*; do fact "dm-$(cat "$d/dm/name")" "${d##*/}"; done
sleep 3 # the agent's scan of the new dm devices runs into the delay meanwhile

# castlectl with a 2 s probe deadline: when its output is complete, and when the process is
# gone (20 s at most; the devices hang for 10 minutes).
start=$(date +%s%N)
"$CASTLECTL" inventory --probe-timeout 2 --all --format json >"$WORK/inv.json" 2>"$WORK/inv.err" &
ctl=$!
for i in $(seq 200); do
        [ -e "$WORK/inv.output-ms" ] || ! jq -e . "$WORK/inv.json" >/dev/null 2>&1 ||
                fact inv.output-ms "$((($(date +%s%N) - start) / 1000000))"
        kill -0 $ctl 2>/dev/null || break
        sleep 0.1
done
if kill -0 $ctl 2>/dev/null; then
        fact inv.exit "still running after 20 s"
        for t in /proc/$ctl/task/*; do echo "${t##*/} $(cat "$t/stat" | awk '{print $3}') $(cat "$t/wchan")"; done >"$WORK/inv.tasks"
        cat /proc/$ctl/task/*/stack >>"$WORK/inv.tasks" 2>/dev/null
        kill -9 $ctl
else
        wait $ctl
        fact inv.exit "exit status $? after $((($(date +%s%N) - start) / 1000000)) ms"
fi

# Heartbeats while the device hangs: last-seen must advance over a few seconds.
cluster nodes --format json >"$WORK/nodes.1.json"
sleep 5
cluster nodes --format json >"$WORK/nodes.2.json"
cluster devices --format json >"$WORK/devices.json"
dmsetup status >"$WORK/dmsetup.status" 2>&1
ps -eo pid,stat,wchan:30,cmd | awk '$2 ~ /D/' >"$WORK/dstate" 2>&1
exit 0
EOF

rc=0
vm_run --disk bus=virtio,size=1G,serial=VERR --disk bus=virtio,size=1G,serial=VDLY -- bash "$WORK/dm-fault.sh" || rc=$?
[ "$rc" = 0 ] || { fail "tests/vm/run exited $rc"; exit 1; }

err_k=$(cat "$WORK/dm-castle-err" 2>/dev/null || true)
dly_k=$(cat "$WORK/dm-castle-delay" 2>/dev/null || true)
new_k=$(cat "$WORK/dm-castle-delay-new" 2>/dev/null || true)
[ -n "$err_k" ] && [ -n "$dly_k" ] && [ -n "$new_k" ] || { fail "the guest did not create the three dm devices"; exit 1; }
echo "castle-err is /dev/$err_k, castle-delay /dev/$dly_k, castle-delay-new /dev/$new_k; D-state processes in the guest:"
cat "$WORK/dstate"

if [ -s "$WORK/inv.output-ms" ]; then
        pass "castlectl inventory --probe-timeout 2 printed its full report after $(cat "$WORK/inv.output-ms") ms with devices hanging"
else
        fail "castlectl inventory --probe-timeout 2 printed no complete report within 20 s: $(head -c 500 "$WORK/inv.err")"
fi
case $(cat "$WORK/inv.exit") in
"exit status 0 "* | "exit status 1 "*) pass "castlectl inventory returned: $(cat "$WORK/inv.exit")" ;;
*) fail "castlectl inventory did not return: $(cat "$WORK/inv.exit"); its threads (tid state wchan, kernel stacks):
$(cat "$WORK/inv.tasks" 2>/dev/null)" ;;
esac

dev() { jq -c --arg k "$1" '[.devices[] | select(.kname == $k)] | if length == 1 then .[0] else null end' "$WORK/inv.json" 2>/dev/null || echo null; }
# Both delayed devices: "Could not be probed" because the 2 s deadline passed (not for some
# other reason found before the device was even read).
for k in "$dly_k" "$new_k"; do
        d=$(dev "$k")
        if [ "$d" = null ]; then
                fail "inventory --all does not list the delayed device $k"
        elif jq -e '(.reasons | map(.code) | index("probe_failed")) and (.probe_error | test("no answer within 2.0 s"))' <<<"$d" >/dev/null; then
                pass "delayed device $k ($(jq -r .path <<<"$d")): could not be probed, $(jq -r '.probe_error' <<<"$d")"
        else
                fail "delayed device $k: expected probe_failed after the 2 s deadline, got $(jq -c '{path, reasons: [.reasons[].code], probe_error}' <<<"$d")"
        fi
        jq -e '.reasons | map(.message) | index("Could not be probed")' <<<"$d" >/dev/null ||
                fail "$k: no 'Could not be probed' among $(jq -c '[.reasons[].message]' <<<"$d")"
done

d=$(dev "$err_k")
if [ "$d" = null ]; then
        fail "inventory --all does not list the dm-error device $err_k"
elif jq -e '(.available | not) and (.reasons | length > 0)' <<<"$d" >/dev/null; then
        pass "the dm-error device is not available: $(jq -c '[.reasons[].code]' <<<"$d") ($(jq -r '.probe_error' <<<"$d"))"
else
        fail "the dm-error device: $(jq -c '{reasons, probe_error, available}' <<<"$d")"
fi

# Heartbeats: the node stays online and its last-seen time moves on.
seen() { jq -r '[.[] | select(.node_id == "vm-node")][0] | "\(.state) \(.last_seen_usec)"' "$1" 2>/dev/null; }
read -r s1 t1 <<<"$(seen "$WORK/nodes.1.json")"
read -r s2 t2 <<<"$(seen "$WORK/nodes.2.json")"
if [ "$s1" = online ] && [ "$s2" = online ] && [ "${t2:-0}" -gt "${t1:-0}" ] 2>/dev/null; then
        pass "the agent's heartbeats kept coming while the device hung (last seen advanced $(((t2 - t1) / 1000)) ms in 5 s)"
else
        fail "heartbeats while the device hangs: before '$s1 $t1', 5 s later '$s2 $t2' ($(cat "$WORK/nodes.2.json"))"
fi
# What the agent reported to the coordinator about the delayed device.
if jq -e --arg k "$dly_k" 'map(select(.device.kname == $k)) | length == 1' "$WORK/devices.json" >/dev/null 2>&1; then
        echo "coordinator's record of $dly_k: $(jq -c --arg k "$dly_k" 'map(select(.device.kname == $k))[0].device | {reasons, probe_error}' "$WORK/devices.json")"
fi
[ "$FAILED" = 0 ] || { echo "--- agent.log"; tail -30 "$WORK/agent.log"; echo "--- inv.err"; cat "$WORK/inv.err"; }
exit 0
