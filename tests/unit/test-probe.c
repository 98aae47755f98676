/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The content probe on image files: what `wipefs --no-act` lists on damaged and partial
 * structures (a GPT with its start zeroed, signatures at the end of the device, copies of one
 * signature) castle must read too. The integration tier checks the same against wipefs itself
 * on loop devices (tests/integration/test-wipefs-agree.sh). */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discovery/device.h"
#include "discovery/probe.h"

#define IMAGE_SIZE (UINT64_C(2) << 30)

#define TOOLTEST_TMPDIR "/tmp/castle-probe.XXXXXX"
#include "tests/unit/tooltest.h"

/* A sparse image of IMAGE_SIZE, made by "TOOL_ARGS IMG" when tool_args is set. */
static char *image(const char *name, const char *tool_args) {
        char *p, cmd[1024];

        assert_true(asprintf(&p, "%s/%s.img", tmpdir, name) > 0);
        (void) unlink(p);
        snprintf(cmd, sizeof cmd, "truncate -s %" PRIu64 " %s", IMAGE_SIZE, p);
        assert_int_equal(system(cmd), 0);
        if (tool_args) {
                snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", tool_args, p);
                assert_int_equal(system(cmd), 0);
        }
        return p;
}

static void put(const char *img, uint64_t offset, const void *buf, size_t n) {
        int fd = open(img, O_WRONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, buf, n, (off_t) offset), (ssize_t) n);
        close(fd);
}

static void zero(const char *img, uint64_t offset, size_t n) {
        _cleanup_free_ void *z = calloc(1, n);

        assert_non_null(z);
        put(img, offset, z, n);
}

static Device *probe(const char *img) {
        Device *d = device_new("img");
        struct stat st;

        assert_non_null(d);
        assert_int_equal(stat(img, &st), 0);
        d->size = (uint64_t) st.st_size;
        assert_int_equal(probe_device(d, img, &(ProbeOptions) { .test_exclusive = false }), 0);
        assert_true(d->probed);
        return d;
}

static size_t count_type(const Device *d, const char *type) {
        size_t n = 0;

        for (size_t i = 0; i < d->n_signatures; i++)
                n += streq_ptr(d->signatures[i].type, type);
        return n;
}

static void test_clean(void **state) {
        _cleanup_free_ char *img = image("clean", NULL);
        _cleanup_(device_freep) Device *d = probe(img);
        (void) state;

        assert_int_equal(d->n_signatures, 0);
        assert_null(d->pttype);
}

/* dd bs=1M count=1 over a GPT disk: the protective MBR and the primary header are gone, the
 * backup header at the last sector is not, and wipefs lists it. */
static void test_gpt_head_zeroed(void **state) {
        (void) state;
        REQUIRE_TOOL("sgdisk");
        _cleanup_free_ char *img = image("gpt-head", "sgdisk -n 1:2048:+1G");
        zero(img, 0, 1 << 20);
        _cleanup_(device_freep) Device *d = probe(img);

        assert_string_equal(d->pttype, "gpt");
        assert_int_equal(d->n_signatures, 0);
}

/* Only the protective MBR zeroed: both headers are there, as the kernel and wipefs see them. */
static void test_gpt_pmbr_zeroed(void **state) {
        (void) state;
        REQUIRE_TOOL("sgdisk");
        _cleanup_free_ char *img = image("gpt-pmbr", "sgdisk -n 1:2048:+1G");
        zero(img, 0, 512);
        _cleanup_(device_freep) Device *d = probe(img);

        assert_string_equal(d->pttype, "gpt");
}

/* Both headers zeroed: the protective MBR alone, which wipefs lists as PMBR. */
static void test_gpt_pmbr_only(void **state) {
        (void) state;
        REQUIRE_TOOL("sgdisk");
        _cleanup_free_ char *img = image("gpt-pmbr-only", "sgdisk -n 1:2048:+1G");
        zero(img, 512, 512);
        zero(img, IMAGE_SIZE - 512, 512);
        _cleanup_(device_freep) Device *d = probe(img);

        assert_string_equal(d->pttype, "PMBR");
}

/* ZFS labels 2 and 3 at the end of the device (labels 0 and 1 gone), under an ext4 at the
 * start: both are read, and the 16 uberblock copies make one zfs_member signature. */
static void test_zfs_end_labels(void **state) {
        (void) state;
        REQUIRE_TOOL("mkfs.ext4");
        _cleanup_free_ char *img = image("zfs-end", "mkfs.ext4 -q -F -E nodiscard");
        static const uint8_t ub[16] = { 0x0c, 0xb1, 0xba, 0x00, 0, 0, 0, 0, /* magic */
                                        0x88, 0x13, 0, 0, 0, 0, 0, 0 };     /* version 5000 */

        for (uint64_t label = IMAGE_SIZE - (512 << 10); label < IMAGE_SIZE; label += 256 << 10)
                for (unsigned i = 0; i < 8; i++)
                        put(img, label + (128 << 10) + i * 1024, ub, sizeof ub);
        _cleanup_(device_freep) Device *d = probe(img);

        assert_int_equal(count_type(d, "ext4"), 1);
        assert_int_equal(count_type(d, "zfs_member"), 1);
        assert_int_equal(d->n_signatures, 2);
}

/* A hostile device full of one signature's copies: the probe ends, and the device counts as
 * having that signature. */
static void test_many_copies(void **state) {
        _cleanup_free_ char *img = image("zfs-many", NULL);
        static const uint8_t ub[16] = { 0x0c, 0xb1, 0xba, 0x00, 0, 0, 0, 0,
                                        0x88, 0x13, 0, 0, 0, 0, 0, 0 };
        (void) state;

        for (uint64_t label = 0; label < (512 << 10); label += 256 << 10)
                for (unsigned i = 0; i < 128; i++)
                        put(img, label + (128 << 10) + i * 1024, ub, sizeof ub);
        _cleanup_(device_freep) Device *d = probe(img);

        assert_int_equal(count_type(d, "zfs_member"), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_clean),
                cmocka_unit_test(test_gpt_head_zeroed),
                cmocka_unit_test(test_gpt_pmbr_zeroed),
                cmocka_unit_test(test_gpt_pmbr_only),
                cmocka_unit_test(test_zfs_end_labels),
                cmocka_unit_test(test_many_copies),
        };
        int r = cmocka_run_group_tests(tests, setup, teardown);
        return tooltest_exit(r);
}
