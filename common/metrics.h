/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Metrics for Prometheus: a registry of counter, gauge and histogram families with labels,
 * rendered in the text exposition format 0.0.4 (# HELP and # TYPE lines, escaped label values,
 * cumulative histogram buckets with _sum and _count).
 *
 * Threads: none here, and no lock. A daemon's registry belongs to its event-loop thread,
 * which updates it and also renders it: the HTTP adapter (common/httpd.h) runs on that same
 * loop, so a scrape reads one consistent moment and never races an update. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef enum MetricType {
        METRIC_COUNTER, /* only goes up (metric_set() mirrors a counter kept elsewhere) */
        METRIC_GAUGE,
        METRIC_HISTOGRAM, /* observations in buckets: _bucket{le=...}, _sum, _count */
        _METRIC_TYPE_MAX,
} MetricType;

typedef struct Metrics Metrics;
typedef struct Metric Metric; /* one family: a name, a type, label names, its series */

#define METRICS_MAX_LABELS      8
#define METRICS_MAX_BUCKETS     32
#define METRICS_MAX_SERIES      1024 /* per family: a label value that explodes is refused */
#define METRICS_MAX_LABEL_VALUE 1024 /* bytes */

/* Label values, NULL-terminated, in the order of the family's label names:
 * metric_inc(m, METRIC_LABELS("loop", "yes")). A family without labels takes NULL. */
#define METRIC_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

int metrics_new(Metrics **ret);
Metrics *metrics_free(Metrics *m);
void metrics_freep(Metrics **m);

/* Adds a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*; labels: NULL-terminated (or NULL) names
 * matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", and "le" not on a histogram;
 * buckets: for histograms only, strictly increasing finite upper bounds (+Inf is implied).
 * -EINVAL for a bad name or bounds, -EEXIST for a name already there. A family without
 * labels has its one series from the start, so it shows 0 before anything happens.
 * ret may be NULL; the registry owns the family. */
int metrics_add(Metrics *m, const char *name, MetricType type, const char *help, const char *const *labels,
                const double *buckets, size_t n_buckets, Metric **ret);

/* All of these take f == NULL as a no-op returning 0, so that code counting into a registry
 * that a test did not set up needs no checks. They return -EINVAL for label values that do
 * not match the family (count, NULL, not UTF-8), for a call that does not fit the type, or a
 * NaN; -E2BIG for a label value longer than METRICS_MAX_LABEL_VALUE or one series more than
 * METRICS_MAX_SERIES; -ENOMEM. */
/* Counter or gauge: value += v (v >= 0 for counters). */
int metric_add(Metric *f, const char *const *values, double v);
static inline int metric_inc(Metric *f, const char *const *values)
{
        return metric_add(f, values, 1);
}
/* Gauge, or a counter whose value lives elsewhere (v >= 0). */
int metric_set(Metric *f, const char *const *values, double v);
/* Histogram: counts v in the first bucket whose bound is >= v. */
int metric_observe(Metric *f, const char *const *values, double v);
/* Drops every series of a labelled family (gauges recounted at each scrape); a family
 * without labels goes back to 0. */
void metric_reset(Metric *f);

/* The whole registry as text/plain; version=0.0.4, in the order the families were added.
 * *ret is NUL-terminated, to free. */
int metrics_render(const Metrics *m, char **ret, size_t *ret_size);
/* metrics_render() in the shape of an HttpdRenderFn (common/httpd.h): userdata is the Metrics. */
int metrics_render_cb(void *userdata, char **ret, size_t *ret_size);

/* A sample value as the format writes it: integers plainly, others with the fewest digits
 * that read back as the same double; "+Inf", "-Inf", "NaN". */
void metrics_format_value(double v, char *buf, size_t size);

/* One row of a daemon's table of families, for metrics_new_daemon(). */
typedef struct MetricDef {
        size_t offset; /* where the family's Metric * goes, in the daemon's struct */
        const char *name;
        MetricType type;
        const char *help;
        const char *const *labels;
        const double *buckets;
        size_t n_buckets;
} MetricDef;

/* Called by each metrics_render() of a daemon's registry before it writes anything, so that
 * gauges read from the daemon's state are recounted; userdata is metrics_new_daemon()'s
 * families. */
typedef void (*MetricsRefreshFn)(void *userdata);

/* A daemon's registry. program ("castle-agent") names the three families it starts with:
 * castle_agent_build_info{version} (always 1), castle_agent_start_time_seconds (now, Unix
 * time) and castle_agent_uptime_seconds, which each metrics_render() brings up to date. The
 * families of defs follow, in order; each one's Metric * is stored at families + offset
 * (families is the daemon's own metrics object). refresh may be NULL. */
int metrics_new_daemon(const char *program, const MetricDef *defs, size_t n_defs, void *families,
                       MetricsRefreshFn refresh, Metrics **ret);

/* Content-Type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
