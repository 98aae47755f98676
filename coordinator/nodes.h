/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Node state and liveness: what the coordinator knows of each node in this run (its routing id
 * on the agents' socket, the inventory generation applied, when it last spoke), and its state
 * online -> stale -> offline as it falls silent. Every change is written to the store and
 * handed to the caller as a watch event; a node that goes offline is reported as lost, so that
 * the commands waiting for it can end. */
#pragma once

#include <czmq.h>
#include <stdint.h>

#include "coordinator/store.h"
#include "proto/castle.pb-c.h"

typedef struct NodeRuntime {
        char *node_id;
        zframe_t *routing_id; /* NULL until the node speaks in this run */
        uint64_t generation;
        NodeState state;
        int64_t last_seen; /* realtime usec */
        double rate_tokens; /* the agent's message budget (ingest's token bucket) */
        int64_t rate_at;    /* when it was last filled; 0: never */
        char *hostname;     /* from its Hello in this run; NULL before */
        char **labels;      /* its agent's labels (Hello.labels), for placement.label; NULL: none */
        uint8_t *specs_sent; /* the SpecSet last sent to it (packed, revision 0); NULL: none yet */
        size_t specs_sent_size;
        /* Its agent's last word on its OSDs (Heartbeat osds, removals, reservations; labels and
         * counters cleared), in memory only; NULL: none in this run. */
        Castle__Heartbeat *osd_report;
} NodeRuntime;

typedef struct Nodes Nodes;

/* Where changes go; any of them may be NULL. Called on the loop thread. */
typedef struct NodesEvents {
        /* A node's state changed: its stored record, as an event for the watchers. */
        void (*changed)(void *userdata, const Castle__WatchEvent *e);
        /* A stale node stayed silent past offline-after: what it was doing will not finish. */
        void (*lost)(void *userdata, const char *node_id);
        void *userdata;
} NodesEvents;

/* stale_after, offline_after: usec of silence before online -> stale, and stale -> offline. */
int nodes_new(Store *store, uint64_t stale_after, uint64_t offline_after, const NodesEvents *events,
              Nodes **ret);
Nodes *nodes_free(Nodes *nodes);

/* Start-up: every stored node is stale until it speaks, and its stale -> offline clock starts
 * at now; its generation is what the store has. Returns the number of nodes. */
int nodes_load(Nodes *nodes, int64_t now);

/* NULL for a node not known in this run. */
NodeRuntime *nodes_get(Nodes *nodes, const char *node_id);
/* Every node known in this run, in no order: n is NULL for the first. The table must not
 * change during the walk. */
NodeRuntime *nodes_next(Nodes *nodes, NodeRuntime *n);
/* The node's record, made (offline, generation 0) if it is new. */
int nodes_add(Nodes *nodes, const char *node_id, NodeRuntime **ret);
/* Forgets the node, in the store too, and reports it to the watchers as state "removed":
 * -ENOENT if unknown, -EBUSY if it is online and force is not set. Its agent, if it speaks
 * again, is asked for a full report and comes back as a new node. */
int nodes_remove(Nodes *nodes, const char *node_id, bool force);
/* Stores the new state and reports it (nothing when it is the state the node has). */
int nodes_set_state(Nodes *nodes, NodeRuntime *n, NodeState s, int64_t now);
/* Liveness at time now (realtime usec): online nodes silent for longer than stale_after turn
 * stale, stale ones silent for longer than offline_after turn offline and are lost. */
void nodes_tick(Nodes *nodes, int64_t now);
/* How many nodes are in each state. */
void nodes_count(Nodes *nodes, uint64_t ret[static _NODE_STATE_MAX]);

/* A stored node as the wire's NodeInfo; info points into n. A node whose last report was not
 * stored is never "online" there (stale, with store_error set). */
void nodes_info_fill(Castle__NodeInfo *info, const StoreNode *n);
