/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The clocks castle reads, in microseconds, so that no module converts a timespec by hand;
 * and the one parser of points in time that users write. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/conf.h"
#include "common/macro.h"
#include "common/timeutil.h"

uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

int64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * (int64_t) USEC_PER_SEC + ts.tv_nsec / 1000;
}

int parse_timestamp(const char *s, int64_t now_usec, int64_t *ret_usec) {
        static const char *const formats[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                                               "%Y-%m-%d %H:%M", "%Y-%m-%d" };
        size_t n;
        uint64_t ago;
        char *end;

        if (!s || !*s)
                return -EINVAL;
        n = strspn(s, "0123456789");
        if (s[n] == 0) { /* Unix time, seconds */
                long long v;
                errno = 0;
                v = strtoll(s, &end, 10);
                if (errno != 0 || *end || v > INT64_MAX / (int64_t) USEC_PER_SEC)
                        return -EINVAL;
                *ret_usec = (int64_t) v * (int64_t) USEC_PER_SEC;
                return 0;
        }
        if (n == 4 && s[4] == '-') {
                for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
                        struct tm tm = { .tm_isdst = -1 };
                        bool utc;
                        time_t t;

                        end = strptime(s, formats[i], &tm);
                        if (!end)
                                continue;
                        utc = streq(end, "Z");
                        if (*end && !utc)
                                continue;
                        t = utc ? timegm(&tm) : mktime(&tm);
                        if (t == (time_t) -1)
                                return -EINVAL;
                        *ret_usec = (int64_t) t * (int64_t) USEC_PER_SEC;
                        return 0;
                }
                return -EINVAL;
        }
        if (conf_parse_duration(s, &ago) < 0 || ago > (uint64_t) now_usec)
                return -EINVAL;
        *ret_usec = now_usec - (int64_t) ago;
        return 0;
}
