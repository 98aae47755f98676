/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table-driven INI parser. Every error names the file and line and parsing goes on, so
 * that one run shows every mistake in a file. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/netaddr.h"
#include "common/regexcheck.h"
#include "common/size.h"
#include "common/strv.h"
#include "common/timeutil.h"

#define CONF_LINE_MAX 4096
#define CONF_FILE_MAX (1024 * 1024)

static void *field(const ConfOption *o, void *values) {
        return (char *) values + o->offset;
}

static const char *type_name(ConfType t) {
        static const char *const names[] = { "string", "bool",    "number", "duration", "size",
                                             "list",   "address", "choice", "regex" };
        return names[t];
}

static const struct {
        const char *suffix;
        uint64_t usec;
} duration_units[] = {
        /* Largest first: conf_format_duration() takes the first unit that divides exactly. */
        { "d", USEC_PER_DAY },
        { "h", USEC_PER_HOUR },
        { "min", USEC_PER_MINUTE },
        { "m", USEC_PER_MINUTE },
        { "s", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "ms", USEC_PER_MSEC },
        { "us", 1 },
};

/* One number of a duration: decimal digits with an optional fraction and exponent (no sign,
 * no hex, no inf or nan). -ERANGE if it overflows a double. */
static int parse_duration_number(const char **s, double *ret) {
        char *end;
        double v;

        if (!isdigit((unsigned char) **s) || ((*s)[0] == '0' && ((*s)[1] == 'x' || (*s)[1] == 'X')))
                return -EINVAL;
        errno = 0;
        v = strtod(*s, &end);
        if (end == *s)
                return -EINVAL;
        if (errno == ERANGE)
                return v == 0 ? -EINVAL : -ERANGE; /* underflow is a typo, not a duration */
        if (errno || !isfinite(v) || v < 0)
                return -EINVAL;
        *s = end;
        *ret = v;
        return 0;
}

int conf_parse_duration(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;

        if (isempty(s))
                return -EINVAL;
        while (*s) {
                size_t best = 0, best_len = 0;
                double v, usec;
                int r;

                r = parse_duration_number(&s, &v);
                if (r < 0)
                        return r;
                if (!*s)
                        usec = v * (double) USEC_PER_SEC; /* bare number: seconds */
                else {
                        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
                                size_t l = strlen(duration_units[i].suffix);
                                if (strncmp(s, duration_units[i].suffix, l) == 0 && l > best_len &&
                                    !isalpha((unsigned char) s[l])) {
                                        best = i;
                                        best_len = l;
                                }
                        }
                        if (!best_len)
                                return -EINVAL;
                        usec = v * (double) duration_units[best].usec;
                        s += best_len;
                }
                /* Compared as doubles before any conversion: a double beyond 2^64 converted to
                 * uint64_t is undefined (1e11d came out as 0, "too small"). */
                if (!(usec <= (double) CONF_DURATION_MAX))
                        return -ERANGE;
                total += (uint64_t) usec;
                if (total > CONF_DURATION_MAX)
                        return -ERANGE;
        }
        *ret_usec = total;
        return 0;
}

void conf_format_duration(uint64_t usec, char *buf, size_t len) {
        if (usec == 0) {
                snprintf(buf, len, "0");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                if (usec % duration_units[i].usec == 0) {
                        snprintf(buf, len, "%" PRIu64 "%s", usec / duration_units[i].usec, duration_units[i].suffix);
                        return;
                }
}

int conf_parse_bool(const char *s, bool *ret) {
        if (streq(s, "yes") || streq(s, "true") || streq(s, "on") || streq(s, "1"))
                *ret = true;
        else if (streq(s, "no") || streq(s, "false") || streq(s, "off") || streq(s, "0"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

/* "auto, systemd, fork or none" */
static char *choices_text(const char *const *choices) {
        _cleanup_free_ char *t = strdup("");
        size_t n = 0;

        while (choices[n])
                n++;
        for (size_t i = 0; t && i < n; i++) {
                char *u;
                if (asprintf(&u, "%s%s%s", t, i == 0 ? "" : i + 1 == n ? " or " : ", ", choices[i]) < 0)
                        return NULL;
                free(t);
                t = u;
        }
        return TAKE_PTR(t);
}

static int set_string(char **p, const char *value) {
        char *c = strdup(value);

        if (!c)
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

/* The largest value of a type, when the option sets no maximum of its own. */
static uint64_t type_max(ConfType t) {
        return t == CONF_DURATION ? CONF_DURATION_MAX : UINT64_MAX;
}

/* A bound of a number, size or duration as the file would say it. */
static void format_number(const ConfOption *o, uint64_t v, char *buf, size_t len) {
        if (o->type == CONF_DURATION)
                conf_format_duration(v, buf, len);
        else
                snprintf(buf, len, "%" PRIu64, v);
}

static int set_value(const ConfOption *o, const char *value, void *values, char **ret_error) {
        uint64_t v = 0;
        int r = 0;

        switch (o->type) {
        case CONF_STRING:
                return set_string(field(o, values), value);
        case CONF_LISTEN: {
                struct sockaddr_storage sa;
                socklen_t len;
                if (streq(value, "off"))
                        value = "";
                if (!isempty(value) && netaddr_parse_listen(value, &sa, &len) < 0)
                        return asprintf(ret_error, "'%s' is not PORT, ADDRESS:PORT or [IPV6-ADDRESS]:PORT", value) < 0
                                       ? -ENOMEM : -EINVAL;
                return set_string(field(o, values), value);
        }
        case CONF_REGEX: {
                _cleanup_free_ char *why = NULL;
                regex_t re;
                r = regex_compile(&re, value, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return asprintf(ret_error, "'%s' is not a valid regular expression: %s", value,
                                        strempty(why)) < 0 ? -ENOMEM : -EINVAL;
                regfree(&re);
                return set_string(field(o, values), value);
        }
        case CONF_ENUM: {
                _cleanup_free_ char *list = NULL;
                for (int i = 0; o->choices[i]; i++)
                        if (streq(o->choices[i], value)) {
                                *(int *) field(o, values) = i;
                                return 0;
                        }
                list = choices_text(o->choices);
                return asprintf(ret_error, "'%s' is not one of %s", value, strempty(list)) < 0 ? -ENOMEM : -EINVAL;
        }
        case CONF_BOOL:
                if (conf_parse_bool(value, field(o, values)) < 0)
                        return asprintf(ret_error, "'%s' is not yes or no", value) < 0 ? -ENOMEM : -EINVAL;
                return 0;
        case CONF_STRV: {
                _cleanup_free_ char *copy = strdup(value);
                char **l = NULL, *save = NULL, ***p = field(o, values);
                if (!copy)
                        return -ENOMEM;
                for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
                        if (strv_extend(&l, t) < 0) {
                                strv_free(l);
                                return -ENOMEM;
                        }
                strv_free(*p);
                *p = l;
                return 0;
        }
        case CONF_UINT:
                r = safe_atou64(value, &v);
                break;
        case CONF_DURATION:
                r = conf_parse_duration(value, &v);
                break;
        case CONF_SIZE:
                r = parse_size(value, &v);
                break;
        }
        if (r < 0 && r != -ERANGE)
                return asprintf(ret_error, "'%s' is not a valid %s", value, type_name(o->type)) < 0 ? -ENOMEM
                                                                                                   : -EINVAL;
        if (r == -ERANGE || v < o->min || (o->max && v > o->max)) {
                char lo[32], hi[32];

                format_number(o, o->min, lo, sizeof lo);
                format_number(o, o->max ?: type_max(o->type), hi, sizeof hi);
                if (o->max)
                        r = asprintf(ret_error, "%s is out of range (%s to %s)", value, lo, hi);
                else if (r == -ERANGE || v > type_max(o->type))
                        r = asprintf(ret_error, "%s is too large (at most %s)", value, hi);
                else
                        r = asprintf(ret_error, "%s is too small (at least %s)", value, lo);
                return r < 0 ? -ENOMEM : -ERANGE;
        }
        *(uint64_t *) field(o, values) = v;
        return 0;
}

int conf_set_defaults(const ConfOption *table, size_t n, void *values) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *err = NULL;
                int r;

                if (!table[i].def)
                        continue;
                r = set_value(&table[i], table[i].def, values, &err);
                if (r < 0)
                        return r; /* a bad default is our bug; the unit test catches it */
        }
        return 0;
}

const ConfOption *conf_find(const ConfOption *table, size_t n, const char *name) {
        const char *dot = strchr(name, '.');
        const ConfOption *found = NULL;

        for (size_t i = 0; i < n; i++) {
                if (dot) {
                        size_t l = (size_t) (dot - name);
                        if (strlen(table[i].section) == l && strncmp(table[i].section, name, l) == 0 &&
                            streq(table[i].name, dot + 1))
                                return &table[i];
                } else if (streq(table[i].name, name)) {
                        if (found)
                                return NULL; /* ambiguous without a section */
                        found = &table[i];
                }
        }
        return found;
}

int conf_set(const ConfOption *table, size_t n, const char *name, const char *value, void *values,
             char **ret_error) {
        const ConfOption *o = conf_find(table, n, name);

        if (!o)
                return asprintf(ret_error, "unknown option '%s'", name) < 0 ? -ENOMEM : -ENOENT;
        return set_value(o, value, values, ret_error);
}

static char *strip(char *s) {
        while (isspace((unsigned char) *s))
                s++;
        return strip_trailing(s);
}

_printf_(4, 5) static void report(FILE *err, const char *path, unsigned line, const char *fmt, ...) {
        va_list ap;

        if (!err)
                return;
        fprintf(err, "%s:%u: ", path, line);
        va_start(ap, fmt);
        vfprintf(err, fmt, ap);
        va_end(ap);
        fputc('\n', err);
}

int conf_parse_text(const ConfOption *table, size_t n, const char *path, const char *text, void *values,
                    FILE *err) {
        _cleanup_free_ char *section = NULL;
        const char *p = text;
        unsigned lineno = 0;
        bool failed = false;

        while (*p) {
                const char *nl = strchrnul(p, '\n');
                size_t len = (size_t) (nl - p);
                _cleanup_free_ char *buf = NULL, *msg = NULL;
                char *line, *eq, *key, *value;
                const ConfOption *o;

                lineno++;
                if (len > CONF_LINE_MAX) {
                        report(err, path, lineno, "line longer than %d characters", CONF_LINE_MAX);
                        failed = true;
                        p = *nl ? nl + 1 : nl;
                        continue;
                }
                buf = strndup(p, len);
                p = *nl ? nl + 1 : nl;
                if (!buf)
                        return -ENOMEM;
                line = strip(buf);
                if (!*line || *line == '#' || *line == ';')
                        continue;
                if (*line == '[') {
                        char *end = strchr(line, ']');
                        if (!end || !isempty(strip(end + 1))) {
                                report(err, path, lineno, "malformed section header");
                                failed = true;
                                continue;
                        }
                        *end = 0;
                        free(section);
                        section = strdup(strip(line + 1));
                        if (!section)
                                return -ENOMEM;
                        bool known = false;
                        for (size_t i = 0; i < n; i++)
                                if (streq(table[i].section, section))
                                        known = true;
                        if (!known) {
                                report(err, path, lineno, "unknown section [%s]", section);
                                failed = true;
                        }
                        continue;
                }
                eq = strchr(line, '=');
                if (!eq) {
                        report(err, path, lineno, "expected 'key = value'");
                        failed = true;
                        continue;
                }
                *eq = 0;
                key = strip(line);
                value = strip(eq + 1);
                if (strlen(value) >= 2 && value[0] == '"' && value[strlen(value) - 1] == '"') {
                        value[strlen(value) - 1] = 0;
                        value++;
                }
                if (!section) {
                        report(err, path, lineno, "'%s' outside of any section", key);
                        failed = true;
                        continue;
                }
                o = NULL;
                for (size_t i = 0; i < n; i++)
                        if (streq(table[i].section, section) && streq(table[i].name, key))
                                o = &table[i];
                if (!o) {
                        report(err, path, lineno, "unknown option '%s' in [%s]", key, section);
                        failed = true;
                        continue;
                }
                if (set_value(o, value, values, &msg) < 0) {
                        report(err, path, lineno, "%s: %s", key, msg ?: "invalid value");
                        failed = true;
                }
        }
        return failed ? -EINVAL : 0;
}

int conf_parse_file(const ConfOption *table, size_t n, const char *path, void *values, FILE *err) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_full_file_at(AT_FDCWD, path, CONF_FILE_MAX, &text, &size);
        if (r == -ENOENT)
                return r;
        if (r < 0) {
                if (err)
                        fprintf(err, "%s: %s\n", path, r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
                return -EINVAL;
        }
        if (memchr(text, 0, size)) {
                if (err)
                        fprintf(err, "%s: contains NUL bytes: not a text file\n", path);
                return -EINVAL;
        }
        return conf_parse_text(table, n, path, text, values, err);
}

void conf_free_values(const ConfOption *table, size_t n, void *values) {
        for (size_t i = 0; i < n; i++)
                if (table[i].type == CONF_STRING || table[i].type == CONF_LISTEN || table[i].type == CONF_REGEX) {
                        char **p = field(&table[i], values);
                        *p = mfree(*p);
                } else if (table[i].type == CONF_STRV) {
                        char ***p = field(&table[i], values);
                        *p = strv_free(*p);
                }
}

static void format_value(const ConfOption *o, const void *values, char *buf, size_t len) {
        const void *f = (const char *) values + o->offset;

        switch (o->type) {
        case CONF_STRING:
        case CONF_LISTEN:
        case CONF_REGEX:
                snprintf(buf, len, "%s", strempty(*(char *const *) f));
                return;
        case CONF_ENUM:
                snprintf(buf, len, "%s", o->choices[*(const int *) f]);
                return;
        case CONF_BOOL:
                snprintf(buf, len, "%s", *(const bool *) f ? "yes" : "no");
                return;
        case CONF_STRV: {
                _cleanup_free_ char *j = strv_join(*(char **const *) f, " ");
                snprintf(buf, len, "%s", strempty(j));
                return;
        }
        default:
                format_number(o, *(const uint64_t *) f, buf, len);
        }
}

void conf_print_help(const ConfOption *table, size_t n, FILE *f) {
        size_t w = 0;

        for (size_t i = 0; i < n; i++)
                w = MAX(w, strlen(table[i].name));
        for (size_t i = 0; i < n; i++) {
                const ConfOption *o = &table[i];
                _cleanup_free_ char *kind = NULL;
                char range[80] = "", lo[32], hi[32];

                format_number(o, o->min, lo, sizeof lo);
                format_number(o, o->max, hi, sizeof hi);
                if ((o->type == CONF_UINT || o->type == CONF_SIZE || o->type == CONF_DURATION) && o->max)
                        snprintf(range, sizeof range, ", %s..%s", lo, hi);
                else if (o->type == CONF_DURATION && o->min)
                        snprintf(range, sizeof range, ", at least %s", lo);
                kind = o->type == CONF_ENUM ? strv_join((char **) o->choices, "|") : strdup(type_name(o->type));
                fprintf(f, "  --%-*s  %s (%s, default: %s%s)\n", (int) w, o->name, o->help, strempty(kind),
                        isempty(o->def) ? "none" : o->def, range);
        }
}

void conf_print_values(const ConfOption *table, size_t n, const void *values, FILE *f) {
        const char *section = NULL;

        for (size_t i = 0; i < n; i++) {
                char buf[4096];

                if (!section || !streq(section, table[i].section)) {
                        section = table[i].section;
                        fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
                }
                format_value(&table[i], values, buf, sizeof buf);
                fprintf(f, "# %s\n%s = %s\n", table[i].help, table[i].name, buf);
        }
}
