/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scan worker: a thread that runs discovery scans for the agent's event loop, so that
 * the loop never touches a device. It keeps the previous scan to re-probe only the devices
 * that changed, and answers each request with a new Report. */
#pragma once

#include <czmq.h>

#include "agent/healthwatch.h"
#include "agent/report.h"
#include "discovery/devscan.h"
#include "discovery/filter.h"

typedef struct ScanOutcome {
        Report *report;         /* NULL if the scan failed */
        int error;
        uint64_t duration_usec;
        unsigned n_devices, n_probed, n_failed;
        char *lvm_status, *warning;
        /* each content probe this scan ran, for the metrics; timed-out ones counted apart */
        double *probe_seconds;
        size_t n_probe_seconds;
        unsigned n_probe_timeouts;
} ScanOutcome;

typedef struct ScannerConfig {
        ScanOptions scan;       /* sysroot, allow_loop, timeouts */
        Filter filter;          /* moved into the scanner */
        bool all;
        HealthWatch *health;    /* NULL: health is not read; else each scan attaches its readings */
} ScannerConfig;

/* Takes ownership of cfg->filter. */
zactor_t *scanner_new(ScannerConfig *cfg);
/* Asks for a scan; the answer arrives on the actor as a ScanOutcome pointer ("p"). */
int scanner_request(zactor_t *s, bool full, char *const *dirty);
ScanOutcome *scanner_receive(zactor_t *s);
ScanOutcome *scan_outcome_free(ScanOutcome *o);
