/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the coordinator's unit tests share: a real SQLite store in a temporary directory, and
 * inproc sockets made by the daemons' own link_bind()/link_connect(), with messages sent and
 * received under a deadline so that a missing answer fails the test instead of hanging it. */
#pragma once

#include "tests/unit/testutil.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "coordinator/store.h"
#include "proto/codec.h"
#include "proto/link.h"

#define COORDTEST_RECV_MS 2000

typedef struct CoordTestStore {
        char dir[64];
        char path[96];
        Store *store;
} CoordTestStore;

static inline void coordtest_store_open(CoordTestStore *t) {
        snprintf(t->dir, sizeof t->dir, "/tmp/castle-test-coordinator.XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        snprintf(t->path, sizeof t->path, "%s/c.db", t->dir);
        assert_int_equal(store_open_sqlite(t->path, &t->store), 0);
}

static inline void coordtest_store_close(CoordTestStore *t) {
        char p[128];

        t->store = store_close(t->store);
        for (const char *const *s = (const char *const[]){ "", "-wal", "-shm", NULL }; *s; s++) {
                snprintf(p, sizeof p, "%s%s", t->path, *s);
                (void) unlink(p);
        }
        (void) rmdir(t->dir);
}

/* A ROUTER as the coordinator binds it (no CURVE: inproc). */
static inline zsock_t *coordtest_router(const char *endpoint) {
        zsock_t *s = NULL;

        assert_int_equal(link_bind(endpoint, &(LinkOptions){ .insecure = true }, &s), 0);
        zsock_set_rcvtimeo(s, COORDTEST_RECV_MS);
        return s;
}

/* A DEALER as an agent (identity: its node id) or a query client connects it. */
static inline zsock_t *coordtest_dealer(const char *endpoint, const char *identity) {
        zsock_t *s = NULL;

        assert_int_equal(
                link_connect(endpoint, &(LinkOptions){ .insecure = true, .identity = identity }, &s), 0);
        zsock_set_rcvtimeo(s, COORDTEST_RECV_MS);
        return s;
}

/* The next message on s; fails the test after COORDTEST_RECV_MS. */
static inline zmsg_t *coordtest_recv(zsock_t *s) {
        zmsg_t *m = zmsg_recv(s);

        assert_non_null(m);
        return m;
}

/* True if nothing arrives on s within ms. */
static inline bool coordtest_quiet(zsock_t *s, int ms) {
        zpoller_t *p = zpoller_new(s, NULL);
        bool quiet = zpoller_wait(p, ms) == NULL;

        zpoller_destroy(&p);
        return quiet;
}

static inline void coordtest_send_envelope(zsock_t *dealer, Castle__Envelope *e) {
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        assert_int_equal(link_send(dealer, NULL, &e->base), 0);
}

/* What the coordinator sent to an agent's DEALER. */
static inline Castle__Envelope *coordtest_recv_envelope(zsock_t *dealer) {
        zmsg_t *m = coordtest_recv(dealer);
        zframe_t *f = zmsg_first(m);
        Castle__Envelope *e;

        assert_int_equal(zmsg_size(m), 1);
        e = castle__envelope__unpack(NULL, zframe_size(f), zframe_data(f));
        assert_non_null(e);
        zmsg_destroy(&m);
        return e;
}

/* What the coordinator sent to a query client's DEALER. */
static inline Castle__QueryReply *coordtest_recv_reply(zsock_t *dealer) {
        zmsg_t *m = coordtest_recv(dealer);
        zframe_t *f = zmsg_first(m);
        Castle__QueryReply *r = NULL;

        assert_int_equal(zmsg_size(m), 1);
        assert_int_equal(codec_query_reply_unpack(zframe_data(f), zframe_size(f), &r), 0);
        zmsg_destroy(&m);
        return r;
}
