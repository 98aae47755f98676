/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs content probes on worker threads with a deadline per device. A device that does not
 * answer in time (a dying disk in D state) is reported as timed out; its thread is left
 * behind and cleans up after itself if it ever returns, so one hung disk never holds up the
 * others or the caller. */
#pragma once

#include <stdint.h>

#include "discovery/device.h"
#include "discovery/probe.h"

typedef struct ProbeRequest {
        Device *device;         /* results are moved into it once the probe is done */
        char *node;             /* what to open */
        ProbeOptions opts;
} ProbeRequest;

/* Probes every request. Devices whose probe timed out get probe_error = -ETIMEDOUT. */
int probepool_run(ProbeRequest *reqs, size_t n, unsigned workers, uint64_t timeout_usec);
