/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Escaping text from outside for logs and tables (JSON output escapes on its own). */
#include <stdlib.h>
#include <string.h>

#include "common/escape.h"

/* Escapes s into out (if not NULL); returns the escaped length. */
static size_t escape(const char *s, char *out) {
        size_t n = strlen(s), w = 0;

        for (size_t i = 0; i < n;) {
                size_t k = utf8_printable_len(s + i, n - i);
                char buf[5];
                const char *e;

                if (k > 0) {
                        if (out)
                                memcpy(out + w, s + i, k);
                        w += k;
                        i += k;
                        continue;
                }
                switch (s[i]) {
                case '\n':
                        e = "\\n";
                        break;
                case '\r':
                        e = "\\r";
                        break;
                case '\t':
                        e = "\\t";
                        break;
                default:
                        snprintf(buf, sizeof buf, "\\x%02x", (unsigned char) s[i]);
                        e = buf;
                }
                if (out)
                        memcpy(out + w, e, strlen(e));
                w += strlen(e);
                i++;
        }
        if (out)
                out[w] = 0;
        return w;
}

void fputs_escaped(const char *s, FILE *f) {
        size_t n = strlen(s);

        /* The common case, nothing to escape, in one write. */
        if (escape(s, NULL) == n) {
                fputs(s, f);
                return;
        }
        for (size_t i = 0; i < n;) {
                size_t k = utf8_printable_len(s + i, n - i), run = 0;

                while (k > 0) {
                        run += k;
                        k = utf8_printable_len(s + i + run, n - i - run);
                }
                if (run > 0) {
                        fwrite(s + i, 1, run, f);
                        i += run;
                        continue;
                }
                /* one byte that is not printable: escape it alone */
                char one[2] = { s[i], 0 }, out[5];
                escape(one, out);
                fputs(out, f);
                i++;
        }
}

char *strdup_escaped(const char *s) {
        char *out = malloc(escape(s, NULL) + 1);

        if (out)
                escape(s, out);
        return out;
}
