/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ingest over inproc sockets and a real store: an agent's hello is acknowledged and answered
 * with Resync while the coordinator has no inventory for it, a snapshot and the next delta are
 * stored and acknowledged, a delta with a generation gap is answered with Resync and stored
 * nowhere, a node nobody knows is asked to start over, and what does not decode is dropped and
 * counted. Liveness follows the messages' time. */
#include "tests/unit/coordtest.h"

#include <string.h>

#include "common/timeutil.h"
#include "coordinator/ingest.h"

#define STALE_AFTER (15 * USEC_PER_SEC)
#define OFFLINE_AFTER (120 * USEC_PER_SEC)
#define T0 INT64_C(1700000000000000)

typedef struct Fixture {
        CoordTestStore t;
        char endpoint[64]; /* one per test: an inproc name is free again only once closed */
        zsock_t *agents, *agent;
        Nodes *nodes;
        Watch *watch;
        Jobs *jobs;
        Ingest *ingest;
        uint64_t message_id;
} Fixture;

static int setup(void **state) {
        static unsigned n_fixtures = 0;
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        coordtest_store_open(&f->t);
        snprintf(f->endpoint, sizeof f->endpoint, "inproc://test-ingest-%u", ++n_fixtures);
        f->agents = coordtest_router(f->endpoint);
        f->agent = coordtest_dealer(f->endpoint, "node-1");
        assert_int_equal(nodes_new(f->t.store, STALE_AFTER, OFFLINE_AFTER, NULL, &f->nodes), 0);
        assert_int_equal(watch_new(NULL, &f->watch), 0); /* nobody watches: it never sends */
        assert_int_equal(jobs_new(f->agents, NULL, f->nodes, NULL, &f->jobs), 0);
        assert_int_equal(ingest_new(f->agents, f->t.store, f->nodes, f->watch, f->jobs, NULL, &f->ingest),
                         0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        f->ingest = ingest_free(f->ingest);
        f->jobs = jobs_free(f->jobs);
        f->watch = watch_free(f->watch);
        f->nodes = nodes_free(f->nodes);
        zsock_destroy(&f->agent);
        zsock_destroy(&f->agents);
        coordtest_store_close(&f->t);
        free(f);
        return 0;
}

/* The agent sends e; the coordinator's loop would hand it to ingest at time now. */
static void deliver(Fixture *f, zsock_t *from, Castle__Envelope *e, int64_t now) {
        zmsg_t *m;

        e->message_id = ++f->message_id;
        coordtest_send_envelope(from, e);
        m = coordtest_recv(f->agents);
        assert_int_equal(ingest_message(f->ingest, m, now), 0);
        zmsg_destroy(&m);
}

static void expect_ack(zsock_t *agent, uint64_t message_id, uint64_t generation) {
        Castle__Envelope *e = coordtest_recv_envelope(agent);

        assert_int_equal(e->body_case, CASTLE__ENVELOPE__BODY_ACK);
        assert_int_equal(e->ack->message_id, message_id);
        assert_int_equal(e->ack->generation, generation);
        castle__envelope__free_unpacked(e, NULL);
}

static void expect_resync(zsock_t *agent, const char *reason) {
        Castle__Envelope *e = coordtest_recv_envelope(agent);

        assert_int_equal(e->body_case, CASTLE__ENVELOPE__BODY_RESYNC);
        assert_string_equal(e->resync->reason, reason);
        castle__envelope__free_unpacked(e, NULL);
}

static void hello(Fixture *f, uint64_t generation, int64_t now) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Hello h = CASTLE__HELLO__INIT;

        h.node_id = (char *) "node-1";
        h.hostname = (char *) "host-1";
        h.agent_version = (char *) "0.1";
        h.protocol_version = CASTLE_PROTOCOL_VERSION;
        h.generation = generation;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        deliver(f, f->agent, &e, now);
}

static void snapshot(Fixture *f, uint64_t generation, int64_t now) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device d = CASTLE__DEVICE__INIT, *devices[] = { &d };

        d.kname = (char *) "sda";
        d.stable_id = (char *) "wwn-a";
        d.available = true;
        s.generation = generation;
        s.devices = devices;
        s.n_devices = ELEMENTSOF(devices);
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        deliver(f, f->agent, &e, now);
}

static void delta(Fixture *f, uint64_t generation, int64_t now) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Delta d = CASTLE__DELTA__INIT;
        Castle__Device dev = CASTLE__DEVICE__INIT, *changed[] = { &dev };

        dev.kname = (char *) "sdb";
        dev.stable_id = (char *) "wwn-b";
        d.generation = generation;
        d.changed = changed;
        d.n_changed = ELEMENTSOF(changed);
        e.body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &d;
        deliver(f, f->agent, &e, now);
}

static void heartbeat(Fixture *f, zsock_t *from, uint64_t generation, int64_t now) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Heartbeat hb = CASTLE__HEARTBEAT__INIT;

        hb.generation = generation;
        e.body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &hb;
        deliver(f, from, &e, now);
}

static uint64_t stored_generation(Fixture *f) {
        StoreNode sn = {};
        uint64_t g;

        assert_int_equal(store_node_get(f->t.store, "node-1", &sn), 0);
        g = sn.generation;
        store_node_done(&sn);
        return g;
}

static size_t stored_devices(Fixture *f) {
        uint64_t yes = 0, no = 0;

        assert_int_equal(store_count_devices(f->t.store, &yes, &no), 0);
        return (size_t) (yes + no);
}

static void test_generation_gap(void **state) {
        Fixture *f = *state;
        NodeRuntime *n;

        hello(f, 0, T0);
        expect_ack(f->agent, 1, 0);
        expect_resync(f->agent, "hello"); /* nothing stored for it yet */
        n = nodes_get(f->nodes, "node-1");
        assert_non_null(n);
        assert_int_equal(n->state, NODE_ONLINE);
        assert_non_null(n->routing_id);

        snapshot(f, 1, T0 + 1);
        expect_ack(f->agent, 2, 1);
        assert_int_equal(stored_generation(f), 1);
        assert_int_equal(ingest_applied(f->ingest), 1);

        /* Generation 3 after 1: the delta for 2 was lost, so this one cannot be applied. */
        delta(f, 3, T0 + 2);
        expect_resync(f->agent, "generation gap");
        assert_int_equal(stored_generation(f), 1);
        assert_int_equal(stored_devices(f), 1);
        assert_int_equal(ingest_applied(f->ingest), 1);
        assert_int_equal(n->generation, 1);

        delta(f, 2, T0 + 3);
        expect_ack(f->agent, 4, 2);
        assert_int_equal(stored_generation(f), 2);
        assert_int_equal(stored_devices(f), 2);
        assert_int_equal(ingest_applied(f->ingest), 2);

        heartbeat(f, f->agent, 2, T0 + 4);
        expect_ack(f->agent, 5, 2);
        heartbeat(f, f->agent, 5, T0 + 5);
        expect_resync(f->agent, "heartbeat generation differs");
        assert_true(coordtest_quiet(f->agent, 50));
}

static void test_liveness(void **state) {
        Fixture *f = *state;
        NodeRuntime *n;

        hello(f, 0, T0);
        expect_ack(f->agent, 1, 0);
        expect_resync(f->agent, "hello");
        snapshot(f, 1, T0);
        expect_ack(f->agent, 2, 1);
        n = nodes_get(f->nodes, "node-1");
        assert_int_equal(n->last_seen, T0);

        nodes_tick(f->nodes, T0 + (int64_t) STALE_AFTER + 1);
        assert_int_equal(n->state, NODE_STALE);
        /* A heartbeat brings it back, and restarts its clock. */
        heartbeat(f, f->agent, 1, T0 + (int64_t) STALE_AFTER + 2);
        expect_ack(f->agent, 3, 1);
        assert_int_equal(n->state, NODE_ONLINE);
        nodes_tick(f->nodes, T0 + (int64_t) STALE_AFTER + 3);
        assert_int_equal(n->state, NODE_ONLINE);

        nodes_tick(f->nodes, T0 + 2 * (int64_t) STALE_AFTER + 3);
        assert_int_equal(n->state, NODE_STALE);
        nodes_tick(f->nodes, T0 + (int64_t) STALE_AFTER + 2 + (int64_t) OFFLINE_AFTER + 1);
        assert_int_equal(n->state, NODE_OFFLINE);
}

static void test_unknown_and_dropped(void **state) {
        Fixture *f = *state;
        zsock_t *stranger = coordtest_dealer(f->endpoint, "node-2");
        uint64_t dropped[_DROP_MAX] = {};
        zmsg_t *m;

        /* A heartbeat from a node the coordinator has never heard of: start over. */
        heartbeat(f, stranger, 4, T0);
        expect_resync(stranger, "unknown node");
        assert_null(nodes_get(f->nodes, "node-2"));

        /* Garbage is dropped and counted, and answered with nothing. */
        zstr_send(f->agent, "not a protobuf envelope");
        m = coordtest_recv(f->agents);
        assert_int_equal(ingest_message(f->ingest, m, T0), 0);
        zmsg_destroy(&m);
        ingest_add_drops(f->ingest, dropped);
        assert_int_equal(dropped[DROP_DECODE], 1);
        assert_true(coordtest_quiet(f->agent, 50));

        zsock_destroy(&stranger);
}

/* The agent sends these bytes as its message. */
static void deliver_raw(Fixture *f, const uint8_t *data, size_t size, int64_t now) {
        zframe_t *frame = zframe_new(data, size);
        zmsg_t *m;

        assert_non_null(frame);
        assert_int_equal(zframe_send(&frame, f->agent, 0), 0);
        m = coordtest_recv(f->agents);
        assert_int_equal(ingest_message(f->ingest, m, now), 0);
        zmsg_destroy(&m);
}

static size_t put_varint(uint8_t *b, uint64_t v) {
        size_t n = 0;

        do {
                b[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
        } while (v);
        return n;
}

/* What the issue reproduced on loopback: a hostname that forges log lines and clears the
 * screen is refused, other text is stored printable, and a snapshot whose one device has 8
 * million empty links is dropped before it is decoded, and neither stored nor acknowledged. */
static void test_hostile_messages(void **state) {
        Fixture *f = *state;
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Hello h = CASTLE__HELLO__INIT;
        uint64_t dropped[_DROP_MAX] = {};
        StoreNode sn = {};
        size_t reps = (16u << 20) / 2 - 64, w = 0;
        uint8_t *b = malloc(2 * reps + 64), dev[16];
        size_t n_dev = 0;

        h.node_id = (char *) "node-1";
        h.hostname = (char *) "x\ncastle-coordinator: Node root connected.\033[2J";
        h.agent_version = (char *) "0.1";
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        deliver(f, f->agent, &e, T0);
        assert_true(coordtest_quiet(f->agent, 50));
        assert_null(nodes_get(f->nodes, "node-1"));
        ingest_add_drops(f->ingest, dropped);
        assert_int_equal(dropped[DROP_INVALID], 1);

        h.hostname = (char *) "host-1";
        h.agent_version = (char *) "0.1\033[2J";
        deliver(f, f->agent, &e, T0);
        expect_ack(f->agent, 2, 0);
        expect_resync(f->agent, "hello");
        assert_int_equal(store_node_get(f->t.store, "node-1", &sn), 0);
        assert_string_equal(sn.hostname, "host-1");
        assert_string_equal(sn.agent_version, "0.1?[2J");
        store_node_done(&sn);
        snapshot(f, 1, T0 + 1);
        expect_ack(f->agent, 3, 1);

        /* Envelope { protocol_version = 1, message_id = 4, snapshot = { generation = 2,
         * devices = { kname = "sdz", links = "" x 8 million } } } */
        assert_non_null(b);
        dev[n_dev++] = 0x12; /* Snapshot.devices */
        n_dev += put_varint(dev + n_dev, 5 + 2 * reps);
        memcpy(dev + n_dev, "\x12\x03sdz", 5);
        n_dev += 5;
        b[w++] = 0x08;
        b[w++] = CASTLE_PROTOCOL_VERSION;
        b[w++] = 0x10;
        b[w++] = 4;
        b[w++] = 11 << 3 | 2;
        w += put_varint(b + w, 2 + n_dev + 2 * reps);
        b[w++] = 0x08; /* Snapshot.generation */
        b[w++] = 2;
        memcpy(b + w, dev, n_dev);
        w += n_dev;
        for (size_t i = 0; i < reps; i++) {
                b[w++] = 4 << 3 | 2; /* Device.links */
                b[w++] = 0;
        }
        assert_true(reps > 8000000);
        deliver_raw(f, b, w, T0 + 2);
        free(b);
        assert_true(coordtest_quiet(f->agent, 50));
        assert_int_equal(stored_generation(f), 1);
        memset(dropped, 0, sizeof dropped);
        ingest_add_drops(f->ingest, dropped);
        assert_int_equal(dropped[DROP_INVALID], 2); /* the hostname, and this */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_generation_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_liveness, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_and_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_messages, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
