/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A daemon's metrics endpoint: its registry (metrics_new_daemon()) and the HTTP server that
 * serves it at /metrics from the daemon's zloop. What castle-agent and castle-coordinator
 * share of their metrics objects; each adds its own families and counting functions.
 * Header-only, like common/httpd-loop.h, so that libcommon does not depend on CZMQ. */
#pragma once

#include "common/httpd-loop.h"
#include "common/metrics.h"

typedef struct MetricsEndpoint {
        Metrics *reg;
        HttpdLoop server;
} MetricsEndpoint;

/* See metrics_new_daemon(); nothing is served until metrics_endpoint_listen(). */
static inline int metrics_endpoint_init(MetricsEndpoint *e, const char *program, const MetricDef *defs,
                                        size_t n_defs, void *families, MetricsRefreshFn refresh) {
        *e = (MetricsEndpoint){ .server.timer = -1 };
        return metrics_new_daemon(program, defs, n_defs, families, refresh, &e->reg);
}

/* Stops serving (before the loop it is registered with goes) and frees the registry. */
static inline void metrics_endpoint_done(MetricsEndpoint *e) {
        httpd_loop_done(&e->server);
        e->reg = metrics_free(e->reg);
}

/* Serves /metrics on listen (see netaddr_parse_listen()) through loop; "" stops serving. The
 * address already served is kept as it is (a reload that did not change it). */
static inline int metrics_endpoint_listen(MetricsEndpoint *e, zloop_t *loop, const char *listen) {
        return httpd_loop_listen(&e->server, loop, listen, "/metrics", METRICS_CONTENT_TYPE,
                                 metrics_render_cb, e->reg);
}

/* Where it listens ("" when off). */
static inline const char *metrics_endpoint_address(const MetricsEndpoint *e) {
        return httpd_loop_address(&e->server);
}
