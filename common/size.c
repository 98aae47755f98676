/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Size parsing and formatting. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "common/macro.h"
#include "common/size.h"

static const char units[] = "BKMGTPE";

int parse_size(const char *s, uint64_t *ret) {
        const char *u;
        char *end;
        double v;
        int shift = 0;

        if (isempty(s) || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (end == s)
                return -EINVAL;
        if (errno == ERANGE && v != 0)
                return -ERANGE; /* beyond a double: certainly beyond 2^64 bytes */
        if (errno || !isfinite(v))
                return -EINVAL;
        if (*end) {
                u = strchr(units + 1, toupper((unsigned char) *end));
                if (!u)
                        return -EINVAL;
                shift = (int) (u - units) * 10;
                end++;
                if (strcasecmp(end, "") != 0 && strcasecmp(end, "B") != 0 && strcasecmp(end, "iB") != 0)
                        return -EINVAL;
        }
        v = ldexp(v, shift);
        if (!(v < 18446744073709551616.0)) /* 2^64; also refuses what ldexp() made infinite */
                return -ERANGE;
        *ret = (uint64_t) v;
        return 0;
}

char *format_size(uint64_t bytes, char *buf, size_t len) {
        double v = (double) bytes;
        size_t i = 0;

        while (v >= 1024.0 && i < sizeof(units) - 2) {
                v /= 1024.0;
                i++;
        }
        if (i == 0)
                snprintf(buf, len, "%" PRIu64 "B", bytes);
        else if (v < 10.0 && v != floor(v))
                snprintf(buf, len, "%.1f%c", v, units[i]);
        else
                snprintf(buf, len, "%.0f%c", v, units[i]);
        return buf;
}
