# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of the VM tier: prerequisites (skip with 77 only when qemu, a kernel or
# busybox-static is truly missing, or not root), a work directory the guest can write to,
# and vm_run, which boots a guest through tests/vm/run with that directory shared.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_RUN=$TOP/tests/vm/run
VM_QMP=$TOP/tests/vm/qmp
CASTLECTL=${CASTLECTL:-$TOP/build/werror/castlectl}
export CASTLECTL
BUILD=$(dirname "$CASTLECTL")
# Per boot; TCG on a shared 2-core machine is slow, so be generous.
VM_TIMEOUT=${VM_TIMEOUT:-300}
WORK=""
FAILED=0
CLEANUP_HOOKS=()

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

# require_vm: root, qemu-system-x86_64, a Debian kernel with its modules, busybox-static.
require_vm() {
        local k found=0
        [ "$(id -u)" -eq 0 ] || skip "needs root (qemu shares the host's / with the guest)"
        command -v qemu-system-x86_64 >/dev/null 2>&1 ||
                skip "qemu-system-x86_64 is not installed (qemu-system-x86, scripts/install-deps)"
        for k in /boot/vmlinuz-*; do
                [ -e "$k" ] && [ -d "/lib/modules/${k#/boot/vmlinuz-}" ] && found=1
        done
        [ "$found" = 1 ] || skip "no kernel with modules in /boot (linux-image-amd64, scripts/install-deps)"
        [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || skip "busybox is not installed (busybox-static, scripts/install-deps)"
}

require_built() {
        local b
        for b in "$@"; do [ -x "$b" ] || skip "$b is not built"; done
}

require_cmd() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (scripts/install-deps installs it)"
        done
}

# image_digest FILE: a digest of a (sparse) disk image's whole content, read on the host:
# the size and every 1 MiB chunk that is not all zeros, with its offset. Holes are skipped
# (SEEK_DATA), so a 10G image with little data takes a moment; two images have the same
# digest exactly when every byte is the same.
image_digest() {
        python3 - "$1" <<'PY'
import hashlib, os, sys
CH = 1 << 20
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
h = hashlib.sha256(b"size %d\n" % size)
pos = 0
while pos < size:
        try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
                break  # ENXIO: only a hole is left
        pos = max(pos, data - data % CH)
        hole = os.lseek(fd, data, os.SEEK_HOLE)
        while pos < hole:
                buf = os.pread(fd, CH, pos)
                if buf.count(0) != len(buf):
                        h.update(b"%d " % pos + hashlib.sha256(buf).digest())
                pos += CH
print(h.hexdigest())
PY
}

cleanup() {
        local rc=$? h
        set +e
        for h in "${CLEANUP_HOOKS[@]}"; do "$h"; done
        if [ "$rc" -ne 0 ] || [ "$FAILED" -gt 0 ]; then
                echo "work directory kept for inspection: $WORK"
        else
                [ -n "$WORK" ] && rm -rf "$WORK"
        fi
        if [ "$rc" -eq 0 ] && [ "$FAILED" -gt 0 ]; then rc=1; fi
        exit "$rc"
}

# setup_work: $WORK, shared writable with every guest this test boots (same path inside).
setup_work() {
        WORK=$(mktemp -d /var/tmp/castle-vmtest.XXXXXX)
        trap cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
}

# vm_run [run options] -- COMMAND...: boots a guest with $WORK shared. run's own exit status
# (the command's, 124 timeout, 125 guest failure) is returned.
vm_run() {
        "$VM_RUN" --share "$WORK" --timeout "$VM_TIMEOUT" "$@"
}

# guest_script NAME: reads a bash script on stdin into $WORK/NAME (run it in the guest
# with: vm_run ... -- bash "$WORK/NAME"). The script sees $WORK, $CASTLECTL, $BUILD and $TOP
# (the source tree, wherever the build is).
guest_script() {
        {
                echo "set -uo pipefail"
                printf 'WORK=%q CASTLECTL=%q BUILD=%q TOP=%q\n' "$WORK" "$CASTLECTL" "$BUILD" "$TOP"
                cat
        } >"$WORK/$1"
}
