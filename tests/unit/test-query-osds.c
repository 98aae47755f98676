/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The query endpoint's OSD list (castlectl cluster osds) over inproc sockets and a real store:
 * each node's reported OSDs with its node id and hostname, the health of the disk under each
 * (the disk's own, a partition's parent's, none when the store does not know the device),
 * the removal in progress matched by id, the removals of OSDs a node no longer lists, every
 * reservation, one node asked for, and an unknown node refused. */
#include "tests/unit/coordtest.h"

#include <errno.h>
#include <stdlib.h>

#include "common/timeutil.h"
#include "coordinator/nodes.h"
#include "coordinator/query.h"

#define T0 INT64_C(1700000000000000)

typedef struct Fixture {
        CoordTestStore t;
        zsock_t *query, *client;
        Nodes *nodes;
        Query *q;
} Fixture;

/* node's OSD report as ingest keeps it: a copy of the heartbeat's lists. */
static void set_report(NodeRuntime *n, Castle__Heartbeat *h) {
        size_t size = castle__heartbeat__get_packed_size(h);
        uint8_t *buf = malloc(size + 1);

        assert_non_null(buf);
        castle__heartbeat__pack(h, buf);
        n->osd_report = castle__heartbeat__unpack(NULL, size, buf);
        assert_non_null(n->osd_report);
        free(buf);
}

static NodeRuntime *add_node(Fixture *f, const char *id, const char *hostname) {
        NodeRuntime *n;

        assert_int_equal(store_node_seen(f->t.store, id, hostname, "0.1", T0), 0);
        assert_int_equal(nodes_add(f->nodes, id, &n), 0);
        n->hostname = strdup(hostname);
        assert_non_null(n->hostname);
        return n;
}

/* node-1's devices: sdb failing, its partition sdb1 (no health of its own), sdc ok. */
static void add_devices(Fixture *f) {
        Castle__Device d[3], *p[3];
        Castle__DeviceHealth failing = CASTLE__DEVICE_HEALTH__INIT, ok = CASTLE__DEVICE_HEALTH__INIT;
        char *reason = (char *) "media errors: 12";

        failing.verdict = CASTLE__DEVICE_HEALTH__VERDICT__FAILING;
        failing.reasons = &reason;
        failing.n_reasons = 1;
        failing.source = (char *) "smartctl";
        ok.verdict = CASTLE__DEVICE_HEALTH__VERDICT__OK;
        ok.source = (char *) "nvme";
        for (size_t i = 0; i < 3; i++) {
                castle__device__init(&d[i]);
                p[i] = &d[i];
        }
        d[0].stable_id = (char *) "wwn-0x5001";
        d[0].kname = (char *) "sdb";
        d[0].path = (char *) "/dev/sdb";
        d[0].type = CASTLE__DEVICE__TYPE__DISK;
        d[0].health = &failing;
        d[1].stable_id = (char *) "wwn-0x5001-part1";
        d[1].kname = (char *) "sdb1";
        d[1].path = (char *) "/dev/sdb1";
        d[1].type = CASTLE__DEVICE__TYPE__PART;
        d[1].parent = (char *) "sdb";
        d[2].stable_id = (char *) "nvme-eui.01";
        d[2].kname = (char *) "nvme0n1";
        d[2].path = (char *) "/dev/nvme0n1";
        d[2].type = CASTLE__DEVICE__TYPE__DISK;
        d[2].health = &ok;
        assert_int_equal(store_apply_snapshot(f->t.store, "node-1", 1, p, 3), 0);
}

static void osd(Castle__OsdState *s, int32_t id, const char *device, const char *state) {
        castle__osd_state__init(s);
        s->osd_id = id;
        s->device = (char *) device;
        s->state = (char *) state;
        s->kind = (char *) "raw";
}

static int setup(void **state) {
        static unsigned n_fixtures = 0;
        Fixture *f = calloc(1, sizeof *f);
        Castle__Heartbeat h1 = CASTLE__HEARTBEAT__INIT, h3 = CASTLE__HEARTBEAT__INIT;
        Castle__OsdState o[4], *op1[3] = { &o[0], &o[1], &o[2] }, *op3[1] = { &o[3] };
        Castle__OsdRemoval rm[2], *rmp[2] = { &rm[0], &rm[1] };
        Castle__OsdReservation res = CASTLE__OSD_RESERVATION__INIT, *resp = &res;
        char query[64];

        assert_non_null(f);
        snprintf(query, sizeof query, "inproc://test-qo-query-%u", ++n_fixtures);
        coordtest_store_open(&f->t);
        f->query = coordtest_router(query);
        zsock_set_router_mandatory(f->query, 1);
        f->client = coordtest_dealer(query, NULL);
        assert_int_equal(nodes_new(f->t.store, 15 * USEC_PER_SEC, 120 * USEC_PER_SEC, &(NodesEvents){}, &f->nodes), 0);
        assert_int_equal(query_new(f->query, f->t.store, f->nodes, NULL, NULL, NULL, &f->q), 0);

        osd(&o[0], 0, "wwn-0x5001", "running");
        osd(&o[1], 1, "wwn-0x5001-part1", "crash-looping");
        o[1].restarts = 4;
        o[1].last_exit = (char *) "killed by SIGKILL";
        osd(&o[2], 2, "wwn-unknown", "stopped");
        osd(&o[3], 5, "nvme-eui.77", "running");
        for (size_t i = 0; i < 2; i++)
                castle__osd_removal__init(&rm[i]);
        rm[0].osd_id = 1;
        rm[0].step = (char *) "draining";
        rm[0].pgs_left = 5;
        rm[1].osd_id = 7; /* purged already: the node lists it no more */
        rm[1].step = (char *) "zapped";
        rm[1].device = (char *) "wwn-0x5009";
        res.osd_id = 9;
        res.slot = (char *) "/dev/disk/by-path/pci-0000:00:1f.2-ata-3";
        res.state = (char *) "waiting";
        h1.osds = op1;
        h1.n_osds = 3;
        h1.removals = rmp;
        h1.n_removals = 2;
        h1.reservations = &resp;
        h1.n_reservations = 1;
        h3.osds = op3;
        h3.n_osds = 1;
        set_report(add_node(f, "node-1", "host-1"), &h1);
        (void) add_node(f, "node-2", "host-2"); /* no report in this run */
        set_report(add_node(f, "node-3", "host-3"), &h3);
        add_devices(f);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        f->q = query_free(f->q);
        f->nodes = nodes_free(f->nodes);
        zsock_destroy(&f->client);
        zsock_destroy(&f->query);
        coordtest_store_close(&f->t);
        free(f);
        return 0;
}

/* Every reply to an OsdList query for node (NULL: all), up to the last, in *ret. */
static size_t ask(Fixture *f, const char *node, Castle__QueryReply **ret, size_t max) {
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
        Castle__OsdList l = CASTLE__OSD_LIST__INIT;
        zmsg_t *m;
        size_t n = 0;

        l.node_id = (char *) (node ?: "");
        q.protocol_version = CASTLE_PROTOCOL_VERSION;
        q.request_id = 42;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_OSDS;
        q.osds = &l;
        assert_int_equal(link_send(f->client, NULL, &q.base), 0);
        m = coordtest_recv(f->query);
        assert_int_equal(query_message(f->q, m), 0);
        zmsg_destroy(&m);
        do {
                assert_true(n < max);
                ret[n] = coordtest_recv_reply(f->client);
                assert_int_equal(ret[n]->request_id, 42);
        } while (!ret[n++]->last);
        return n;
}

static const Castle__ClusterOsd *find(Castle__QueryReply **r, size_t n, int32_t id) {
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < r[i]->n_osds; k++)
                        if (r[i]->osds[k]->osd->osd_id == id)
                                return r[i]->osds[k];
        fail_msg("osd.%d is not in the replies", (int) id);
        abort();
}

static void free_replies(Castle__QueryReply **r, size_t n) {
        for (size_t i = 0; i < n; i++)
                castle__query_reply__free_unpacked(r[i], NULL);
}

static void test_all(void **state) {
        Fixture *f = *state;
        Castle__QueryReply *r[8];
        const Castle__ClusterOsd *c;
        size_t n = ask(f, NULL, r, ELEMENTSOF(r)), osds = 0, removals = 0, reservations = 0;

        for (size_t i = 0; i < n; i++) {
                assert_true(isempty(r[i]->error));
                osds += r[i]->n_osds;
                removals += r[i]->n_removals;
                reservations += r[i]->n_reservations;
        }
        assert_int_equal(osds, 4);
        /* the disk's own health */
        c = find(r, n, 0);
        assert_string_equal(c->node_id, "node-1");
        assert_string_equal(c->hostname, "host-1");
        assert_string_equal(c->osd->state, "running");
        assert_non_null(c->health);
        assert_int_equal(c->health->verdict, CASTLE__DEVICE_HEALTH__VERDICT__FAILING);
        assert_string_equal(c->health->reasons[0], "media errors: 12");
        assert_null(c->removal);
        /* a partition: its disk's health; its removal by id */
        c = find(r, n, 1);
        assert_non_null(c->health);
        assert_int_equal(c->health->verdict, CASTLE__DEVICE_HEALTH__VERDICT__FAILING);
        assert_int_equal(c->osd->restarts, 4);
        assert_string_equal(c->osd->last_exit, "killed by SIGKILL");
        assert_non_null(c->removal);
        assert_string_equal(c->removal->step, "draining");
        assert_int_equal(c->removal->pgs_left, 5);
        /* a device the store does not know: no health */
        c = find(r, n, 2);
        assert_null(c->health);
        c = find(r, n, 5);
        assert_string_equal(c->node_id, "node-3");
        assert_string_equal(c->hostname, "host-3");
        /* osd.7 is no longer listed: its removal stands alone; osd.1's is not repeated */
        assert_int_equal(removals, 1);
        assert_int_equal(reservations, 1);
        for (size_t i = 0; i < n; i++) {
                if (r[i]->n_removals > 0) {
                        assert_int_equal(r[i]->removals[0]->osd->osd_id, 7);
                        assert_string_equal(r[i]->removals[0]->osd->device, "wwn-0x5009");
                        assert_string_equal(r[i]->removals[0]->removal->step, "zapped");
                        assert_string_equal(r[i]->removals[0]->node_id, "node-1");
                }
                if (r[i]->n_reservations > 0) {
                        assert_int_equal(r[i]->reservations[0]->reservation->osd_id, 9);
                        assert_string_equal(r[i]->reservations[0]->hostname, "host-1");
                        assert_string_equal(r[i]->reservations[0]->node_id, "node-1");
                }
        }
        free_replies(r, n);
}

static void test_one_node(void **state) {
        Fixture *f = *state;
        Castle__QueryReply *r[8];
        size_t n = ask(f, "node-3", r, ELEMENTSOF(r)), osds = 0;

        for (size_t i = 0; i < n; i++) {
                osds += r[i]->n_osds;
                assert_int_equal(r[i]->n_removals, 0);
                assert_int_equal(r[i]->n_reservations, 0);
        }
        assert_int_equal(osds, 1);
        assert_int_equal(find(r, n, 5)->osd->osd_id, 5);
        free_replies(r, n);
        /* a node known but silent in this run: an empty list */
        n = ask(f, "node-2", r, ELEMENTSOF(r));
        assert_int_equal(n, 1);
        assert_int_equal(r[0]->n_osds, 0);
        assert_true(isempty(r[0]->error));
        free_replies(r, n);
}

static void test_unknown_node(void **state) {
        Fixture *f = *state;
        Castle__QueryReply *r[2];
        size_t n = ask(f, "node-9", r, ELEMENTSOF(r));

        assert_int_equal(n, 1);
        assert_string_equal(r[0]->error, "no such node");
        free_replies(r, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_one_node, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_node, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
