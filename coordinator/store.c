/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SQLite store. One file, WAL mode, prepared statements kept for the hot path (an agent's
 * snapshot or delta is one transaction). A device row is keyed by (node, key): the key is the
 * device's stable_id, or "kname:<kname>" when it has none. The row keeps the packed
 * castle.Device plus the columns that queries filter on. Write failures (a full disk) are
 * tracked here, where every write passes: the nodes whose reports were not stored, and a
 * paced log of each kind of failure. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "coordinator/sqlerrno.h"
#include "coordinator/store.h"
#include "proto/codec.h"

#define SCHEMA_VERSION 1

enum {
        STMT_NODE_SEEN,
        STMT_NODE_STATE,
        STMT_NODE_GENERATION,
        STMT_NODE_GET,
        STMT_NODES,
        STMT_DELETE_DEVICES,
        STMT_DELETE_DEVICE,
        STMT_UPSERT_DEVICE,
        STMT_NODE_ENSURE,
        STMT_COUNT_DEVICES,
        _STMT_MAX,
};

static const char *const statements[_STMT_MAX] = {
        [STMT_NODE_SEEN] = "INSERT INTO nodes(node_id, hostname, agent_version, generation, state, state_since, "
                           "last_seen, first_seen) VALUES(?1, ifnull(?2, ''), ifnull(?3, ''), 0, 2, ?4, ?4, ?4) "
                           "ON CONFLICT(node_id) DO UPDATE SET last_seen = ?4, "
                           "hostname = ifnull(?2, hostname), agent_version = ifnull(?3, agent_version)",
        [STMT_NODE_STATE] = "UPDATE nodes SET state = ?2, state_since = ?3 WHERE node_id = ?1",
        [STMT_NODE_GENERATION] = "UPDATE nodes SET generation = ?2 WHERE node_id = ?1",
        [STMT_NODE_GET] = "SELECT node_id, hostname, agent_version, generation, state, state_since, last_seen, "
                          "(SELECT count(*) FROM devices d WHERE d.node_id = n.node_id) FROM nodes n "
                          "WHERE node_id = ?1",
        [STMT_NODES] = "SELECT node_id, hostname, agent_version, generation, state, state_since, last_seen, "
                       "(SELECT count(*) FROM devices d WHERE d.node_id = n.node_id) FROM nodes n "
                       "ORDER BY node_id",
        [STMT_DELETE_DEVICES] = "DELETE FROM devices WHERE node_id = ?1",
        [STMT_DELETE_DEVICE] = "DELETE FROM devices WHERE node_id = ?1 AND key = ?2",
        [STMT_NODE_ENSURE] = "INSERT OR IGNORE INTO nodes(node_id, hostname, agent_version, generation, state, "
                             "state_since, last_seen, first_seen) VALUES(?1, '', '', 0, 2, 0, 0, 0)",
        /* the devices_available index covers it: no table rows are read */
        [STMT_COUNT_DEVICES] = "SELECT available, count(*) FROM devices GROUP BY available",
        [STMT_UPSERT_DEVICE] = "INSERT OR REPLACE INTO devices(node_id, key, path, available, rotational, size, "
                               "transport, model, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
};

/* What a write was, for the log and the unsaved nodes. */
typedef enum StoreWrite {
        WRITE_NODE_SEEN,
        WRITE_NODE_STATE,
        WRITE_SNAPSHOT,
        WRITE_DELTA,
        _WRITE_MAX,
} StoreWrite;

static const char *const write_names[_WRITE_MAX] = {
        [WRITE_NODE_SEEN] = "the record", [WRITE_NODE_STATE] = "the state",
        [WRITE_SNAPSHOT] = "a snapshot",  [WRITE_DELTA] = "a delta",
};

typedef struct Unsaved {
        char *node_id;
        int error;
        int64_t since;
} Unsaved;

struct Store {
        sqlite3 *db;
        sqlite3_stmt *stmt[_STMT_MAX];
        StoreHealth health;
        Unsaved *unsaved; /* health.unsaved of them; no more than the nodes that sent reports */
        struct {
                int error;          /* of the last line logged */
                uint64_t last_log;  /* monotonic usec */
                uint64_t held_back; /* failures since, not logged yet */
        } log[_WRITE_MAX];
        uint64_t last_checkpoint; /* monotonic usec of the last one a full disk asked for */
        uint64_t bindings_generation; /* bumped when a binding is removed */
};

static const char *const state_names[_NODE_STATE_MAX] = {
        [NODE_ONLINE] = "online", [NODE_STALE] = "stale", [NODE_OFFLINE] = "offline",
};

const char *node_state_to_string(NodeState s) {
        return s < _NODE_STATE_MAX ? state_names[s] : "unknown";
}

static int exec(Store *s, const char *sql) {
        return sql_error(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static int migrate(Store *s) {
        sqlite3_stmt *st;
        int version = 0, r;

        r = sql_error(sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL));
        if (r < 0)
                return r;
        if (sqlite3_step(st) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (version > SCHEMA_VERSION)
                return -EPROTO; /* written by a newer castle */
        if (version == SCHEMA_VERSION)
                return 0;
        return exec(s, "BEGIN;"
                       "CREATE TABLE nodes(node_id TEXT PRIMARY KEY, hostname TEXT, agent_version TEXT, "
                       "  generation INTEGER, state INTEGER, state_since INTEGER, last_seen INTEGER, first_seen INTEGER);"
                       "CREATE TABLE devices(node_id TEXT NOT NULL REFERENCES nodes ON DELETE CASCADE, key TEXT NOT NULL, "
                       "  path TEXT, available INTEGER, rotational INTEGER, size INTEGER, transport TEXT, model TEXT, "
                       "  data BLOB, PRIMARY KEY(node_id, key));"
                       "CREATE INDEX devices_available ON devices(available);"
                       "CREATE INDEX devices_key ON devices(key);"
                       "PRAGMA user_version = 1;"
                       "COMMIT;");
}

int store_open_sqlite(const char *path, Store **ret) {
        _cleanup_(store_closep) Store *s = calloc(1, sizeof(Store));
        int r;

        if (!s)
                return -ENOMEM;
        r = sql_error(sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                      NULL));
        if (r < 0)
                return r;
        sqlite3_busy_timeout(s->db, 5000);
        r = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
        if (r < 0)
                return r;
        r = migrate(s);
        if (r < 0)
                return r;
        /* A table of its own, outside the schema version, so that it never has to be migrated
         * with the inventory's. One b-tree (a page): a node's key is looked up by a scan, which
         * happens once per key binding, and store_binding_set() keeps node ids unique. A full
         * disk (tests/integration/test-store-full.sh, 512 KiB) notices every page. */
        r = exec(s, "CREATE TABLE IF NOT EXISTS agent_keys(key TEXT PRIMARY KEY, name TEXT NOT NULL, "
                    "node_id TEXT NOT NULL, since INTEGER) WITHOUT ROWID");
        if (r < 0)
                return r;
        for (size_t i = 0; i < _STMT_MAX; i++) {
                r = sql_error(sqlite3_prepare_v3(s->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

Store *store_close(Store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->health.unsaved; i++)
                free(s->unsaved[i].node_id);
        free(s->unsaved);
        for (size_t i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmt[i]);
        sqlite3_close(s->db);
        free(s);
        return NULL;
}

void store_closep(Store **s) {
        store_close(*s);
}

/* Runs a prepared statement to completion and resets it. */
static int step(sqlite3_stmt *st) {
        int rc = sqlite3_step(st), r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sql_error(rc);

        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
        if (v)
                sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, i);
}

static Unsaved *unsaved_find(Store *s, const char *node_id) {
        for (size_t i = 0; i < s->health.unsaved; i++)
                if (streq(s->unsaved[i].node_id, node_id))
                        return &s->unsaved[i];
        return NULL;
}

static void unsaved_add(Store *s, const char *node_id, int error, int64_t now) {
        Unsaved *u = unsaved_find(s, node_id), *g;
        char *id;

        if (u) {
                u->error = error;
                return;
        }
        /* Out of memory: the node is not marked; the failure is still counted and logged. */
        id = strdup(node_id);
        g = id ? reallocarray(s->unsaved, s->health.unsaved + 1, sizeof(Unsaved)) : NULL;
        if (!g) {
                free(id);
                return;
        }
        s->unsaved = g;
        s->unsaved[s->health.unsaved++] = (Unsaved) { .node_id = id, .error = error, .since = now };
}

static void unsaved_remove(Store *s, const char *node_id) {
        Unsaved *u = unsaved_find(s, node_id);

        if (!u)
                return;
        log_info("Node %s's report is stored again.", node_id);
        free(u->node_id);
        *u = s->unsaved[--s->health.unsaved];
}

/* Every write transaction's result passes here: counted, logged at a pace, and the node's
 * report marked as stored or not. Returns r. */
static int note_write(Store *s, StoreWrite w, const char *node_id, int r) {
        uint64_t mono = now_usec();
        int64_t now = now_realtime_usec();

        /* A device the message itself got wrong (no key) says nothing of the store. */
        if (r == -EINVAL)
                return r;
        if (r >= 0) {
                if (s->health.error < 0) {
                        log_notice("The store takes writes again (%" PRIu64 " failed since the coordinator started; "
                                   "the last: %s).", s->health.failures, strerror(-s->health.error));
                        /* While there is room: move the WAL into the database and empty it, or
                         * the WAL grows back into the space that returned (a checkpoint on a
                         * full disk fails, for the database has no room to take the pages). */
                        int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
                        if (rc != SQLITE_OK)
                                log_debug_errno(sql_error(rc), "Checkpoint after the store recovered failed: %m");
                }
                s->health.error = 0;
                s->health.failing_since = 0;
                if (w == WRITE_SNAPSHOT)
                        unsaved_remove(s, node_id);
                return r;
        }

        s->health.failures++;
        /* The WAL only shrinks when a checkpoint has copied it into the database: on a full
         * disk, give its space back (at most once a second), so that what comes next fits. */
        if (r == -ENOSPC && mono - s->last_checkpoint >= USEC_PER_SEC) {
                int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
                s->last_checkpoint = mono;
                if (rc != SQLITE_OK)
                        log_debug_errno(sql_error(rc), "Checkpoint after a full disk failed: %m");
        }
        if (s->health.error == 0)
                s->health.failing_since = now;
        s->health.error = r;
        if (w == WRITE_SNAPSHOT || w == WRITE_DELTA)
                unsaved_add(s, node_id, r, now);

        /* The first failure of a kind, or another error, is logged at once; more of the same are
         * counted and reported by store_health_tick() at most every STORE_LOG_INTERVAL_USEC. */
        if (s->log[w].error != r || mono - s->log[w].last_log >= STORE_LOG_INTERVAL_USEC) {
                log_error_errno(r, "Failed to store %s of node %s: %m%s", write_names[w], node_id,
                                w == WRITE_SNAPSHOT || w == WRITE_DELTA
                                        ? "; the node is shown as not up to date, and asked again later."
                                        : ".");
                s->log[w].error = r;
                s->log[w].last_log = mono;
        } else
                s->log[w].held_back++;
        return r;
}

void store_health_tick(Store *s) {
        uint64_t mono = now_usec();

        for (StoreWrite w = 0; w < _WRITE_MAX; w++) {
                if (s->log[w].held_back == 0 || mono - s->log[w].last_log < STORE_LOG_INTERVAL_USEC)
                        continue;
                log_error_errno(s->log[w].error, "Failed to store %s %" PRIu64 " more time(s) in the last %" PRIu64
                                " s: %m. %zu node report(s) not stored.", write_names[w], s->log[w].held_back,
                                (mono - s->log[w].last_log) / USEC_PER_SEC, s->health.unsaved);
                s->log[w].held_back = 0;
                s->log[w].last_log = mono;
        }
}

void store_get_health(Store *s, StoreHealth *ret) {
        *ret = s->health;
}

int store_unsaved_nodes(Store *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        for (size_t i = 0; i < s->health.unsaved; i++)
                if (strv_extend(&l, s->unsaved[i].node_id) < 0)
                        return -ENOMEM;
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int store_node_seen(Store *s, const char *node_id, const char *hostname, const char *agent_version, int64_t now) {
        sqlite3_stmt *st = s->stmt[STMT_NODE_SEEN];

        bind_text(st, 1, node_id);
        bind_text(st, 2, hostname);
        bind_text(st, 3, agent_version);
        sqlite3_bind_int64(st, 4, now);
        return note_write(s, WRITE_NODE_SEEN, node_id, step(st));
}

int store_node_set_state(Store *s, const char *node_id, NodeState state, int64_t now) {
        sqlite3_stmt *st = s->stmt[STMT_NODE_STATE];
        int r;

        bind_text(st, 1, node_id);
        sqlite3_bind_int(st, 2, (int) state);
        sqlite3_bind_int64(st, 3, now);
        r = note_write(s, WRITE_NODE_STATE, node_id, step(st));
        /* Offline says all there is to say of its data; the store is no longer waiting for it. */
        if (r >= 0 && state == NODE_OFFLINE) {
                Unsaved *u = unsaved_find(s, node_id);
                if (u) {
                        free(u->node_id);
                        *u = s->unsaved[--s->health.unsaved];
                }
        }
        return r;
}

int store_mark_all_stale(Store *s, int64_t now) {
        sqlite3_stmt *st;
        int r;

        r = sql_error(sqlite3_prepare_v2(s->db, "UPDATE nodes SET state = 1, state_since = ?1 WHERE state = 0", -1,
                                         &st, NULL));
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        r = step(st);
        sqlite3_finalize(st);
        return r;
}

void store_node_done(StoreNode *n) {
        free(n->node_id);
        free(n->hostname);
        free(n->agent_version);
        *n = (StoreNode) {};
}

void store_nodes_free(StoreNode *nodes, size_t n) {
        for (size_t i = 0; i < n; i++)
                store_node_done(&nodes[i]);
        free(nodes);
}

static char *column_dup(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return strdup(t ? (const char *) t : "");
}

static int read_node(Store *s, sqlite3_stmt *st, StoreNode *n) {
        const Unsaved *u;
        int state = sqlite3_column_int(st, 4);

        *n = (StoreNode) {
                .node_id = column_dup(st, 0),
                .hostname = column_dup(st, 1),
                .agent_version = column_dup(st, 2),
                .generation = (uint64_t) sqlite3_column_int64(st, 3),
                .state = state >= 0 && state < _NODE_STATE_MAX ? (NodeState) state : NODE_OFFLINE,
                .state_since = sqlite3_column_int64(st, 5),
                .last_seen = sqlite3_column_int64(st, 6),
                .n_devices = (uint32_t) sqlite3_column_int(st, 7),
        };
        if (!n->node_id || !n->hostname || !n->agent_version) {
                store_node_done(n);
                return -ENOMEM;
        }
        /* Not stored: what the store has of it is older than what it said. */
        u = unsaved_find(s, n->node_id);
        if (u) {
                n->store_error = u->error;
                n->store_error_since = u->since;
        }
        return 0;
}

int store_node_get(Store *s, const char *node_id, StoreNode *ret) {
        sqlite3_stmt *st = s->stmt[STMT_NODE_GET];
        int rc, r;

        bind_text(st, 1, node_id);
        rc = sqlite3_step(st);
        r = rc == SQLITE_ROW ? read_node(s, st, ret) : rc == SQLITE_DONE ? -ENOENT : sql_error(rc);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

int store_list_nodes(Store *s, StoreNode **ret, size_t *ret_n) {
        sqlite3_stmt *st = s->stmt[STMT_NODES];
        StoreNode *nodes = NULL;
        size_t n = 0;
        int rc, r = 0;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreNode *g = reallocarray(nodes, n + 1, sizeof(StoreNode));
                if (!g) {
                        r = -ENOMEM;
                        break;
                }
                nodes = g;
                r = read_node(s, st, &nodes[n]);
                if (r < 0)
                        break;
                n++;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = sql_error(rc);
        sqlite3_reset(st);
        /* A node the store could not even record is listed all the same, stale, with its error:
         * the coordinator talks to it, and it should not be missing from the list. */
        for (size_t i = 0; r >= 0 && i < s->health.unsaved; i++) {
                const Unsaved *u = &s->unsaved[i];
                StoreNode *g;
                bool listed = false;

                for (size_t k = 0; k < n && !listed; k++)
                        listed = streq(nodes[k].node_id, u->node_id);
                if (listed)
                        continue;
                g = reallocarray(nodes, n + 1, sizeof(StoreNode));
                if (!g) {
                        r = -ENOMEM;
                        break;
                }
                nodes = g;
                nodes[n] = (StoreNode) {
                        .node_id = strdup(u->node_id), .hostname = strdup(""), .agent_version = strdup(""),
                        .state = NODE_STALE, .state_since = u->since, .last_seen = u->since,
                        .store_error = u->error, .store_error_since = u->since,
                };
                if (!nodes[n].node_id || !nodes[n].hostname || !nodes[n].agent_version) {
                        store_node_done(&nodes[n]);
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r < 0) {
                store_nodes_free(nodes, n);
                return r;
        }
        *ret = nodes;
        *ret_n = n;
        return 0;
}

int store_count_devices(Store *s, uint64_t *ret_available, uint64_t *ret_unavailable) {
        sqlite3_stmt *st = s->stmt[STMT_COUNT_DEVICES];
        uint64_t counts[2] = {};
        int rc, r;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                counts[sqlite3_column_int(st, 0) ? 1 : 0] += (uint64_t) sqlite3_column_int64(st, 1);
        r = rc == SQLITE_DONE ? 0 : sql_error(rc);
        sqlite3_reset(st);
        if (r < 0)
                return r;
        *ret_available = counts[1];
        *ret_unavailable = counts[0];
        return 0;
}

static const char *transport_name(int t) {
        static const char *const names[] = { "unknown", "nvme", "sata", "sas", "scsi", "virtio", "usb", "mmc", "ata", "virtual" };
        return t >= 0 && (size_t) t < ELEMENTSOF(names) ? names[t] : "unknown";
}

static int upsert_device(Store *s, const char *node_id, const Castle__Device *d) {
        sqlite3_stmt *st = s->stmt[STMT_UPSERT_DEVICE];
        _cleanup_free_ char *key = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        if (!isempty(d->stable_id))
                key = strdup(d->stable_id);
        else if (!isempty(d->kname) && asprintf(&key, "kname:%s", d->kname) < 0)
                key = NULL;
        else if (isempty(d->kname))
                return -EINVAL;
        if (!key)
                return -ENOMEM;
        r = codec_pack(&d->base, &data, &size);
        if (r < 0)
                return r;
        bind_text(st, 1, node_id);
        bind_text(st, 2, key);
        bind_text(st, 3, d->path);
        sqlite3_bind_int(st, 4, d->available);
        sqlite3_bind_int(st, 5, d->rotational);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) d->size);
        bind_text(st, 7, transport_name(d->transport));
        bind_text(st, 8, d->model);
        sqlite3_bind_blob(st, 9, data, (int) size, SQLITE_STATIC);
        return step(st);
}

static int set_generation(Store *s, const char *node_id, uint64_t generation) {
        sqlite3_stmt *st = s->stmt[STMT_NODE_GENERATION];

        bind_text(st, 1, node_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) generation);
        return step(st);
}

static int ensure_node(Store *s, const char *node_id) {
        sqlite3_stmt *st = s->stmt[STMT_NODE_ENSURE];

        bind_text(st, 1, node_id);
        return step(st);
}

/* Runs body inside BEGIN IMMEDIATE ... COMMIT, rolling back on failure. */
#define TRANSACTION(s, body)                                            \
        ({                                                              \
                int _r = exec(s, "BEGIN IMMEDIATE");                    \
                if (_r >= 0) {                                          \
                        _r = (body);                                    \
                        _r = _r < 0 ? _r : exec(s, "COMMIT");           \
                        if (_r < 0)                                     \
                                (void) exec(s, "ROLLBACK");             \
                }                                                       \
                _r;                                                     \
        })

static int snapshot_body(Store *s, const char *node_id, uint64_t generation, Castle__Device *const *devices, size_t n) {
        sqlite3_stmt *st = s->stmt[STMT_DELETE_DEVICES];
        int r;

        r = ensure_node(s, node_id);
        if (r < 0)
                return r;
        bind_text(st, 1, node_id);
        r = step(st);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = upsert_device(s, node_id, devices[i]);
        return r < 0 ? r : set_generation(s, node_id, generation);
}

int store_apply_snapshot(Store *s, const char *node_id, uint64_t generation, Castle__Device *const *devices,
                         size_t n) {
        return note_write(s, WRITE_SNAPSHOT, node_id,
                          TRANSACTION(s, snapshot_body(s, node_id, generation, devices, n)));
}

static int delta_body(Store *s, const char *node_id, uint64_t generation, Castle__Device *const *changed,
                      size_t n_changed, char *const *removed, size_t n_removed) {
        sqlite3_stmt *st = s->stmt[STMT_DELETE_DEVICE];
        int r;

        r = ensure_node(s, node_id);
        for (size_t i = 0; r >= 0 && i < n_changed; i++)
                r = upsert_device(s, node_id, changed[i]);
        for (size_t i = 0; r >= 0 && i < n_removed; i++) {
                bind_text(st, 1, node_id);
                bind_text(st, 2, removed[i]);
                r = step(st);
        }
        return r < 0 ? r : set_generation(s, node_id, generation);
}

int store_apply_delta(Store *s, const char *node_id, uint64_t generation, Castle__Device *const *changed,
                      size_t n_changed, char *const *removed, size_t n_removed) {
        return note_write(s, WRITE_DELTA, node_id,
                          TRANSACTION(s, delta_body(s, node_id, generation, changed, n_changed, removed, n_removed)));
}

int store_query_devices(Store *s, const DeviceQuery *q, StoreDeviceFunc f, void *userdata) {
        char sql[1024] = "SELECT node_id, data FROM devices WHERE 1";
        sqlite3_stmt *st;
        int rc, r, i = 1;

        /* Only fixed SQL text is appended; every value is a bound parameter. */
        if (q->node_id)
                strcat(sql, " AND node_id = ?");
        if (q->stable_id)
                strcat(sql, " AND key = ?");
        if (q->available >= 0)
                strcat(sql, " AND available = ?");
        if (q->rotational >= 0)
                strcat(sql, " AND rotational = ?");
        if (q->min_size)
                strcat(sql, " AND size >= ?");
        if (q->max_size)
                strcat(sql, " AND size <= ?");
        if (q->transport)
                strcat(sql, " AND transport = ?");
        if (q->model)
                strcat(sql, " AND instr(lower(model), lower(?)) > 0");
        strcat(sql, " ORDER BY node_id, path");
        if (q->limit)
                strcat(sql, " LIMIT ?");
        r = sql_error(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL));
        if (r < 0)
                return r;
        if (q->node_id)
                bind_text(st, i++, q->node_id);
        if (q->stable_id)
                bind_text(st, i++, q->stable_id);
        if (q->available >= 0)
                sqlite3_bind_int(st, i++, q->available);
        if (q->rotational >= 0)
                sqlite3_bind_int(st, i++, q->rotational);
        if (q->min_size)
                sqlite3_bind_int64(st, i++, (sqlite3_int64) q->min_size);
        if (q->max_size)
                sqlite3_bind_int64(st, i++, (sqlite3_int64) q->max_size);
        if (q->transport)
                bind_text(st, i++, q->transport);
        if (q->model)
                bind_text(st, i++, q->model);
        if (q->limit)
                sqlite3_bind_int64(st, i++, (sqlite3_int64) q->limit);
        r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *node = (const char *) sqlite3_column_text(st, 0);
                const uint8_t *data = sqlite3_column_blob(st, 1);
                int n = sqlite3_column_bytes(st, 1);

                r = f(node ?: "", data, (size_t) MAX(n, 0), userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = sql_error(rc);
        sqlite3_finalize(st);
        return r;
}

static int remove_node_body(Store *s, const char *node_id) {
        static const char *const sql[] = { "DELETE FROM devices WHERE node_id = ?1",
                                           "DELETE FROM nodes WHERE node_id = ?1" };
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sql); i++) {
                sqlite3_stmt *st;

                r = sql_error(sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL));
                if (r < 0)
                        break;
                bind_text(st, 1, node_id);
                r = step(st);
                if (r >= 0 && i == ELEMENTSOF(sql) - 1 && sqlite3_changes(s->db) == 0)
                        r = -ENOENT;
                sqlite3_finalize(st);
        }
        return r;
}

int store_remove_node(Store *s, const char *node_id) {
        int r = TRANSACTION(s, remove_node_body(s, node_id));

        /* A forgotten node has no report left to store: it no longer holds /ready at 503. */
        if (r >= 0)
                unsaved_remove(s, node_id);
        return r;
}

void store_binding_done(StoreBinding *b) {
        free(b->key);
        free(b->name);
        free(b->node_id);
        *b = (StoreBinding) {};
}

/* One binding by the value of a column (key or node_id). */
static int binding_get_by(Store *s, const char *sql, const char *value, StoreBinding *ret) {
        sqlite3_stmt *st;
        int rc, r;

        r = sql_error(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL));
        if (r < 0)
                return r;
        bind_text(st, 1, value);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = (StoreBinding) { .key = column_dup(st, 0), .name = column_dup(st, 1),
                                        .node_id = column_dup(st, 2), .since = sqlite3_column_int64(st, 3) };
                r = ret->key && ret->name && ret->node_id ? 0 : -ENOMEM;
                if (r < 0)
                        store_binding_done(ret);
        } else
                r = rc == SQLITE_DONE ? -ENOENT : sql_error(rc);
        sqlite3_finalize(st);
        return r;
}

int store_binding_get(Store *s, const char *key, StoreBinding *ret) {
        return binding_get_by(s, "SELECT key, name, node_id, since FROM agent_keys WHERE key = ?1", key, ret);
}

int store_binding_of_node(Store *s, const char *node_id, StoreBinding *ret) {
        return binding_get_by(s, "SELECT key, name, node_id, since FROM agent_keys WHERE node_id = ?1", node_id, ret);
}

int store_binding_set(Store *s, const char *key, const char *name, const char *node_id, int64_t now) {
        StoreBinding other = {};
        sqlite3_stmt *st;
        int rc, r;

        r = store_binding_of_node(s, node_id, &other);
        if (r >= 0) {
                r = streq(other.key, key) ? 0 : -EEXIST;
                store_binding_done(&other);
                if (r < 0)
                        return r;
        } else if (r != -ENOENT)
                return r;

        /* the key's row is replaced (a key file that names another node now); a node another key
         * holds is a constraint violation */
        r = sql_error(sqlite3_prepare_v2(s->db,
                                         "INSERT INTO agent_keys(key, name, node_id, since) VALUES(?1, ?2, ?3, ?4) "
                                         "ON CONFLICT(key) DO UPDATE SET name = ?2, node_id = ?3, since = ?4",
                                         -1, &st, NULL));
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        bind_text(st, 2, name);
        bind_text(st, 3, node_id);
        sqlite3_bind_int64(st, 4, now);
        rc = sqlite3_step(st);
        r = rc == SQLITE_DONE ? 0 : sql_error(rc);
        sqlite3_finalize(st);
        return r;
}

int store_binding_remove(Store *s, const char *key_or_name, StoreBinding *ret) {
        StoreBinding b = {};
        sqlite3_stmt *st;
        int r;

        r = binding_get_by(s, "SELECT key, name, node_id, since FROM agent_keys WHERE key = ?1 OR name = ?1 "
                              "ORDER BY key = ?1 DESC, since DESC LIMIT 1",
                           key_or_name, &b);
        if (r < 0)
                return r;
        r = sql_error(sqlite3_prepare_v2(s->db, "DELETE FROM agent_keys WHERE key = ?1", -1, &st, NULL));
        if (r >= 0) {
                bind_text(st, 1, b.key);
                r = step(st);
                sqlite3_finalize(st);
        }
        if (r < 0) {
                store_binding_done(&b);
                return r;
        }
        s->bindings_generation++;
        if (ret)
                *ret = b;
        else
                store_binding_done(&b);
        return 0;
}

uint64_t store_bindings_generation(Store *s) {
        return s->bindings_generation;
}
