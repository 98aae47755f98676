/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a helper program (lvm, ceph-osd, castlectl-osd) with posix_spawn: an argument vector, no
 * shell, its own process group, a deadline that holds until the child is reaped, and bounded
 * captured output. Synchronously (spawn_capture) or from an event loop (spawn_start). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/timeutil.h"

/* At the deadline the child's whole process group gets SIGTERM, and SIGKILL after this grace:
 * a program that cleans up on SIGTERM (ceph-osd flushes its log) may, and one that ignores it,
 * or a grandchild that does, costs us at most this much more. */
#define SPAWN_KILL_GRACE_USEC (1 * USEC_PER_SEC)

typedef struct SpawnOptions {
        uint64_t timeout_usec;  /* the deadline, from the start; required */
        size_t out_max;         /* more stdout than this is an error (-EFBIG) */
        /* Optional: true once stdout holds everything the caller needs. The child is then
         * left to finish on its own (within its deadline) and reaped by a later call, so that
         * a program's slow exit does not cost the caller (lvm spends ~30 ms in io_destroy()
         * at exit). */
        bool (*out_complete)(const char *out, size_t n);
        const char *in;         /* NULL: stdin is /dev/null; else these bytes (<= PIPE_BUF) */
        const char *path;       /* the program to run; NULL: argv[0], searched in PATH */
        bool pass_stderr;       /* the child writes to our stderr (a daemon's journal) */
        /* Optional: stdout is handed over as it arrives instead of being collected (out_max
         * and out_complete are then unused). Called from spawn_process(). */
        void (*on_output)(const char *buf, size_t n, void *userdata);
        void *userdata;
} SpawnOptions;

typedef struct SpawnResult {
        bool exited;     /* false: output was complete and the child was left to exit */
        int status;      /* exit code, or 128 + signal number; 0 when !exited */
        int signal;      /* the signal that ended it, or 0 */
        char *out;       /* captured stdout, NUL-terminated */
        size_t out_size;
        char *err;       /* captured stderr, NUL-terminated, truncated at 4 KiB */
} SpawnResult;

void spawn_result_done(SpawnResult *r);

/* Runs the program with envp (NULL: our environment) and waits for it. Returns 0 when the
 * program ran to completion (whatever its exit status) or its output was complete, -ENOENT if
 * it is not installed, -ETIMEDOUT if it was killed at the deadline, -EFBIG if stdout
 * exceeded out_max. Returns at the latest SPAWN_KILL_GRACE_USEC twice after the deadline, even
 * if the child cannot be killed (then it is reaped later). */
int spawn_capture(char *const argv[], char *const envp[], const SpawnOptions *o, SpawnResult *ret);

/* The same, from an event loop:
 *
 *         spawn_start(argv, NULL, &o, &s);
 *         watch spawn_get_fd(s) for input, and wake up at spawn_get_wakeup_usec(s) at the latest;
 *         on either, while spawn_process(s) > 0: wait again;
 *         spawn_finish(s, &result); spawn_free(s);
 *
 * The options (and userdata) must outlive the handle. */
typedef struct Spawn Spawn;

int spawn_start(char *const argv[], char *const envp[], const SpawnOptions *o, Spawn **ret);

/* One fd (an epoll set of the output pipes and the child's pidfd) that polls readable when
 * the child wrote, closed its output or exited. */
int spawn_get_fd(const Spawn *s);
pid_t spawn_get_pid(const Spawn *s);
/* When spawn_process() must run even if the fd stayed quiet (CLOCK_MONOTONIC, now_usec()): the
 * deadline, the end of the kill grace, or the next look at the child without a pidfd. */
uint64_t spawn_get_wakeup_usec(const Spawn *s);

/* Reads output, reaps the child once it exited, enforces the deadline. Never blocks. Returns
 * 1 while there is more to wait for, 0 once the child is done: reaped and its output read to
 * the end, or its output complete, or killed at the deadline. */
int spawn_process(Spawn *s);

/* Kills the child's process group now as at the deadline (SIGTERM, SIGKILL after the grace);
 * spawn_finish() then reports -ECANCELED. Keep calling spawn_process() until it returns 0. */
void spawn_kill(Spawn *s);

/* Once spawn_process() returned 0: the outcome as spawn_capture() returns it. */
int spawn_finish(Spawn *s, SpawnResult *ret);

/* Frees the handle. A child that is still running is left to finish on its own and reaped
 * later; spawn_reap_finished() kills its group if it outlives its deadline. */
Spawn *spawn_free(Spawn *s);
static inline void spawn_freep(Spawn **s) {
        *s = spawn_free(*s);
}

/* Reaps children left to exit on their own that have exited by now, and kills those past
 * their deadline; returns how many are still running. Called by spawn_start() too. */
unsigned spawn_reap_finished(void);

/* For tests: behave as on a kernel without pidfd_open() (before Linux 5.3, or a seccomp filter
 * that refuses it) and look at the child with waitpid() every SPAWN_REAP_POLL_USEC. */
#define SPAWN_REAP_POLL_USEC (20 * USEC_PER_MSEC)
void spawn_set_pidfd_enabled(bool b);
