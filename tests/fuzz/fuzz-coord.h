/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The coordinator as castle-coordinator wires it (store, nodes, watch, jobs, ingest, query),
 * on inproc ROUTER sockets and a real SQLite file, for fuzz-ingest and fuzz-query. Nobody is
 * connected to the ROUTERs: what the coordinator answers is packed and sent, then dropped by
 * ZeroMQ as unroutable. */
#pragma once

#include <czmq.h>
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "coordinator/ingest.h"
#include "coordinator/query.h"
#include "proto/link.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_T0 INT64_C(1700000000000000)

typedef struct FuzzCoord {
        char dir[64], path[96];
        zsock_t *agents, *query;
        Store *store;
        sqlite3 *admin; /* a second connection to the store's file, to empty it */
        Nodes *nodes;
        Watch *watch;
        Jobs *jobs;
        Ingest *ingest;
        Query *q;
} FuzzCoord;

static FuzzCoord *fuzz_coord_at_exit;

static inline void fuzz_coord_close_sockets(void) {
        zsock_destroy(&fuzz_coord_at_exit->agents);
        zsock_destroy(&fuzz_coord_at_exit->query);
}

/* The sockets, once per process: an inproc name is free again only once closed. They are
 * closed at exit before CZMQ's own handler runs, which would complain of them. */
static inline void fuzz_coord_sockets(FuzzCoord *c) {
        fuzz_quiet();
        zsys_init();
        zsys_set_linger(0);
        fuzz_coord_at_exit = c;
        atexit(fuzz_coord_close_sockets);
        fuzz_require(link_bind("inproc://fuzz-agents", &(LinkOptions){ .insecure = true }, &c->agents) >= 0);
        fuzz_require(link_bind("inproc://fuzz-query", &(LinkOptions){ .insecure = true }, &c->query) >= 0);
}

/* A store file in a fresh directory (on /dev/shm where there is one: SQLite's fsyncs cost
 * nothing there). */
static inline void fuzz_coord_store_open(FuzzCoord *c) {
        const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

        snprintf(c->dir, sizeof c->dir, "%s/castle-fuzz.XXXXXX", tmp);
        fuzz_require(mkdtemp(c->dir));
        snprintf(c->path, sizeof c->path, "%s/c.db", c->dir);
        fuzz_require(store_open_sqlite(c->path, &c->store) >= 0);
}

/* Every table emptied, whatever the schema holds: an input starts from the store as the
 * coordinator's first start leaves it, at a fraction of the cost of a new file. */
static inline void fuzz_coord_store_reset(FuzzCoord *c) {
        sqlite3_stmt *st;
        char sql[256];
        char **tables = NULL;
        size_t n = 0;

        if (!c->admin)
                fuzz_require(sqlite3_open_v2(c->path, &c->admin, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
        fuzz_require(sqlite3_prepare_v2(c->admin, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &st,
                                        NULL) == SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
                tables = realloc(tables, (n + 1) * sizeof(char *));
                fuzz_require(tables);
                tables[n] = strdup((const char *) sqlite3_column_text(st, 0));
                fuzz_require(tables[n]);
                n++;
        }
        sqlite3_finalize(st);
        fuzz_require(sqlite3_exec(c->admin, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
        for (size_t i = 0; i < n; i++) {
                snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", tables[i]);
                fuzz_require(sqlite3_exec(c->admin, sql, NULL, NULL, NULL) == SQLITE_OK);
                free(tables[i]);
        }
        free(tables);
        fuzz_require(sqlite3_exec(c->admin, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
}

static inline void fuzz_coord_store_close(FuzzCoord *c) {
        char p[128];

        sqlite3_close(c->admin);
        c->admin = NULL;
        c->store = store_close(c->store);
        for (const char *const *s = (const char *const[]){ "", "-wal", "-shm", NULL }; *s; s++) {
                snprintf(p, sizeof p, "%s%s", c->path, *s);
                (void) unlink(p);
        }
        (void) rmdir(c->dir);
}

/* The coordinator's state in memory, fresh for each input; watchers are subscribed from the
 * query ROUTER as castlectl cluster watch would be. */
static inline void fuzz_coord_start(FuzzCoord *c, int64_t now) {
        fuzz_require(nodes_new(c->store, 15 * USEC_PER_SEC, 120 * USEC_PER_SEC, NULL, &c->nodes) >= 0);
        fuzz_require(nodes_load(c->nodes, now) >= 0);
        fuzz_require(watch_new(c->query, &c->watch) >= 0);
        fuzz_require(jobs_new(c->agents, c->query, c->nodes, NULL, &c->jobs) >= 0);
        fuzz_require(ingest_new(c->agents, c->store, c->nodes, c->watch, c->jobs, NULL, &c->ingest) >= 0);
        fuzz_require(query_new(c->query, c->store, c->nodes, c->watch, c->jobs, NULL, &c->q) >= 0);
}

static inline void fuzz_coord_stop(FuzzCoord *c) {
        c->q = query_free(c->q);
        c->ingest = ingest_free(c->ingest);
        c->jobs = jobs_free(c->jobs);
        c->watch = watch_free(c->watch);
        c->nodes = nodes_free(c->nodes);
}

/* The message a ROUTER hands the loop for this record: [routing id, payload (, extra)]. */
static inline zmsg_t *fuzz_coord_message(const FuzzRecord *rec) {
        zmsg_t *m = zmsg_new();

        fuzz_require(m);
        zmsg_addstr(m, fuzz_record_sender(rec->how));
        zmsg_addmem(m, rec->payload, rec->size);
        if (fuzz_record_extra_frame(rec->how))
                zmsg_addmem(m, NULL, 0);
        return m;
}
