/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Monotonic clock helper. */
#include <time.h>

#include "common/timeutil.h"

uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}
