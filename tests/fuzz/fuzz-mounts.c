/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mount table parsers (discovery/mounts.c): every input is read as /proc/PID/mountinfo
 * and as /proc/swaps into one table, as mount_table_load() reads a captured tree, and each
 * mount point is checked against the OS's own mount points, as the verdict does. */
#include "discovery/mounts.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_quiet();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        _cleanup_(mount_table_freep) MountTable *t = calloc(1, sizeof(MountTable));

        fuzz_require(t);
        (void) mount_table_parse_mountinfo(t, text);
        (void) mount_table_parse_swaps(t, text);
        for (size_t i = 0; i < t->n_mounts; i++) {
                fuzz_require(t->mounts[i].mountpoint && t->mounts[i].fstype);
                (void) mountpoint_is_os(t->mounts[i].mountpoint);
        }
        return 0;
}
