/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drives an Httpd (common/httpd.h) from a CZMQ zloop: a poller on its epoll fd and a one-shot
 * timer for the deadline libmicrohttpd asks for (connection timeouts, work it left pending),
 * and the listen address a reload may change.
 * Header-only so that libcommon itself does not depend on CZMQ; the two daemons include it. */
#pragma once

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"
#include "common/log.h"
#include "common/macro.h"

typedef struct HttpdLoop {
        Httpd *httpd;
        zloop_t *loop;
        int timer;
        char *listen; /* what the server was asked to listen on */
} HttpdLoop;

static int httpd_loop_on_timer(zloop_t *loop, int timer_id, void *arg);

static inline void httpd_loop_run(HttpdLoop *hl) {
        uint64_t timeout = UINT64_MAX;
        int r;

        r = httpd_process(hl->httpd, &timeout);
        if (r < 0)
                log_debug_errno(r, "HTTP server: %m");
        if (hl->timer >= 0)
                zloop_timer_end(hl->loop, hl->timer);
        hl->timer = -1;
        /* At least every second: connection timeouts are enforced from here. */
        timeout = MIN(timeout, 1000 * UINT64_C(1000));
        hl->timer = zloop_timer(hl->loop, (size_t) (timeout / 1000), 1, httpd_loop_on_timer, hl);
}

static int httpd_loop_on_timer(zloop_t *loop, int timer_id, void *arg) {
        HttpdLoop *hl = arg;

        hl->timer = -1; /* one-shot: zloop has removed it */
        httpd_loop_run(hl);
        return 0;
}

static inline int httpd_loop_on_input(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        httpd_loop_run(arg);
        return 0;
}

/* Takes ownership of h. */
static inline int httpd_loop_attach(HttpdLoop *hl, zloop_t *loop, Httpd *h) {
        hl->httpd = h;
        hl->loop = loop;
        hl->timer = -1;
        if (zloop_poller(loop, &(zmq_pollitem_t) { .fd = httpd_fd(h), .events = ZMQ_POLLIN },
                         httpd_loop_on_input, hl) < 0) {
                hl->httpd = httpd_free(h);
                return -ENOMEM;
        }
        httpd_loop_run(hl);
        return 0;
}

static inline void httpd_loop_stop(HttpdLoop *hl) {
        if (!hl->httpd)
                return;
        zloop_poller_end(hl->loop, &(zmq_pollitem_t) { .fd = httpd_fd(hl->httpd), .events = ZMQ_POLLIN });
        if (hl->timer >= 0)
                zloop_timer_end(hl->loop, hl->timer);
        hl->timer = -1;
        hl->httpd = httpd_free(hl->httpd);
}

/* Serves path on listen ("" or NULL: no server), replacing a server on another address; a
 * call with the address already served changes nothing. */
static inline int httpd_loop_listen(HttpdLoop *hl, zloop_t *loop, const char *listen, const char *path,
                                    const char *content_type, HttpdRenderFn render, void *userdata) {
        Httpd *h = NULL;
        char *copy;
        int r;

        if (streq_ptr(hl->listen, strempty(listen)) && (hl->httpd || isempty(listen)))
                return 0;
        httpd_loop_stop(hl);
        hl->listen = mfree(hl->listen);
        if (isempty(listen))
                return 0;
        copy = strdup(listen);
        if (!copy)
                return -ENOMEM;
        r = httpd_new(listen, path, content_type, render, userdata, &h);
        if (r >= 0)
                r = httpd_loop_attach(hl, loop, h);
        if (r < 0) {
                free(copy);
                return r;
        }
        hl->listen = copy;
        return 0;
}

/* Stops the server and forgets its address. */
static inline void httpd_loop_done(HttpdLoop *hl) {
        httpd_loop_stop(hl);
        hl->listen = mfree(hl->listen);
}

/* "host:port" bound, or "" when nothing listens. */
static inline const char *httpd_loop_address(const HttpdLoop *hl) {
        return hl->httpd ? httpd_address(hl->httpd) : "";
}
