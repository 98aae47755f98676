/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Filters. Regexes are POSIX extended (Rook's are Go RE2; the common subset is the same), in
 * the bounded subset of common/regexcheck.h. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/regexcheck.h"
#include "common/strv.h"
#include "discovery/filter.h"

void filter_init(Filter *f) {
        *f = (Filter) { .rotational = -1, .transport = -1 };
}

void filter_done(Filter *f) {
        if (f->has_name_re)
                regfree(&f->name_re);
        if (f->has_path_re)
                regfree(&f->path_re);
        free(f->model);
        free(f->vendor);
        filter_init(f);
}

static int compile(regex_t *re, bool *has, const char *pattern, char **ret_error) {
        _cleanup_free_ char *why = NULL;
        regex_t n;
        int r;

        /* The old expression stays in place if the new one is refused. */
        r = regex_compile(&n, pattern, &why);
        if (r < 0) {
                if (r == -E2BIG)
                        error_set(ret_error, "invalid regular expression: %s", strempty(why));
                else if (r == -EINVAL)
                        error_set(ret_error, "invalid regular expression '%s': %s", pattern, strempty(why));
                return r;
        }
        if (*has)
                regfree(re);
        *re = n;
        *has = true;
        return 0;
}

int filter_set_name_regex(Filter *f, const char *re, char **ret_error) {
        return compile(&f->name_re, &f->has_name_re, re, ret_error);
}

int filter_set_path_regex(Filter *f, const char *re, char **ret_error) {
        return compile(&f->path_re, &f->has_path_re, re, ret_error);
}

static int set_str(char **field, const char *v) {
        char *c = strdup(v);

        if (!c)
                return -ENOMEM;
        free(*field);
        *field = c;
        return 0;
}

int filter_set_model(Filter *f, const char *pattern) {
        return set_str(&f->model, pattern);
}

int filter_set_vendor(Filter *f, const char *pattern) {
        return set_str(&f->vendor, pattern);
}

bool filter_pattern_match(const char *pattern, const char *value) {
        if (!value)
                return false;
        if (strpbrk(pattern, "*?["))
                return fnmatch(pattern, value, FNM_CASEFOLD) == 0;
        return strcasestr(value, pattern) != NULL;
}

static bool path_matches(const Filter *f, const Device *d) {
        if (d->path && regexec(&f->path_re, d->path, 0, NULL, 0) == 0)
                return true;
        STRV_FOREACH(l, d->links)
                if (regexec(&f->path_re, *l, 0, NULL, 0) == 0)
                        return true;
        return false;
}

bool filter_match(const Filter *f, const Device *d) {
        if (f->has_name_re && regexec(&f->name_re, d->kname, 0, NULL, 0) != 0)
                return false;
        if (f->has_path_re && !path_matches(f, d))
                return false;
        if (f->min_size && d->size < f->min_size)
                return false;
        if (f->max_size && d->size > f->max_size)
                return false;
        if (f->rotational >= 0 && d->rotational != (f->rotational == 1))
                return false;
        if (f->model && !filter_pattern_match(f->model, d->model))
                return false;
        if (f->vendor && !filter_pattern_match(f->vendor, d->vendor))
                return false;
        if (f->transport >= 0 && d->transport != (Transport) f->transport)
                return false;
        return true;
}

bool filter_listed_by_default(const Device *d, bool all, bool allow_loop) {
        if (all)
                return true;
        switch (d->type) {
        case DEVICE_TYPE_DISK:
        case DEVICE_TYPE_MPATH:
                return true;
        case DEVICE_TYPE_LOOP:
                return allow_loop;
        default:
                return false;
        }
}
