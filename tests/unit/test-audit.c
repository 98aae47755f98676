/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail over a real intent store: a request's completion comes once its record is
 * stored (or with why not), records that arrive while a batch is in flight become the next
 * batch, batches stay under the intent store's value limit, the listing is oldest first with
 * since and limit, a batch that does not decode is left out, and the ZAP User-Id forms parse. */
#include "tests/unit/intenttest.h"

#include <errno.h>
#include <string.h>

#include "coordinator/audit.h"
#include "proto/codec.h"

static const AuditWho alice = { .key_name = "alice", .key_fingerprint = "FP", .role = "operator" };

typedef struct Done {
        size_t calls;
        int last_error;
} Done;

static void on_done(int error, void *userdata) {
        Done *d = userdata;

        d->calls++;
        d->last_error = error;
}

typedef struct Batches {
        size_t n, records, max_size;
} Batches;

static int count_batches(const char *key, const void *value, size_t size, void *userdata) {
        Batches *b = userdata;
        Castle__AuditBatch *batch = NULL;

        assert_int_equal(codec_audit_batch_unpack(value, size, &batch), 0);
        b->n++;
        b->records += batch->n_records;
        b->max_size = MAX(b->max_size, size);
        castle__audit_batch__free_unpacked(batch, NULL);
        return 0;
}

static void test_request_and_list(void **state) {
        TestDb t;
        Intent *i = NULL;
        Audit *a = NULL;
        zloop_t *loop = zloop_new();
        Done d = {};
        Castle__AuditRecord **recs = NULL;
        size_t n = 0;

        testdb_new(&t);
        assert_int_equal(intent_open(t.path, NULL, &i), 0);
        assert_int_equal(intent_attach(i, loop), 0);
        assert_int_equal(audit_new(i, "bad/name", &a), -EINVAL);
        assert_int_equal(audit_new(i, "coord-1", &a), 0);

        assert_int_equal(audit_request(a, &alice, "rescan", "node-a", NULL, 42, on_done, &d), 0);
        assert_int_equal(d.calls, 0); /* never from inside the call */
        run_until(loop, &d.calls, 1);
        assert_int_equal(d.last_error, 0);
        assert_int_equal(audit_result(a, &alice, "rescan", "node-a", NULL, 42, "ok"), 0);
        assert_int_equal(audit_request(a, &alice, "osd create", "node-a", "wwn-0x5000", 43, on_done, &d), 0);
        run_until(loop, &d.calls, 2);

        assert_int_equal(audit_list(a, 0, 0, &recs, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(recs[0]->action, "rescan");
        assert_string_equal(recs[0]->result, "requested");
        assert_string_equal(recs[0]->key_name, "alice");
        assert_string_equal(recs[0]->role, "operator");
        assert_string_equal(recs[0]->coordinator, "coord-1");
        assert_int_equal(recs[0]->command_id, 42);
        assert_string_equal(recs[1]->result, "ok");
        assert_string_equal(recs[2]->device, "wwn-0x5000");
        assert_true(recs[0]->time_usec <= recs[1]->time_usec && recs[1]->time_usec <= recs[2]->time_usec);
        assert_string_not_equal(recs[0]->id, recs[1]->id);
        {
                int64_t since = recs[2]->time_usec;
                audit_records_free(recs, n);
                /* since, and the newest `limit` */
                assert_int_equal(audit_list(a, since, 0, &recs, &n), 0);
                assert_true(n >= 1);
                assert_string_equal(recs[n - 1]->action, "osd create");
                audit_records_free(recs, n);
                assert_int_equal(audit_list(a, 0, 2, &recs, &n), 0);
                assert_int_equal(n, 2);
                assert_string_equal(recs[0]->result, "ok");
                assert_string_equal(recs[1]->action, "osd create");
                audit_records_free(recs, n);
        }

        /* a batch that does not decode is left out, not fatal */
        {
                Done g = {};
                assert_int_equal(intent_put(i, "audit/x/garbage", "\xff\xff\xff", 3, on_done, &g), 0);
                run_until(loop, &g.calls, 1);
                assert_int_equal(audit_list(a, 0, 0, &recs, &n), 0);
                assert_int_equal(n, 3);
                audit_records_free(recs, n);
        }

        /* durable: another Audit on the reopened file lists them */
        a = audit_free(a);
        i = intent_close(i);
        assert_int_equal(intent_open(t.path, NULL, &i), 0);
        assert_int_equal(audit_new(i, "coord-2", &a), 0);
        assert_int_equal(audit_list(a, 0, 0, &recs, &n), 0);
        assert_int_equal(n, 3);
        audit_records_free(recs, n);
        a = audit_free(a);
        i = intent_close(i);
        zloop_destroy(&loop);
        testdb_remove(&t);
}

static void test_batches(void **state) {
        TestDb t;
        Intent *i = NULL;
        Audit *a = NULL;
        zloop_t *loop = zloop_new();
        Fake f;
        IntentBackend b;
        Done d = {};
        Batches bs = {};
        char result[AUDIT_MAX_RESULT + 100];

        testdb_new(&t);
        fake_init(&f);
        f.block = true;
        b = fake_backend(&f);
        assert_int_equal(intent_open(t.path, &b, &i), 0);
        assert_int_equal(intent_attach(i, loop), 0);
        assert_int_equal(audit_new(i, "coord-1", &a), 0);

        assert_int_equal(audit_request(a, &alice, "rescan", "node-a", NULL, 1, on_done, &d), 0);
        fake_wait_calls(&f, 1); /* the first batch is in flight */
        /* records that arrive meanwhile wait and form the next batch */
        for (int k = 0; k < 10; k++)
                assert_int_equal(audit_request(a, &alice, "policy", "node-a", NULL, 2 + k, on_done, &d), 0);
        assert_int_equal(f.calls, 1);
        fake_set_block(&f, false);
        run_until(loop, &d.calls, 11);
        assert_int_equal(d.last_error, 0);
        assert_int_equal(f.calls, 2);
        assert_int_equal(f.last_n, 1); /* one value: the batch */
        assert_int_equal(intent_list(i, "audit/", count_batches, &bs), 0);
        assert_int_equal(bs.n, 2);
        assert_int_equal(bs.records, 11);

        /* long results: the waiting records are split into batches under the value limit */
        fake_set_block(&f, true);
        memset(result, 'r', sizeof result - 1);
        result[sizeof result - 1] = 0;
        assert_int_equal(audit_request(a, &alice, "rescan", "node-a", NULL, 100, on_done, &d), 0);
        fake_wait_calls(&f, 3);
        for (int k = 0; k < 100; k++)
                assert_int_equal(audit_result(a, &alice, "rescan", "node-a", NULL, 100, result), 0);
        fake_set_block(&f, false);
        run_until(loop, &d.calls, 12);
        /* the results have no completion: wait for the store to take them */
        for (int k = 0; k < 500; k++) {
                IntentStatus st;
                intent_get_status(i, &st);
                bs = (Batches) {};
                assert_int_equal(intent_list(i, "audit/", count_batches, &bs), 0);
                if (bs.records == 112 && st.queued == 0)
                        break;
                zloop_timer(loop, 10, 1, run_until_timeout, NULL);
                zloop_start(loop);
        }
        assert_int_equal(bs.records, 112);
        assert_true(bs.n >= 2 + 1 + 3); /* 100 KiB of results need at least three values */
        assert_true(bs.max_size <= INTENT_MAX_VALUE);

        a = audit_free(a);
        i = intent_close(i);
        zloop_destroy(&loop);
        testdb_remove(&t);
}

static void test_store_fails(void **state) {
        TestDb t;
        Intent *i = NULL;
        Audit *a = NULL;
        zloop_t *loop = zloop_new();
        Fake f;
        IntentBackend b;
        Done d = {};

        testdb_new(&t);
        fake_init(&f);
        f.fail = -ETIMEDOUT;
        b = fake_backend(&f);
        assert_int_equal(intent_open(t.path, &b, &i), 0);
        assert_int_equal(intent_attach(i, loop), 0);
        assert_int_equal(audit_new(i, "coord-1", &a), 0);
        assert_int_equal(audit_request(a, &alice, "node rm", "node-a", NULL, 0, on_done, &d), 0);
        run_until(loop, &d.calls, 1);
        assert_int_equal(d.last_error, -ETIMEDOUT);
        /* and the trail goes on once the store is back */
        f.fail = 0;
        assert_int_equal(audit_request(a, &alice, "node rm", "node-a", NULL, 0, on_done, &d), 0);
        run_until(loop, &d.calls, 2);
        assert_int_equal(d.last_error, 0);
        a = audit_free(a);
        i = intent_close(i);
        zloop_destroy(&loop);
        testdb_remove(&t);
}

/* What a command's record names: a batch create all its devices (DB/WAL ones marked), bounded;
 * a zap its device, with --destroy in the action. */
static void test_command_names(void **state) {
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        Castle__Zap z = CASTLE__ZAP__INIT;
        char *more[] = { (char *) "sdc" }, *db[] = { (char *) "nvme0n1" }, *many[200];
        size_t n;
        (void) state;

        c.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        c.osd_create = &oc;
        oc.device_id = (char *) "sdb";
        assert_string_equal(audit_command_device(&c), "sdb");
        oc.data_devices = more;
        oc.n_data_devices = 1;
        oc.db_devices = db;
        oc.n_db_devices = 1;
        assert_string_equal(audit_command_device(&c), "sdb,sdc,db:nvme0n1");
        assert_string_equal(audit_command_action(&c), "osd create");
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (char *) "wwn-0x5000c500a1b2c3d4";
        oc.data_devices = many;
        oc.n_data_devices = ELEMENTSOF(many);
        n = strlen(audit_command_device(&c));
        assert_true(n < AUDIT_DEVICES_MAX);
        assert_string_equal(audit_command_device(&c) + n - 4, ",...");

        c.kind_case = CASTLE__COMMAND__KIND_ZAP;
        c.zap = &z;
        z.device = (char *) "/dev/sdd";
        z.destroy = true;
        assert_string_equal(audit_command_device(&c), "/dev/sdd");
        assert_string_equal(audit_command_action(&c), "zap --destroy");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_and_list),
                cmocka_unit_test(test_batches),
                cmocka_unit_test(test_store_fails),
                cmocka_unit_test(test_command_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
