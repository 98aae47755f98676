/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Envelope validation (what the coordinator accepts from the network) and the agent's
 * report diff. */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "agent/report.h"
#include "proto/codec.h"

static uint8_t *pack(Castle__Envelope *e, size_t *n) {
        uint8_t *b = NULL;

        assert_int_equal(codec_pack(&e->base, &b, n), 0);
        return b;
}

static void test_valid_hello(void **state) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT, *back = NULL;
        Castle__Hello h = CASTLE__HELLO__INIT;
        uint8_t *b;
        size_t n;

        h.node_id = (char *) "node-1";
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), 0);
        assert_string_equal(back->hello->node_id, "node-1");
        castle__envelope__free_unpacked(back, NULL);

        /* every truncation is refused or decodes to something valid; none crashes */
        for (size_t k = 0; k < n; k++)
                if (codec_envelope_unpack(b, k, &back) == 0)
                        castle__envelope__free_unpacked(back, NULL);
        free(b);
}

static void test_refusals(void **state) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT, *back = NULL;
        Castle__Hello h = CASTLE__HELLO__INIT;
        Castle__Delta d = CASTLE__DELTA__INIT;
        char *removed[] = { (char *) "has blank" };
        uint8_t *b;
        size_t n;

        assert_int_equal(codec_envelope_unpack((const uint8_t *) "\xff\xfe garbage", 10, &back), -EBADMSG);

        e.protocol_version = 2;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        h.node_id = (char *) "n";
        e.hello = &h;
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), -EPROTO);
        free(b);

        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        h.node_id = (char *) "";
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), -EINVAL);
        free(b);

        e.body_case = CASTLE__ENVELOPE__BODY__NOT_SET;
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), -EBADMSG);
        free(b);

        e.body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &d;
        d.removed = removed;
        d.n_removed = 1;
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), -EINVAL);
        free(b);
}

static void test_too_many_devices(void **state) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT, *back = NULL;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device dev = CASTLE__DEVICE__INIT;
        Castle__Device **devs = calloc(CODEC_MAX_DEVICES + 1, sizeof(Castle__Device *));
        uint8_t *b;
        size_t n;

        assert_non_null(devs);
        dev.kname = (char *) "sda";
        for (size_t i = 0; i <= CODEC_MAX_DEVICES; i++)
                devs[i] = &dev;
        s.devices = devs;
        s.n_devices = CODEC_MAX_DEVICES + 1;
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), -E2BIG);
        free(b);
        s.n_devices = CODEC_MAX_DEVICES;
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), 0);
        castle__envelope__free_unpacked(back, NULL);
        free(b);
        free(devs);
}

static Device *dev(const char *kname, const char *id, uint64_t size) {
        Device *d = device_new(kname);

        assert_non_null(d);
        d->type = DEVICE_TYPE_DISK;
        d->stable_id = id ? strdup(id) : NULL;
        d->size = size;
        d->probed = true;
        return d;
}

/* Commands become a helper's arguments on the node: only well-formed ones pass. */
static void test_commands(void **state) {
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        Castle__Policy p = CASTLE__POLICY__INIT;
        (void) state;

        assert_int_equal(codec_validate_command(NULL), -EBADMSG);
        assert_int_equal(codec_validate_command(&c), -EBADMSG); /* no kind */
        c.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        c.osd_create = &oc;
        oc.device_id = (char *) "";
        assert_int_equal(codec_validate_command(&c), -EINVAL);
        oc.device_id = (char *) "--conf=/tmp/evil.conf"; /* would be read as an option */
        assert_int_equal(codec_validate_command(&c), -EINVAL);
        oc.device_id = (char *) "wwn-0x5000 ; rm -rf /";
        assert_int_equal(codec_validate_command(&c), -EINVAL);
        oc.device_id = (char *) "wwn-0x5000c500a1b2c3d4_ZA1234";
        assert_int_equal(codec_validate_command(&c), 0);
        oc.crush_device_class = (char *) "s s d";
        assert_int_equal(codec_validate_command(&c), -EINVAL);
        oc.crush_device_class = (char *) "nvme";
        assert_int_equal(codec_validate_command(&c), 0);

        c.kind_case = CASTLE__COMMAND__KIND_POLICY;
        c.policy = &p;
        p.auto_prepare = true;
        assert_int_equal(codec_validate_command(&c), 0);
        p.name_filter = (char *) "^loop2[0-9]$";
        assert_int_equal(codec_validate_command(&c), 0);
        p.path_filter = (char *) "two words";
        assert_int_equal(codec_validate_command(&c), -EINVAL);
}

static void test_report_diff(void **state) {
        _cleanup_(device_list_freep) DeviceList *l1 = device_list_new(), *l2 = device_list_new();
        ScanResult s1 = { .devices = l1 }, s2 = { .devices = l2 };
        Filter f;
        ReportSelection sel = { .filter = &f };
        _cleanup_(report_freep) Report *r1 = NULL, *r2 = NULL;
        Castle__Device **changed = NULL;
        char **removed = NULL;
        size_t nc, nr;

        filter_init(&f);
        assert_int_equal(device_list_add(l1, dev("sda", "wwn-a", 10)), 0);
        assert_int_equal(device_list_add(l1, dev("sdb", "wwn-b", 10)), 0);
        assert_int_equal(device_list_add(l1, dev("sdc", NULL, 10)), 0);
        assert_int_equal(device_list_add(l2, dev("sdb", "wwn-b", 10)), 0);  /* unchanged */
        assert_int_equal(device_list_add(l2, dev("sdc", NULL, 20)), 0);     /* changed */
        assert_int_equal(device_list_add(l2, dev("sdd", "wwn-d", 10)), 0);  /* new */
        assert_int_equal(report_build(&s1, &sel, &r1), 0);
        assert_int_equal(report_build(&s2, &sel, &r2), 0);
        assert_int_equal(r1->n, 3);
        assert_string_equal(r1->entries[0].key, "kname:sdc");

        assert_int_equal(report_diff(r1, r2, &changed, &nc, &removed, &nr), 0);
        assert_int_equal(nc, 2);
        assert_string_equal(changed[0]->kname, "sdc");
        assert_string_equal(changed[1]->kname, "sdd");
        assert_int_equal(nr, 1);
        assert_string_equal(removed[0], "wwn-a");
        free(changed);
        free(removed);

        /* the same picture twice: nothing to send */
        assert_int_equal(report_diff(r2, r2, &changed, &nc, &removed, &nr), 0);
        assert_int_equal(nc + nr, 0);
        free(changed);
        free(removed);
        filter_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_hello),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_too_many_devices),
                cmocka_unit_test(test_report_diff),
                cmocka_unit_test(test_commands),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
