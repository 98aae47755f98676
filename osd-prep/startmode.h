/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a prepared OSD is started: the modes and their names, shared by castlectl-osd and by
 * castle-agent's option table (which hands the mode on to castlectl-osd), so both accept the
 * same words. Header only: the agent uses the names without linking osd-prep. */
#pragma once

typedef enum StartMode {
        START_AUTO,     /* systemd where it runs the host's units, else fork */
        START_SYSTEMD,  /* systemctl start ceph-osd@ID */
        START_FORK,     /* ceph-osd daemonizes itself: a child of whoever asked */
        START_NONE,
        START_EXEC,     /* exec ceph-osd -f in place of this process: `osd activate ID` only */
        _START_MODE_MAX,
} StartMode;

/* The modes a prepare takes, in StartMode's order (START_EXEC is not one of them). */
#define START_MODE_PREPARE_NAMES "auto", "systemd", "fork", "none"
