/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SQLite store on a real file: schema and WAL, nodes, snapshots replace, deltas upsert
 * and remove, every query filter, and persistence across reopening. */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/strv.h"
#include "coordinator/store.h"

static char dir[] = "/tmp/castle-test-store.XXXXXX";
static char path[64];

static int setup(void **state) {
        strcpy(dir, "/tmp/castle-test-store.XXXXXX"); /* a fresh template for each test */
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/c.db", dir);
        return 0;
}

static int teardown(void **state) {
        char p[96];

        for (const char *s = ""; s; s = streq(s, "") ? "-wal" : streq(s, "-wal") ? "-shm" : NULL) {
                snprintf(p, sizeof p, "%s%s", path, s);
                unlink(p);
        }
        rmdir(dir);
        return 0;
}

static Castle__Device dev(const char *kname, const char *id, bool available, uint64_t size, int transport,
                          const char *model) {
        Castle__Device d = CASTLE__DEVICE__INIT;

        d.kname = (char *) kname;
        d.stable_id = (char *) (id ?: "");
        d.available = available;
        d.size = size;
        d.transport = transport;
        d.model = (char *) (model ?: "");
        return d;
}

static int count(const char *node_id, const uint8_t *data, size_t size, void *userdata) {
        Castle__Device *d = castle__device__unpack(NULL, size, data);

        assert_non_null(d); /* what is stored is the packed message */
        castle__device__free_unpacked(d, NULL);
        (*(int *) userdata)++;
        return 0;
}

static int query(Store *s, DeviceQuery q) {
        int n = 0;

        assert_int_equal(store_query_devices(s, &q, count, &n), 0);
        return n;
}

static void test_store(void **state) {
        Store *s = NULL;
        StoreNode n = {}, *nodes = NULL;
        size_t nn = 0;
        Castle__Device a = dev("sda", "wwn-a", true, 4000, CASTLE__DEVICE__TRANSPORT__SAS, "ST4000NM"),
                       b = dev("sdb", "wwn-b", false, 2000, CASTLE__DEVICE__TRANSPORT__NVME, "Samsung PM9A3"),
                       c = dev("sdc", NULL, true, 1000, CASTLE__DEVICE__TRANSPORT__SATA, NULL), bad = dev("", NULL, 1, 1, 0, NULL);
        Castle__Device *first[] = { &a, &b, &c }, *second[] = { &a, &c }, *broken[] = { &bad };
        char *removed[] = { (char *) "kname:sdc" };

        assert_int_equal(store_open_sqlite(path, &s), 0);
        {
                sqlite3 *db;
                sqlite3_stmt *st;
                assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
                assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
                assert_int_equal(sqlite3_step(st), SQLITE_ROW);
                assert_string_equal((const char *) sqlite3_column_text(st, 0), "wal");
                sqlite3_finalize(st);
                sqlite3_close(db);
        }

        assert_int_equal(store_node_seen(s, "n1", "host1", "0.1.0", 100), 0);
        assert_int_equal(store_node_set_state(s, "n1", NODE_ONLINE, 101), 0);
        assert_int_equal(store_apply_snapshot(s, "n1", 7, first, 3), 0);
        assert_int_equal(store_apply_snapshot(s, "n2", 1, second, 2), 0); /* unknown node: created */
        assert_int_equal(store_node_get(s, "n1", &n), 0);
        assert_string_equal(n.hostname, "host1");
        assert_int_equal(n.generation, 7);
        assert_int_equal(n.state, NODE_ONLINE);
        assert_int_equal(n.last_seen, 100);
        assert_int_equal(n.n_devices, 3);
        store_node_done(&n);
        assert_int_equal(store_node_get(s, "nope", &n), -ENOENT);

        /* filters */
        assert_int_equal(query(s, (DeviceQuery) DEVICE_QUERY_INIT), 5);
        assert_int_equal(query(s, (DeviceQuery) { .node_id = "n1", .available = -1, .rotational = -1 }), 3);
        assert_int_equal(query(s, (DeviceQuery) { .available = 1, .rotational = -1 }), 4);
        assert_int_equal(query(s, (DeviceQuery) { .available = 0, .rotational = -1 }), 1);
        assert_int_equal(query(s, (DeviceQuery) { .available = -1, .rotational = -1, .min_size = 1500 }), 3);
        assert_int_equal(query(s, (DeviceQuery) { .available = -1, .rotational = -1, .max_size = 1500 }), 2);
        assert_int_equal(query(s, (DeviceQuery) { .available = -1, .rotational = -1, .transport = "nvme" }), 1);
        assert_int_equal(query(s, (DeviceQuery) { .available = -1, .rotational = -1, .model = "pm9a" }), 1);
        assert_int_equal(query(s, (DeviceQuery) { .available = -1, .rotational = -1, .stable_id = "wwn-a" }), 2);
        assert_int_equal(query(s, (DeviceQuery) { .available = -1, .rotational = -1, .stable_id = "kname:sdc" }), 2);
        assert_int_equal(query(s, (DeviceQuery) { .available = -1, .rotational = -1, .limit = 2 }), 2);
        {
                uint64_t yes = 0, no = 0;
                assert_int_equal(store_count_devices(s, &yes, &no), 0); /* the metrics' device counts */
                assert_int_equal(yes, 4);
                assert_int_equal(no, 1);
        }

        /* a snapshot replaces; a delta upserts and removes */
        assert_int_equal(store_apply_snapshot(s, "n1", 8, second, 2), 0);
        assert_int_equal(query(s, (DeviceQuery) { .node_id = "n1", .available = -1, .rotational = -1 }), 2);
        assert_int_equal(store_apply_delta(s, "n1", 9, &first[1], 1, removed, 1), 0);
        assert_int_equal(query(s, (DeviceQuery) { .node_id = "n1", .available = -1, .rotational = -1 }), 2);
        assert_int_equal(query(s, (DeviceQuery) { .node_id = "n1", .available = 0, .rotational = -1 }), 1);

        /* a device with neither id nor name is refused, and the transaction leaves no trace */
        assert_int_equal(store_apply_delta(s, "n1", 10, broken, 1, NULL, 0), -EINVAL);
        assert_int_equal(store_node_get(s, "n1", &n), 0);
        assert_int_equal(n.generation, 9);
        store_node_done(&n);

        /* restart: everything is still there, online nodes become stale */
        s = store_close(s);
        assert_int_equal(store_open_sqlite(path, &s), 0);
        assert_int_equal(store_mark_all_stale(s, 500), 0);
        assert_int_equal(store_list_nodes(s, &nodes, &nn), 0);
        assert_int_equal(nn, 2);
        assert_string_equal(nodes[0].node_id, "n1");
        assert_int_equal(nodes[0].state, NODE_STALE);
        assert_int_equal(nodes[0].state_since, 500);
        assert_int_equal(nodes[1].state, NODE_OFFLINE); /* never online: stays as it was */
        store_nodes_free(nodes, nn);
        assert_int_equal(query(s, (DeviceQuery) DEVICE_QUERY_INIT), 4);
        store_close(s);
}

static off_t file_size(const char *suffix) {
        char p[96];
        struct stat st;

        snprintf(p, sizeof p, "%s%s", path, suffix);
        return stat(p, &st) < 0 ? 0 : st.st_size;
}

/* A write that fails (files may not grow: RLIMIT_FSIZE, as a full disk would) is counted, the
 * node whose snapshot it was is marked unsaved and listed with the error, nothing stored
 * before is lost, and the next snapshot that fits clears it all. */
static void test_health(void **state) {
        enum { MANY = 2000 };
        Store *s = NULL;
        StoreHealth h;
        StoreNode n = {}, *nodes = NULL;
        size_t nn = 0;
        char **unsaved = NULL;
        Castle__Device a = dev("sda", "wwn-a", true, 4000, CASTLE__DEVICE__TRANSPORT__SAS, "ST4000NM");
        Castle__Device *one[] = { &a }, *many[MANY], devs[MANY];
        char names[MANY][16];
        struct rlimit unlimited, small;

        for (size_t i = 0; i < MANY; i++) {
                snprintf(names[i], sizeof names[i], "sd%zu", i);
                devs[i] = dev(names[i], names[i], false, i, CASTLE__DEVICE__TRANSPORT__SAS, "a model name");
                many[i] = &devs[i];
        }
        assert_int_equal(store_open_sqlite(path, &s), 0);
        assert_int_equal(store_apply_snapshot(s, "n1", 1, one, 1), 0);
        store_get_health(s, &h);
        assert_int_equal(h.error, 0);
        assert_int_equal(h.unsaved, 0);

        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &unlimited), 0);
        small = unlimited;
        small.rlim_cur = (rlim_t) (MAX(file_size(""), file_size("-wal")) + 8192);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
        assert_true(store_apply_snapshot(s, "n2", 1, many, MANY) < 0);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &unlimited), 0);

        store_get_health(s, &h);
        assert_true(h.error < 0);
        assert_true(h.failing_since > 0);
        assert_int_equal(h.failures, 1);
        assert_int_equal(h.unsaved, 1);
        assert_int_equal(store_unsaved_nodes(s, &unsaved), 0);
        assert_string_equal(unsaved[0], "n2");
        assert_null(unsaved[1]);
        unsaved = strv_free(unsaved);
        /* n2 was never stored: listed all the same, with the error; n1 is intact */
        assert_int_equal(store_list_nodes(s, &nodes, &nn), 0);
        assert_int_equal(nn, 2);
        assert_string_equal(nodes[0].node_id, "n1");
        assert_int_equal(nodes[0].store_error, 0);
        assert_int_equal(nodes[0].n_devices, 1);
        assert_string_equal(nodes[1].node_id, "n2");
        assert_int_equal(nodes[1].store_error, h.error);
        assert_int_equal(nodes[1].state, NODE_STALE);
        store_nodes_free(nodes, nn);

        /* room again: the snapshot is stored, and nothing is marked any more */
        assert_int_equal(store_apply_snapshot(s, "n2", 2, many, MANY), 0);
        store_get_health(s, &h);
        assert_int_equal(h.error, 0);
        assert_int_equal(h.failing_since, 0);
        assert_int_equal(h.failures, 1);
        assert_int_equal(h.unsaved, 0);
        assert_int_equal(store_node_get(s, "n2", &n), 0);
        assert_int_equal(n.store_error, 0);
        assert_int_equal(n.n_devices, MANY);
        store_node_done(&n);
        assert_int_equal(store_node_get(s, "n1", &n), 0);
        assert_int_equal(n.n_devices, 1);
        store_node_done(&n);
        store_close(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_store, setup, teardown),
                cmocka_unit_test_setup_teardown(test_health, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
