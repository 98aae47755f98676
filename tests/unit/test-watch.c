/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The watch fan-out over inproc sockets: one client connection holds at most its quota of
 * subscriptions, and a client that stops reading is dropped when its queue fills and then told
 * why (a last reply with the reason), instead of waiting for ever for events that will not
 * come. */
#include "tests/unit/coordtest.h"

#include <string.h>

#include "common/timeutil.h"
#include "coordinator/watch.h"

typedef struct Fixture {
        zsock_t *query, *client;
        zframe_t *client_id;
        Watch *watch;
} Fixture;

/* A client's routing id, as the ROUTER learns it from its first message. */
static zframe_t *routing_id_of(zsock_t *query, zsock_t *client) {
        zframe_t *id;
        zmsg_t *m;

        zstr_send(client, "hello");
        m = coordtest_recv(query);
        id = zframe_dup(zmsg_first(m));
        zmsg_destroy(&m);
        return id;
}

static int setup(void **state) {
        static unsigned n_fixtures = 0;
        Fixture *f = calloc(1, sizeof(Fixture));
        char endpoint[64];

        assert_non_null(f);
        snprintf(endpoint, sizeof endpoint, "inproc://test-watch-%u", ++n_fixtures);
        f->query = coordtest_router(endpoint);
        zsock_set_router_mandatory(f->query, 1); /* as castle-coordinator sets it */
        zsock_set_sndhwm(f->query, 10);
        f->client = coordtest_dealer(endpoint, NULL);
        f->client_id = routing_id_of(f->query, f->client);
        assert_int_equal(watch_new(f->query, &f->watch), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        f->watch = watch_free(f->watch);
        zframe_destroy(&f->client_id);
        zsock_destroy(&f->client);
        zsock_destroy(&f->query);
        free(f);
        return 0;
}

static void test_per_client(void **state) {
        Fixture *f = *state;
        zsock_t *other = coordtest_dealer(zsock_endpoint(f->query), NULL);
        zframe_t *other_id = routing_id_of(f->query, other);

        watch_set_max_per_client(f->watch, 2);
        assert_int_equal(watch_subscribe(f->watch, f->client_id, 1), 0);
        assert_int_equal(watch_subscribe(f->watch, f->client_id, 2), 0);
        assert_int_equal(watch_subscribe(f->watch, f->client_id, 3), -EDQUOT);
        assert_int_equal(watch_subscribe(f->watch, other_id, 1), 0);
        assert_int_equal(watch_count(f->watch), 3);

        /* The default leaves room for a few, not for all of WATCH_MAX_CLIENTS. */
        watch_set_max_per_client(f->watch, WATCH_MAX_PER_CLIENT);
        for (size_t i = 1; i < WATCH_MAX_PER_CLIENT; i++)
                assert_int_equal(watch_subscribe(f->watch, other_id, 10 + i), 0);
        assert_int_equal(watch_subscribe(f->watch, other_id, 99), -EDQUOT);

        zframe_destroy(&other_id);
        zsock_destroy(&other);
}

static void test_too_slow(void **state) {
        Fixture *f = *state;
        Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
        Castle__QueryReply *r = NULL;
        size_t published = 0, events = 0;

        assert_int_equal(watch_subscribe(f->watch, f->client_id, 42), 0);
        e.node_id = (char *) "node-1";
        e.removed = (char *) "wwn-a";
        /* The client reads nothing: its queue fills and it is dropped. */
        while (watch_count(f->watch) > 0) {
                assert_true(published < 100000);
                watch_publish(f->watch, &e);
                published++;
        }
        assert_int_equal(watch_dropped_slow(f->watch), 1);

        /* It catches up with what it was sent, and then learns why nothing more comes. */
        for (;;) {
                if (coordtest_quiet(f->client, 100)) {
                        /* the farewell did not fit at once: sent once the queue has room */
                        watch_tick(f->watch, now_usec());
                        assert_false(coordtest_quiet(f->client, 1000));
                }
                r = coordtest_recv_reply(f->client);
                if (!r->event)
                        break;
                events++;
                castle__query_reply__free_unpacked(r, NULL);
        }
        assert_true(events > 0);
        assert_true(events < published);
        assert_int_equal(r->request_id, 42);
        assert_string_equal(r->error, WATCH_DROPPED_TOO_SLOW);
        assert_true(r->last);
        castle__query_reply__free_unpacked(r, NULL);

        /* Told once. */
        watch_tick(f->watch, now_usec());
        assert_true(coordtest_quiet(f->client, 50));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_per_client, setup, teardown),
                cmocka_unit_test_setup_teardown(test_too_slow, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
