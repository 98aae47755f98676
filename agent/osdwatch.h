/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's watch over its node's OSD daemons: which OSDs the last scan found (their
 * BlueStore labels and ceph.* LV tags), whether a ceph-osd runs for each (/proc), and, where
 * systemd runs the host, what its unit (castle-osd@ID or ceph-osd@ID) says: restarts, the last
 * exit, a crash loop. The states go to the coordinators in every heartbeat (OsdReport). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/timeutil.h"

#include "agent/osdreport.h"
#include "agent/report.h"
#include "proto/castle.pb-c.h"

/* Restarts by its unit within this window that make an OSD crash-looping even while it runs
 * for a moment between them. */
#define OSD_WATCH_LOOP_RESTARTS 3
#define OSD_WATCH_LOOP_WINDOW_USEC (10 * USEC_PER_MINUTE)

typedef struct OsdWatch OsdWatch;

typedef struct OsdWatchOptions {
        const char *proc;       /* where /proc is; NULL: /proc */
        /* Ask systemd about the units (systemctl show): where systemd is PID 1 of the host the
         * agent sees (the caller knows: not in a container that has no host's systemd). */
        bool systemd;
        const char *systemctl;  /* the program; NULL: systemctl (a test gives a fake one) */
} OsdWatchOptions;

int osd_watch_new(const OsdWatchOptions *o, OsdWatch **ret);
OsdWatch *osd_watch_free(OsdWatch *w);

/* One look: the OSDs of r (the last scan's report; NULL: none known yet) and their daemons,
 * now (realtime usec). Changes of state are logged. Puts the list in out: returns what
 * osd_report_set_states() does (1: changed), or -ENOMEM. */
int osd_watch_tick(OsdWatch *w, const Report *r, int64_t now, OsdReport *out);

/* The states of the last look (for the metrics): valid until the next tick. */
size_t osd_watch_states(const OsdWatch *w, Castle__OsdState *const **ret);

/* `systemctl show` output (blocks of KEY=VALUE lines, one per unit, separated by empty lines):
 * the block whose Id= is unit, as the unit's state. 0, or -ENOENT when it is not there. For
 * the tests too. */
typedef struct OsdUnitState {
        char active[32], sub[32];   /* ActiveState, SubState */
        bool loaded;                /* LoadState=loaded */
        uint32_t restarts;          /* NRestarts */
        int exec_code, exec_status; /* ExecMainCode (CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3), ExecMainStatus */
} OsdUnitState;
int osd_watch_parse_show(const char *out, const char *unit, OsdUnitState *ret);
/* "exit status 1", "killed by SIGKILL", "dumped core (SIGABRT)" in buf; "" for none. */
const char *osd_watch_exit_text(int exec_code, int exec_status, char *buf, size_t n);
