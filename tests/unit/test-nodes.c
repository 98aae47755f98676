/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Node liveness on a real store, with the clock handed in: online -> stale -> offline as a
 * node stays silent, each change stored and reported once as a watch event, the offline one
 * also as lost; start-up, where every stored node is stale until it speaks; and removal, refused
 * for an online node unless forced, which takes the node and its devices out of the store. */
#include "tests/unit/coordtest.h"

#include <string.h>

#include "common/timeutil.h"
#include "coordinator/nodes.h"

#define STALE_AFTER (15 * USEC_PER_SEC)
#define OFFLINE_AFTER (120 * USEC_PER_SEC)
#define T0 INT64_C(1700000000000000)

typedef struct Seen {
        char states[8][16]; /* the node states reported, in order */
        size_t n_changed;
        size_t n_lost;
} Seen;

static void on_changed(void *userdata, const Castle__WatchEvent *e) {
        Seen *s = userdata;

        assert_non_null(e->node);
        assert_string_equal(e->node_id, e->node->node_id);
        assert_true(s->n_changed < ELEMENTSOF(s->states));
        snprintf(s->states[s->n_changed++], sizeof s->states[0], "%s", e->node->state);
}

static void on_lost(void *userdata, const char *node_id) {
        Seen *s = userdata;

        assert_string_equal(node_id, "node-1");
        s->n_lost++;
}

static NodeState stored_state(Store *store, const char *node_id) {
        StoreNode sn = {};
        NodeState s;

        assert_int_equal(store_node_get(store, node_id, &sn), 0);
        s = sn.state;
        store_node_done(&sn);
        return s;
}

static void test_liveness(void **state) {
        CoordTestStore t;
        Seen seen = {};
        Nodes *nodes = NULL;
        NodeRuntime *n = NULL;
        uint64_t count[_NODE_STATE_MAX];

        coordtest_store_open(&t);
        assert_int_equal(
                nodes_new(t.store, STALE_AFTER, OFFLINE_AFTER,
                          &(NodesEvents){ .changed = on_changed, .lost = on_lost, .userdata = &seen },
                          &nodes),
                0);
        assert_null(nodes_get(nodes, "node-1"));
        assert_int_equal(store_node_seen(t.store, "node-1", "host-1", "0.1", T0), 0);
        assert_int_equal(nodes_add(nodes, "node-1", &n), 0);
        assert_ptr_equal(nodes_get(nodes, "node-1"), n);
        assert_int_equal(n->state, NODE_OFFLINE); /* until it is heard */

        n->last_seen = T0;
        assert_int_equal(nodes_set_state(nodes, n, NODE_ONLINE, T0), 0);
        assert_int_equal(nodes_set_state(nodes, n, NODE_ONLINE, T0), 0); /* no change, no event */
        assert_int_equal(seen.n_changed, 1);
        assert_string_equal(seen.states[0], "online");

        /* Silent for exactly stale-after: still online; a microsecond more: stale. */
        nodes_tick(nodes, T0 + (int64_t) STALE_AFTER);
        assert_int_equal(n->state, NODE_ONLINE);
        nodes_tick(nodes, T0 + (int64_t) STALE_AFTER + 1);
        assert_int_equal(n->state, NODE_STALE);
        assert_int_equal(stored_state(t.store, "node-1"), NODE_STALE);
        assert_int_equal(seen.n_changed, 2);
        assert_string_equal(seen.states[1], "stale");
        assert_int_equal(seen.n_lost, 0);

        nodes_tick(nodes, T0 + (int64_t) OFFLINE_AFTER);
        assert_int_equal(n->state, NODE_STALE);
        nodes_tick(nodes, T0 + (int64_t) OFFLINE_AFTER + 1);
        assert_int_equal(n->state, NODE_OFFLINE);
        assert_int_equal(stored_state(t.store, "node-1"), NODE_OFFLINE);
        assert_int_equal(seen.n_changed, 3);
        assert_string_equal(seen.states[2], "offline");
        assert_int_equal(seen.n_lost, 1);

        /* Offline stays offline, and is lost once. */
        nodes_tick(nodes, T0 + 10 * (int64_t) OFFLINE_AFTER);
        assert_int_equal(seen.n_changed, 3);
        assert_int_equal(seen.n_lost, 1);

        nodes_count(nodes, count);
        assert_int_equal(count[NODE_ONLINE], 0);
        assert_int_equal(count[NODE_STALE], 0);
        assert_int_equal(count[NODE_OFFLINE], 1);

        nodes = nodes_free(nodes);
        coordtest_store_close(&t);
}

static void test_load(void **state) {
        CoordTestStore t;
        Seen seen = {};
        Nodes *nodes = NULL;
        NodeRuntime *n;
        uint64_t count[_NODE_STATE_MAX];
        const int64_t restart = T0 + 1000 * (int64_t) USEC_PER_SEC;

        coordtest_store_open(&t);
        /* What an earlier run left: node-1 online with generation 7, node-2 offline. */
        assert_int_equal(store_node_seen(t.store, "node-1", "host-1", "0.1", T0), 0);
        assert_int_equal(store_apply_snapshot(t.store, "node-1", 7, NULL, 0), 0);
        assert_int_equal(store_node_set_state(t.store, "node-1", NODE_ONLINE, T0), 0);
        assert_int_equal(store_node_seen(t.store, "node-2", "host-2", "0.1", T0), 0);

        assert_int_equal(
                nodes_new(t.store, STALE_AFTER, OFFLINE_AFTER,
                          &(NodesEvents){ .changed = on_changed, .lost = on_lost, .userdata = &seen },
                          &nodes),
                0);
        assert_int_equal(nodes_load(nodes, restart), 2);
        n = nodes_get(nodes, "node-1");
        assert_non_null(n);
        assert_int_equal(n->state, NODE_STALE);
        assert_int_equal(n->generation, 7);
        assert_null(n->routing_id);
        assert_int_equal(stored_state(t.store, "node-1"), NODE_STALE);
        assert_int_equal(nodes_get(nodes, "node-2")->state, NODE_OFFLINE);
        nodes_count(nodes, count);
        assert_int_equal(count[NODE_STALE], 1);
        assert_int_equal(count[NODE_OFFLINE], 1);

        /* The stale -> offline clock starts at the restart, not at the last contact. */
        nodes_tick(nodes, restart + (int64_t) OFFLINE_AFTER);
        assert_int_equal(n->state, NODE_STALE);
        nodes_tick(nodes, restart + (int64_t) OFFLINE_AFTER + 1);
        assert_int_equal(n->state, NODE_OFFLINE);
        assert_int_equal(seen.n_changed, 1);
        assert_string_equal(seen.states[0], "offline");
        assert_int_equal(seen.n_lost, 1);

        nodes = nodes_free(nodes);
        coordtest_store_close(&t);
}

static void test_info(void **state) {
        StoreNode sn = { .node_id = (char *) "node-1",
                         .state = NODE_STALE,
                         .state_since = 5,
                         .last_seen = 4,
                         .generation = 3,
                         .n_devices = 2 };
        Castle__NodeInfo info;

        nodes_info_fill(&info, &sn);
        assert_string_equal(info.node_id, "node-1");
        assert_string_equal(info.hostname, ""); /* never NULL on the wire */
        assert_string_equal(info.agent_version, "");
        assert_string_equal(info.state, "stale");
        assert_int_equal(info.state_since_usec, 5);
        assert_int_equal(info.last_seen_usec, 4);
        assert_int_equal(info.generation, 3);
        assert_int_equal(info.devices, 2);
        assert_string_equal(strempty(info.store_error), "");

        /* a node whose last report was not stored is never shown online */
        sn.state = NODE_ONLINE;
        sn.store_error = -ENOSPC;
        sn.store_error_since = 7;
        nodes_info_fill(&info, &sn);
        assert_string_equal(info.state, "stale");
        assert_string_equal(info.store_error, strerror(ENOSPC));
        assert_int_equal(info.store_error_since_usec, 7);
}

static void test_remove(void **state) {
        CoordTestStore t;
        Seen seen = {};
        Nodes *nodes;
        NodeRuntime *n;
        Castle__Device d = CASTLE__DEVICE__INIT, *devices[] = { &d };
        StoreNode sn = {};
        uint64_t yes = 0, no = 0;

        coordtest_store_open(&t);
        assert_int_equal(nodes_new(t.store, STALE_AFTER, OFFLINE_AFTER,
                                   &(NodesEvents) { .changed = on_changed, .userdata = &seen }, &nodes),
                         0);
        d.kname = (char *) "sda";
        d.stable_id = (char *) "wwn-a";
        assert_int_equal(store_node_seen(t.store, "node-1", "host-1", "0.1", T0), 0);
        assert_int_equal(store_apply_snapshot(t.store, "node-1", 1, devices, 1), 0);
        assert_int_equal(nodes_add(nodes, "node-1", &n), 0);
        n->last_seen = T0;
        assert_int_equal(nodes_set_state(nodes, n, NODE_ONLINE, T0), 0);

        assert_int_equal(nodes_remove(nodes, "node-9", false), -ENOENT);
        assert_int_equal(nodes_remove(nodes, "node-1", false), -EBUSY);
        assert_non_null(nodes_get(nodes, "node-1"));
        assert_int_equal(nodes_remove(nodes, "node-1", true), 0);
        assert_null(nodes_get(nodes, "node-1"));
        assert_int_equal(store_node_get(t.store, "node-1", &sn), -ENOENT);
        assert_int_equal(store_count_devices(t.store, &yes, &no), 0);
        assert_int_equal(yes + no, 0);
        assert_int_equal(seen.n_changed, 2);
        assert_string_equal(seen.states[1], "removed");

        /* An offline node goes without force. */
        assert_int_equal(store_node_seen(t.store, "node-2", "host-2", "0.1", T0), 0);
        assert_int_equal(nodes_load(nodes, T0), 1);
        nodes_tick(nodes, T0 + (int64_t) OFFLINE_AFTER + 1);
        assert_int_equal(nodes_get(nodes, "node-2")->state, NODE_OFFLINE);
        assert_int_equal(nodes_remove(nodes, "node-2", false), 0);
        assert_int_equal(store_node_get(t.store, "node-2", &sn), -ENOENT);

        nodes = nodes_free(nodes);
        coordtest_store_close(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_liveness),
                cmocka_unit_test(test_load),
                cmocka_unit_test(test_info),
                cmocka_unit_test(test_remove),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
