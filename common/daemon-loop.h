/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A daemon's CZMQ zloop, set up the same way in both daemons: CZMQ's own signal handling off
 * (signals come from a signalfd, common/daemon.h), its I/O threads, and the signals on the loop:
 * SIGTERM and SIGINT end zloop_start(), SIGHUP calls the reload function.
 * Header-only so that libcommon itself does not depend on CZMQ; the two daemons include it. */
#pragma once

#include <czmq.h>
#include <errno.h>

#include "common/daemon.h"

static inline int daemon_loop_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        return daemon_signals_dispatch(arg) > 0 ? -1 : 0; /* -1 ends zloop_start() */
}

/* After daemon_signals_open(signals), before any socket: a new loop (the caller's to destroy,
 * after everything registered on it) with signals on it. signals must outlive the loop's run. */
static inline int daemon_loop_new(DaemonSignals *signals, size_t io_threads, zloop_t **ret) {
        zloop_t *loop;

        zsys_handler_set(NULL);
        zsys_set_io_threads(io_threads);
        loop = zloop_new();
        if (!loop)
                return -ENOMEM;
        if (zloop_poller(loop, &(zmq_pollitem_t) { .fd = signals->fd, .events = ZMQ_POLLIN },
                         daemon_loop_on_signal, signals) < 0) {
                zloop_destroy(&loop);
                return -ENOMEM;
        }
        *ret = loop;
        return 0;
}
