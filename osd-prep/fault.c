/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "osd-prep/fault.h"

#ifdef CASTLE_FAULT_POINTS
void fault_point(const char *name) {
        const char *pause_file = getenv("CASTLE_PAUSE_FILE");

        if (streq_ptr(getenv("CASTLE_PAUSE"), name) && pause_file) {
                log_notice("Fault point %s: paused while %s exists", name, pause_file);
                while (access(pause_file, F_OK) == 0)
                        (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        if (streq_ptr(getenv("CASTLE_FAULT"), name)) {
                log_notice("Fault point %s: killing myself", name);
                (void) raise(SIGKILL);
        }
}
#endif

bool fault_points_enabled(void) {
#ifdef CASTLE_FAULT_POINTS
        return true;
#else
        return false;
#endif
}
