/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one gate in front of regcomp(): a single left-to-right pass over a pattern that refuses
 * what would make glibc's compiler (or its matcher) blow up, so a filter from the network or a
 * config file is compiled in bounded time on the daemons' event loops. The rules are in
 * regexcheck.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/regexcheck.h"

/* What the innermost open group (or the whole pattern) holds so far. */
typedef struct Frame {
        bool repeats;   /* a *, +, ? or {m,n} anywhere inside */
        bool bounded;   /* a {m,n} anywhere inside */
} Frame;

typedef enum Last {
        LAST_NONE,      /* start, '(', '|', an anchor: nothing a repeat could apply to */
        LAST_ATOM,      /* a character, '.', an escape or a bracket expression */
        LAST_GROUP,     /* a group just closed */
        LAST_REPEATED,  /* a repeat just applied */
} Last;

_printf_(3, 4) static int refuse(char **ret_error, int r, const char *format, ...) {
        va_list ap;
        char *s = NULL;

        if (!ret_error)
                return r;
        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*ret_error);
        *ret_error = s;
        return r;
}

/* [...] starting at p (on the '['): returns the byte after its ']', or NULL if unterminated. */
static const char *skip_bracket(const char *p) {
        p++;
        if (*p == '^')
                p++;
        if (*p == ']') /* a ']' first is a member */
                p++;
        while (*p && *p != ']') {
                if (p[0] == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
                        char close[3] = { p[1], ']', 0 };
                        const char *e = strstr(p + 2, close);
                        if (!e)
                                return NULL;
                        p = e + 2;
                } else
                        p++;
        }
        return *p ? p + 1 : NULL;
}

/* Up to three digits: no bound we accept needs more, and none can overflow. */
static int parse_bound(const char **p, int *ret) {
        int v = 0, n = 0;

        while (**p >= '0' && **p <= '9') {
                if (++n > 3)
                        return -ERANGE;
                v = v * 10 + (**p - '0');
                (*p)++;
        }
        *ret = n ? v : -1;
        return 0;
}

/* {m}, {m,}, {,n} or {m,n} starting at p (on the '{'). */
static int parse_interval(const char **p, int *ret_min, int *ret_max) {
        const char *q = *p + 1;
        int lo, hi;

        if (parse_bound(&q, &lo) < 0)
                return -ERANGE;
        hi = lo;
        if (*q == ',') {
                q++;
                if (parse_bound(&q, &hi) < 0)
                        return -ERANGE;
        }
        if (*q != '}' || (lo < 0 && hi < 0))
                return -EINVAL;
        *p = q + 1;
        *ret_min = MAX(lo, 0);
        *ret_max = hi;
        return 0;
}

int regex_check(const char *pattern, char **ret_error) {
        Frame stack[REGEX_GROUP_DEPTH_MAX + 1] = {}, closed = {};
        size_t depth = 0;
        int copies = 0;
        Last last = LAST_NONE;
        const char *p;

        if (!pattern)
                return refuse(ret_error, -EINVAL, "no pattern");
        if (strnlen(pattern, REGEX_PATTERN_MAX + 1) > REGEX_PATTERN_MAX)
                return refuse(ret_error, -E2BIG, "longer than %d bytes", REGEX_PATTERN_MAX);

        /* Checked first, so that bracket expressions are covered too: the pattern may be echoed
         * into logs and terminals. */
        for (p = pattern; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return refuse(ret_error, -EINVAL, "a control character at offset %zu",
                                      (size_t) (p - pattern));

        for (p = pattern; *p;) {
                size_t at = (size_t) (p - pattern);
                unsigned char c = (unsigned char) *p;
                bool bounded = false;

                switch (c) {
                case '(':
                        if (depth >= REGEX_GROUP_DEPTH_MAX)
                                return refuse(ret_error, -EINVAL, "groups nested deeper than %d at offset %zu",
                                              REGEX_GROUP_DEPTH_MAX, at);
                        stack[++depth] = (Frame) {};
                        last = LAST_NONE;
                        p++;
                        break;
                case ')':
                        if (depth == 0)
                                return refuse(ret_error, -EINVAL, "an unbalanced ')' at offset %zu", at);
                        closed = stack[depth--];
                        stack[depth].repeats |= closed.repeats;
                        stack[depth].bounded |= closed.bounded;
                        last = LAST_GROUP;
                        p++;
                        break;
                case '|':
                        /* An alternation can hold an empty branch, (a|) or (^|a): to the
                         * rules below, it is an optional part like a '?'. */
                        stack[depth].repeats = true;
                        last = LAST_NONE;
                        p++;
                        break;
                case '^':
                case '$':
                        last = LAST_NONE;
                        p++;
                        break;
                case '{':
                case '*':
                case '+':
                case '?':
                        if (c == '{') {
                                int lo, hi, r = parse_interval(&p, &lo, &hi);
                                if (r == -EINVAL)
                                        return refuse(ret_error, -EINVAL,
                                                      "'{' at offset %zu does not start a repeat {m}, {m,} or "
                                                      "{m,n} (write \\{ for the character)", at);
                                if (r < 0 || lo > REGEX_REPEAT_MAX || hi > REGEX_REPEAT_MAX)
                                        return refuse(ret_error, -EINVAL, "a repeat count above %d at offset %zu",
                                                      REGEX_REPEAT_MAX, at);
                                if (hi >= 0 && lo > hi)
                                        return refuse(ret_error, -EINVAL, "a repeat {m,n} with m > n at offset %zu",
                                                      at);
                                copies += MAX(lo, hi);
                                if (copies > REGEX_COPIES_MAX)
                                        return refuse(ret_error, -EINVAL,
                                                      "repeat counts adding up to more than %d at offset %zu",
                                                      REGEX_COPIES_MAX, at);
                                bounded = true;
                        } else
                                p++;
                        if (last == LAST_NONE)
                                return refuse(ret_error, -EINVAL,
                                              "nothing to repeat at offset %zu (write \\%c for the character)",
                                              at, c);
                        if (last == LAST_REPEATED)
                                return refuse(ret_error, -EINVAL, "two repeats in a row at offset %zu", at);
                        if (last == LAST_GROUP && closed.bounded)
                                return refuse(ret_error, -EINVAL,
                                              "a group holding a {m,n} repeat is repeated at offset %zu", at);
                        /* {m,n} and + copy their operand (m or n times, twice): never a repeat. */
                        if (last == LAST_GROUP && (bounded || c == '+') && closed.repeats)
                                return refuse(ret_error, -EINVAL,
                                              "a %s repeat of a group that holds a repeat at offset %zu",
                                              bounded ? "{m,n}" : "'+'", at);
                        stack[depth].repeats = true;
                        stack[depth].bounded |= bounded;
                        last = LAST_REPEATED;
                        break;
                case '[':
                        p = skip_bracket(p);
                        if (!p)
                                return refuse(ret_error, -EINVAL, "an unterminated '[' at offset %zu", at);
                        last = LAST_ATOM;
                        break;
                case '\\':
                        if (!p[1])
                                return refuse(ret_error, -EINVAL, "a trailing backslash");
                        if (p[1] >= '1' && p[1] <= '9')
                                return refuse(ret_error, -EINVAL, "a back-reference at offset %zu", at);
                        p += 2;
                        last = LAST_ATOM;
                        break;
                default:
                        p++;
                        last = LAST_ATOM;
                }
        }
        if (depth > 0)
                return refuse(ret_error, -EINVAL, "an unbalanced '('");
        return 0;
}

int regex_compile(regex_t *ret, const char *pattern, char **ret_error) {
        int r;

        r = regex_check(pattern, ret_error);
        if (r < 0)
                return r;
        r = regcomp(ret, pattern, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                char why[128];

                (void) regerror(r, ret, why, sizeof why);
                error_set(ret_error, "%s", why);
                return r == REG_ESPACE ? -ENOMEM : -EINVAL;
        }
        return 0;
}
