# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of the VM tier: prerequisites (skip with 77 only when qemu, a kernel or
# busybox-static is truly missing, or not root), a work directory the guest can write to,
# and vm_run, which boots a guest through tests/vm/run with that directory shared. What the
# integration tier has too (reporting, require_cmd, image_digest, $TOP) is in base.sh there.

# shellcheck source=tests/integration/base.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/base.sh"

VM_RUN=$TOP/tests/vm/run
VM_QMP=$TOP/tests/vm/qmp
CASTLECTL=${CASTLECTL:-$TOP/build/werror/castlectl}
export CASTLECTL
BUILD=$(dirname "$CASTLECTL")
# Per boot; TCG on a shared 2-core machine is slow, so be generous.
VM_TIMEOUT=${VM_TIMEOUT:-300}

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
