/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl zap: the checks that decide whether a device may be destroyed, then the wipe.
 * Never the OS disk; never a device that is mounted, swap, held, or whose OSD runs here or
 * is up in the osd map. Each device is wiped under O_EXCL + flock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "osd-prep/context.h"

typedef struct ZapRequest {
        char *const *devices;   /* what the user named; or: */
        int osd_id;             /* >= 0: every device of this OSD */
        const char *osd_fsid;   /* every device of the OSD with this uuid */
        bool destroy;           /* also the partition table of a partitioned disk */
        bool dry_run;
} ZapRequest;

typedef struct ZapResult {
        char *device;
        bool zapped;
        char **erased;          /* what was (or would be) erased, in words */
        char *error;            /* why it was refused or failed */
} ZapResult;

/* One result per device; fails only when nothing could be looked at. */
int osd_zap(const OsdContext *c, const ZapRequest *req, ZapResult **ret, size_t *ret_n);
void zap_results_free(ZapResult *z, size_t n);
