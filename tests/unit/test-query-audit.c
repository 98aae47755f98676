/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The query endpoint with the audit trail, over inproc sockets and a fake intent backend: a
 * command reaches its agent only once its request is recorded, and its result follows it in
 * the trail; when the intent store cannot record it, the client is told so and the agent gets
 * nothing; a node's removal is recorded with what became of it; AuditQuery lists the trail. */
#include "tests/unit/coordtest.h"
#include "tests/unit/intenttest.h"

#include <errno.h>

#include "common/timeutil.h"
#include "coordinator/audit.h"
#include "coordinator/query.h"

#define T0 INT64_C(1700000000000000)

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
        snprintf(agents, sizeof agents, "inproc://test-qa-agents-%u", n_fixtures);
        snprintf(query, sizeof query, "inproc://test-qa-query-%u", n_fixtures);
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
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        f->audit = audit_free(f->audit);
        f->intent = intent_close(f->intent);
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

static void command(Fixture *f, uint64_t request_id, Castle__Command *cmd) {
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
        Castle__NodeCommand nc = CASTLE__NODE_COMMAND__INIT;

        nc.node_id = (char *) "node-1";
        nc.command = cmd;
        q.request_id = request_id;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_COMMAND;
        q.command = &nc;
        request(f, &q);
}

/* Runs the loop until the client has a reply waiting (5 s at most), and returns it. */
static Castle__QueryReply *pump_reply(Fixture *f) {
        for (int k = 0; k < 500 && !(zsock_events(f->client) & ZMQ_POLLIN); k++) {
                zloop_timer(f->loop, 10, 1, run_until_timeout, NULL);
                zloop_start(f->loop);
        }
        return coordtest_recv_reply(f->client);
}

static Castle__AuditRecord **trail(Fixture *f, size_t *ret_n) {
        Castle__AuditRecord **recs = NULL;

        /* results are not waited for: let the store take them */
        for (int k = 0; k < 500; k++) {
                IntentStatus st;
                intent_get_status(f->intent, &st);
                if (st.queued == 0)
                        break;
                zloop_timer(f->loop, 10, 1, run_until_timeout, NULL);
                zloop_start(f->loop);
        }
        assert_int_equal(audit_list(f->audit, 0, 0, &recs, ret_n), 0);
        return recs;
}

static void test_command_recorded_first(void **state) {
        Fixture *f = *state;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__Rescan rs = CASTLE__RESCAN__INIT;
        Castle__QueryReply *r;
        Castle__Envelope *e;
        Castle__AuditRecord **recs;
        size_t n;

        cmd.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        cmd.rescan = &rs;
        fake_set_block(&f->fake, true);
        command(f, 7, &cmd);
        fake_wait_calls(&f->fake, 1);
        /* the record is not stored yet: nothing has gone to the agent */
        assert_true(coordtest_quiet(f->agent, 100));
        fake_set_block(&f->fake, false);
        r = pump_reply(f);
        assert_int_equal(r->request_id, 7);
        assert_string_equal(r->error, "");
        assert_non_null(r->job);
        castle__query_reply__free_unpacked(r, NULL);
        e = coordtest_recv_envelope(f->agent);
        assert_int_equal(e->body_case, CASTLE__ENVELOPE__BODY_COMMAND);
        castle__envelope__free_unpacked(e, NULL);

        recs = trail(f, &n);
        assert_int_equal(n, 2);
        assert_string_equal(recs[0]->action, "rescan");
        assert_string_equal(recs[0]->node_id, "node-1");
        assert_string_equal(recs[0]->result, "requested");
        assert_string_equal(recs[0]->key_name, "unauthenticated"); /* inproc: no ZAP handler */
        assert_string_equal(recs[1]->result, "ok");
        assert_true(recs[1]->command_id > 0);
        audit_records_free(recs, n);
}

static void test_intent_store_fails(void **state) {
        Fixture *f = *state;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        Castle__QueryReply *r;

        oc.device_id = (char *) "wwn-a";
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        pthread_mutex_lock(&f->fake.lock);
        f->fake.fail = -EHOSTUNREACH;
        pthread_mutex_unlock(&f->fake.lock);
        command(f, 8, &cmd);
        r = pump_reply(f);
        assert_int_equal(r->request_id, 8);
        assert_string_equal(r->error, "the intent store cannot record the request: No route to host; nothing was done");
        assert_true(r->last);
        castle__query_reply__free_unpacked(r, NULL);
        assert_true(coordtest_quiet(f->agent, 200)); /* nothing was sent */
        assert_int_equal(jobs_pending(f->jobs), 0);
}

static void test_node_rm_and_listing(void **state) {
        Fixture *f = *state;
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
        Castle__RemoveNode rn = CASTLE__REMOVE_NODE__INIT;
        Castle__AuditQuery aq = CASTLE__AUDIT_QUERY__INIT;
        Castle__QueryReply *r;

        rn.node_id = (char *) "node-9";
        q.request_id = 9;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE;
        q.remove_node = &rn;
        request(f, &q);
        r = pump_reply(f);
        assert_string_equal(r->error, "no such node");
        castle__query_reply__free_unpacked(r, NULL);

        rn.node_id = (char *) "node-1";
        rn.force = true;
        q.request_id = 10;
        request(f, &q);
        r = pump_reply(f);
        assert_string_equal(r->error, "");
        assert_true(r->last);
        castle__query_reply__free_unpacked(r, NULL);

        {
                size_t n;
                Castle__AuditRecord **recs = trail(f, &n); /* waits for the results to be stored */
                audit_records_free(recs, n);
        }
        q = (Castle__QueryRequest) CASTLE__QUERY_REQUEST__INIT;
        q.request_id = 11;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_AUDIT;
        q.audit = &aq;
        request(f, &q);
        r = coordtest_recv_reply(f->client);
        assert_int_equal(r->request_id, 11);
        assert_true(r->last);
        assert_int_equal(r->n_audit, 4);
        assert_string_equal(r->audit[0]->action, "node rm");
        assert_string_equal(r->audit[0]->node_id, "node-9");
        assert_string_equal(r->audit[1]->result, "refused: no such node");
        assert_string_equal(r->audit[2]->action, "node rm --force");
        assert_string_equal(r->audit[3]->result, "ok");
        castle__query_reply__free_unpacked(r, NULL);

        /* a limit: the newest */
        aq.limit = 1;
        q.request_id = 12;
        request(f, &q);
        r = coordtest_recv_reply(f->client);
        assert_int_equal(r->n_audit, 1);
        assert_string_equal(r->audit[0]->result, "ok");
        castle__query_reply__free_unpacked(r, NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_command_recorded_first, setup, teardown),
                cmocka_unit_test_setup_teardown(test_intent_store_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_node_rm_and_listing, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
