# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of the integration tier: prerequisites (skip with 77 only when a thing is
# truly missing), udevd, loop devices this test made and nothing else, and cleanup that
# runs even when a test fails.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CASTLECTL=${CASTLECTL:-$TOP/castlectl}
WORK=""
LOOPS=()
PIDS=()
MOUNTS=()
SWAPS=()
CLEANUP_HOOKS=()
FAILED=0

skip() {
        echo "SKIP: $*"
        exit 77
}

fail() {
        echo "FAIL: $*"
        FAILED=$((FAILED + 1))
}

pass() {
        echo "ok: $*"
}

require_root() {
        [ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, mounts)"
}

require_cmd() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (scripts/install-deps installs it)"
        done
}

# udevd is not running on a fresh machine: start it, as TEST-ENVIRONMENT.md measured.
ensure_udevd() {
        if ! pgrep -x systemd-udevd >/dev/null 2>&1; then
                [ -x /lib/systemd/systemd-udevd ] || skip "systemd-udevd is not installed"
                /lib/systemd/systemd-udevd --daemon
                udevadm trigger --action=add --subsystem-match=block
        fi
        udevadm settle --timeout=30
}

cleanup() {
        local rc=$? m s p l f h
        set +e
        if [ "$rc" -ne 0 ] || [ "$FAILED" -gt 0 ]; then
                # What the daemons said, for whoever reads a failed run.
                for f in "$WORK"/*.log; do
                        [ -f "$f" ] && { echo "--- $(basename "$f") (last 40 lines)"; tail -40 "$f"; }
                done
        fi
        for h in "${CLEANUP_HOOKS[@]}"; do "$h"; done
        for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
        for s in "${SWAPS[@]}"; do swapoff "$s" 2>/dev/null; done
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        for l in "${LOOPS[@]}"; do
                partx -d "$l" 2>/dev/null
                losetup -d "$l" 2>/dev/null
        done
        [ -n "$WORK" ] && rm -rf "$WORK"
        if [ "$rc" -eq 0 ] && [ "$FAILED" -gt 0 ]; then rc=1; fi
        exit "$rc"
}

setup_work() {
        WORK=$(mktemp -d /var/tmp/castle-test.XXXXXX)
        trap cleanup EXIT
        trap 'exit 130' INT TERM
}

# new_image NAME SIZE: a sparse backing file.
new_image() {
        truncate -s "$2" "$WORK/$1.img"
        echo "$WORK/$1.img"
}

# attach IMAGE [losetup options...]: sets ATTACHED to the new loop device and remembers it
# for cleanup (not in a subshell, so the cleanup list keeps it).
attach() {
        local img=$1
        shift
        ATTACHED=$(losetup -f --show "$@" "$img")
        LOOPS+=("$ATTACHED")
}

# fingerprint IMAGE: a hash of every data extent and its offset. Holes read as zeros, so this
# covers every byte of a sparse image without reading gigabytes of zeros.
fingerprint() {
        sync
        python3 - "$1" <<'PY'
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
h = hashlib.sha256(str(size).encode())
off = 0
while off < size:
    try:
        start = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fd, start, os.SEEK_HOLE)
    pos = start
    while pos < end:
        chunk = os.pread(fd, min(1 << 20, end - pos), pos)
        if not chunk:
            break
        if chunk.count(0) != len(chunk):
            h.update(str(pos).encode())
            h.update(chunk)
        pos += len(chunk)
    off = end
print(h.hexdigest())
PY
}

# free_loop_base N: the first multiple of N from 200 up whose N loop numbers are all unused,
# so that a test can attach devices under names it knows (and filter on them).
free_loop_base() {
        local size=$1 b n free
        for b in $(seq 200 "$size" 980); do
                free=1
                for n in $(seq "$b" $((b + size - 1))); do
                        [ -e "/sys/block/loop$n/loop/backing_file" ] && { free=0; break; }
                done
                [ "$free" = 1 ] && { echo "$b"; return 0; }
        done
        return 1
}

# attach_at N IMAGE: attaches IMAGE as /dev/loopN; sets ATTACHED.
attach_at() {
        [ -e "/dev/loop$1" ] || mknod "/dev/loop$1" b 7 "$1"
        losetup "/dev/loop$1" "$2"
        ATTACHED=/dev/loop$1
        LOOPS+=("$ATTACHED")
}

# wait_for DESCRIPTION COMMAND...: retries until the command succeeds (20 s at most, or
# WAIT_SECONDS).
wait_for() {
        local what=$1 i
        shift
        for i in $(seq $((${WAIT_SECONDS:-20} * 10))); do
                if "$@" >/dev/null 2>&1; then
                        pass "$what"
                        return 0
                fi
                sleep 0.1
        done
        fail "$what (gave up after ${WAIT_SECONDS:-20} s)"
        return 1
}
