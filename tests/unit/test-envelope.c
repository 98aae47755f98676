/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Envelope validation (what the coordinator accepts from the network): decoding on a budget,
 * bounds on every list, host names and clean text; and the agent's report diff. */
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

#define FLOOD_SIZE (16u << 20) /* the agents' ZMQ_MAXMSGSIZE */

/* An Envelope { protocol_version = 1, snapshot = Snapshot { ... } } whose snapshot is `head`
 * and then `unit` (n_unit bytes) reps times: at most FLOOD_SIZE bytes in all. */
static uint8_t *flood(const uint8_t *head, size_t n_head, const uint8_t *unit, size_t n_unit, size_t reps,
                      size_t *ret_size) {
        size_t body = n_head + reps * n_unit, w = 0;
        uint8_t *b = malloc(body + 16);

        assert_non_null(b);
        b[w++] = 0x08; /* protocol_version */
        b[w++] = CASTLE_PROTOCOL_VERSION;
        b[w++] = 11 << 3 | 2; /* snapshot */
        w += put_varint(b + w, body);
        if (n_head > 0) /* head may be NULL: memcpy() takes no NULL, even for 0 bytes */
                memcpy(b + w, head, n_head);
        w += n_head;
        for (size_t i = 0; i < reps; i++, w += n_unit)
                memcpy(b + w, unit, n_unit);
        *ret_size = w;
        return b;
}

/* One 16 MiB message of empty Devices took 3.8 GiB to decode: now it is refused as its bytes
 * are counted, before anything is allocated for it. */
static void test_budget_empty_devices(void **state) {
        static const uint8_t empty_device[] = { 2 << 3 | 2, 0 }; /* Snapshot.devices = {} */
        Castle__Envelope *back = NULL;
        CodecDecodeStats st;
        size_t n;
        _cleanup_free_ uint8_t *b = flood(NULL, 0, empty_device, sizeof empty_device,
                                          (FLOOD_SIZE - 16) / sizeof empty_device, &n);

        assert_int_equal(codec_envelope_unpack(b, n, &back), -E2BIG);
        codec_decode_stats(&st);
        assert_int_equal(st.last_budget, codec_decode_budget(n));
        assert_int_equal(st.last_allocated, 0);
}

/* A Device with 8 million empty links, or 5.6 million empty signatures, is refused whole, and
 * as cheaply. */
static void test_budget_empty_links(void **state) {
        /* Snapshot.devices = { kname = "sda", links = "", links = "", ... } */
        static const uint8_t empty_link[] = { 4 << 3 | 2, 0 }, empty_signature[] = { 0x92, 0x02, 0 };
        const uint8_t *units[] = { empty_link, empty_signature };
        const size_t unit_sizes[] = { sizeof empty_link, sizeof empty_signature };

        for (size_t u = 0; u < ELEMENTSOF(units); u++) {
                Castle__Envelope *back = NULL;
                CodecDecodeStats st;
                uint8_t head[16];
                size_t n, reps = (FLOOD_SIZE - 64) / unit_sizes[u], h = 0;
                _cleanup_free_ uint8_t *b = NULL;

                head[h++] = 2 << 3 | 2;
                h += put_varint(head + h, 5 + reps * unit_sizes[u]);
                memcpy(head + h, "\x12\x03sda", 5);
                h += 5;
                b = flood(head, h, units[u], unit_sizes[u], reps, &n);
                assert_true(n <= FLOOD_SIZE);
                assert_true(reps > 5000000);
                assert_int_equal(codec_envelope_unpack(b, n, &back), -E2BIG);
                codec_decode_stats(&st);
                assert_int_equal(st.last_allocated, 0);
        }
}

/* Every list within its bound and still a 16 MiB message that would take 20 times its size
 * (hundreds of devices of 16,384 empty mount points each): refused for its budget before
 * anything is allocated; and protobuf-c itself, on the budgeted allocator alone, stops at the
 * budget by the allocator's own count. */
static void test_budget_within_bounds(void **state) {
        size_t per_dev = 5 + 3 * CODEC_MAX_MOUNTPOINTS, n_dev = (FLOOD_SIZE - 64) / (per_dev + 4), h = 0, n;
        uint8_t *dev = malloc(per_dev + 8);
        Castle__Envelope *back = NULL;
        ProtobufCMessage *m = NULL;
        CodecDecodeStats st;
        _cleanup_free_ uint8_t *b = NULL;

        assert_non_null(dev);
        dev[h++] = 2 << 3 | 2; /* Snapshot.devices */
        h += put_varint(dev + h, per_dev);
        memcpy(dev + h, "\x12\x03sda", 5);
        h += 5;
        for (size_t i = 0; i < CODEC_MAX_MOUNTPOINTS; i++, h += 3)
                memcpy(dev + h, "\xfa\x01\x00", 3); /* Device.mountpoints = "" */
        b = flood(NULL, 0, dev, h, n_dev, &n);
        free(dev);
        assert_true(n <= FLOOD_SIZE);
        assert_int_equal(codec_envelope_unpack(b, n, &back), -EMSGSIZE);
        codec_decode_stats(&st);
        assert_int_equal(st.last_budget, codec_decode_budget(n));
        assert_int_equal(st.last_allocated, 0);
        assert_true(st.last_budget <= 9 * n); /* a small multiple of the frame */

        assert_int_equal(codec_unpack_on_budget(&castle__envelope__descriptor, b, n, codec_decode_budget(n), &m),
                         -EMSGSIZE);
        codec_decode_stats(&st);
        assert_true(st.last_allocated > 0);
        assert_true(st.last_allocated <= st.last_budget);
        assert_true(st.over_budget >= 2);

        /* the same bytes with room enough decode, and cost what the budget feared */
        assert_int_equal(codec_unpack_on_budget(&castle__envelope__descriptor, b, n, SIZE_MAX / 2, &m), 0);
        codec_decode_stats(&st);
        assert_true(st.last_allocated > codec_decode_budget(n));
        protobuf_c_message_free_unpacked(m, NULL);
}

static int snapshot_of(Castle__Device *dev, uint8_t **ret, size_t *ret_size) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device *devs[] = { dev };

        s.devices = devs;
        s.n_devices = 1;
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        return codec_pack(&e.base, ret, ret_size);
}

/* Lists within budget but over their bound are refused too; a real device passes. */
static void test_list_bounds(void **state) {
        Castle__Device d = CASTLE__DEVICE__INIT;
        Castle__Signature sig = CASTLE__SIGNATURE__INIT;
        Castle__LvmFacts lvm = CASTLE__LVM_FACTS__INIT;
        Castle__LogicalVolume lv = CASTLE__LOGICAL_VOLUME__INIT, *lvs[] = { &lv };
        Castle__LogicalVolume__Tag tag = CASTLE__LOGICAL_VOLUME__TAG__INIT;
        size_t max = MAX(CODEC_MAX_LINKS, MAX(CODEC_MAX_SIGNATURES, CODEC_MAX_LV_TAGS)) + 1;
        char **links = calloc(max, sizeof(char *));
        Castle__Signature **sigs = calloc(max, sizeof(void *));
        Castle__LogicalVolume__Tag **tags = calloc(max, sizeof(void *));
        Castle__Envelope *back = NULL;
        uint8_t *b;
        size_t n;

        assert_non_null(links);
        assert_non_null(sigs);
        assert_non_null(tags);
        for (size_t i = 0; i < max; i++) {
                links[i] = (char *) "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4";
                sigs[i] = &sig;
                tags[i] = &tag;
        }
        sig.type = (char *) "ext4";
        tag.key = (char *) "ceph.osd_id";
        tag.value = (char *) "12";
        d.kname = (char *) "sda";
        d.links = links;
        d.signatures = sigs;
        d.lvm = &lvm;
        lvm.lvs = lvs;
        lvm.n_lvs = 1;
        lv.tags = tags;

        d.n_links = CODEC_MAX_LINKS;
        d.n_signatures = CODEC_MAX_SIGNATURES;
        lv.n_tags = CODEC_MAX_LV_TAGS;
        assert_int_equal(snapshot_of(&d, &b, &n), 0);
        assert_int_equal(codec_envelope_unpack(b, n, &back), 0);
        assert_int_equal(back->snapshot->devices[0]->n_links, CODEC_MAX_LINKS);
        castle__envelope__free_unpacked(back, NULL);
        free(b);

        for (int which = 0; which < 3; which++) {
                d.n_links = CODEC_MAX_LINKS + (which == 0);
                d.n_signatures = CODEC_MAX_SIGNATURES + (which == 1);
                lv.n_tags = CODEC_MAX_LV_TAGS + (which == 2);
                assert_int_equal(snapshot_of(&d, &b, &n), 0);
                assert_int_equal(codec_envelope_unpack(b, n, &back), -E2BIG);
                free(b);
        }
        free(links);
        free(sigs);
        free(tags);
}

/* The largest honest snapshots decode within their budget: the most devices, each as small
 * as a device can be, and each as full as a real one. */
static void test_budget_fits_real_reports(void **state) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT, *back = NULL;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device **devs = calloc(CODEC_MAX_DEVICES, sizeof(Castle__Device *));
        Castle__Device small = CASTLE__DEVICE__INIT;
        Castle__QueueFacts q = CASTLE__QUEUE_FACTS__INIT;
        Castle__LvmFacts lvm = CASTLE__LVM_FACTS__INIT;
        Castle__Reason reason = CASTLE__REASON__INIT, *reasons[] = { &reason, &reason, &reason };
        CodecDecodeStats st;
        uint8_t *b;
        size_t n;

        assert_non_null(devs);
        small.kname = (char *) "sda";
        small.queue = &q;
        small.lvm = &lvm;
        small.reasons = reasons;
        small.n_reasons = ELEMENTSOF(reasons);
        for (size_t i = 0; i < CODEC_MAX_DEVICES; i++)
                devs[i] = &small;
        s.devices = devs;
        s.n_devices = CODEC_MAX_DEVICES;
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), 0);
        codec_decode_stats(&st);
        print_message("%u nearly empty devices: %zu bytes, %zu allocated, budget %zu\n", CODEC_MAX_DEVICES, n,
                      st.last_allocated, st.last_budget);
        assert_true(st.last_allocated * 3 / 2 <= st.last_budget); /* with room to spare */
        castle__envelope__free_unpacked(back, NULL);
        free(b);
        free(devs);
}

/* Hello.hostname is a host name or nothing; ESC and newline are refused, not cleaned. */
static void test_hostname(void **state) {
        static const char *const good[] = { "", "node-1", "node-1.example.com", "ip-10-0-0-1.ec2.internal",
                                            "old_host", "A1" };
        static const char *const bad[] = { "evil\033[2J", "host\ncastle-coordinator: Node x connected.",
                                           "-lead", "trail-", "a..b", ".a", "a.", "two words", "h\xc3\xa9",
                                           "a\tb" };
        Castle__Envelope e = CASTLE__ENVELOPE__INIT, *back = NULL;
        Castle__Hello h = CASTLE__HELLO__INIT;
        char long_label[80], long_name[CODEC_MAX_HOSTNAME_LEN + 2];
        uint8_t *b;
        size_t n;

        memset(long_label, 'a', sizeof long_label - 1);
        long_label[sizeof long_label - 1] = 0;
        for (size_t i = 0; i < sizeof long_name - 1; i++)
                long_name[i] = i % 10 == 9 ? '.' : 'a';
        long_name[sizeof long_name - 1] = 0;
        assert_false(codec_valid_hostname(long_label));
        assert_false(codec_valid_hostname(long_name));
        long_label[63] = 0;
        assert_true(codec_valid_hostname(long_label));

        h.node_id = (char *) "node-1";
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                h.hostname = (char *) good[i];
                b = pack(&e, &n);
                assert_int_equal(codec_envelope_unpack(b, n, &back), 0);
                assert_string_equal(back->hello->hostname, good[i]);
                castle__envelope__free_unpacked(back, NULL);
                free(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                h.hostname = (char *) bad[i];
                b = pack(&e, &n);
                assert_int_equal(codec_envelope_unpack(b, n, &back), -EINVAL);
                free(b);
        }
}

/* Other text is made printable and cut to length; a newer peer's unknown fields are dropped. */
static void test_clean_text(void **state) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT, *back = NULL;
        Castle__Hello h = CASTLE__HELLO__INIT;
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
        char long_text[CODEC_MAX_TEXT_LEN + 100];
        uint8_t *b, *b2;
        size_t n;

        h.node_id = (char *) "node-1";
        h.hostname = (char *) "node-1";
        h.agent_version = (char *) "0.1\033[2J\r\nfake: line\x7f \xc2\x9b" "1m \xff\xc3 caf\xc3\xa9 \xe2\x82\xac";
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        b = pack(&e, &n);
        /* an unknown field 99 (a string) after the known ones */
        b2 = malloc(n + 5);
        assert_non_null(b2);
        memcpy(b2, b, n);
        memcpy(b2 + n, "\x9a\x06\x02hi", 5);
        assert_int_equal(codec_envelope_unpack(b2, n + 5, &back), 0);
        assert_string_equal(back->hello->agent_version, "0.1?[2J  fake: line? ?1m ?? caf\xc3\xa9 \xe2\x82\xac");
        assert_int_equal(back->base.n_unknown_fields, 0);
        castle__envelope__free_unpacked(back, NULL);
        free(b2);

        /* ... but only so many of them; and a singular field is written once, not over and over */
        b2 = malloc(n + 5 * (CODEC_MAX_UNKNOWN_FIELDS + 1));
        assert_non_null(b2);
        memcpy(b2, b, n);
        for (size_t i = 0; i < CODEC_MAX_UNKNOWN_FIELDS; i++)
                memcpy(b2 + n + 5 * i, "\x9a\x06\x02hi", 5);
        assert_int_equal(codec_envelope_unpack(b2, n + 5 * CODEC_MAX_UNKNOWN_FIELDS, &back), 0);
        castle__envelope__free_unpacked(back, NULL);
        memcpy(b2 + n + 5 * CODEC_MAX_UNKNOWN_FIELDS, "\x9a\x06\x02hi", 5);
        assert_int_equal(codec_envelope_unpack(b2, n + 5 * (CODEC_MAX_UNKNOWN_FIELDS + 1), &back), -E2BIG);
        for (size_t i = 0; i <= CODEC_MAX_SINGULAR_REPEATS; i++)
                memcpy(b2 + n + 2 * i, "\x10\x01", 2); /* message_id = 1 */
        assert_int_equal(codec_envelope_unpack(b2, n + 2 * (CODEC_MAX_SINGULAR_REPEATS + 1), &back), -E2BIG);
        free(b);
        free(b2);

        memset(long_text, 'x', sizeof long_text - 1);
        long_text[sizeof long_text - 1] = 0;
        memcpy(long_text + CODEC_MAX_TEXT_LEN - 1, "\xc3\xa9", 2); /* a character across the cut */
        u.error = long_text;
        u.message = (char *) "step 1\nstep 2";
        e.body_case = CASTLE__ENVELOPE__BODY_JOB_UPDATE;
        e.job_update = &u;
        b = pack(&e, &n);
        assert_int_equal(codec_envelope_unpack(b, n, &back), 0);
        assert_int_equal(strlen(back->job_update->error), CODEC_MAX_TEXT_LEN - 1);
        assert_string_equal(back->job_update->message, "step 1 step 2");
        castle__envelope__free_unpacked(back, NULL);
        free(b);
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
                cmocka_unit_test(test_budget_empty_devices),
                cmocka_unit_test(test_budget_empty_links),
                cmocka_unit_test(test_budget_within_bounds),
                cmocka_unit_test(test_list_bounds),
                cmocka_unit_test(test_budget_fits_real_reports),
                cmocka_unit_test(test_hostname),
                cmocka_unit_test(test_clean_text),
                cmocka_unit_test(test_report_diff),
                cmocka_unit_test(test_commands),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
