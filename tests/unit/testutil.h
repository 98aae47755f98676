/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every cmocka test program includes. cmocka needs these headers first. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/macro.h"

/* Test data lives in the source tree; tests may run from a separate build tree. */
#define TEST_DATA_DIR CASTLE_SRCDIR "/tests/data"

/* Writes v as a protobuf varint at b; returns its length (at most 10 bytes). For tests that
 * build hostile wire bytes by hand. */
static inline size_t put_varint(uint8_t *b, uint64_t v) {
        size_t n = 0;

        do {
                b[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
        } while (v);
        return n;
}
