/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Base64 (RFC 4648, with padding): cephx secrets (osd-prep/cephx.c) and the intent store's
 * values in the monitors' config-key store, which holds text (coordinator/intent-ceph.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The encoded length of n bytes, without the terminating NUL. */
static inline size_t base64_encoded_len(size_t n) {
        return (n + 2) / 3 * 4;
}

/* Whether c is one of base64's 64 characters (not the padding). */
bool base64_is_char(char c);

/* Writes the text of in's n bytes and a NUL to out (base64_encoded_len(n) + 1 bytes). */
void base64_encode(const uint8_t *in, size_t n, char *out);
/* Strict: whole quads, padding only at the end; a trailing newline is forgiven. -EBADMSG for
 * anything else. *ret is malloc'd. */
int base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size);
