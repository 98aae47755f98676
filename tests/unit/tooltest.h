/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* For test programs that make disk images with real tools (mkfs, sgdisk, cryptsetup) in a
 * scratch folder: the folder's setup and teardown, and REQUIRE_TOOL, which skips a test whose
 * tool is missing with the reason on stderr; tooltest_exit() then makes the program exit 77
 * (automake's SKIP) unless another test failed, so a skip is never a silent pass.
 * Define TOOLTEST_TMPDIR ("/tmp/castle-NAME.XXXXXX") before including it. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/testutil.h"

static char tmpdir[] = TOOLTEST_TMPDIR;
static unsigned n_skipped;

static inline int setup(void **state) {
        (void) state;
        return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int teardown(void **state) {
        char cmd[128];
        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static inline bool have(const char *tool) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
        return system(cmd) == 0;
}

#define REQUIRE_TOOL(tool)                                                                      \
        do {                                                                                    \
                if (!have(tool)) {                                                              \
                        fprintf(stderr, "SKIP: %s: %s is not installed (scripts/install-deps)\n", \
                                __func__, tool);                                                \
                        n_skipped++;                                                            \
                        skip();                                                                 \
                }                                                                               \
        } while (0)

/* main()'s return: cmocka's result r, or 77 when every test that ran passed but some were
 * skipped. */
static inline int tooltest_exit(int r) {
        if (r == 0 && n_skipped > 0) {
                fprintf(stderr, "SKIP: %u test(s) skipped for the reasons above; the others passed\n", n_skipped);
                return 77;
        }
        return r;
}
