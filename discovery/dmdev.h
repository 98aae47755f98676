/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device-mapper names and UUIDs, and what kind of mapping a UUID prefix says a dm device is
 * (LVM-, CRYPT-, mpath-, partN-). libdevmapper asks the kernel; where the kernel has no
 * device-mapper (or in a captured tree) the sysfs dm/name and dm/uuid already read stand. */
#pragma once

#include "discovery/device.h"

/* Fills d->dm_name and d->dm_uuid from the kernel when device-mapper is available. */
int dmdev_refresh(Device *d);
/* disk/lvm/crypt/mpath/part/dm from a DM UUID. */
DeviceType dmdev_type_from_uuid(const char *uuid);
