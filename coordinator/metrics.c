/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The coordinator's metric families and the HTTP endpoint that serves them. Drops are not
 * counted twice: ingest.c keeps its per-reason counters (they also pace its log lines), and a
 * scrape copies them. Device counts come from the store with one GROUP BY over an index (11 ms
 * for 240,000 devices here), so they are what `castlectl cluster devices` would list. */
#include <time.h>

#include "common/httpd-loop.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "coordinator/metrics.h"

struct CoordinatorMetrics {
        Coordinator *c;
        Metrics *reg;
        HttpdLoop server;
        uint64_t start_usec;
        Metric *build_info, *start_time, *uptime;
        Metric *nodes, *devices;
        Metric *received, *dropped, *applied;
        Metric *queries, *watchers;
        Metric *store_duration;
        Metric *jobs, *jobs_pending;
};

static const double store_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

/* The oneof field's own name in castle.proto: "hello", "job_update", "osd_create". */
static const char *field_name(const ProtobufCMessageDescriptor *d, int number, const char *fallback) {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, (unsigned) number);
        return f ? f->name : fallback;
}

int coordinator_metrics_new(Coordinator *c, CoordinatorMetrics **ret) {
        _cleanup_(metrics_freep) Metrics *reg = NULL;
        CoordinatorMetrics *m;
        int r;

        r = metrics_new(&reg);
        if (r < 0)
                return r;
        m = calloc(1, sizeof(CoordinatorMetrics));
        if (!m)
                return -ENOMEM;
        *m = (CoordinatorMetrics){.c = c, .server.timer = -1, .start_usec = now_usec()};
#define ADD(var, name, type, help, labels, buckets, n)                                       \
        do {                                                                                 \
                if (r >= 0)                                                                  \
                        r = metrics_add(reg, name, type, help, labels, buckets, n, &m->var); \
        } while (0)
        ADD(build_info, "castle_coordinator_build_info", METRIC_GAUGE,
            "castle-coordinator's version; always 1", METRIC_LABELS("version"), NULL, 0);
        ADD(start_time, "castle_coordinator_start_time_seconds", METRIC_GAUGE,
            "when castle-coordinator started, Unix time", NULL, NULL, 0);
        ADD(uptime, "castle_coordinator_uptime_seconds", METRIC_GAUGE,
            "seconds since castle-coordinator started", NULL, NULL, 0);
        ADD(nodes, "castle_coordinator_nodes", METRIC_GAUGE,
            "known nodes by liveness: online, stale, offline", METRIC_LABELS("state"), NULL, 0);
        ADD(devices, "castle_coordinator_devices", METRIC_GAUGE,
            "devices in the inventory (of every known node, whatever its liveness), by verdict (available "
            "yes or no)",
            METRIC_LABELS("available"), NULL, 0);
        ADD(received, "castle_coordinator_messages_received_total", METRIC_COUNTER,
            "messages from agents, by type (invalid: not a well-formed envelope)", METRIC_LABELS("type"),
            NULL, 0);
        ADD(dropped, "castle_coordinator_messages_dropped_total", METRIC_COUNTER,
            "messages dropped (agents' and query endpoints), by reason", METRIC_LABELS("reason"), NULL, 0);
        ADD(applied, "castle_coordinator_messages_applied_total", METRIC_COUNTER,
            "snapshots and deltas written to the store", NULL, NULL, 0);
        ADD(queries, "castle_coordinator_queries_total", METRIC_COUNTER,
            "requests on the query endpoint, by kind (invalid: did not decode)", METRIC_LABELS("kind"), NULL,
            0);
        ADD(watchers, "castle_coordinator_watchers", METRIC_GAUGE, "watch clients subscribed", NULL, NULL,
            0);
        ADD(store_duration, "castle_coordinator_store_transaction_duration_seconds", METRIC_HISTOGRAM,
            "how long a store transaction took, by operation (snapshot, delta, node_seen)",
            METRIC_LABELS("op"), store_buckets, ELEMENTSOF(store_buckets));
        ADD(jobs, "castle_coordinator_jobs_total", METRIC_COUNTER,
            "commands to agents that ended, by kind and result (done, failed, refused, node_lost)",
            METRIC_LABELS("kind", "result"), NULL, 0);
        ADD(jobs_pending, "castle_coordinator_jobs_pending", METRIC_GAUGE,
            "commands sent to agents and waiting for their result", NULL, NULL, 0);
#undef ADD
        if (r < 0) {
                free(m);
                return r;
        }
        {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                (void) metric_set(m->start_time, NULL, (double) ts.tv_sec + (double) ts.tv_nsec / 1e9);
        }
        (void) metric_set(m->build_info, METRIC_LABELS(PACKAGE_VERSION), 1);
        for (const char *const *t =
                     METRIC_LABELS("hello", "snapshot", "delta", "heartbeat", "job_update", "invalid");
             *t; t++)
                (void) metric_add(m->received, METRIC_LABELS(*t), 0);
        for (const char *const *k = METRIC_LABELS("nodes", "devices", "watch", "command", "invalid"); *k;
             k++)
                (void) metric_add(m->queries, METRIC_LABELS(*k), 0);
        for (const char *const *res = METRIC_LABELS("done", "failed", "refused", "node_lost"); *res; res++)
                (void) metric_add(m->jobs, METRIC_LABELS("osd_create", *res), 0);
        m->reg = TAKE_PTR(reg);
        *ret = m;
        return 0;
}

CoordinatorMetrics *coordinator_metrics_free(CoordinatorMetrics *m) {
        if (!m)
                return NULL;
        httpd_loop_done(&m->server);
        metrics_free(m->reg);
        free(m);
        return NULL;
}

int coordinator_metrics_render(CoordinatorMetrics *m, char **ret, size_t *ret_size) {
        Coordinator *c = m->c;
        uint64_t nodes[_NODE_STATE_MAX] = {}, available = 0, unavailable = 0;
        int r;

        (void) metric_set(m->uptime, NULL, (double) (now_usec() - m->start_usec) / 1e6);
        if (c->nodes)
                for (NodeRuntime *n = zhashx_first(c->nodes); n; n = zhashx_next(c->nodes))
                        if (n->state < _NODE_STATE_MAX)
                                nodes[n->state]++;
        for (int s = 0; s < _NODE_STATE_MAX; s++)
                (void) metric_set(m->nodes, METRIC_LABELS(node_state_to_string(s)), (double) nodes[s]);

        /* A store that cannot answer leaves the series out rather than reporting 0 devices. */
        metric_reset(m->devices);
        r = c->store ? store_count_devices(c->store, &available, &unavailable) : -ENXIO;
        if (r < 0)
                log_debug_errno(r, "Metrics: the store could not count devices: %m");
        else {
                (void) metric_set(m->devices, METRIC_LABELS("yes"), (double) available);
                (void) metric_set(m->devices, METRIC_LABELS("no"), (double) unavailable);
        }

        for (int d = 0; d < _DROP_MAX; d++)
                (void) metric_set(m->dropped, METRIC_LABELS(drop_reason_to_string(d)),
                                  (double) c->dropped[d]);
        (void) metric_set(m->applied, NULL, (double) c->applied);
        (void) metric_set(m->watchers, NULL, c->watchers ? (double) zlistx_size(c->watchers) : 0);
        (void) metric_set(m->jobs_pending, NULL, c->jobs ? (double) zlistx_size(c->jobs) : 0);
        return metrics_render(m->reg, ret, ret_size);
}

static int on_render(void *userdata, char **ret, size_t *ret_size) {
        return coordinator_metrics_render(userdata, ret, ret_size);
}

int coordinator_metrics_listen(CoordinatorMetrics *m, const char *listen) {
        return httpd_loop_listen(&m->server, m->c->loop, listen, "/metrics", METRICS_CONTENT_TYPE, on_render,
                                 m);
}

const char *coordinator_metrics_address(const CoordinatorMetrics *m) {
        return httpd_loop_address(&m->server);
}

void coordinator_metrics_received(CoordinatorMetrics *m, Castle__Envelope__BodyCase body, bool invalid) {
        if (m)
                (void) metric_inc(m->received,
                                  METRIC_LABELS(invalid ? "invalid"
                                                        : field_name(&castle__envelope__descriptor,
                                                                     (int) body, "other")));
}

void coordinator_metrics_query(CoordinatorMetrics *m, Castle__QueryRequest__KindCase kind, bool invalid) {
        if (m)
                (void) metric_inc(m->queries,
                                  METRIC_LABELS(invalid ? "invalid"
                                                        : field_name(&castle__query_request__descriptor,
                                                                     (int) kind, "other")));
}

void coordinator_metrics_store(CoordinatorMetrics *m, const char *op, uint64_t usec) {
        if (m)
                (void) metric_observe(m->store_duration, METRIC_LABELS(op), (double) usec / 1e6);
}

void coordinator_metrics_job(CoordinatorMetrics *m, Castle__Command__KindCase kind, const char *result) {
        if (m)
                (void) metric_inc(
                        m->jobs, METRIC_LABELS(field_name(&castle__command__descriptor, (int) kind, "other"),
                                               result));
}
