/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The intent store on a real SQLite file: puts come back on the loop (never from inside
 * intent_put()), the table is durable without a backend, a backend's failure is the put's
 * failure and leaves the local copy alone, puts queued while the backend is busy become one
 * write, and what the backend's follower hands in reaches the local copy. */
#include "tests/unit/intenttest.h"

#include <errno.h>

typedef struct Done {
        size_t calls;
        int last_error;
        bool inside_put;        /* set around intent_put(): done must never see it */
        bool called_inside;
} Done;

static void on_done(int error, void *userdata) {
        Done *d = userdata;

        d->calls++;
        d->last_error = error;
        d->called_inside |= d->inside_put;
}

static int put(Intent *i, const char *key, const char *value, Done *d) {
        int r;

        d->inside_put = true;
        r = intent_put(i, key, value, value ? strlen(value) : 0, on_done, d);
        d->inside_put = false;
        return r;
}

static void assert_value(Intent *i, const char *key, const char *expected) {
        _cleanup_free_ void *v = NULL;
        size_t n = 0;

        if (!expected) {
                assert_int_equal(intent_get(i, key, &v, &n), -ENOENT);
                return;
        }
        assert_int_equal(intent_get(i, key, &v, &n), 0);
        assert_int_equal(n, strlen(expected));
        assert_memory_equal(v, expected, n);
}

static int collect(const char *key, const void *value, size_t size, void *userdata) {
        char *s = userdata;

        strcat(s, key);
        strcat(s, "=");
        strncat(s, value, size);
        strcat(s, ";");
        return 0;
}

static void test_sqlite_durable(void **state) {
        TestDb t;
        Intent *i = NULL;
        zloop_t *loop = zloop_new();
        Done d = {};
        IntentStatus st;
        char listing[256] = "";

        testdb_new(&t);
        assert_int_equal(intent_open(t.path, NULL, &i), 0);
        assert_int_equal(intent_attach(i, loop), 0);
        assert_int_equal(put(i, "spec/b", "2", &d), 0);
        assert_int_equal(put(i, "spec/a", "1", &d), 0);
        assert_int_equal(put(i, "specs", "x", &d), 0);
        assert_int_equal(put(i, "other/c", "3", &d), 0);
        run_until(loop, &d.calls, 4);
        assert_false(d.called_inside);
        assert_int_equal(d.last_error, 0);
        assert_value(i, "spec/a", "1");
        assert_int_equal(intent_list(i, "spec/", collect, listing), 0);
        assert_string_equal(listing, "spec/a=1;spec/b=2;");

        /* removal */
        assert_int_equal(put(i, "spec/b", NULL, &d), 0);
        run_until(loop, &d.calls, 5);
        assert_value(i, "spec/b", NULL);

        intent_get_status(i, &st);
        assert_string_equal(st.backend, "sqlite");
        assert_int_equal(st.error, 0);
        assert_int_equal(st.failures, 0);
        assert_true(st.writes >= 2);
        assert_int_equal(st.queued, 0);

        /* bad keys and values are refused at once, without a completion */
        assert_int_equal(put(i, "", "x", &d), -EINVAL);
        assert_int_equal(put(i, "a b", "x", &d), -EINVAL);
        {
                char key[INTENT_MAX_KEY + 2];
                memset(key, 'k', sizeof key - 1);
                key[sizeof key - 1] = 0;
                assert_int_equal(put(i, key, "x", &d), -EINVAL);
        }
        {
                _cleanup_free_ char *big = calloc(1, INTENT_MAX_VALUE + 1);
                assert_int_equal(intent_put(i, "big", big, INTENT_MAX_VALUE + 1, on_done, &d), -EMSGSIZE);
        }

        /* a put queued just before close is written all the same (close waits), but not completed */
        assert_int_equal(put(i, "spec/late", "L", &d), 0);
        i = intent_close(i);
        assert_int_equal(d.calls, 5);

        assert_int_equal(intent_open(t.path, NULL, &i), 0);
        assert_value(i, "spec/a", "1");
        assert_value(i, "spec/late", "L");
        assert_value(i, "spec/b", NULL);
        i = intent_close(i);
        zloop_destroy(&loop);
        testdb_remove(&t);
}

static void test_backend_fails(void **state) {
        TestDb t;
        Intent *i = NULL;
        zloop_t *loop = zloop_new();
        Fake f;
        IntentBackend b;
        Done d = {};
        IntentStatus st;

        testdb_new(&t);
        fake_init(&f);
        f.fail = -EHOSTUNREACH;
        b = fake_backend(&f);
        assert_int_equal(intent_open(t.path, &b, &i), 0);
        assert_int_equal(intent_attach(i, loop), 0);
        assert_int_equal(put(i, "spec/a", "1", &d), 0);
        run_until(loop, &d.calls, 1);
        assert_int_equal(d.last_error, -EHOSTUNREACH);
        assert_false(d.called_inside);
        assert_value(i, "spec/a", NULL); /* not in the local copy either */
        intent_get_status(i, &st);
        assert_string_equal(st.backend, "fake");
        assert_int_equal(st.error, -EHOSTUNREACH);
        assert_int_equal(st.failures, 1);
        assert_true(st.failing_since > 0);

        /* and when it is back */
        f.fail = 0;
        assert_int_equal(put(i, "spec/a", "1", &d), 0);
        run_until(loop, &d.calls, 2);
        assert_int_equal(d.last_error, 0);
        assert_value(i, "spec/a", "1");
        intent_get_status(i, &st);
        assert_int_equal(st.error, 0);
        assert_int_equal(st.failing_since, 0);
        assert_int_equal(st.writes, 1);

        i = intent_close(i);
        assert_true(f.closed);
        zloop_destroy(&loop);
        testdb_remove(&t);
}

static void test_batching(void **state) {
        TestDb t;
        Intent *i = NULL;
        zloop_t *loop = zloop_new();
        Fake f;
        IntentBackend b;
        Done d = {};
        IntentStatus st;
        char key[32];

        testdb_new(&t);
        fake_init(&f);
        f.block = true;
        b = fake_backend(&f);
        assert_int_equal(intent_open(t.path, &b, &i), 0);
        assert_int_equal(intent_attach(i, loop), 0);
        assert_int_equal(put(i, "k/0", "v", &d), 0);
        fake_wait_calls(&f, 1); /* the worker is inside write() with one pair */
        for (int k = 1; k <= 7; k++) {
                snprintf(key, sizeof key, "k/%d", k);
                assert_int_equal(put(i, key, "v", &d), 0);
        }
        intent_get_status(i, &st);
        assert_int_equal(st.queued, 8);
        fake_set_block(&f, false);
        run_until(loop, &d.calls, 8);
        assert_false(d.called_inside);
        assert_int_equal(d.last_error, 0);
        assert_int_equal(f.calls, 2);   /* one write for the first, one for the seven */
        assert_int_equal(f.last_n, 7);
        assert_int_equal(f.pairs, 8);
        assert_value(i, "k/7", "v");
        i = intent_close(i);
        zloop_destroy(&loop);
        testdb_remove(&t);
}

static void test_follow(void **state) {
        TestDb t;
        Intent *i = NULL;
        Fake f;
        IntentBackend b;
        _cleanup_free_ void *v = NULL;
        size_t n;
        int r = -ENOENT;

        testdb_new(&t);
        fake_init(&f);
        f.follow_key = "spec/from-another";
        f.follow_value = "theirs";
        b = fake_backend(&f);
        assert_int_equal(intent_open(t.path, &b, &i), 0);
        /* the worker follows at start, without a loop attached */
        for (int k = 0; k < 500 && r == -ENOENT; k++) {
                r = intent_get(i, "spec/from-another", &v, &n);
                if (r == -ENOENT)
                        usleep(10000);
        }
        assert_int_equal(r, 0);
        assert_int_equal(n, 6);
        assert_memory_equal(v, "theirs", 6);
        i = intent_close(i);
        assert_true(f.follows >= 1);
        testdb_remove(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sqlite_durable),
                cmocka_unit_test(test_backend_fails),
                cmocka_unit_test(test_batching),
                cmocka_unit_test(test_follow),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
