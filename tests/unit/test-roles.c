/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Roles and node-bound agent keys: the ZAP User-Id is written and read back the same way and
 * anything else is refused; the role table; each binding decision (first Hello binds, a key
 * file's node binds ahead, one key is one node and one node one key, unbind forgets, bindings
 * survive a restart, --insecure binds nothing); and over inproc sockets, that a viewer's
 * command and node removal are refused with the role they need while its node list is
 * answered, that an operator's unbind is refused and an admin's works, and that a Hello from a
 * key bound to another node is dropped (reason "binding") before it creates the node. */
#include "tests/unit/coordtest.h"

#include <string.h>

#include "common/timeutil.h"
#include "coordinator/binding.h"
#include "coordinator/ingest.h"
#include "coordinator/query.h"
#include "coordinator/zap.h"

#define FP_A "rq:rAZBlz2xE8#AoDS!B^]2V.KD?gF1!f5+7]xL0"
#define FP_B "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define FP_C "E6Sz}8$wCtg-0YgZ<mt4+sM:0zT<r7FEiHk^Ji6x"
#define T0 INT64_C(1700000000000000)

static void test_user_id(void **state) {
        ZapPeer p;
        char buf[ZAP_USER_ID_MAX], name[ZAP_NAME_MAX + 1];

        assert_int_equal(zap_peer_parse("viewer grafana " FP_A, &p), 0);
        assert_int_equal(p.role, ZAP_ROLE_VIEWER);
        assert_string_equal(p.name, "grafana");
        assert_string_equal(p.fingerprint, FP_A);
        assert_string_equal(p.node, "");

        assert_int_equal(zap_peer_parse("agent node-7 " FP_B " node-7.example", &p), 0);
        assert_int_equal(p.role, ZAP_ROLE_AGENT);
        assert_string_equal(p.node, "node-7.example");

        assert_int_equal(zap_peer_parse("admin insecure -", &p), 0);
        assert_int_equal(p.role, ZAP_ROLE_ADMIN);
        assert_string_equal(p.fingerprint, "-");

        /* what the handler writes reads back */
        assert_int_equal(zap_user_id_format(buf, sizeof buf, ZAP_ROLE_OPERATOR, "ops", FP_C, NULL), 0);
        assert_string_equal(buf, "operator ops " FP_C);
        assert_int_equal(zap_peer_parse(buf, &p), 0);
        assert_int_equal(p.role, ZAP_ROLE_OPERATOR);
        assert_int_equal(zap_user_id_format(buf, sizeof buf, ZAP_ROLE_AGENT, "a", FP_C, "n1"), 0);
        assert_string_equal(buf, "agent a " FP_C " n1");

        /* anything else is refused */
        const char *bad[] = {
                "", "viewer", "viewer grafana", "root grafana " FP_A, "none grafana " FP_A,
                "viewer grafana " FP_A " node-1",  /* only agents name a node */
                "viewer graf ana " FP_A, "viewer grafana short", "viewer grafana " FP_A " ",
                "viewer gr\x01na " FP_A, "viewer  grafana " FP_A, "agent a " FP_A " bad node",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(zap_peer_parse(bad[i], &p), -EINVAL);
        assert_int_equal(zap_peer_parse(NULL, &p), -EINVAL);

        zap_key_name("alice.key", name);
        assert_string_equal(name, "alice");
        zap_key_name("bob", name);
        assert_string_equal(name, "bob");
        zap_key_name("a b;c.key", name);
        assert_string_equal(name, "a_b_c");
}

static void test_role_table(void **state) {
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_NODES), ZAP_ROLE_VIEWER);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_DEVICES), ZAP_ROLE_VIEWER);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_WATCH), ZAP_ROLE_VIEWER);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_COMMAND), ZAP_ROLE_OPERATOR);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE), ZAP_ROLE_OPERATOR);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_AUDIT), ZAP_ROLE_OPERATOR);
        assert_int_equal(query_required_role(CASTLE__QUERY_REQUEST__KIND_UNBIND), ZAP_ROLE_ADMIN);
        assert_true(ZAP_ROLE_VIEWER < ZAP_ROLE_OPERATOR && ZAP_ROLE_OPERATOR < ZAP_ROLE_ADMIN);
        assert_string_equal(zap_role_to_string(ZAP_ROLE_OPERATOR), "operator");
        assert_int_equal(zap_role_from_string("admin"), ZAP_ROLE_ADMIN);
        assert_int_equal(zap_role_from_string("root"), ZAP_ROLE_NONE);
}

static ZapPeer agent(const char *name, const char *fp, const char *node) {
        ZapPeer p = { .role = ZAP_ROLE_AGENT };

        snprintf(p.name, sizeof p.name, "%s", name);
        snprintf(p.fingerprint, sizeof p.fingerprint, "%s", fp);
        snprintf(p.node, sizeof p.node, "%s", node ?: "");
        return p;
}

static void test_bindings(void **state) {
        CoordTestStore t;
        Bindings *b = NULL;
        ZapPeer a = agent("a", FP_A, NULL), bb = agent("b", FP_B, NULL), c = agent("c", FP_C, "node-c"),
                insecure = agent("insecure", "-", NULL);
        StoreBinding sb = {};
        char why[512];

        coordtest_store_open(&t);
        assert_int_equal(bindings_new(t.store, &b), 0);

        /* the first message binds; the same node again is fine */
        assert_int_equal(bindings_check(b, &a, "node-a", T0, why, sizeof why), 1);
        assert_int_equal(bindings_check(b, &a, "node-a", T0, why, sizeof why), 0);
        /* one key is one node */
        assert_int_equal(bindings_check(b, &a, "node-x", T0, why, sizeof why), -EPERM);
        assert_non_null(strstr(why, "bound to node node-a"));
        /* one node is one key */
        assert_int_equal(bindings_check(b, &bb, "node-a", T0, why, sizeof why), -EPERM);
        assert_non_null(strstr(why, "bound to key 'a'"));
        assert_int_equal(bindings_check(b, &bb, "node-b", T0, why, sizeof why), 1);

        /* a key file's node binds ahead: no other node, even as the first message */
        assert_int_equal(bindings_check(b, &c, "node-a", T0, why, sizeof why), -EPERM);
        assert_non_null(strstr(why, "its key file binds it to node node-c"));
        assert_int_equal(bindings_check(b, &c, "node-c", T0, why, sizeof why), 1);
        assert_int_equal(store_binding_get(t.store, FP_C, &sb), 0);
        assert_string_equal(sb.node_id, "node-c");
        store_binding_done(&sb);

        /* a key file's "*": any node, never bound */
        ZapPeer any = agent("sim", FP_B, "*");
        assert_int_equal(bindings_check(b, &any, "node-q", T0, why, sizeof why), 0);
        assert_int_equal(bindings_check(b, &any, "node-r", T0, why, sizeof why), 0);
        assert_int_equal(store_binding_of_node(t.store, "node-q", &sb), -ENOENT);

        /* no CURVE, no binding */
        assert_int_equal(bindings_check(b, &insecure, "node-a", T0, why, sizeof why), 0);
        assert_int_equal(bindings_check(b, &insecure, "node-z", T0, why, sizeof why), 0);

        /* bindings survive a restart */
        b = bindings_free(b);
        assert_int_equal(bindings_new(t.store, &b), 0);
        assert_int_equal(bindings_check(b, &a, "node-b", T0, why, sizeof why), -EPERM);
        assert_int_equal(bindings_check(b, &a, "node-a", T0, why, sizeof why), 0);

        /* unbind (by name) forgets: a new key may take the node, and the old key binds anew */
        assert_int_equal(store_binding_remove(t.store, "nobody", NULL), -ENOENT);
        assert_int_equal(store_binding_remove(t.store, "a", &sb), 0);
        assert_string_equal(sb.node_id, "node-a");
        assert_string_equal(sb.key, FP_A);
        store_binding_done(&sb);
        assert_int_equal(bindings_check(b, &bb, "node-a", T0, why, sizeof why), -EPERM); /* b is still node-b */
        assert_int_equal(bindings_check(b, &a, "node-new", T0, why, sizeof why), 1);
        /* ... and by fingerprint */
        assert_int_equal(store_binding_remove(t.store, FP_B, NULL), 0);
        assert_int_equal(bindings_check(b, &bb, "node-a", T0, why, sizeof why), 1);

        b = bindings_free(b);
        coordtest_store_close(&t);
}

typedef struct Fixture {
        CoordTestStore t;
        zsock_t *router, *dealer;
        Nodes *nodes;
        Watch *watch;
        Jobs *jobs;
        Query *query;
        Ingest *ingest;
} Fixture;

static int setup(void **state) {
        static unsigned n = 0;
        Fixture *f = calloc(1, sizeof(Fixture));
        char ep[64];

        assert_non_null(f);
        coordtest_store_open(&f->t);
        snprintf(ep, sizeof ep, "inproc://test-roles-%u", ++n);
        f->router = coordtest_router(ep);
        f->dealer = coordtest_dealer(ep, "node-1");
        assert_int_equal(nodes_new(f->t.store, 15 * USEC_PER_SEC, 120 * USEC_PER_SEC, NULL, &f->nodes), 0);
        assert_int_equal(watch_new(f->router, &f->watch), 0);
        assert_int_equal(jobs_new(f->router, f->router, f->nodes, NULL, &f->jobs), 0);
        assert_int_equal(query_new(f->router, f->t.store, f->nodes, f->watch, f->jobs, NULL, &f->query), 0);
        assert_int_equal(ingest_new(f->router, f->t.store, f->nodes, f->watch, f->jobs, NULL, &f->ingest), 0);
        query_set_require_peer(f->query, true);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        f->ingest = ingest_free(f->ingest);
        f->query = query_free(f->query);
        f->jobs = jobs_free(f->jobs);
        f->watch = watch_free(f->watch);
        f->nodes = nodes_free(f->nodes);
        zsock_destroy(&f->dealer);
        zsock_destroy(&f->router);
        coordtest_store_close(&f->t);
        free(f);
        return 0;
}

/* Sends one request as user_id and returns the (last) reply. */
static Castle__QueryReply *ask(Fixture *f, const char *user_id, Castle__QueryRequest *q) {
        zmsg_t *m;

        q->protocol_version = CASTLE_PROTOCOL_VERSION;
        q->request_id = 7;
        assert_int_equal(link_send(f->dealer, NULL, &q->base), 0);
        m = coordtest_recv(f->router);
        assert_int_equal(query_message_as(f->query, m, user_id), 0);
        zmsg_destroy(&m);
        return coordtest_recv_reply(f->dealer);
}

static void expect_refused(Castle__QueryReply *r, const char *needed, const char *text) {
        assert_non_null(r->error);
        assert_non_null(strstr(r->error, text));
        assert_string_equal(r->required_role, needed);
        assert_true(r->last);
        castle__query_reply__free_unpacked(r, NULL);
}

static void test_query_roles(void **state) {
        Fixture *f = *state;
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
        Castle__ListNodes ln = CASTLE__LIST_NODES__INIT;
        Castle__RemoveNode rn = CASTLE__REMOVE_NODE__INIT;
        Castle__NodeCommand nc = CASTLE__NODE_COMMAND__INIT;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__Rescan rescan = CASTLE__RESCAN__INIT;
        Castle__KeyUnbind u = CASTLE__KEY_UNBIND__INIT;
        Castle__QueryReply *r;
        StoreBinding sb = {};
        StoreNode sn = {};
        const char *viewer = "viewer grafana " FP_A, *op = "operator ops " FP_B, *admin = "admin root " FP_C;

        assert_int_equal(store_node_seen(f->t.store, "node-9", "h9", "1", T0), 0);
        assert_int_equal(store_binding_set(f->t.store, FP_A, "agent-9", "node-9", T0), 0);

        /* a viewer lists nodes */
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_NODES;
        q.nodes = &ln;
        r = ask(f, viewer, &q);
        assert_true(isempty(r->error));
        assert_int_equal(r->n_nodes, 1);
        castle__query_reply__free_unpacked(r, NULL);

        /* ... but sends no command and removes no node */
        cmd.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        cmd.rescan = &rescan;
        nc.node_id = (char *) "node-9";
        nc.command = &cmd;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_COMMAND;
        q.command = &nc;
        expect_refused(ask(f, viewer, &q), "operator",
                       "this request needs the operator role; key 'grafana' has the viewer role");
        rn.node_id = (char *) "node-9";
        rn.force = true;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE;
        q.remove_node = &rn;
        expect_refused(ask(f, viewer, &q), "operator", "key 'grafana' has the viewer role");
        assert_int_equal(store_node_get(f->t.store, "node-9", &sn), 0); /* still there */
        store_node_done(&sn);

        /* an operator does not unbind, an admin does */
        u.key = (char *) "agent-9";
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_UNBIND;
        q.unbind = &u;
        expect_refused(ask(f, viewer, &q), "admin", "needs the admin role");
        expect_refused(ask(f, op, &q), "admin", "key 'ops' has the operator role");
        assert_int_equal(store_binding_get(f->t.store, FP_A, &sb), 0);
        store_binding_done(&sb);
        r = ask(f, admin, &q);
        assert_true(isempty(r->error));
        castle__query_reply__free_unpacked(r, NULL);
        assert_int_equal(store_binding_get(f->t.store, FP_A, &sb), -ENOENT);
        r = ask(f, admin, &q);
        assert_non_null(strstr(r->error, "no agent key"));
        assert_true(isempty(r->required_role));
        castle__query_reply__free_unpacked(r, NULL);

        /* the operator removes the node */
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE;
        q.remove_node = &rn;
        r = ask(f, op, &q);
        assert_true(isempty(r->error));
        castle__query_reply__free_unpacked(r, NULL);

        /* no User-Id where one is required, or one that does not read: nothing at all */
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_NODES;
        q.nodes = &ln;
        expect_refused(ask(f, NULL, &q), "viewer", "not authenticated");
        expect_refused(ask(f, "agent a " FP_A, &q), "viewer", "has the agent role");
        expect_refused(ask(f, "boss x " FP_A, &q), "viewer", "not authenticated");
}

static void test_ingest_binding(void **state) {
        Fixture *f = *state;
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Hello h = CASTLE__HELLO__INIT;
        uint64_t dropped[_DROP_MAX] = {};
        StoreNode sn = {};
        zmsg_t *m;

        /* the key is bound to node-0; the dealer is node-1 */
        assert_int_equal(store_binding_set(f->t.store, FP_A, "a", "node-0", T0), 0);
        h.node_id = (char *) "node-1";
        h.hostname = (char *) "h1";
        h.agent_version = (char *) "1";
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        e.message_id = 1;
        coordtest_send_envelope(f->dealer, &e);
        m = coordtest_recv(f->router);
        assert_int_equal(ingest_message_as(f->ingest, m, "agent a " FP_A, T0), 0);
        zmsg_destroy(&m);
        ingest_add_drops(f->ingest, dropped);
        assert_int_equal(dropped[DROP_BINDING], 1);
        assert_true(coordtest_quiet(f->dealer, 100)); /* no Ack */
        assert_null(nodes_get(f->nodes, "node-1"));
        assert_int_equal(store_node_get(f->t.store, "node-1", &sn), -ENOENT);

        /* another key, unbound, takes node-1 with its Hello */
        coordtest_send_envelope(f->dealer, &e);
        m = coordtest_recv(f->router);
        assert_int_equal(ingest_message_as(f->ingest, m, "agent b " FP_B, T0), 0);
        zmsg_destroy(&m);
        Castle__Envelope *ack = coordtest_recv_envelope(f->dealer);
        assert_int_equal(ack->body_case, CASTLE__ENVELOPE__BODY_ACK);
        castle__envelope__free_unpacked(ack, NULL);
        assert_non_null(nodes_get(f->nodes, "node-1"));
        StoreBinding sb = {};
        assert_int_equal(store_binding_of_node(f->t.store, "node-1", &sb), 0);
        assert_string_equal(sb.key, FP_B);
        store_binding_done(&sb);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_user_id),
                cmocka_unit_test(test_role_table),
                cmocka_unit_test(test_bindings),
                cmocka_unit_test_setup_teardown(test_query_roles, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ingest_binding, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
