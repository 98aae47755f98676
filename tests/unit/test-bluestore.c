/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BlueStore label parser: real layout, checksum, and hostile or damaged input. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "discovery/bluestore.h"

/* Writes a label as Ceph's bluestore_bdev_label_t::encode + _write_bdev_label do. */
typedef struct Buf {
        uint8_t b[BLUESTORE_LABEL_SIZE];
        size_t n;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
        memcpy(b->b + b->n, p, n);
        b->n += n;
}
static void put_u32(Buf *b, uint32_t v) {
        uint8_t x[4] = { v, v >> 8, v >> 16, v >> 24 };
        put(b, x, 4);
}
static void put_u64(Buf *b, uint64_t v) {
        put_u32(b, (uint32_t) v);
        put_u32(b, (uint32_t) (v >> 32));
}
static void put_str(Buf *b, const char *s) {
        put_u32(b, (uint32_t) strlen(s));
        put(b, s, strlen(s));
}

static const uint8_t uuid[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
#define UUID_TEXT "12345678-9abc-def0-0123-456789abcdef"
#define FSID "0f2e1b9e-7a7c-4c54-9e54-6d8b7a3c2f10"

static size_t make_label(Buf *b, const char *whoami) {
        size_t len_at, start;

        memset(b, 0, sizeof *b);
        put(b, "bluestore block device\n" UUID_TEXT "\n", 60);
        put(b, "\x02\x01", 2);     /* struct_v 2, compat 1 */
        len_at = b->n;
        put_u32(b, 0);             /* length, patched below */
        start = b->n;
        put(b, uuid, 16);
        put_u64(b, UINT64_C(10737418240));
        put_u64(b, 0);             /* btime */
        put_str(b, "main");
        put_u32(b, whoami ? 4 : 3);
        put_str(b, "ceph_fsid");
        put_str(b, FSID);
        put_str(b, "kv_backend");
        put_str(b, "rocksdb");
        put_str(b, "type");
        put_str(b, "bluestore");
        if (whoami) {
                put_str(b, "whoami");
                put_str(b, whoami);
        }
        {
                uint32_t len = (uint32_t) (b->n - start);
                uint8_t x[4] = { len, len >> 8, len >> 16, len >> 24 };
                memcpy(b->b + len_at, x, 4);
        }
        put_u32(b, bluestore_crc32c(UINT32_MAX, b->b, b->n));
        return b->n;
}

static void test_crc32c_known_value(void **state) {
        /* RFC 3720 B.4 check value for crc32c("123456789") with the usual inversions. */
        assert_int_equal(~bluestore_crc32c(UINT32_MAX, "123456789", 9), 0xE3069283);
}

static void test_parse_full_label(void **state) {
        Buf b;
        BlueStoreLabel l;

        make_label(&b, "7");
        assert_int_equal(bluestore_has_magic(b.b, sizeof b.b), 1);
        assert_int_equal(bluestore_label_parse(b.b, sizeof b.b, &l), 0);
        assert_true(l.crc_ok);
        assert_string_equal(l.osd_uuid, UUID_TEXT);
        assert_string_equal(l.ceph_fsid, FSID);
        assert_string_equal(l.description, "main");
        assert_string_equal(l.type, "bluestore");
        assert_int_equal(l.osd_id, 7);
        assert_int_equal(l.size, UINT64_C(10737418240));
}

static void test_label_without_whoami(void **state) {
        Buf b;
        BlueStoreLabel l;

        make_label(&b, NULL);
        assert_int_equal(bluestore_label_parse(b.b, sizeof b.b, &l), 0);
        assert_true(l.crc_ok);
        assert_int_equal(l.osd_id, -1);
}

static void test_no_label(void **state) {
        uint8_t zero[BLUESTORE_LABEL_SIZE] = {};
        BlueStoreLabel l;

        assert_int_equal(bluestore_has_magic(zero, sizeof zero), 0);
        assert_int_equal(bluestore_label_parse(zero, sizeof zero, &l), -ENODATA);
        /* Shorter than the magic: not a label, and no read past the end. */
        assert_int_equal(bluestore_label_parse("bluestore", 9, &l), -ENODATA);
}

static void test_header_only_is_still_a_label(void **state) {
        /* What a test (or a half-written label) leaves: the text header alone. Fail-safe:
         * it is a label, with the uuid from the text and nothing trusted from the rest. */
        uint8_t b[BLUESTORE_LABEL_SIZE] = {};
        BlueStoreLabel l;

        memcpy(b, "bluestore block device\n" UUID_TEXT "\n", 60);
        assert_int_equal(bluestore_label_parse(b, sizeof b, &l), 0);
        assert_false(l.crc_ok);
        assert_string_equal(l.osd_uuid, UUID_TEXT);
        assert_int_equal(l.osd_id, -1);
        assert_string_equal(l.ceph_fsid, "");
}

static void test_bad_checksum_trusts_nothing_binary(void **state) {
        Buf b;
        BlueStoreLabel l;

        make_label(&b, "3");
        b.b[b.n - 1] ^= 0xff;
        assert_int_equal(bluestore_label_parse(b.b, sizeof b.b, &l), 0);
        assert_false(l.crc_ok);
        assert_int_equal(l.osd_id, -1);
        assert_string_equal(l.ceph_fsid, "");
}

static void test_hostile_lengths(void **state) {
        Buf b;
        BlueStoreLabel l;

        /* Struct length far beyond the buffer. */
        make_label(&b, "1");
        memset(b.b + 62, 0xff, 4);
        assert_int_equal(bluestore_label_parse(b.b, sizeof b.b, &l), 0);
        assert_false(l.crc_ok);

        /* A string length beyond the struct: the description length field. */
        make_label(&b, "1");
        memset(b.b + 66 + 16 + 16, 0xff, 4);
        assert_int_equal(bluestore_label_parse(b.b, sizeof b.b, &l), 0);
        assert_false(l.crc_ok);

        /* Truncated buffers of every length up to the full label parse without reading out of
         * bounds (run under ASan in CI). */
        make_label(&b, "1");
        for (size_t n = 0; n <= b.n; n++)
                (void) bluestore_label_parse(b.b, n, &l);
}

static void test_real_pacific_label(void **state) {
        /* Written by Ceph 16.2.15's ceph-osd --mkfs: proves the layout and the checksum. */
        uint8_t b[BLUESTORE_LABEL_SIZE];
        BlueStoreLabel l;
        FILE *f = fopen(TEST_DATA_DIR "/bluestore-label-pacific.bin", "re");

        assert_non_null(f);
        assert_int_equal(fread(b, 1, sizeof b, f), sizeof b);
        fclose(f);
        assert_int_equal(bluestore_label_parse(b, sizeof b, &l), 0);
        assert_true(l.crc_ok);
        assert_string_equal(l.osd_uuid, "7cef2368-65f5-4eea-a2ec-faffe77ebcd2");
        assert_string_equal(l.ceph_fsid, "bdef98a7-52a3-41f7-aad5-ebc99f47a9aa");
        assert_int_equal(l.osd_id, 7);
        assert_string_equal(l.description, "main");
        assert_string_equal(l.type, ""); /* Pacific keeps "type" in the OSD directory only */
        assert_int_equal(l.size, UINT64_C(12884901888));
}

static void test_offsets(void **state) {
        assert_int_equal(bluestore_label_offsets[0], 0);
        assert_int_equal(bluestore_label_offsets[1], UINT64_C(1) << 30);
        assert_int_equal(bluestore_label_offsets[2], UINT64_C(10) << 30);
        assert_int_equal(bluestore_label_offsets[3], UINT64_C(100) << 30);
        assert_int_equal(bluestore_label_offsets[4], UINT64_C(1000) << 30);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc32c_known_value),
                cmocka_unit_test(test_parse_full_label),
                cmocka_unit_test(test_label_without_whoami),
                cmocka_unit_test(test_no_label),
                cmocka_unit_test(test_header_only_is_still_a_label),
                cmocka_unit_test(test_bad_checksum_trusts_nothing_binary),
                cmocka_unit_test(test_hostile_lengths),
                cmocka_unit_test(test_real_pacific_label),
                cmocka_unit_test(test_offsets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
