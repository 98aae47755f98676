/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Load generator for bench/flood: one agent key sending the coordinator the hostile messages
 * of issue 13 as fast as its socket takes them (16 MiB of empty Devices, a Device with 8
 * million empty links or 5.6 million empty signatures, and, within every bound, hundreds of
 * Devices of 16,384 empty mount points each), and a query client timing ListNodes round trips
 * meanwhile. Both speak the real protocol over CURVE.
 *   castle-flood flood ENDPOINT KEY SERVER-KEY devices|links|signatures|mountpoints|mixed SECONDS [RATE]
 * RATE: messages a second (default: as fast as the socket takes them).
 *   castle-flood query ENDPOINT KEY SERVER-KEY SECONDS */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/timeutil.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/link.h"

/* Just under the agents' ZMQ_MAXMSGSIZE (16 MiB): a larger message drops the connection. */
#define FRAME_MAX ((16u << 20) - 64)

static size_t put_varint(uint8_t *b, uint64_t v) {
        size_t n = 0;

        do {
                b[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
        } while (v);
        return n;
}

/* Envelope { protocol_version = 1, message_id, snapshot = Snapshot { generation = 1, ... } }
 * of just under FRAME_MAX bytes: empty Devices; one Device "sdz" with empty links or empty
 * signatures; or Devices "sdz" of 16,384 empty mount points each. */
static zframe_t *hostile(const char *kind, uint64_t message_id) {
        static const uint8_t empty_device[] = { 2 << 3 | 2, 0 }, empty_link[] = { 4 << 3 | 2, 0 },
                             empty_signature[] = { 0x92, 0x02, 0 }, empty_mountpoint[] = { 0xfa, 0x01, 0 };
        uint8_t *b = malloc(FRAME_MAX + 64), *unit = NULL, head[16];
        size_t n_unit, reps, w = 0, n_head = 0;
        zframe_t *f = NULL;

        if (!b)
                return NULL;
        if (streq(kind, "mountpoints")) {
                /* the unit is a whole Device */
                size_t per_dev = 5 + sizeof empty_mountpoint * 16384;
                unit = malloc(per_dev + 16);
                if (!unit)
                        goto out;
                unit[n_unit = 0] = 2 << 3 | 2;
                n_unit = 1 + put_varint(unit + 1, per_dev);
                memcpy(unit + n_unit, "\x12\x03sdz", 5);
                n_unit += 5;
                for (size_t i = 0; i < 16384; i++, n_unit += sizeof empty_mountpoint)
                        memcpy(unit + n_unit, empty_mountpoint, sizeof empty_mountpoint);
        } else {
                const uint8_t *u = streq(kind, "devices") ? empty_device
                                   : streq(kind, "links") ? empty_link
                                                          : empty_signature;
                n_unit = streq(kind, "signatures") ? sizeof empty_signature : 2;
                unit = malloc(n_unit);
                if (!unit)
                        goto out;
                memcpy(unit, u, n_unit);
        }
        reps = (FRAME_MAX - 64) / n_unit;
        if (streq(kind, "links") || streq(kind, "signatures")) {
                /* one Device around them all */
                head[n_head++] = 2 << 3 | 2;
                n_head += put_varint(head + n_head, 5 + reps * n_unit);
                memcpy(head + n_head, "\x12\x03sdz", 5);
                n_head += 5;
        }
        b[w++] = 0x08; /* protocol_version */
        b[w++] = CASTLE_PROTOCOL_VERSION;
        b[w++] = 0x10; /* message_id */
        w += put_varint(b + w, message_id);
        b[w++] = 11 << 3 | 2; /* snapshot */
        w += put_varint(b + w, 2 + n_head + reps * n_unit);
        b[w++] = 0x08; /* generation */
        b[w++] = 1;
        memcpy(b + w, head, n_head);
        w += n_head;
        for (size_t i = 0; i < reps; i++, w += n_unit)
                memcpy(b + w, unit, n_unit);
        f = zframe_new(b, w);
out:
        free(unit);
        free(b);
        return f;
}

static int flood(zsock_t *s, const char *kind, unsigned seconds, unsigned rate) {
        static const char *const kinds[] = { "devices", "links", "signatures", "mountpoints" };
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Hello h = CASTLE__HELLO__INIT;
        zframe_t *frames[ELEMENTSOF(kinds)] = {};
        uint64_t start = now_usec(), end = start + (uint64_t) seconds * USEC_PER_SEC, sent = 0, bytes = 0;

        h.node_id = (char *) "flood-1";
        h.hostname = (char *) "flood-1";
        h.agent_version = (char *) "flood";
        h.generation = 1;
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.message_id = 1;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        if (link_send(s, NULL, &e.base) < 0)
                return 1;
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                if (streq(kind, "mixed") || streq(kind, kinds[k])) {
                        frames[k] = hostile(kinds[k], 2 + k);
                        if (!frames[k])
                                return 1;
                }
        zsock_set_sndtimeo(s, 1000);
        while (now_usec() < end)
                for (size_t k = 0; k < ELEMENTSOF(kinds) && now_usec() < end; k++) {
                        zframe_t *f;

                        if (!frames[k])
                                continue;
                        if (rate > 0) {
                                uint64_t due = start + sent * USEC_PER_SEC / rate, now = now_usec();
                                if (due > now)
                                        usleep((useconds_t) (due - now));
                        }
                        f = zframe_dup(frames[k]);
                        if (zframe_send(&f, s, 0) < 0) {
                                zframe_destroy(&f);
                                continue; /* the queue is full: the coordinator is behind */
                        }
                        sent++;
                        bytes += zframe_size(frames[k]);
                }
        printf("flood %s: %" PRIu64 " messages, %.0f MiB in %u s\n", kind, sent, (double) bytes / (1 << 20),
               seconds);
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                zframe_destroy(&frames[k]);
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static int query(zsock_t *s, unsigned seconds) {
        uint64_t end = now_usec() + (uint64_t) seconds * USEC_PER_SEC, *lat = NULL;
        size_t n = 0, cap = 0, lost = 0;

        zsock_set_rcvtimeo(s, 5000);
        for (uint64_t id = 1; now_usec() < end; id++) {
                Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;
                Castle__ListNodes ln = CASTLE__LIST_NODES__INIT;
                uint64_t t0 = now_usec();
                bool done = false;

                q.protocol_version = CASTLE_PROTOCOL_VERSION;
                q.request_id = id;
                q.kind_case = CASTLE__QUERY_REQUEST__KIND_NODES;
                q.nodes = &ln;
                if (link_send(s, NULL, &q.base) < 0)
                        return 1;
                while (!done) {
                        zframe_t *f = zframe_recv(s);
                        Castle__QueryReply *r = NULL;

                        if (!f) {
                                lost++;
                                break;
                        }
                        if (codec_query_reply_unpack(zframe_data(f), zframe_size(f), &r) >= 0) {
                                done = r->request_id == id && r->last;
                                castle__query_reply__free_unpacked(r, NULL);
                        }
                        zframe_destroy(&f);
                }
                if (!done)
                        continue;
                if (n == cap) {
                        uint64_t *l = realloc(lat, (cap = cap * 2 + 256) * sizeof(uint64_t));
                        if (!l)
                                return 1;
                        lat = l;
                }
                lat[n++] = now_usec() - t0;
                usleep(10 * 1000); /* a client asking 100 times a second, not a spin */
        }
        if (n == 0) {
                printf("query: no answer in %u s (%zu timed out)\n", seconds, lost);
                free(lat);
                return 0;
        }
        qsort(lat, n, sizeof(uint64_t), cmp_u64);
        printf("query: %zu answered, %zu timed out (5 s); p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", n, lost,
               (double) lat[n / 2] / 1e3, (double) lat[MIN(n - 1, (n * 99 + 99) / 100 - 1)] / 1e3,
               (double) lat[n - 1] / 1e3);
        free(lat);
        return 0;
}

int main(int argc, char *argv[]) {
        char server[KEY_TEXT_LEN + 1];
        zcert_t *cert = NULL;
        zsock_t *s = NULL;
        bool is_flood = (argc == 7 || argc == 8) && streq(argv[1], "flood"),
             is_query = argc == 6 && streq(argv[1], "query");
        int r;

        if (!is_flood && !is_query) {
                fprintf(stderr, "usage: castle-flood flood ENDPOINT KEY SERVER-KEY devices|links|signatures|mountpoints|mixed "
                                "SECONDS [RATE]\n"
                                "       castle-flood query ENDPOINT KEY SERVER-KEY SECONDS\n");
                return 2;
        }
        if (keys_load_pair(argv[3], &cert) < 0 || keys_load_public(argv[4], server) < 0) {
                fprintf(stderr, "castle-flood: cannot load keys\n");
                return 1;
        }
        if (link_connect(argv[2],
                         &(LinkOptions) { .cert = cert, .server_public = server,
                                          .identity = is_flood ? "flood-1" : NULL,
                                          .max_message_size = 64 << 20 },
                         &s) < 0) {
                fprintf(stderr, "castle-flood: cannot connect to %s\n", argv[2]);
                return 1;
        }
        r = is_flood ? flood(s, argv[5], (unsigned) atoi(argv[6]), argc == 8 ? (unsigned) atoi(argv[7]) : 0)
                     : query(s, (unsigned) atoi(argv[5]));
        zsock_destroy(&s);
        zcert_destroy(&cert);
        return r;
}
