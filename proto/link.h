/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sockets that speak castle's protocol: ROUTER servers and DEALER clients with CURVE, a ZAP
 * domain, message size limits and ZMTP heartbeats set as the design requires, and sending and
 * receiving one protobuf message per ZeroMQ message. */
#pragma once

#include <czmq.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

typedef struct LinkOptions {
        zcert_t *cert;                  /* our key pair; NULL only when insecure */
        const char *server_public;      /* clients: the server's public key (Z85) */
        const char *zap_domain;         /* servers: which allowlist the ZAP handler uses */
        const char *identity;           /* clients: routing id (the node id) */
        bool insecure;                  /* no CURVE: only with --insecure */
        int max_message_size;           /* bytes; larger inbound messages drop the peer */
        uint64_t io_threads;            /* servers: bit mask of the I/O threads to use; 0: any */
        int send_queue;                 /* messages queued to one peer (ZMQ_SNDHWM); 0: libzmq's 1000 */
        /* Servers with thousands of peers (and bench/castle-fleet's thousands of agents in one
         * process): answer the peers' ZMTP heartbeats, send none. Each
         * heartbeat a server sends arms a timer that the answer cancels, and libzmq cancels a
         * timer by a linear search of every timer of the I/O thread: with 10,000 agents on one
         * socket, that was ~10^4 cancels a second over ~2*10^4 timers, which kept the agents'
         * I/O thread busy until handshakes and heartbeats timed out and nobody got through
         * (bench/fleet). The clients' heartbeats still find a dead server; a dead client is
         * noticed by TCP and by the server's own liveness rules (stale-after). */
        bool answer_heartbeats_only;
} LinkOptions;

/* A ROUTER bound to endpoint (e.g. "tcp://0.0.0.0:7100"). */
int link_bind(const char *endpoint, const LinkOptions *o, zsock_t **ret);
/* A DEALER connected to endpoint. */
int link_connect(const char *endpoint, const LinkOptions *o, zsock_t **ret);

/* Sends m, preceded by routing_id on a ROUTER (NULL on a DEALER). Never blocks: returns
 * -EAGAIN when the peer's queue is full. */
int link_send(zsock_t *s, zframe_t *routing_id, const ProtobufCMessage *m);

/* A client's view of its connection, from libzmq's socket monitor: LINK_LOST when the peer
 * closed it or stopped answering ZMTP heartbeats (HEARTBEAT_TIMEOUT_MS), LINK_UP when a
 * connection completed its handshake (again). link_monitor() returns a socket to poll;
 * link_monitor_event() reads one event from it (0 for another kind). */
enum { LINK_LOST = 1, LINK_UP = 2 };
int link_monitor(zsock_t *s, zsock_t **ret);
int link_monitor_event(zsock_t *monitor);
void link_monitor_stop(zsock_t *s, zsock_t **monitor);
