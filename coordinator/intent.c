/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The intent store: a table of the coordinator's SQLite file that the loop thread reads, and a
 * worker thread that writes. The worker takes every put queued since its last write at once and
 * hands them to the backend in one call (a monitor commit costs about a second whatever it
 * carries), then copies them into the table; without a backend the table is the durable store
 * and one SQLite transaction is the batch. Completions go back to the loop through an eventfd,
 * so that no caller ever sees its done called from inside intent_put(). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "coordinator/intent.h"
#include "coordinator/sqlerrno.h"

typedef struct Put {
        char *key;
        void *value;            /* NULL: remove */
        size_t size;
        IntentDoneFn done;
        void *userdata;
        int error;              /* once written */
        struct Put *next;
} Put;

struct Intent {
        sqlite3 *db;            /* the loop thread's: reads */
        sqlite3 *wdb;           /* the worker's: writes */
        IntentBackend backend;
        bool has_backend;
        int efd;                /* completions are ready */
        zloop_t *loop;

        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* under lock: */
        Put *queue, **queue_tail;       /* waiting for the worker */
        size_t queued, in_flight;
        Put *completed, **completed_tail;
        bool stop;
        IntentStatus status;
        char backend_name[64];
        bool followed;          /* under lock: pairs copied in since the loop last looked */
        void (*follow_hook)(void *userdata);
        void *follow_userdata;
};

static void put_free(Put *p) {
        if (!p)
                return;
        free(p->key);
        free(p->value);
        free(p);
}

static void puts_free(Put *p) {
        while (p) {
                Put *next = p->next;
                put_free(p);
                p = next;
        }
}

static int db_open(const char *path, sqlite3 **ret) {
        sqlite3 *db = NULL;
        int r;

        r = sql_error(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                      NULL));
        if (r < 0) {
                sqlite3_close(db);
                return r;
        }
        sqlite3_busy_timeout(db, 5000);
        r = sql_error(sqlite3_exec(db,
                                   "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                                   "CREATE TABLE IF NOT EXISTS intent(key TEXT PRIMARY KEY, value BLOB NOT NULL)",
                                   NULL, NULL, NULL));
        if (r < 0) {
                sqlite3_close(db);
                return r;
        }
        *ret = db;
        return 0;
}

/* One transaction: every pair, or none. */
static int local_write(sqlite3 *db, const char *const *keys, const void *const *values, const size_t *sizes,
                       size_t n) {
        sqlite3_stmt *set = NULL, *del = NULL;
        int r;

        r = sql_error(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
        if (r < 0)
                return r;
        r = sql_error(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO intent(key, value) VALUES(?1, ?2)", -1, &set,
                                         NULL));
        if (r >= 0)
                r = sql_error(sqlite3_prepare_v2(db, "DELETE FROM intent WHERE key = ?1", -1, &del, NULL));
        for (size_t i = 0; r >= 0 && i < n; i++) {
                sqlite3_stmt *st = values[i] ? set : del;

                sqlite3_reset(st);
                sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
                if (values[i])
                        sqlite3_bind_blob(st, 2, values[i], (int) sizes[i], SQLITE_STATIC);
                r = sql_error(sqlite3_step(st));
        }
        sqlite3_finalize(set);
        sqlite3_finalize(del);
        if (r >= 0)
                r = sql_error(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
        if (r < 0)
                (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static bool valid_key(const char *key) {
        size_t n = 0;

        if (!key)
                return false;
        for (; key[n]; n++)
                if (n >= INTENT_MAX_KEY || key[n] <= ' ' || key[n] > '~')
                        return false;
        return n > 0;
}

/* What follow() hands in, copied into the local table as it comes (one transaction per
 * follow). A pair another coordinator wrote is checked like any input. */
typedef struct FollowCtx {
        sqlite3 *db;
        size_t added, skipped;
        int error;
} FollowCtx;

static int follow_add(const char *key, const void *value, size_t size, void *u) {
        FollowCtx *f = u;
        int r;

        if (!valid_key(key) || size > INTENT_MAX_VALUE) {
                f->skipped++;
                return 0;
        }
        r = local_write(f->db, &key, &value, &size, 1);
        if (r < 0) {
                f->error = r;
                return r;
        }
        f->added++;
        return 0;
}

static void wake_loop(Intent *i) {
        uint64_t one = 1;

        if (write(i->efd, &one, sizeof one) < 0 && errno != EAGAIN)
                log_debug_errno(-errno, "Intent: failed to wake the loop: %m");
}

static void write_batch(Intent *i, Put *batch, size_t n) {
        _cleanup_free_ const char **keys = calloc(n, sizeof(char *));
        _cleanup_free_ const void **values = calloc(n, sizeof(void *));
        _cleanup_free_ size_t *sizes = calloc(n, sizeof(size_t));
        size_t k = 0;
        int r;

        if (!keys || !values || !sizes)
                r = -ENOMEM;
        else {
                for (Put *p = batch; p; p = p->next, k++) {
                        keys[k] = p->key;
                        values[k] = p->value;
                        sizes[k] = p->size;
                }
                if (i->has_backend) {
                        r = i->backend.write(i->backend.data, keys, values, sizes, n);
                        if (r >= 0) {
                                /* The backend has it; the local copy is only a cache of it. */
                                int q = local_write(i->wdb, keys, values, sizes, n);
                                if (q < 0)
                                        log_warning_errno(q, "Intent: %zu pair(s) stored in the %s but not in "
                                                          "the local copy: %m", n, i->backend.name);
                        }
                } else
                        r = local_write(i->wdb, keys, values, sizes, n);
        }
        if (r > 0)
                r = 0;

        pthread_mutex_lock(&i->lock);
        i->in_flight = 0;
        if (r < 0) {
                i->status.failures++;
                if (i->status.error == 0)
                        i->status.failing_since = (uint64_t) now_realtime_usec();
        } else {
                i->status.writes++;
                i->status.failing_since = 0;
        }
        i->status.error = r;
        for (Put *p = batch; p; p = p->next)
                p->error = r;
        *i->completed_tail = batch;
        while (*i->completed_tail)
                i->completed_tail = &(*i->completed_tail)->next;
        pthread_mutex_unlock(&i->lock);
        wake_loop(i);
}

static void follow(Intent *i) {
        FollowCtx f = { .db = i->wdb };
        int r;

        r = i->backend.follow(i->backend.data, follow_add, &f);
        if (r < 0 || f.error < 0)
                log_debug_errno(r < 0 ? r : f.error, "Intent: following the %s failed: %m", i->backend.name);
        if (f.skipped > 0)
                log_warning("Intent: skipped %zu pair(s) of the %s with an invalid key or an oversized value.",
                            f.skipped, i->backend.name);
        if (f.added > 0) {
                log_debug("Intent: %zu pair(s) copied in from the %s.", f.added, i->backend.name);
                pthread_mutex_lock(&i->lock);
                i->followed = true;
                pthread_mutex_unlock(&i->lock);
                wake_loop(i); /* nothing to complete, but readers may look again */
        }
}

static void *worker(void *arg) {
        Intent *i = arg;
        uint64_t next_follow = 0; /* at once */

        for (;;) {
                Put *batch = NULL;
                size_t n = 0;
                bool stop;

                pthread_mutex_lock(&i->lock);
                for (;;) {
                        if (i->queue || i->stop)
                                break;
                        if (!i->has_backend)
                                pthread_cond_wait(&i->cond, &i->lock);
                        else {
                                uint64_t now = now_usec();
                                struct timespec ts;

                                if (now >= next_follow)
                                        break;
                                clock_gettime(CLOCK_MONOTONIC, &ts);
                                ts.tv_sec += (time_t) ((next_follow - now) / USEC_PER_SEC);
                                ts.tv_nsec += (long) ((next_follow - now) % USEC_PER_SEC) * 1000;
                                if (ts.tv_nsec >= 1000000000) {
                                        ts.tv_sec++;
                                        ts.tv_nsec -= 1000000000;
                                }
                                pthread_cond_timedwait(&i->cond, &i->lock, &ts);
                        }
                }
                batch = i->queue;
                n = i->queued;
                i->queue = NULL;
                i->queue_tail = &i->queue;
                i->queued = 0;
                i->in_flight = n;
                stop = i->stop;
                pthread_mutex_unlock(&i->lock);

                if (batch)
                        write_batch(i, batch, n);
                if (i->has_backend && !stop && now_usec() >= next_follow) {
                        follow(i);
                        next_follow = now_usec() + INTENT_FOLLOW_USEC;
                }
                if (stop && !batch)
                        return NULL;
        }
}

/* Completions, on the loop. */
static int on_completed(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Intent *i = arg;
        uint64_t v;
        Put *done;
        bool followed;

        (void) !read(i->efd, &v, sizeof v);
        pthread_mutex_lock(&i->lock);
        followed = i->followed;
        i->followed = false;
        done = i->completed;
        i->completed = NULL;
        i->completed_tail = &i->completed;
        pthread_mutex_unlock(&i->lock);
        while (done) {
                Put *next = done->next;
                if (done->done)
                        done->done(done->error, done->userdata);
                put_free(done);
                done = next;
        }
        if (followed && i->follow_hook)
                i->follow_hook(i->follow_userdata);
        return 0;
}

void intent_set_follow_hook(Intent *i, void (*fn)(void *userdata), void *userdata) {
        i->follow_hook = fn;
        i->follow_userdata = userdata;
}

int intent_open(const char *path, IntentBackend *backend, Intent **ret) {
        Intent *i;
        int r;

        i = calloc(1, sizeof(Intent));
        if (!i) {
                if (backend && backend->close)
                        backend->close(backend->data);
                return -ENOMEM;
        }
        i->efd = -1;
        i->queue_tail = &i->queue;
        i->completed_tail = &i->completed;
        pthread_mutex_init(&i->lock, NULL);
        {
                pthread_condattr_t ca;
                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&i->cond, &ca);
                pthread_condattr_destroy(&ca);
        }
        if (backend) {
                i->backend = *backend;
                i->has_backend = true;
        }
        snprintf(i->backend_name, sizeof i->backend_name, "%s",
                 backend ? (backend->name ?: "backend") : "sqlite");
        i->status.backend = i->backend_name;

        r = db_open(path, &i->db);
        if (r >= 0)
                r = db_open(path, &i->wdb);
        if (r >= 0) {
                i->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (i->efd < 0)
                        r = -errno;
        }
        if (r >= 0) {
                r = -pthread_create(&i->thread, NULL, worker, i);
                i->started = r >= 0;
        }
        if (r < 0) {
                intent_close(i);
                return r;
        }
        *ret = i;
        return 0;
}

int intent_attach(Intent *i, zloop_t *loop) {
        if (i->loop)
                return -EBUSY;
        if (zloop_poller(loop, &(zmq_pollitem_t) { .fd = i->efd, .events = ZMQ_POLLIN }, on_completed, i) < 0)
                return -ENOMEM;
        i->loop = loop;
        return 0;
}

/* Waits for the worker to write what is queued (the audit's last results), then drops what
 * the loop has not delivered yet without calling it: its callers may be gone. */
Intent *intent_close(Intent *i) {
        if (!i)
                return NULL;
        if (i->started) {
                pthread_mutex_lock(&i->lock);
                i->stop = true;
                pthread_cond_signal(&i->cond);
                pthread_mutex_unlock(&i->lock);
                pthread_join(i->thread, NULL);
        }
        if (i->loop)
                zloop_poller_end(i->loop, &(zmq_pollitem_t) { .fd = i->efd });
        puts_free(i->queue);
        puts_free(i->completed);
        if (i->efd >= 0)
                close(i->efd);
        sqlite3_close(i->db);
        sqlite3_close(i->wdb);
        if (i->has_backend && i->backend.close)
                i->backend.close(i->backend.data);
        pthread_cond_destroy(&i->cond);
        pthread_mutex_destroy(&i->lock);
        free(i);
        return NULL;
}

int intent_put(Intent *i, const char *key, const void *value, size_t size, IntentDoneFn done, void *userdata) {
        Put *p;

        if (!valid_key(key))
                return -EINVAL;
        if (value && size > INTENT_MAX_VALUE)
                return -EMSGSIZE;
        p = calloc(1, sizeof(Put));
        if (!p)
                return -ENOMEM;
        p->key = strdup(key);
        /* an empty value is a value, not a removal: keep a non-NULL pointer */
        p->value = value ? malloc(size ?: 1) : NULL;
        if (!p->key || (value && !p->value)) {
                put_free(p);
                return -ENOMEM;
        }
        if (value && size > 0)
                memcpy(p->value, value, size);
        p->size = size;
        p->done = done;
        p->userdata = userdata;

        pthread_mutex_lock(&i->lock);
        if (i->queued >= INTENT_MAX_QUEUED || i->stop) {
                pthread_mutex_unlock(&i->lock);
                put_free(p);
                return i->stop ? -ESHUTDOWN : -ENOBUFS;
        }
        *i->queue_tail = p;
        i->queue_tail = &p->next;
        i->queued++;
        pthread_cond_signal(&i->cond);
        pthread_mutex_unlock(&i->lock);
        return 0;
}

int intent_get(Intent *i, const char *key, void **ret_value, size_t *ret_size) {
        sqlite3_stmt *st = NULL;
        void *v;
        size_t n;
        int r;

        r = sql_error(sqlite3_prepare_v2(i->db, "SELECT value FROM intent WHERE key = ?1", -1, &st, NULL));
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        if (r != SQLITE_ROW) {
                r = r == SQLITE_DONE ? -ENOENT : sql_error(r);
                sqlite3_finalize(st);
                return r;
        }
        n = (size_t) sqlite3_column_bytes(st, 0);
        v = malloc(n ?: 1);
        if (!v) {
                sqlite3_finalize(st);
                return -ENOMEM;
        }
        if (n > 0)
                memcpy(v, sqlite3_column_blob(st, 0), n);
        sqlite3_finalize(st);
        *ret_value = v;
        *ret_size = n;
        return 0;
}

int intent_list(Intent *i, const char *prefix, IntentItemFn fn, void *userdata) {
        sqlite3_stmt *st = NULL;
        size_t plen = strlen(prefix);
        int r;

        /* a range on the primary key rather than LIKE: '_' and '%' are not wildcards here */
        r = sql_error(sqlite3_prepare_v2(i->db, "SELECT key, value FROM intent WHERE key >= ?1 ORDER BY key", -1,
                                         &st, NULL));
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                const char *key = (const char *) sqlite3_column_text(st, 0);

                if (!key || strncmp(key, prefix, plen) != 0)
                        break;
                r = fn(key, sqlite3_column_blob(st, 1), (size_t) sqlite3_column_bytes(st, 1), userdata);
                if (r < 0) {
                        sqlite3_finalize(st);
                        return r;
                }
        }
        r = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : sql_error(r);
        sqlite3_finalize(st);
        return r;
}

void intent_get_status(Intent *i, IntentStatus *ret) {
        pthread_mutex_lock(&i->lock);
        *ret = i->status;
        ret->queued = i->queued + i->in_flight;
        pthread_mutex_unlock(&i->lock);
}
