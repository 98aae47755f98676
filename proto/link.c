/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libzmq/CZMQ adapter for castle's sockets. The listen backlog is raised to the kernel's
 * somaxconn: with libzmq's default of 100, 1,000 agents reconnecting at once took 7.9 s
 * instead of 0.17 s on loopback (ARCHITECTURE.md). Heartbeats and handshakes are set so that
 * one server socket holds 10,000 peers (link.h, LinkOptions.answer_heartbeats_only). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "proto/codec.h"
#include "proto/link.h"

#define HEARTBEAT_IVL_MS 2000
#define HEARTBEAT_TIMEOUT_MS 6000
/* libzmq drops a connection whose handshake took longer than 30 s, and the peer starts over.
 * A socket's CURVE handshakes share one I/O thread; when more peers connect at once than it
 * admits in 30 s (a coordinator restart with thousands of agents, on a busy machine), the work
 * done on the slow ones is thrown away and done again. Two minutes lets a storm take as long
 * as its handshakes need, while a peer that never finishes still loses its socket. */
#define HANDSHAKE_IVL_MS (120 * 1000)

static int somaxconn(void) {
        uint64_t v = 0;

        if (read_u64_at(AT_FDCWD, "/proc/sys/net/core/somaxconn", &v) < 0 || v == 0 || v > 65535)
                return 1024;
        return (int) v;
}

static void common_options(zsock_t *s, const LinkOptions *o) {
        zsock_set_maxmsgsize(s, o->max_message_size > 0 ? o->max_message_size : 16 * 1024 * 1024);
        if (!o->answer_heartbeats_only) {
                zsock_set_heartbeat_ivl(s, HEARTBEAT_IVL_MS);
                zsock_set_heartbeat_timeout(s, HEARTBEAT_TIMEOUT_MS);
        }
        zsock_set_handshake_ivl(s, HANDSHAKE_IVL_MS);
        zsock_set_linger(s, 0);
        zsock_set_sndtimeo(s, 0);
        if (o->send_queue > 0)
                zsock_set_sndhwm(s, o->send_queue);
}

int link_bind(const char *endpoint, const LinkOptions *o, zsock_t **ret) {
        zsock_t *s = zsock_new(ZMQ_ROUTER);

        if (!s)
                return -ENOMEM;
        common_options(s, o);
        if (o->io_threads)
                zsock_set_affinity(s, (int) o->io_threads);
        zsock_set_backlog(s, somaxconn());
        zsock_set_router_handover(s, 1); /* a restarted agent takes over its node id */
        if (o->zap_domain)
                zsock_set_zap_domain(s, o->zap_domain);
        if (!o->insecure) {
                if (!o->cert) {
                        zsock_destroy(&s);
                        return -ENOKEY;
                }
                zcert_apply(o->cert, s);
                zsock_set_curve_server(s, 1);
        }
        if (zsock_bind(s, "%s", endpoint) < 0) {
                int r = errno > 0 ? -errno : -EADDRNOTAVAIL;
                zsock_destroy(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int link_connect(const char *endpoint, const LinkOptions *o, zsock_t **ret) {
        zsock_t *s = zsock_new(ZMQ_DEALER);

        if (!s)
                return -ENOMEM;
        common_options(s, o);
        if (o->identity)
                zsock_set_identity(s, o->identity);
        /* No ZMQ_HEARTBEAT_TTL: it makes the server arm and cancel a timer per message from us,
         * and libzmq cancels a timer by a linear search of all its I/O thread's timers (see
         * LinkOptions.answer_heartbeats_only). Our own heartbeats still find a dead server;
         * a server that must notice dead clients sends heartbeats of its own. */
        /* Reconnect with backoff up to 10 s; libzmq adds no jitter, the agent's own
         * timers do. */
        zsock_set_reconnect_ivl(s, 100);
        zsock_set_reconnect_ivl_max(s, 10000);
        if (!o->insecure) {
                if (!o->cert || !o->server_public) {
                        zsock_destroy(&s);
                        return -ENOKEY;
                }
                zcert_apply(o->cert, s);
                zsock_set_curve_serverkey(s, o->server_public);
        }
        if (zsock_connect(s, "%s", endpoint) < 0) {
                int r = errno > 0 ? -errno : -EINVAL;
                zsock_destroy(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int link_send(zsock_t *s, zframe_t *routing_id, const ProtobufCMessage *m) {
        uint8_t *buf = NULL;
        size_t n = 0;
        zmsg_t *msg;
        int r;

        r = codec_pack(m, &buf, &n);
        if (r < 0)
                return r;
        msg = zmsg_new();
        if (!msg) {
                free(buf);
                return -ENOMEM;
        }
        if (routing_id)
                zmsg_append(msg, &(zframe_t *) { zframe_dup(routing_id) });
        zmsg_addmem(msg, buf, n);
        free(buf);
        if (zmsg_send(&msg, s) < 0) {
                r = errno > 0 ? -errno : -EIO;
                zmsg_destroy(&msg);
                return r;
        }
        return 0;
}

int link_monitor(zsock_t *s, zsock_t **ret) {
        static unsigned counter;
        char ep[64];
        zsock_t *m;

        snprintf(ep, sizeof ep, "inproc://castle-link-monitor-%d-%u", (int) getpid(), counter++);
        if (zmq_socket_monitor(zsock_resolve(s), ep, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) < 0)
                return errno > 0 ? -errno : -EIO;
        m = zsock_new(ZMQ_PAIR);
        if (!m || zsock_connect(m, "%s", ep) < 0) {
                zsock_destroy(&m);
                (void) zmq_socket_monitor(zsock_resolve(s), NULL, 0);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

int link_monitor_event(zsock_t *monitor) {
        zmsg_t *msg = zmsg_recv(monitor);
        zframe_t *f = msg ? zmsg_first(msg) : NULL;
        uint16_t ev = 0;

        /* [event (2 bytes) and value (4 bytes), endpoint] */
        if (f && zframe_size(f) >= 6)
                memcpy(&ev, zframe_data(f), sizeof ev);
        zmsg_destroy(&msg);
        return ev == ZMQ_EVENT_DISCONNECTED ? LINK_LOST : ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? LINK_UP : 0;
}

void link_monitor_stop(zsock_t *s, zsock_t **monitor) {
        if (!*monitor)
                return;
        (void) zmq_socket_monitor(zsock_resolve(s), NULL, 0);
        zsock_destroy(monitor);
}
