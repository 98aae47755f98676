/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the intent store's and the audit trail's tests share: a SQLite file in a temporary
 * directory, a fake backend at the IntentBackend seam (it can fail, block until released, and
 * hand pairs to the follower), and a loop run until a condition holds or a deadline passes. */
#pragma once

#include "tests/unit/testutil.h"

#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/intent.h"

typedef struct TestDb {
        char dir[64], path[96];
} TestDb;

static inline void testdb_new(TestDb *t) {
        snprintf(t->dir, sizeof t->dir, "/tmp/castle-test-intent.XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        snprintf(t->path, sizeof t->path, "%s/c.db", t->dir);
}

static inline void testdb_remove(TestDb *t) {
        char p[128];

        for (const char *const *s = (const char *const[]){ "", "-wal", "-shm", NULL }; *s; s++) {
                snprintf(p, sizeof p, "%s%s", t->path, *s);
                (void) unlink(p);
        }
        (void) rmdir(t->dir);
}

typedef struct Fake {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool block;             /* write() waits until it is cleared */
        int fail;               /* write() returns it */
        size_t calls, pairs;    /* write() calls and the pairs they carried */
        size_t last_n;
        size_t follows;
        const char *follow_key, *follow_value; /* handed to the first follow() */
        bool closed;
} Fake;

static inline void fake_init(Fake *f) {
        *f = (Fake) {};
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->cond, NULL);
}

static inline int fake_write(void *data, const char *const *keys, const void *const *values, const size_t *sizes,
                             size_t n) {
        Fake *f = data;
        int r;

        pthread_mutex_lock(&f->lock);
        f->calls++;
        f->pairs += n;
        f->last_n = n;
        pthread_cond_broadcast(&f->cond);
        while (f->block)
                pthread_cond_wait(&f->cond, &f->lock);
        r = f->fail;
        pthread_mutex_unlock(&f->lock);
        return r;
}

static inline int fake_follow(void *data, int (*add)(const char *key, const void *value, size_t size, void *u),
                              void *u) {
        Fake *f = data;
        bool first;

        pthread_mutex_lock(&f->lock);
        first = f->follows++ == 0;
        pthread_mutex_unlock(&f->lock);
        if (first && f->follow_key)
                return add(f->follow_key, f->follow_value, strlen(f->follow_value), u);
        return 0;
}

static inline void fake_close(void *data) {
        ((Fake *) data)->closed = true;
}

static inline IntentBackend fake_backend(Fake *f) {
        return (IntentBackend) { .data = f, .name = "fake", .write = fake_write, .follow = fake_follow,
                                 .close = fake_close };
}

static inline void fake_set_block(Fake *f, bool block) {
        pthread_mutex_lock(&f->lock);
        f->block = block;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
}

/* Waits (up to 5 s) until write() has been called `calls` times. */
static inline void fake_wait_calls(Fake *f, size_t calls) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        pthread_mutex_lock(&f->lock);
        while (f->calls < calls)
                assert_int_equal(pthread_cond_timedwait(&f->cond, &f->lock, &ts), 0);
        pthread_mutex_unlock(&f->lock);
}

typedef struct RunUntil {
        const size_t *counter;
        size_t target;
} RunUntil;

static inline int run_until_check(zloop_t *loop, int timer_id, void *arg) {
        RunUntil *u = arg;

        return *u->counter >= u->target ? -1 : 0;
}

static inline int run_until_timeout(zloop_t *loop, int timer_id, void *arg) {
        return -1;
}

/* Runs loop until *counter reaches target (fails the test after 5 s). */
static inline void run_until(zloop_t *loop, const size_t *counter, size_t target) {
        RunUntil u = { .counter = counter, .target = target };
        int check, deadline;

        if (*counter >= target)
                return;
        check = zloop_timer(loop, 5, 0, run_until_check, &u);
        deadline = zloop_timer(loop, 5000, 1, run_until_timeout, NULL);
        zloop_start(loop);
        zloop_timer_end(loop, check);
        zloop_timer_end(loop, deadline);
        assert_true(*counter >= target);
}
