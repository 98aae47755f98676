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

#define CASTLE_PROTOCOL_VERSION 1
/* Bounds on what a peer may send; the transport's ZMQ_MAXMSGSIZE caps the bytes. */
#define CODEC_MAX_DEVICES 4096
#define CODEC_MAX_ID_LEN 255

/* Packs a message into a malloc'd buffer. */
int codec_pack(const ProtobufCMessage *m, uint8_t **ret, size_t *ret_size);
/* Unpacks and validates an Envelope from an untrusted peer: -EBADMSG if it does not decode
 * or has no body, -EPROTO for another protocol version, -E2BIG for too many devices, -EINVAL
 * for ids that are empty, too long or not printable. */
int codec_envelope_unpack(const uint8_t *data, size_t size, Castle__Envelope **ret);
/* A Command is well formed: a known kind, and arguments that are safe to hand to a helper. */
int codec_validate_command(const Castle__Command *c);
int codec_query_request_unpack(const uint8_t *data, size_t size, Castle__QueryRequest **ret);
int codec_query_reply_unpack(const uint8_t *data, size_t size, Castle__QueryReply **ret);
/* True for 1..CODEC_MAX_ID_LEN printable ASCII characters, no blanks. */
bool codec_valid_id(const char *s);

/* Every field of m, defaults included, under its proto name. Enums print in lower case
 * without their own prefix. Returns NULL on allocation failure. */
json_object *codec_message_to_json(const ProtobufCMessage *m);
/* The lower-case JSON name of an enum value ("TRANSPORT_UNKNOWN" -> "unknown"). */
char *codec_enum_json_name(const ProtobufCEnumDescriptor *e, int value);

/* The name in castle.proto of the oneof member a *_case value selects ("hello", "job_update",
 * "osd_create"); NULL for NOT_SET or a number d does not have. */
const char *codec_oneof_name(const ProtobufCMessageDescriptor *d, int field_case);
