/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The codec: C enums agree with proto/castle.proto, the JSON carries every proto field, and
 * messages survive a pack/unpack round trip while garbage is refused. */
#include "tests/unit/testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/strv.h"
#include "discovery/devscan.h"
#include "proto/codec.h"
#include "proto/devproto.h"

static void test_reason_codes_match_proto(void **state) {
        const ProtobufCEnumDescriptor *e = &castle__reason__code__descriptor;

        /* Every C reason has the proto value of the same number and name, and back. */
        for (ReasonCode c = 1; c < _REASON_MAX; c++) {
                _cleanup_free_ char *name = codec_enum_json_name(e, (int) c);
                assert_non_null(protobuf_c_enum_descriptor_get_value(e, (int) c));
                assert_string_equal(name, reason_code_name(c));
        }
        assert_int_equal(e->n_values, _REASON_MAX);
}

static void test_type_and_transport_match_proto(void **state) {
        for (DeviceType t = 0; t < _DEVICE_TYPE_MAX; t++) {
                _cleanup_free_ char *name = codec_enum_json_name(&castle__device__type__descriptor, (int) t);
                assert_string_equal(name, device_type_to_string(t));
        }
        assert_int_equal(castle__device__type__descriptor.n_values, _DEVICE_TYPE_MAX);
        for (Transport t = 0; t < _TRANSPORT_MAX; t++) {
                _cleanup_free_ char *name = codec_enum_json_name(&castle__device__transport__descriptor, (int) t);
                assert_string_equal(name, transport_to_string(t));
        }
        assert_int_equal(castle__device__transport__descriptor.n_values, _TRANSPORT_MAX);
}

static Device *sample(void) {
        Device *d = device_new("sdb");

        assert_non_null(d);
        d->path = strdup("/dev/sdb");
        d->devnum = makedev(8, 16);
        d->stable_id = strdup("wwn-0x5000c500a1b2c3d4_ZA1");
        d->type = DEVICE_TYPE_DISK;
        d->transport = TRANSPORT_SAS;
        d->size = UINT64_C(4000787030016);
        d->rotational = true;
        d->probed = true;
        assert_int_equal(strv_extend(&d->links, "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"), 0);
        assert_int_equal(device_add_signature(d, "ceph_bluestore", "other", NULL, NULL, NULL), 0);
        d->label_offsets[d->n_label_offsets++] = 0;
        d->label_offsets[d->n_label_offsets++] = UINT64_C(1) << 30;
        assert_int_equal(device_add_ceph(d, &(CephFacts) { .source = (char *) "bluestore-label",
                                                           .osd_uuid = (char *) "9d6c", .osd_id = 12 }),
                         0);
        d->reasons = REASON_BIT(REASON_HAS_FILESYSTEM) | REASON_BIT(REASON_HAS_BLUESTORE_LABEL);
        return d;
}

static void test_json_has_every_field(void **state) {
        _cleanup_(device_freep) Device *d = sample();
        const ProtobufCMessageDescriptor *desc = &castle__device__descriptor;
        Castle__Device *m = NULL;
        json_object *o, *v, *reasons;

        assert_int_equal(devproto_device_new(d, &m), 0);
        o = codec_message_to_json(&m->base);
        assert_non_null(o);
        for (unsigned i = 0; i < desc->n_fields; i++)
                assert_true(json_object_object_get_ex(o, desc->fields[i].name, NULL));
        assert_int_equal(json_object_object_length(o), desc->n_fields);

        assert_true(json_object_object_get_ex(o, "transport", &v));
        assert_string_equal(json_object_get_string(v), "sas");
        assert_true(json_object_object_get_ex(o, "size", &v));
        assert_int_equal(json_object_get_uint64(v), UINT64_C(4000787030016));
        assert_true(json_object_object_get_ex(o, "major", &v));
        assert_int_equal(json_object_get_int(v), 8);
        assert_true(json_object_object_get_ex(o, "reasons", &reasons));
        assert_int_equal(json_object_array_length(reasons), 2);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(reasons, 0), "code", &v));
        assert_string_equal(json_object_get_string(v), "has_bluestore_label");
        assert_true(json_object_object_get_ex(json_object_array_get_idx(reasons, 1), "message", &v));
        assert_string_equal(json_object_get_string(v), "Has a FileSystem");
        assert_true(json_object_object_get_ex(o, "bluestore_label_offsets", &v));
        assert_int_equal(json_object_get_uint64(json_object_array_get_idx(v, 1)), UINT64_C(1) << 30);
        assert_true(json_object_object_get_ex(o, "lvm", &v));
        assert_null(v); /* no LVM facts: null, not a made-up empty record */
        json_object_put(o);
        devproto_device_free(m);
}

static void test_round_trip(void **state) {
        _cleanup_(device_freep) Device *d = sample();
        Castle__Device *m = NULL, *back;
        uint8_t *buf;
        size_t n;

        assert_int_equal(devproto_device_new(d, &m), 0);
        n = protobuf_c_message_get_packed_size(&m->base);
        buf = malloc(n);
        assert_non_null(buf);
        assert_int_equal(protobuf_c_message_pack(&m->base, buf), n);
        back = castle__device__unpack(NULL, n, buf);
        assert_non_null(back);
        assert_string_equal(back->stable_id, "wwn-0x5000c500a1b2c3d4_ZA1");
        assert_int_equal(back->n_ceph, 1);
        assert_int_equal(back->ceph[0]->osd_id, 12);
        assert_int_equal(back->n_reasons, 2);
        castle__device__free_unpacked(back, NULL);

        /* Every truncation of a valid message either decodes or is refused; none crashes
         * (ASan watches in CI). */
        for (size_t k = 0; k < n; k++) {
                back = castle__device__unpack(NULL, k, buf);
                if (back)
                        castle__device__free_unpacked(back, NULL);
        }
        /* A length prefix that claims far more than there is. */
        {
                static const uint8_t evil[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x' };
                assert_null(castle__device__unpack(NULL, sizeof evil, evil));
        }
        free(buf);
        devproto_device_free(m);
}

/* Real reports decode well within their budget: every device of the captured trees, as one
 * snapshot, and as many copies of them as a snapshot may carry. Prints what they cost. */
static void test_real_reports_fit_budget(void **state) {
        static const char *const trees[] = { "nvme-sata", "lvm-osd", "os-disk" };
        Castle__Device **all = NULL;
        size_t n_all = 0;

        for (size_t t = 0; t < ELEMENTSOF(trees); t++) {
                _cleanup_(scan_result_freep) ScanResult *res = NULL;
                _cleanup_free_ char *root = NULL;

                assert_true(asprintf(&root, "%s/%s", TEST_DATA_DIR, trees[t]) > 0);
                assert_int_equal(devscan_run(&(ScanOptions) { .sysroot = root }, &res), 0);
                all = reallocarray(all, n_all + res->devices->n, sizeof(Castle__Device *));
                assert_non_null(all);
                for (size_t i = 0; i < res->devices->n; i++)
                        assert_int_equal(devproto_device_new(res->devices->items[i], &all[n_all++]), 0);
        }
        assert_true(n_all > 10);

        for (size_t copies = 1; copies * n_all <= CODEC_MAX_DEVICES; copies = CODEC_MAX_DEVICES / n_all) {
                Castle__Envelope e = CASTLE__ENVELOPE__INIT, *back = NULL;
                Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
                Castle__Device **devs = calloc(copies * n_all, sizeof(Castle__Device *));
                CodecDecodeStats st;
                uint8_t *b;
                size_t n;

                assert_non_null(devs);
                for (size_t i = 0; i < copies * n_all; i++)
                        devs[i] = all[i % n_all];
                s.devices = devs;
                s.n_devices = copies * n_all;
                e.protocol_version = CASTLE_PROTOCOL_VERSION;
                e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
                e.snapshot = &s;
                assert_int_equal(codec_pack(&e.base, &b, &n), 0);
                assert_int_equal(codec_envelope_unpack(b, n, &back), 0);
                codec_decode_stats(&st);
                print_message("%zu real devices: %zu bytes, %zu allocated (%.1f times), budget %zu\n",
                              s.n_devices, n, st.last_allocated, (double) st.last_allocated / (double) n,
                              st.last_budget);
                /* with room to spare: real devices cost about 4 times their bytes */
                assert_true(st.last_allocated * 2 <= st.last_budget);
                castle__envelope__free_unpacked(back, NULL);
                free(b);
                free(devs);
                if (copies > 1)
                        break;
        }
        for (size_t i = 0; i < n_all; i++)
                devproto_device_free(all[i]);
        free(all);
}

static void test_enum_json_name(void **state) {
        _cleanup_free_ char *a = codec_enum_json_name(&castle__device__transport__descriptor, 0),
                            *b = codec_enum_json_name(&castle__reason__code__descriptor, 0),
                            *c = codec_enum_json_name(&castle__device__type__descriptor, 99);

        assert_string_equal(a, "unknown");
        assert_string_equal(b, "unspecified");
        assert_string_equal(c, "99");
}

static void test_oneof_name(void **state) {
        assert_string_equal(
                codec_oneof_name(&castle__envelope__descriptor, CASTLE__ENVELOPE__BODY_JOB_UPDATE),
                "job_update");
        assert_string_equal(codec_oneof_name(&castle__command__descriptor, CASTLE__COMMAND__KIND_OSD_CREATE),
                            "osd_create");
        assert_null(codec_oneof_name(&castle__envelope__descriptor, CASTLE__ENVELOPE__BODY__NOT_SET));
        assert_null(codec_oneof_name(&castle__envelope__descriptor, 9999));
}

/* A spec's YAML crosses the wire whole: its lines and indentation (other text has its line
 * breaks made blanks) and past the 4 KiB cut of other text. */
static void test_yaml_kept(void **state) {
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT, *back = NULL;
        Castle__SpecApply a = CASTLE__SPEC_APPLY__INIT;
        size_t n = 3 * CODEC_MAX_TEXT_LEN;
        char *yaml = malloc(n + 1);
        uint8_t *buf = NULL;
        size_t size = 0;

        assert_non_null(yaml);
        for (size_t i = 0; i < n; i++)
                yaml[i] = i % 16 == 15 ? '\n' : i % 16 < 2 ? ' ' : 'a';
        yaml[n] = 0;
        a.yaml = yaml;
        q.protocol_version = CASTLE_PROTOCOL_VERSION;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_APPLY;
        q.apply = &a;
        assert_int_equal(codec_pack(&q.base, &buf, &size), 0);
        assert_int_equal(codec_query_request_unpack(buf, size, &back), 0);
        assert_string_equal(back->apply->yaml, yaml);
        castle__query_request__free_unpacked(back, NULL);
        free(buf);
        free(yaml);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reason_codes_match_proto),
                cmocka_unit_test(test_type_and_transport_match_proto),
                cmocka_unit_test(test_json_has_every_field),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_enum_json_name),
                cmocka_unit_test(test_real_reports_fit_budget),
                cmocka_unit_test(test_oneof_name),
                cmocka_unit_test(test_yaml_kept),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
