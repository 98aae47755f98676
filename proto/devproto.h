/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A scan's device records (discovery/) as proto messages: the agent reports them, castlectl
 * prints them as JSON. The one place where discovery meets the wire format, so that the
 * coordinator, which never scans, links no discovery library. */
#pragma once

#include "discovery/devscan.h"
#include "proto/castle.pb-c.h"

int devproto_device_new(const Device *d, Castle__Device **ret);
void devproto_device_free(Castle__Device *m);

/* An Inventory message of the given devices (a subset of the scan's). */
int devproto_inventory_new(const ScanResult *scan, Device *const *devices, size_t n, const char *hostname,
                           const char *sysroot, Castle__Inventory **ret);
void devproto_inventory_free(Castle__Inventory *m);
