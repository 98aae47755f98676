/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The query endpoint's OSD spec requests over inproc sockets, a real store and intent store
 * (fake backend) and the real spec parser and selection: the roles they need, the YAML's
 * bound, a malformed spec refused with nothing stored, a dry run answered with plans and
 * nothing stored, an apply recorded in the audit trail before it is stored and answered, the
 * list, plan and rm. */
#include "tests/unit/coordtest.h"
#include "tests/unit/intenttest.h"

#include <errno.h>

#include "common/timeutil.h"
#include "coordinator/audit.h"
#include "coordinator/query.h"
#include "coordinator/specs.h"
#include "spec/spec.h"

#define T0 INT64_C(1700000000000000)

/* node-1's devices in the store: two clean disks and one with a filesystem. */
static void add_devices(void *fixture);

typedef struct Fixture {
        CoordTestStore t;
        zsock_t *agents, *agent, *query, *client;
        zloop_t *loop;
        Nodes *nodes;
        Jobs *jobs;
        Watch *watch;
        Query *q;
        Fake fake;
        Intent *intent;
        Audit *audit;
        Specs *specs;
} Fixture;

static int setup(void **state) {
        static unsigned n_fixtures = 0;
        Fixture *f = calloc(1, sizeof(Fixture));
        Castle__Envelope hb = CASTLE__ENVELOPE__INIT;
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;
        char agents[64], query[64];
        IntentBackend b;
        NodeRuntime *node;
        zmsg_t *m;

        assert_non_null(f);
        n_fixtures++;
        snprintf(agents, sizeof agents, "inproc://test-qs-agents-%u", n_fixtures);
        snprintf(query, sizeof query, "inproc://test-qs-query-%u", n_fixtures);
        coordtest_store_open(&f->t);
        f->agents = coordtest_router(agents);
        f->agent = coordtest_dealer(agents, "node-1");
        f->query = coordtest_router(query);
        zsock_set_router_mandatory(f->query, 1);
        f->client = coordtest_dealer(query, NULL);
        f->loop = zloop_new();
        assert_int_equal(nodes_new(f->t.store, 15 * USEC_PER_SEC, 120 * USEC_PER_SEC, &(NodesEvents){}, &f->nodes), 0);
        assert_int_equal(jobs_new(f->agents, f->query, f->nodes, NULL, &f->jobs), 0);
        assert_int_equal(watch_new(f->query, &f->watch), 0);
        assert_int_equal(query_new(f->query, f->t.store, f->nodes, f->watch, f->jobs, NULL, &f->q), 0);
        /* the intent store in the store's own file, as castle-coordinator keeps it */
        fake_init(&f->fake);
        b = fake_backend(&f->fake);
        assert_int_equal(intent_open(f->t.path, &b, &f->intent), 0);
        assert_int_equal(intent_attach(f->intent, f->loop), 0);
        assert_int_equal(audit_new(f->intent, "coord-1", &f->audit), 0);
        query_set_audit(f->q, f->audit);
        jobs_set_audit(f->jobs, f->audit);
        assert_int_equal(specs_new(f->intent, f->t.store, f->nodes, f->agents, &f->specs), 0);
        query_set_specs(f->q, f->specs);

        hb.body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        hb.heartbeat = &h;
        coordtest_send_envelope(f->agent, &hb);
        m = coordtest_recv(f->agents);
        assert_int_equal(store_node_seen(f->t.store, "node-1", "host-1", "0.1", T0), 0);
        assert_int_equal(nodes_add(f->nodes, "node-1", &node), 0);
        node->routing_id = zframe_dup(zmsg_first(m));
        node->last_seen = T0;
        assert_int_equal(nodes_set_state(f->nodes, node, NODE_ONLINE, T0), 0);
        zmsg_destroy(&m);
        add_devices(f);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        f->audit = audit_free(f->audit);
        f->intent = intent_close(f->intent);
        f->specs = specs_free(f->specs);
        zloop_destroy(&f->loop);
        f->q = query_free(f->q);
        f->watch = watch_free(f->watch);
        f->jobs = jobs_free(f->jobs);
        f->nodes = nodes_free(f->nodes);
        zsock_destroy(&f->client);
        zsock_destroy(&f->query);
        zsock_destroy(&f->agent);
        zsock_destroy(&f->agents);
        coordtest_store_close(&f->t);
        free(f);
        return 0;
}

/* The client's request, handed to the query endpoint as castle-coordinator's loop would. */
static void request(Fixture *f, Castle__QueryRequest *q) {
        zmsg_t *m;

        q->protocol_version = CASTLE_PROTOCOL_VERSION;
        assert_int_equal(link_send(f->client, NULL, &q->base), 0);
        m = coordtest_recv(f->query);
        assert_int_equal(query_message(f->q, m), 0);
        zmsg_destroy(&m);
}

static void add_devices_to(Store *store) {
        Castle__Device d[3], *p[3];
        Castle__Reason fs = CASTLE__REASON__INIT, *fsp = &fs;
        const char *names[] = { "sdb", "sdc", "sdd" };
        char paths[3][16], ids[3][32];

        for (size_t i = 0; i < 3; i++) {
                castle__device__init(&d[i]);
                snprintf(paths[i], sizeof paths[i], "/dev/%s", names[i]);
                snprintf(ids[i], sizeof ids[i], "wwn-0x500%zu", i);
                d[i].kname = (char *) names[i];
                d[i].path = paths[i];
                d[i].stable_id = ids[i];
                d[i].type = CASTLE__DEVICE__TYPE__DISK;
                d[i].size = UINT64_C(100) * 1000 * 1000 * 1000;
                d[i].rotational = true;
                d[i].available = i != 2;
                d[i].model = (char *) "TESTDISK";
                d[i].vendor = (char *) "ACME";
                p[i] = &d[i];
        }
        fs.code = CASTLE__REASON__CODE__HAS_FILESYSTEM;
        fs.message = (char *) "Has a FileSystem";
        d[2].reasons = &fsp;
        d[2].n_reasons = 1;
        assert_int_equal(store_apply_snapshot(store, "node-1", 1, p, 3), 0);
}

static void add_devices(void *fixture) {
        add_devices_to(((Fixture *) fixture)->t.store);
}


/* Runs the loop until the client has a reply waiting (5 s at most), and returns it. */
static Castle__QueryReply *pump_reply(Fixture *f) {
        for (int k = 0; k < 500 && !(zsock_events(f->client) & ZMQ_POLLIN); k++) {
                zloop_timer(f->loop, 10, 1, run_until_timeout, NULL);
                zloop_start(f->loop);
        }
        return coordtest_recv_reply(f->client);
}

static Castle__QueryReply *apply(Fixture *f, const char *yaml, bool dry_run) {
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
        Castle__SpecApply a = CASTLE__SPEC_APPLY__INIT;

        a.yaml = (char *) yaml;
        a.dry_run = dry_run;
        q.request_id = 7;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_APPLY;
        q.apply = &a;
        request(f, &q);
        return pump_reply(f);
}

static Castle__QueryReply *list(Fixture *f) {
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
        Castle__SpecList l = CASTLE__SPEC_LIST__INIT;

        q.request_id = 8;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_SPECS;
        q.specs = &l;
        request(f, &q);
        return pump_reply(f);
}

static size_t stored(Fixture *f) {
        Castle__QueryReply *r = list(f);
        size_t n = r->n_specs;

        assert_true(isempty(r->error));
        castle__query_reply__free_unpacked(r, NULL);
        return n;
}

static void test_roles(void **state) {
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_APPLY), ZAP_ROLE_OPERATOR);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_SPEC_RM), ZAP_ROLE_OPERATOR);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_SPECS), ZAP_ROLE_VIEWER);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_PLAN), ZAP_ROLE_VIEWER);
}

static void test_bounds(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *big = malloc(SPEC_YAML_MAX + 2);
        Castle__QueryReply *r;

        assert_non_null(big);
        memset(big, '#', SPEC_YAML_MAX + 1);
        big[SPEC_YAML_MAX + 1] = 0;
        /* refused by the codec's bound on a YAML document, before it is decoded whole */
        r = apply(f, big, false);
        assert_string_equal(r->error, "malformed request");
        castle__query_reply__free_unpacked(r, NULL);
        r = apply(f, "", false);
        assert_non_null(strstr(r->error, "empty"));
        castle__query_reply__free_unpacked(r, NULL);
        assert_int_equal(stored(f), 0);
}

#define SPEC_YAML "service_type: osd\nservice_id: disks\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    all: true\n  method: raw\n"

static void test_malformed(void **state) {
        Fixture *f = *state;
        Castle__QueryReply *r;

        r = apply(f, SPEC_YAML "---\nservice_type: osd\nservice_id: bad\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    all: true\n  nonsense: 1\n", false);
        assert_false(isempty(r->error));
        assert_non_null(strstr(r->error, "nonsense"));
        assert_non_null(strstr(r->error, "line"));
        castle__query_reply__free_unpacked(r, NULL);
        assert_int_equal(stored(f), 0); /* the good document of the stream is not stored either */
}

static void test_dry_run_apply_rm(void **state) {
        Fixture *f = *state;
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
        Castle__SpecRemove rm = CASTLE__SPEC_REMOVE__INIT;
        Castle__PlanRequest pr = CASTLE__PLAN_REQUEST__INIT;
        Castle__QueryReply *r;
        Castle__NodePlan *p;
        bool fs_reason = false;

        r = apply(f, SPEC_YAML, true);
        assert_true(isempty(r->error));
        assert_true(r->last);
        assert_int_equal(r->n_specs, 1);
        assert_int_equal(r->n_plans, 1);
        p = r->plans[0];
        assert_string_equal(p->node_id, "node-1");
        assert_true(p->placed);
        assert_int_equal(p->n_osds, 2);
        for (size_t i = 0; i < p->n_skipped; i++)
                if (streq(p->skipped[i]->device, "/dev/sdd"))
                        for (size_t k = 0; k < p->skipped[i]->n_reasons; k++)
                                fs_reason |= strstr(p->skipped[i]->reasons[k], "Has a FileSystem") != NULL;
        assert_true(fs_reason);
        castle__query_reply__free_unpacked(r, NULL);
        assert_int_equal(stored(f), 0);
        assert_int_equal(f->fake.calls, 0); /* a dry run writes nothing, not even a record */

        r = apply(f, SPEC_YAML, false);
        assert_true(isempty(r->error));
        assert_int_equal(r->n_plans, 1);
        castle__query_reply__free_unpacked(r, NULL);
        assert_true(f->fake.calls >= 2); /* the record, then the spec */
        assert_int_equal(stored(f), 1);

        q.request_id = 9;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_PLAN;
        pr.service_id = (char *) "nope";
        q.plan = &pr;
        request(f, &q);
        r = pump_reply(f);
        assert_non_null(strstr(r->error, "no spec named"));
        castle__query_reply__free_unpacked(r, NULL);

        q.kind_case = CASTLE__QUERY_REQUEST__KIND_SPEC_RM;
        rm.service_id = (char *) "disks";
        q.spec_rm = &rm;
        request(f, &q);
        r = pump_reply(f);
        assert_true(isempty(r->error));
        castle__query_reply__free_unpacked(r, NULL);
        assert_int_equal(stored(f), 0);
}

/* A viewer may preview (a dry run, plan, the list) but not apply. */
static void test_viewer(void **state) {
        Fixture *f = *state;
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
        Castle__SpecApply a = CASTLE__SPEC_APPLY__INIT;
        Castle__QueryReply *r;
        zmsg_t *m;

        a.yaml = (char *) SPEC_YAML;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_APPLY;
        q.apply = &a;
        q.protocol_version = CASTLE_PROTOCOL_VERSION;
        for (int dry = 1; dry >= 0; dry--) {
                a.dry_run = dry;
                q.request_id = 20 + dry;
                assert_int_equal(link_send(f->client, NULL, &q.base), 0);
                m = coordtest_recv(f->query);
                assert_int_equal(query_message_as(f->q, m, "viewer dashboard -"), 0);
                zmsg_destroy(&m);
                r = pump_reply(f);
                if (dry) {
                        assert_true(isempty(r->error));
                        assert_int_equal(r->n_plans, 1);
                } else
                        assert_string_equal(r->required_role, "operator");
                castle__query_reply__free_unpacked(r, NULL);
        }
        assert_int_equal(stored(f), 0);
}

/* The intent store cannot record the apply: refused, nothing stored. */
static void test_unrecorded(void **state) {
        Fixture *f = *state;
        Castle__QueryReply *r;

        f->fake.fail = -EHOSTUNREACH;
        r = apply(f, SPEC_YAML, false);
        assert_non_null(strstr(r->error, "cannot record"));
        castle__query_reply__free_unpacked(r, NULL);
        f->fake.fail = 0;
        assert_int_equal(stored(f), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roles),
                cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dry_run_apply_rm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unrecorded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_viewer, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
