/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The query path: raw frames from the query ROUTER into the real query handler, over a real
 * SQLite store that holds three nodes and their devices (written once, through the store's
 * own calls; after that only nodes_load() writes to it, the same each time). One input is a client's requests (records,
 * tests/fuzz/fuzz.h): list nodes, devices with filters, watch, commands. The nodes' runtime
 * state, the watchers and the jobs start afresh for each input. */
#include "tests/fuzz/fuzz-coord.h"

static FuzzCoord coord;

static void add_node(const char *node_id, size_t n_devices, int64_t now) {
        Castle__Device devs[8], *ptrs[8];
        char kname[8][16], stable[8][32], model[8][16];

        fuzz_require(n_devices <= ELEMENTSOF(devs));
        for (size_t i = 0; i < n_devices; i++) {
                castle__device__init(&devs[i]);
                snprintf(kname[i], sizeof kname[i], "sd%c", (char) ('a' + i));
                snprintf(stable[i], sizeof stable[i], "wwn-0x5000c500%s-%zu", node_id, i);
                snprintf(model[i], sizeof model[i], i % 2 ? "ST4000NM" : "Samsung SSD");
                devs[i].kname = kname[i];
                devs[i].stable_id = i == 3 ? (char *) "" : stable[i]; /* one without: "kname:" key */
                devs[i].model = model[i];
                devs[i].size = (uint64_t) (i + 1) << 38;
                devs[i].rotational = i % 2;
                devs[i].available = i % 3 != 0;
                devs[i].transport = i % 2 ? CASTLE__DEVICE__TRANSPORT__SATA : CASTLE__DEVICE__TRANSPORT__NVME;
                ptrs[i] = &devs[i];
        }
        fuzz_require(store_node_seen(coord.store, node_id, "host", "0.1", now) >= 0);
        fuzz_require(store_apply_snapshot(coord.store, node_id, 1, ptrs, n_devices) >= 0);
}

static void cleanup(void) {
        fuzz_coord_store_close(&coord);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_coord_sockets(&coord);
        fuzz_coord_store_open(&coord);
        add_node("node-1", 8, FUZZ_T0);
        add_node("node-2", 2, FUZZ_T0);
        add_node("node-3", 0, FUZZ_T0);
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *p = data, *end = data + size;
        FuzzRecord rec;

        /* Time stands still: a node changing state would be written to the store, and the
         * next input would start from another one. */
        fuzz_coord_start(&coord, FUZZ_T0);
        while (fuzz_next_record(&p, end, &rec)) {
                zmsg_t *m = fuzz_coord_message(&rec);

                query_message(coord.q, m);
                zmsg_destroy(&m);
        }
        fuzz_coord_stop(&coord);
        return 0;
}
