/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics registry and its text rendering. Series are few per family (label values come
 * from small fixed sets: device types, reasons, message kinds), so a family keeps them in an
 * array searched linearly, in the order they first appeared, with a hard cap. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/metrics.h"
#include "common/strv.h"
#include "common/timeutil.h"

typedef struct Series {
        char **values;     /* label values, n_labels of them */
        double value;      /* counter, gauge */
        uint64_t *buckets; /* histogram: n_bounds + 1 counts, not cumulative; the last is +Inf */
        double sum;
        uint64_t count;
} Series;

struct Metric {
        char *name, *help;
        MetricType type;
        char **labels;
        size_t n_labels;
        double *bounds;
        size_t n_bounds;
        Series *series;
        size_t n_series;
};

struct Metrics {
        Metric **families;
        size_t n;
        /* metrics_new_daemon(): brought up to date at each render */
        Metric *uptime;
        uint64_t start_usec;
        MetricsRefreshFn refresh;
        void *userdata;
};

static const char *const type_names[_METRIC_TYPE_MAX] = {
        [METRIC_COUNTER] = "counter",
        [METRIC_GAUGE] = "gauge",
        [METRIC_HISTOGRAM] = "histogram",
};

static void series_done(Series *s, size_t n_labels) {
        for (size_t i = 0; i < n_labels; i++)
                free(s->values[i]);
        free(s->values);
        free(s->buckets);
}

static Metric *family_free(Metric *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_series; i++)
                series_done(&f->series[i], f->n_labels);
        free(f->series);
        strv_free(f->labels);
        free(f->bounds);
        free(f->name);
        free(f->help);
        free(f);
        return NULL;
}

int metrics_new(Metrics **ret) {
        Metrics *m = calloc(1, sizeof(Metrics));

        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                family_free(m->families[i]);
        free(m->families);
        free(m);
        return NULL;
}

void metrics_freep(Metrics **m) {
        metrics_free(*m);
}

static bool valid_name(const char *s, bool colons) {
        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                          (colons && c == ':') || (p != s && c >= '0' && c <= '9');
                if (!ok)
                        return false;
        }
        return true;
}

static int series_new(Metric *f, char **values, Series **ret) {
        Series *n, *s;

        if (f->n_series >= METRICS_MAX_SERIES)
                return -E2BIG;
        n = realloc(f->series, (f->n_series + 1) * sizeof(Series));
        if (!n)
                return -ENOMEM;
        f->series = n;
        s = &f->series[f->n_series];
        *s = (Series){.values = values};
        if (f->type == METRIC_HISTOGRAM) {
                s->buckets = calloc(f->n_bounds + 1, sizeof(uint64_t));
                if (!s->buckets)
                        return -ENOMEM;
        }
        f->n_series++;
        *ret = s;
        return 0;
}

int metrics_add(Metrics *m, const char *name, MetricType type, const char *help, const char *const *labels,
                const double *buckets, size_t n_buckets, Metric **ret) {
        Metric *f = NULL, **a;
        size_t n_labels = 0;
        int r;

        if (!m || type >= _METRIC_TYPE_MAX || !valid_name(name, true))
                return -EINVAL;
        for (const char *const *l = labels; l && *l; l++, n_labels++)
                if (!valid_name(*l, false) || startswith(*l, "__") ||
                    (type == METRIC_HISTOGRAM && streq(*l, "le")))
                        return -EINVAL;
        if (n_labels > METRICS_MAX_LABELS)
                return -EINVAL;
        if (type == METRIC_HISTOGRAM) {
                if (n_buckets == 0 || n_buckets > METRICS_MAX_BUCKETS)
                        return -EINVAL;
                for (size_t i = 0; i < n_buckets; i++)
                        if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
                                return -EINVAL;
        } else if (n_buckets > 0)
                return -EINVAL;
        for (size_t i = 0; i < m->n; i++)
                if (streq(m->families[i]->name, name))
                        return -EEXIST;

        f = calloc(1, sizeof(Metric));
        if (!f)
                return -ENOMEM;
        f->type = type;
        f->n_labels = n_labels;
        f->name = strdup(name);
        f->help = strdup(strempty(help));
        f->labels = strv_copy((char *const *) labels);
        if (!f->name || !f->help || (n_labels > 0 && !f->labels))
                goto nomem;
        if (type == METRIC_HISTOGRAM) {
                f->bounds = malloc(n_buckets * sizeof(double));
                if (!f->bounds)
                        goto nomem;
                memcpy(f->bounds, buckets, n_buckets * sizeof(double));
                f->n_bounds = n_buckets;
        }
        if (n_labels == 0) {
                Series *s;
                r = series_new(f, NULL, &s);
                if (r < 0) {
                        family_free(f);
                        return r;
                }
        }
        a = realloc(m->families, (m->n + 1) * sizeof(Metric *));
        if (!a)
                goto nomem;
        m->families = a;
        m->families[m->n++] = f;
        if (ret)
                *ret = f;
        return 0;
nomem:
        family_free(f);
        return -ENOMEM;
}

/* Prometheus reads label values as UTF-8; a value that is not would break the whole scrape. */
static bool valid_utf8(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                size_t n;
                uint32_t cp;

                if (*p < 0x80) {
                        p++;
                        continue;
                }
                if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        cp = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        cp = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        cp = *p & 0x07;
                } else
                        return false;
                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                /* overlong forms, surrogates, beyond Unicode */
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                p += n + 1;
        }
        return true;
}

/* The series for these label values, created on first use. */
static int series_get(Metric *f, const char *const *values, Series **ret) {
        char **copy = NULL;
        size_t n = 0;
        int r;

        for (const char *const *v = values; v && *v; v++, n++)
                if (n >= f->n_labels)
                        return -EINVAL;
        if (n != f->n_labels)
                return -EINVAL;
        for (size_t i = 0; i < f->n_series; i++) {
                bool same = true;
                for (size_t k = 0; k < n && same; k++)
                        same = streq(f->series[i].values[k], values[k]);
                if (same) {
                        *ret = &f->series[i];
                        return 0;
                }
        }
        for (size_t k = 0; k < n; k++) {
                if (strlen(values[k]) > METRICS_MAX_LABEL_VALUE)
                        return -E2BIG;
                if (!valid_utf8(values[k]))
                        return -EINVAL;
        }
        copy = strv_copy((char *const *) values);
        if (!copy)
                return -ENOMEM;
        r = series_new(f, copy, ret);
        if (r < 0)
                strv_free(copy);
        return r;
}

/* Adds v to the series, or sets it to v. */
static int series_update(Metric *f, const char *const *values, double v, bool add) {
        Series *s;
        int r;

        if (!f)
                return 0;
        if (f->type == METRIC_HISTOGRAM || isnan(v) || (f->type == METRIC_COUNTER && v < 0))
                return -EINVAL;
        r = series_get(f, values, &s);
        if (r < 0)
                return r;
        s->value = add ? s->value + v : v;
        return 0;
}

int metric_add(Metric *f, const char *const *values, double v) {
        return series_update(f, values, v, true);
}

int metric_set(Metric *f, const char *const *values, double v) {
        return series_update(f, values, v, false);
}

int metric_observe(Metric *f, const char *const *values, double v) {
        Series *s;
        size_t b = 0;
        int r;

        if (!f)
                return 0;
        if (f->type != METRIC_HISTOGRAM || isnan(v))
                return -EINVAL;
        r = series_get(f, values, &s);
        if (r < 0)
                return r;
        while (b < f->n_bounds && v > f->bounds[b])
                b++;
        s->buckets[b]++;
        s->sum += v;
        s->count++;
        return 0;
}

void metric_reset(Metric *f) {
        if (!f)
                return;
        if (f->n_labels == 0) {
                Series *s = &f->series[0];
                s->value = s->sum = 0;
                s->count = 0;
                if (s->buckets)
                        memset(s->buckets, 0, (f->n_bounds + 1) * sizeof(uint64_t));
                return;
        }
        for (size_t i = 0; i < f->n_series; i++)
                series_done(&f->series[i], f->n_labels);
        f->series = mfree(f->series);
        f->n_series = 0;
}

void metrics_format_value(double v, char *buf, size_t size) {
        if (isnan(v)) {
                snprintf(buf, size, "NaN");
                return;
        }
        if (isinf(v)) {
                snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        if (v == 0) {
                snprintf(buf, size, "0"); /* and not "-0" */
                return;
        }
        if (v == trunc(v) && fabs(v) < 1e15) {
                snprintf(buf, size, "%.0f", v);
                return;
        }
        for (int digits = 15; digits <= 17; digits++) {
                snprintf(buf, size, "%.*g", digits, v);
                if (strtod(buf, NULL) == v)
                        return;
        }
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static void write_escaped(FILE *f, const char *s, bool quote) {
        for (; *s; s++)
                switch (*s) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '"':
                        fputs(quote ? "\\\"" : "\"", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

/* name{a="x",b="y"[,le="..."]} value */
static void write_sample(FILE *out, const Metric *f, const Series *s, const char *suffix, const char *le,
                         double v) {
        char buf[64];

        fputs(f->name, out);
        fputs(suffix, out);
        if (f->n_labels > 0 || le) {
                fputc('{', out);
                for (size_t i = 0; i < f->n_labels; i++) {
                        fprintf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
                        write_escaped(out, s->values[i], true);
                        fputc('"', out);
                }
                if (le)
                        fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
                fputc('}', out);
        }
        metrics_format_value(v, buf, sizeof buf);
        fprintf(out, " %s\n", buf);
}

int metrics_render_cb(void *userdata, char **ret, size_t *ret_size) {
        return metrics_render(userdata, ret, ret_size);
}

int metrics_render(const Metrics *m, char **ret, size_t *ret_size) {
        char *text = NULL;
        size_t size = 0;
        FILE *out;

        if (m->uptime)
                (void) metric_set(m->uptime, NULL, (double) (now_usec() - m->start_usec) / 1e6);
        if (m->refresh)
                m->refresh(m->userdata);
        out = open_memstream(&text, &size);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++) {
                const Metric *f = m->families[i];

                fprintf(out, "# HELP %s ", f->name);
                write_escaped(out, f->help, false);
                fprintf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
                for (size_t k = 0; k < f->n_series; k++) {
                        const Series *s = &f->series[k];
                        uint64_t cumulative = 0;
                        char le[64];

                        if (f->type != METRIC_HISTOGRAM) {
                                write_sample(out, f, s, "", NULL, s->value);
                                continue;
                        }
                        for (size_t b = 0; b <= f->n_bounds; b++) {
                                cumulative += s->buckets[b];
                                if (b < f->n_bounds)
                                        metrics_format_value(f->bounds[b], le, sizeof le);
                                else
                                        snprintf(le, sizeof le, "+Inf");
                                write_sample(out, f, s, "_bucket", le, (double) cumulative);
                        }
                        write_sample(out, f, s, "_sum", NULL, s->sum);
                        write_sample(out, f, s, "_count", NULL, (double) s->count);
                }
        }
        if (fclose(out) != 0 || !text) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* The families every daemon has, named after it; help is before + program + after. */
enum { DAEMON_BUILD_INFO, DAEMON_START_TIME, DAEMON_UPTIME, _DAEMON_FAMILIES_MAX };
static const struct {
        const char *suffix, *before, *after;
        const char *const *labels;
} daemon_families[_DAEMON_FAMILIES_MAX] = {
        [DAEMON_BUILD_INFO] = { "build_info", "", "'s version; always 1", METRIC_LABELS("version") },
        [DAEMON_START_TIME] = { "start_time_seconds", "when ", " started, Unix time", NULL },
        [DAEMON_UPTIME] = { "uptime_seconds", "seconds since ", " started", NULL },
};

int metrics_new_daemon(const char *program, const MetricDef *defs, size_t n_defs, void *families,
                       MetricsRefreshFn refresh, Metrics **ret) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *prefix = strdup(program);
        Metric *own[_DAEMON_FAMILIES_MAX];
        int r;

        if (!prefix)
                return -ENOMEM;
        for (char *p = prefix; *p; p++)
                if (*p == '-')
                        *p = '_';
        r = metrics_new(&m);
        if (r < 0)
                return r;
        m->start_usec = now_usec();
        for (size_t i = 0; i < _DAEMON_FAMILIES_MAX; i++) {
                _cleanup_free_ char *name = NULL, *help = NULL;
                const char *before = daemon_families[i].before, *after = daemon_families[i].after;

                if (asprintf(&name, "%s_%s", prefix, daemon_families[i].suffix) < 0 ||
                    asprintf(&help, "%s%s%s", before, program, after) < 0)
                        return -ENOMEM;
                r = metrics_add(m, name, METRIC_GAUGE, help, daemon_families[i].labels, NULL, 0, &own[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n_defs; i++) {
                const MetricDef *d = &defs[i];

                r = metrics_add(m, d->name, d->type, d->help, d->labels, d->buckets, d->n_buckets,
                                (Metric **) ((uint8_t *) families + d->offset));
                if (r < 0)
                        return r;
        }
        (void) metric_set(own[DAEMON_BUILD_INFO], METRIC_LABELS(PACKAGE_VERSION), 1);
        (void) metric_set(own[DAEMON_START_TIME], NULL, (double) now_realtime_usec() / 1e6);
        m->uptime = own[DAEMON_UPTIME];
        m->refresh = refresh;
        m->userdata = families;
        *ret = TAKE_PTR(m);
        return 0;
}
