# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of the integration tier: prerequisites (skip with 77 only when a thing is
# truly missing), udevd, loop devices this test made and nothing else, and cleanup that
# runs even when a test fails. What the VM tier shares (reporting, require_cmd, image_digest,
# $TOP) is in base.sh.

# shellcheck source=tests/integration/base.sh
source "$(dirname "${BASH_SOURCE[0]}")/base.sh"

CASTLECTL=${CASTLECTL:-$TOP/castlectl}
LOOPS=()
PIDS=()
MOUNTS=()
SWAPS=()

require_root() {
        [ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, mounts)"
}

# udevd is not running on a fresh machine: start it, as TEST-ENVIRONMENT.md measured.
ensure_udevd() {
        if ! pgrep -x systemd-udevd >/dev/null 2>&1; then
                [ -x /lib/systemd/systemd-udevd ] || skip "systemd-udevd is not installed"
                # udevd outlives the test: it must not keep our descriptors open (a caller's
                # `flock FILE test-X.sh` lock would be held for as long as udevd runs).
                (
                        for fd in /proc/self/fd/*; do
                                fd=${fd##*/}
                                [ "$fd" -gt 2 ] && eval "exec $fd>&-"
                        done 2>/dev/null
                        exec /lib/systemd/systemd-udevd --daemon
                )
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
        for l in "${LOOPS[@]}"; do detach "$l" 2>/dev/null; done
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

# Loop devices. Partitions added with partx (BLKPG) outlive `losetup -d`: the kernel keeps
# them, and whoever attaches an image under that loop number next sees them (a clean image
# "Has partitions"). So every attach first removes the partitions an earlier user left, and
# a detach removes ours; a machine someone else used cannot fail these tests.

# loop_clear_partitions DEV: removes every partition the kernel has for loop device DEV.
loop_clear_partitions() {
        local dev=$1 name=${1#/dev/}
        local try
        compgen -G "/sys/block/$name/${name}p*" >/dev/null || return 0
        # The kernel refuses to delete a partition that is open (EBUSY): udev's blkid probes a
        # partition right after it appears, so let udev finish and try again for a while.
        for try in $(seq 50); do
                udevadm settle --timeout=30 || true
                partx -d "$dev" 2>/dev/null && break
                compgen -G "/sys/block/$name/${name}p*" >/dev/null || break
                sleep 0.2
        done
        if compgen -G "/sys/block/$name/${name}p*" >/dev/null; then
                echo "FAIL: cannot remove the partitions of $dev: $(cd "/sys/block/$name" && echo "${name}"p*)" \
                        "($(partx -d "$dev" 2>&1))"
                return 1
        fi
        udevadm settle --timeout=30 || true
}

# attach IMAGE [losetup options...]: attaches IMAGE to the first free loop device, sets
# ATTACHED to it and remembers it for cleanup (not in a subshell, so the list keeps it).
attach() {
        local img=$1
        shift
        ATTACHED=$(losetup -f --show "$@" "$img")
        LOOPS+=("$ATTACHED")
        loop_clear_partitions "$ATTACHED"
}

# attach_at N IMAGE [losetup options...]: the same as /dev/loopN.
attach_at() {
        local n=$1 img=$2
        shift 2
        [ -e "/dev/loop$n" ] || mknod "/dev/loop$n" b 7 "$n"
        losetup "$@" "/dev/loop$n" "$img"
        ATTACHED=/dev/loop$n
        LOOPS+=("$ATTACHED")
        loop_clear_partitions "$ATTACHED"
}

# detach DEV: removes loop device DEV's partitions, then the device (cleanup does this for
# every attached one; a test detaches with it to see a disk go away).
detach() {
        loop_clear_partitions "$1"
        losetup -d "$1"
}

# fingerprint IMAGE: image_digest once what the loop devices wrote is on disk.
fingerprint() {
        sync
        image_digest "$1"
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

# wait_for DESCRIPTION COMMAND...: retries until the command succeeds, for 20 s (or
# WAIT_SECONDS) of the clock: a command that itself takes seconds (ceph on a busy machine)
# does not stretch the bound.
wait_for() {
        local what=$1 deadline=$((SECONDS + ${WAIT_SECONDS:-20}))
        shift
        while :; do
                if "$@" >/dev/null 2>&1; then
                        pass "$what"
                        return 0
                fi
                [ "$SECONDS" -lt "$deadline" ] || break
                sleep 0.1
        done
        fail "$what (gave up after ${WAIT_SECONDS:-20} s)"
        return 1
}
