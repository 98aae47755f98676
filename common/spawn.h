/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a helper program (lvm, later ceph-osd) with posix_spawn: an argument vector, no
 * shell, a deadline, and bounded captured output for parsing and error messages. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct SpawnResult {
        int status;      /* exit code, or 128 + signal number */
        char *out;       /* captured stdout, NUL-terminated */
        size_t out_size;
        char *err;       /* captured stderr, NUL-terminated, truncated at err_max */
} SpawnResult;

void spawn_result_done(SpawnResult *r);

/* Runs argv[0] (searched in PATH) with envp (NULL: our environment). Returns 0 when the
 * program ran to completion (whatever its exit status), -ENOENT if it is not installed,
 * -ETIMEDOUT if it was killed at the deadline, -EFBIG if stdout exceeded out_max. */
int spawn_capture(char *const argv[], char *const envp[], uint64_t timeout_usec, size_t out_max,
                  SpawnResult *ret);
