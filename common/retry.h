/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Trying something again after a pause, with a bound: a number of tries, a time limit, or
 * both. One loop shape for every "the device is busy for a moment" wait in the tree. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/timeutil.h"

typedef struct Retry {
        unsigned attempts;      /* at most this many tries in all; 0: only the time limit */
        uint64_t interval_usec; /* the pause before each try but the first */
        uint64_t timeout_usec;  /* no new try after this long since the start; 0: only attempts */
        uint64_t start_usec;
        unsigned failed;        /* tries that failed so far */
} Retry;

/* Starts the clock now: Retry t = RETRY(.attempts = 5, .interval_usec = 500 * USEC_PER_MSEC); */
#define RETRY(...) ((Retry) { .start_usec = now_usec(), __VA_ARGS__ })

/* Called after a try failed: returns false if that was the last one allowed (attempts used
 * up, or the time limit has passed), else sleeps the interval and returns true. errno is
 * kept, so the caller can still read the failed try's. A Retry with neither bound set is a
 * programming error. Typical use:
 *
 *         Retry t = RETRY(.attempts = TRIES, .interval_usec = WAIT_USEC);
 *         do
 *                 fd = open(node, O_RDONLY | O_EXCL | O_CLOEXEC);
 *         while (fd < 0 && errno == EBUSY && retry_wait(&t));
 */
bool retry_wait(Retry *t);
