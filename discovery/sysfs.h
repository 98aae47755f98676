/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Facts from sysfs: size, sector sizes, flags, queue settings, partitions, holders, slaves,
 * dm and loop attributes. Read relative to a root fd (the live "/" or a captured tree). */
#pragma once

#include "discovery/device.h"

int sysfs_fill(int root_fd, Device *d);
