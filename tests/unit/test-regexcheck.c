/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The regex gate: the filters people write pass, and the patterns that made glibc's regcomp()
 * take 17 s and 1.1 GiB, or crash the agent, are refused before regcomp() is ever called (this
 * program counts the calls through its own regcomp(), which the static libcommon binds to). */
#include "tests/unit/testutil.h"

#include <dlfcn.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/regexcheck.h"

static unsigned n_regcomp;

int regcomp(regex_t *restrict re, const char *restrict pattern, int flags) {
        static int (*real)(regex_t *restrict, const char *restrict, int);

        n_regcomp++;
        if (!real)
                real = (int (*)(regex_t *restrict, const char *restrict, int)) dlsym(RTLD_NEXT, "regcomp");
        assert_non_null(real);
        return real(re, pattern, flags);
}

static void test_accepted(void **state) {
        static const char *const ok[] = {
                "^sd[b-z]$",
                "^nvme[0-9]+n1$",
                "^/dev/disk/by-id/wwn-0x5000c5.*",
                "by-path/pci-0000:03:00\\.0",
                "^(sd|vd)[a-z]$",
                "^(nvme[0-9]+n[0-9]+)$",
                "[0-9a-f]{16}",
                "^x{,5}$",
                "[]a]{3}",
                "[^]a]{1,3}",
                "[[:digit:]]{2}",
                "[[.a.][=b=]]{2}",
                "((a*)*)*",
                "(ab){3}",
                "(ab)+",
                "(sd(a|b))*",
                "a\\{",
                "\\(a\\)+",
                "[(]{32}",
                "^$",
                "",
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char *err = NULL;
                regex_t re;

                if (regex_check(ok[i], &err) != 0)
                        fail_msg("'%s' refused: %s", ok[i], err);
                assert_int_equal(regex_compile(&re, ok[i], &err), 0);
                assert_null(err);
                regfree(&re);
        }
}

static void test_refused(void **state) {
        static const struct {
                const char *pattern, *why;
        } bad[] = {
                /* the two from the issue: 17 s and 1.1 GiB; a crash */
                { "((a{1,100}){1,100}){1,100}", "a repeat count above 32 at offset 3" },
                { "(((a{0,255}){0,255}){0,255})", "a repeat count above 32 at offset 4" },
                /* the same blow-up with small counts */
                { "((a{1,32}){1,32}){1,32}", "a group holding a {m,n} repeat is repeated at offset 10" },
                { "(a{2})*", "a group holding a {m,n} repeat is repeated at offset 6" },
                { "(a{2}b)?", "a group holding a {m,n} repeat is repeated" },
                { "((((a+)+)+)+)+", "a '+' repeat of a group that holds a repeat at offset 7" },
                { "(a|)+", "a '+' repeat of a group that holds a repeat" },
                { "(a|b){2}", "a {m,n} repeat of a group that holds a repeat" },
                { "a{2}{3}", "two repeats in a row at offset 4" },
                { "a**", "two repeats in a row at offset 2" },
                { "a{32}a{32}a{32}a{32}a{1}", "repeat counts adding up to more than 128 at offset 21" },
                { "a{1000}", "a repeat count above 32 at offset 1" },
                { "a{99999999999999999999}", "a repeat count above 32 at offset 1" },
                { "a{5,2}", "a repeat {m,n} with m > n at offset 1" },
                { "a{x}", "'{' at offset 1 does not start a repeat" },
                { "a{,}", "'{' at offset 1 does not start a repeat" },
                { "a{1", "'{' at offset 1 does not start a repeat" },
                { "*a", "nothing to repeat at offset 0 (write \\* for the character)" },
                { "(+a)", "nothing to repeat at offset 1" },
                { "a|{2}", "nothing to repeat at offset 2" },
                { "((((((a))))))", "groups nested deeper than 5 at offset 5" },
                { "(a)\\1", "a back-reference at offset 3" },
                { "a)", "an unbalanced ')' at offset 1" },
                { "(a", "an unbalanced '('" },
                { "[a", "an unterminated '[' at offset 0" },
                { "[[:alpha:]", "an unterminated '[' at offset 0" },
                { "[[:alpha]", "an unterminated '[' at offset 0" },
                { "a\\", "a trailing backslash" },
                { "sd\x1b[2J", "a control character at offset 2" },
                { "[\n]", "a control character at offset 1" },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                unsigned before = n_regcomp;
                char *err = NULL;
                regex_t re;

                assert_int_equal(regex_check(bad[i].pattern, &err), -EINVAL);
                if (!err || !strstr(err, bad[i].why))
                        fail_msg("'%s': expected '%s', got '%s'", bad[i].pattern, bad[i].why, err);
                err = mfree(err);
                assert_int_equal(regex_compile(&re, bad[i].pattern, &err), -EINVAL);
                assert_non_null(err);
                free(err);
                assert_int_equal(n_regcomp, before); /* refused before regcomp() */
        }
}

static void test_length(void **state) {
        char long_pattern[REGEX_PATTERN_MAX + 2], *err = NULL;
        unsigned before = n_regcomp;
        regex_t re;
        (void) state;

        memset(long_pattern, 'a', REGEX_PATTERN_MAX);
        long_pattern[REGEX_PATTERN_MAX] = 0;
        assert_int_equal(regex_check(long_pattern, NULL), 0);
        long_pattern[REGEX_PATTERN_MAX] = 'a';
        long_pattern[REGEX_PATTERN_MAX + 1] = 0;
        assert_int_equal(regex_compile(&re, long_pattern, &err), -E2BIG);
        assert_string_equal(err, "longer than 256 bytes");
        free(err);
        assert_int_equal(n_regcomp, before);
        assert_int_equal(regex_check(NULL, NULL), -EINVAL);
}

/* A pattern in the subset that regcomp() still finds wrong gets regcomp()'s own reason. */
static void test_syntax_error(void **state) {
        unsigned before = n_regcomp;
        char *err = NULL;
        regex_t re;
        (void) state;

        assert_int_equal(regex_check("[[:bogus:]]", NULL), 0);
        assert_int_equal(regex_compile(&re, "[[:bogus:]]", &err), -EINVAL);
        assert_int_equal(n_regcomp, before + 1);
        assert_non_null(err);
        assert_true(strlen(err) > 0);
        free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accepted),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_length),
                cmocka_unit_test(test_syntax_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
