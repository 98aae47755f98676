/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one module that touches protobuf-c: device records to proto messages, and any proto
 * message to JSON by walking its schema, so the JSON castle prints and the messages it sends
 * always carry the same fields. */
#pragma once

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>

#include "discovery/devscan.h"
#include "proto/castle.pb-c.h"

int codec_device_to_proto(const Device *d, Castle__Device **ret);
void codec_device_free(Castle__Device *m);

/* An Inventory message of the given devices (a subset of the scan's). */
int codec_inventory_to_proto(const ScanResult *scan, Device *const *devices, size_t n,
                             const char *hostname, const char *sysroot, Castle__Inventory **ret);
void codec_inventory_free(Castle__Inventory *m);

/* Every field of m, defaults included, under its proto name. Enums print in lower case
 * without their own prefix. Returns NULL on allocation failure. */
json_object *codec_message_to_json(const ProtobufCMessage *m);
/* The lower-case JSON name of an enum value ("TRANSPORT_UNKNOWN" -> "unknown"). */
char *codec_enum_json_name(const ProtobufCEnumDescriptor *e, int value);
