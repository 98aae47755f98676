/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* protobuf-c codec: packing, unpacking and validating what peers send, and any message as
 * JSON by walking its schema. It knows the wire format only; turning a scan's devices into
 * messages is proto/devproto.c's job. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "proto/codec.h"

/* "Transport" -> "TRANSPORT", "ReasonCode" -> "REASON_CODE" */
static void upper_snake(const char *in, char *out, size_t len) {
        size_t w = 0;

        for (size_t i = 0; in[i] && w + 2 < len; i++) {
                if (i > 0 && isupper((unsigned char) in[i]))
                        out[w++] = '_';
                out[w++] = (char) toupper((unsigned char) in[i]);
        }
        out[w] = 0;
}

char *codec_enum_json_name(const ProtobufCEnumDescriptor *e, int value) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(e, value);
        char prefix[128], *s;
        const char *name;

        if (!v) {
                char buf[32];
                snprintf(buf, sizeof buf, "%d", value);
                return strdup(buf);
        }
        upper_snake(e->short_name, prefix, sizeof prefix);
        name = v->name;
        if (startswith(name, prefix) && name[strlen(prefix)] == '_')
                name += strlen(prefix) + 1;
        s = strdup(name);
        for (char *p = s; p && *p; p++)
                *p = (char) tolower((unsigned char) *p);
        return s;
}

static json_object *scalar_to_json(const ProtobufCFieldDescriptor *f, const void *p) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                return json_object_new_int(*(const int32_t *) p);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                return json_object_new_int64(*(const uint32_t *) p);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                return json_object_new_int64(*(const int64_t *) p);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return json_object_new_uint64(*(const uint64_t *) p);
        case PROTOBUF_C_TYPE_FLOAT:
                return json_object_new_double(*(const float *) p);
        case PROTOBUF_C_TYPE_DOUBLE:
                return json_object_new_double(*(const double *) p);
        case PROTOBUF_C_TYPE_BOOL:
                return json_object_new_boolean(*(const protobuf_c_boolean *) p);
        case PROTOBUF_C_TYPE_ENUM: {
                char *s = codec_enum_json_name(f->descriptor, *(const int *) p);
                json_object *o = s ? json_object_new_string(s) : NULL;
                free(s);
                return o;
        }
        case PROTOBUF_C_TYPE_STRING: {
                const char *s = *(char *const *) p;
                return json_object_new_string(s ?: "");
        }
        case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *b = p;
                return json_object_new_string_len((const char *) b->data, (int) b->len);
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *m = *(const ProtobufCMessage *const *) p;
                return m ? codec_message_to_json(m) : NULL;
        }
        }
        return NULL;
}

static size_t scalar_size(const ProtobufCFieldDescriptor *f) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_ENUM:
                return 4;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
                return 8;
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(void *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        }
        return 0;
}

json_object *codec_message_to_json(const ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *desc = m->descriptor;
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];
                const char *base = (const char *) m + f->offset;
                json_object *v;

                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                        /* Only the member that is set. */
                        if (*(const uint32_t *) ((const char *) m + f->quantifier_offset) != f->id)
                                continue;
                }
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *) ((const char *) m + f->quantifier_offset);
                        const char *arr = *(char *const *) base;
                        v = json_object_new_array_ext((int) n);
                        for (size_t k = 0; v && k < n; k++) {
                                json_object *e = scalar_to_json(f, arr + k * scalar_size(f));
                                json_object_array_add(v, e);
                        }
                } else
                        v = scalar_to_json(f, base);
                if (json_object_object_add(o, f->name, v) < 0) {
                        json_object_put(v);
                        json_object_put(o);
                        return NULL;
                }
        }
        return o;
}

int codec_pack(const ProtobufCMessage *m, uint8_t **ret, size_t *ret_size) {
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(n ?: 1);

        if (!buf)
                return -ENOMEM;
        if (protobuf_c_message_pack(m, buf) != n) {
                free(buf);
                return -EIO;
        }
        *ret = buf;
        *ret_size = n;
        return 0;
}

bool codec_valid_id(const char *s) {
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++)
                if (n >= CODEC_MAX_ID_LEN || s[n] <= ' ' || s[n] > '~')
                        return false;
        return n > 0;
}

/* Device fields that become keys and paths must be sane; the rest is data. */
static int validate_devices(Castle__Device *const *d, size_t n) {
        if (n > CODEC_MAX_DEVICES)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                if (!d[i])
                        return -EBADMSG;
                if (!codec_valid_id(d[i]->kname) ||
                    (!isempty(d[i]->stable_id) && !codec_valid_id(d[i]->stable_id)))
                        return -EINVAL;
        }
        return 0;
}

static bool valid_optional(const char *s) {
        return isempty(s) || codec_valid_id(s);
}

int codec_validate_command(const Castle__Command *c) {
        if (!c)
                return -EBADMSG;
        switch (c->kind_case) {
        case CASTLE__COMMAND__KIND_RESCAN:
                return 0;
        case CASTLE__COMMAND__KIND_OSD_CREATE:
                /* These become a helper's arguments: printable, no blanks, not an option. */
                if (!codec_valid_id(c->osd_create->device_id) || c->osd_create->device_id[0] == '-' ||
                    !valid_optional(c->osd_create->crush_device_class))
                        return -EINVAL;
                return 0;
        case CASTLE__COMMAND__KIND_POLICY:
                if (!valid_optional(c->policy->name_filter) || !valid_optional(c->policy->path_filter) ||
                    !valid_optional(c->policy->crush_device_class))
                        return -EINVAL;
                return 0;
        default:
                return -EBADMSG;
        }
}

static int validate_envelope(const Castle__Envelope *e) {
        switch (e->body_case) {
        case CASTLE__ENVELOPE__BODY_HELLO:
                if (!codec_valid_id(e->hello->node_id))
                        return -EINVAL;
                return 0;
        case CASTLE__ENVELOPE__BODY_SNAPSHOT:
                return validate_devices(e->snapshot->devices, e->snapshot->n_devices);
        case CASTLE__ENVELOPE__BODY_DELTA:
                if (e->delta->n_removed > CODEC_MAX_DEVICES)
                        return -E2BIG;
                for (size_t i = 0; i < e->delta->n_removed; i++)
                        if (!codec_valid_id(e->delta->removed[i]))
                                return -EINVAL;
                return validate_devices(e->delta->changed, e->delta->n_changed);
        case CASTLE__ENVELOPE__BODY_COMMAND:
                return codec_validate_command(e->command);
        case CASTLE__ENVELOPE__BODY_HEARTBEAT:
        case CASTLE__ENVELOPE__BODY_ACK:
        case CASTLE__ENVELOPE__BODY_RESYNC:
        case CASTLE__ENVELOPE__BODY_JOB_UPDATE:
                return 0;
        default:
                return -EBADMSG;
        }
}

int codec_envelope_unpack(const uint8_t *data, size_t size, Castle__Envelope **ret) {
        Castle__Envelope *e = castle__envelope__unpack(NULL, size, data);
        int r;

        if (!e)
                return -EBADMSG;
        if (e->protocol_version != CASTLE_PROTOCOL_VERSION)
                r = -EPROTO;
        else
                r = validate_envelope(e);
        if (r < 0) {
                castle__envelope__free_unpacked(e, NULL);
                return r;
        }
        *ret = e;
        return 0;
}

int codec_query_request_unpack(const uint8_t *data, size_t size, Castle__QueryRequest **ret) {
        Castle__QueryRequest *q = castle__query_request__unpack(NULL, size, data);

        if (!q)
                return -EBADMSG;
        if (q->protocol_version != CASTLE_PROTOCOL_VERSION || q->kind_case == CASTLE__QUERY_REQUEST__KIND__NOT_SET ||
            (q->kind_case == CASTLE__QUERY_REQUEST__KIND_COMMAND &&
             (!codec_valid_id(q->command->node_id) || codec_validate_command(q->command->command) < 0))) {
                int r = q->protocol_version != CASTLE_PROTOCOL_VERSION ? -EPROTO : -EBADMSG;
                castle__query_request__free_unpacked(q, NULL);
                return r;
        }
        *ret = q;
        return 0;
}

int codec_query_reply_unpack(const uint8_t *data, size_t size, Castle__QueryReply **ret) {
        Castle__QueryReply *q = castle__query_reply__unpack(NULL, size, data);

        if (!q)
                return -EBADMSG;
        *ret = q;
        return 0;
}

const char *codec_oneof_name(const ProtobufCMessageDescriptor *d, int field_case) {
        const ProtobufCFieldDescriptor *f;

        if (field_case <= 0)
                return NULL;
        f = protobuf_c_message_descriptor_get_field(d, (unsigned) field_case);
        return f ? f->name : NULL;
}
