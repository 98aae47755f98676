/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Content probe of one device: every libblkid signature (superblocks and partition tables,
 * as wipefs lists them), the BlueStore label at offset 0 and at each replica offset that fits,
 * and whether another process holds the device open exclusively. Reads only; never writes.
 * Runs on a worker thread: it touches nothing but the Device it is given. */
#pragma once

#include <stdbool.h>

#include "discovery/device.h"

typedef struct ProbeOptions {
        /* Open O_EXCL to learn whether someone else holds the device. Only for devices that
         * look free otherwise, so a scan never blocks a mount or mkfs of a device in use. */
        bool test_exclusive;
} ProbeOptions;

/* node: the file to read (a /dev node, or a disk image in a captured tree). Sets d->probed
 * on success; on failure sets d->probe_error and d->probe_error_msg and returns the error. */
int probe_device(Device *d, const char *node, const ProbeOptions *opts);
