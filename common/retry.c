/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bounded pause between two tries (see retry.h). A sleep cut short by a signal is not
 * resumed: the caller tries a little early, which every caller tolerates. */
#include <assert.h>
#include <errno.h>
#include <time.h>

#include "common/retry.h"

bool retry_wait(Retry *t) {
        int saved = errno;
        uint64_t now = now_usec();

        assert(t->attempts > 0 || t->timeout_usec > 0);
        t->failed++;
        if (t->attempts > 0 && t->failed >= t->attempts)
                return false;
        if (t->timeout_usec > 0 && now >= t->start_usec + t->timeout_usec)
                return false;
        (void) nanosleep(&(struct timespec) { .tv_sec = (time_t) (t->interval_usec / USEC_PER_SEC),
                                              .tv_nsec = (long) (t->interval_usec % USEC_PER_SEC) * 1000 },
                         NULL);
        errno = saved;
        return true;
}
