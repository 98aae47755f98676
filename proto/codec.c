/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* protobuf-c codec. Messages built here own every string and array through malloc, so
 * protobuf_c_message_free_unpacked() frees them; empty strings point at protobuf-c's shared
 * empty string, which it knows not to free. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/macro.h"
#include "common/strv.h"
#include "proto/codec.h"

static char *dup_str(const char *s, bool *oom) {
        char *c;

        if (isempty(s))
                return (char *) protobuf_c_empty_string;
        c = strdup(s);
        if (!c) {
                *oom = true;
                return (char *) protobuf_c_empty_string;
        }
        return c;
}

static char **dup_strv(char *const *l, size_t *ret_n, bool *oom) {
        size_t n = strv_length(l);
        char **a;

        *ret_n = 0;
        if (n == 0)
                return NULL;
        a = calloc(n, sizeof(char *));
        if (!a) {
                *oom = true;
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                a[i] = dup_str(l[i], oom);
        *ret_n = n;
        return a;
}

static void *new_array(size_t n, size_t size, bool *oom) {
        void *a;

        if (n == 0)
                return NULL;
        a = calloc(n, size);
        if (!a)
                *oom = true;
        return a;
}

static Castle__LvmFacts *lvm_to_proto(const LvmFacts *f, bool *oom) {
        Castle__LvmFacts *m;

        if (!f)
                return NULL;
        m = malloc(sizeof *m);
        if (!m) {
                *oom = true;
                return NULL;
        }
        castle__lvm_facts__init(m);
        m->pv_uuid = dup_str(f->pv_uuid, oom);
        m->vg_name = dup_str(f->vg_name, oom);
        m->vg_uuid = dup_str(f->vg_uuid, oom);
        m->vg_extent_count = f->vg_extent_count;
        m->vg_free_count = f->vg_free_count;
        m->lvs = new_array(f->n_lvs, sizeof(Castle__LogicalVolume *), oom);
        for (size_t i = 0; m->lvs && i < f->n_lvs; i++) {
                const LogicalVolume *lv = &f->lvs[i];
                Castle__LogicalVolume *v = malloc(sizeof *v);
                if (!v) {
                        *oom = true;
                        break;
                }
                castle__logical_volume__init(v);
                m->lvs[m->n_lvs++] = v;
                v->name = dup_str(lv->name, oom);
                v->vg_name = dup_str(lv->vg_name, oom);
                v->path = dup_str(lv->path, oom);
                v->uuid = dup_str(lv->uuid, oom);
                v->size = lv->size;
                v->tags = new_array(lv->n_tags, sizeof(Castle__LogicalVolume__Tag *), oom);
                for (size_t j = 0; v->tags && j < lv->n_tags; j++) {
                        Castle__LogicalVolume__Tag *t = malloc(sizeof *t);
                        if (!t) {
                                *oom = true;
                                break;
                        }
                        castle__logical_volume__tag__init(t);
                        v->tags[v->n_tags++] = t;
                        t->key = dup_str(lv->tags[j].key, oom);
                        t->value = dup_str(lv->tags[j].value, oom);
                }
        }
        return m;
}

static void fill_device(Castle__Device *m, const Device *d, bool *oom) {
        size_t n;

        m->stable_id = dup_str(d->stable_id, oom);
        m->kname = dup_str(d->kname, oom);
        m->path = dup_str(d->path, oom);
        m->links = dup_strv(d->links, &m->n_links, oom);
        m->major = major(d->devnum);
        m->minor = minor(d->devnum);
        m->type = (Castle__Device__Type) d->type;
        m->transport = (Castle__Device__Transport) d->transport;
        m->size = d->size;
        m->rotational = d->rotational;
        m->read_only = d->read_only;
        m->removable = d->removable;
        m->logical_sector_size = d->logical_sector_size;
        m->physical_sector_size = d->physical_sector_size;
        m->vendor = dup_str(d->vendor, oom);
        m->model = dup_str(d->model, oom);
        m->serial = dup_str(d->serial, oom);
        m->wwn = dup_str(d->wwn, oom);
        m->revision = dup_str(d->revision, oom);
        m->sas_address = dup_str(d->sas_address, oom);
        m->id_bus = dup_str(d->id_bus, oom);
        m->device_id = dup_str(d->device_id, oom);
        m->parent = dup_str(d->parent, oom);
        m->partition_number = d->partition_number;
        m->partition_uuid = dup_str(d->part_uuid, oom);
        m->partition_label = dup_str(d->part_label, oom);
        m->partition_type = dup_str(d->part_type, oom);
        m->partitions = dup_strv(d->partitions, &m->n_partitions, oom);
        m->holders = dup_strv(d->holders, &m->n_holders, oom);
        m->slaves = dup_strv(d->slaves, &m->n_slaves, oom);
        m->dm_name = dup_str(d->dm_name, oom);
        m->dm_uuid = dup_str(d->dm_uuid, oom);
        m->mountpoints = dup_strv(d->mountpoints, &m->n_mountpoints, oom);
        m->swap = d->swap;
        m->partition_table = dup_str(d->pttype, oom);
        m->partition_table_uuid = dup_str(d->ptuuid, oom);
        m->id_serial = dup_str(d->id_serial, oom);

        m->signatures = new_array(d->n_signatures, sizeof(Castle__Signature *), oom);
        for (size_t i = 0; m->signatures && i < d->n_signatures; i++) {
                Castle__Signature *s = malloc(sizeof *s);
                if (!s) {
                        *oom = true;
                        break;
                }
                castle__signature__init(s);
                m->signatures[m->n_signatures++] = s;
                s->type = dup_str(d->signatures[i].type, oom);
                s->usage = dup_str(d->signatures[i].usage, oom);
                s->uuid = dup_str(d->signatures[i].uuid, oom);
                s->label = dup_str(d->signatures[i].label, oom);
                s->version = dup_str(d->signatures[i].version, oom);
        }

        m->bluestore_label_offsets = new_array(d->n_label_offsets, sizeof(uint64_t), oom);
        if (m->bluestore_label_offsets) {
                memcpy(m->bluestore_label_offsets, d->label_offsets, d->n_label_offsets * sizeof(uint64_t));
                m->n_bluestore_label_offsets = d->n_label_offsets;
        }

        m->lvm = lvm_to_proto(d->lvm, oom);

        m->ceph = new_array(d->n_ceph, sizeof(Castle__CephFacts *), oom);
        for (size_t i = 0; m->ceph && i < d->n_ceph; i++) {
                Castle__CephFacts *c = malloc(sizeof *c);
                if (!c) {
                        *oom = true;
                        break;
                }
                castle__ceph_facts__init(c);
                m->ceph[m->n_ceph++] = c;
                c->source = dup_str(d->ceph[i].source, oom);
                c->osd_uuid = dup_str(d->ceph[i].osd_uuid, oom);
                c->osd_id = d->ceph[i].osd_id;
                c->cluster_fsid = dup_str(d->ceph[i].cluster_fsid, oom);
                c->type = dup_str(d->ceph[i].type, oom);
                c->lv_path = dup_str(d->ceph[i].lv_path, oom);
        }

        m->queue = malloc(sizeof *m->queue);
        if (m->queue) {
                castle__queue_facts__init(m->queue);
                m->queue->nr_requests = d->nr_requests;
                m->queue->scheduler = dup_str(d->scheduler, oom);
                m->queue->discard_granularity = d->discard_granularity;
                m->queue->optimal_io_size = d->optimal_io_size;
        } else
                *oom = true;

        m->available = d->available;
        n = 0;
        REASON_SET_FOREACH(c, d->reasons)
                n++;
        m->reasons = new_array(n, sizeof(Castle__Reason *), oom);
        REASON_SET_FOREACH(c, d->reasons) {
                Castle__Reason *r;
                if (!m->reasons)
                        break;
                r = malloc(sizeof *r);
                if (!r) {
                        *oom = true;
                        break;
                }
                castle__reason__init(r);
                m->reasons[m->n_reasons++] = r;
                r->code = (Castle__Reason__Code) c;
                r->message = dup_str(reason_message(c), oom);
        }
        m->probe_error = dup_str(d->probe_error < 0 ? (d->probe_error_msg ?: strerror(-d->probe_error)) : NULL, oom);
}

int codec_device_to_proto(const Device *d, Castle__Device **ret) {
        Castle__Device *m = malloc(sizeof *m);
        bool oom = false;

        if (!m)
                return -ENOMEM;
        castle__device__init(m);
        fill_device(m, d, &oom);
        if (oom) {
                codec_device_free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

void codec_device_free(Castle__Device *m) {
        if (m)
                protobuf_c_message_free_unpacked(&m->base, NULL);
}

int codec_inventory_to_proto(const ScanResult *scan, Device *const *devices, size_t n,
                             const char *hostname, const char *sysroot, Castle__Inventory **ret) {
        Castle__Inventory *m = malloc(sizeof *m);
        bool oom = false;
        int r = 0;

        if (!m)
                return -ENOMEM;
        castle__inventory__init(m);
        m->hostname = dup_str(hostname, &oom);
        m->scan = malloc(sizeof *m->scan);
        if (m->scan) {
                castle__scan_info__init(m->scan);
                m->scan->duration_usec = scan->duration_usec;
                m->scan->devices_seen = (uint32_t) scan->devices->n;
                m->scan->devices_failed = scan->n_failed;
                m->scan->lvm = dup_str(scan->lvm_status, &oom);
                m->scan->sysroot = dup_str(sysroot, &oom);
                m->scan->castle_version = dup_str(PACKAGE_VERSION, &oom);
        } else
                oom = true;
        m->devices = new_array(n, sizeof(Castle__Device *), &oom);
        for (size_t i = 0; m->devices && i < n && r >= 0; i++) {
                r = codec_device_to_proto(devices[i], &m->devices[i]);
                if (r >= 0)
                        m->n_devices++;
        }
        if (oom || r < 0) {
                codec_inventory_free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

void codec_inventory_free(Castle__Inventory *m) {
        if (m)
                protobuf_c_message_free_unpacked(&m->base, NULL);
}

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
