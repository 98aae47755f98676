/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics registry and the Prometheus text format 0.0.4 it writes: # HELP and # TYPE
 * lines, escaping in help texts and label values, cumulative histogram buckets with _sum and
 * _count, value formatting, and every refusal (bad names, label mismatches, caps); a daemon's
 * registry with its three own families and a table of the rest. */
#include "tests/unit/testutil.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

static void test_render_exact(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *text = NULL;
        Metric *requests, *temp, *latency, *size;
        size_t n = 0;

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_add(m, "t_requests_total", METRIC_COUNTER, "requests\\served\nby \"path\"",
                                     METRIC_LABELS("path", "code"), NULL, 0, &requests),
                         0);
        assert_int_equal(metrics_add(m, "t_temp", METRIC_GAUGE, "a gauge", NULL, NULL, 0, &temp), 0);
        assert_int_equal(metrics_add(m, "t_latency_seconds", METRIC_HISTOGRAM, "latency", NULL,
                                     (const double[]){0.1, 1, 10}, 3, &latency),
                         0);
        assert_int_equal(metrics_add(m, "t_size_bytes", METRIC_HISTOGRAM, "sizes", METRIC_LABELS("dev"),
                                     (const double[]){1024}, 1, &size),
                         0);
        assert_int_equal(
                metrics_add(m, "t_empty", METRIC_GAUGE, "no series yet", METRIC_LABELS("x"), NULL, 0, NULL),
                0);

        assert_int_equal(metric_inc(requests, METRIC_LABELS("/a\"b\\c\nd", "200")), 0);
        assert_int_equal(metric_add(requests, METRIC_LABELS("/", "500"), 2), 0);
        assert_int_equal(metric_set(temp, NULL, -1.5), 0);
        /* a value on a bound belongs to that bucket (le = "less than or equal") */
        for (const double *v = (const double[]){0.05, 0.1, 5, 100, NAN}; !isnan(*v); v++)
                assert_int_equal(metric_observe(latency, NULL, *v), 0);
        assert_int_equal(metric_observe(size, METRIC_LABELS("a"), 10), 0);
        assert_int_equal(metric_observe(size, METRIC_LABELS("a"), 2048), 0);

        assert_int_equal(metrics_render(m, &text, &n), 0);
        assert_int_equal(n, strlen(text));
        assert_string_equal(text, "# HELP t_requests_total requests\\\\served\\nby \"path\"\n"
                                  "# TYPE t_requests_total counter\n"
                                  "t_requests_total{path=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 1\n"
                                  "t_requests_total{path=\"/\",code=\"500\"} 2\n"
                                  "# HELP t_temp a gauge\n"
                                  "# TYPE t_temp gauge\n"
                                  "t_temp -1.5\n"
                                  "# HELP t_latency_seconds latency\n"
                                  "# TYPE t_latency_seconds histogram\n"
                                  "t_latency_seconds_bucket{le=\"0.1\"} 2\n"
                                  "t_latency_seconds_bucket{le=\"1\"} 2\n"
                                  "t_latency_seconds_bucket{le=\"10\"} 3\n"
                                  "t_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                                  "t_latency_seconds_sum 105.15\n"
                                  "t_latency_seconds_count 4\n"
                                  "# HELP t_size_bytes sizes\n"
                                  "# TYPE t_size_bytes histogram\n"
                                  "t_size_bytes_bucket{dev=\"a\",le=\"1024\"} 1\n"
                                  "t_size_bytes_bucket{dev=\"a\",le=\"+Inf\"} 2\n"
                                  "t_size_bytes_sum{dev=\"a\"} 2058\n"
                                  "t_size_bytes_count{dev=\"a\"} 2\n"
                                  "# HELP t_empty no series yet\n"
                                  "# TYPE t_empty gauge\n");
}

static void test_unlabelled_starts_at_zero_and_reset(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        Metric *total, *hist, *by;

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_add(m, "x_total", METRIC_COUNTER, "x", NULL, NULL, 0, &total), 0);
        assert_int_equal(metrics_add(m, "h", METRIC_HISTOGRAM, "h", NULL, (const double[]){1}, 1, &hist), 0);
        assert_int_equal(metrics_add(m, "by", METRIC_GAUGE, "by", METRIC_LABELS("k"), NULL, 0, &by), 0);
        assert_int_equal(metrics_render(m, &a, NULL), 0);
        assert_string_equal(a,
                            "# HELP x_total x\n# TYPE x_total counter\nx_total 0\n"
                            "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\n"
                            "h_sum 0\nh_count 0\n"
                            "# HELP by by\n# TYPE by gauge\n");

        assert_int_equal(metric_inc(total, NULL), 0);
        assert_int_equal(metric_observe(hist, NULL, 3), 0);
        assert_int_equal(metric_set(by, METRIC_LABELS("one"), 1), 0);
        assert_int_equal(metric_set(by, METRIC_LABELS("two"), 2), 0);
        assert_int_equal(metric_set(by, METRIC_LABELS("one"), 7), 0); /* the same series again */
        assert_int_equal(metrics_render(m, &b, NULL), 0);
        assert_non_null(strstr(b, "\nx_total 1\n"));
        assert_non_null(strstr(b, "\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n"));
        assert_non_null(strstr(b, "\nby{k=\"one\"} 7\nby{k=\"two\"} 2\n"));

        /* Gauges recounted at each scrape: a series that is gone must not linger. */
        metric_reset(by);
        metric_reset(total);
        metric_reset(hist);
        assert_int_equal(metric_set(by, METRIC_LABELS("two"), 5), 0);
        assert_int_equal(metrics_render(m, &c, NULL), 0);
        assert_null(strstr(c, "one"));
        assert_non_null(strstr(c, "\nby{k=\"two\"} 5\n"));
        assert_non_null(strstr(c, "\nx_total 0\n"));
        assert_non_null(strstr(c, "\nh_count 0\n"));
}

static void test_refusals(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        Metric *c, *g, *h;
        char big[METRICS_MAX_LABEL_VALUE + 2];

        assert_int_equal(metrics_new(&m), 0);
        /* names */
        assert_int_equal(metrics_add(m, "", METRIC_GAUGE, "", NULL, NULL, 0, NULL), -EINVAL);
        assert_int_equal(metrics_add(m, "1abc", METRIC_GAUGE, "", NULL, NULL, 0, NULL), -EINVAL);
        assert_int_equal(metrics_add(m, "a-b", METRIC_GAUGE, "", NULL, NULL, 0, NULL), -EINVAL);
        assert_int_equal(metrics_add(m, "ns:sub_total", METRIC_COUNTER, "", NULL, NULL, 0, NULL), 0);
        assert_int_equal(metrics_add(m, "ns:sub_total", METRIC_COUNTER, "", NULL, NULL, 0, NULL), -EEXIST);
        assert_int_equal(metrics_add(m, "l", METRIC_GAUGE, "", METRIC_LABELS("a:b"), NULL, 0, NULL),
                         -EINVAL);
        assert_int_equal(metrics_add(m, "l", METRIC_GAUGE, "", METRIC_LABELS("__reserved"), NULL, 0, NULL),
                         -EINVAL);
        assert_int_equal(metrics_add(m, "l", METRIC_GAUGE, "", METRIC_LABELS("9"), NULL, 0, NULL), -EINVAL);
        assert_int_equal(
                metrics_add(m, "h", METRIC_HISTOGRAM, "", METRIC_LABELS("le"), (const double[]){1}, 1, NULL),
                -EINVAL);
        /* buckets */
        assert_int_equal(metrics_add(m, "h", METRIC_HISTOGRAM, "", NULL, NULL, 0, NULL), -EINVAL);
        assert_int_equal(metrics_add(m, "h", METRIC_HISTOGRAM, "", NULL, (const double[]){1, 1}, 2, NULL),
                         -EINVAL);
        assert_int_equal(metrics_add(m, "h", METRIC_HISTOGRAM, "", NULL, (const double[]){2, 1}, 2, NULL),
                         -EINVAL);
        assert_int_equal(
                metrics_add(m, "h", METRIC_HISTOGRAM, "", NULL, (const double[]){INFINITY}, 1, NULL),
                -EINVAL);
        assert_int_equal(metrics_add(m, "g", METRIC_GAUGE, "", NULL, (const double[]){1}, 1, NULL), -EINVAL);

        assert_int_equal(metrics_add(m, "c_total", METRIC_COUNTER, "", METRIC_LABELS("a", "b"), NULL, 0, &c),
                         0);
        assert_int_equal(metrics_add(m, "g", METRIC_GAUGE, "", NULL, NULL, 0, &g), 0);
        assert_int_equal(metrics_add(m, "h", METRIC_HISTOGRAM, "", NULL, (const double[]){1}, 1, &h), 0);
        /* label values that do not match the family */
        assert_int_equal(metric_inc(c, METRIC_LABELS("only one")), -EINVAL);
        assert_int_equal(metric_inc(c, METRIC_LABELS("one", "two", "three")), -EINVAL);
        assert_int_equal(metric_inc(c, NULL), -EINVAL);
        assert_int_equal(metric_inc(g, METRIC_LABELS("x")), -EINVAL);
        assert_int_equal(metric_inc(c, METRIC_LABELS("bad \xff utf-8", "x")), -EINVAL);
        assert_int_equal(metric_inc(c, METRIC_LABELS("overlong \xc0\xaf", "x")), -EINVAL);
        assert_int_equal(metric_inc(c, METRIC_LABELS("caf\xc3\xa9 \xe2\x82\xac", "x")), 0); /* good UTF-8 */
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        assert_int_equal(metric_inc(c, METRIC_LABELS(big, "x")), -E2BIG);
        /* calls that do not fit the type */
        assert_int_equal(metric_add(c, METRIC_LABELS("a", "b"), -1), -EINVAL);
        assert_int_equal(metric_set(c, METRIC_LABELS("a", "b"), -1), -EINVAL);
        assert_int_equal(metric_add(g, NULL, -1), 0); /* gauges go down */
        assert_int_equal(metric_set(g, NULL, NAN), -EINVAL);
        assert_int_equal(metric_add(h, NULL, 1), -EINVAL);
        assert_int_equal(metric_observe(g, NULL, 1), -EINVAL);
        assert_int_equal(metric_observe(h, NULL, NAN), -EINVAL);
        /* a NULL family is a no-op */
        assert_int_equal(metric_inc(NULL, METRIC_LABELS("anything")), 0);
        assert_int_equal(metric_observe(NULL, NULL, 1), 0);
        metric_reset(NULL);
}

static void test_series_cap(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        Metric *f;
        char v[16];

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_add(m, "many", METRIC_GAUGE, "", METRIC_LABELS("k"), NULL, 0, &f), 0);
        for (int i = 0; i < METRICS_MAX_SERIES; i++) {
                snprintf(v, sizeof v, "%d", i);
                assert_int_equal(metric_set(f, METRIC_LABELS(v), i), 0);
        }
        assert_int_equal(metric_set(f, METRIC_LABELS("one more"), 1), -E2BIG);
        assert_int_equal(metric_set(f, METRIC_LABELS("7"), 1), 0); /* existing series still work */
}

static void test_format_value(void **state) {
        static const struct {
                double v;
                const char *text;
        } cases[] = {
                {0, "0"},
                {-0.0, "0"},
                {1, "1"},
                {-3, "-3"},
                {0.1, "0.1"},
                {2.75, "2.75"},
                {1e20, "1e+20"},
                {1.5e-7, "1.5e-07"},
                {9007199254740992.0, "9007199254740992"},
                {123456789012345, "123456789012345"},
                {1.0 / 3, "0.3333333333333333"},
        };
        char buf[64];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                metrics_format_value(cases[i].v, buf, sizeof buf);
                assert_string_equal(buf, cases[i].text);
                assert_true(strtod(buf, NULL) == cases[i].v);
        }
        metrics_format_value(INFINITY, buf, sizeof buf);
        assert_string_equal(buf, "+Inf");
        metrics_format_value(-INFINITY, buf, sizeof buf);
        assert_string_equal(buf, "-Inf");
        metrics_format_value(NAN, buf, sizeof buf);
        assert_string_equal(buf, "NaN");
}

typedef struct Daemon {
        Metric *requests, *queue;
        unsigned refreshed;
} Daemon;

static void refresh(void *userdata) {
        Daemon *d = userdata;

        d->refreshed++;
        (void) metric_set(d->queue, NULL, 5);
}

static void test_daemon(void **state) {
        const MetricDef defs[] = {
                { offsetof(Daemon, requests), "castle_test_requests_total", METRIC_COUNTER, "requests",
                  METRIC_LABELS("kind"), NULL, 0 },
                { offsetof(Daemon, queue), "castle_test_queue", METRIC_GAUGE, "queued", NULL, NULL, 0 },
        };
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *text = NULL;
        Daemon d = {};
        const char *p;

        assert_int_equal(metrics_new_daemon("castle-test", defs, ELEMENTSOF(defs), &d, refresh, &m), 0);
        assert_non_null(d.requests);
        assert_non_null(d.queue);
        assert_int_equal(metric_inc(d.requests, METRIC_LABELS("a")), 0);
        assert_int_equal(metrics_render_cb(m, &text, NULL), 0);
        assert_int_equal(d.refreshed, 1);

        /* The three families every daemon has come first, named after it, then the table's. */
        p = strstr(text, "# HELP castle_test_build_info castle-test's version; always 1\n"
                         "# TYPE castle_test_build_info gauge\n"
                         "castle_test_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"
                         "# HELP castle_test_start_time_seconds when castle-test started, Unix time\n");
        assert_ptr_equal(p, text);
        assert_non_null(
                strstr(text, "# HELP castle_test_uptime_seconds seconds since castle-test started\n"));
        assert_true(strstr(text, "castle_test_uptime_seconds") < strstr(text, "castle_test_requests_total"));
        assert_non_null(strstr(text, "castle_test_requests_total{kind=\"a\"} 1\n"));
        assert_non_null(strstr(text, "castle_test_queue 5\n")); /* set by refresh */

        /* A table row that does not fit is refused, and nothing is handed out. */
        {
                const MetricDef bad[] = {
                        { offsetof(Daemon, queue), "castle_test_build_info", METRIC_GAUGE, "again", NULL,
                          NULL, 0 },
                };
                Metrics *none = NULL;

                assert_int_equal(metrics_new_daemon("castle-test", bad, ELEMENTSOF(bad), &d, NULL, &none),
                                 -EEXIST);
                assert_null(none);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render_exact),
                cmocka_unit_test(test_unlabelled_starts_at_zero_and_reset),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_series_cap),
                cmocka_unit_test(test_format_value),
                cmocka_unit_test(test_daemon),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
