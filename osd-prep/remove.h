/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Removing an OSD of this node, as `ceph orch osd rm` does: mark it out, wait until the
 * cluster can lose it (safe-to-destroy; not with force), stop its daemon and close what its
 * activation opened, destroy it (replace: the id and its CRUSH position stay) or purge it,
 * zap its volumes if asked. Every step is journalled first (osd-prep/removal.h) and is safe to
 * run again, so a removal interrupted anywhere converges when it is run again. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "osd-prep/context.h"
#include "osd-prep/removal.h"

typedef struct RemoveRequest {
        int osd_id;
        bool replace, zap, force;
        bool cancel;                    /* undo a removal that has not reached the destroy step */
        bool resume;                    /* only carry on a journalled removal: none, nothing to do */
        bool out_only;                  /* only mark the OSD out (a failing disk's): no journal */
        uint64_t command_id;
        uint64_t poll_usec;             /* how often the drain is checked; 0: 5 s */
        uint64_t drain_timeout_usec;    /* give up draining after this long; 0: never */
} RemoveRequest;

typedef struct RemoveResult {
        RemovalStep step;               /* where the removal stands */
        bool resumed;                   /* a journalled removal was carried on */
        char *error;
} RemoveResult;

void remove_result_done(RemoveResult *r);

/* Runs (or carries on, or with cancel undoes) the removal of req->osd_id. One removal of an id
 * runs at a time on a node (a lock next to its journal entry): a second one waits for the first,
 * then carries on from where it left the journal; a cancel does not wait, the running removal
 * notices it at its next step or drain check. Progress through
 * c->progress: step names "requested", "out", "draining", "stopped", "destroyed", "zapped",
 * "done", "cancelled"; percent of the whole removal. -ECANCELED when the removal was cancelled
 * meanwhile; -EBUSY when a cancel comes after the destroy step. */
int osd_remove(const OsdContext *c, const RemoveRequest *req, RemoveResult *ret);

/* The CRUSH device class of osd_id from the JSON reply of `osd crush get-device-class`: an
 * array of strings before Reef, of {"osd": N, "device_class": "hdd"} objects since. 1 and
 * *ret set (to free) when found, 0 when the reply names none, -EBADMSG when it is no array. */
int remove_parse_device_class(const char *json, int osd_id, char **ret);

/* The number of PGs the running daemon osd.id holds, from its admin socket ("status"), or
 * -errno. */
int osd_admin_num_pgs(const CephTarget *t, int id);
