/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text from outside (peers, disks, helpers) made safe to print: nothing it carries may move a
 * terminal's cursor, clear a screen or start a new log line. The test for a printable
 * character is inline so that proto/codec.c, which links no common/ code, shares it. */
#pragma once

#include <stdint.h>
#include <stdio.h>

/* The length of the UTF-8 character at s (n bytes readable) if it is printable: 0 for a
 * control character (C0, DEL, C1), a truncated, overlong or surrogate sequence, or a byte
 * that starts no character. */
static inline size_t utf8_printable_len(const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;
        uint32_t c;
        size_t len;

        if (n == 0)
                return 0;
        if (u[0] < 0x80)
                return u[0] >= 0x20 && u[0] != 0x7f;
        if (u[0] >= 0xc2 && u[0] <= 0xdf) {
                len = 2;
                c = u[0] & 0x1f;
        } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
                len = 3;
                c = u[0] & 0x0f;
        } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
                len = 4;
                c = u[0] & 0x07;
        } else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((u[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (u[i] & 0x3f);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
            (c >= 0xd800 && c <= 0xdfff) || (c >= 0x80 && c <= 0x9f))
                return 0;
        return len;
}

/* Writes s to f with every byte that is not part of a printable character escaped: \n, \r
 * and \t as such, anything else as \xNN. A backslash stays as it is. */
void fputs_escaped(const char *s, FILE *f);
/* s escaped the same way, in a new string; NULL on allocation failure. */
char *strdup_escaped(const char *s);
