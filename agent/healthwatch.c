/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk health on a thread of its own: a table of the disks the last scan saw, each with its
 * last reading and when the next is due, shared with the scan worker under a mutex. The thread
 * reads one disk at a time without the lock (a read may take up to its deadline) and wakes the
 * loop through an eventfd after each batch. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/healthwatch.h"
#include "common/macro.h"
#include "common/timeutil.h"
#include "discovery/health.h"
#include "discovery/verdict.h"

/* At most this many disks are followed: a bound on the table, far above a real node's. */
#define HEALTH_WATCH_MAX_DISKS 4096

typedef struct Disk {
        char *key;              /* stable id, else kernel name */
        Device dev;             /* kname, path, type, transport: what health_read_device() needs */
        Health *health;         /* last reading, NULL: none yet */
        uint64_t due;           /* CLOCK_MONOTONIC usec; 0: at once */
        bool present;
} Disk;

struct HealthWatch {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t thread;
        bool started, stop;
        int efd;
        uint64_t interval, timeout;
        char *sysroot;
        Disk *disks;
        size_t n_disks;
        HealthWatchStats stats;
};

static void disk_done(Disk *d) {
        free(d->key);
        free(d->dev.kname);
        free(d->dev.path);
        health_free(d->health);
}

static Disk *find(HealthWatch *w, const char *key) {
        for (size_t i = 0; i < w->n_disks; i++)
                if (streq(w->disks[i].key, key))
                        return &w->disks[i];
        return NULL;
}

/* The disk due first, or NULL; *ret_next: when the earliest not yet due one is (0: none). */
static Disk *next_due(HealthWatch *w, uint64_t now, uint64_t *ret_next) {
        uint64_t next = 0;

        for (size_t i = 0; i < w->n_disks; i++) {
                Disk *d = &w->disks[i];
                if (!d->present)
                        continue;
                if (d->due <= now)
                        return d;
                if (next == 0 || d->due < next)
                        next = d->due;
        }
        *ret_next = next;
        return NULL;
}

static void wait_until(HealthWatch *w, uint64_t until) {
        struct timespec ts;

        if (until == 0) {
                pthread_cond_wait(&w->wake, &w->lock);
                return;
        }
        ts.tv_sec = (time_t) (until / USEC_PER_SEC);
        ts.tv_nsec = (long) (until % USEC_PER_SEC) * 1000;
        (void) pthread_cond_timedwait(&w->wake, &w->lock, &ts);
}

static void *watch_thread(void *arg) {
        HealthWatch *w = arg;
        bool fresh = false;

        pthread_mutex_lock(&w->lock);
        while (!w->stop) {
                uint64_t now = now_usec(), next = 0;
                Disk *d = next_due(w, now, &next);
                _cleanup_free_ char *key = NULL, *kname = NULL, *path = NULL;
                Health *h = NULL;
                Device dev;
                int r;

                if (!d) {
                        if (fresh) {
                                uint64_t one = 1;
                                (void) !write(w->efd, &one, sizeof one);
                                fresh = false;
                        }
                        wait_until(w, next);
                        continue;
                }
                /* copies: the table may change while the lock is not held */
                key = strdup(d->key);
                kname = strdup(d->dev.kname);
                path = d->dev.path ? strdup(d->dev.path) : NULL;
                d->due = now + w->interval;
                if (!key || !kname || (d->dev.path && !path))
                        continue; /* out of memory: try again at the next interval */
                dev = (Device) { .kname = kname, .path = path, .type = d->dev.type, .transport = d->dev.transport };
                pthread_mutex_unlock(&w->lock);

                r = health_read_device(&dev, w->sysroot, w->timeout, &h);

                pthread_mutex_lock(&w->lock);
                w->stats.reads++;
                if (r < 0 || h->error)
                        w->stats.read_errors++;
                d = find(w, key);
                if (d && h) {
                        health_free(d->health);
                        d->health = TAKE_PTR(h);
                }
                health_free(h);
                fresh = true;
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

int health_watch_new(uint64_t interval_usec, uint64_t timeout_usec, const char *sysroot, HealthWatch **ret) {
        _cleanup_(health_watch_freep) HealthWatch *w = calloc(1, sizeof(HealthWatch));
        pthread_condattr_t ca;
        int r;

        if (!w)
                return -ENOMEM;
        w->efd = -EBADF;
        w->interval = interval_usec;
        w->timeout = timeout_usec;
        pthread_mutex_init(&w->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->wake, &ca);
        pthread_condattr_destroy(&ca);
        if (!isempty(sysroot) && !(w->sysroot = strdup(sysroot)))
                return -ENOMEM;
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0)
                return -errno;
        r = pthread_create(&w->thread, NULL, watch_thread, w);
        if (r != 0)
                return -r;
        w->started = true;
        *ret = TAKE_PTR(w);
        return 0;
}

HealthWatch *health_watch_free(HealthWatch *w) {
        if (!w)
                return NULL;
        if (w->started) {
                pthread_mutex_lock(&w->lock);
                w->stop = true;
                pthread_cond_signal(&w->wake);
                pthread_mutex_unlock(&w->lock);
                pthread_join(w->thread, NULL);
        }
        for (size_t i = 0; i < w->n_disks; i++)
                disk_done(&w->disks[i]);
        free(w->disks);
        free(w->sysroot);
        safe_close(w->efd);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

int health_watch_get_fd(const HealthWatch *w) {
        return w->efd;
}

void health_watch_ack(HealthWatch *w) {
        uint64_t v;

        (void) !read(w->efd, &v, sizeof v);
}

static int disk_add(HealthWatch *w, const char *key, Disk **ret) {
        Disk *a;

        if (w->n_disks >= HEALTH_WATCH_MAX_DISKS)
                return -E2BIG;
        a = realloc(w->disks, (w->n_disks + 1) * sizeof(Disk));
        if (!a)
                return -ENOMEM;
        w->disks = a;
        a = &w->disks[w->n_disks];
        *a = (Disk) { .key = strdup(key) };
        if (!a->key)
                return -ENOMEM;
        w->n_disks++;
        *ret = a;
        return 0;
}

static int disk_update(Disk *e, const Device *d) {
        if (!streq_ptr(e->dev.kname, d->kname)) {
                free(e->dev.kname);
                if (!(e->dev.kname = strdup(d->kname)))
                        return -ENOMEM;
        }
        if (!streq_ptr(e->dev.path, d->path)) {
                free(e->dev.path);
                e->dev.path = NULL;
                if (d->path && !(e->dev.path = strdup(d->path)))
                        return -ENOMEM;
        }
        e->dev.type = d->type;
        e->dev.transport = d->transport;
        e->present = true;
        return 0;
}

int health_watch_attach(HealthWatch *w, DeviceList *devices) {
        bool added = false;
        size_t k = 0;
        int r = 0;

        pthread_mutex_lock(&w->lock);
        for (size_t i = 0; i < w->n_disks; i++)
                w->disks[i].present = false;
        for (size_t i = 0; i < devices->n && r != -ENOMEM; i++) {
                Device *d = devices->items[i];
                const char *key = isempty(d->stable_id) ? d->kname : d->stable_id;
                Disk *e;

                if (!health_applies(d))
                        continue;
                e = find(w, key);
                if (!e) {
                        r = disk_add(w, key, &e);
                        if (r < 0)
                                continue;
                        added = true;
                }
                r = disk_update(e, d);
                if (r >= 0 && e->health) {
                        health_free(d->health);
                        d->health = NULL;
                        r = health_copy(e->health, &d->health);
                }
        }
        /* forget the disks that are gone: a disk that comes back is read afresh */
        for (size_t i = 0; i < w->n_disks; i++)
                if (w->disks[i].present)
                        w->disks[k++] = w->disks[i];
                else
                        disk_done(&w->disks[i]);
        w->n_disks = k;
        if (added)
                pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);

        verdict_apply_health(devices);
        return r == -ENOMEM ? r : 0;
}

void health_watch_now(HealthWatch *w) {
        pthread_mutex_lock(&w->lock);
        for (size_t i = 0; i < w->n_disks; i++)
                w->disks[i].due = 0;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
}

void health_watch_stats(HealthWatch *w, HealthWatchStats *ret) {
        pthread_mutex_lock(&w->lock);
        *ret = w->stats;
        pthread_mutex_unlock(&w->lock);
}
