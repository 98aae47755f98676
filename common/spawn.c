/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* posix_spawn with a deadline that holds until the child is reaped, and captured output. The
 * child leads its own process group, so that the deadline reaches whatever it started; every fd
 * we own is O_CLOEXEC, so the child inherits only the three we set up. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/timeutil.h"

#define SPAWN_ERR_MAX 4096
#define SPAWN_READ_CHUNK 16384

extern char **environ;

static bool pidfd_enabled = true;

void spawn_set_pidfd_enabled(bool b) {
        pidfd_enabled = b;
}

/* Sends sig to the child's process group; to the child alone if it left the group. The child
 * is not reaped yet when this is called, so its pid still names it and its group. */
static void kill_group(pid_t pid, int sig) {
        if (kill(-pid, sig) < 0)
                (void) kill(pid, sig);
}

/* Children left to exit on their own (their output was complete, or their handle was freed),
 * each with the deadline it was started with. */
typedef struct Pending {
        pid_t pid;
        uint64_t deadline;
        bool killed;
} Pending;

static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static Pending pending[32];

unsigned spawn_reap_finished(void) {
        uint64_t now = now_usec();
        unsigned left = 0;

        pthread_mutex_lock(&pending_lock);
        for (size_t i = 0; i < ELEMENTSOF(pending); i++) {
                Pending *p = &pending[i];

                if (p->pid <= 0)
                        continue;
                if (waitpid(p->pid, NULL, WNOHANG) != 0) {
                        *p = (Pending) {}; /* reaped, or not our child any more */
                        continue;
                }
                if (!p->killed && now >= p->deadline) {
                        kill_group(p->pid, SIGKILL);
                        p->killed = true;
                }
                left++;
        }
        pthread_mutex_unlock(&pending_lock);
        return left;
}

/* Returns false when there is no room. */
static bool reap_later(pid_t pid, uint64_t deadline) {
        bool ok = false;

        pthread_mutex_lock(&pending_lock);
        for (size_t i = 0; i < ELEMENTSOF(pending) && !ok; i++)
                if (pending[i].pid <= 0) {
                        pending[i] = (Pending) { .pid = pid, .deadline = deadline };
                        ok = true;
                }
        pthread_mutex_unlock(&pending_lock);
        return ok;
}

/* Attributes every child gets: its own process group, no blocked signals and default
 * dispositions. A daemon blocks SIGTERM, SIGINT and SIGHUP for its signalfd; a child inheriting
 * that mask (ceph-osd, castlectl-osd) would ignore the SIGTERM meant to stop it. */
static int spawn_attr_init(posix_spawnattr_t *a) {
        sigset_t none, all;
        int r;

        r = posix_spawnattr_init(a);
        if (r != 0)
                return -r;
        sigemptyset(&none);
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        r = posix_spawnattr_setsigmask(a, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(a, &all);
        if (r == 0)
                r = posix_spawnattr_setpgroup(a, 0);
        if (r == 0)
                r = posix_spawnattr_setflags(a, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                        POSIX_SPAWN_SETPGROUP);
        if (r != 0) {
                posix_spawnattr_destroy(a);
                return -r;
        }
        return 0;
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

struct Spawn {
        SpawnOptions o;
        char *name;             /* for debug logs: the program and its first argument */
        pid_t pid;
        int pidfd;              /* -EBADF: none, or the child has exited */
        int epfd;
        Sink sinks[2];          /* stdout, stderr */
        uint64_t start, deadline;
        uint64_t kill_at;       /* SIGTERM was sent; SIGKILL is due then. 0: not killing */
        uint64_t give_up_at;    /* SIGKILL was sent; stop waiting for the child then. 0: not yet */
        bool exited;            /* the child has exited (it may not be reaped yet) */
        bool reaped;
        bool detached;          /* left to exit: in pending[] */
        bool complete;          /* out_complete() said so */
        bool done;
        int exit_status, signal;
        int error;              /* why it was killed, or an error while reading */
};

static void sink_close(Spawn *s, Sink *k) {
        if (k->fd < 0)
                return;
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, k->fd, NULL);
        k->fd = safe_close(k->fd);
}

/* One read, so that a child writing without pause cannot keep us from its deadline. Returns
 * 1 if stdout got more, 0 if not, -errno on error. */
static int sink_read(Spawn *s, Sink *k, bool is_stdout) {
        char tmp[SPAWN_READ_CHUNK];
        ssize_t n;

        if (k->fd < 0)
                return 0;
        n = read(k->fd, tmp, sizeof tmp);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        if (n == 0) {
                sink_close(s, k);
                return 0;
        }
        if (is_stdout && s->o.on_output) {
                s->o.on_output(tmp, (size_t) n, s->o.userdata);
                return 0;
        }
        if (k->n + (size_t) n > k->max) {
                k->overflow = true;
                n = (ssize_t) (k->max - k->n);
        }
        if (n > 0) {
                char *b = realloc(k->buf, k->n + (size_t) n + 1);
                if (!b)
                        return -ENOMEM;
                k->buf = b;
                memcpy(k->buf + k->n, tmp, (size_t) n);
                k->n += (size_t) n;
                k->buf[k->n] = 0;
        }
        return is_stdout;
}

static void begin_kill(Spawn *s, int error) {
        if (s->error == 0)
                s->error = error;
        if (s->kill_at > 0)
                return;
        s->kill_at = now_usec() + SPAWN_KILL_GRACE_USEC;
        if (!s->reaped)
                kill_group(s->pid, SIGTERM);
}

void spawn_kill(Spawn *s) {
        if (!s->done)
                begin_kill(s, -ECANCELED);
}

/* Whether the child has exited, without reaping it: until it is reaped its pid keeps naming
 * its process group, so the group can still be killed safely. */
static void check_exited(Spawn *s) {
        siginfo_t si = {};

        if (s->exited)
                return;
        if (waitid(P_PID, (id_t) s->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                if (errno == EINTR)
                        return;
                /* ECHILD: someone reaped it (SIGCHLD ignored). Its status is lost. */
                s->exited = s->reaped = true;
        } else if (si.si_pid != s->pid)
                return;
        else if (si.si_code == CLD_EXITED)
                s->exit_status = si.si_status;
        else
                s->signal = si.si_status;
        s->exited = true;
        if (s->pidfd >= 0) {
                (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
                s->pidfd = safe_close(s->pidfd);
        }
}

static void reap(Spawn *s) {
        if (s->reaped)
                return;
        while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        s->reaped = true;
}

int spawn_process(Spawn *s) {
        uint64_t now;
        int r;

        if (s->done)
                return 0;
        if (s->kill_at == 0) {
                Sink *out = &s->sinks[0];

                r = sink_read(s, out, true);
                if (r > 0 && s->o.out_complete && out->buf && s->o.out_complete(out->buf, out->n))
                        s->complete = true;
                if (r >= 0)
                        r = sink_read(s, &s->sinks[1], false);
                if (r < 0)
                        begin_kill(s, r);
                else if (s->sinks[0].overflow)
                        begin_kill(s, -EFBIG);
        }
        check_exited(s);
        now = now_usec();
        if (s->kill_at == 0 && now >= s->deadline)
                begin_kill(s, -ETIMEDOUT);

        if (s->kill_at > 0) {
                /* Once the child is gone or the grace is over, SIGKILL reaches whatever is left
                 * of its group: a grandchild holding our pipes, a child ignoring SIGTERM. The
                 * child is not reaped before that, so its pid still names the group. */
                if (s->give_up_at == 0 && (s->exited || now >= s->kill_at)) {
                        if (!s->reaped)
                                kill_group(s->pid, SIGKILL);
                        s->give_up_at = now + SPAWN_KILL_GRACE_USEC;
                }
                if (s->exited)
                        reap(s);
                else if (s->give_up_at > 0 && now >= s->give_up_at)
                        /* Not even SIGKILL ends it (stuck in the kernel on a hung disk). */
                        s->detached = reap_later(s->pid, s->deadline);
                else
                        return 1;
        } else if (s->complete) {
                if (s->exited)
                        reap(s);
                else if (!(s->detached = reap_later(s->pid, s->deadline)))
                        return 1; /* no room: wait for it after all */
        } else if (s->exited && s->sinks[0].fd < 0 && s->sinks[1].fd < 0)
                reap(s);
        else
                return 1;

        s->done = true;
        log_debug("%s: %s after %.1f ms", s->name,
                  s->error < 0 ? strerror(-s->error) : s->detached ? "output complete"
                  : s->exit_status == 0 && s->signal == 0 ? "done" : "failed",
                  (double) (now_usec() - s->start) / 1000);
        return 0;
}

int spawn_get_fd(const Spawn *s) {
        return s->epfd;
}

pid_t spawn_get_pid(const Spawn *s) {
        return s->pid;
}

uint64_t spawn_get_wakeup_usec(const Spawn *s) {
        uint64_t t = s->give_up_at ?: s->kill_at ?: s->deadline;

        if (!s->exited && s->pidfd < 0)
                t = MIN(t, now_usec() + SPAWN_REAP_POLL_USEC);
        return t;
}

static int pidfd_open_child(pid_t pid) {
#ifdef SYS_pidfd_open
        if (!pidfd_enabled)
                return -ENOSYS;
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -errno : fd; /* pidfds are always close-on-exec */
#else
        return -ENOSYS;
#endif
}

static int epoll_add(int epfd, int fd) {
        struct epoll_event ev = { .events = EPOLLIN };

        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* stdin for the child: /dev/null, or a pipe that already holds the few bytes of o->in (a
 * secret) and is closed at our end. */
static int open_stdin(const char *in) {
        _cleanup_close_ int w = -EBADF;
        int p[2];
        size_t n;

        if (!in) {
                int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                return fd < 0 ? -errno : fd;
        }
        n = strlen(in);
        if (n > PIPE_BUF)
                return -E2BIG;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        w = p[1];
        if (write(w, in, n) != (ssize_t) n) {
                safe_close(p[0]);
                return -EIO;
        }
        return p[0];
}

int spawn_start(char *const argv[], char *const envp[], const SpawnOptions *o, Spawn **ret) {
        _cleanup_close_ int in_fd = -EBADF, out_w = -EBADF, err_w = -EBADF;
        _cleanup_(spawn_freep) Spawn *s = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        int p[2], r;

        if (o->timeout_usec == 0 || !argv[0])
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        *s = (Spawn) {
                .o = *o,
                .pid = -1,
                .pidfd = -EBADF,
                .sinks = { { .fd = -EBADF, .max = o->out_max }, { .fd = -EBADF, .max = SPAWN_ERR_MAX } },
                .start = now_usec(),
                .done = true, /* until the child runs: spawn_free() has nothing to wait for */
        };
        s->o.in = NULL;
        s->deadline = s->start + o->timeout_usec;
        if (asprintf(&s->name, "%s%s%s", argv[0], argv[1] ? " " : "", strempty(argv[1])) < 0) {
                s->name = NULL;
                return -ENOMEM;
        }
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (s->epfd < 0)
                return -errno;

        in_fd = open_stdin(o->in);
        if (in_fd < 0)
                return in_fd;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        s->sinks[0].fd = p[0], out_w = p[1];
        if (!o->pass_stderr) {
                if (pipe2(p, O_CLOEXEC) < 0)
                        return -errno;
                s->sinks[1].fd = p[0], err_w = p[1];
        }
        for (size_t i = 0; i < ELEMENTSOF(s->sinks); i++) {
                if (s->sinks[i].fd < 0)
                        continue;
                /* Only our ends: the child's must block when the pipe is full. */
                if (fcntl(s->sinks[i].fd, F_SETFL, O_NONBLOCK) < 0)
                        return -errno;
                r = epoll_add(s->epfd, s->sinks[i].fd);
                if (r < 0)
                        return r;
        }

        (void) spawn_reap_finished();
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
        if (r == 0 && err_w >= 0)
                r = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        r = spawn_attr_init(&attr);
        if (r == 0) {
                /* glibc reports exec failures here: ENOENT if not installed */
                if (o->path)
                        r = -posix_spawn(&s->pid, o->path, &fa, &attr, argv, envp ?: environ);
                else
                        r = -posix_spawnp(&s->pid, argv[0], &fa, &attr, argv, envp ?: environ);
                posix_spawnattr_destroy(&attr);
        }
        posix_spawn_file_actions_destroy(&fa);
        if (r < 0)
                return r;
        s->done = false;

        s->pidfd = pidfd_open_child(s->pid);
        if (s->pidfd >= 0 && epoll_add(s->epfd, s->pidfd) < 0)
                s->pidfd = safe_close(s->pidfd);
        /* Without a pidfd, spawn_get_wakeup_usec() has us look with waitpid() every
         * SPAWN_REAP_POLL_USEC. */
        *ret = TAKE_PTR(s);
        return 0;
}

int spawn_finish(Spawn *s, SpawnResult *ret) {
        char *out, *err;

        if (!s->done)
                return -EBUSY;
        if (s->error < 0)
                return s->error;
        out = s->sinks[0].buf ?: strdup("");
        err = s->sinks[1].buf ?: strdup("");
        if (!out || !err) {
                if (out != s->sinks[0].buf)
                        free(out);
                if (err != s->sinks[1].buf)
                        free(err);
                return -ENOMEM;
        }
        *ret = (SpawnResult) {
                .exited = !s->detached,
                .status = s->detached ? 0 : s->signal > 0 ? 128 + s->signal : s->exit_status,
                .signal = s->detached ? 0 : s->signal,
                .out = out,
                .out_size = s->sinks[0].n,
                .err = err,
        };
        s->sinks[0].buf = s->sinks[1].buf = NULL;
        s->sinks[0].n = s->sinks[1].n = 0;
        return 0;
}

Spawn *spawn_free(Spawn *s) {
        if (!s)
                return NULL;
        if (!s->done && !s->reaped && !s->detached && !reap_later(s->pid, s->deadline)) {
                /* No room to keep track of it: do not leave it running unbounded. */
                kill_group(s->pid, SIGKILL);
                if (waitpid(s->pid, NULL, WNOHANG) == 0)
                        log_debug("%s: left behind, killed but not reaped", s->name);
        }
        for (size_t i = 0; i < ELEMENTSOF(s->sinks); i++) {
                safe_close(s->sinks[i].fd);
                free(s->sinks[i].buf);
        }
        safe_close(s->pidfd);
        safe_close(s->epfd);
        free(s->name);
        free(s);
        return NULL;
}

int spawn_capture(char *const argv[], char *const envp[], const SpawnOptions *o, SpawnResult *ret) {
        _cleanup_(spawn_freep) Spawn *s = NULL;
        int r;

        r = spawn_start(argv, envp, o, &s);
        if (r < 0)
                return r;
        while (spawn_process(s) > 0) {
                uint64_t now = now_usec(), wakeup = spawn_get_wakeup_usec(s);
                int ms = wakeup <= now ? 0 : (int) MIN((wakeup - now + 999) / 1000, (uint64_t) INT_MAX);

                (void) poll(&(struct pollfd) { .fd = spawn_get_fd(s), .events = POLLIN }, 1, ms);
        }
        return spawn_finish(s, ret);
}
