/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire decoders of proto/codec.h, through their public calls only: every input is tried
 * as an Envelope (what agents and the coordinator send each other, commands validated as the
 * agent does), a QueryRequest (what clients send) and a QueryReply (what castlectl reads).
 * What decodes is printed as JSON, as castlectl would, and must pack again into bytes that
 * decode to the same bytes once more. */
#include <stdio.h>

#include "proto/codec.h"
#include "tests/fuzz/fuzz.h"

/* m packed, unpacked and packed again gives the same bytes. */
static void round_trip(const ProtobufCMessage *m) {
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        ProtobufCMessage *again;

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
