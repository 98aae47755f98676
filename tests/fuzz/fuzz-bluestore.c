/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The BlueStore label parser (discovery/bluestore.c): every input is read as the first bytes
 * of a device, as the probe reads them (up to BLUESTORE_LABEL_SIZE; longer inputs are cut
 * there, as the read is). What parses must be NUL-terminated strings within their fields. */
#include <stdio.h>

#include "discovery/bluestore.h"
#include "tests/fuzz/fuzz.h"

static void check_string(const char *field, const char *s, size_t size) {
        if (!memchr(s, 0, size)) {
                fprintf(stderr, "bluestore_label_parse() left %s unterminated\n", field);
                abort();
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_quiet();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        BlueStoreLabel label;
        int magic;

        size = MIN(size, (size_t) BLUESTORE_LABEL_SIZE);
        magic = bluestore_has_magic(data, size);
        memset(&label, 0xa5, sizeof label);
        if (bluestore_label_parse(data, size, &label) < 0) {
                if (magic) {
                        fprintf(stderr, "a buffer with the magic did not parse\n");
                        abort();
                }
                return 0;
        }
        check_string("osd_uuid", label.osd_uuid, sizeof label.osd_uuid);
        check_string("description", label.description, sizeof label.description);
        check_string("ceph_fsid", label.ceph_fsid, sizeof label.ceph_fsid);
        check_string("type", label.type, sizeof label.type);
        (void) bluestore_crc32c(0, data, size);
        return 0;
}
