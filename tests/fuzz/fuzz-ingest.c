/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent -> coordinator path: raw frames from the agents' ROUTER into the real ingest and a
 * real SQLite file, as castle-coordinator's loop hands them over. One input is a conversation
 * (records, tests/fuzz/fuzz.h): hello, snapshot, delta, heartbeat and job updates from up to
 * three nodes, with time passing between them, a watcher subscribed, and clients' commands
 * on the query endpoint for the job updates to answer. Each input starts from an empty store
 * (one file, its tables emptied before each input). */
#include "tests/fuzz/fuzz-coord.h"

static FuzzCoord coord;

static void cleanup(void) {
        fuzz_coord_store_close(&coord);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_coord_sockets(&coord);
        fuzz_coord_store_open(&coord);
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *p = data, *end = data + size;
        int64_t now = FUZZ_T0;
        zframe_t *watcher;
        FuzzRecord rec;

        fuzz_coord_store_reset(&coord);
        fuzz_coord_start(&coord, now);
        watcher = zframe_from("watcher");
        fuzz_require(watcher && watch_subscribe(coord.watch, watcher, 1) >= 0);
        zframe_destroy(&watcher);

        while (fuzz_next_record(&p, end, &rec)) {
                zmsg_t *m = fuzz_coord_message(&rec);

                now += fuzz_record_delay_usec(rec.how);
                nodes_tick(coord.nodes, now);
                if (fuzz_record_to_query(rec.how))
                        query_message(coord.q, m);
                else
                        ingest_message(coord.ingest, m, now);
                zmsg_destroy(&m);
        }

        fuzz_coord_stop(&coord);
        return 0;
}
