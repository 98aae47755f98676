/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The coordinator's OSD specs (coordinator/specs.c) over a real intent store: an apply is
 * stored and read back (also by a coordinator started later on the same file), a removal
 * removes, an online agent is sent the specs that place its node (command id 0) after its
 * Hello and again only when its set changes, and a spec another coordinator wrote reaches this
 * one through the intent follower. */
#include "tests/unit/coordtest.h"
#include "tests/unit/intenttest.h"

#include <errno.h>

#include "common/strv.h"
#include "coordinator/nodes.h"
#include "coordinator/specs.h"

typedef struct Done {
        size_t calls;
        int error;
} Done;

static void on_done(int error, void *userdata) {
        Done *d = userdata;

        d->calls++;
        d->error = error;
}

static Castle__OsdSpec *new_spec(const char *id, const char *host) {
        Castle__OsdSpec *s = calloc(1, sizeof *s);
        Castle__DeviceSelection *data = calloc(1, sizeof *data);

        assert_non_null(s);
        assert_non_null(data);
        castle__osd_spec__init(s);
        castle__device_selection__init(data);
        data->all = true;
        s->service_id = strdup(id);
        s->data_devices = data;
        s->method = strdup("raw");
        s->yaml = strdup("service_type: osd\n");
        if (host) {
                s->hosts = calloc(1, sizeof(char *));
                s->hosts[0] = strdup(host);
                s->n_hosts = 1;
        } else
                s->placement_all = true;
        return s;
}

typedef struct Fixture {
        CoordTestStore st;
        Intent *intent;
        zloop_t *loop;
        Nodes *nodes;
        zsock_t *router, *agent;
        Specs *specs;
} Fixture;

static void fixture_open(Fixture *f, const char *endpoint) {
        *f = (Fixture) {};
        coordtest_store_open(&f->st);
        f->loop = zloop_new();
        assert_int_equal(intent_open(f->st.path, NULL, &f->intent), 0);
        assert_int_equal(intent_attach(f->intent, f->loop), 0);
        assert_int_equal(nodes_new(f->st.store, USEC_PER_MINUTE, USEC_PER_HOUR, NULL, &f->nodes), 0);
        f->router = coordtest_router(endpoint);
        f->agent = coordtest_dealer(endpoint, "node-x");
        assert_int_equal(specs_new(f->intent, f->st.store, f->nodes, f->router, &f->specs), 0);
}

static void fixture_close(Fixture *f) {
        f->intent = intent_close(f->intent);
        f->specs = specs_free(f->specs);
        zsock_destroy(&f->agent);
        zsock_destroy(&f->router);
        f->nodes = nodes_free(f->nodes);
        zloop_destroy(&f->loop);
        coordtest_store_close(&f->st);
}

static void apply(Fixture *f, Castle__OsdSpec *s) {
        Done d = {};

        assert_int_equal(specs_apply(f->specs, &s, 1, "operator-key", on_done, &d), 0);
        run_until(f->loop, &d.calls, 1);
        assert_int_equal(d.error, 0);
        castle__osd_spec__free_unpacked(s, NULL);
}

static void test_store_and_remove(void **state) {
        Fixture f;
        Specs *again = NULL;
        Castle__OsdSpec *const *all;
        size_t n;
        int64_t rev;
        Done d = {};

        fixture_open(&f, "inproc://specs-store");
        assert_int_equal(specs_revision(f.specs), 0);
        apply(&f, new_spec("b", NULL));
        apply(&f, new_spec("a", "host-1"));
        all = specs_all(f.specs, &n);
        assert_int_equal(n, 2);
        assert_string_equal(all[0]->service_id, "a");
        assert_string_equal(all[1]->service_id, "b");
        assert_string_equal(all[0]->applied_by, "operator-key");
        assert_string_equal(all[0]->yaml, "service_type: osd\n");
        assert_true(all[0]->applied_usec > all[1]->applied_usec);
        rev = specs_revision(f.specs);
        assert_int_equal(rev, all[0]->applied_usec);

        /* a coordinator started later on the same file has them */
        assert_int_equal(specs_new(f.intent, f.st.store, f.nodes, NULL, &again), 0);
        specs_all(again, &n);
        assert_int_equal(n, 2);
        assert_non_null(specs_find(again, "b"));
        again = specs_free(again);

        assert_int_equal(specs_remove(f.specs, "nope", on_done, &d), -ENOENT);
        assert_int_equal(specs_remove(f.specs, "b", on_done, &d), 0);
        run_until(f.loop, &d.calls, 1);
        assert_int_equal(d.error, 0);
        specs_all(f.specs, &n);
        assert_int_equal(n, 1);
        assert_null(specs_find(f.specs, "b"));
        assert_true(specs_revision(f.specs) > rev);
        fixture_close(&f);
}

static Castle__SpecSet *recv_set(zsock_t *agent) {
        Castle__Envelope *e = coordtest_recv_envelope(agent);
        Castle__SpecSet *set;

        assert_int_equal(e->body_case, CASTLE__ENVELOPE__BODY_COMMAND);
        assert_int_equal(e->command->kind_case, CASTLE__COMMAND__KIND_SPECS);
        assert_int_equal(e->command->command_id, 0);
        set = e->command->specs;
        e->command->specs = NULL;
        e->command->kind_case = CASTLE__COMMAND__KIND__NOT_SET;
        castle__envelope__free_unpacked(e, NULL);
        return set;
}

static void test_push(void **state) {
        Fixture f;
        NodeRuntime *n = NULL;
        Castle__SpecSet *set;
        zmsg_t *m;

        fixture_open(&f, "inproc://specs-push");
        apply(&f, new_spec("elsewhere", "host-2"));

        /* the agent speaks first, so that the ROUTER knows its routing id */
        assert_int_equal(zstr_send(f.agent, "hello"), 0);
        m = coordtest_recv(f.router);
        assert_int_equal(nodes_add(f.nodes, "node-x", &n), 0);
        n->routing_id = zframe_dup(zmsg_first(m));
        zmsg_destroy(&m);
        n->state = NODE_ONLINE;
        n->hostname = strdup("host-1");

        specs_node_hello(f.specs, n);
        set = recv_set(f.agent);
        assert_int_equal(set->n_specs, 0); /* an empty set is sent too: it replaces the agent's */
        assert_int_equal(set->revision, specs_revision(f.specs));
        castle__spec_set__free_unpacked(set, NULL);

        /* a spec that does not place the node changes nothing for it: nothing is sent */
        apply(&f, new_spec("elsewhere-too", "host-3"));
        assert_true(coordtest_quiet(f.agent, 100));

        /* one that places it is sent, with the new revision */
        apply(&f, new_spec("everywhere", NULL));
        set = recv_set(f.agent);
        assert_int_equal(set->n_specs, 1);
        assert_string_equal(set->specs[0]->service_id, "everywhere");
        assert_int_equal(set->revision, specs_revision(f.specs));
        castle__spec_set__free_unpacked(set, NULL);
        fixture_close(&f);
}

static int stop_loop(zloop_t *loop, int timer_id, void *arg) {
        return -1;
}

/* Another coordinator (a second Intent on the same SQLite file stands for the shared
 * backend's copy) stores a spec; this one has read its specs before, and learns of the new
 * one when its follower hands in the new revision: the hook reads them again. */
static void test_follow(void **state) {
        TestDb t;
        Fake fake;
        Intent *mine = NULL, *other = NULL;
        IntentBackend b;
        zloop_t *loop = zloop_new();
        Store *store = NULL;
        Nodes *nodes = NULL;
        Specs *s = NULL, *o = NULL;
        Castle__OsdSpec *spec = new_spec("from-other", NULL);
        Done d = {};
        char rev[32];
        size_t n = 0;

        testdb_new(&t);
        assert_int_equal(store_open_sqlite(t.path, &store), 0);
        assert_int_equal(nodes_new(store, USEC_PER_MINUTE, USEC_PER_HOUR, NULL, &nodes), 0);
        fake_init(&fake);
        b = fake_backend(&fake);
        assert_int_equal(intent_open(t.path, &b, &mine), 0);
        assert_int_equal(intent_attach(mine, loop), 0);
        assert_int_equal(specs_new(mine, store, nodes, NULL, &s), 0);
        intent_set_follow_hook(mine, specs_followed, s);
        run_until(loop, &fake.follows, 1); /* its first follow: nothing new */

        assert_int_equal(intent_open(t.path, NULL, &other), 0);
        assert_int_equal(intent_attach(other, loop), 0);
        assert_int_equal(specs_new(other, store, nodes, NULL, &o), 0);
        assert_int_equal(specs_apply(o, &spec, 1, "k", on_done, &d), 0);
        run_until(loop, &d.calls, 1);
        assert_int_equal(d.error, 0);
        specs_all(s, &n);
        assert_int_equal(n, 0); /* not read yet */

        snprintf(rev, sizeof rev, "%" PRId64, specs_revision(o));
        pthread_mutex_lock(&fake.lock);
        fake.follow_key = "spec-revision";
        fake.follow_value = rev;
        fake.follows = 0; /* the next follow hands the pair in */
        pthread_mutex_unlock(&fake.lock);
        run_until(loop, &fake.follows, 1);
        zloop_timer(loop, 200, 1, stop_loop, NULL); /* the hook's wake-up */
        zloop_start(loop);
        specs_all(s, &n);
        assert_int_equal(n, 1);
        assert_non_null(specs_find(s, "from-other"));
        assert_int_equal(specs_revision(s), specs_revision(o));

        mine = intent_close(mine);
        other = intent_close(other);
        s = specs_free(s);
        o = specs_free(o);
        castle__osd_spec__free_unpacked(spec, NULL);
        nodes = nodes_free(nodes);
        store = store_close(store);
        zloop_destroy(&loop);
        testdb_remove(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_store_and_remove),
                cmocka_unit_test(test_push),
                cmocka_unit_test(test_follow),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
