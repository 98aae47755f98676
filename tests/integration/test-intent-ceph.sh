#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The intent store's Ceph backend (coordinator/intent-ceph.c) against a real one-monitor
# cluster, as the coordinators' restricted cephx user: the caps allow every command the backend
# sends and nothing outside castle's prefix; a second coordinator follows the first one's writes
# and fetches only what is new; a value at the size limit keeps its bytes; with the monitor
# stopped a write gives up within the timeout with -ETIMEDOUT, and the same process writes
# again once the monitor is back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ceph.sh"

require_cmd ceph ceph-mon ceph-authtool monmaptool uuidgen python3 cmp
BUILD=$(dirname "$CASTLECTL")
TOOL=$BUILD/tests/castle-intent-ceph
[ -x "$TOOL" ] || skip "$TOOL is not built"
setup_work
ceph_start || { fail "the test cluster did not start"; exit 1; }

# The exact caps docs/operations.md gives the coordinators' key.
CAPS='allow command "config-key get" with key prefix castle/, allow command "config-key set" with key prefix castle/, allow command "config-key rm" with key prefix castle/, allow command "config-key dump" with key prefix castle/'
KEYRING=$WORK/ceph.client.castle-coordinator.keyring
ceph_cmd auth get-or-create client.castle-coordinator mon "$CAPS" -o "$KEYRING" >/dev/null ||
        { fail "ceph auth get-or-create with the documented caps"; exit 1; }
# ceph_stop finds the monitor by its configuration's path: the clients read a copy.
CONF=$WORK/client.conf
cp "$CEPH_CONF_FILE" "$CONF"

# ---- the caps, command by command, with the ceph CLI ----
restricted() { timeout 30 ceph -c "$CONF" --name client.castle-coordinator --keyring "$KEYRING" "$@" 2>&1; }
expect_ok() {
        local out
        out=$(restricted "$@") && pass "restricted key may: $*" || fail "restricted key may not: $* ($out)"
}
expect_eacces() {
        local out
        if out=$(restricted "$@"); then
                fail "restricted key was allowed: $*"
        elif grep -q EACCES <<<"$out"; then
                pass "restricted key is refused (EACCES): $*"
        else
                fail "restricted key: $*: not EACCES: $out"
        fi
}
ceph_cmd config-key set other/secret hush >/dev/null
expect_ok config-key set castle/probe yes
expect_ok config-key get castle/probe
expect_ok config-key dump castle/
expect_ok config-key rm castle/probe
expect_eacces config-key set other/x no
expect_eacces config-key get other/secret
expect_eacces config-key rm other/secret
expect_eacces config-key dump other/
expect_eacces config-key dump
expect_eacces config-key ls
expect_eacces config-key set castlex/x no
expect_eacces auth ls

# ---- the backend, driven by two processes as two coordinators would ----
declare -A FD
# start_tool NAME WRITER [OPTIONS...]: a castle-intent-ceph reading commands from a fifo.
start_tool() {
        local name=$1 writer=$2 fd
        shift 2
        mkfifo "$WORK/$name.in"
        : >"$WORK/$name.out"
        CASTLE_LOG_LEVEL=debug "$TOOL" --conf "$CONF" --name client.castle-coordinator --keyring "$KEYRING" \
                --writer "$writer" "$@" <"$WORK/$name.in" >"$WORK/$name.out" 2>"$WORK/$name.log" &
        PIDS+=("$!")
        exec {fd}>"$WORK/$name.in"
        FD[$name]=$fd
}
# ask NAME COMMAND...: prints what the command printed, its final line last.
ask() {
        local name=$1 n
        shift
        n=$(wc -l <"$WORK/$name.out")
        echo "$*" >&"${FD[$name]}"
        for _ in $(seq 1 600); do
                if tail -n +$((n + 1)) "$WORK/$name.out" | grep -qE '^(write|follow|unknown) '; then
                        tail -n +$((n + 1)) "$WORK/$name.out"
                        return 0
                fi
                sleep 0.1
        done
        echo "no answer to '$*' from $name within 60 s"
}
result() { tail -1 <<<"$1" | awk '{print $2}'; }
millis() { tail -1 <<<"$1" | awk '{print $3}'; }
adds() { grep -E '^(add|del) ' <<<"$1" | awk '{print $1" "$2}' | sort | tr '\n' ' '; }
mon_gets() { grep -c '"config-key get"' "$WORK/$1.log" || true; }

mkdir -p "$WORK/b-out"
start_tool a coord-a --timeout 3000
start_tool b coord-b --timeout 3000 --out "$WORK/b-out"

out=$(ask a put audit/coord-a/1-1 one)
[ "$(result "$out")" = 0 ] && pass "writer A stores a pair ($(millis "$out") ms)" || fail "writer A: $out"
out=$(ask a put audit/coord-a/1-2 two)
[ "$(result "$out")" = 0 ] || fail "writer A's second pair: $out"
out=$(ask b follow)
[ "$(adds "$out")" = "add audit/coord-a/1-1 add audit/coord-a/1-2 " ] &&
        pass "B's first follow brings A's two pairs" || fail "B's first follow: $out"
[ "$(cat "$WORK/b-out/audit_coord-a_1-2")" = two ] && pass "the value is A's" ||
        fail "B got '$(cat "$WORK/b-out/audit_coord-a_1-2")' for audit/coord-a/1-2"

out=$(ask a put audit/coord-a/1-3 three)
[ "$(result "$out")" = 0 ] || fail "writer A's third pair: $out"
out=$(ask a rm audit/coord-a/1-1)
[ "$(result "$out")" = 0 ] || fail "writer A's removal: $out"
gets_before=$(mon_gets b)
out=$(ask b follow)
[ "$(adds "$out")" = "add audit/coord-a/1-3 del audit/coord-a/1-1 " ] &&
        pass "B's next follow brings only what is new: the third pair and the removal" ||
        fail "B's second follow: $out"
gets=$(($(mon_gets b) - gets_before))
[ "$gets" = 2 ] && pass "B fetched exactly 2 keys from the monitors the second time" ||
        fail "B fetched $gets keys the second time, not 2"
grep -q '"config-key dump","key":"castle/head/"' "$WORK/b.log" &&
        pass "B's later follows dump the heads only" || fail "B never dumped castle/head/ alone"
[ ! -e "$WORK/b-out/audit_coord-a_1-1" ] && pass "the removed key is gone from B's copy" ||
        fail "B still has the removed key"
out=$(ask b follow)
[ "$(result "$out")" = 0 ] && [ -z "$(adds "$out")" ] && pass "a follow with nothing new brings nothing" ||
        fail "an idle follow: $out"

# B writes too: it does not fetch its own pair back; A's first follow sees everything.
out=$(ask b put spec/one "{\"x\": 1}")
[ "$(result "$out")" = 0 ] || fail "writer B: $out"
out=$(ask b follow)
[ -z "$(adds "$out")" ] && pass "B does not fetch its own write back" || fail "B fetched its own write: $out"
out=$(ask a follow)
[ "$(adds "$out")" = "add audit/coord-a/1-2 add audit/coord-a/1-3 add spec/one " ] &&
        pass "A's first follow brings every pair" || fail "A's first follow: $out"

# ---- a write call with more keys than a head can name: followers dump everything once ----
long=bulk/$(printf 'k%.0s' $(seq 1 180))
dumps_before=$(grep -c '"config-key dump","key":"castle/"}' "$WORK/b.log" || true)
out=$(ask a putmany "$long" 200)
[ "$(result "$out")" = 0 ] && pass "one write call of 200 pairs ($(millis "$out") ms)" || fail "200 pairs: $out"
out=$(ask b follow)
n=$(grep -c "^add $long-" <<<"$out" || true)
dumps=$(($(grep -c '"config-key dump","key":"castle/"}' "$WORK/b.log" || true) - dumps_before))
[ "$n" = 200 ] && [ "$dumps" = 1 ] && pass "B gets all 200 through one full dump (the head could not name them)" ||
        fail "B after 200 pairs in one call: $n pairs, $dumps full dumps"
out=$(ask b follow)
[ "$(result "$out")" = 0 ] && [ -z "$(adds "$out")" ] && pass "and is back to following heads" ||
        fail "the follow after the full dump: $out"

# ---- a value at the limit, binary ----
head -c 45056 /dev/urandom >"$WORK/big"
out=$(ask a putfile blob/big "$WORK/big")
[ "$(result "$out")" = 0 ] && pass "a 44 KiB binary value is stored ($(millis "$out") ms)" || fail "44 KiB value: $out"
out=$(ask b follow)
grep -q '^add blob/big 45056$' <<<"$out" && cmp -s "$WORK/big" "$WORK/b-out/blob_big" &&
        pass "the 44 KiB binary value comes back byte for byte" || fail "the 44 KiB value: $out"
stored=$(ceph_cmd config-key get castle/blob/big | wc -c)
[ "$stored" -lt 65536 ] && pass "the monitors hold it as $stored bytes of text, under their 64 KiB" ||
        fail "the monitors hold $stored bytes"
head -c 45057 /dev/urandom >"$WORK/over"
out=$(ask a putfile blob/over "$WORK/over")
[ "$(result "$out")" = -27 ] && pass "one byte more is refused before it is sent (-EFBIG)" || fail "45057 bytes: $out"

# ---- outside the prefix, through the backend ----
start_tool x coord-x --timeout 3000 --prefix other/
out=$(ask x put k v)
[ "$(result "$out")" = -13 ] && pass "the backend under another prefix is refused (-EACCES)" ||
        fail "a write under other/: $out"
[ "$(ceph_cmd config-key get other/secret)" = hush ] && pass "nothing outside castle/ changed" ||
        fail "other/secret changed"

# ---- the monitor goes away and comes back ----
ceph_stop
out=$(ask a put audit/coord-a/2-1 down)
ms=$(millis "$out")
if [ "$(result "$out")" = -110 ] && [ "$ms" -lt 6000 ]; then
        pass "with the monitor stopped a write fails in $ms ms with -ETIMEDOUT (timeout 3 s)"
else
        fail "with the monitor stopped: $out"
fi
out=$(ask a put audit/coord-a/2-2 still-down)
ms=$(millis "$out")
[ "$(result "$out")" = -110 ] && [ "$ms" -lt 6000 ] && pass "the next write (a new connection) fails in $ms ms too" ||
        fail "the second write with the monitor stopped: $out"
out=$(ask b follow)
[ "$(result "$out")" = -110 ] && pass "a follow fails the same way" || fail "a follow with the monitor stopped: $out"
ceph_restart || { fail "the monitor did not come back"; exit 1; }
out=$(ask a put audit/coord-a/2-3 back)
[ "$(result "$out")" = 0 ] && pass "the same process writes again once the monitor is back" ||
        fail "after the restart: $out"
out=$(ask b follow)
# The first failed write sent its pair (it might have been stored): the next head names it, and
# B looks it up and finds it absent. The second never reached a monitor and is not named.
[ "$(adds "$out")" = "add audit/coord-a/2-3 del audit/coord-a/2-1 " ] &&
        pass "B follows again: the new pair, and the key of the write that timed out looked up (absent)" ||
        fail "B after the restart: $out"

[ "$FAILED" -eq 0 ] || exit 1
