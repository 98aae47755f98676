/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-coordinator: keeps every node's inventory. One CZMQ zloop drives the agents' ROUTER,
 * the query ROUTER, signals (signalfd), the liveness timer and the systemd watchdog; zloop is
 * used because it already knows how to poll ZeroMQ sockets next to plain fds and timers, which
 * sd-event does not, and a hand-written epoll loop would have to re-derive ZMQ_FD's
 * edge-triggered rules. The ZAP handler runs on its own thread and starts first.
 * This is the one file that knows every part (store, nodes, watch, jobs, ingest, query,
 * metrics) and wires them together. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/daemon-loop.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/timeutil.h"
#include "coordinator/audit.h"
#include "coordinator/ingest.h"
#include "coordinator/intent.h"
#include "coordinator/intent-ceph.h"
#include "coordinator/specs.h"
#include "coordinator/jobs.h"
#include "coordinator/metrics.h"
#include "coordinator/nodes.h"
#include "coordinator/query.h"
#include "coordinator/store.h"
#include "coordinator/watch.h"
#include "coordinator/zap.h"
#include "proto/keys.h"
#include "proto/link.h"

#define DEFAULT_CONFIG "/etc/castle/coordinator.conf"

typedef struct CoordinatorConfig {
        char *agent_endpoint;
        char *query_endpoint;
        char *key;              /* our key pair (NAME_secret) */
        char *agent_keys;       /* allowlist directory for agents */
        char *query_keys;       /* allowlist directory for query clients: the operator role */
        char *viewer_keys, *admin_keys; /* ... the viewer and admin roles */
        char *database;
        uint64_t stale_after;   /* usec without a message: online -> stale */
        uint64_t offline_after; /* usec without a message: -> offline */
        uint64_t max_message_size;
        bool insecure;
        char *metrics_listen;   /* "" = no metrics endpoint */
        /* Quotas, 0 = none; the defaults are the modules' own (INGEST_MAX_*, WATCH_MAX_PER_CLIENT,
         * JOBS_MAX_PER_CLIENT, JOBS_TIMEOUT_USEC), which the unit tests run with. */
        uint64_t max_devices_per_node, max_device_size, max_agent_rate;
        uint64_t max_watches_per_client, max_jobs_per_client, job_timeout;
        uint64_t watch_queue;
        int intent;             /* IntentKind */
        char *name;             /* "" = the host name */
        /* The intent store in the Ceph monitors (intent-ceph.h), with intent = ceph. */
        char *ceph_conf, *ceph_name, *ceph_keyring, *intent_prefix;
        uint64_t ceph_timeout;
} CoordinatorConfig;

/* Where the intent (the audit trail) is kept. */
typedef enum IntentKind {
        INTENT_SQLITE,
        INTENT_CEPH,
} IntentKind;

static const char *const intent_kinds[] = { "sqlite", "ceph", NULL };

typedef struct Coordinator {
        CoordinatorConfig cfg;
        Store *store;
        Zap *zap;
        zcert_t *cert;
        zsock_t *agent_socket, *query_socket;
        zloop_t *loop;
        Nodes *nodes;
        Watch *watch;
        Jobs *jobs;
        Ingest *ingest;
        Query *query;
        CoordinatorMetrics *metrics;
        Intent *intent;
        Audit *audit;
        Specs *specs;
        uint64_t watchdog_usec;
} Coordinator;

#define OPT(section, name, type, def, min, max, field, help) \
        { section, name, type, def, min, max, offsetof(CoordinatorConfig, field), help }

static const ConfOption options[] = {
        OPT("coordinator", "agent-endpoint", CONF_STRING, "tcp://0.0.0.0:7100", 0, 0, agent_endpoint,
            "where agents connect (ZeroMQ endpoint)"),
        OPT("coordinator", "query-endpoint", CONF_STRING, "tcp://127.0.0.1:7101", 0, 0, query_endpoint,
            "where castlectl cluster and other clients connect"),
        OPT("coordinator", "key", CONF_STRING, "/etc/castle/keys/coordinator.key", 0, 0, key,
            "the coordinator's CURVE key pair (castlectl keygen); the _secret file is read"),
        OPT("coordinator", "agent-keys", CONF_STRING, "/etc/castle/agents.d", 0, 0, agent_keys,
            "directory of agent public keys allowed to connect (re-read when it changes)"),
        OPT("coordinator", "query-keys", CONF_STRING, "/etc/castle/clients.d", 0, 0, query_keys,
            "directory of client public keys with the operator role: queries, watch, commands, node rm"),
        OPT("coordinator", "viewer-keys", CONF_STRING, "/etc/castle/viewers.d", 0, 0, viewer_keys,
            "directory of client public keys with the viewer role: nodes, devices, watch (missing: none)"),
        OPT("coordinator", "admin-keys", CONF_STRING, "/etc/castle/admins.d", 0, 0, admin_keys,
            "directory of client public keys with the admin role: all, and key unbind (missing: none)"),
        OPT("coordinator", "database", CONF_STRING, "/var/lib/castle/coordinator/coordinator.db", 0, 0,
            database, "SQLite database file (WAL mode)"),
        OPT("coordinator", "stale-after", CONF_DURATION, "15s", USEC_PER_SEC, 0, stale_after,
            "a node silent this long is stale (agents send heartbeats every 5 s)"),
        OPT("coordinator", "offline-after", CONF_DURATION, "2min", USEC_PER_SEC, 0, offline_after,
            "a node silent this long is offline"),
        OPT("coordinator", "max-message-size", CONF_SIZE, "16M", 65536, 1073741824, max_message_size,
            "larger messages from an agent drop its connection"),
        OPT("coordinator", "insecure", CONF_BOOL, "no", 0, 0, insecure,
            "accept plain-text connections without CURVE (testing only; logs a warning)"),
        OPT("coordinator", "metrics-listen", CONF_LISTEN, "", 0, 0, metrics_listen,
            "serve Prometheus metrics at http://ADDRESS/metrics (PORT alone: 127.0.0.1:PORT; empty: off)"),
        OPT("coordinator", "max-devices-per-node", CONF_UINT, "8192", 0, 1048576,
            max_devices_per_node, "a snapshot or delta that would give a node more devices is refused (0: no limit)"),
        OPT("coordinator", "max-device-size", CONF_SIZE, "256K", 0, 1073741824, max_device_size,
            "a snapshot or delta with a larger device record (packed) is refused (0: no limit)"),
        OPT("coordinator", "max-agent-rate", CONF_UINT, "50", 0, 1000000, max_agent_rate,
            "messages per second one agent may send (bursts of twice that); more are dropped (0: no limit)"),
        OPT("coordinator", "max-watches-per-client", CONF_UINT, "4", 0,
            WATCH_MAX_CLIENTS, max_watches_per_client,
            "watch subscriptions one client connection may hold (0: only the overall 1024)"),
        OPT("coordinator", "watch-queue", CONF_UINT, "16384", 100, 1048576, watch_queue,
            "messages queued to one query client before a watch that reads too slowly is dropped"),
        OPT("coordinator", "max-jobs-per-client", CONF_UINT, "64", 0, JOBS_MAX_PENDING,
            max_jobs_per_client, "commands one client connection may have in progress (0: only the overall 4096)"),
        OPT("coordinator", "job-timeout", CONF_DURATION, "1h", 0, 0, job_timeout,
            "a command whose agent says nothing of it for this long fails as timed out (0: never)"),
        { "coordinator", "intent", CONF_ENUM, "sqlite", 0, 0, offsetof(CoordinatorConfig, intent),
          "where the intent (the audit trail) is kept: sqlite (the database file; one coordinator) or ceph "
          "(the monitors' config-key store; several coordinators)", intent_kinds },
        OPT("coordinator", "name", CONF_STRING, "", 0, 0, name,
            "this coordinator's name in the audit trail (empty: the host name)"),
        OPT("coordinator", "ceph-conf", CONF_STRING, "/etc/ceph/ceph.conf", 0, 0, ceph_conf,
            "with intent = ceph: the Ceph configuration that names the monitors"),
        OPT("coordinator", "ceph-name", CONF_STRING, "client.castle-coordinator", 0, 0, ceph_name,
            "with intent = ceph: the cephx user (its caps: config-key get/set/rm/dump with key prefix intent-prefix)"),
        OPT("coordinator", "ceph-keyring", CONF_STRING, "/etc/castle/keys/ceph.client.castle-coordinator.keyring", 0,
            0, ceph_keyring, "with intent = ceph: the keyring that holds ceph-name's key"),
        OPT("coordinator", "intent-prefix", CONF_STRING, "castle/", 0, 0, intent_prefix,
            "with intent = ceph: castle's key prefix in the monitors' config-key store"),
        OPT("coordinator", "ceph-timeout", CONF_DURATION, "5s", USEC_PER_SEC, 0, ceph_timeout,
            "with intent = ceph: a connection or command the monitors do not answer in this long fails"),
};

static void help(void) {
        daemon_print_help("castle-coordinator",
                          "Keeps the inventory of every castle-agent's node and answers queries\n"
                          "(castlectl cluster ...). Agents and clients authenticate with CURVE keys; only keys\n"
                          "in the allowlist directories may connect.\n",
                          DEFAULT_CONFIG, "[coordinator] section", options, ELEMENTSOF(options),
                          "SIGHUP re-reads the key allowlists");
}

static int on_agents(zloop_t *loop, zsock_t *s, void *arg) {
        Coordinator *c = arg;
        zmsg_t *m = zmsg_recv(s);

        if (m) {
                ingest_message(c->ingest, m, now_realtime_usec());
                zmsg_destroy(&m);
                ingest_queue_state(c->ingest, zsock_events(s) & ZMQ_POLLIN, now_usec());
        }
        return 0;
}

static int on_query(zloop_t *loop, zsock_t *s, void *arg) {
        Coordinator *c = arg;
        zmsg_t *m = zmsg_recv(s);

        if (m) {
                query_message(c->query, m);
                zmsg_destroy(&m);
        }
        return 0;
}

static int on_tick(zloop_t *loop, int timer_id, void *arg) {
        Coordinator *c = arg;

        nodes_tick(c->nodes, now_realtime_usec());
        jobs_tick(c->jobs, now_usec());
        watch_tick(c->watch, now_usec());
        if (c->ingest)
                ingest_tick(c->ingest);
        if (c->watchdog_usec)
                notify_send("WATCHDOG=1");
        return 0;
}

static void on_node_changed(void *userdata, const Castle__WatchEvent *e) {
        Coordinator *c = userdata;

        if (c->watch)
                watch_publish(c->watch, e);
}

static void on_node_lost(void *userdata, const char *node_id) {
        Coordinator *c = userdata;

        if (c->jobs)
                jobs_node_lost(c->jobs, node_id);
}

static void metrics_state(void *userdata, CoordinatorMetricsState *ret) {
        Coordinator *c = userdata;

        if (c->nodes)
                nodes_count(c->nodes, ret->nodes);
        if (c->store) {
                ret->devices_error = store_count_devices(c->store, &ret->devices_available,
                                                         &ret->devices_unavailable);
                store_get_health(c->store, &ret->store);
        }
        if (c->ingest) {
                ingest_add_drops(c->ingest, ret->dropped);
                ret->applied = ingest_applied(c->ingest);
                ret->ingest_lag_usec = ingest_lag_usec(c->ingest, now_usec());
        }
        if (c->query)
                query_add_drops(c->query, ret->dropped);
        if (c->intent) {
                ret->has_intent = true;
                intent_get_status(c->intent, &ret->intent);
        }
        ret->watchers = c->watch ? watch_count(c->watch) : 0;
        ret->watchers_dropped_slow = c->watch ? watch_dropped_slow(c->watch) : 0;
        ret->jobs_pending = c->jobs ? jobs_pending(c->jobs) : 0;
}

static void on_sighup(void *userdata) {
        Coordinator *c = userdata;

        log_info("SIGHUP: re-reading the key allowlists.");
        zap_reload(c->zap);
}

/* The intent store (a table of the database file, or the Ceph monitors behind it) and the
 * audit trail over it. */
static int open_intent(Coordinator *c) {
        IntentBackend backend, *b = NULL; /* NULL: the SQLite table is the durable store */
        char host[256] = "";
        const char *name = c->cfg.name;
        int r;

        if (isempty(name)) {
                if (gethostname(host, sizeof host - 1) < 0 || isempty(host))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "The host has no name: set name in the [coordinator] section.");
                name = host;
        }
        if (c->cfg.intent == INTENT_CEPH) {
                r = intent_ceph_backend(&(IntentCephOptions) { .conf = c->cfg.ceph_conf,
                                                               .name = c->cfg.ceph_name,
                                                               .keyring = c->cfg.ceph_keyring,
                                                               .prefix = c->cfg.intent_prefix,
                                                               .writer = name,
                                                               .timeout_usec = c->cfg.ceph_timeout },
                                        &backend);
                if (r < 0)
                        return log_error_errno(r, "intent = ceph: %m (ceph-conf, ceph-name, ceph-keyring and "
                                               "intent-prefix must be set)");
                b = &backend;
        }
        r = intent_open(c->cfg.database, b, &c->intent);
        if (r < 0)
                return log_error_errno(r, "Failed to open the intent store in %s: %m", c->cfg.database);
        r = intent_attach(c->intent, c->loop);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        r = audit_new(c->intent, name, &c->audit);
        if (r == -EINVAL)
                return log_error_errno(r, "The coordinator's name '%s' cannot name audit records (printable, no "
                                       "blanks or '/', at most 128 characters): set name.", name);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        if (b)
                log_info("Keeping the intent and the audit trail in the Ceph monitors (%s, keys under %s), as "
                         "coordinator %s; a copy in %s.", c->cfg.ceph_conf, c->cfg.intent_prefix, name,
                         c->cfg.database);
        else
                log_info("Keeping the intent and the audit trail in %s, as coordinator %s.", c->cfg.database, name);
        return 0;
}

static int run(Coordinator *c) {
        _cleanup_(daemon_signals_close) DaemonSignals signals = DAEMON_SIGNALS_NULL;
        int r;

        /* before CZMQ starts threads: they inherit the mask */
        r = daemon_signals_open(&signals, on_sighup, c);
        if (r < 0)
                return log_error_errno(r, "signalfd: %m");
        r = daemon_loop_new(&signals, 2, &c->loop);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        zsys_set_max_sockets(0); /* no CZMQ-side cap; the fd limit is what matters */

        r = coordinator_metrics_new(metrics_state, c, &c->metrics);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the metrics: %m");

        r = store_open_sqlite(c->cfg.database, &c->store);
        if (r < 0)
                return log_error_errno(r, "Failed to open the database %s: %m", c->cfg.database);
        r = nodes_new(c->store, c->cfg.stale_after, c->cfg.offline_after,
                      &(NodesEvents) { .changed = on_node_changed, .lost = on_node_lost, .userdata = c },
                      &c->nodes);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        r = nodes_load(c->nodes, now_realtime_usec());
        if (r < 0)
                return log_error_errno(r, "Failed to load nodes from %s: %m", c->cfg.database);
        log_info("Serving the stored inventory of %d node(s); each is stale until it speaks.", r);

        r = open_intent(c);
        if (r < 0)
                return r;

        if (c->cfg.insecure)
                log_warning("--insecure: accepting plain-text connections without authentication; every client "
                            "has the admin role and agent keys are not bound to nodes.");
        else {
                r = keys_load_pair(c->cfg.key, &c->cert);
                if (r < 0)
                        return log_error_errno(r, "Failed to load the key pair %s_secret: %m%s", c->cfg.key,
                                               r == -EPERM ? " (the file must not be readable by others)" : "");
        }

        /* The ZAP handler first: a CURVE socket without one admits everybody. Each socket has
         * an I/O thread of its own: CURVE decryption of an agent's flood (bench/flood) must not
         * delay the queries' replies. */
        r = zap_start((ZapDomain[]) { { "agents", c->cfg.agent_keys, ZAP_ROLE_AGENT },
                                      { "query", c->cfg.viewer_keys, ZAP_ROLE_VIEWER },
                                      { "query", c->cfg.query_keys, ZAP_ROLE_OPERATOR },
                                      { "query", c->cfg.admin_keys, ZAP_ROLE_ADMIN } },
                      4, c->cfg.insecure, &c->zap);
        if (r < 0)
                return log_error_errno(r, "Failed to start the ZAP handler: %m");

        r = link_bind(c->cfg.agent_endpoint,
                      &(LinkOptions) { .cert = c->cert, .zap_domain = "agents", .insecure = c->cfg.insecure,
                                       .max_message_size = (int) c->cfg.max_message_size, .io_threads = 1 << 0,
                                       .answer_heartbeats_only = true },
                      &c->agent_socket);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", c->cfg.agent_endpoint);
        r = link_bind(c->cfg.query_endpoint,
                      &(LinkOptions) { .cert = c->cert, .zap_domain = "query", .insecure = c->cfg.insecure,
                                       .max_message_size = 1024 * 1024, .io_threads = 1 << 1,
                                       .send_queue = (int) c->cfg.watch_queue },
                      &c->query_socket);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", c->cfg.query_endpoint);
        /* A send to a client that went away fails instead of vanishing, so that a watch
         * client that is gone (or too slow to keep up) is dropped from the list. */
        zsock_set_router_mandatory(c->query_socket, 1);

        r = watch_new(c->query_socket, &c->watch);
        if (r >= 0)
                r = jobs_new(c->agent_socket, c->query_socket, c->nodes, c->metrics, &c->jobs);
        if (r >= 0)
                r = ingest_new(c->agent_socket, c->store, c->nodes, c->watch, c->jobs, c->metrics,
                               &c->ingest);
        if (r >= 0)
                r = query_new(c->query_socket, c->store, c->nodes, c->watch, c->jobs, c->metrics, &c->query);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        r = specs_new(c->intent, c->store, c->nodes, c->agent_socket, &c->specs);
        if (r < 0)
                return r;
        intent_set_follow_hook(c->intent, specs_followed, c->specs);
        query_set_specs(c->query, c->specs);
        ingest_set_specs(c->ingest, c->specs);
        jobs_set_audit(c->jobs, c->audit);
        query_set_audit(c->query, c->audit);
        ingest_set_limits(c->ingest, &(IngestLimits) { .max_devices = c->cfg.max_devices_per_node,
                                                       .max_device_size = c->cfg.max_device_size,
                                                       .max_rate = (unsigned) c->cfg.max_agent_rate });
        query_set_require_peer(c->query, !c->cfg.insecure);
        watch_set_max_per_client(c->watch, c->cfg.max_watches_per_client);
        jobs_set_limits(c->jobs, c->cfg.max_jobs_per_client, c->cfg.job_timeout);

        zloop_reader(c->loop, c->agent_socket, on_agents, c);
        zloop_reader(c->loop, c->query_socket, on_query, c);
        c->watchdog_usec = notify_watchdog_usec();
        zloop_timer(c->loop, c->watchdog_usec ? MIN(1000, c->watchdog_usec / 2000) : 1000, 0, on_tick, c);

        r = coordinator_metrics_listen(c->metrics, c->loop, c->cfg.metrics_listen);
        if (r < 0)
                return log_error_errno(r, "Failed to serve metrics on %s: %m", c->cfg.metrics_listen);
        if (!isempty(c->cfg.metrics_listen))
                log_info("Serving metrics at http://%s/metrics.", coordinator_metrics_address(c->metrics));

        log_info("Listening for agents on %s and for queries on %s.", c->cfg.agent_endpoint, c->cfg.query_endpoint);
        notify_send("READY=1\nSTATUS=Serving the inventory");
        zloop_start(c->loop);
        return 0;
}

int main(int argc, char *argv[]) {
        Coordinator c = {};
        DaemonArgs args = {};
        int r;

        log_set_max_level(LOG_INFO);
        log_parse_environment();
        r = daemon_parse_args(options, ELEMENTSOF(options), DEFAULT_CONFIG, argc, argv, &args);
        if (r < 0)
                return 2;
        if (args.help) {
                help();
                daemon_args_done(&args);
                return 0;
        }
        r = daemon_load_config(options, ELEMENTSOF(options), &args, &c.cfg);
        if (r < 0)
                r = 2;
        else if (args.check_only) {
                conf_print_values(options, ELEMENTSOF(options), &c.cfg, stdout);
                r = 0;
        } else
                r = run(&c) < 0 ? 1 : 0;

        c.metrics = coordinator_metrics_free(c.metrics); /* before the loop it is registered with */
        /* before the loop too; what is queued is still written, no completion is called */
        c.audit = audit_free(c.audit);
        c.intent = intent_close(c.intent);
        zloop_destroy(&c.loop);
        c.query = query_free(c.query);
        c.ingest = ingest_free(c.ingest);
        c.specs = specs_free(c.specs);
        c.jobs = jobs_free(c.jobs);
        c.watch = watch_free(c.watch);
        c.nodes = nodes_free(c.nodes);
        zsock_destroy(&c.agent_socket);
        zsock_destroy(&c.query_socket);
        c.zap = zap_stop(c.zap);
        zcert_destroy(&c.cert);
        c.store = store_close(c.store);
        conf_free_values(options, ELEMENTSOF(options), &c.cfg);
        daemon_args_done(&args);
        return r;
}
