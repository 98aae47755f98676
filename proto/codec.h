/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire format, and nothing else: pack, unpack and validate castle's messages, and any
 * message to JSON by walking its schema, so the JSON castle prints and the messages it sends
 * always carry the same fields. Uses protobuf-c, json-c and common/ only (the daemons' shared
 * leaf); device records become messages in proto/devproto.h. */
#pragma once

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "proto/castle.pb-c.h"

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
