/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where OSD operations find the cluster and keep their files; shared by prepare, activate,
 * list and zap, and filled from castlectl's options or the agent's configuration. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "discovery/devscan.h"
#include "osd-prep/mon.h"
#include "osd-prep/startmode.h"

#define OSD_ROOT_DEFAULT "/var/lib/ceph/osd"
#define STATE_DIR_DEFAULT "/var/lib/castle"

/* step: a short name ("osd-new"); percent: 0..100 of the whole operation. */
typedef void (*ProgressFn)(const char *step, unsigned percent, const char *message, void *userdata);

typedef struct OsdContext {
        CephTarget ceph;
        const char *osd_root;   /* NULL: OSD_ROOT_DEFAULT; each OSD in <root>/<cluster>-<id> */
        const char *state_dir;  /* NULL: STATE_DIR_DEFAULT; the prepare journal lives here */
        ScanOptions scan;
        StartMode start;
        uint64_t up_timeout_usec; /* wait for "up" in the osd map; 0: 120 s */
        ProgressFn progress;
        void *userdata;
        /* A connection to the monitors that the caller keeps open across operations (a
         * batch's OSDs); NULL: each operation connects and disconnects itself. */
        MonConn *mon;
} OsdContext;

static inline const char *osd_ctx_cluster(const OsdContext *c) {
        return c->ceph.cluster ?: "ceph";
}

/* <root>/<cluster>-<id>, malloc'ed */
