/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Load generator for bench/fleet: many simulated agents in one process, each a real DEALER
 * with CURVE per coordinator speaking castle's protocol: Hello, then the Snapshot the
 * coordinator asks for, then deltas. Like the real agent, a simulated agent that hears nothing
 * for a while sends a heartbeat, which the coordinator answers (or asks for a snapshot): a
 * message lost to a reconnect under overload delays that agent instead of stalling it for
 * good. Prints when all snapshots were acknowledged (overall and per coordinator) and the delta
 * rate; with "hold" it then keeps heartbeating until SIGTERM, for the reconnect measurements. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/timeutil.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/link.h"

#define MAX_COORDINATORS 8
#define RETRY_USEC (10 * USEC_PER_SEC)      /* silence before a pending link heartbeats */
#define HOLD_HEARTBEAT_USEC (15 * USEC_PER_SEC) /* heartbeats while holding (agents: 5 s) */
#define STALL_USEC (120 * USEC_PER_SEC)     /* no acknowledgement at all for this long: give up */

typedef struct Link {
        zsock_t *s;
        uint64_t generation;
        bool snapshot_acked;
        uint64_t snapshot_sent;
        unsigned deltas_acked;
        uint64_t last_heard, last_sent;
        unsigned retry_n;       /* heartbeats without an answer: the next waits twice as long */
} Link;

typedef struct Sim {
        char id[32];
        Link links[MAX_COORDINATORS];
} Sim;

static unsigned n_coord;

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

static void free_devices(Castle__Device *d, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(d[i].stable_id);
                free(d[i].kname);
                free(d[i].path);
        }
        free(d);
}

static void send_env(Link *l, Castle__Envelope *e, uint64_t id) {
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        e->message_id = id;
        l->last_sent = now_usec();
        (void) link_send(l->s, NULL, &e->base);
}

static void send_hello(Sim *sim, Link *l) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Hello h = CASTLE__HELLO__INIT;

        h.node_id = sim->id;
        h.hostname = sim->id;
        h.agent_version = (char *) "fleet";
        h.generation = l->generation;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        send_env(l, &e, 1);
}

static void send_heartbeat(Link *l, size_t n_devices) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;

        h.generation = l->generation;
        h.devices = (uint32_t) n_devices;
        e.body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &h;
        send_env(l, &e, 3);
}

static void send_snapshot(Sim *sim, Link *l, size_t n_devices) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device *devs = make_devices(sim->id, n_devices);
        Castle__Device **ptrs = calloc(n_devices, sizeof(Castle__Device *));

        if (!devs || !ptrs)
                exit(1);
        for (size_t i = 0; i < n_devices; i++)
                ptrs[i] = &devs[i];
        s.generation = l->generation;
        s.devices = ptrs;
        s.n_devices = n_devices;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        l->snapshot_sent = now_usec();
        send_env(l, &e, 2);
        free_devices(devs, n_devices);
        free(ptrs);
}

static void send_delta(Sim *sim, Link *l, uint64_t id) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Delta d = CASTLE__DELTA__INIT;
        Castle__Device *dev = make_devices(sim->id, 1), *ptr = dev;

        if (!dev)
                exit(1);
        dev->available = id % 2;
        d.generation = ++l->generation;
        d.changed = &ptr;
        d.n_changed = 1;
        e.body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &d;
        send_env(l, &e, id);
        free_devices(dev, 1);
}

int main(int argc, char *argv[]) {
        char server[MAX_COORDINATORS][KEY_TEXT_LEN + 1];
        char *endpoints[MAX_COORDINATORS] = {}, *eps, *save = NULL;
        zcert_t *cert = NULL;
        unsigned first, count, devices, deltas, n_links;
        bool hold, printed = false;
        Sim *sims;
        zmq_pollitem_t *items;
        unsigned acked = 0, acked_per[MAX_COORDINATORS] = {}, deltas_done = 0, retries = 0;
        uint64_t start, snap_done = 0, snap_done_per[MAX_COORDINATORS] = {}, delta_start = 0, delta_done = 0,
                        last_progress, last_sweep = 0;

        if (argc != 8 && !(argc == 9 && streq(argv[8], "hold"))) {
                fprintf(stderr, "usage: fleet ENDPOINT[,ENDPOINT...] KEY SERVER-KEY[,SERVER-KEY...] FIRST COUNT "
                                "DEVICES DELTAS [hold]\n");
                return 2;
        }
        hold = argc == 9;
        eps = strdup(argv[1]);
        for (char *t = strtok_r(eps, ",", &save); t && n_coord < MAX_COORDINATORS; t = strtok_r(NULL, ",", &save))
                endpoints[n_coord++] = t;
        first = (unsigned) atoi(argv[4]);
        count = (unsigned) atoi(argv[5]);
        devices = (unsigned) atoi(argv[6]);
        deltas = (unsigned) atoi(argv[7]);
        if (n_coord == 0 || keys_load_pair(argv[2], &cert) < 0) {
                fprintf(stderr, "fleet: cannot load keys\n");
                return 1;
        }
        {
                char *ks = strdup(argv[3]), *ksave = NULL;
                unsigned k = 0;
                for (char *t = strtok_r(ks, ",", &ksave); t && k < n_coord; t = strtok_r(NULL, ",", &ksave), k++)
                        if (keys_load_public(t, server[k]) < 0) {
                                fprintf(stderr, "fleet: cannot load %s\n", t);
                                return 1;
                        }
                for (unsigned j = MAX(k, 1); j < n_coord; j++) /* one key for all */
                        memcpy(server[j], server[0], sizeof server[0]);
                free(ks);
        }
        zsys_set_max_sockets(0);
        zsys_set_io_threads(2);
        n_links = count * n_coord;
        sims = calloc(count, sizeof(Sim));
        items = calloc(n_links, sizeof(zmq_pollitem_t));
        if (!sims || !items)
                return 1;
        start = last_progress = now_usec();
        for (unsigned i = 0; i < count; i++) {
                Sim *sim = &sims[i];
                snprintf(sim->id, sizeof sim->id, "sim-%06u", first + i);
                for (unsigned k = 0; k < n_coord; k++) {
                        Link *l = &sim->links[k];
                        l->generation = 1000;
                        if (link_connect(endpoints[k],
                                         /* thousands of links in one process: the same linear
                                          * timer search as on the coordinator (link.h), which
                                          * would make the simulator the bottleneck */
                                         &(LinkOptions) { .cert = cert, .server_public = server[k], .identity = sim->id,
                                                          .answer_heartbeats_only = true },
                                         &l->s) < 0) {
                                fprintf(stderr, "fleet: socket %u failed (raise the fd limit)\n", i);
                                return 1;
                        }
                        zsock_set_sndtimeo(l->s, -1);
                        items[i * n_coord + k] = (zmq_pollitem_t) { .socket = zsock_resolve(l->s), .events = ZMQ_POLLIN };
                        send_hello(sim, l);
                }
        }
        while (!zsys_interrupted && (hold || acked < n_links || deltas_done < n_links * deltas)) {
                uint64_t now;
                int n = zmq_poll(items, (int) n_links, 1000);

                if (n < 0)
                        break;
                now = now_usec();
                if (!hold && now - last_progress > STALL_USEC) {
                        fprintf(stderr, "fleet: no progress for %u s (%u/%u snapshots, %u deltas)\n",
                                (unsigned) (STALL_USEC / USEC_PER_SEC), acked, n_links, deltas_done);
                        return 1;
                }
                for (unsigned x = 0; n > 0 && x < n_links; x++) {
                        Sim *sim = &sims[x / n_coord];
                        unsigned k = x % n_coord;
                        Link *l = &sim->links[k];
                        zframe_t *f;
                        Castle__Envelope *e = NULL;

                        if (!(items[x].revents & ZMQ_POLLIN))
                                continue;
                        while ((f = zframe_recv_nowait(l->s))) {
                                l->last_heard = now;
                                l->retry_n = 0;
                                if (codec_envelope_unpack(zframe_data(f), zframe_size(f), &e) >= 0) {
                                        bool ack = e->body_case == CASTLE__ENVELOPE__BODY_ACK;
                                        /* A Resync while our snapshot is on its way is answered by
                                         * that snapshot. */
                                        if (e->body_case == CASTLE__ENVELOPE__BODY_RESYNC &&
                                            (l->snapshot_acked || l->snapshot_sent + RETRY_USEC < now_usec()))
                                                send_snapshot(sim, l, devices);
                                        /* the heartbeat of a retry acked at the snapshot's generation
                                         * says the snapshot is in (its own Ack was lost) */
                                        else if (ack && !l->snapshot_acked && l->snapshot_sent > 0 &&
                                                 (e->ack->message_id == 2 ||
                                                  (e->ack->message_id == 3 && e->ack->generation == l->generation))) {
                                                l->snapshot_acked = true;
                                                last_progress = now;
                                                if (++acked_per[k] == count)
                                                        snap_done_per[k] = now;
                                                if (++acked == n_links) {
                                                        snap_done = delta_start = now;
                                                        /* all in: every agent starts its deltas */
                                                        for (unsigned j = 0; j < n_links && deltas; j++)
                                                                send_delta(&sims[j / n_coord], &sims[j / n_coord].links[j % n_coord], 100);
                                                }
                                        } else if (ack && e->ack->message_id >= 100 &&
                                                   e->ack->message_id == 100 + l->deltas_acked) {
                                                last_progress = now;
                                                l->deltas_acked++;
                                                if (++deltas_done == n_links * deltas)
                                                        delta_done = now;
                                                if (l->deltas_acked < deltas)
                                                        send_delta(sim, l, 100 + l->deltas_acked);
                                        }
                                        castle__envelope__free_unpacked(e, NULL);
                                }
                                zframe_destroy(&f);
                        }
                }
                if (snap_done && !hold && deltas_done == n_links * deltas)
                        break;
                if (hold && !printed && snap_done && deltas_done == n_links * deltas) {
                        /* hold: the figures now, then heartbeats until SIGTERM */
                        printf("snapshots %u in %.3f s\n", count, (double) (snap_done - start) / 1e6);
                        for (unsigned k = 0; k < n_coord; k++)
                                printf("coordinator %u snapshots %u in %.3f s\n", k, count,
                                       (double) (snap_done_per[k] - start) / 1e6);
                        if (deltas)
                                printf("deltas %u in %.3f s\n", deltas_done, (double) (delta_done - delta_start) / 1e6);
                        printf("retries %u\n", retries);
                        fflush(stdout);
                        printed = true;
                }
                now = now_usec(); /* later than every send above */
                if (now - last_sweep < USEC_PER_SEC)
                        continue;
                last_sweep = now;
                /* Links that heard nothing for a while heartbeat, as an agent does: the coordinator
                 * acks, or asks for the snapshot it lacks. Unanswered, the next waits twice as long
                 * (up to 80 s), so that a link still connecting does not queue up heartbeats. */
                for (unsigned x = 0; x < n_links; x++) {
                        Sim *sim = &sims[x / n_coord];
                        Link *l = &sim->links[x % n_coord];
                        uint64_t quiet = now - MAX(l->last_heard, l->last_sent);
                        bool done = l->snapshot_acked && l->deltas_acked >= deltas;
                        /* acked, and its deltas wait for every agent's snapshot: nothing to answer */
                        bool waiting = l->snapshot_acked && !snap_done;

                        if (waiting)
                                continue;
                        if (done ? hold && quiet > HOLD_HEARTBEAT_USEC + (x % 5) * USEC_PER_SEC
                                          : quiet > (RETRY_USEC << MIN(l->retry_n, 3u)) + (x % 5) * USEC_PER_SEC) {
                                if (!done) {
                                        retries++;
                                        l->retry_n++;
                                }
                                send_heartbeat(l, devices);
                        }
                }
        }
        if (zsys_interrupted && !hold)
                return 1;
        if (!hold) {
                printf("snapshots %u in %.3f s\n", count, (double) (snap_done - start) / 1e6);
                for (unsigned k = 0; k < n_coord; k++)
                        printf("coordinator %u snapshots %u in %.3f s\n", k, count,
                               (double) (snap_done_per[k] - start) / 1e6);
                if (deltas)
                        printf("deltas %u in %.3f s\n", deltas_done, (double) (delta_done - delta_start) / 1e6);
                printf("retries %u\n", retries);
        }
        for (unsigned i = 0; i < count; i++)
                for (unsigned k = 0; k < n_coord; k++)
                        zsock_destroy(&sims[i].links[k].s);
        zcert_destroy(&cert);
        free(sims);
        free(items);
        free(eps);
        return 0;
}
