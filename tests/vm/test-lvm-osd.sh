#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# LVM and dm-crypt OSDs with block.db, against a real one-monitor cluster in the guest:
# `castlectl osd batch --dmcrypt --osdspec-affinity` on two rotational SCSI disks and one NVMe
# disk (the split into data and block.db is castle's, from the rotation flags); both OSDs come up, rados
# round-trips an object, `ceph-volume lvm list` shows them with their tags, a second batch
# adds nothing. Then the guest reboots with the disks attached in reverse order (kernel names
# swap), the OSD directories are gone (as with ceph-volume's tmpfs), and `castlectl osd
# activate --all` opens the LUKS volumes with the monitors' keys and brings both OSDs back
# with the same ids. Last, zap --destroy of a stopped OSD removes its LVs, VG, PV and crypt
# mappings and the disk is available again. Then `castlectl osd run ID` for each
# device-mapper kind: the encrypted OSD left and a plain LVM one (block.db on the NVMe disk)
# prepared on the freed disk, both stopped and torn down as a boot leaves them (LUKS
# closed, LVs inactive, no OSD directory). Started in the background as a supervisor
# starts it, each `osd run` must open and activate what its OSD needs and become
# its ceph-osd -f (the same pid) that comes up; a second `osd run` is refused while it runs;
# kill of that pid stops the OSD (gone, marked down). The cluster's state lives on a fourth
# disk so it survives the reboot.
VM_TIMEOUT=${VM_TIMEOUT:-900} # per boot: a cluster and two encrypted OSDs under software emulation
source "$(dirname "$0")/lib.sh"

require_vm
require_cmd jq
require_built "$CASTLECTL" "$BUILD/castlectl-osd"
command -v ceph-mon >/dev/null 2>&1 || skip "ceph-mon is not installed (scripts/install-deps)"
setup_work

guest_script lvm.sh <<'EOF'
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
FAILS=0
STATE=/var/lib/castle-vmtest
mkdir -p "$STATE"
MONDISK=/dev/disk/by-id/virtio-MONDISK
[ -e "$MONDISK" ] || { bad "no state disk"; exit 1; }
if [ "$CASTLE_VM_BOOT" = 1 ]; then mkfs.ext4 -q -F "$MONDISK"; fi
mount "$MONDISK" "$STATE" || { bad "cannot mount the state disk"; exit 1; }
CLEANUP_HOOKS=()
source "$TOP/tests/integration/ceph.sh"
OUTER_WORK=$WORK
WORK=$STATE
if [ "$CASTLE_VM_BOOT" = 1 ]; then
        ceph_start >"$OUTER_WORK/ceph-start.log" 2>&1 || { bad "the cluster did not start: $(tail -5 "$OUTER_WORK/ceph-start.log")"; exit 1; }
        declare -p CEPH_DIR CEPH_CONF_FILE CEPH_BOOTSTRAP_KEYRING CEPH_ADMIN_KEYRING CEPH_FSID >"$STATE/env"
else
        source "$STATE/env"
        ceph-mon -c "$CEPH_CONF_FILE" -i a || { bad "the monitor did not start again"; exit 1; }
        for _ in $(seq 60); do ceph_cmd -s >/dev/null 2>&1 && break; sleep 0.5; done
fi
BASE=(--conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd"
      --state-dir "$STATE/castle")
OPTS=("${BASE[@]}" --start-mode fork)
osd_count() { ceph_cmd osd ls -f json | jq length; }
# crypt_count N WHAT: exactly N dm-crypt mappings are open (the LVM mappings under them are
# device-mapper devices too: count crypt targets, not /dev/mapper entries).
crypt_count() {
        local n
        n=$(dmsetup ls --target crypt | awk '$2 ~ /^\(/ { n++ } END { print n + 0 }')
        [ "$n" = "$1" ] && ok "$1 dm-crypt mappings are open ($2)" ||
                bad "$n dm-crypt mappings are open, not $1 ($2): $(dmsetup ls --target crypt 2>&1)"
}
# lvs_active ID: how many of osd.ID's LVs are active
lvs_active() { lvs --noheadings --separator ';' -o lv_active,lv_tags 2>/dev/null | grep -c "^ *active;.*ceph.osd_id=$1,"; }
osd_pids() { pgrep -f -- "ceph-osd.*-i $1 "; }
# within SECONDS COMMAND...: COMMAND succeeds before SECONDS have passed (ceph_wait_up counts
# polls instead, and each ceph CLI start takes seconds under TCG)
within() {
        local end=$((SECONDS + $1))
        until "${@:2}"; do
                [ "$SECONDS" -lt "$end" ] || return 1
                sleep 1
        done
}
osd_up() { ceph_cmd osd dump -f json 2>/dev/null | jq -e --argjson id "$1" '.osds[] | select(.osd == $id and .up == 1)' >/dev/null; }
no_osd_pid() { ! osd_pids "$1" >/dev/null; }
# osd_diag ID: why osd.ID is not where it should be
osd_diag() {
        echo "--- osd.$1: ceph-osd $(osd_pids "$1" | xargs); $(ceph_cmd osd dump 2>&1 | grep -E "^osd\.$1 |^flags")"
        tail -30 "$CEPH_DIR/log/ceph-osd.$1.log" 2>&1 | sed 's/^/    /'
        echo "--- monitor: $(pgrep -a ceph-mon || echo not running); $(free -m | awk '/^Mem/ { print $7 " MiB available" }')"
        { grep -m1 -B20 -A40 -E "Caught signal|FAILED ceph_assert|terminate called" "$CEPH_DIR/log/ceph-mon.a.log" ||
                tail -15 "$CEPH_DIR/log/ceph-mon.a.log"; } 2>&1 | cut -c1-400 | sed 's/^/    /'
        dmesg | grep -iE 'oom|killed process|segfault' | tail -5
}
osd_down() { ceph_cmd osd dump -f json 2>/dev/null | jq -e --argjson id "$1" '.osds[] | select(.osd == $id and .up == 0)' >/dev/null; }
# deactivate ID: leaves osd.ID as a boot finds it: no ceph-osd, its LUKS mappings closed, its
# LVs inactive, no OSD directory; whoever starts it again has to do the whole activation.
deactivate() {
        local id=$1 vg lv uuid
        pkill -f -- "ceph-osd.*-i $id "
        within 120 no_osd_pid "$id"
        while IFS=';' read -r vg lv uuid; do
                if [ -e "/dev/mapper/$uuid" ]; then cryptsetup close "$uuid" || bad "cryptsetup close $uuid (osd.$id)"; fi
                LVM_SUPPRESS_FD_WARNINGS=1 lvchange -an "${vg// /}/$lv" || bad "lvchange -an ${vg// /}/$lv (osd.$id)"
        done < <(lvs --noheadings --separator ';' -o vg_name,lv_name,lv_uuid,lv_tags | grep "ceph.osd_id=$id," | cut -d';' -f1-3)
        rm -rf "$CEPH_DIR/osd/ceph-$id"
}
HDD1=/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_HDD1
by_serial() { lsblk -dn -o NAME,SERIAL | awk -v s="$1" '$2 == s { print "/dev/" $1 }'; }
H1=$(by_serial HDD1) H2=$(by_serial HDD2) NV=$(by_serial NVDB)
echo "boot $CASTLE_VM_BOOT: HDD1=$H1 HDD2=$H2 NVDB=$NV"
echo "$H1 $H2" >"$OUTER_WORK/names.$CASTLE_VM_BOOT"

if [ "$CASTLE_VM_BOOT" = 1 ]; then
        "$CASTLECTL" osd batch "${OPTS[@]}" --dmcrypt --report --format json "$H1" "$H2" "$NV" >"$OUTER_WORK/report.json" 2>&1
        jq -e --arg a "${H1#/dev/}" --arg b "${H2#/dev/}" --arg n "${NV#/dev/}" \
                'length == 2 and ([.[].data] | sort) == ([$a, $b] | sort) and all(.[]; .db == $n)' \
                "$OUTER_WORK/report.json" >/dev/null &&
                ok "batch --report puts data on the two rotational disks and block.db on the NVMe disk" ||
                bad "batch --report: $(cat "$OUTER_WORK/report.json")"
        [ "$(osd_count)" = 0 ] && ok "the report changed nothing" || bad "the report made OSDs"

        if "$CASTLECTL" osd batch "${OPTS[@]}" --dmcrypt --osdspec-affinity castle-vm --progress none --format json \
                "$H1" "$H2" "$NV" \
                >"$OUTER_WORK/batch.json" 2>"$OUTER_WORK/batch.err"; then
                ok "castlectl osd batch --dmcrypt made $(jq length "$OUTER_WORK/batch.json") OSDs"
        else
                bad "castlectl osd batch failed: $(tail -5 "$OUTER_WORK/batch.err")"
        fi
        jq -r '.[].osd_id' "$OUTER_WORK/batch.json" >"$OUTER_WORK/ids"
        for id in $(cat "$OUTER_WORK/ids"); do
                ceph_wait_up "$id" 300 && ok "osd.$id is up" || bad "osd.$id did not come up"
        done
        [ "$(osd_count)" = 2 ] && ok "the cluster has exactly 2 OSDs" || bad "the cluster has $(osd_count) OSDs"
        crypt_count 4 "block and db of each OSD"

        ceph_cmd osd pool create castle-test 8 >/dev/null 2>&1
        ceph_cmd osd pool set castle-test size 1 --yes-i-really-mean-it >/dev/null 2>&1
        head -c 1048576 /dev/urandom >"$STATE/object.in"
        if timeout 200 rados -c "$CEPH_CONF_FILE" --name client.admin --keyring "$CEPH_ADMIN_KEYRING" -p castle-test \
                put obj "$STATE/object.in" &&
           timeout 100 rados -c "$CEPH_CONF_FILE" --name client.admin --keyring "$CEPH_ADMIN_KEYRING" -p castle-test \
                get obj "$STATE/object.out" && cmp -s "$STATE/object.in" "$STATE/object.out"; then
                ok "rados put and get return the same bytes"
        else
                bad "rados put/get through the encrypted OSDs"
        fi

        ceph_volume lvm list --format json >"$OUTER_WORK/cv.json" 2>"$OUTER_WORK/cv.err"
        fsid=$CEPH_FSID
        for id in $(cat "$OUTER_WORK/ids"); do
                jq -e --arg id "$id" --arg f "$fsid" --arg n "$NV" '.[$id] as $o | ($o | length) == 2 and
                        ([$o[].type] | sort) == ["block", "db"] and
                        all($o[]; .tags["ceph.encrypted"] == "1" and .tags["ceph.cluster_fsid"] == $f and
                                  .tags["ceph.osdspec_affinity"] == "castle-vm" and
                                  .tags["ceph.osd_id"] == $id and (.tags["ceph.cephx_lockbox_secret"] | length) == 40 and
                                  (.tags["ceph.db_device"] | startswith("/dev/ceph-"))) and
                        ([$o[] | select(.type == "db") | .devices[0]] == [$n]) and
                        ([$o[] | select(.type == "block") | .lv_name | startswith("osd-block-")] == [true]) and
                        (([$o[] | select(.type == "block") | .lv_uuid][0]) as $bu |
                         ([$o[] | select(.type == "db") | .lv_uuid][0]) as $du |
                         all($o[]; .tags["ceph.block_uuid"] == $bu and .tags["ceph.db_uuid"] == $du))' \
                        "$OUTER_WORK/cv.json" >/dev/null &&
                        ok "ceph-volume lvm list shows osd.$id: block and db LVs, every ceph.* tag (osdspec_affinity too), the uuids of both LVs" ||
                        bad "ceph-volume lvm list for osd.$id: $(head -c 600 "$OUTER_WORK/cv.json") $(tail -3 "$OUTER_WORK/cv.err")"
        done
        before=$(osd_count)
        "$CASTLECTL" osd batch "${OPTS[@]}" --dmcrypt --progress none "$H1" "$H2" "$NV" >"$OUTER_WORK/again.out" 2>&1 ||
                bad "the second batch failed: $(tail -3 "$OUTER_WORK/again.out")"
        [ "$(osd_count)" = "$before" ] && ok "the same batch again adds nothing" || bad "the second batch changed the OSD count"
        "$CASTLECTL" inventory --format json "$H1" | jq -e '.devices[0].available == false' >/dev/null &&
                ok "the inventory reports the data disk as not available" || bad "the inventory offers an OSD's disk"
        pkill -f -- "ceph-osd.*$CEPH_CONF_FILE" ; sleep 2
        ceph_stop
else
        [ "$(cat "$OUTER_WORK/names.1")" != "$(cat "$OUTER_WORK/names.2")" ] &&
                ok "the disks came back under other kernel names ($(cat "$OUTER_WORK/names.2"))" ||
                bad "the reboot did not reorder the disks"
        rm -rf "$CEPH_DIR"/osd/ceph-*
        "$CASTLECTL" osd activate "${OPTS[@]}" --all --format json >"$OUTER_WORK/activate.json" 2>"$OUTER_WORK/activate.err" ||
                bad "castlectl osd activate --all failed: $(cat "$OUTER_WORK/activate.err")"
        for id in $(cat "$OUTER_WORK/ids"); do
                ceph_wait_up "$id" 300 && ok "after the reboot osd.$id is up again, same id" || bad "osd.$id did not come back"
        done
        [ "$(osd_count)" = 2 ] && ok "still exactly 2 OSDs" || bad "$(osd_count) OSDs after the reboot"
        crypt_count 4 "activate opened block and db of each OSD again"

        # zap --destroy of a stopped OSD
        zid=$(head -1 "$OUTER_WORK/ids")
        dev=$("$CASTLECTL" osd list "${BASE[@]}" --format json | jq -r --argjson id "$zid" '.[] | select(.osd_id == $id and .type == "block") | .stable_id')
        if "$CASTLECTL" zap "${BASE[@]}" --osd-id "$zid" --destroy >"$OUTER_WORK/zap-running.out" 2>&1; then
                bad "zap of a running OSD succeeded"
        elif grep -q "osd.$zid runs on it" "$OUTER_WORK/zap-running.out"; then
                ok "zap of running osd.$zid is refused ($(grep -m1 "runs on it" "$OUTER_WORK/zap-running.out" | cut -c1-80))"
        else
                bad "zap of running osd.$zid failed for another reason: $(cat "$OUTER_WORK/zap-running.out")"
        fi
        pkill -f -- "ceph-osd.*-i $zid " ; sleep 2
        ceph_cmd osd down "$zid" >/dev/null 2>&1
        if "$CASTLECTL" zap "${BASE[@]}" --osd-id "$zid" --destroy >"$OUTER_WORK/zap.out" 2>&1; then
                "$CASTLECTL" inventory --format json "$dev" | jq -e '.devices[0].available == true' >/dev/null &&
                        ok "zap --destroy of osd.$zid left its disk available" ||
                        bad "after zap: $("$CASTLECTL" inventory "$dev")"
                [ "$(lvs --noheadings -o lv_tags 2>/dev/null | grep -c "ceph.osd_id=$zid,")" = 0 ] &&
                        ok "no LV of osd.$zid is left (the shared DB VG keeps the other OSD's)" ||
                        bad "LVs of osd.$zid remain: $(lvs 2>&1)"
                crypt_count 2 "zap closed osd.$zid's two, the other OSD's stay"
        else
                bad "zap --destroy of stopped osd.$zid: $(cat "$OUTER_WORK/zap.out")"
        fi

        # castlectl osd run for each device-mapper kind: the encrypted OSD left, and a plain LVM
        # one (block.db on the NVMe disk too) prepared on the disk the zap freed. Both are
        # stopped and torn down as a boot leaves them (LUKS closed, LVs inactive, no OSD
        # directory); `osd run ID`, started in the background as a supervisor
        # starts it, must activate each and become its ceph-osd -f (the same process).
        rid=$(sed -n 2p "$OUTER_WORK/ids")
        lid=""
        # Started once by the prepare (fork), while osd.$rid is up: the first boot of an OSD
        # (crush create-or-move) while every other OSD of the map is down and in aborts this
        # Ceph's monitor (16.2.15: OSDMap::check_health, ceph_assert(num_down_in_osds <=
        # num_in_osds)), whoever starts the OSD.
        if "$CASTLECTL" osd prepare "${BASE[@]}" --mode lvm --data "$dev" --block-db "$NV" --start-mode fork \
                --format json --progress none >"$OUTER_WORK/prepare-lvm.json" 2>"$OUTER_WORK/prepare-lvm.err"; then
                lid=$(jq -r .osd_id "$OUTER_WORK/prepare-lvm.json")
                ok "osd.$lid prepared on $dev: LVM, block.db on the NVMe disk, not encrypted"
        else
                bad "osd prepare --mode lvm on $dev: $(tail -3 "$OUTER_WORK/prepare-lvm.err")"
        fi
        declare -A KIND=([$rid]="LVM + dm-crypt") RUN=()
        [ -n "$lid" ] && KIND[$lid]=LVM
        for id in $rid $lid; do
                deactivate "$id"
                [ "$(lvs_active "$id")" = 0 ] && [ ! -e "$CEPH_DIR/osd/ceph-$id" ] && ! osd_pids "$id" >/dev/null &&
                        ok "osd.$id (${KIND[$id]}) stopped, its LVs inactive, no OSD directory" ||
                        bad "osd.$id is not torn down: $(lvs_active "$id") LVs active, $(ls "$CEPH_DIR/osd" 2>&1)"
        done
        crypt_count 0 "osd.$rid stopped, its LUKS volumes closed"
        for id in $rid $lid; do
                "$CASTLECTL" osd run "${BASE[@]}" "$id" >"$OUTER_WORK/run.$id.out" 2>&1 &
                RUN[$id]=$!
        done
        for id in $rid $lid; do
                pid=${RUN[$id]}
                if within 240 osd_up "$id"; then
                        ok "osd run $id: osd.$id (${KIND[$id]}) is up"
                else
                        bad "osd run $id: osd.$id (${KIND[$id]}) is not up: $(tail -5 "$OUTER_WORK/run.$id.out")"
                        osd_diag "$id"
                fi
                comm=$(cat "/proc/$pid/comm" 2>/dev/null)
                [ "$comm" = ceph-osd ] && [ "$(osd_pids "$id")" = "$pid" ] &&
                        tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qx -- -f &&
                        ok "osd run $id became ceph-osd -f in the foreground (pid $pid, the only one of osd.$id)" ||
                        bad "osd run $id: pid $pid is '$comm' ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)), osd.$id runs as $(osd_pids "$id" | xargs)"
                [ "$(lvs_active "$id")" = 2 ] && [ -L "$CEPH_DIR/osd/ceph-$id/block.db" ] &&
                        ok "osd run $id activated block and db LVs and linked block.db" ||
                        bad "osd run $id: $(lvs_active "$id") LVs active, $(ls -l "$CEPH_DIR/osd/ceph-$id" 2>&1)"
                rc=0
                "$CASTLECTL" osd run "${BASE[@]}" "$id" >"$OUTER_WORK/run2.$id.out" 2>&1 || rc=$?
                [ "$rc" = 1 ] && grep -q "runs already" "$OUTER_WORK/run2.$id.out" &&
                        ok "a second osd run $id is refused: $(head -1 "$OUTER_WORK/run2.$id.out")" ||
                        bad "a second osd run $id: exit $rc, $(cat "$OUTER_WORK/run2.$id.out")"
        done
        crypt_count 2 "osd run $rid opened its block and db"
        for id in $rid $lid; do kill "${RUN[$id]}"; done
        for id in $rid $lid; do
                within 120 no_osd_pid "$id" && within 60 osd_down "$id" &&
                        ok "kill of osd run $id (pid ${RUN[$id]}) stopped osd.$id: the process is gone, the OSD down" ||
                        bad "after kill of osd run $id: ceph-osd $(osd_pids "$id" | xargs), down: $(osd_down "$id" && echo yes || echo no)"
                osd_down "$id" || osd_diag "$id"
                wait "${RUN[$id]}" 2>/dev/null
        done
        pkill -f -- "ceph-osd.*$CEPH_CONF_FILE"; sleep 1
        ceph_stop
fi
sync
umount "$STATE"
[ "$FAILS" = 0 ]
EOF

rc=0
vm_run --reboot --mem 3072 \
        --disk "bus=scsi,serial=HDD1,id=hdd1,size=12G,rotation_rate=7200,vendor=SEAGATE,product=ST12000,wwn=0x5000c500aa000001" \
        --disk "bus=scsi,serial=HDD2,id=hdd2,size=12G,rotation_rate=7200,vendor=SEAGATE,product=ST12000,wwn=0x5000c500aa000002" \
        --disk "bus=nvme,serial=NVDB,id=nvdb,size=8G" \
        --disk "bus=virtio,serial=MONDISK,id=mon,size=4G" \
        -- bash "$WORK/lvm.sh" >"$WORK/guest.out" 2>&1 || rc=$?
cat "$WORK/guest.out"
grep -q '^FAIL' "$WORK/guest.out" && FAILED=$((FAILED + 1))
[ "$rc" = 0 ] || fail "the guest run exited $rc"
grep -c '^ok:' "$WORK/guest.out" >/dev/null || fail "the guest reported nothing"
[ "$FAILED" = 0 ]
