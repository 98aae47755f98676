/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node table, keyed by node id, and the liveness clock. States live in the store too, so
 * that castlectl cluster nodes and a restarted coordinator see them; this table adds what only
 * this run knows (routing ids, last contact). */
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "coordinator/nodes.h"

struct Nodes {
        Store *store;
        zhashx_t *table; /* node id -> NodeRuntime */
        uint64_t stale_after, offline_after;
        NodesEvents events;
};

static void node_runtime_free(void **item) {
        NodeRuntime *n = *item;

        if (!n)
                return;
        zframe_destroy(&n->routing_id);
        free(n->node_id);
        free(n->hostname);
        strv_free(n->labels);
        if (n->osd_report)
                castle__heartbeat__free_unpacked(n->osd_report, NULL);
        free(n->specs_sent);
        free(n);
        *item = NULL;
}

int nodes_new(Store *store, uint64_t stale_after, uint64_t offline_after, const NodesEvents *events,
              Nodes **ret) {
        Nodes *nodes = calloc(1, sizeof(Nodes));

        if (!nodes)
                return -ENOMEM;
        *nodes = (Nodes){ .store = store, .stale_after = stale_after, .offline_after = offline_after };
        if (events)
                nodes->events = *events;
        nodes->table = zhashx_new();
        if (!nodes->table) {
                free(nodes);
                return -ENOMEM;
        }
        zhashx_set_destructor(nodes->table, node_runtime_free);
        *ret = nodes;
        return 0;
}

Nodes *nodes_free(Nodes *nodes) {
        if (!nodes)
                return NULL;
        zhashx_destroy(&nodes->table);
        free(nodes);
        return NULL;
}

NodeRuntime *nodes_get(Nodes *nodes, const char *node_id) {
        return zhashx_lookup(nodes->table, node_id);
}

NodeRuntime *nodes_next(Nodes *nodes, NodeRuntime *n) {
        return n ? zhashx_next(nodes->table) : zhashx_first(nodes->table);
}

int nodes_add(Nodes *nodes, const char *node_id, NodeRuntime **ret) {
        NodeRuntime *n = zhashx_lookup(nodes->table, node_id);

        if (!n) {
                n = calloc(1, sizeof(NodeRuntime));
                if (!n)
                        return -ENOMEM;
                n->node_id = strdup(node_id);
                n->state = NODE_OFFLINE;
                if (!n->node_id) {
                        free(n);
                        return -ENOMEM;
                }
                zhashx_insert(nodes->table, node_id, n);
        }
        *ret = n;
        return 0;
}

void nodes_info_fill(Castle__NodeInfo *info, const StoreNode *n) {
        castle__node_info__init(info);
        info->node_id = n->node_id;
        info->hostname = n->hostname ?: (char *) "";
        info->agent_version = n->agent_version ?: (char *) "";
        info->state = (char *) node_state_to_string(n->state);
        info->state_since_usec = n->state_since;
        info->last_seen_usec = n->last_seen;
        info->generation = n->generation;
        info->devices = n->n_devices;
        /* A report that was not stored: the node may be talking, but what is shown is old. */
        if (n->store_error < 0) {
                if (n->state == NODE_ONLINE)
                        info->state = (char *) node_state_to_string(NODE_STALE);
                info->store_error = (char *) strerror(-n->store_error);
                info->store_error_since_usec = n->store_error_since;
        }
}

static void report_changed(Nodes *nodes, const char *node_id) {
        StoreNode sn = {};
        Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
        Castle__NodeInfo info;
        NodeRuntime *rt;

        if (!nodes->events.changed || store_node_get(nodes->store, node_id, &sn) < 0)
                return;
        nodes_info_fill(&info, &sn);
        rt = nodes_get(nodes, node_id);
        if (rt && rt->labels) {
                info.labels = rt->labels;
                info.n_labels = strv_length(rt->labels);
        }
        e.node_id = sn.node_id;
        e.node = &info;
        nodes->events.changed(nodes->events.userdata, &e);
        store_node_done(&sn);
}

int nodes_set_state(Nodes *nodes, NodeRuntime *n, NodeState s, int64_t now) {
        int r;

        if (n->state == s)
                return 0;
        r = store_node_set_state(nodes->store, n->node_id, s, now);
        if (r < 0)
                return r;
        if (s != NODE_ONLINE || n->state != NODE_OFFLINE)
                log_info("Node %s is %s.", n->node_id, node_state_to_string(s));
        n->state = s;
        report_changed(nodes, n->node_id);
        return 0;
}

int nodes_remove(Nodes *nodes, const char *node_id, bool force) {
        NodeRuntime *n = zhashx_lookup(nodes->table, node_id);
        Castle__WatchEvent e = CASTLE__WATCH_EVENT__INIT;
        Castle__NodeInfo info = CASTLE__NODE_INFO__INIT;
        int r;

        if (n && n->state == NODE_ONLINE && !force)
                return -EBUSY;
        r = store_remove_node(nodes->store, node_id);
        if (r < 0 && !(r == -ENOENT && n))
                return r;
        log_info("Node %s removed%s.", node_id, n && n->state == NODE_ONLINE ? " while online" : "");
        if (nodes->events.changed) {
                info.node_id = (char *) node_id;
                info.state = (char *) "removed";
                e.node_id = (char *) node_id;
                e.node = &info;
                nodes->events.changed(nodes->events.userdata, &e);
        }
        if (n)
                zhashx_delete(nodes->table, node_id);
        return 0;
}

void nodes_tick(Nodes *nodes, int64_t now) {
        for (NodeRuntime *n = zhashx_first(nodes->table); n; n = zhashx_next(nodes->table)) {
                int64_t silent = now - n->last_seen;

                if (n->state == NODE_ONLINE && silent > (int64_t) nodes->stale_after)
                        (void) nodes_set_state(nodes, n, NODE_STALE, now);
                else if (n->state == NODE_STALE && silent > (int64_t) nodes->offline_after) {
                        (void) nodes_set_state(nodes, n, NODE_OFFLINE, now);
                        if (nodes->events.lost)
                                nodes->events.lost(nodes->events.userdata, n->node_id);
                }
        }
}

void nodes_count(Nodes *nodes, uint64_t ret[static _NODE_STATE_MAX]) {
        for (int s = 0; s < _NODE_STATE_MAX; s++)
                ret[s] = 0;
        for (NodeRuntime *n = zhashx_first(nodes->table); n; n = zhashx_next(nodes->table))
                if (n->state < _NODE_STATE_MAX)
                        ret[n->state]++;
}

int nodes_load(Nodes *nodes, int64_t now) {
        StoreNode *stored = NULL;
        size_t n = 0;
        int r;

        r = store_mark_all_stale(nodes->store, now);
        if (r < 0)
                return r;
        r = store_list_nodes(nodes->store, &stored, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                NodeRuntime *rt;

                if (nodes_add(nodes, stored[i].node_id, &rt) < 0)
                        continue;
                rt->generation = stored[i].generation;
                rt->state = stored[i].state;
                /* its host name for spec placement until its agent says Hello again (a
                 * coordinator that restarted asks none of an agent whose generation it has) */
                if (!isempty(stored[i].hostname) && !rt->hostname)
                        rt->hostname = strdup(stored[i].hostname);
                rt->last_seen = now; /* the stale -> offline clock starts now */
        }
        store_nodes_free(stored, n);
        return (int) n;
}
