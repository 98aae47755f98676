# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034 # its variables are for the scripts that source it
# What both test tiers share, sourced first by tests/integration/lib.sh and tests/vm/lib.sh:
# strict mode, the source tree ($TOP, from this file's path wherever the build is), how a test
# reports (pass, fail, skip with 77 and the reason), the commands it needs, and a digest of a
# sparse disk image.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
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

require_cmd() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (scripts/install-deps installs it)"
        done
}

# image_digest FILE: a digest of a (sparse) disk image's whole content: the size and every
# 1 MiB chunk that is not all zeros, with its offset. Holes are skipped (SEEK_DATA), so a 10G
# image with little data takes a moment; two images have the same digest exactly when every
# byte is the same.
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
