/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/retry.h"
#include "osd-prep/fault.h"

#ifdef CASTLE_FAULT_POINTS
/* A test holds a prepare at a fault point while it does something else (pulls a disk, kills
 * the agent); one that forgot to remove its pause file must not leave the prepare there. */
#define FAULT_PAUSE_MAX_USEC (10 * 60 * USEC_PER_SEC)
#define FAULT_PAUSE_POLL_USEC (50 * USEC_PER_MSEC)

void fault_point(const char *name) {
        const char *pause_file = getenv("CASTLE_PAUSE_FILE");

        if (streq_ptr(getenv("CASTLE_PAUSE"), name) && pause_file) {
                Retry t = RETRY(.timeout_usec = FAULT_PAUSE_MAX_USEC,
                                .interval_usec = FAULT_PAUSE_POLL_USEC);

                log_notice("Fault point %s: paused while %s exists", name, pause_file);
                while (access(pause_file, F_OK) == 0 && retry_wait(&t))
                        ;
        }
        if (streq_ptr(getenv("CASTLE_FAULT"), name)) {
                log_notice("Fault point %s: killing myself", name);
                (void) raise(SIGKILL);
        }
}

bool fault_fail(const char *name) {
        const char *file = getenv("CASTLE_FAIL_FILE");

        if (!streq_ptr(getenv("CASTLE_FAIL"), name))
                return false;
        if (file && unlink(file) < 0)
                return false;
        log_notice("Fault point %s: failing on purpose", name);
        return true;
}
#endif

bool fault_points_enabled(void) {
#ifdef CASTLE_FAULT_POINTS
        return true;
#else
        return false;
#endif
}
