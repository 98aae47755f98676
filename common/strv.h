/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string vectors: the list type of every module. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/macro.h"

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
/* Takes ownership of value, also on failure. */
int strv_consume(char ***l, char *value);
/* Appends printf(fmt, value) to the strv l (a char **), for building argument lists: a no-op
 * once the int r is < 0, which it becomes on failure (-ENOMEM). */
#define STRV_APPENDF(r, l, fmt, value)                                                       \
        do {                                                                                 \
                char *_s;                                                                    \
                if ((r) >= 0 && asprintf(&_s, fmt, value) < 0)                               \
                        (r) = -ENOMEM;                                                       \
                else if ((r) >= 0)                                                           \
                        (r) = strv_consume(&(l), _s);                                        \
        } while (0)
int strv_extend(char ***l, const char *value);
/* Adds value unless it is already present. */
int strv_extend_unique(char ***l, const char *value);
bool strv_contains(char *const *l, const char *value);
char **strv_copy(char *const *l);
void strv_sort(char **l);
char *strv_join(char *const *l, const char *sep);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

static inline bool strv_isempty(char *const *l) {
        return !l || !*l;
}
