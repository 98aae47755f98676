#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OSDs that boot, against a real one-monitor Ceph cluster in a temp dir: three raw OSDs
# prepared through `castlectl cluster osd create` (coordinator -> agent -> castlectl-osd),
# data written and read back with rados; ceph-volume and castle see each other's OSDs;
# reruns allocate nothing; a kill -9 at every step converges to one OSD per device; every
# dirty device is refused with no byte changed; a renamed device is followed by its stable
# id; zap refuses a running OSD and frees a stopped one. The OS disk is never handed to zap
# here: its refusal is a unit test's business, not a gamble with this machine's disk.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"
source "$(dirname "$0")/fleet.sh"

require_root
require_ceph
require_cmd losetup udevadm jq uuidgen python3 mkfs.ext4 sgdisk pvcreate cryptsetup mkswap
BUILD=$(dirname "$CASTLECTL")
for b in "$CASTLECTL" "$BUILD/castlectl-osd" "$AGENT" "$COORD"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work
ceph_start || { fail "the test cluster did not start"; exit 1; }

BASE=$(free_loop_base 40) || skip "no block of 40 free loop device numbers between 200 and 999"
P=$((BASE / 10)) # our loop names: loop${P}0 .. loop$((P + 3))9
OSD_OPTS=(--allow-loop --conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd"
          --state-dir "$WORK/state")
osdctl() { "$CASTLECTL" osd "$1" "${OSD_OPTS[@]}" "${@:2}"; }
zap() { "$CASTLECTL" zap "${OSD_OPTS[@]}" "$@"; }
osd_count() { ceph_cmd osd ls -f json | jq length; }
journal_left() { find "$WORK/state/prepare" -name '*.json' 2>/dev/null | wc -l; }
stable_id() { "$CASTLECTL" inventory --allow-loop --format json "$1" | jq -r '.devices[0].stable_id'; }
# osds_on STABLE_ID: how many OSDs castle finds on that device
osds_on() { osdctl list --format json | jq --arg s "$1" '[.[] | select(.stable_id == $s and .type == "block")] | length'; }

# ---- three OSDs through the coordinator and the agent ----
fleet_keys
fleet_coordinator coord-osd
fleet_agent node-1 "^loop${P}[0-9]$" --spec-settle 2s

for i in 0 1 2; do attach_at "${P}$i" "$(new_image "osd$i" 10G)"; done
udevadm settle
available_on_node() { cluster devices --available --format json | jq -e --arg p "$1" 'map(select(.device.path == $p)) | length == 1'; }
for i in 0 1 2; do wait_for "loop${P}$i is available at the coordinator" available_on_node "/dev/loop${P}$i"; done

ids=()
for i in 0 1 2; do
        sid=$(stable_id "/dev/loop${P}$i")
        out=$(cluster osd create node-1 "$sid" --format json 2>"$WORK/create$i.err") || true
        id=$(jq -r '.osd_id // empty' <<<"$out" 2>/dev/null)
        if [ -n "$id" ] && [ "$(jq -r .done <<<"$out")" = true ]; then
                pass "cluster osd create on loop${P}$i gave osd.$id"
                ids+=("$id")
        else
                fail "cluster osd create on loop${P}$i: $out $(cat "$WORK/create$i.err")"
        fi
done
for id in "${ids[@]}"; do
        ceph_wait_up "$id" 120 && pass "osd.$id is up" || fail "osd.$id did not come up"
done
[ "$(osd_count)" = 3 ] && pass "the cluster has exactly 3 OSDs" || fail "the cluster has $(osd_count) OSDs, not 3"
cluster osd create node-1 "$(stable_id "/dev/loop${P}0")" 2>"$WORK/progress.err" >/dev/null || true
grep -q "already" "$WORK/progress.err" && pass "castlectl shows the agent's progress lines" ||
        fail "no progress lines from cluster osd create: $(cat "$WORK/progress.err")"

# data goes in and comes back
ceph_cmd osd pool create castle-test 8 >/dev/null 2>&1
head -c 1048576 /dev/urandom >"$WORK/object.in"
if timeout 120 rados -c "$CEPH_CONF_FILE" --name client.admin --keyring "$CEPH_ADMIN_KEYRING" -p castle-test \
        put obj "$WORK/object.in" &&
        timeout 60 rados -c "$CEPH_CONF_FILE" --name client.admin --keyring "$CEPH_ADMIN_KEYRING" -p castle-test \
                get obj "$WORK/object.out" && cmp -s "$WORK/object.in" "$WORK/object.out"; then
        pass "rados put and get return the same bytes"
else
        fail "rados put/get through castle's OSDs"
fi

# ---- ceph-volume and castle see each other's OSDs ----
cv=$(ceph_volume raw list --format json 2>>"$WORK/ceph-volume.log") || true
for id in "${ids[@]}"; do
        uuid=$(ceph_cmd osd dump -f json | jq -r --argjson id "$id" '.osds[] | select(.osd == $id) | .uuid')
        jq -e --arg u "$uuid" --argjson id "$id" '.[$u].osd_id == $id' <<<"$cv" >/dev/null &&
                pass "ceph-volume raw list shows osd.$id with its uuid" ||
                fail "ceph-volume raw list does not show osd.$id ($uuid): $cv"
done
attach_at "${P}3" "$(new_image cv 10G)"
udevadm settle
if ceph_volume raw prepare --bluestore --data "/dev/loop${P}3" >>"$WORK/ceph-volume.log" 2>&1; then
        cvid=$(osdctl list --format json | jq -r --arg d "/dev/loop${P}3" '.[] | select(.device == $d) | .osd_id')
        [ -n "$cvid" ] && pass "castlectl osd list shows ceph-volume's osd.$cvid" || fail "castlectl osd list misses ceph-volume's OSD"
        "$CASTLECTL" inventory --allow-loop --format json "/dev/loop${P}3" |
                jq -e '.devices[0].available == false and (.devices[0].reasons | map(.message) | index("Has BlueStore device label") != null)' >/dev/null &&
                pass "the inventory reports ceph-volume's OSD device as not available" ||
                fail "the inventory offers ceph-volume's OSD device"
else
        fail "ceph-volume raw prepare failed: $(tail -5 "$WORK/ceph-volume.log")"
fi

# ---- an OSD spec: a new device it selects becomes an OSD by itself, once settled ----
cat >"$WORK/auto.yaml" <<YAML
service_type: osd
service_id: auto
placement:
  host_pattern: '*'
spec:
  method: raw
  data_devices:
    paths: [/dev/loop${P}4]
YAML
before=$(osd_count)
attach_at "${P}4" "$(new_image auto 10G)"
attach_at "${P}5" "$(new_image not-auto 10G)"
udevadm settle
knows_dev() { cluster devices --format json | jq -e --arg p "/dev/loop${P}4" 'map(select(.device.path == $p)) | length == 1'; }
wait_for "the coordinator knows the new device" knows_dev
if cluster apply -i "$WORK/auto.yaml" >"$WORK/apply.out" 2>&1; then
        AUTO_SID=$(stable_id "/dev/loop${P}4")
        auto_up() {
                local id
                id=$(osdctl list --format json | jq -r --arg s "$AUTO_SID" '.[] | select(.stable_id == $s) | .osd_id')
                [ -n "$id" ] && ceph_cmd osd dump -f json | jq -e --argjson id "$id" '.osds[] | select(.osd == $id) | .up == 1' >/dev/null
        }
        WAIT_SECONDS=180 wait_for "the spec made an OSD on the device it selects, and it is up" auto_up ||
                tail -5 "$WORK/agent.log"
        [ "$(osds_on "$(stable_id "/dev/loop${P}5")")" = 0 ] && [ "$(osd_count)" = $((before + 1)) ] &&
                pass "the device the spec does not select was left alone" ||
                fail "the spec touched loop${P}5, or made $(($(osd_count) - before)) OSDs"
        cluster spec rm auto >/dev/null 2>&1 || fail "removing the spec failed"
else
        fail "cluster apply: $(cat "$WORK/apply.out")"
fi

# ---- reruns allocate nothing ----
before=$(osd_count)
for i in 0 1 2; do
        out=$(osdctl prepare --data "/dev/loop${P}$i" --start-mode fork --format json --progress none) || true
        jq -e '.already_prepared == true' <<<"$out" >/dev/null ||
                fail "a rerun on loop${P}$i did not report the existing OSD: $out"
done
[ "$(osd_count)" = "$before" ] && pass "preparing the same devices again allocates no id" ||
        fail "a rerun changed the OSD count from $before to $(osd_count)"

# ---- kill -9 at every step, then rerun ----
if grep -q '^#define CASTLE_FAULT_POINTS 1' "$BUILD/config.h" 2>/dev/null; then
        n=0
        for step in plan lock journal osd-new osd-dir mkfs start; do
                img=$(new_image "fault-$step" 10G)
                attach_at "$((P + 1))$n" "$img"
                dev=$ATTACHED
                n=$((n + 1))
                udevadm settle
                sid=$(stable_id "$dev")
                before=$(osd_count)
                rc=0
                CASTLE_FAULT=$step osdctl prepare --data "$dev" --start-mode fork --progress none >/dev/null 2>&1 || rc=$?
                [ "$rc" = 137 ] || fail "the fault point $step did not kill the prepare (exit $rc)"
                if osdctl prepare --data "$dev" --start-mode fork --progress none --format json >"$WORK/rerun.json" 2>&1; then
                        [ "$(osds_on "$sid")" = 1 ] && [ "$(osd_count)" = $((before + 1)) ] && [ "$(journal_left)" = 0 ] &&
                                ceph_wait_up "$(jq -r .osd_id "$WORK/rerun.json")" 120 &&
                                pass "killed after $step: the rerun made exactly one OSD, up, no orphan id, no journal left" ||
                                fail "killed after $step: $(osds_on "$sid") OSDs on the device, $(osd_count) ids (was $before), $(journal_left) journal entries"
                else
                        fail "killed after $step: the rerun failed: $(cat "$WORK/rerun.json")"
                fi
        done
else
        fail "kill -9 at every step not tested: this build has no fault points (configure --enable-fault-points)"
fi

# ---- every dirty device is refused, and no byte changes ----
n=0
dirty() { # dirty NAME: a 10 GiB image on a fresh loop device; sets DEV and IMG
        IMG=$(new_image "dirty-$1" 10G)
        attach_at "$((P + 2))$n" "$IMG"
        DEV=$ATTACHED
        n=$((n + 1))
}
check_refused() { # check_refused WHAT
        local before_fp after_fp rc=0 count
        udevadm settle
        count=$(osd_count)
        before_fp=$(fingerprint "$IMG")
        osdctl prepare --data "$DEV" --start-mode fork --progress none >"$WORK/refused.out" 2>&1 || rc=$?
        after_fp=$(fingerprint "$IMG")
        if [ "$rc" = 1 ] && [ "$before_fp" = "$after_fp" ] && [ "$(osd_count)" = "$count" ]; then
                pass "$1: refused ($(tail -1 "$WORK/refused.out" | cut -c1-100)), no byte changed, no id"
        else
                fail "$1: exit $rc, fingerprint $([ "$before_fp" = "$after_fp" ] && echo same || echo CHANGED), ids $count -> $(osd_count)"
        fi
}
dirty ext4; mkfs.ext4 -q -F "$DEV"; check_refused "ext4"
dirty gpt; sgdisk -n 1:2048:+100M "$DEV" >/dev/null; partx -u "$DEV" 2>/dev/null || true; check_refused "GPT with a partition"
dirty pv; pvcreate -q "$DEV" >/dev/null 2>&1 || pvcreate "$DEV"; check_refused "LVM physical volume"
dirty luks; echo -n test-passphrase | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$DEV" -; check_refused "LUKS2"
dirty replica; dd if="$CEPH_DIR/../osd0.img" of="$DEV" bs=4096 count=1 skip=0 seek=262144 conv=notrunc status=none; check_refused "a BlueStore label only at its 1 GiB copy"
# (read-only, no journal replay: a read-write ext4 mount writes by itself, lazy inode-table
# init, and the checksum would say nothing about castle)
dirty mounted; mkfs.ext4 -q -F "$DEV"; mkdir -p "$WORK/mnt"; mount -o ro,noload "$DEV" "$WORK/mnt"; MOUNTS+=("$WORK/mnt"); check_refused "mounted"
dirty swap; mkswap -q "$DEV" >/dev/null; swapon "$DEV"; SWAPS+=("$DEV"); check_refused "active swap"
dirty held; python3 -c 'import os,sys,time; fd=os.open(sys.argv[1], os.O_RDONLY|os.O_EXCL); time.sleep(60)' "$DEV" &
HOLDER=$!; PIDS+=("$HOLDER"); sleep 0.3; check_refused "held open exclusively"; kill "$HOLDER" 2>/dev/null

# ---- a device renamed between plan and execution ----
R_IMG=$(new_image renamed 10G)
E_IMG=$(new_image other 10G)
mkfs.ext4 -q -F "$E_IMG"
attach_at "$((P + 3))0" "$R_IMG"
udevadm settle
R_SID=$(stable_id /dev/loop$((P + 3))0)
E_FP=$(fingerprint "$E_IMG")
touch "$WORK/pause"
CASTLE_PAUSE=plan CASTLE_PAUSE_FILE=$WORK/pause osdctl prepare --data "/dev/loop$((P + 3))0" --start-mode fork \
        --progress none --format json >"$WORK/renamed.json" 2>"$WORK/renamed.err" &
RPID=$!
for _ in $(seq 100); do grep -q paused "$WORK/renamed.err" 2>/dev/null && break; sleep 0.1; done
detach "/dev/loop$((P + 3))0"
attach_at "$((P + 3))0" "$E_IMG"             # another disk now has the old name
attach_at "$((P + 3))1" "$R_IMG"             # and ours has a new one
udevadm settle
rm -f "$WORK/pause"
rc=0
wait "$RPID" || rc=$?
[ "$(fingerprint "$E_IMG")" = "$E_FP" ] && pass "the disk that took over the old name was not touched" ||
        fail "the disk that took over the old name CHANGED"
if [ "$rc" = 0 ]; then
        [ "$(jq -r .device "$WORK/renamed.json")" = "/dev/loop$((P + 3))1" ] && [ "$(osds_on "$R_SID")" = 1 ] &&
                pass "the prepare followed the stable id to the new name" ||
                fail "the prepare succeeded but not on the renamed device: $(cat "$WORK/renamed.json")"
else
        pass "the prepare refused after the rename (exit $rc)"
fi

# ---- zap ----
Z=/dev/loop${P}0
zid=${ids[0]}
if zap "$Z" >"$WORK/zap.out" 2>&1; then
        fail "zap of a running OSD's device succeeded"
else
        # (the running OSD writes to its device, so a checksum says nothing: its label must remain)
        grep -q "osd.$zid" "$WORK/zap.out" && [ "$(osds_on "$(stable_id "$Z")")" = 1 ] &&
                pass "zap of osd.$zid's device is refused while it runs ($(head -1 "$WORK/zap.out" | cut -c1-90))" ||
                fail "zap refusal: $(cat "$WORK/zap.out")"
fi
kill -9 "$(osdctl list --format json | jq -r --argjson id "$zid" '.[] | select(.osd_id == $id) | .pid')" 2>/dev/null
for _ in $(seq 50); do [ "$(osdctl list --format json | jq --argjson id "$zid" '.[] | select(.osd_id == $id) | .running')" = false ] && break; sleep 0.2; done
ceph_cmd osd down "$zid" >/dev/null 2>&1
if zap "$Z" >"$WORK/zap.out" 2>&1; then
        "$CASTLECTL" inventory --allow-loop --format json "$Z" | jq -e '.devices[0].available == true' >/dev/null &&
                pass "after the OSD stopped, zap made the device available" ||
                fail "after zap the device is not available: $("$CASTLECTL" inventory --allow-loop "$Z")"
        out=$(osdctl prepare --data "$Z" --start-mode fork --progress none --format json) &&
                ceph_wait_up "$(jq -r .osd_id <<<"$out")" 120 && pass "zap then prepare again gives a new OSD that comes up" ||
                fail "prepare after zap: $out"
else
        fail "zap of a stopped OSD's device: $(cat "$WORK/zap.out")"
fi
[ "$FAILED" = 0 ]
