/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Load generator for bench/fleet: many simulated agents in one process, each a real DEALER
 * with CURVE speaking castle's protocol: Hello, then the Snapshot the coordinator asks for,
 * then deltas. Prints when all snapshots were acknowledged and the delta rate. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/timeutil.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/link.h"

typedef struct Sim {
        zsock_t *s;
        char id[32];
        uint64_t generation;
        bool snapshot_acked;
        uint64_t snapshot_msg;
        unsigned deltas_acked;
} Sim;

static Castle__Device *make_devices(const char *node, size_t n) {
        Castle__Device *d = calloc(n, sizeof(Castle__Device));

        for (size_t i = 0; d && i < n; i++) {
                char *buf = NULL;
                castle__device__init(&d[i]);
                if (asprintf(&buf, "wwn-0x5000c500%08zx_%s", i, node) < 0)
                        exit(1);
                d[i].stable_id = buf;
                if (asprintf(&buf, "sd%c%c", 'a' + (int) (i / 26), 'a' + (int) (i % 26)) < 0)
                        exit(1);
                d[i].kname = buf;
                if (asprintf(&buf, "/dev/%s", d[i].kname) < 0)
                        exit(1);
                d[i].path = buf;
                d[i].type = CASTLE__DEVICE__TYPE__DISK;
                d[i].transport = CASTLE__DEVICE__TRANSPORT__SAS;
                d[i].size = UINT64_C(4000787030016);
                d[i].rotational = true;
                d[i].available = i % 3 == 0;
                d[i].model = (char *) "ST4000NM0035-1V4107";
                d[i].vendor = (char *) "SEAGATE";
        }
        return d;
}

static void send_env(Sim *sim, Castle__Envelope *e, uint64_t id) {
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        e->message_id = id;
        (void) link_send(sim->s, NULL, &e->base);
}

static void send_snapshot(Sim *sim, size_t n_devices) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device *devs = make_devices(sim->id, n_devices);
        Castle__Device **ptrs = calloc(n_devices, sizeof(Castle__Device *));

        for (size_t i = 0; i < n_devices; i++)
                ptrs[i] = &devs[i];
        s.generation = sim->generation;
        s.devices = ptrs;
        s.n_devices = n_devices;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        sim->snapshot_msg = 2;
        send_env(sim, &e, 2);
        for (size_t i = 0; i < n_devices; i++) {
                free(devs[i].stable_id);
                free(devs[i].kname);
                free(devs[i].path);
        }
        free(devs);
        free(ptrs);
}

static void send_delta(Sim *sim, uint64_t id) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Delta d = CASTLE__DELTA__INIT;
        Castle__Device *dev = make_devices(sim->id, 1), *ptr = dev;

        dev->available = id % 2;
        d.generation = ++sim->generation;
        d.changed = &ptr;
        d.n_changed = 1;
        e.body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &d;
        send_env(sim, &e, id);
        free(dev->stable_id);
        free(dev->kname);
        free(dev->path);
        free(dev);
}

int main(int argc, char *argv[]) {
        char server[KEY_TEXT_LEN + 1];
        zcert_t *cert = NULL;
        unsigned first, count, devices, deltas;
        Sim *sims;
        zmq_pollitem_t *items;
        unsigned acked = 0, deltas_done = 0;
        uint64_t start, snap_done = 0, delta_start = 0;

        if (argc != 8) {
                fprintf(stderr, "usage: fleet ENDPOINT KEY SERVER-KEY FIRST COUNT DEVICES DELTAS\n");
                return 2;
        }
        first = (unsigned) atoi(argv[4]);
        count = (unsigned) atoi(argv[5]);
        devices = (unsigned) atoi(argv[6]);
        deltas = (unsigned) atoi(argv[7]);
        if (keys_load_pair(argv[2], &cert) < 0 || keys_load_public(argv[3], server) < 0) {
                fprintf(stderr, "fleet: cannot load keys\n");
                return 1;
        }
        zsys_set_max_sockets(0);
        zsys_set_io_threads(2);
        sims = calloc(count, sizeof(Sim));
        items = calloc(count, sizeof(zmq_pollitem_t));
        if (!sims || !items)
                return 1;
        start = now_usec();
        for (unsigned i = 0; i < count; i++) {
                Sim *sim = &sims[i];
                snprintf(sim->id, sizeof sim->id, "sim-%06u", first + i);
                sim->generation = 1000;
                if (link_connect(argv[1], &(LinkOptions) { .cert = cert, .server_public = server, .identity = sim->id },
                                 &sim->s) < 0) {
                        fprintf(stderr, "fleet: socket %u failed (raise the fd limit)\n", i);
                        return 1;
                }
                zsock_set_sndtimeo(sim->s, -1);
                items[i] = (zmq_pollitem_t) { .socket = zsock_resolve(sim->s), .events = ZMQ_POLLIN };
                Castle__Envelope e = CASTLE__ENVELOPE__INIT;
                Castle__Hello h = CASTLE__HELLO__INIT;
                h.node_id = sim->id;
                h.hostname = sim->id;
                h.agent_version = (char *) "fleet";
                h.generation = sim->generation;
                e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
                e.hello = &h;
                send_env(sim, &e, 1);
        }
        while (acked < count || deltas_done < count * deltas) {
                int n = zmq_poll(items, (int) count, 30000);
                if (n <= 0) {
                        fprintf(stderr, "fleet: no progress for 30 s (%u/%u snapshots, %u deltas)\n", acked, count,
                                deltas_done);
                        return 1;
                }
                for (unsigned i = 0; i < count; i++) {
                        Sim *sim = &sims[i];
                        zframe_t *f;
                        Castle__Envelope *e = NULL;

                        if (!(items[i].revents & ZMQ_POLLIN))
                                continue;
                        while ((f = zframe_recv_nowait(sim->s))) {
                                if (codec_envelope_unpack(zframe_data(f), zframe_size(f), &e) >= 0) {
                                        if (e->body_case == CASTLE__ENVELOPE__BODY_RESYNC && !sim->snapshot_acked)
                                                send_snapshot(sim, devices);
                                        else if (e->body_case == CASTLE__ENVELOPE__BODY_ACK &&
                                                 e->ack->message_id == sim->snapshot_msg && !sim->snapshot_acked) {
                                                sim->snapshot_acked = true;
                                                if (++acked == count) {
                                                        snap_done = now_usec();
                                                        delta_start = snap_done;
                                                        /* all in: every agent starts its deltas */
                                                        for (unsigned k = 0; k < count && deltas; k++)
                                                                send_delta(&sims[k], 100);
                                                }
                                        } else if (e->body_case == CASTLE__ENVELOPE__BODY_ACK && e->ack->message_id >= 100) {
                                                deltas_done++;
                                                if (++sim->deltas_acked < deltas)
                                                        send_delta(sim, 100 + sim->deltas_acked);
                                        }
                                        castle__envelope__free_unpacked(e, NULL);
                                }
                                zframe_destroy(&f);
                        }
                }
        }
        printf("snapshots %u in %.3f s\n", count, (double) (snap_done - start) / 1e6);
        if (deltas)
                printf("deltas %u in %.3f s\n", deltas_done, (double) (now_usec() - delta_start) / 1e6);
        for (unsigned i = 0; i < count; i++)
                zsock_destroy(&sims[i].s);
        zcert_destroy(&cert);
        free(sims);
        free(items);
        return 0;
}
