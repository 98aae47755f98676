/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The worker pool. Workers probe a private scratch Device, never the caller's, so an
 * abandoned worker cannot write into memory the caller has freed; the pool itself is
 * reference-counted for the same reason. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "discovery/probepool.h"

typedef enum JobState { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_ABANDONED } JobState;

typedef struct Job {
        Device *scratch;
        char *node;
        ProbeOptions opts;
        JobState state;
        uint64_t started, finished;
} Job;

typedef struct Pool {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        unsigned refs;
        Job **jobs;
        size_t n, next;
} Pool;

static void job_free(Job *j) {
        if (!j)
                return;
        device_free(j->scratch);
        free(j->node);
        free(j);
}

/* Called with the lock held; frees the pool when the last user lets go. */
static void pool_unref_locked(Pool *p) {
        if (--p->refs > 0) {
                pthread_mutex_unlock(&p->lock);
                return;
        }
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < p->n; i++)
                if (p->jobs[i] && p->jobs[i]->state != JOB_ABANDONED)
                        job_free(p->jobs[i]);
        free(p->jobs);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->changed);
        free(p);
}

static void *worker(void *arg) {
        Pool *p = arg;

        pthread_mutex_lock(&p->lock);
        while (p->next < p->n) {
                Job *j = p->jobs[p->next++];

                j->state = JOB_RUNNING;
                j->started = now_usec();
                pthread_mutex_unlock(&p->lock);

                (void) probe_device(j->scratch, j->node, &j->opts);

                pthread_mutex_lock(&p->lock);
                j->finished = now_usec();
                if (j->state == JOB_ABANDONED) {
                        /* The caller gave up on this device long ago; the job is ours. And
                         * a replacement worker took our place, so stop here. */
                        job_free(j);
                        break;
                }
                j->state = JOB_DONE;
                pthread_cond_signal(&p->changed);
        }
        pool_unref_locked(p);
        return NULL;
}

static int start_worker(Pool *p) {
        pthread_attr_t attr;
        pthread_t t;
        int r;

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        p->refs++;
        r = pthread_create(&t, &attr, worker, p);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                p->refs--;
                return -r;
        }
        return 0;
}

/* Moves what the probe learnt from the scratch record into the caller's. */
static void take_results(Device *d, Device *s) {
#define MOVE(field) do { d->field = s->field; s->field = 0; } while (0)
        MOVE(probed);
        MOVE(probe_error);
        MOVE(probe_error_msg);
        MOVE(signatures);
        MOVE(n_signatures);
        MOVE(pttype);
        MOVE(ptuuid);
        MOVE(n_label_offsets);
        MOVE(label_error);
        MOVE(locked);
        MOVE(ceph);
        MOVE(n_ceph);
#undef MOVE
        memcpy(d->label_offsets, s->label_offsets, sizeof d->label_offsets);
}

static int make_job(const ProbeRequest *req, Job **ret) {
        Job *j = calloc(1, sizeof(Job));

        if (!j)
                return -ENOMEM;
        j->scratch = device_new(req->device->kname);
        j->node = strdup(req->node);
        if (!j->scratch || !j->node) {
                job_free(j);
                return -ENOMEM;
        }
        j->scratch->devnum = req->device->devnum;
        j->scratch->size = req->device->size;
        j->opts = req->opts;
        *ret = j;
        return 0;
}

int probepool_run(ProbeRequest *reqs, size_t n, unsigned workers, uint64_t timeout_usec) {
        Pool *p;
        size_t finished = 0;
        unsigned started = 0;
        int r = 0;

        if (n == 0)
                return 0;
        p = calloc(1, sizeof(Pool));
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->changed, NULL);
        p->refs = 1;
        p->jobs = calloc(n, sizeof(Job *));
        if (!p->jobs) {
                pthread_mutex_lock(&p->lock);
                pool_unref_locked(p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                r = make_job(&reqs[i], &p->jobs[i]);
                if (r < 0) {
                        pthread_mutex_lock(&p->lock);
                        pool_unref_locked(p);
                        return r;
                }
        }
        p->n = n;

        pthread_mutex_lock(&p->lock);
        for (unsigned i = 0; i < MAX(1u, MIN(workers, (unsigned) n)); i++)
                if (start_worker(p) >= 0)
                        started++;
        if (started == 0) {
                pool_unref_locked(p);
                return -EAGAIN;
        }

        while (finished < n) {
                uint64_t now = now_usec(), wake = now + timeout_usec;
                struct timespec ts;

                finished = 0;
                for (size_t i = 0; i < n; i++) {
                        Job *j = p->jobs[i];

                        if (!j) { /* abandoned earlier */
                                finished++;
                                continue;
                        }
                        if (j->state == JOB_DONE) {
                                finished++;
                                continue;
                        }
                        if (j->state != JOB_RUNNING)
                                continue;
                        if (now - j->started >= timeout_usec) {
                                /* Give up on it: the worker owns the job from now on, and
                                 * a new worker carries on with the queue. */
                                Device *d = reqs[i].device;
                                j->state = JOB_ABANDONED;
                                p->jobs[i] = NULL;
                                d->probe_error = -ETIMEDOUT;
                                d->probe_usec = now - j->started;
                                free(d->probe_error_msg);
                                if (asprintf(&d->probe_error_msg, "no answer within %.1f s",
                                             (double) timeout_usec / 1e6) < 0)
                                        d->probe_error_msg = NULL;
                                if (p->next < p->n)
                                        (void) start_worker(p);
                                finished++;
                                continue;
                        }
                        wake = MIN(wake, j->started + timeout_usec);
                }
                if (finished >= n)
                        break;
                /* Condition variables wait on CLOCK_REALTIME by default; convert. */
                clock_gettime(CLOCK_REALTIME, &ts);
                {
                        uint64_t delta = wake > now ? wake - now : 1000;
                        ts.tv_sec += (time_t) (delta / USEC_PER_SEC);
                        ts.tv_nsec += (long) (delta % USEC_PER_SEC) * 1000;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                }
                pthread_cond_timedwait(&p->changed, &p->lock, &ts);
        }

        for (size_t i = 0; i < n; i++)
                if (p->jobs[i] && p->jobs[i]->state == JOB_DONE) {
                        take_results(reqs[i].device, p->jobs[i]->scratch);
                        reqs[i].device->probe_usec = MAX(p->jobs[i]->finished - p->jobs[i]->started, UINT64_C(1));
                }
        pool_unref_locked(p);
        return 0;
}
