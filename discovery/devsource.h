/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where device facts come from: the live system (libudev for the udev database, the real
 * /sys, /proc and /dev) or a captured tree (--sysroot DIR: DIR/sys, DIR/run/udev/data,
 * DIR/proc, DIR/dev/disk). Everything after enumeration reads files relative to
 * devsource_root_fd(), so both paths share the same code. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "discovery/device.h"

typedef struct DevSource DevSource;

int devsource_new_live(DevSource **ret);
int devsource_new_sysroot(DevSource **ret, const char *root);
DevSource *devsource_free(DevSource *s);
void devsource_freep(DevSource **s);

bool devsource_is_live(const DevSource *s);
const char *devsource_root(const DevSource *s);
int devsource_root_fd(const DevSource *s);
/* False when the live system has no running udevd: serials, WWNs and links are then
 * missing, which the caller should say. */
bool devsource_udev_running(const DevSource *s);

/* Lists every block device, with its udev facts filled in. In live mode it first waits,
 * until timeout_usec has passed, for udev to finish with devices it has not initialised yet
 * (a device attached a moment ago); devices still uninitialised then carry probe_error. */
int devsource_enumerate(DevSource *s, uint64_t timeout_usec, DeviceList **ret);

/* Parses one udev database file (run/udev/data/b<maj>:<min>) into d. Exposed for tests. */
int udevdb_parse(Device *d, const char *text);
