/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The subset of POSIX extended regular expressions that castle compiles. Filters come from the
 * network and from config files, and glibc's regcomp()
 * copies a {m,n} repeat's operand n times and a '+' operand twice, so nested repeats cost
 * exponential time and memory: ((a{1,100}){1,100}){1,100} took 17 s and 1.1 GiB. Patterns are
 * checked against these rules before regcomp() ever sees them:
 *   - at most REGEX_PATTERN_MAX bytes, no control characters;
 *   - a {m}, {m,} or {m,n} repeat has bounds of at most REGEX_REPEAT_MAX, and the larger
 *     bounds of all of them add up to at most REGEX_COPIES_MAX (each is a copy to match);
 *   - a group that holds a repeat or an alternation ('|') cannot take a {m,n} or '+' repeat,
 *     and a group that holds a {m,n} repeat cannot be repeated at all; two repeats in a row
 *     (a**, a{2}{3}) are refused, and a repeat needs something before it;
 *   - groups nest at most REGEX_GROUP_DEPTH_MAX deep;
 *   - no back-references (\1 .. \9), which make matching exponential.
 * With these rules, the compiled program is at most a few thousand nodes whatever the pattern,
 * and a match against a device path costs about a millisecond at worst. */
#pragma once

#include <regex.h>

#define REGEX_PATTERN_MAX 256
#define REGEX_REPEAT_MAX 32
#define REGEX_COPIES_MAX 128
#define REGEX_GROUP_DEPTH_MAX 5

/* 0 if pattern is in the subset; otherwise -EINVAL (-E2BIG for a too long pattern) and, in
 * *ret_error (to free; may be NULL), what is wrong and where, without the pattern itself. Never
 * calls regcomp(): its cost is linear in the pattern's length. */
int regex_check(const char *pattern, char **ret_error);

/* regex_check(), then regcomp(REG_EXTENDED | REG_NOSUB). On failure nothing is left to free in
 * *ret and *ret_error says why (regcomp's own message for a syntax error). */
int regex_compile(regex_t *ret, const char *pattern, char **ret_error);
