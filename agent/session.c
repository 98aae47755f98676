/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's side of the protocol with the coordinator (docs/protocol.md): the generation and
 * message ids, the report the coordinator knows, and what each message from it means. It sends
 * on a socket it is given and hands commands to its handlers, so that it is tested alone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/session.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/timeutil.h"
#include "proto/codec.h"
#include "proto/link.h"

struct Session {
        char *node_id, *hostname;
        AgentMetrics *metrics;
        SessionHandlers handlers;
        void *userdata;
        zsock_t *link;          /* not ours; NULL: not connected */
        Report *report;         /* what the coordinator was last told */
        bool snapshot_wanted;   /* a Resync came before the first scan */
        uint64_t generation, message_id;
        uint64_t last_ack;
};

int session_new(const char *node_id, const char *hostname, uint64_t generation, AgentMetrics *metrics,
                const SessionHandlers *handlers, void *userdata, Session **ret) {
        _cleanup_free_ Session *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        *s = (Session) {
                .node_id = strdup(node_id),
                .hostname = strdup(hostname),
                .metrics = metrics,
                .handlers = *handlers,
                .userdata = userdata,
                .generation = generation,
        };
        if (!s->node_id || !s->hostname) {
                free(s->node_id);
                free(s->hostname);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

Session *session_free(Session *s) {
        if (!s)
                return NULL;
        report_free(s->report);
        free(s->node_id);
        free(s->hostname);
        free(s);
        return NULL;
}

static void send_envelope(Session *s, Castle__Envelope *e) {
        int r;

        if (!s->link)
                return;
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        e->message_id = ++s->message_id;
        r = link_send(s->link, NULL, &e->base);
        agent_metrics_sent(s->metrics, e->body_case, r);
        if (r < 0)
                log_debug_errno(r, "Message to the coordinator not sent (%s): %m",
                                r == -EAGAIN ? "not connected" : "error");
}

static void send_hello(Session *s) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Hello h = CASTLE__HELLO__INIT;

        h.node_id = s->node_id;
        h.hostname = s->hostname;
        h.agent_version = (char *) PACKAGE_VERSION;
        h.protocol_version = CASTLE_PROTOCOL_VERSION;
        h.generation = s->generation;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        send_envelope(s, &e);
}

static void send_snapshot(Session *s) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot snap = CASTLE__SNAPSHOT__INIT;
        Castle__Device **devs = NULL;
        size_t n = 0;

        if (!s->report) {
                s->snapshot_wanted = true; /* after the first scan */
                return;
        }
        if (report_devices(s->report, &devs, &n) < 0)
                return;
        snap.generation = s->generation;
        snap.devices = devs;
        snap.n_devices = n;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &snap;
        send_envelope(s, &e);
        s->snapshot_wanted = false;
        free(devs);
        log_debug("Sent a snapshot of %zu devices, generation %" PRIu64 ".", n, s->generation);
}

static void send_delta(Session *s, Castle__Device **changed, size_t n_changed, char **removed,
                       size_t n_removed) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Delta d = CASTLE__DELTA__INIT;

        d.generation = ++s->generation;
        d.changed = changed;
        d.n_changed = n_changed;
        d.removed = removed;
        d.n_removed = n_removed;
        e.body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &d;
        send_envelope(s, &e);
        log_debug("Sent a delta: %zu changed, %zu removed, generation %" PRIu64 ".", n_changed, n_removed,
                  s->generation);
}

void session_attach(Session *s, zsock_t *link) {
        s->link = link;
        if (link)
                send_hello(s);
}

void session_report(Session *s, Report *next) {
        Castle__Device **changed = NULL;
        char **removed = NULL;
        size_t nc = 0, nr = 0;

        if (!s->report) {
                s->report = next;
                if (s->snapshot_wanted)
                        send_snapshot(s);
                return;
        }
        if (report_diff(s->report, next, &changed, &nc, &removed, &nr) < 0) {
                report_free(next);
                return;
        }
        if (nc + nr > 0)
                send_delta(s, changed, nc, removed, nr);
        free(changed);
        free(removed); /* points into the old report: free it after sending */
        report_free(s->report);
        s->report = next;
}

const Report *session_current_report(const Session *s) {
        return s->report;
}

void session_restart(Session *s) {
        s->report = report_free(s->report);
        s->snapshot_wanted = true;
}

void session_heartbeat(Session *s) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;

        if (!s->report)
                return;
        h.generation = s->generation;
        h.devices = (uint32_t) s->report->n;
        e.body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &h;
        send_envelope(s, &e);
}

void session_send_job_update(Session *s, const Castle__JobUpdate *u) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;

        if (u->command_id == 0)
                return; /* the node's own policy: nobody at the coordinator waits for it */
        e.body_case = CASTLE__ENVELOPE__BODY_JOB_UPDATE;
        e.job_update = (Castle__JobUpdate *) u;
        send_envelope(s, &e);
}

static void refuse(Session *s, uint64_t command_id, const char *why) {
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

        u.command_id = command_id;
        u.step = (char *) "done";
        u.done = true;
        u.error = (char *) why;
        u.osd_id = -1;
        s->handlers.job_update(&u, s->userdata);
}

static void dispatch_command(Session *s, const Castle__Command *c) {
        int r;

        switch (c->kind_case) {
        case CASTLE__COMMAND__KIND_RESCAN:
                log_info("The coordinator asks for a rescan.");
                s->handlers.rescan(s->userdata);
                break;
        case CASTLE__COMMAND__KIND_OSD_CREATE:
                log_info("Command %" PRIu64 ": create an OSD on %s%s.", c->command_id,
                         c->osd_create->device_id, c->osd_create->dry_run ? " (dry run)" : "");
                r = s->handlers.osd_create(c->command_id, c->osd_create, s->userdata);
                if (r < 0)
                        refuse(s, c->command_id,
                               r == -EBUSY ? "too many jobs queued on the node" : "out of memory");
                break;
        case CASTLE__COMMAND__KIND_POLICY:
                s->handlers.policy(c->policy, s->userdata);
                break;
        default:
                log_debug("Ignored a command of an unknown kind.");
        }
}

void session_receive(Session *s) {
        zframe_t *f;
        Castle__Envelope *e = NULL;
        int r;

        if (!s->link)
                return;
        f = zframe_recv(s->link);
        if (!f)
                return;
        r = codec_envelope_unpack(zframe_data(f), zframe_size(f), &e);
        zframe_destroy(&f);
        agent_metrics_received(s->metrics, r < 0 ? CASTLE__ENVELOPE__BODY__NOT_SET : e->body_case, r < 0);
        if (r < 0) {
                log_warning_errno(r, "Dropped a malformed message from the coordinator: %m");
                return;
        }
        s->last_ack = now_usec();
        switch (e->body_case) {
        case CASTLE__ENVELOPE__BODY_ACK:
                break;
        case CASTLE__ENVELOPE__BODY_RESYNC:
                log_debug("The coordinator asks for a snapshot (%s).", e->resync->reason);
                send_snapshot(s);
                break;
        case CASTLE__ENVELOPE__BODY_COMMAND:
                dispatch_command(s, e->command);
                break;
        default:
                log_debug("Ignored an unexpected message from the coordinator.");
        }
        castle__envelope__free_unpacked(e, NULL);
}

uint64_t session_last_contact(const Session *s) {
        return s->last_ack;
}

uint64_t session_generation(const Session *s) {
        return s->generation;
}
