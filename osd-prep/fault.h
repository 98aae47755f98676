/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named fault points for crash tests, compiled in only with ./configure
 * --enable-fault-points. CASTLE_FAULT=<name> makes the process kill itself (SIGKILL, no
 * cleanup, like a power cut) when it reaches that point; CASTLE_PAUSE=<name> makes it wait
 * there while the file CASTLE_PAUSE_FILE exists, so a test can change the world meanwhile.
 * CASTLE_FAIL=<name> makes fault_fail() at that point true (the step fails as an error would,
 * and what follows a failure, a rollback, runs); with CASTLE_FAIL_FILE only while that file
 * exists, and once: it is removed. */
#pragma once

#include <stdbool.h>

#ifdef CASTLE_FAULT_POINTS
void fault_point(const char *name);
bool fault_fail(const char *name);
#else
static inline void fault_point(const char *name) {
        (void) name;
}
static inline bool fault_fail(const char *name) {
        (void) name;
        return false;
}
#endif

/* Whether this build has them (for --version and for tests). */
bool fault_points_enabled(void);
