/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Base64 both ways, with padding (RFC 4648). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/macro.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool base64_is_char(char c) {
        return c && strchr(b64, c);
}

void base64_encode(const uint8_t *in, size_t n, char *out) {
        size_t i, o = 0;

        for (i = 0; i + 2 < n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
                out[o++] = b64[v >> 18 & 63];
                out[o++] = b64[v >> 12 & 63];
                out[o++] = b64[v >> 6 & 63];
                out[o++] = b64[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t) in[i] << 16 | (i + 1 < n ? (uint32_t) in[i + 1] << 8 : 0);
                out[o++] = b64[v >> 18 & 63];
                out[o++] = b64[v >> 12 & 63];
                out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
                out[o++] = '=';
        }
        out[o] = 0;
}

static int b64_value(char c) {
        const char *p = c ? strchr(b64, c) : NULL;
        return p ? (int) (p - b64) : -1;
}

int base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *out = NULL;
        size_t i, o = 0;

        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
                len--;
        if (len % 4 != 0)
                return -EBADMSG;
        out = malloc(len / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        for (i = 0; i < len; i += 4) {
                int a = b64_value(s[i]), b = b64_value(s[i + 1]), c, d;
                bool last = i + 4 == len;

                if (a < 0 || b < 0)
                        return -EBADMSG;
                c = last && s[i + 2] == '=' ? -2 : b64_value(s[i + 2]);
                d = last && s[i + 3] == '=' ? -2 : b64_value(s[i + 3]);
                if (c == -1 || d == -1 || (c == -2 && d != -2))
                        return -EBADMSG;
                out[o++] = (uint8_t) (a << 2 | b >> 4);
                if (c >= 0)
                        out[o++] = (uint8_t) ((b & 15) << 4 | c >> 2);
                if (d >= 0)
                        out[o++] = (uint8_t) ((c & 3) << 6 | d);
        }
        *ret = TAKE_PTR(out);
        *ret_size = o;
        return 0;
}
