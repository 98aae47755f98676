/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* protobuf-c codec: packing, unpacking and validating what peers send, and any message as
 * JSON by walking its schema. It knows the wire format only; turning a scan's devices into
 * messages is proto/devproto.c's job. Peers' bytes are decoded on a budget and walked field
 * by field before anyone else sees them (see codec.h for the bounds). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/escape.h"
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

bool codec_valid_hostname(const char *s) {
        size_t label = 0, n = 0;

        if (!s)
                return false;
        for (; s[n]; n++) {
                char c = s[n];

                if (n >= CODEC_MAX_HOSTNAME_LEN)
                        return false;
                if (c == '.') {
                        if (label == 0 || s[n - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!(isascii(c) && isalnum(c)) && c != '_' && !(c == '-' && label > 0))
                        return false;
                if (++label > 63)
                        return false;
        }
        return n == 0 || (label > 0 && s[n - 1] != '-');
}

/* ---- Decoding on a budget ---- */

typedef struct Budget {
        ProtobufCAllocator allocator;
        size_t limit, used;
        bool exceeded;
} Budget;

static _Thread_local CodecDecodeStats decode_stats;

size_t codec_decode_budget(size_t frame_size) {
        if (frame_size > (SIZE_MAX - CODEC_DECODE_BUDGET_BASE) / CODEC_DECODE_BUDGET_FACTOR)
                return SIZE_MAX;
        return frame_size * CODEC_DECODE_BUDGET_FACTOR + CODEC_DECODE_BUDGET_BASE;
}

void codec_decode_stats(CodecDecodeStats *ret) {
        *ret = decode_stats;
}

/* What an allocation costs the heap: glibc's chunk of the size plus its 8-byte header,
 * rounded to 16 bytes, 32 at least. An empty string is 1 byte asked and 32 used. */
static size_t alloc_cost(size_t size) {
        if (size > SIZE_MAX - 32)
                return SIZE_MAX;
        return MAX((size + 8 + 15) & ~(size_t) 15, (size_t) 32);
}

/* Counts everything allocated, freed or not, so the peak can never pass the budget: freeing
 * is not counted back, since free() is not told a size. Blocks are plain malloc() ones. */
static void *budget_alloc(void *data, size_t size) {
        Budget *b = data;
        size_t cost = alloc_cost(size);
        void *p;

        if (cost > b->limit - b->used) {
                b->exceeded = true;
                return NULL;
        }
        p = malloc(size ?: 1);
        if (p)
                b->used += cost;
        return p;
}

static void budget_free(void *data, void *p) {
        (void) data;
        free(p);
}

/* ---- Bounds and clean text, walking the schema ---- */

typedef struct FieldBound {
        const ProtobufCMessageDescriptor *message;
        const char *field;
        size_t max;
} FieldBound;

static const FieldBound bounds[] = {
        { &castle__device__descriptor, "links", CODEC_MAX_LINKS },
        { &castle__device__descriptor, "partitions", CODEC_MAX_RELATIVES },
        { &castle__device__descriptor, "holders", CODEC_MAX_RELATIVES },
        { &castle__device__descriptor, "slaves", CODEC_MAX_RELATIVES },
        { &castle__device__descriptor, "mountpoints", CODEC_MAX_MOUNTPOINTS },
        { &castle__device__descriptor, "signatures", CODEC_MAX_SIGNATURES },
        { &castle__device__descriptor, "bluestore_label_offsets", CODEC_MAX_LABEL_OFFSETS },
        { &castle__device__descriptor, "ceph", CODEC_MAX_LVS },
        { &castle__device__descriptor, "reasons", CODEC_MAX_REASONS },
        { &castle__lvm_facts__descriptor, "lvs", CODEC_MAX_LVS },
        { &castle__logical_volume__descriptor, "tags", CODEC_MAX_LV_TAGS },
        { &castle__inventory__descriptor, "devices", CODEC_MAX_DEVICES },
        { &castle__snapshot__descriptor, "devices", CODEC_MAX_DEVICES },
        { &castle__delta__descriptor, "changed", CODEC_MAX_DEVICES },
        { &castle__delta__descriptor, "removed", CODEC_MAX_DEVICES },
        { &castle__query_reply__descriptor, "nodes", CODEC_MAX_NODES },
        { &castle__query_reply__descriptor, "devices", CODEC_MAX_DEVICES },
        { &castle__query_reply__descriptor, "audit", CODEC_MAX_AUDIT_RECORDS },
        { &castle__audit_batch__descriptor, "records", CODEC_MAX_AUDIT_RECORDS },
        { &castle__hello__descriptor, "labels", CODEC_MAX_LABELS },
        { &castle__node_info__descriptor, "labels", CODEC_MAX_LABELS },
        { &castle__heartbeat__descriptor, "labels", CODEC_MAX_LABELS },
        { &castle__osd_create__descriptor, "data_devices", CODEC_MAX_DEVICES },
        { &castle__osd_create__descriptor, "db_devices", CODEC_MAX_DEVICES },
        { &castle__osd_create__descriptor, "wal_devices", CODEC_MAX_DEVICES },
        { &castle__osd_create__descriptor, "osd_ids", CODEC_MAX_PLANNED_OSDS },
        { &castle__spec_set__descriptor, "specs", CODEC_MAX_SPECS },
        { &castle__osd_spec__descriptor, "hosts", CODEC_MAX_SPEC_LIST },
        { &castle__device_selection__descriptor, "paths", CODEC_MAX_SPEC_LIST },
        { &castle__query_reply__descriptor, "specs", CODEC_MAX_SPECS },
        { &castle__query_reply__descriptor, "plans", CODEC_MAX_PLANS },
        { &castle__node_plan__descriptor, "osds", CODEC_MAX_PLANNED_OSDS },
        { &castle__node_plan__descriptor, "skipped", CODEC_MAX_DEVICES },
        { &castle__skipped_device__descriptor, "reasons", CODEC_MAX_REASONS },
        { &castle__device_health__descriptor, "reasons", CODEC_MAX_REASONS },
};

/* Text that is a document, kept whole with its line breaks (codec.h). */
static bool is_document(const ProtobufCMessageDescriptor *m, const ProtobufCFieldDescriptor *f) {
        return (m == &castle__spec_apply__descriptor || m == &castle__osd_spec__descriptor) && streq(f->name, "yaml");
}

static size_t field_bound(const ProtobufCMessageDescriptor *m, const ProtobufCFieldDescriptor *f) {
        for (size_t i = 0; i < ELEMENTSOF(bounds); i++)
                if (bounds[i].message == m && streq(bounds[i].field, f->name))
                        return bounds[i].max;
        return CODEC_MAX_REPEATED;
}

/* Printable in place, never longer: see codec_envelope_unpack() in codec.h. A document keeps
 * its tabs and line breaks. */
static void clean_text(char *s, size_t max, bool document) {
        size_t n = strlen(s), w = 0;

        for (size_t i = 0; i < n && w < max;) {
                size_t k = utf8_printable_len(s + i, n - i);

                if (k > 0) {
                        if (w + k > max)
                                break; /* cut before a character, not inside one */
                        memmove(s + w, s + i, k);
                        w += k;
                        i += k;
                } else if (document && strchr("\t\n\r", s[i])) {
                        s[w++] = s[i++];
                } else if (strchr("\t\n\v\f\r", s[i])) {
                        s[w++] = ' ';
                        i++;
                } else {
                        /* a C1 control is two bytes, one character */
                        bool c1 = (unsigned char) s[i] == 0xc2 && i + 1 < n && (unsigned char) s[i + 1] >= 0x80 &&
                                  (unsigned char) s[i + 1] <= 0x9f;

                        s[w++] = '?';
                        i += c1 ? 2 : 1;
                }
        }
        s[w] = 0;
}

static int walk(ProtobufCMessage *m);

static int walk_value(const ProtobufCMessageDescriptor *m, const ProtobufCFieldDescriptor *f, void *p) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: {
                char *s = *(char **) p;
                if (!s || !*s)
                        return 0;
                if (is_document(m, f)) {
                        if (strlen(s) > CODEC_MAX_DOCUMENT_LEN)
                                return -E2BIG;
                        clean_text(s, CODEC_MAX_DOCUMENT_LEN, true);
                } else
                        clean_text(s, CODEC_MAX_TEXT_LEN, false);
                return 0;
        }
        case PROTOBUF_C_TYPE_BYTES:
                return ((ProtobufCBinaryData *) p)->len <= CODEC_MAX_TEXT_LEN ? 0 : -E2BIG;
        case PROTOBUF_C_TYPE_MESSAGE: {
                ProtobufCMessage *sub = *(ProtobufCMessage **) p;
                return sub ? walk(sub) : 0;
        }
        default:
                return 0;
        }
}

/* Bounds every repeated field, drops unknown fields, cleans every string. The schema has no
 * recursive messages, so the depth is the schema's. */
static int walk(ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *desc = m->descriptor;
        int r;

        /* A newer peer's fields mean nothing here: drop them rather than store or relay them. */
        for (unsigned i = 0; i < m->n_unknown_fields; i++)
                free(m->unknown_fields[i].data);
        free(m->unknown_fields);
        m->unknown_fields = NULL;
        m->n_unknown_fields = 0;

        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];
                char *base = (char *) m + f->offset;

                if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                    *(const uint32_t *) ((const char *) m + f->quantifier_offset) != f->id)
                        continue;
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *) ((const char *) m + f->quantifier_offset);
                        char *arr = *(char **) base;

                        if (n > field_bound(desc, f))
                                return -E2BIG;
                        for (size_t k = 0; k < n; k++) {
                                r = walk_value(desc, f, arr + k * scalar_size(f));
                                if (r < 0)
                                        return r;
                        }
                } else {
                        r = walk_value(desc, f, base);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- Counting before decoding ---- */

/* Reads a varint at *p (below end); false if it is cut short or longer than 10 bytes. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret) {
        uint64_t v = 0;

        for (unsigned shift = 0; *p < end && shift < 70; shift += 7) {
                uint8_t b = *(*p)++;
                v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return true;
                }
        }
        return false;
}

static bool is_varint_type(ProtobufCType t) {
        switch (t) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_BOOL:
        case PROTOBUF_C_TYPE_ENUM:
                return true;
        default:
                return false;
        }
}

/* Walks the wire bytes of one message of type d, without allocating anything, and counts:
 * each repeated field against its bound, each singular field against a few occurrences (an
 * encoder writes it once; the format lets a parser merge repeats, which protobuf-c does at
 * a cost), and the unknown fields. It also adds up what protobuf-c will at least allocate
 * (the structs, strings and arrays; not its scratch space) into *cost, and stops at limit.
 * A 16 MiB flood of empty elements is refused here in one pass over its bytes, before
 * protobuf-c allocates for it; the allocator's budget stays as the exact backstop. */
static int prescan(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t size, unsigned depth,
                   size_t *cost, size_t limit) {
        const uint8_t *end = p + size;
        const ProtobufCFieldDescriptor *last = NULL;
        size_t counts[d->n_fields ?: 1], unknown = 0, bound = 0;
        int r;

        if (depth > CODEC_MAX_DEPTH)
                return -EBADMSG;
        memset(counts, 0, sizeof counts);
        *cost += alloc_cost(d->sizeof_message);
        while (p < end) {
                const ProtobufCFieldDescriptor *f;
                uint64_t tag, len = 0, n = 1;
                const uint8_t *payload;
                unsigned wire;

                if (!read_varint(&p, end, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
                        return -EBADMSG;
                wire = (unsigned) (tag & 7);
                switch (wire) {
                case 0:
                        if (!read_varint(&p, end, &len))
                                return -EBADMSG;
                        break;
                case 1:
                case 5:
                        if ((size_t) (end - p) < (wire == 1 ? 8u : 4u))
                                return -EBADMSG;
                        p += wire == 1 ? 8 : 4;
                        break;
                case 2:
                        if (!read_varint(&p, end, &len) || len > (uint64_t) (end - p))
                                return -EBADMSG;
                        break;
                default:
                        return -EBADMSG; /* groups: protobuf-c does not take them either */
                }
                payload = p;
                if (wire == 2)
                        p += len;

                /* lists come as runs of one field: look it up once a run */
                if (!last || last->id != (tag >> 3)) {
                        f = protobuf_c_message_descriptor_get_field(d, (unsigned) (tag >> 3));
                        if (f)
                                bound = f->label == PROTOBUF_C_LABEL_REPEATED ? field_bound(d, f)
                                                                              : CODEC_MAX_SINGULAR_REPEATS;
                } else
                        f = last;
                last = f;
                if (!f) {
                        if (++unknown > CODEC_MAX_UNKNOWN_FIELDS)
                                return -E2BIG;
                        continue;
                }
                if (f->label == PROTOBUF_C_LABEL_REPEATED && wire == 2 && f->type != PROTOBUF_C_TYPE_STRING &&
                    f->type != PROTOBUF_C_TYPE_BYTES && f->type != PROTOBUF_C_TYPE_MESSAGE) {
                        /* packed: count the elements */
                        if (is_varint_type(f->type)) {
                                n = 0;
                                for (uint64_t k = 0; k < len; k++)
                                        n += !(payload[k] & 0x80);
                        } else
                                n = len / (f->type == PROTOBUF_C_TYPE_DOUBLE || f->type == PROTOBUF_C_TYPE_FIXED64 ||
                                                           f->type == PROTOBUF_C_TYPE_SFIXED64
                                                   ? 8
                                                   : 4);
                }
                counts[f - d->fields] += n;
                if (counts[f - d->fields] > bound)
                        return -E2BIG;
                if (f->type == PROTOBUF_C_TYPE_MESSAGE && wire == 2) {
                        r = prescan(f->descriptor, payload, len, depth + 1, cost, limit);
                        if (r < 0)
                                return r;
                } else if (f->type == PROTOBUF_C_TYPE_STRING && wire == 2)
                        *cost += alloc_cost(len + 1);
                if (*cost > limit)
                        return -EMSGSIZE;
        }
        for (unsigned i = 0; i < d->n_fields; i++)
                if (d->fields[i].label == PROTOBUF_C_LABEL_REPEATED && counts[i] > 0)
                        *cost += alloc_cost(counts[i] * scalar_size(&d->fields[i]));
        return *cost > limit ? -EMSGSIZE : 0;
}

static int unpack_budgeted(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size, size_t limit,
                           ProtobufCMessage **ret) {
        Budget b = { .limit = limit };
        ProtobufCMessage *m;

        b.allocator = (ProtobufCAllocator) { .alloc = budget_alloc, .free = budget_free, .allocator_data = &b };
        m = protobuf_c_message_unpack(d, &b.allocator, size, data);
        decode_stats.decoded++;
        decode_stats.last_budget = b.limit;
        decode_stats.last_allocated = b.used;
        decode_stats.max_allocated = MAX(decode_stats.max_allocated, b.used);
        if (!m) {
                if (b.exceeded)
                        decode_stats.over_budget++;
                return b.exceeded ? -EMSGSIZE : -EBADMSG;
        }
        *ret = m;
        return 0;
}

int codec_unpack_on_budget(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size, size_t limit,
                           ProtobufCMessage **ret) {
        return unpack_budgeted(d, data, size, limit, ret);
}

static int unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size, ProtobufCMessage **ret) {
        size_t limit = codec_decode_budget(size), cost = 0;
        int r;

        r = prescan(d, data, size, 0, &cost, limit);
        if (r < 0) {
                decode_stats.decoded++;
                decode_stats.over_budget += r == -EMSGSIZE;
                decode_stats.last_budget = limit;
                decode_stats.last_allocated = 0;
                return r;
        }
        return unpack_budgeted(d, data, size, limit, ret);
}

const char *codec_strerror(int error) {
        switch (abs(error)) {
        case EBADMSG:
                return "not a well-formed message";
        case EMSGSIZE:
                return "decoding it would need more memory than its size allows";
        case EPROTO:
                return "another protocol version";
        case E2BIG:
                return "a list longer than its bound";
        case EINVAL:
                return "an invalid id, host name or command argument";
        default:
                return strerror(abs(error));
        }
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

/* A device name that becomes a helper's argument: printable, no blanks, not an option. */
static bool valid_device_arg(const char *s) {
        return codec_valid_id(s) && s[0] != '-';
}

static bool valid_device_args(char *const *l, size_t n) {
        if (n > CODEC_MAX_COMMAND_DEVICES)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!valid_device_arg(l[i]))
                        return false;
        return true;
}

int codec_validate_command(const Castle__Command *c) {
        if (!c)
                return -EBADMSG;
        switch (c->kind_case) {
        case CASTLE__COMMAND__KIND_RESCAN:
                return 0;
        case CASTLE__COMMAND__KIND_OSD_CREATE:
                /* These become a helper's arguments: printable, no blanks, not an option. */
                if (!valid_device_arg(c->osd_create->device_id) ||
                    !valid_optional(c->osd_create->crush_device_class) ||
                    !valid_device_args(c->osd_create->data_devices, c->osd_create->n_data_devices) ||
                    !valid_device_args(c->osd_create->db_devices, c->osd_create->n_db_devices) ||
                    !valid_device_args(c->osd_create->wal_devices, c->osd_create->n_wal_devices) ||
                    !valid_optional(c->osd_create->spec))
                        return -EINVAL;
                return 0;
        case CASTLE__COMMAND__KIND_ZAP:
                return valid_device_arg(c->zap->device) ? 0 : -EINVAL;
        case CASTLE__COMMAND__KIND_OSD_REMOVE:
                /* OSD ids become arguments and file names: non-negative, a bounded list. */
                if (c->osd_remove->n_osd_ids == 0 || c->osd_remove->n_osd_ids > CODEC_MAX_COMMAND_DEVICES)
                        return -EINVAL;
                for (size_t i = 0; i < c->osd_remove->n_osd_ids; i++)
                        if (c->osd_remove->osd_ids[i] < 0)
                                return -EINVAL;
                return 0;
        case CASTLE__COMMAND__KIND_OSD_REPLACE:
                return c->osd_replace->osd_id >= 0 && valid_device_arg(c->osd_replace->device) ? 0 : -EINVAL;
        case CASTLE__COMMAND__KIND_SPECS:
                /* The names become intent keys and LV tags: ids, as sent. */
                if (!c->specs)
                        return -EBADMSG;
                for (size_t i = 0; i < c->specs->n_specs; i++)
                        if (!codec_valid_id(c->specs->specs[i]->service_id))
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

/* Ids and names are checked as sent, before walk() makes other text printable: an id with a
 * control character in it is refused, not renamed. */
static int validate_envelope(const Castle__Envelope *e) {
        switch (e->body_case) {
        case CASTLE__ENVELOPE__BODY_HELLO:
                if (!codec_valid_id(e->hello->node_id) || !codec_valid_hostname(e->hello->hostname))
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
        ProtobufCMessage *m = NULL;
        Castle__Envelope *e;
        int r;

        r = unpack(&castle__envelope__descriptor, data, size, &m);
        if (r < 0)
                return r;
        e = (Castle__Envelope *) m;
        if (e->protocol_version != CASTLE_PROTOCOL_VERSION)
                r = -EPROTO;
        else
                r = validate_envelope(e);
        if (r >= 0)
                r = walk(m);
        if (r < 0) {
                castle__envelope__free_unpacked(e, NULL);
                return r;
        }
        *ret = e;
        return 0;
}

int codec_query_request_unpack(const uint8_t *data, size_t size, Castle__QueryRequest **ret) {
        ProtobufCMessage *m = NULL;
        Castle__QueryRequest *q;
        int r;

        r = unpack(&castle__query_request__descriptor, data, size, &m);
        if (r < 0)
                return r;
        q = (Castle__QueryRequest *) m;
        if (q->protocol_version != CASTLE_PROTOCOL_VERSION)
                r = -EPROTO;
        else if (q->kind_case == CASTLE__QUERY_REQUEST__KIND__NOT_SET ||
                 (q->kind_case == CASTLE__QUERY_REQUEST__KIND_COMMAND &&
                  (!codec_valid_id(q->command->node_id) || codec_validate_command(q->command->command) < 0)))
                r = -EBADMSG;
        else
                r = walk(m);
        if (r < 0) {
                castle__query_request__free_unpacked(q, NULL);
                return r;
        }
        *ret = q;
        return 0;
}

/* Unpacks a message that needs no checks of its own beyond the walk's. */
static int unpack_walked(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size,
                         ProtobufCMessage **ret) {
        ProtobufCMessage *m = NULL;
        int r;

        r = unpack(d, data, size, &m);
        if (r < 0)
                return r;
        r = walk(m);
        if (r < 0) {
                protobuf_c_message_free_unpacked(m, NULL);
                return r;
        }
        *ret = m;
        return 0;
}

int codec_query_reply_unpack(const uint8_t *data, size_t size, Castle__QueryReply **ret) {
        return unpack_walked(&castle__query_reply__descriptor, data, size, (ProtobufCMessage **) ret);
}

int codec_audit_batch_unpack(const uint8_t *data, size_t size, Castle__AuditBatch **ret) {
        return unpack_walked(&castle__audit_batch__descriptor, data, size, (ProtobufCMessage **) ret);
}

const char *codec_oneof_name(const ProtobufCMessageDescriptor *d, int field_case) {
        const ProtobufCFieldDescriptor *f;

        if (field_case <= 0)
                return NULL;
        f = protobuf_c_message_descriptor_get_field(d, (unsigned) field_case);
        return f ? f->name : NULL;
}
