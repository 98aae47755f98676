/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot ingest with and without a watcher, in one process: the coordinator's own ingest,
 * store (SQLite in a temporary directory) and watch over inproc sockets. Each round stores a
 * snapshot of N devices over the node's previous N, half of them new, so that the removed
 * ones are worked out for the watcher; prints the median time per snapshot with no watcher
 * and with one (which drains its events as they come), and the ratio. No timed assertion. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/timeutil.h"
#include "coordinator/ingest.h"
#include "proto/codec.h"
#include "proto/link.h"

typedef struct Bench {
        zsock_t *agents, *agent, *query, *client;
        Store *store;
        Nodes *nodes;
        Watch *watch;
        Jobs *jobs;
        Ingest *ingest;
        uint64_t message_id;
} Bench;

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* One snapshot of n devices, ids offset..offset+n-1, through ingest; returns its usec. */
static uint64_t snapshot(Bench *b, uint64_t generation, size_t n, size_t offset) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device *d = calloc(n, sizeof(Castle__Device)), **p = calloc(n, sizeof(Castle__Device *));
        char (*ids)[32] = calloc(n, 32);
        uint64_t start, took;
        zmsg_t *m;

        if (!d || !p || !ids)
                abort();
        for (size_t i = 0; i < n; i++) {
                castle__device__init(&d[i]);
                snprintf(ids[i], 32, "wwn-0x5000c500%08zx", offset + i);
                d[i].stable_id = ids[i];
                d[i].kname = ids[i];
                d[i].path = ids[i];
                d[i].size = 4000787030016;
                d[i].available = true;
                p[i] = &d[i];
        }
        s.generation = generation;
        s.devices = p;
        s.n_devices = n;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.message_id = ++b->message_id;
        if (link_send(b->agent, NULL, &e.base) < 0 || !(m = zmsg_recv(b->agents)))
                abort();
        start = now_usec();
        ingest_message(b->ingest, m, now_realtime_usec());
        took = now_usec() - start;
        zmsg_destroy(&m);
        zmsg_destroy(&(zmsg_t *) { zmsg_recv(b->agent) }); /* the Ack */
        /* The watcher reads what it was sent (outside the timing). */
        while (b->client && zsock_events(b->client) & ZMQ_POLLIN)
                zframe_destroy(&(zframe_t *) { zframe_recv(b->client) });
        free(ids);
        free(p);
        free(d);
        return took;
}

static uint64_t median_run(Bench *b, size_t n, unsigned rounds) {
        uint64_t *t = calloc(rounds, sizeof(uint64_t)), med;

        for (unsigned r = 0; r < rounds; r++)
                t[r] = snapshot(b, b->message_id + 1, n, (r % 2) * n / 2);
        qsort(t, rounds, sizeof(uint64_t), cmp_u64);
        med = t[rounds / 2];
        free(t);
        return med;
}

int main(int argc, char *argv[]) {
        size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 4096;
        unsigned rounds = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : 5;
        char dir[] = "/tmp/castle-bench-ingest.XXXXXX", path[64], *sub;
        Bench b = {};
        uint64_t alone, watched;
        zframe_t *rid;
        zmsg_t *m;

        if (n == 0 || rounds == 0 || !mkdtemp(dir))
                return 2;
        snprintf(path, sizeof path, "%s/c.db", dir);
        if (store_open_sqlite(path, &b.store) < 0 ||
            link_bind("inproc://agents", &(LinkOptions) { .insecure = true }, &b.agents) < 0 ||
            link_connect("inproc://agents", &(LinkOptions) { .insecure = true, .identity = "node-1" }, &b.agent) < 0 ||
            link_bind("inproc://query", &(LinkOptions) { .insecure = true }, &b.query) < 0 ||
            nodes_new(b.store, USEC_PER_HOUR, USEC_PER_HOUR, NULL, &b.nodes) < 0 ||
            watch_new(b.query, &b.watch) < 0 || jobs_new(b.agents, b.query, b.nodes, NULL, &b.jobs) < 0 ||
            ingest_new(b.agents, b.store, b.nodes, b.watch, b.jobs, NULL, &b.ingest) < 0)
                return 1;
        zsock_set_router_mandatory(b.query, 1);
        zsock_set_sndhwm(b.query, 0); /* the watcher is drained between snapshots, not during */
        ingest_set_limits(b.ingest, &(IngestLimits) {});

        (void) snapshot(&b, 1, n, 0); /* the node and its first devices */
        alone = median_run(&b, n, rounds);

        if (link_connect("inproc://query", &(LinkOptions) { .insecure = true }, &b.client) < 0)
                return 1;
        zsock_set_rcvhwm(b.client, 0);
        zstr_send(b.client, "watch");
        m = zmsg_recv(b.query);
        rid = zframe_dup(zmsg_first(m));
        zmsg_destroy(&m);
        if (watch_subscribe(b.watch, rid, 1) < 0)
                return 1;
        zframe_destroy(&rid);
        watched = median_run(&b, n, rounds);
        if (watch_count(b.watch) != 1)
                fprintf(stderr, "the watcher was dropped during the run\n");

        printf("snapshot of %zu devices, half of them new (median of %u):\n", n, rounds);
        printf("  no watcher:  %8.3f s\n", (double) alone / 1e6);
        printf("  one watcher: %8.3f s (%.1fx)\n", (double) watched / 1e6, (double) watched / (double) alone);

        b.ingest = ingest_free(b.ingest);
        b.jobs = jobs_free(b.jobs);
        b.watch = watch_free(b.watch);
        b.nodes = nodes_free(b.nodes);
        zsock_destroy(&b.client);
        zsock_destroy(&b.query);
        zsock_destroy(&b.agent);
        zsock_destroy(&b.agents);
        b.store = store_close(b.store);
        for (const char *const *s = (const char *const[]) { "", "-wal", "-shm", NULL }; *s; s++) {
                if (asprintf(&sub, "%s%s", path, *s) >= 0) {
                        (void) unlink(sub);
                        free(sub);
                }
        }
        (void) rmdir(dir);
        return 0;
}
