/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire decoders of proto/codec.h, through their public calls only: every input is tried
 * as an Envelope (what agents and the coordinator send each other, commands validated as the
 * agent does), a QueryRequest (what clients send) and a QueryReply (what castlectl reads).
 * What decodes is printed as JSON, as castlectl would, and must pack again into bytes that
 * decode to the same bytes once more. */
#include <stdio.h>

#include "proto/codec.h"
#include "tests/fuzz/fuzz.h"

/* Whether m or a message in it kept an unknown field numbered 0. protobuf-c 1.4.1 accepts
 * one whose tag is written in more bytes than it needs ("82 00": field 0, wire type 2) and
 * packs it back as "02", which it then refuses: such a message does not survive a round trip
 * (castle packs devices into its store and unpacks them for queries). Known; reported with
 * the decode limits (tests/fuzz/README.md), so not a finding here. */
static bool has_field_zero(const ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *d = m->descriptor;

        for (unsigned i = 0; i < m->n_unknown_fields; i++)
                if (m->unknown_fields[i].tag == 0)
                        return true;
        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                const char *p = (const char *) m + f->offset;

                if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                        continue;
                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
                    *(const uint32_t *) ((const char *) m + f->quantifier_offset) != f->id)
                        continue;
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *) ((const char *) m + f->quantifier_offset);
                        ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *) p;

                        for (size_t j = 0; j < n; j++)
                                if (v[j] && has_field_zero(v[j]))
                                        return true;
                } else {
                        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) p;

                        if (sub && has_field_zero(sub))
                                return true;
                }
        }
        return false;
}

/* m packed, unpacked and packed again gives the same bytes. */
static void round_trip(const ProtobufCMessage *m) {
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        ProtobufCMessage *again;

        if (has_field_zero(m))
                return;
        fuzz_require(codec_pack(m, &a, &na) >= 0);
        again = protobuf_c_message_unpack(m->descriptor, NULL, na, a);
        if (!again) {
                fprintf(stderr, "a packed %s does not unpack\n", m->descriptor->name);
                abort();
        }
        fuzz_require(codec_pack(again, &b, &nb) >= 0);
        if (na != nb || memcmp(a, b, na) != 0) {
                fprintf(stderr, "%s: packing is not stable (%zu, then %zu bytes)\n", m->descriptor->name, na, nb);
                abort();
        }
        protobuf_c_message_free_unpacked(again, NULL);
}

static void print_json(const ProtobufCMessage *m) {
        json_object *j = codec_message_to_json(m);

        fuzz_require(j);
        fuzz_require(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
        json_object_put(j);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_quiet();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Castle__Envelope *e = NULL;
        Castle__QueryRequest *q = NULL;
        Castle__QueryReply *r = NULL;

        if (codec_envelope_unpack(data, size, &e) >= 0) {
                if (e->body_case == CASTLE__ENVELOPE__BODY_COMMAND)
                        (void) codec_validate_command(e->command);
                (void) codec_oneof_name(e->base.descriptor, (int) e->body_case);
                print_json(&e->base);
                round_trip(&e->base);
                castle__envelope__free_unpacked(e, NULL);
        }
        if (codec_query_request_unpack(data, size, &q) >= 0) {
                (void) codec_oneof_name(q->base.descriptor, (int) q->kind_case);
                print_json(&q->base);
                round_trip(&q->base);
                castle__query_request__free_unpacked(q, NULL);
        }
        if (codec_query_reply_unpack(data, size, &r) >= 0) {
                for (size_t i = 0; i < r->n_devices; i++)
                        if (r->devices[i] && r->devices[i]->device)
                                print_json(&r->devices[i]->device->base);
                print_json(&r->base);
                round_trip(&r->base);
                castle__query_reply__free_unpacked(r, NULL);
        }
        return 0;
}
