#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The daemons under their systemd units' restrictions, without systemd as init (the VM tier
# boots the real thing): castle-agent with exactly the capability bounding set of the built
# castle-agent.service and no_new_privs scans the same devices with the same verdicts as
# full root, still tells that it shares udevd's network namespace (CAP_SYS_PTRACE, with a
# negative control without it), and reports to a castle-coordinator that runs as an
# unprivileged user with no capabilities at all. Both speak the sd_notify protocol to a
# socket of ours: READY=1, WATCHDOG=1 at least every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM,
# then exit 0.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq mkfs.ext4 python3 setpriv
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
UNIT=$BUILD/systemd/castle-agent.service
for b in "$CASTLECTL" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
[ -f "$UNIT" ] || skip "$UNIT is not built (make builds it)"
id nobody >/dev/null 2>&1 || skip "no user nobody to run the coordinator as"
ensure_udevd
setup_work
chmod 0755 "$WORK" # the coordinator runs as nobody

# The unit's bounding set, as setpriv's list: CAP_SYS_ADMIN -> +sys_admin.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' | grep . |
        sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd, -)
[ -n "$caps" ] || { fail "no CapabilityBoundingSet= in $UNIT"; exit 1; }
grep -q '^NoNewPrivileges=yes' "$UNIT" || fail "$UNIT does not set NoNewPrivileges=yes"
pass "castle-agent.service keeps: $caps"
AS_UNIT=(setpriv --no-new-privs --bounding-set="-all,$caps" --inh-caps=-all --)
WITHOUT_PTRACE=(setpriv --no-new-privs --bounding-set="-all,${caps/,+sys_ptrace/}" --inh-caps=-all --)
AS_NOBODY=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups --no-new-privs
        --bounding-set=-all --inh-caps=-all --)

BASE=$(free_loop_base 4) || skip "no block of 4 free loop device numbers between 200 and 999"
attach_at "$BASE" "$(new_image clean 10G)"
attach_at $((BASE + 1)) "$(new_image ext4 10G)"
mkfs.ext4 -q -F "/dev/loop$((BASE + 1))"
attach_at $((BASE + 2)) "$(new_image small 2G)"
udevadm settle
devs=(/dev/loop"$BASE" /dev/loop$((BASE + 1)) /dev/loop$((BASE + 2)))
filter="^loop($BASE|$((BASE + 1))|$((BASE + 2)))\$"

# --- the scan under the unit's capabilities equals the scan as full root
"$CASTLECTL" inventory --allow-loop --format json "${devs[@]}" | jq -S .devices >"$WORK/root.json"
"${AS_UNIT[@]}" "$CASTLECTL" inventory --allow-loop --format json "${devs[@]}" | jq -S .devices >"$WORK/unit.json"
[ "$(jq length "$WORK/root.json")" = 3 ] || fail "inventory as root lists $(jq length "$WORK/root.json") of 3 devices"
if cmp -s "$WORK/root.json" "$WORK/unit.json"; then
        pass "inventory with the unit's capabilities equals the inventory as root ($(jq -c 'map(.available)' "$WORK/root.json"))"
else
        fail "inventory differs under the unit's capabilities: $(diff "$WORK/root.json" "$WORK/unit.json" | head -20)"
fi

# --- an sd_notify socket that records who sent what, and when
python3 - "$WORK/notify.sock" "$WORK/notify.log" <<'PY' &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        for line in msg.decode(errors="replace").split("\n"):
            log.write("%.3f %d %s\n" % (time.monotonic(), pid, line))
PY
PIDS+=("$!")
wait_for "the notify socket is there" test -S "$WORK/notify.sock"
: >>"$WORK/notify.log"

got() { grep -q "^[0-9.]* $1 $2\$" "$WORK/notify.log"; }
count() { grep -c "^[0-9.]* $1 $2\$" "$WORK/notify.log"; }
# watchdog_gap PID: the longest time between two WATCHDOG=1 of PID, in ms
watchdog_gap() {
        awk -v p="$1" '$2 == p && $3 == "WATCHDOG=1" { if (t) { g = ($1 - t) * 1000; if (g > m) m = g } t = $1 }
                END { printf "%d\n", m }' "$WORK/notify.log"
}
# start_notified LOG PROGRAM...: runs PROGRAM with NOTIFY_SOCKET and a 2 s watchdog for its
# own pid (the shell execs into it, so $$ is the daemon's pid); sets STARTED.
start_notified() {
        local log=$1
        shift
        NOTIFY_SOCKET=$WORK/notify.sock WATCHDOG_USEC=2000000 \
                bash -c 'export WATCHDOG_PID=$$; exec "$@"' notified "$@" >>"$WORK/$log" 2>&1 &
        STARTED=$!
        PIDS+=("$STARTED")
}

port=$((20000 + RANDOM % 20000))
AEP=tcp://127.0.0.1:$port
QEP=tcp://127.0.0.1:$((port + 1))
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d" "$WORK/state"
for name in coordinator agent client; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null; done
cp "$K/agent.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"
chown nobody "$K/coordinator.key_secret" "$WORK/state" # as the unit's User= would own them

# --- the coordinator as nobody, no capabilities
start_notified coordinator.log "${AS_NOBODY[@]}" "$COORD" --config /dev/null --agent-endpoint "$AEP" \
        --query-endpoint "$QEP" --key "$K/coordinator.key" --agent-keys "$WORK/agents.d" \
        --query-keys "$WORK/clients.d" --database "$WORK/state/coordinator.db"
CPID=$STARTED
wait_for "castle-coordinator (as nobody) sends READY=1" got "$CPID" READY=1
sleep 3.5
n=$(count "$CPID" WATCHDOG=1)
gap=$(watchdog_gap "$CPID")
if [ "$n" -ge 2 ] && [ "$gap" -le 1500 ]; then
        pass "castle-coordinator sends WATCHDOG=1 ($n in 3.5 s, at most $gap ms apart; the watchdog is 2 s)"
else
        fail "castle-coordinator: $n WATCHDOG=1 in 3.5 s, longest gap $gap ms (want >= 2, <= 1500 ms: inside the 2 s watchdog)"
fi
[ "$(stat -c %U "$WORK/state/coordinator.db")" = nobody ] || fail "the database is not the coordinator user's"

cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }
has_devices() { [ "$(cluster devices --format json | jq --arg n "$1" 'map(select(.node_id == $n)) | length')" = 3 ]; }

# --- the agent with the unit's capabilities
start_notified agent.log "${AS_UNIT[@]}" "$AGENT" --config /dev/null --node-id unit-node --coordinator "$AEP" \
        --key "$K/agent.key" --coordinator-key "$K/coordinator.key" --allow-loop --filter "$filter" \
        --state-dir "$WORK/state"
APID=$STARTED
wait_for "castle-agent (the unit's capabilities) sends READY=1" got "$APID" READY=1
wait_for "its devices reach the coordinator that runs as nobody" has_devices unit-node
sleep 3.5
n=$(count "$APID" WATCHDOG=1)
gap=$(watchdog_gap "$APID")
if [ "$n" -ge 2 ] && [ "$gap" -le 1500 ]; then
        pass "castle-agent sends WATCHDOG=1 ($n in 3.5 s, at most $gap ms apart; heartbeat 5 s, watchdog 2 s)"
else
        fail "castle-agent: $n WATCHDOG=1 in 3.5 s, longest gap $gap ms (want >= 2, <= 1500 ms: inside the 2 s watchdog)"
fi
if grep -q "Device events: udev netlink (this is udevd's network namespace)" "$WORK/agent.log"; then
        pass "with the unit's capabilities the agent tells that it shares udevd's network namespace"
else
        fail "the agent could not tell udevd's network namespace: $(grep 'Device events' "$WORK/agent.log")"
fi

# Negative control: the same without CAP_SYS_PTRACE cannot read udevd's namespace link.
start_notified agent-noptrace.log "${WITHOUT_PTRACE[@]}" "$AGENT" --config /dev/null --node-id noptrace-node \
        --coordinator "$AEP" --key "$K/agent.key" --coordinator-key "$K/coordinator.key" --allow-loop \
        --filter "$filter" --state-dir "$WORK/state"
NPID=$STARTED
wait_for "castle-agent without CAP_SYS_PTRACE sends READY=1" got "$NPID" READY=1
if grep -q "Device events: .*(cannot tell" "$WORK/agent-noptrace.log"; then
        pass "without CAP_SYS_PTRACE the agent cannot tell udevd's namespace (so the unit keeps it)"
else
        fail "without CAP_SYS_PTRACE: $(grep 'Device events' "$WORK/agent-noptrace.log") (expected 'cannot tell')"
fi
kill "$NPID"
wait "$NPID"

# --- SIGTERM: STOPPING=1 and exit 0
for who in agent:$APID coordinator:$CPID; do
        name=${who%%:*} pid=${who#*:}
        kill -TERM "$pid"
        wait "$pid"
        rc=$?
        if [ "$rc" -eq 0 ] && got "$pid" STOPPING=1; then
                pass "castle-$name on SIGTERM: STOPPING=1, exit 0"
        else
                fail "castle-$name on SIGTERM: exit $rc, STOPPING=1 $(got "$pid" STOPPING=1 && echo sent || echo missing)"
        fi
done

[ "$FAILED" -eq 0 ] || exit 1
echo "PASS: the daemons work under their units' restrictions and speak sd_notify"
