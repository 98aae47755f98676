/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* posix_spawn with a deadline and captured output. Every fd we own is O_CLOEXEC, so the
 * child inherits only the three we set up; nothing loops over the fd table. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/timeutil.h"

extern char **environ;

/* Children whose output was complete before they exited. */
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t pending[16];

unsigned spawn_reap_finished(void) {
        unsigned left = 0;

        pthread_mutex_lock(&pending_lock);
        for (size_t i = 0; i < ELEMENTSOF(pending); i++) {
                if (pending[i] <= 0)
                        continue;
                if (waitpid(pending[i], NULL, WNOHANG) != 0)
                        pending[i] = 0; /* reaped, or not our child any more */
                else
                        left++;
        }
        pthread_mutex_unlock(&pending_lock);
        return left;
}

/* Returns false when there is no room: the caller then waits for the child itself. */
static bool reap_later(pid_t pid) {
        bool ok = false;

        pthread_mutex_lock(&pending_lock);
        for (size_t i = 0; i < ELEMENTSOF(pending) && !ok; i++)
                if (pending[i] <= 0) {
                        pending[i] = pid;
                        ok = true;
                }
        pthread_mutex_unlock(&pending_lock);
        return ok;
}

int spawn_attr_init(posix_spawnattr_t *a) {
        sigset_t none, all;
        int r;

        r = posix_spawnattr_init(a);
        if (r != 0)
                return r;
        sigemptyset(&none);
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        r = posix_spawnattr_setsigmask(a, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(a, &all);
        if (r == 0)
                r = posix_spawnattr_setflags(a, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        return r;
}

void spawn_result_done(SpawnResult *r) {
        free(r->out);
        free(r->err);
        *r = (SpawnResult) {};
}

typedef struct Sink {
        int fd;
        char *buf;
        size_t n, max;
        bool overflow;
} Sink;

static int sink_read(Sink *s) {
        char tmp[16384];
        ssize_t k = read(s->fd, tmp, sizeof tmp);

        if (k < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : -errno;
        if (k == 0) {
                s->fd = safe_close(s->fd);
                return 0;
        }
        if (s->n + (size_t) k > s->max) {
                s->overflow = true;
                k = (ssize_t) (s->max - s->n);
        }
        if (k > 0) {
                char *b = realloc(s->buf, s->n + (size_t) k + 1);
                if (!b)
                        return -ENOMEM;
                s->buf = b;
                memcpy(s->buf + s->n, tmp, (size_t) k);
                s->n += (size_t) k;
                s->buf[s->n] = 0;
        }
        return 1;
}

int spawn_capture(char *const argv[], char *const envp[], const SpawnOptions *o, SpawnResult *ret) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF,
                           null_fd = -EBADF;
        posix_spawn_file_actions_t fa;
        Sink sinks[2] = {};
        uint64_t start = now_usec(), deadline = start + o->timeout_usec;
        bool timed_out = false, complete = false, exited = true;
        int pipe_out[2], pipe_err[2], status, r;
        pid_t pid;

        if (pipe2(pipe_out, O_CLOEXEC) < 0)
                return -errno;
        out_r = pipe_out[0], out_w = pipe_out[1];
        if (pipe2(pipe_err, O_CLOEXEC) < 0)
                return -errno;
        err_r = pipe_err[0], err_w = pipe_err[1];
        if (o->in) {
                /* A few bytes (a secret): they fit the pipe buffer, so write them all now. */
                int pipe_in[2];
                size_t n = strlen(o->in);

                if (n > PIPE_BUF)
                        return -E2BIG;
                if (pipe2(pipe_in, O_CLOEXEC) < 0)
                        return -errno;
                null_fd = pipe_in[0];
                ssize_t k = write(pipe_in[1], o->in, n);
                r = k < 0 ? -errno : 0;
                safe_close(pipe_in[1]);
                if (r < 0)
                        return r;
        } else {
                null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null_fd < 0)
                        return -errno;
        }

        (void) spawn_reap_finished();
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        posix_spawn_file_actions_adddup2(&fa, null_fd, STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
        posix_spawnattr_t attr;
        r = spawn_attr_init(&attr);
        if (r == 0)
                r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp ?: environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return -r; /* glibc reports exec failures here: ENOENT if not installed */
        out_w = safe_close(out_w);
        err_w = safe_close(err_w);

        sinks[0] = (Sink) { .fd = TAKE_FD(out_r), .max = o->out_max };
        sinks[1] = (Sink) { .fd = TAKE_FD(err_r), .max = 4096 };
        r = 0;
        while (sinks[0].fd >= 0 || sinks[1].fd >= 0) {
                struct pollfd p[2];
                int64_t left = (int64_t) (deadline - now_usec());
                nfds_t n = 0;
                Sink *which[2];

                if (left <= 0) {
                        timed_out = true;
                        break;
                }
                for (size_t i = 0; i < 2; i++)
                        if (sinks[i].fd >= 0) {
                                p[n] = (struct pollfd) { .fd = sinks[i].fd, .events = POLLIN };
                                which[n++] = &sinks[i];
                        }
                if (poll(p, n, (int) MIN(left / 1000 + 1, 60000)) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                for (nfds_t i = 0; i < n; i++)
                        if (p[i].revents) {
                                int k = sink_read(which[i]);
                                if (k < 0) {
                                        r = k;
                                        break;
                                }
                        }
                if (r < 0 || sinks[0].overflow)
                        break;
                if (o->out_complete && sinks[0].buf && o->out_complete(sinks[0].buf, sinks[0].n)) {
                        complete = true;
                        break;
                }
        }
        if (timed_out || r < 0 || sinks[0].overflow)
                kill(pid, SIGKILL);
        for (size_t i = 0; i < 2; i++)
                safe_close(sinks[i].fd);
        status = 0;
        if (complete && waitpid(pid, &status, WNOHANG) == 0 && reap_later(pid))
                exited = false;
        else
                while (exited && waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR) {
                                status = 0;
                                break;
                        }

        if (timed_out)
                r = -ETIMEDOUT;
        else if (r == 0 && sinks[0].overflow)
                r = -EFBIG;
        log_debug("%s %s: %s after %.1f ms", argv[0], argv[1] ? argv[1] : "",
                  r < 0 ? strerror(-r) : !exited ? "output complete" : WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "done" : "failed",
                  (double) (now_usec() - start) / 1000);
        if (r < 0) {
                free(sinks[0].buf);
                free(sinks[1].buf);
                return r;
        }
        *ret = (SpawnResult) {
                .exited = exited,
                .status = !exited ? 0 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                .out = sinks[0].buf ?: strdup(""),
                .out_size = sinks[0].n,
                .err = sinks[1].buf ?: strdup(""),
        };
        return 0;
}
