/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ingest over inproc sockets and a real store: an agent's hello is acknowledged and answered
 * with Resync while the coordinator has no inventory for it, a snapshot and the next delta are
 * stored and acknowledged, a delta with a generation gap is answered with Resync and stored
 * nowhere, a node nobody knows is asked to start over, and what does not decode is dropped and
 * counted. Liveness follows the messages' time. Quotas: a snapshot or delta that would give a
 * node too many devices, or carries a device record too large, is refused whole; an agent over
 * its message rate is dropped before decoding. A watcher sees the devices a snapshot removed.
 * Overload: a queue that stays non-empty for INGEST_BEHIND_USEC makes ingest behind, with its
 * lag, until the queue is empty once. The agents' socket answers heartbeats but sends none, and
 * agents send no heartbeat TTL: either makes libzmq cancel a timer per message by a linear
 * search, which 10,000 agents turned into a stall (proto/link.h). */
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

static void send_snapshot_of(Fixture *f, uint64_t generation, const char *const *ids, size_t n, int64_t now) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device *d = calloc(n, sizeof(Castle__Device)), **p = calloc(n, sizeof(Castle__Device *));

        assert_non_null(d);
        assert_non_null(p);
        for (size_t i = 0; i < n; i++) {
                castle__device__init(&d[i]);
                d[i].kname = (char *) ids[i];
                d[i].stable_id = (char *) ids[i];
                p[i] = &d[i];
        }
        s.generation = generation;
        s.devices = p;
        s.n_devices = n;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        deliver(f, f->agent, &e, now);
        free(p);
        free(d);
}

static void send_delta_of(Fixture *f, uint64_t generation, const char *const *changed, size_t n_changed,
                          char **removed, size_t n_removed, int64_t now) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Delta dl = CASTLE__DELTA__INIT;
        Castle__Device d[8], *p[8];

        assert_true(n_changed <= ELEMENTSOF(d));
        for (size_t i = 0; i < n_changed; i++) {
                castle__device__init(&d[i]);
                d[i].kname = (char *) changed[i];
                d[i].stable_id = (char *) changed[i];
                p[i] = &d[i];
        }
        dl.generation = generation;
        dl.changed = p;
        dl.n_changed = n_changed;
        dl.removed = removed;
        dl.n_removed = n_removed;
        e.body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &dl;
        deliver(f, f->agent, &e, now);
}

static uint64_t drops(Fixture *f, DropReason why) {
        uint64_t dropped[_DROP_MAX] = {};

        ingest_add_drops(f->ingest, dropped);
        return dropped[why];
}

static void test_device_quotas(void **state) {
        Fixture *f = *state;
        const char *three[] = { "wwn-a", "wwn-b", "wwn-c" };
        const char *big[] = { "wwn-x" };
        char *gone_b[] = { (char *) "wwn-b" };
        char model[512];
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device d = CASTLE__DEVICE__INIT, *dp[] = { &d };

        ingest_set_limits(f->ingest, &(IngestLimits) { .max_devices = 2, .max_device_size = 256 });
        hello(f, 0, T0);
        expect_ack(f->agent, 1, 0);
        expect_resync(f->agent, "hello");

        /* Three devices for a quota of two: refused whole, nothing stored, nothing answered. */
        send_snapshot_of(f, 1, three, 3, T0);
        assert_true(coordtest_quiet(f->agent, 50));
        assert_int_equal(drops(f, DROP_QUOTA), 1);
        assert_int_equal(stored_devices(f), 0);
        assert_int_equal(ingest_applied(f->ingest), 0);

        send_snapshot_of(f, 1, three, 2, T0);
        expect_ack(f->agent, 3, 1);
        assert_int_equal(stored_devices(f), 2);

        /* A delta that adds a third device is refused; one that changes the two, or swaps
         * one for another, is within the quota. */
        send_delta_of(f, 2, three + 2, 1, NULL, 0, T0);
        assert_true(coordtest_quiet(f->agent, 50));
        assert_int_equal(drops(f, DROP_QUOTA), 2);
        assert_int_equal(stored_generation(f), 1);
        send_delta_of(f, 2, three, 2, NULL, 0, T0);
        expect_ack(f->agent, 5, 2);
        send_delta_of(f, 3, three + 2, 1, gone_b, 1, T0);
        expect_ack(f->agent, 6, 3);
        assert_int_equal(stored_devices(f), 2);

        /* A device record over max-device-size. */
        memset(model, 'm', sizeof model - 1);
        model[sizeof model - 1] = 0;
        d.kname = (char *) big[0];
        d.stable_id = (char *) big[0];
        d.model = model;
        s.generation = 4;
        s.devices = dp;
        s.n_devices = 1;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        deliver(f, f->agent, &e, T0);
        assert_true(coordtest_quiet(f->agent, 50));
        assert_int_equal(drops(f, DROP_QUOTA), 3);
        assert_int_equal(stored_generation(f), 3);
        assert_int_equal(stored_devices(f), 2);
}

static void test_rate(void **state) {
        Fixture *f = *state;

        ingest_set_limits(f->ingest, &(IngestLimits) { .max_rate = 2 }); /* bursts of 4 */
        hello(f, 0, T0);
        expect_ack(f->agent, 1, 0);
        expect_resync(f->agent, "hello");
        snapshot(f, 1, T0);
        expect_ack(f->agent, 2, 1);
        heartbeat(f, f->agent, 1, T0);
        expect_ack(f->agent, 3, 1);
        heartbeat(f, f->agent, 1, T0);
        expect_ack(f->agent, 4, 1);
        heartbeat(f, f->agent, 1, T0);
        expect_ack(f->agent, 5, 1);
        /* The fifth message within the same instant: over (hello came from a node not yet
         * known, before its bucket). */
        heartbeat(f, f->agent, 1, T0);
        assert_true(coordtest_quiet(f->agent, 50));
        assert_int_equal(drops(f, DROP_RATE), 1);

        /* Half a second later, one more token. */
        heartbeat(f, f->agent, 1, T0 + (int64_t) USEC_PER_SEC / 2);
        expect_ack(f->agent, 7, 1);
        heartbeat(f, f->agent, 1, T0 + (int64_t) USEC_PER_SEC / 2);
        assert_true(coordtest_quiet(f->agent, 50));
        assert_int_equal(drops(f, DROP_RATE), 2);
}

/* A second snapshot replaces the first: a watcher hears of every device in it, and of each
 * one that is gone, once. */
static void test_snapshot_removed_to_watcher(void **state) {
        Fixture *f = *state;
        const char *first[] = { "wwn-a", "wwn-b", "wwn-c", "wwn-d" };
        const char *second[] = { "wwn-d", "wwn-b", "wwn-e" };
        char endpoint[96];
        zsock_t *query, *client;
        Watch *watch;
        Ingest *ingest;
        zframe_t *me;
        zmsg_t *m;
        size_t changed = 0;
        bool gone_a = false, gone_c = false;

        snprintf(endpoint, sizeof endpoint, "%s-query", f->endpoint);
        query = coordtest_router(endpoint);
        zsock_set_router_mandatory(query, 1);
        client = coordtest_dealer(endpoint, "watcher");
        assert_int_equal(watch_new(query, &watch), 0);
        assert_int_equal(ingest_new(f->agents, f->t.store, f->nodes, watch, f->jobs, NULL, &ingest), 0);
        f->ingest = ingest_free(f->ingest);
        f->ingest = ingest;

        hello(f, 0, T0);
        expect_ack(f->agent, 1, 0);
        expect_resync(f->agent, "hello");
        send_snapshot_of(f, 1, first, ELEMENTSOF(first), T0);
        expect_ack(f->agent, 2, 1);

        /* The client subscribes (its first message tells the ROUTER its routing id). */
        zstr_send(client, "hello");
        m = coordtest_recv(query);
        me = zframe_dup(zmsg_first(m));
        zmsg_destroy(&m);
        assert_int_equal(watch_subscribe(watch, me, 1), 0);
        zframe_destroy(&me);

        send_snapshot_of(f, 2, second, ELEMENTSOF(second), T0);
        expect_ack(f->agent, 3, 2);
        for (;;) {
                Castle__QueryReply *r;

                if (coordtest_quiet(client, 100))
                        break;
                r = coordtest_recv_reply(client);
                assert_non_null(r->event);
                if (r->event->changed)
                        changed++;
                else if (streq(r->event->removed, "wwn-a")) {
                        assert_false(gone_a);
                        gone_a = true;
                } else if (streq(r->event->removed, "wwn-c")) {
                        assert_false(gone_c);
                        gone_c = true;
                } else
                        fail_msg("unexpected event for %s", r->event->removed);
                castle__query_reply__free_unpacked(r, NULL);
        }
        assert_int_equal(changed, ELEMENTSOF(second));
        assert_true(gone_a);
        assert_true(gone_c);

        f->ingest = ingest_free(f->ingest);
        watch = watch_free(watch);
        zsock_destroy(&client);
        zsock_destroy(&query);
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

/* The coordinator says it is behind only when its agents' queue has not been empty for
 * INGEST_BEHIND_USEC, reports how long, and is caught up as soon as the queue drains. */
static void test_behind(void **state) {
        Fixture *f = *state;
        uint64_t t = 1000 * USEC_PER_SEC;

        assert_false(ingest_behind(f->ingest));
        assert_int_equal(ingest_lag_usec(f->ingest, t), 0);

        /* a burst that drains within the limit is not being behind */
        ingest_queue_state(f->ingest, true, t);
        ingest_queue_state(f->ingest, true, t + INGEST_BEHIND_USEC - 1);
        assert_false(ingest_behind(f->ingest));
        assert_int_equal(ingest_lag_usec(f->ingest, t + USEC_PER_SEC), USEC_PER_SEC);
        ingest_queue_state(f->ingest, false, t + INGEST_BEHIND_USEC - 1);
        assert_false(ingest_behind(f->ingest));
        assert_int_equal(ingest_lag_usec(f->ingest, t + 2 * INGEST_BEHIND_USEC), 0);

        /* a queue that never empties: behind from INGEST_BEHIND_USEC on, the lag keeps growing */
        t += 100 * USEC_PER_SEC;
        for (uint64_t d = 0; d < INGEST_BEHIND_USEC; d += USEC_PER_SEC / 10) {
                ingest_queue_state(f->ingest, true, t + d);
                assert_false(ingest_behind(f->ingest));
        }
        ingest_queue_state(f->ingest, true, t + INGEST_BEHIND_USEC);
        assert_true(ingest_behind(f->ingest));
        assert_int_equal(ingest_lag_usec(f->ingest, t + 3 * INGEST_BEHIND_USEC), 3 * INGEST_BEHIND_USEC);

        /* empty once: caught up */
        ingest_queue_state(f->ingest, false, t + 4 * INGEST_BEHIND_USEC);
        assert_false(ingest_behind(f->ingest));
        assert_int_equal(ingest_lag_usec(f->ingest, t + 4 * INGEST_BEHIND_USEC), 0);
}

static void test_agent_socket_heartbeats(void **state) {
        zsock_t *server = NULL, *client = NULL, *query = NULL;

        assert_int_equal(link_bind("inproc://test-ingest-hb",
                                   &(LinkOptions) { .insecure = true, .answer_heartbeats_only = true }, &server),
                         0);
        assert_int_equal(zsock_heartbeat_ivl(server), 0);
        assert_int_equal(link_bind("inproc://test-ingest-hb-query", &(LinkOptions) { .insecure = true }, &query), 0);
        assert_true(zsock_heartbeat_ivl(query) > 0); /* a server of few clients still finds dead ones */
        assert_int_equal(link_connect("inproc://test-ingest-hb", &(LinkOptions) { .insecure = true }, &client), 0);
        assert_true(zsock_heartbeat_ivl(client) > 0);
        assert_true(zsock_heartbeat_timeout(client) > 0);
        assert_int_equal(zsock_heartbeat_ttl(client), 0);
        assert_true(zsock_handshake_ivl(server) >= 60000);
        zsock_destroy(&client);
        zsock_destroy(&query);
        zsock_destroy(&server);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_generation_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_liveness, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_and_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_messages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_device_quotas, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_removed_to_watcher, setup, teardown),
                cmocka_unit_test_setup_teardown(test_behind, setup, teardown),
                cmocka_unit_test(test_agent_socket_heartbeats),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
