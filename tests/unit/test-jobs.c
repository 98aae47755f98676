/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job table over inproc sockets: a client's command reaches the node's agent with an id,
 * the agent's JobUpdates come back to that client until the last one, commands for a node
 * that is unknown or not connected are refused, and a node that goes offline fails its
 * commands. Quotas: commands per client, and a command its agent never answers times out.
 * Command ids of a restarted coordinator do not repeat the last run's; a client's own id is
 * used, and a second submit of a pending id follows the command instead of sending it again. */
#include "tests/unit/coordtest.h"

#include <string.h>

#include "common/timeutil.h"
#include "coordinator/jobs.h"

#define STALE_AFTER (15 * USEC_PER_SEC)
#define OFFLINE_AFTER (120 * USEC_PER_SEC)
#define T0 INT64_C(1700000000000000)

typedef struct Fixture {
        CoordTestStore t;
        zsock_t *agents, *agent; /* the coordinator's ROUTER, node-1's DEALER */
        zsock_t *query, *client; /* the query ROUTER, a castlectl's DEALER */
        Nodes *nodes;
        Jobs *jobs;
        NodeRuntime *node;
} Fixture;

static void on_lost(void *userdata, const char *node_id) {
        Fixture *f = userdata;

        jobs_node_lost(f->jobs, node_id);
}

static int setup(void **state) {
        static unsigned n_fixtures = 0;
        Fixture *f = calloc(1, sizeof(Fixture));
        char agents[64], query[64];
        Castle__Envelope hb = CASTLE__ENVELOPE__INIT;
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;
        zmsg_t *m;

        assert_non_null(f);
        n_fixtures++;
        snprintf(agents, sizeof agents, "inproc://test-jobs-agents-%u", n_fixtures);
        snprintf(query, sizeof query, "inproc://test-jobs-query-%u", n_fixtures);
        coordtest_store_open(&f->t);
        f->agents = coordtest_router(agents);
        f->agent = coordtest_dealer(agents, "node-1");
        f->query = coordtest_router(query);
        zsock_set_router_mandatory(f->query, 1); /* as castle-coordinator sets it */
        f->client = coordtest_dealer(query, NULL);
        assert_int_equal(nodes_new(f->t.store, STALE_AFTER, OFFLINE_AFTER,
                                   &(NodesEvents){ .lost = on_lost, .userdata = f }, &f->nodes),
                         0);
        assert_int_equal(jobs_new(f->agents, f->query, f->nodes, NULL, &f->jobs), 0);

        /* node-1 speaks, so the ROUTER knows its routing id, and is online from T0. */
        hb.body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        hb.heartbeat = &h;
        coordtest_send_envelope(f->agent, &hb);
        m = coordtest_recv(f->agents);
        assert_int_equal(store_node_seen(f->t.store, "node-1", "host-1", "0.1", T0), 0);
        assert_int_equal(nodes_add(f->nodes, "node-1", &f->node), 0);
        f->node->routing_id = zframe_dup(zmsg_first(m));
        f->node->last_seen = T0;
        assert_int_equal(nodes_set_state(f->nodes, f->node, NODE_ONLINE, T0), 0);
        zmsg_destroy(&m);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

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

/* client asks for cmd on node_id; the query endpoint hands the request to the job table. */
static void submit_from(Fixture *f, zsock_t *client, uint64_t request_id, const char *node_id, Castle__Command *cmd) {
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT, *req = NULL;
        Castle__NodeCommand nc = CASTLE__NODE_COMMAND__INIT;
        zframe_t *payload;
        zmsg_t *m;

        nc.node_id = (char *) node_id;
        nc.command = cmd;
        q.protocol_version = CASTLE_PROTOCOL_VERSION;
        q.request_id = request_id;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_COMMAND;
        q.command = &nc;
        assert_int_equal(link_send(client, NULL, &q.base), 0);
        m = coordtest_recv(f->query);
        assert_int_equal(zmsg_size(m), 2);
        payload = zmsg_last(m);
        assert_int_equal(codec_query_request_unpack(zframe_data(payload), zframe_size(payload), &req), 0);
        jobs_submit(f->jobs, zmsg_first(m), req->request_id, req->command);
        castle__query_request__free_unpacked(req, NULL);
        zmsg_destroy(&m);
}

static void submit(Fixture *f, uint64_t request_id, const char *node_id, Castle__Command *cmd) {
        submit_from(f, f->client, request_id, node_id, cmd);
}

static void submit_osd_create(Fixture *f, uint64_t request_id, const char *node_id) {
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;

        oc.device_id = (char *) "wwn-a";
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        submit(f, request_id, node_id, &cmd);
}

/* The agent receives a command and returns its id. */
static uint64_t agent_receive(Fixture *f, Castle__Command__KindCase kind) {
        Castle__Envelope *e = coordtest_recv_envelope(f->agent);
        uint64_t id;

        assert_int_equal(e->body_case, CASTLE__ENVELOPE__BODY_COMMAND);
        assert_int_equal(e->command->kind_case, kind);
        if (kind == CASTLE__COMMAND__KIND_OSD_CREATE)
                assert_string_equal(e->command->osd_create->device_id, "wwn-a");
        id = e->command->command_id;
        assert_true(id > 0);
        castle__envelope__free_unpacked(e, NULL);
        return id;
}

/* The agent reports progress; ingest hands the update to the job table. */
static void agent_update(Fixture *f, Castle__JobUpdate *u) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT, *got = NULL;
        zframe_t *payload;
        zmsg_t *m;
        char *node_id;

        e.body_case = CASTLE__ENVELOPE__BODY_JOB_UPDATE;
        e.job_update = u;
        coordtest_send_envelope(f->agent, &e);
        m = coordtest_recv(f->agents);
        payload = zmsg_last(m);
        assert_int_equal(codec_envelope_unpack(zframe_data(payload), zframe_size(payload), &got), 0);
        node_id = zframe_strdup(zmsg_first(m));
        jobs_update(f->jobs, node_id, got->job_update);
        free(node_id);
        castle__envelope__free_unpacked(got, NULL);
        zmsg_destroy(&m);
}

static void expect_error(Fixture *f, uint64_t request_id, const char *error) {
        Castle__QueryReply *r = coordtest_recv_reply(f->client);

        assert_int_equal(r->request_id, request_id);
        assert_string_equal(r->error, error);
        assert_true(r->last);
        castle__query_reply__free_unpacked(r, NULL);
}

static void test_command_and_updates(void **state) {
        Fixture *f = *state;
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
        Castle__Command rescan = CASTLE__COMMAND__INIT;
        Castle__Rescan rs = CASTLE__RESCAN__INIT;
        Castle__QueryReply *r;
        uint64_t id;

        submit_osd_create(f, 7, "node-1");
        id = agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);
        assert_int_equal(jobs_pending(f->jobs), 1);
        assert_true(coordtest_quiet(f->client, 50)); /* nothing to report yet */

        u.command_id = id;
        u.step = (char *) "prepare";
        u.percent = 40;
        u.osd_id = -1;
        agent_update(f, &u);
        r = coordtest_recv_reply(f->client);
        assert_int_equal(r->request_id, 7);
        assert_non_null(r->job);
        assert_int_equal(r->job->command_id, id);
        assert_string_equal(r->job->step, "prepare");
        assert_int_equal(r->job->percent, 40);
        assert_string_equal(r->error, "");
        assert_false(r->last);
        castle__query_reply__free_unpacked(r, NULL);

        u.step = (char *) "done";
        u.percent = 100;
        u.done = true;
        u.osd_id = 3;
        agent_update(f, &u);
        r = coordtest_recv_reply(f->client);
        assert_int_equal(r->request_id, 7);
        assert_int_equal(r->job->osd_id, 3);
        assert_true(r->job->done);
        assert_true(r->last);
        castle__query_reply__free_unpacked(r, NULL);
        assert_int_equal(jobs_pending(f->jobs), 0);

        /* Once done, the command is forgotten: a late update goes nowhere. */
        agent_update(f, &u);
        assert_true(coordtest_quiet(f->client, 50));

        /* A failure ends the job with the agent's error. */
        submit_osd_create(f, 8, "node-1");
        u = (Castle__JobUpdate) CASTLE__JOB_UPDATE__INIT;
        u.command_id = agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);
        assert_true(u.command_id > id);
        u.done = true;
        u.error = (char *) "the device is busy";
        u.osd_id = -1;
        agent_update(f, &u);
        expect_error(f, 8, "the device is busy");
        assert_int_equal(jobs_pending(f->jobs), 0);

        /* A rescan has no progress to report: done once delivered. */
        rescan.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        rescan.rescan = &rs;
        submit(f, 9, "node-1", &rescan);
        (void) agent_receive(f, CASTLE__COMMAND__KIND_RESCAN);
        r = coordtest_recv_reply(f->client);
        assert_int_equal(r->request_id, 9);
        assert_string_equal(r->job->step, "sent");
        assert_true(r->job->done);
        assert_true(r->last);
        castle__query_reply__free_unpacked(r, NULL);
        assert_int_equal(jobs_pending(f->jobs), 0);
}

/* A progress reply to request_id of command id, at percent. */
static void expect_progress(zsock_t *client, uint64_t request_id, uint64_t id, uint32_t percent, bool last) {
        Castle__QueryReply *r = coordtest_recv_reply(client);

        assert_int_equal(r->request_id, request_id);
        assert_non_null(r->job);
        assert_int_equal(r->job->command_id, id);
        assert_int_equal(r->job->percent, percent);
        assert_int_equal(r->last, last);
        castle__query_reply__free_unpacked(r, NULL);
}

/* The client chooses the id; sent again (a castlectl that failed over, or a script that
 * retries with --command-id), a pending command is not sent to the agent again: the new client
 * follows it, from its latest progress on. */
static void test_client_ids(void **state) {
        Fixture *f = *state;
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        const uint64_t id = UINT64_C(9007199254740991); /* 2^53 - 1 */
        zsock_t *other;
        char endpoint[64];

        snprintf(endpoint, sizeof endpoint, "%s", zsock_endpoint(f->query));
        other = coordtest_dealer(endpoint, NULL);
        oc.device_id = (char *) "wwn-a";
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        cmd.command_id = id;
        submit(f, 1, "node-1", &cmd);
        assert_int_equal(agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE), id);

        /* Sent again before any progress: followed, nothing to say yet, not sent again. */
        submit_from(f, other, 2, "node-1", &cmd);
        assert_true(coordtest_quiet(f->agent, 50));
        assert_true(coordtest_quiet(other, 50));
        assert_int_equal(jobs_pending(f->jobs), 1);

        u.command_id = id;
        u.step = (char *) "prepare";
        u.percent = 40;
        u.osd_id = -1;
        agent_update(f, &u);
        expect_progress(f->client, 1, id, 40, false);
        expect_progress(other, 2, id, 40, false);

        /* The same client again, with another request id: its latest progress at once, and one
         * copy of every later update. */
        submit(f, 3, "node-1", &cmd);
        expect_progress(f->client, 3, id, 40, false);
        assert_true(coordtest_quiet(f->agent, 50));

        u.percent = 100;
        u.done = true;
        u.osd_id = 5;
        agent_update(f, &u);
        expect_progress(f->client, 3, id, 100, true);
        expect_progress(other, 2, id, 100, true);
        assert_true(coordtest_quiet(f->client, 50));
        assert_int_equal(jobs_pending(f->jobs), 0);

        /* Ended here, the id is new again: sent to the agent, which runs an id once. */
        submit(f, 4, "node-1", &cmd);
        assert_int_equal(agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE), id);

        /* The id of a pending command, for another node: refused. */
        submit(f, 5, "node-9", &cmd);
        expect_error(f, 5, "this command id is in use by a command for another node");

        /* Ids at 2^53 and above are refused: JSON readers would round them. */
        cmd.command_id = UINT64_C(1) << 53;
        submit(f, 6, "node-1", &cmd);
        expect_error(f, 6, "the command id is out of range (1 to 2^53-1)");
        assert_true(coordtest_quiet(f->agent, 50));

        /* An update of a command this coordinator never sent (another one did): ignored. */
        u = (Castle__JobUpdate) CASTLE__JOB_UPDATE__INIT;
        u.command_id = 77;
        u.percent = 10;
        agent_update(f, &u);
        assert_true(coordtest_quiet(f->client, 50));
        assert_true(coordtest_quiet(other, 50));
        assert_int_equal(jobs_pending(f->jobs), 1);
        zsock_destroy(&other);
}

static void test_refused(void **state) {
        Fixture *f = *state;

        submit_osd_create(f, 1, "node-9");
        expect_error(f, 1, "no such node");

        nodes_tick(f->nodes, T0 + (int64_t) STALE_AFTER + 1);
        assert_int_equal(f->node->state, NODE_STALE);
        submit_osd_create(f, 2, "node-1");
        expect_error(f, 2, "the node's agent is not connected");

        assert_true(coordtest_quiet(f->agent, 50)); /* the agent got nothing */
        assert_int_equal(jobs_pending(f->jobs), 0);
}

/* The node policy was replaced by OSD specs: an older client's Policy is refused with the way
 * to do the same now, and never reaches the agent. */
static void test_policy_refused(void **state) {
        Fixture *f = *state;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__Policy p = CASTLE__POLICY__INIT;

        cmd.kind_case = CASTLE__COMMAND__KIND_POLICY;
        cmd.policy = &p;
        p.auto_prepare = true;
        p.name_filter = (char *) "^sd[b-z]$";
        submit(f, 1, "node-1", &cmd);
        expect_error(f, 1, "the node policy was removed: OSD specs replace it (castlectl cluster apply)");
        assert_true(coordtest_quiet(f->agent, 50)); /* the agent got nothing */
        assert_int_equal(jobs_pending(f->jobs), 0);
}

/* A client's own spec set would bypass the apply's validation and audit: refused. */
static void test_specs_refused(void **state) {
        Fixture *f = *state;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__SpecSet set = CASTLE__SPEC_SET__INIT;

        cmd.kind_case = CASTLE__COMMAND__KIND_SPECS;
        cmd.specs = &set;
        set.revision = INT64_MAX;
        submit(f, 2, "node-1", &cmd);
        expect_error(f, 2, "a node's OSD specs come from the applied specs only (castlectl cluster apply)");
        assert_true(coordtest_quiet(f->agent, 50));
        assert_int_equal(jobs_pending(f->jobs), 0);
}

static void test_node_lost(void **state) {
        Fixture *f = *state;

        submit_osd_create(f, 5, "node-1");
        (void) agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);
        assert_int_equal(jobs_pending(f->jobs), 1);

        /* Stale is not lost: the job waits. */
        nodes_tick(f->nodes, T0 + (int64_t) STALE_AFTER + 1);
        assert_true(coordtest_quiet(f->client, 50));
        assert_int_equal(jobs_pending(f->jobs), 1);

        nodes_tick(f->nodes, T0 + (int64_t) OFFLINE_AFTER + 1);
        assert_int_equal(f->node->state, NODE_OFFLINE);
        expect_error(f, 5, "the node went offline before the command finished");
        assert_int_equal(jobs_pending(f->jobs), 0);
}

/* The coordinator restarts while the agent works on a command: the agent's late update for it
 * must not complete the command the new run gave the same id (ids restarted at 1). */
static void test_ids_across_restarts(void **state) {
        Fixture *f = *state;
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
        uint64_t before, after;

        submit_osd_create(f, 1, "node-1");
        before = agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);

        f->jobs = jobs_free(f->jobs);
        assert_int_equal(jobs_new(f->agents, f->query, f->nodes, NULL, &f->jobs), 0);
        submit_osd_create(f, 2, "node-1");
        after = agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);
        assert_true(after != before);

        /* The old run's command finishes late. */
        u.command_id = before;
        u.done = true;
        u.osd_id = 7;
        agent_update(f, &u);
        assert_true(coordtest_quiet(f->client, 50));
        assert_int_equal(jobs_pending(f->jobs), 1);
}

static void test_timeout(void **state) {
        Fixture *f = *state;
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
        Castle__QueryReply *r;
        uint64_t start = now_usec();

        jobs_set_limits(f->jobs, 0, 60 * USEC_PER_SEC);
        submit_osd_create(f, 3, "node-1");
        u.command_id = agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);

        jobs_tick(f->jobs, start + 30 * USEC_PER_SEC);
        assert_true(coordtest_quiet(f->client, 50));
        /* Progress restarts the clock: 59 s after it, the command still waits. */
        u.step = (char *) "prepare";
        u.osd_id = -1;
        agent_update(f, &u);
        r = coordtest_recv_reply(f->client);
        assert_false(r->last);
        castle__query_reply__free_unpacked(r, NULL);
        jobs_tick(f->jobs, now_usec() + 59 * USEC_PER_SEC);
        assert_true(coordtest_quiet(f->client, 50));
        assert_int_equal(jobs_pending(f->jobs), 1);

        jobs_tick(f->jobs, now_usec() + 61 * USEC_PER_SEC);
        expect_error(f, 3, "timed out: the node's agent said nothing of the command for 60 s (job-timeout)");
        assert_int_equal(jobs_pending(f->jobs), 0);
}

static void test_per_client(void **state) {
        Fixture *f = *state;
        zsock_t *other;
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT, *req = NULL;
        Castle__NodeCommand nc = CASTLE__NODE_COMMAND__INIT;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        zframe_t *payload;
        zmsg_t *m;
        char endpoint[64];

        jobs_set_limits(f->jobs, 2, 0);
        submit_osd_create(f, 1, "node-1");
        (void) agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);
        submit_osd_create(f, 2, "node-1");
        (void) agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);
        submit_osd_create(f, 3, "node-1");
        expect_error(f, 3, "too many commands in progress from this client (max-jobs-per-client)");
        assert_true(coordtest_quiet(f->agent, 50));
        assert_int_equal(jobs_pending(f->jobs), 2);

        /* Another client still gets through. */
        assert_non_null(zsock_endpoint(f->query));
        snprintf(endpoint, sizeof endpoint, "%s", zsock_endpoint(f->query));
        other = coordtest_dealer(endpoint, NULL);
        oc.device_id = (char *) "wwn-a";
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        nc.node_id = (char *) "node-1";
        nc.command = &cmd;
        q.protocol_version = CASTLE_PROTOCOL_VERSION;
        q.request_id = 4;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_COMMAND;
        q.command = &nc;
        assert_int_equal(link_send(other, NULL, &q.base), 0);
        m = coordtest_recv(f->query);
        payload = zmsg_last(m);
        assert_int_equal(codec_query_request_unpack(zframe_data(payload), zframe_size(payload), &req), 0);
        jobs_submit(f->jobs, zmsg_first(m), req->request_id, req->command);
        castle__query_request__free_unpacked(req, NULL);
        zmsg_destroy(&m);
        (void) agent_receive(f, CASTLE__COMMAND__KIND_OSD_CREATE);
        assert_int_equal(jobs_pending(f->jobs), 3);
        zsock_destroy(&other);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_command_and_updates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_client_ids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_node_lost, setup, teardown),
                cmocka_unit_test_setup_teardown(test_policy_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_specs_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ids_across_restarts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_per_client, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
