/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The coordinator's store: nodes and their devices, behind a small interface so that a RADOS
 * backend can follow the SQLite one. Devices are kept as packed castle.Device messages plus
 * the columns queries filter on. Every message an agent sends is applied in one transaction. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/castle.pb-c.h"

typedef struct Store Store;

typedef enum NodeState {
        NODE_ONLINE,
        NODE_STALE,     /* missed heartbeats, or the coordinator restarted and has not heard from it */
        NODE_OFFLINE,   /* silent for longer, or said goodbye */
        _NODE_STATE_MAX,
} NodeState;

const char *node_state_to_string(NodeState s);

typedef struct StoreNode {
        char *node_id;
        char *hostname;
        char *agent_version;
        uint64_t generation;    /* of the last snapshot or delta applied */
        NodeState state;
        int64_t state_since;    /* CLOCK_REALTIME, microseconds */
        int64_t last_seen;      /* CLOCK_REALTIME, microseconds */
        uint32_t n_devices;
        int store_error;        /* -errno: the node's last report could not be stored; 0: it is stored */
        int64_t store_error_since; /* CLOCK_REALTIME, microseconds */
} StoreNode;

void store_node_done(StoreNode *n);
void store_nodes_free(StoreNode *nodes, size_t n);

/* Filters of a device query; zero values mean "any". */
typedef struct DeviceQuery {
        const char *node_id;
        const char *stable_id;
        int available;          /* -1 any, 0 no, 1 yes */
        int rotational;         /* -1 any, 0 no, 1 yes */
        uint64_t min_size, max_size;
        const char *transport;  /* "nvme", ... as in the JSON */
        const char *model;      /* substring, case-insensitive */
        size_t limit;
} DeviceQuery;

#define DEVICE_QUERY_INIT { .available = -1, .rotational = -1 }

/* Called once per matching device, in (node_id, path) order; a negative return stops the walk
 * and is returned by store_query_devices(). data is a packed castle.Device. */
typedef int (*StoreDeviceFunc)(const char *node_id, const uint8_t *data, size_t size, void *userdata);

/* Opens (creating if needed) an SQLite database in WAL mode. */
int store_open_sqlite(const char *path, Store **ret);
Store *store_close(Store *s);
void store_closep(Store **s);

/* Node records. store_node_seen() creates the node if it is new. */
int store_node_seen(Store *s, const char *node_id, const char *hostname, const char *agent_version,
                    int64_t now);
int store_node_set_state(Store *s, const char *node_id, NodeState state, int64_t now);
/* Marks every node stale (coordinator start-up: nobody has spoken yet). */
int store_mark_all_stale(Store *s, int64_t now);
int store_node_get(Store *s, const char *node_id, StoreNode *ret);  /* -ENOENT if unknown */
/* Forgets the node and its devices, in one transaction; -ENOENT if unknown. */
int store_remove_node(Store *s, const char *node_id);
int store_list_nodes(Store *s, StoreNode **ret, size_t *ret_n);

/* A snapshot replaces all of the node's devices; a delta upserts changed devices and deletes
 * removed stable ids. Both set the node's generation. Each is one transaction. */
int store_apply_snapshot(Store *s, const char *node_id, uint64_t generation, Castle__Device *const *devices,
                         size_t n);
int store_apply_delta(Store *s, const char *node_id, uint64_t generation, Castle__Device *const *changed,
                      size_t n_changed, char *const *removed, size_t n_removed);

int store_query_devices(Store *s, const DeviceQuery *q, StoreDeviceFunc f, void *userdata);
/* Devices in the store (of every node, whatever its state) by verdict. */
int store_count_devices(Store *s, uint64_t *ret_available, uint64_t *ret_unavailable);

/* Whether writes succeed. A failed write is logged (once per kind and error, then a count every
 * STORE_LOG_INTERVAL_USEC) and counted; a node whose snapshot or delta failed is "unsaved" until
 * a snapshot of it is stored, and store_node_get()/store_list_nodes() say so (store_error). */
typedef struct StoreHealth {
        int error;              /* -errno of the last write transaction; 0 when it succeeded */
        int64_t failing_since;  /* CLOCK_REALTIME usec of the first failure in a row; 0 when none */
        uint64_t failures;      /* write transactions that failed since the store was opened */
        size_t unsaved;         /* nodes whose last report is not in the store */
} StoreHealth;

#define STORE_LOG_INTERVAL_USEC (10 * UINT64_C(1000000))

void store_get_health(Store *s, StoreHealth *ret);
/* The unsaved nodes' ids, in a NULL-terminated array the caller frees with strv_free(). */
int store_unsaved_nodes(Store *s, char ***ret);
/* Logs what was held back of the failures (how many more, of which kind) once its interval has
 * passed: called by the coordinator's timer, so that no failure goes unreported. */
void store_health_tick(Store *s);

/* Agent keys bound to nodes (coordinator/binding.c decides). A key (its Z85 fingerprint) is
 * bound to one node and a node to one key: store_binding_set() replaces the key's binding and
 * fails with -EEXIST when another key holds the node. */
typedef struct StoreBinding {
        char *key, *name, *node_id;
        int64_t since;  /* CLOCK_REALTIME usec */
} StoreBinding;

void store_binding_done(StoreBinding *b);
int store_binding_get(Store *s, const char *key, StoreBinding *ret);            /* -ENOENT if none */
int store_binding_of_node(Store *s, const char *node_id, StoreBinding *ret);    /* -ENOENT if none */
int store_binding_set(Store *s, const char *key, const char *name, const char *node_id, int64_t now);
/* Forgets the binding of a key given by fingerprint or by name (the newest binding of that
 * name); -ENOENT if there is none. ret (may be NULL) gets what was removed. */
int store_binding_remove(Store *s, const char *key_or_name, StoreBinding *ret);
/* Changes whenever a binding is removed, so that a cache of them knows when to forget. */
uint64_t store_bindings_generation(Store *s);
