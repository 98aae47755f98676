/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a helper program (lvm, later ceph-osd) with posix_spawn: an argument vector, no
 * shell, a deadline, and bounded captured output for parsing and error messages. */
#pragma once

#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct SpawnOptions {
        uint64_t timeout_usec;
        size_t out_max;         /* more stdout than this is an error */
        /* Optional: true once stdout holds everything the caller needs. The child is then
         * left to finish on its own and reaped by a later call, so that a program's slow
         * exit does not cost the caller (lvm spends ~30 ms in io_destroy() at exit). */
        bool (*out_complete)(const char *out, size_t n);
        const char *in;         /* NULL: stdin is /dev/null; else these bytes (<= PIPE_BUF) */
} SpawnOptions;

typedef struct SpawnResult {
        bool exited;     /* false: output was complete and the child was left to exit */
        int status;      /* exit code, or 128 + signal number; 0 when !exited */
        char *out;       /* captured stdout, NUL-terminated */
        size_t out_size;
        char *err;       /* captured stderr, NUL-terminated, truncated at err_max */
} SpawnResult;

void spawn_result_done(SpawnResult *r);

/* Attributes every child gets: no blocked signals and default dispositions. A daemon blocks
 * SIGTERM, SIGINT and SIGHUP for its signalfd; a child inheriting that mask (ceph-osd,
 * castlectl-osd) would ignore the SIGTERM meant to stop it. */
int spawn_attr_init(posix_spawnattr_t *a);

/* Runs argv[0] (searched in PATH) with envp (NULL: our environment). Returns 0 when the
 * program ran to completion (whatever its exit status) or its output was complete, -ENOENT if
 * it is not installed, -ETIMEDOUT if it was killed at the deadline, -EFBIG if stdout
 * exceeded out_max. */
int spawn_capture(char *const argv[], char *const envp[], const SpawnOptions *o, SpawnResult *ret);

/* Reaps children left to exit on their own that have exited by now; returns how many are
 * still running. Called by spawn_capture() too. */
unsigned spawn_reap_finished(void);
