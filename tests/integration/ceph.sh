# SPDX-License-Identifier: LGPL-2.1-or-later
# A one-monitor Ceph cluster for tests, entirely under $WORK/ceph (never /etc/ceph or
# /var/lib/ceph): keys, monmap, ceph-mon, and a configuration that puts every log, socket
# and OSD directory there too. Sourced after lib.sh; cleanup stops every daemon it started.

CEPH_DIR=""
CEPH_CONF_FILE=""
CEPH_BOOTSTRAP_KEYRING=""
CEPH_ADMIN_KEYRING=""
CEPH_FSID=""

require_ceph() {
        require_cmd ceph ceph-mon ceph-osd ceph-authtool monmaptool ceph-bluestore-tool rados
}

# A free TCP port on 127.0.0.1.
free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ceph_cmd() {
        timeout 60 ceph -c "$CEPH_CONF_FILE" --name client.admin --keyring "$CEPH_ADMIN_KEYRING" "$@"
}

ceph_start() {
        local port
        CEPH_DIR=$WORK/ceph
        CEPH_CONF_FILE=$CEPH_DIR/ceph.conf
        CEPH_BOOTSTRAP_KEYRING=$CEPH_DIR/bootstrap-osd.keyring
        CEPH_ADMIN_KEYRING=$CEPH_DIR/admin.keyring
        CEPH_FSID=$(uuidgen)
        port=$(free_port)
        mkdir -p "$CEPH_DIR"/{mon-a,osd,run,log}
        # OSDs drop to the ceph user (--setuser ceph, as packaged): it must reach these.
        chmod 0755 "$WORK" "$CEPH_DIR"
        if [ "$(id -u)" -eq 0 ] && id ceph >/dev/null 2>&1; then chown ceph:ceph "$CEPH_DIR"/{osd,run,log}; fi
        cat >"$CEPH_CONF_FILE" <<CONF
[global]
fsid = $CEPH_FSID
mon host = v2:127.0.0.1:$port
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd crush chooseleaf type = 0
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$cluster-\$name.asok
pid file = $CEPH_DIR/run/\$cluster-\$name.pid
log file = $CEPH_DIR/log/\$cluster-\$name.log
mon data = $CEPH_DIR/mon-\$id
osd data = $CEPH_DIR/osd/\$cluster-\$id
osd objectstore = bluestore
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 67108864
osd op num shards = 1
osd op num threads per shard = 1
ms bind ipv6 = false
[client.admin]
keyring = $CEPH_ADMIN_KEYRING
[osd]
keyring = $CEPH_DIR/osd/\$cluster-\$id/keyring
CONF
        {
                ceph-authtool --create-keyring "$CEPH_DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
                ceph-authtool --create-keyring "$CEPH_ADMIN_KEYRING" --gen-key -n client.admin \
                        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *'
                ceph-authtool --create-keyring "$CEPH_BOOTSTRAP_KEYRING" --gen-key -n client.bootstrap-osd \
                        --cap mon 'profile bootstrap-osd' --cap mgr 'allow r'
                ceph-authtool "$CEPH_DIR/mon.keyring" --import-keyring "$CEPH_ADMIN_KEYRING"
                ceph-authtool "$CEPH_DIR/mon.keyring" --import-keyring "$CEPH_BOOTSTRAP_KEYRING"
                monmaptool --create --add a "v2:127.0.0.1:$port" --fsid "$CEPH_FSID" "$CEPH_DIR/monmap"
                ceph-mon -c "$CEPH_CONF_FILE" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/mon.keyring"
                ceph-mon -c "$CEPH_CONF_FILE" -i a
        } >"$CEPH_DIR/setup.log" 2>&1 || { cat "$CEPH_DIR/setup.log"; return 1; }
        CLEANUP_HOOKS+=(ceph_stop)
        local i
        for i in $(seq 1 60); do
                ceph_cmd -s >/dev/null 2>&1 && return 0
                sleep 0.5
        done
        echo "the test monitor did not answer within 30 s"
        tail -20 "$CEPH_DIR/log/ceph-mon.a.log" 2>/dev/null
        return 1
}

# ceph_restart: the same monitor again, with its data, after ceph_stop.
ceph_restart() {
        ceph-mon -c "$CEPH_CONF_FILE" -i a >>"$CEPH_DIR/setup.log" 2>&1 || return 1
        for _ in $(seq 1 60); do
                ceph_cmd -s >/dev/null 2>&1 && return 0
                sleep 0.5
        done
        return 1
}

# The pids of every ceph daemon with our configuration (castle's own programs that name the
# file, such as a coordinator with intent = ceph, are not ceph daemons).
ceph_pids() {
        local p
        for p in $(pgrep -f -- "$CEPH_CONF_FILE"); do
                case $(cat "/proc/$p/comm" 2>/dev/null) in
                ceph-*) echo "$p" ;;
                esac
        done
}

ceph_stop() {
        local p
        [ -n "$CEPH_CONF_FILE" ] || return 0
        for p in $(ceph_pids); do kill "$p" 2>/dev/null; done
        for _ in $(seq 1 50); do
                [ -z "$(ceph_pids)" ] && break
                sleep 0.1
        done
        for p in $(ceph_pids); do kill -9 "$p" 2>/dev/null; done
}

# ceph_wait_up ID [SECONDS]
ceph_wait_up() {
        local id=$1 t=${2:-120} i
        for i in $(seq 1 $((t * 2))); do
                ceph_cmd osd dump -f json 2>/dev/null |
                        jq -e --argjson id "$id" '.osds[] | select(.osd == $id and .up == 1)' >/dev/null && return 0
                sleep 0.5
        done
        return 1
}

# ceph-volume against the test cluster: it only reads /etc/ceph/<cluster>.conf and
# /var/lib/ceph/bootstrap-osd/<cluster>.keyring, so run it in a private mount namespace
# where those two directories are ours.
ceph_volume() {
        mkdir -p "$CEPH_DIR/etc" "$CEPH_DIR/varlib/bootstrap-osd" "$CEPH_DIR/varlib/osd" "$CEPH_DIR/cvlog"
        cp "$CEPH_CONF_FILE" "$CEPH_DIR/etc/ceph.conf"
        cp "$CEPH_ADMIN_KEYRING" "$CEPH_DIR/etc/ceph.client.admin.keyring"
        cp "$CEPH_BOOTSTRAP_KEYRING" "$CEPH_DIR/varlib/bootstrap-osd/ceph.keyring"
        CEPH_VOLUME_ALLOW_LOOP_DEVICES=1 unshare -m bash -c '
                set -e
                mount --make-rprivate /
                mount --bind "$1/etc" /etc/ceph 2>/dev/null || { mkdir -p /etc/ceph && mount --bind "$1/etc" /etc/ceph; }
                mkdir -p /var/lib/ceph
                mount --bind "$1/varlib" /var/lib/ceph
                mkdir -p /var/log/ceph
                mount --bind "$1/cvlog" /var/log/ceph
                shift
                exec ceph-volume "$@"' _ "$CEPH_DIR" "$@"
}
