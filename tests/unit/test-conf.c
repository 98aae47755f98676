/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table-driven configuration: every type, defaults, ranges, errors with file:line, and
 * the round trip through conf_print_values(). */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/strv.h"
#include "common/timeutil.h"

typedef struct Values {
        char *name;
        bool flag;
        uint64_t count, delay, size;
        char **list;
} Values;

static const ConfOption table[] = {
        { "t", "name", CONF_STRING, "x", 0, 0, offsetof(Values, name), "a name" },
        { "t", "flag", CONF_BOOL, "no", 0, 0, offsetof(Values, flag), "a flag" },
        { "t", "count", CONF_UINT, "3", 1, 10, offsetof(Values, count), "a count" },
        { "t", "delay", CONF_DURATION, "5s", 1000, 0, offsetof(Values, delay), "a delay" },
        { "t", "size", CONF_SIZE, "1M", 0, 0, offsetof(Values, size), "a size" },
        { "t", "list", CONF_STRV, NULL, 0, 0, offsetof(Values, list), "a list" },
};
#define N ELEMENTSOF(table)

static char *errors;
static size_t errors_size;

static int parse(const char *text, Values *v) {
        FILE *err = open_memstream(&errors, &errors_size);
        int r;

        assert_non_null(err);
        r = conf_parse_text(table, N, "test.conf", text, v, err);
        fclose(err);
        return r;
}

static void test_defaults_and_types(void **state) {
        Values v = {};

        assert_int_equal(conf_set_defaults(table, N, &v), 0);
        assert_string_equal(v.name, "x");
        assert_int_equal(v.count, 3);
        assert_int_equal(v.delay, 5000000);
        assert_int_equal(v.size, 1048576);
        assert_null(v.list);
        assert_int_equal(parse("# comment\n; comment\n\n[t]\n  name = \"hello world\"\nflag=yes\ncount = 10\n"
                               "delay = 1min30s\nsize = 2G\nlist = a, b c\n",
                               &v),
                         0);
        free(errors);
        assert_string_equal(v.name, "hello world");
        assert_true(v.flag);
        assert_int_equal(v.count, 10);
        assert_int_equal(v.delay, 90000000);
        assert_int_equal(v.size, UINT64_C(2147483648));
        assert_int_equal(strv_length(v.list), 3);
        assert_int_equal(parse("[t]\ndelay = 250ms\n", &v), 0);
        free(errors);
        assert_int_equal(v.delay, 250000);
        conf_free_values(table, N, &v);
}

static void test_errors_name_file_and_line(void **state) {
        Values v = {};

        assert_int_equal(conf_set_defaults(table, N, &v), 0);
        assert_int_equal(parse("name = outside\n[t]\ncount = 11\ncount = x\nflag = maybe\nbogus = 1\n[u]\njunk\n"
                               "delay = 5 parsecs\n",
                               &v),
                         -EINVAL);
        assert_non_null(strstr(errors, "test.conf:1: 'name' outside of any section"));
        assert_non_null(strstr(errors, "test.conf:3: count: 11 is out of range (1 to 10)"));
        assert_non_null(strstr(errors, "test.conf:4: count: 'x' is not a valid number"));
        assert_non_null(strstr(errors, "test.conf:5: flag: 'maybe' is not yes or no"));
        assert_non_null(strstr(errors, "test.conf:6: unknown option 'bogus' in [t]"));
        assert_non_null(strstr(errors, "test.conf:7: unknown section [u]"));
        assert_non_null(strstr(errors, "test.conf:8: expected 'key = value'"));
        free(errors);
        assert_int_equal(v.count, 3); /* a bad value changes nothing */
        conf_free_values(table, N, &v);
}

static void test_hostile_input(void **state) {
        Values v = {};
        char *big = malloc(100 * 1024 + 16);

        assert_non_null(big);
        assert_int_equal(conf_set_defaults(table, N, &v), 0);
        strcpy(big, "[t]\nname = ");
        memset(big + strlen(big), 'a', 100 * 1024);
        big[11 + 100 * 1024] = 0;
        assert_int_equal(parse(big, &v), -EINVAL);
        assert_non_null(strstr(errors, "test.conf:2: line longer than"));
        free(errors);
        assert_int_equal(parse("\x01\x02\xff[[[\n==\n", &v), -EINVAL);
        free(errors);
        free(big);
        conf_free_values(table, N, &v);
}

static void test_overrides_and_round_trip(void **state) {
        Values v = {}, w = {};
        _cleanup_free_ char *err = NULL, *dump = NULL;
        size_t dump_size = 0;
        FILE *f;

        assert_int_equal(conf_set_defaults(table, N, &v), 0);
        assert_int_equal(conf_set(table, N, "count", "7", &v, &err), 0);
        assert_int_equal(conf_set(table, N, "t.flag", "on", &v, &err), 0);
        assert_int_equal(conf_set(table, N, "list", "x y", &v, &err), 0);
        assert_int_equal(conf_set(table, N, "nope", "1", &v, &err), -ENOENT);
        assert_non_null(strstr(err, "unknown option"));
        f = open_memstream(&dump, &dump_size);
        conf_print_values(table, N, &v, f);
        fclose(f);
        assert_int_equal(conf_set_defaults(table, N, &w), 0);
        assert_int_equal(parse(dump, &w), 0);
        free(errors);
        assert_int_equal(w.count, 7);
        assert_true(w.flag);
        assert_int_equal(w.delay, v.delay);
        assert_int_equal(w.size, v.size);
        assert_string_equal(w.name, v.name);
        assert_int_equal(strv_length(w.list), 2);
        conf_free_values(table, N, &v);
        conf_free_values(table, N, &w);
}

/* CONF_LISTEN: the metrics-listen option of both daemons. */
static void test_listen_address(void **state) {
        typedef struct {
                char *listen;
        } L;
        static const ConfOption lt[] = {
                { "t", "listen", CONF_LISTEN, "", 0, 0, offsetof(L, listen), "where to listen" },
        };
        L v = {};
        char *err = NULL, *text = NULL;
        size_t size = 0;
        FILE *f;

        assert_int_equal(conf_set_defaults(lt, 1, &v), 0);
        assert_string_equal(v.listen, "");
        assert_int_equal(conf_set(lt, 1, "listen", "9100", &v, &err), 0);
        assert_string_equal(v.listen, "9100");
        assert_int_equal(conf_set(lt, 1, "listen", "[::1]:9100", &v, &err), 0);
        assert_int_equal(conf_set(lt, 1, "listen", "off", &v, &err), 0);
        assert_string_equal(v.listen, "");
        assert_int_equal(conf_set(lt, 1, "listen", "0.0.0.0:9100", &v, &err), 0);
        assert_int_equal(conf_set(lt, 1, "listen", "localhost:9100", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "'localhost:9100' is not PORT, ADDRESS:PORT or [IPV6-ADDRESS]:PORT"));
        err = mfree(err);
        assert_string_equal(v.listen, "0.0.0.0:9100"); /* a bad value changes nothing */

        f = open_memstream(&text, &size);
        assert_non_null(f);
        assert_int_equal(conf_parse_text(lt, 1, "x.conf", "[t]\nlisten = 1.2.3.4:99999\n", &v, f), -EINVAL);
        fclose(f);
        assert_non_null(strstr(text, "x.conf:2: listen:"));
        free(text);
        text = NULL;
        f = open_memstream(&text, &size);
        conf_print_help(lt, 1, f);
        fclose(f);
        assert_non_null(strstr(text, "(address, default: none)"));
        free(text);
        conf_free_values(lt, 1, &v);
        assert_null(v.listen);
}

/* CONF_ENUM and CONF_REGEX: everything that run() would refuse is refused at load, so that
 * --check-config catches it. */
static void test_enum_and_regex(void **state) {
        static const char *const modes[] = { "auto", "systemd", "fork", "none", NULL };
        typedef struct {
                int mode;
                char *re;
                uint64_t wait;
        } E;
        static const ConfOption et[] = {
                { "t", "mode", CONF_ENUM, "auto", 0, 0, offsetof(E, mode), "a mode", modes },
                { "t", "re", CONF_REGEX, "", 0, 0, offsetof(E, re), "a pattern" },
                { "t", "wait", CONF_DURATION, "10min", 10 * USEC_PER_MSEC, 24 * 60 * 60 * USEC_PER_SEC,
                  offsetof(E, wait), "a wait" },
        };
        E v = {};
        char *err = NULL, *text = NULL;
        size_t size = 0;
        FILE *f;

        assert_int_equal(conf_set_defaults(et, 3, &v), 0);
        assert_int_equal(v.mode, 0);
        assert_int_equal(v.wait, 600 * USEC_PER_SEC);
        assert_int_equal(conf_set(et, 3, "mode", "fork", &v, &err), 0);
        assert_int_equal(v.mode, 2);
        assert_int_equal(conf_set(et, 3, "mode", "bogus", &v, &err), -EINVAL);
        assert_string_equal(err, "'bogus' is not one of auto, systemd, fork or none");
        err = mfree(err);
        assert_int_equal(v.mode, 2);
        assert_int_equal(conf_set(et, 3, "re", "^sd[a-z]$", &v, &err), 0);
        assert_int_equal(conf_set(et, 3, "re", "[", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "'[' is not a valid regular expression: "));
        err = mfree(err);
        assert_string_equal(v.re, "^sd[a-z]$");
        assert_int_equal(conf_set(et, 3, "wait", "1ms", &v, &err), -ERANGE);
        assert_string_equal(err, "1ms is out of range (10ms to 1d)");
        err = mfree(err);

        f = open_memstream(&text, &size);
        assert_non_null(f);
        assert_int_equal(conf_parse_text(et, 3, "e.conf", "[t]\nmode = sometimes\nre = (\n", &v, f), -EINVAL);
        fclose(f);
        assert_non_null(strstr(text, "e.conf:2: mode: 'sometimes' is not one of auto, systemd, fork or none"));
        assert_non_null(strstr(text, "e.conf:3: re: '(' is not a valid regular expression"));
        free(text);

        text = NULL;
        f = open_memstream(&text, &size);
        conf_print_values(et, 3, &v, f);
        fclose(f);
        assert_non_null(strstr(text, "mode = fork\n"));
        assert_non_null(strstr(text, "wait = 10min\n"));
        free(text);

        text = NULL;
        f = open_memstream(&text, &size);
        conf_print_help(et, 3, f);
        fclose(f);
        assert_non_null(strstr(text, "(auto|systemd|fork|none, default: auto)"));
        assert_non_null(strstr(text, "(duration, default: 10min, 10ms..1d)"));
        free(text);
        conf_free_values(et, 3, &v);
}

/* The CLI's parsers are the file's parsers. */
static void test_bool_and_duration(void **state) {
        uint64_t u;
        bool b;
        char buf[32];

        assert_int_equal(conf_parse_bool("on", &b), 0);
        assert_true(b);
        assert_int_equal(conf_parse_bool("0", &b), 0);
        assert_false(b);
        assert_int_equal(conf_parse_bool("maybe", &b), -EINVAL);
        assert_int_equal(conf_parse_duration("2.5", &u), 0);
        assert_int_equal(u, 2500 * USEC_PER_MSEC);
        assert_int_equal(conf_parse_duration("1h30min", &u), 0);
        assert_int_equal(u, 90 * 60 * USEC_PER_SEC);
        assert_int_equal(conf_parse_duration("-1", &u), -EINVAL);
        assert_int_equal(conf_parse_duration("5 parsecs", &u), -EINVAL);
        assert_int_equal(conf_parse_duration("1e300", &u), -ERANGE);
        conf_format_duration(90 * 60 * USEC_PER_SEC, buf, sizeof buf);
        assert_string_equal(buf, "90min");
        conf_format_duration(1500, buf, sizeof buf);
        assert_string_equal(buf, "1500us");
        conf_format_duration(0, buf, sizeof buf);
        assert_string_equal(buf, "0");
}

/* Numbers beyond what a type holds are refused as too large, never wrapped: 1e11d was
 * converted to 0 (undefined behaviour) and reported as "too small", 200000000d turned negative
 * as the coordinator's int64_t, 1e30 and 18446744073709s were "not a valid duration". */
static void test_ranges(void **state) {
        static const char *const too_large[] = {
                "1e30", "18446744073709s", "1e11d", "1e12d", "200000000d", "106751991d", "36501d", "36500d1us", "30000d30000d", "1e999",
                "1e300min", "99999999999999999999999999999999999999us",
        };
        static const ConfOption rt[] = {
                { "t", "regex", CONF_REGEX, "", 0, 0, offsetof(Values, name), "a pattern" },
        };
        Values v = {};
        uint64_t u;
        char *err = NULL;
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(too_large); i++)
                if (conf_parse_duration(too_large[i], &u) != -ERANGE)
                        fail_msg("%s: not refused as too large", too_large[i]);
        assert_int_equal(conf_parse_duration("36500d", &u), 0);
        assert_true(u == CONF_DURATION_MAX);
        assert_int_equal(conf_parse_duration("1e-400", &u), -EINVAL);
        assert_int_equal(conf_parse_duration("0x10", &u), -EINVAL);
        assert_int_equal(conf_parse_duration("inf", &u), -EINVAL);
        assert_int_equal(conf_parse_duration("nan", &u), -EINVAL);
        assert_int_equal(conf_parse_duration("1e3ms", &u), 0);
        assert_true(u == USEC_PER_SEC);

        assert_int_equal(conf_set_defaults(table, N, &v), 0);
        /* a duration without a maximum of its own (like offline-after) */
        assert_int_equal(conf_set(table, N, "delay", "1e30", &v, &err), -ERANGE);
        assert_string_equal(err, "1e30 is too large (at most 36500d)");
        err = mfree(err);
        assert_int_equal(conf_set(table, N, "delay", "18446744073709s", &v, &err), -ERANGE);
        assert_string_equal(err, "18446744073709s is too large (at most 36500d)");
        err = mfree(err);
        assert_int_equal(conf_set(table, N, "delay", "0.5ms", &v, &err), -ERANGE);
        assert_string_equal(err, "0.5ms is too small (at least 1ms)");
        err = mfree(err);
        assert_true(v.delay == 5 * USEC_PER_SEC); /* unchanged */
        /* integers and sizes */
        assert_int_equal(conf_set(table, N, "count", "18446744073709551616", &v, &err), -ERANGE);
        assert_string_equal(err, "18446744073709551616 is out of range (1 to 10)");
        err = mfree(err);
        assert_int_equal(conf_set(table, N, "size", "16E", &v, &err), -ERANGE);
        assert_string_equal(err, "16E is too large (at most 18446744073709551615)");
        err = mfree(err);
        assert_int_equal(conf_set(table, N, "size", "1e400", &v, &err), -ERANGE);
        assert_string_equal(err, "1e400 is too large (at most 18446744073709551615)");
        err = mfree(err);
        assert_int_equal(conf_set(table, N, "size", "15E", &v, &err), 0);
        assert_true(v.size == UINT64_C(15) << 60);
        conf_free_values(table, N, &v);

        /* a regex row goes through the same gate as a pattern from the network */
        assert_int_equal(conf_set(rt, 1, "regex", "((a{1,100}){1,100}){1,100}", &v, &err), -EINVAL);
        assert_string_equal(err, "'((a{1,100}){1,100}){1,100}' is not a valid regular expression: "
                                 "a repeat count above 32 at offset 3");
        err = mfree(err);
        assert_null(v.name);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_listen_address),
                cmocka_unit_test(test_enum_and_regex),
                cmocka_unit_test(test_bool_and_duration),
                cmocka_unit_test(test_ranges),
                cmocka_unit_test(test_defaults_and_types),
                cmocka_unit_test(test_errors_name_file_and_line),
                cmocka_unit_test(test_hostile_input),
                cmocka_unit_test(test_overrides_and_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
