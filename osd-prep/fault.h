/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named fault points for crash tests, compiled in only with ./configure
 * --enable-fault-points. CASTLE_FAULT=<name> makes the process kill itself (SIGKILL, no
 * cleanup, like a power cut) when it reaches that point; CASTLE_PAUSE=<name> makes it wait
 * there while the file CASTLE_PAUSE_FILE exists, so a test can change the world meanwhile. */
#pragma once

#include <stdbool.h>

#ifdef CASTLE_FAULT_POINTS
void fault_point(const char *name);
#else
static inline void fault_point(const char *name) {
        (void) name;
}
#endif

/* Whether this build has them (for --version and for tests). */
bool fault_points_enabled(void);
