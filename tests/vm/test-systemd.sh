#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# castle's systemd units under the real thing: one guest booted with systemd as PID 1
# (tests/vm/run --init systemd) installs the built units, the daemons at the paths their
# ExecStart= names, the sysusers.d/tmpfiles.d snippets, keys and configuration as
# docs/operations.md says; `systemd-analyze verify` passes on them; `systemctl start` reaches
# active/running for both (Type=notify: READY=1 arrived), their watchdog pings arrive and
# nothing restarts; `castlectl cluster devices` lists the guest's two virtio disks; and
# `systemctl stop` ends both with result success and exit status 0 after their stop lines.
VM_TIMEOUT=${VM_TIMEOUT:-600} # one systemd boot under software emulation
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd (package systemd, scripts/install-deps)"
require_built "$CASTLECTL" "$BUILD/castlectl-net" "$BUILD/castle-agent" "$BUILD/castle-coordinator"
for u in castle-agent castle-coordinator castle-osd-activate; do
        [ -f "$BUILD/systemd/$u.service" ] || skip "$BUILD/systemd/$u.service is not built (make builds it)"
done
setup_work

# serial|size: the disks the guest gets (virtio-blk); castle must list both.
DISKS=("SYSD1|6G" "SYSD2|2G")
disk_args=()
for d in "${DISKS[@]}"; do disk_args+=(--disk "bus=virtio,serial=${d%|*},size=${d#*|}"); done
WATCH=15 # seconds over which no restart may happen and watchdog pings must arrive

{
        printf 'WATCH=%q\n' "$WATCH"
        cat <<'EOF'
# Facts for the host to judge: fact NAME COMMAND... keeps stdout, stderr and the status.
fact() {
        local name=$1
        shift
        "$@" >"$WORK/$name" 2>"$WORK/$name.err"
        echo $? >"$WORK/$name.rc"
}
show() { systemctl show -p ActiveState,SubState,Result,StatusText,NRestarts,MainPID,WatchdogUSec,WatchdogTimestampMonotonic,ExecMainCode,ExecMainStatus "$@"; }
step() { echo "$(date +%T) $*"; }

readlink -f /proc/1/exe >"$WORK/pid1"
systemd-detect-virt >"$WORK/virt" 2>&1
# This script rewrites /etc/castle and /etc/systemd/system: only in the overlay of a systemd guest.
if [ "${CASTLE_VM_INIT:-}" != systemd ] || [ "$(cat "$WORK/pid1")" != "$(readlink -f /lib/systemd/systemd)" ]; then
        echo "not in a tests/vm/run --init systemd guest; refusing to install anything" >&2
        exit 1
fi

step "install the units, the programs at their ExecStart= paths, the man pages, the snippets"
for u in castle-agent castle-coordinator castle-osd-activate; do
        install -m 0644 "$BUILD/systemd/$u.service" /etc/systemd/system/ || exit 1
        exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$BUILD/systemd/$u.service")
        install -D -m 0755 "$BUILD/$(basename "$exe")" "$exe" || exit 1
        echo "$u $exe" >>"$WORK/installed"
done
# castlectl cluster runs castlectl-net next to castlectl.
install -m 0755 "$BUILD/castlectl-net" "$(dirname "$exe")/" || exit 1
for m in "$TOP"/man/*.[58]; do install -D -m 0644 "$m" "/usr/local/share/man/man${m##*.}/${m##*/}" || exit 1; done
install -D -m 0644 "$TOP/systemd/sysusers.d/castle.conf" /etc/sysusers.d/castle.conf || exit 1
install -D -m 0644 "$TOP/systemd/tmpfiles.d/castle.conf" /etc/tmpfiles.d/castle.conf || exit 1
fact sysusers systemd-sysusers /etc/sysusers.d/castle.conf
fact tmpfiles systemd-tmpfiles --create /etc/tmpfiles.d/castle.conf
fact castle-user getent passwd castle
stat -c '%n %U %G %a' /var/lib/castle /var/lib/castle/prepare >"$WORK/state-dirs" 2>&1

step "keys and configuration (docs/operations.md)"
rm -rf /etc/castle
install -d -m 0755 /etc/castle/keys /etc/castle/agents.d /etc/castle/clients.d
for k in coordinator agent castlectl; do "$CASTLECTL" keygen --dir /etc/castle/keys "$k" >/dev/null || exit 1; done
chown castle:castle /etc/castle/keys/coordinator.key_secret
cp /etc/castle/keys/agent.key "/etc/castle/agents.d/$(hostname).key"
cp /etc/castle/keys/castlectl.key /etc/castle/clients.d/
cat >/etc/castle/coordinator.conf <<'CONF'
[coordinator]
agent-endpoint = tcp://127.0.0.1:7100
query-endpoint = tcp://127.0.0.1:7101
CONF
cat >/etc/castle/agent.conf <<'CONF'
[agent]
coordinator = tcp://127.0.0.1:7100
CONF
cat /etc/machine-id >"$WORK/machine-id"
lsblk -J -d -b -o NAME,SERIAL,SIZE >"$WORK/lsblk.json"

systemctl daemon-reload
step "systemd-analyze verify"
fact verify systemd-analyze verify /etc/systemd/system/castle-agent.service \
        /etc/systemd/system/castle-coordinator.service /etc/systemd/system/castle-osd-activate.service

step "systemctl start castle-coordinator castle-agent"
start=$SECONDS
fact start systemctl start castle-coordinator.service castle-agent.service
echo $((SECONDS - start)) >"$WORK/start.seconds"
for u in agent coordinator; do show "castle-$u.service" >"$WORK/show.$u.started"; done
pid=$(systemctl show -p MainPID --value castle-coordinator.service)
stat -c %U "/proc/$pid" >"$WORK/coordinator.user" 2>&1

step "castlectl cluster devices"
cluster() {
        "$CASTLECTL" cluster --coordinator tcp://127.0.0.1:7101 --server-key /etc/castle/keys/coordinator.key \
                --key /etc/castle/keys/castlectl.key "$@"
}
# Until both disks are there, at most 2 min, and only while both daemons run.
deadline=$((SECONDS + 120))
while :; do
        cluster devices --format json --timeout 10 >"$WORK/devices.json" 2>"$WORK/devices.err"
        echo $? >"$WORK/devices.rc"
        [ "$(jq '[.[] | select(.device.serial == "SYSD1" or .device.serial == "SYSD2")] | length' "$WORK/devices.json" 2>/dev/null)" = 2 ] && break
        [ "$SECONDS" -lt "$deadline" ] && systemctl -q is-active castle-agent.service &&
                systemctl -q is-active castle-coordinator.service || break
        sleep 1
done
fact nodes cluster nodes --format json
stat -c '%U %a' /var/lib/castle/coordinator/coordinator.db >"$WORK/db" 2>&1

step "watch for $WATCH s: watchdog pings, no restart"
sleep "$WATCH"
for u in agent coordinator; do show "castle-$u.service" >"$WORK/show.$u.later"; done

step "systemctl stop castle-agent castle-coordinator"
# A stopped unit that nothing references is unloaded at once, so `systemctl show` cannot tell
# afterwards how its process ended; systemd logs that ("Main process exited, code=...") only
# at debug level when it is a success.
systemd-analyze log-level debug
start=$SECONDS
fact stop systemctl stop castle-agent.service castle-coordinator.service
echo $((SECONDS - start)) >"$WORK/stop.seconds"
systemd-analyze log-level info
for u in agent coordinator; do
        show "castle-$u.service" >"$WORK/show.$u.stopped"
        journalctl -b --no-pager -o cat -u "castle-$u.service" >"$WORK/journal.$u"
done
systemctl status --no-pager castle-agent.service castle-coordinator.service >"$WORK/status" 2>&1
exit 0
EOF
} | guest_script systemd.sh

rc=0
vm_run --init systemd "${disk_args[@]}" -- bash "$WORK/systemd.sh" || rc=$?
[ "$rc" = 0 ] || { fail "tests/vm/run --init systemd exited $rc"; exit 1; }

prop() { sed -n "s/^$2=//p" "$WORK/show.$1"; } # prop FILE-SUFFIX NAME
check() { # check WHAT COMMAND...: pass/fail on the command's status
        local what=$1
        shift
        if "$@"; then pass "$what"; else fail "$what"; fi
}

# --- systemd is PID 1 in a real VM (not a container guess)
pid1=$(cat "$WORK/pid1")
[ "$pid1" = "$(readlink -f /lib/systemd/systemd)" ] && pass "PID 1 in the guest is $pid1" || fail "PID 1 is '$pid1'"
[ "$(cat "$WORK/virt")" = qemu ] && pass "systemd-detect-virt: qemu" || fail "systemd-detect-virt says '$(cat "$WORK/virt")', not qemu"

# --- installation: snippets, verify
[ "$(cat "$WORK/sysusers.rc")" = 0 ] && [ "$(cut -d: -f1 "$WORK/castle-user")" = castle ] &&
        pass "systemd-sysusers made the user castle ($(cut -d: -f6 "$WORK/castle-user"))" ||
        fail "systemd-sysusers: exit $(cat "$WORK/sysusers.rc"), $(cat "$WORK/sysusers.err") user: $(cat "$WORK/castle-user")"
want_dirs=$'/var/lib/castle root root 755\n/var/lib/castle/prepare root root 700'
[ "$(cat "$WORK/tmpfiles.rc")" = 0 ] && [ "$(cat "$WORK/state-dirs")" = "$want_dirs" ] &&
        pass "systemd-tmpfiles made /var/lib/castle (root 0755) and prepare/ (root 0700)" ||
        fail "systemd-tmpfiles: exit $(cat "$WORK/tmpfiles.rc"), $(cat "$WORK/tmpfiles.err") dirs: $(cat "$WORK/state-dirs")"
if [ "$(cat "$WORK/verify.rc")" = 0 ] && [ ! -s "$WORK/verify" ] && [ ! -s "$WORK/verify.err" ]; then
        pass "systemd-analyze verify of the installed units: clean"
else
        fail "systemd-analyze verify: exit $(cat "$WORK/verify.rc"): $(cat "$WORK/verify" "$WORK/verify.err")"
fi

# --- start: Type=notify, so active/running means READY=1 arrived
[ "$(cat "$WORK/start.rc")" = 0 ] && pass "systemctl start took $(cat "$WORK/start.seconds") s" ||
        fail "systemctl start exited $(cat "$WORK/start.rc"): $(cat "$WORK/start.err")"
declare -A READY_STATUS=([agent]="Following block devices" [coordinator]="Serving the inventory")
for u in agent coordinator; do
        s="$(prop "$u.started" ActiveState)/$(prop "$u.started" SubState)"
        t=$(prop "$u.started" StatusText)
        if [ "$s" = active/running ] && [ "$t" = "${READY_STATUS[$u]}" ]; then
                pass "castle-$u.service is active/running with status '$t' (READY=1 and STATUS= arrived)"
        else
                fail "castle-$u.service after start: $s, status '$t' (want active/running, '${READY_STATUS[$u]}')"
        fi
        w=$(prop "$u.started" WatchdogUSec)
        [ "$w" = 30s ] && pass "castle-$u.service: WatchdogUSec=$w" || fail "castle-$u.service: WatchdogUSec='$w' (want 30s)"
        # Over $WATCH s: same main process, no restart, and the watchdog timestamp moved (systemd
        # sets it on every WATCHDOG=1 it receives).
        p1=$(prop "$u.started" MainPID) p2=$(prop "$u.later" MainPID)
        n=$(prop "$u.later" NRestarts)
        t1=$(prop "$u.started" WatchdogTimestampMonotonic) t2=$(prop "$u.later" WatchdogTimestampMonotonic)
        s2="$(prop "$u.later" ActiveState)/$(prop "$u.later" SubState)"
        if [ "$s2" = active/running ] && [ "$p1" = "$p2" ] && [ "$p1" != 0 ] && [ "$n" = 0 ] &&
                [ "${t1:-0}" -gt 0 ] && [ "${t2:-0}" -gt "${t1:-0}" ]; then
                pass "castle-$u.service: $WATCH s later still pid $p2, NRestarts=0, WatchdogTimestamp (last WATCHDOG=1) $(((t2 - t1) / 1000)) ms later"
        else
                fail "castle-$u.service over $WATCH s: $s2, pid $p1 -> $p2, NRestarts=$n, watchdog timestamps $t1 -> $t2"
        fi
done
[ "$(cat "$WORK/coordinator.user")" = castle ] && pass "castle-coordinator runs as castle" ||
        fail "castle-coordinator runs as '$(cat "$WORK/coordinator.user")'"
[ "$(cat "$WORK/db")" = "castle 600" ] && pass "its database is castle's, mode 0600 (StateDirectory=, UMask=)" ||
        fail "coordinator.db: $(cat "$WORK/db") (want castle 600)"

# --- castlectl cluster devices: the guest's disks, checked against lsblk and the disk specs
node=$(cat "$WORK/machine-id")
if [ "$(cat "$WORK/devices.rc")" = 0 ]; then
        pass "castlectl cluster devices answers"
else
        fail "castlectl cluster devices exited $(cat "$WORK/devices.rc"): $(cat "$WORK/devices.err")"
fi
for d in "${DISKS[@]}"; do
        serial=${d%|*} size=$(numfmt --from=iec "${d#*|}")
        k=$(jq -r --arg s "$serial" '[.blockdevices[] | select(.serial == $s) | .name] | if length == 1 then .[0] else "?" end' "$WORK/lsblk.json")
        got=$(jq -c --arg s "$serial" '[.[] | select(.device.serial == $s) | {node_id, kname: .device.kname, size: .device.size}]' "$WORK/devices.json" 2>/dev/null)
        want=$(jq -cn --arg n "$node" --arg k "$k" --argjson z "$size" '[{node_id: $n, kname: $k, size: $z}]')
        [ "$got" = "$want" ] && pass "cluster devices lists $serial: /dev/$k, $size bytes, node $node" ||
                fail "cluster devices for $serial: $got (want $want)"
done
# (Not jq -e: jq 1.6 exits 0 on empty input.)
online=$(jq --arg n "$node" 'map(select(.node_id == $n and .state == "online")) | length' "$WORK/nodes" 2>/dev/null)
[ "$(cat "$WORK/nodes.rc")" = 0 ] && [ "$online" = 1 ] && pass "castlectl cluster nodes: the guest's node is online" ||
        fail "cluster nodes: exit $(cat "$WORK/nodes.rc"), $(cat "$WORK/nodes" "$WORK/nodes.err")"

# --- stop: not failed, and the daemon exited 0 itself after its stop line (systemd would
# call a death by SIGTERM a success too: only code=exited, status=0 says it ended cleanly)
[ "$(cat "$WORK/stop.rc")" = 0 ] && pass "systemctl stop took $(cat "$WORK/stop.seconds") s" ||
        fail "systemctl stop exited $(cat "$WORK/stop.rc"): $(cat "$WORK/stop.err")"
for u in agent coordinator; do
        # A failed unit stays loaded as failed; a clean stop leaves it inactive/dead.
        got="$(prop "$u.stopped" ActiveState)/$(prop "$u.stopped" SubState)"
        [ "$got" = inactive/dead ] && pass "castle-$u.service after stop: $got (not failed)" ||
                fail "castle-$u.service after stop: $got (want inactive/dead)"
        j=$WORK/journal.$u
        if grep -q "^castle-$u: Signal 15: stopping\.$" "$j" &&
                grep -Eq "^castle-$u\.service: Main process exited, code=exited, status=0/SUCCESS( \(success\))?$" "$j" &&
                grep -q "^castle-$u.service: Deactivated successfully\.$" "$j"; then
                pass "journalctl -u castle-$u: 'Signal 15: stopping.', 'Main process exited, code=exited, status=0/SUCCESS', 'Deactivated successfully.'"
        else
                fail "journalctl -u castle-$u lacks the clean stop (stop line, exit status 0, success): $(tail -n 8 "$j")"
        fi
        if grep -Eq 'Watchdog timeout|Failed with result|Main process exited, code=(killed|dumped)|Scheduled restart' "$j"; then
                fail "journalctl -u castle-$u: $(grep -E 'Watchdog timeout|Failed with result|Main process exited, code=(killed|dumped)|Scheduled restart' "$j")"
        fi
done

if [ "$FAILED" -gt 0 ]; then
        echo "--- systemctl status in the guest:"
        cat "$WORK/status"
        for u in agent coordinator; do echo "--- journalctl -u castle-$u:"; cat "$WORK/journal.$u"; done
        exit 1
fi
echo "PASS: castle's units under systemd as PID 1: verify, start (READY=1), watchdog, cluster devices, clean stop"
