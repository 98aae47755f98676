/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-coordinator's state, shared by its parts: ingest (agents' messages into the store),
 * liveness (online/stale/offline), query (castlectl cluster and other clients). */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "coordinator/store.h"
#include "coordinator/zap.h"
#include "proto/castle.pb-c.h"

typedef struct CoordinatorConfig {
        char *agent_endpoint;
        char *query_endpoint;
        char *key;              /* our key pair (NAME_secret) */
        char *agent_keys;       /* allowlist directory for agents */
        char *query_keys;       /* allowlist directory for query clients */
        char *database;
        uint64_t stale_after;   /* usec without a message: online -> stale */
        uint64_t offline_after; /* usec without a message: -> offline */
        uint64_t max_message_size;
        bool insecure;
        char *metrics_listen;   /* "" = no metrics endpoint */
} CoordinatorConfig;

typedef struct CoordinatorMetrics CoordinatorMetrics; /* coordinator/metrics.h */

/* Why a message was dropped; counted, and logged at most once a second per reason. */
typedef enum DropReason {
        DROP_FRAMING,           /* not [routing id, payload] */
        DROP_DECODE,            /* not a protobuf Envelope, or no body */
        DROP_VERSION,           /* another protocol version */
        DROP_INVALID,           /* bad ids, too many devices */
        DROP_UNEXPECTED,        /* a message only the coordinator sends, or a node id mismatch */
        DROP_STORE,             /* the store refused it */
        _DROP_MAX,
} DropReason;

const char *drop_reason_to_string(DropReason r);

typedef struct NodeRuntime {
        char *node_id;
        zframe_t *routing_id;   /* NULL until the node speaks in this run */
        uint64_t generation;
        NodeState state;
        int64_t last_seen;      /* realtime usec */
} NodeRuntime;

typedef struct Coordinator {
        CoordinatorConfig cfg;
        Store *store;
        Zap *zap;
        zcert_t *cert;
        zsock_t *agents, *query;
        zloop_t *loop;
        zhashx_t *nodes;        /* node id -> NodeRuntime */
        zlistx_t *watchers;     /* routing ids (zframe_t) of watch clients */
        zlistx_t *jobs;         /* commands sent to agents, waiting for their JobUpdates */
        uint64_t last_command_id;
        uint64_t received, applied, dropped[_DROP_MAX];
        uint64_t last_drop_log[_DROP_MAX];
        uint64_t watchdog_usec;
        CoordinatorMetrics *metrics;
} Coordinator;

/* ingest.c */
int ingest_message(Coordinator *c, zmsg_t *msg);
int liveness_tick(Coordinator *c);
int nodes_load(Coordinator *c);
void node_info_fill(Castle__NodeInfo *info, const StoreNode *n);

/* jobs.c */
void jobs_init(Coordinator *c);
void jobs_done(Coordinator *c);
void jobs_submit(Coordinator *c, zframe_t *client, uint64_t request_id, const Castle__NodeCommand *nc);
void jobs_update(Coordinator *c, const char *node_id, Castle__JobUpdate *u);
void jobs_node_lost(Coordinator *c, const char *node_id);

/* query.c */
int query_message(Coordinator *c, zmsg_t *msg);
/* Tells every watcher about a change. */
void watch_publish(Coordinator *c, const Castle__WatchEvent *e);

int64_t realtime_usec(void);
