/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Intent: what operators asked for, which must never be lost (the audit trail and job
 * ledger today; specs, node settings and replacement reservations later). It is a set of
 * key/value pairs under castle's own prefix, kept either in the coordinator's SQLite file (one
 * coordinator, the embedded default) or in the Ceph monitors' config-key store (several
 * coordinators share it: ARCHITECTURE.md, "Storage on the coordinator").
 *
 * Every coordinator keeps a local copy (a table of its SQLite file) that it reads from; writes
 * go through a worker thread to the backend and are batched, since a monitor commit takes about
 * a second. A write's completion is delivered on the coordinator's loop, never from inside the
 * call that queued it: nothing may act on a request before its intent is stored. With a backend
 * the worker also follows it (every INTENT_FOLLOW_USEC) and copies in what other coordinators
 * wrote. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/timeutil.h"

/* The monitors refuse values over mon_config_key_max_entry_size (64 KiB); a value here is
 * stored as text (base64 in the config-key store), so the raw bytes stay well under it. */
#define INTENT_MAX_VALUE (44 * 1024)
#define INTENT_MAX_KEY 200
#define INTENT_FOLLOW_USEC (2 * USEC_PER_SEC)
/* Puts waiting for the worker; more are refused with -ENOBUFS (a backend that stalls must not
 * grow the coordinator without bound). */
#define INTENT_MAX_QUEUED 65536

typedef struct Intent Intent;

/* A completion: 0 when the write is durable, else -errno (-EHOSTUNREACH, -ETIMEDOUT: the
 * backend did not answer; -ENOSPC ...). Called on the loop thread. */
typedef void (*IntentDoneFn)(int error, void *userdata);
/* One key/value pair of the local copy; a negative return stops the listing. */
typedef int (*IntentItemFn)(const char *key, const void *value, size_t size, void *userdata);

/* The backend interface (intent-ceph.c is one). Its functions run on the worker thread only. */
typedef struct IntentBackend {
        void *data;
        const char *name;       /* for messages: "ceph monitors" */
        /* Stores every pair durably (value NULL: remove the key); all or nothing is not
         * required, but 0 means all are stored. */
        int (*write)(void *data, const char *const *keys, const void *const *values, const size_t *sizes,
                     size_t n);
        /* Calls add for every pair the backend holds that this follower has not yet seen (the
         * backend keeps its own cursor); at the first call, every pair. add may be called with
         * value NULL (size 0): the key was removed (or a write of it never got through). The
         * same pair may come twice (a call that failed half-way is repeated): add must be
         * idempotent. */
        int (*follow)(void *data, int (*add)(const char *key, const void *value, size_t size, void *u), void *u);
        void (*close)(void *data);
} IntentBackend;

typedef struct IntentStatus {
        const char *backend;    /* "sqlite" or the backend's name */
        int error;              /* the last write's error, 0 when it succeeded */
        uint64_t failing_since; /* realtime usec of the first failure in a row; 0 */
        uint64_t writes, failures;
        size_t queued;          /* writes waiting for the backend */
} IntentStatus;

/* Opens the local copy in the SQLite file path (the coordinator's database; its own table).
 * backend: NULL for SQLite alone; otherwise taken over (closed with the Intent, also on
 * failure). */
int intent_open(const char *path, IntentBackend *backend, Intent **ret);
/* Completions and the follower's news are delivered on loop from now on. */
int intent_attach(Intent *i, zloop_t *loop);
/* Waits for the worker to write what is queued; completions not delivered yet are dropped
 * without being called. Call it before the loop it is attached to is destroyed. */
Intent *intent_close(Intent *i);

/* Queues a write (value NULL: remove key). done (may be NULL) is called once, on the loop.
 * -EINVAL for a key that is empty, over INTENT_MAX_KEY or not printable ASCII without blanks,
 * -EMSGSIZE for a value over INTENT_MAX_VALUE, -ENOBUFS when INTENT_MAX_QUEUED are waiting. */
int intent_put(Intent *i, const char *key, const void *value, size_t size, IntentDoneFn done, void *userdata);
/* From the local copy: the value (malloc'd) or -ENOENT. */
int intent_get(Intent *i, const char *key, void **ret_value, size_t *ret_size);
/* From the local copy: every pair whose key starts with prefix, in key order. */
int intent_list(Intent *i, const char *prefix, IntentItemFn fn, void *userdata);
void intent_get_status(Intent *i, IntentStatus *ret);
/* fn is called on the loop after the follower copied in pairs that other coordinators wrote
 * (at most once per follow), so that what is kept in memory from the intent (the specs) can be
 * read again. */
void intent_set_follow_hook(Intent *i, void (*fn)(void *userdata), void *userdata);
