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
#include "common/strv.h"
#include "common/timeutil.h"
#include "proto/codec.h"
#include "proto/link.h"

struct Session {
        char *node_id, *hostname, *coordinator;
        char **labels;
        const OsdReport *osd_report;
        CommandTable *commands; /* not ours, shared by the sessions; NULL: none */
        AgentMetrics *metrics;
        SessionHandlers handlers;
        void *userdata;
        zsock_t *link;          /* not ours; NULL: not connected */
        Report *report;         /* what the coordinator was last told */
        bool snapshot_wanted;   /* a Resync came before the first scan */
        uint64_t generation, message_id;
        uint64_t last_ack;
};

int session_new(const char *node_id, const char *hostname, const char *coordinator, uint64_t generation,
                AgentMetrics *metrics, const SessionHandlers *handlers, void *userdata, Session **ret) {
        _cleanup_free_ Session *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        *s = (Session) {
                .node_id = strdup(node_id),
                .hostname = strdup(hostname),
                .coordinator = strdup(coordinator),
                .metrics = metrics,
                .handlers = *handlers,
                .userdata = userdata,
                .generation = generation,
        };
        if (!s->node_id || !s->hostname || !s->coordinator) {
                free(s->node_id);
                free(s->hostname);
                free(s->coordinator);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

Session *session_free(Session *s) {
        if (!s)
                return NULL;
        report_free(s->report);
        strv_free(s->labels);
        free(s->node_id);
        free(s->hostname);
        free(s->coordinator);
        free(s);
        return NULL;
}

void session_set_commands(Session *s, CommandTable *commands) {
        s->commands = commands;
}

const char *session_coordinator(const Session *s) {
        return s->coordinator;
}

void session_set_osd_report(Session *s, const OsdReport *r) {
        s->osd_report = r;
}

int session_set_labels(Session *s, char *const *labels) {
        char **l = NULL;

        if (labels && !(l = strv_copy(labels)))
                return -ENOMEM;
        strv_free(s->labels);
        s->labels = l;
        return 0;
}

static void send_envelope(Session *s, Castle__Envelope *e) {
        int r;

        if (!s->link)
                return;
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        e->message_id = ++s->message_id;
        r = link_send(s->link, NULL, &e->base);
        agent_metrics_sent(s->metrics, s->coordinator, e->body_case, r);
        if (r < 0)
                log_debug_errno(r, "Message to the coordinator %s not sent (%s): %m", s->coordinator,
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
        h.labels = s->labels;
        h.n_labels = strv_length(s->labels);
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
        h.labels = s->labels;
        h.n_labels = strv_length(s->labels);
        if (s->osd_report)
                osd_report_fill(s->osd_report, &h);
        e.body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &h;
        send_envelope(s, &e);
}

void session_send_job_update(Session *s, const Castle__JobUpdate *u) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;

        if (u->command_id == 0)
                return; /* nobody's */
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

/* Whether command c is new: a known id is not run again, its latest update goes out again
 * instead (a coordinator that forwarded a retry learns where it stands). */
static bool command_is_new(Session *s, const Castle__Command *c) {
        const Castle__JobUpdate *latest = NULL;
        int r;

        if (c->command_id == 0 || !s->commands)
                return true;
        r = command_table_begin(s->commands, c->command_id, &latest);
        if (r == 0)
                return true;
        if (r < 0) {
                log_warning("Command %" PRIu64 " from %s refused: too many commands in progress.", c->command_id,
                            s->coordinator);
                refuse(s, c->command_id, "too many commands in progress on the node");
                return false;
        }
        agent_metrics_command_repeated(s->metrics);
        log_info("Command %" PRIu64 " from %s was received before: not run again (%s).", c->command_id,
                 s->coordinator, !latest ? "nothing to report" : latest->done ? "done" : "in progress");
        if (latest && s->handlers.repeat)
                s->handlers.repeat(latest, s->userdata);
        else if (latest)
                session_send_job_update(s, latest);
        return false;
}

/* Why a handler refused a command: unsupported says why for -EOPNOTSUPP. */
static const char *command_refusal(int r, const char *unsupported) {
        if (r == -EBUSY)
                return "too many jobs queued on the node";
        if (r == -EOPNOTSUPP && unsupported)
                return unsupported;
        return "out of memory";
}

static void dispatch_command(Session *s, const Castle__Command *c) {
        int r;

        if (!command_is_new(s, c))
                return;
        switch (c->kind_case) {
        case CASTLE__COMMAND__KIND_RESCAN:
                log_info("Command %" PRIu64 " from %s: rescan.", c->command_id, s->coordinator);
                s->handlers.rescan(s->userdata);
                break;
        case CASTLE__COMMAND__KIND_OSD_CREATE:
                log_info("Command %" PRIu64 " from %s: create an OSD on %s%s.", c->command_id, s->coordinator,
                         c->osd_create->device_id, c->osd_create->dry_run ? " (dry run)" : "");
                r = s->handlers.osd_create(c->command_id, c->osd_create, s->userdata);
                if (r < 0)
                        refuse(s, c->command_id, command_refusal(r, NULL));
                break;
        case CASTLE__COMMAND__KIND_SPECS:
                log_debug("Command %" PRIu64 " from %s: %zu OSD spec(s), revision %" PRId64 ".", c->command_id,
                          s->coordinator, c->specs->n_specs, c->specs->revision);
                s->handlers.specs(c->specs, s->userdata);
                break;
        case CASTLE__COMMAND__KIND_ZAP:
                log_info("Command %" PRIu64 " from %s: zap %s%s.", c->command_id, s->coordinator,
                         strempty(c->zap->device), c->zap->destroy ? " (destroy)" : "");
                r = s->handlers.zap ? s->handlers.zap(c->command_id, c->zap, s->userdata) : -EOPNOTSUPP;
                if (r < 0)
                        refuse(s, c->command_id, command_refusal(r, "this agent does not zap"));
                break;
        case CASTLE__COMMAND__KIND_OSD_REMOVE:
                log_info("Command %" PRIu64 " from %s: %s %zu OSD(s)%s%s%s.", c->command_id, s->coordinator,
                         c->osd_remove->cancel ? "cancel the removal of" : "remove", c->osd_remove->n_osd_ids,
                         c->osd_remove->replace ? " (replace)" : "", c->osd_remove->zap ? " (zap)" : "",
                         c->osd_remove->force ? " (force)" : "");
                r = s->handlers.osd_remove ? s->handlers.osd_remove(c->command_id, c->osd_remove, s->userdata)
                                           : -EOPNOTSUPP;
                if (r < 0)
                        refuse(s, c->command_id, command_refusal(r, "this agent does not remove OSDs"));
                break;
        case CASTLE__COMMAND__KIND_OSD_REPLACE:
                log_info("Command %" PRIu64 " from %s: give reserved osd.%d to %s.", c->command_id, s->coordinator,
                         c->osd_replace->osd_id, strempty(c->osd_replace->device));
                r = s->handlers.osd_replace ? s->handlers.osd_replace(c->command_id, c->osd_replace, s->userdata)
                                            : -EOPNOTSUPP;
                if (r < 0)
                        refuse(s, c->command_id, command_refusal(r, "this agent does not replace OSDs"));
                break;
        case CASTLE__COMMAND__KIND_POLICY:
                /* Deprecated: an older coordinator's. OSD specs replaced the node policy. */
                log_warning("Command %" PRIu64 " from %s: a node policy, which this agent no longer has (OSD specs "
                            "replace it: castlectl cluster apply); ignored.", c->command_id, s->coordinator);
                break;
        default:
                log_debug("Ignored a command of an unknown kind.");
        }
        /* A rescan or a spec set is done once applied; an OSD or zap job ends with its last update. */
        if (c->kind_case != CASTLE__COMMAND__KIND_OSD_CREATE && c->kind_case != CASTLE__COMMAND__KIND_ZAP &&
            c->kind_case != CASTLE__COMMAND__KIND_OSD_REMOVE && c->kind_case != CASTLE__COMMAND__KIND_OSD_REPLACE &&
            c->command_id != 0 && s->commands)
                command_table_finish(s->commands, c->command_id);
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
        agent_metrics_received(s->metrics, s->coordinator, r < 0 ? CASTLE__ENVELOPE__BODY__NOT_SET : e->body_case, r < 0);
        if (r < 0) {
                log_warning_errno(r, "Dropped a malformed message from the coordinator %s: %m", s->coordinator);
                return;
        }
        s->last_ack = now_usec();
        switch (e->body_case) {
        case CASTLE__ENVELOPE__BODY_ACK:
                break;
        case CASTLE__ENVELOPE__BODY_RESYNC:
                log_debug("The coordinator %s asks for a snapshot (%s).", s->coordinator, e->resync->reason);
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
