/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Commands from query clients to agents, and their progress back: the coordinator gives each
 * command an id, sends it to the node's agent, and relays every JobUpdate with that id to the
 * client that asked, until the one marked done. A client that went away, or a node that went
 * offline, ends the job here (the agent still finishes its work; its inventory shows the
 * result). */
#include <inttypes.h>
#include <string.h>

#include "common/log.h"
#include "coordinator/coordinator.h"
#include "coordinator/metrics.h"
#include "proto/codec.h"
#include "proto/link.h"

#define MAX_PENDING_JOBS 4096

typedef struct Job {
        uint64_t command_id;
        uint64_t request_id;
        char *node_id;
        zframe_t *client;       /* routing id on the query socket */
        Castle__Command__KindCase kind;
} Job;

static void job_free(void **item) {
        Job *j = *item;

        if (!j)
                return;
        free(j->node_id);
        zframe_destroy(&j->client);
        free(j);
        *item = NULL;
}

static void reply_job(Coordinator *c, Job *j, Castle__JobUpdate *u, const char *error, bool last) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = j->request_id;
        r.job = u;
        r.error = (char *) error;
        r.last = last;
        if (link_send(c->query, j->client, &r.base) < 0)
                log_debug("The client of command %" PRIu64 " went away.", j->command_id);
}

static Job *job_find(Coordinator *c, uint64_t command_id) {
        for (Job *j = zlistx_first(c->jobs); j; j = zlistx_next(c->jobs))
                if (j->command_id == command_id)
                        return j;
        return NULL;
}

void jobs_init(Coordinator *c) {
        c->jobs = zlistx_new();
        zlistx_set_destructor(c->jobs, job_free);
}

void jobs_done(Coordinator *c) {
        zlistx_destroy(&c->jobs);
}

void jobs_submit(Coordinator *c, zframe_t *client, uint64_t request_id, const Castle__NodeCommand *nc) {
        Castle__QueryReply err = CASTLE__QUERY_REPLY__INIT;
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Command cmd = *nc->command;
        NodeRuntime *n = zhashx_lookup(c->nodes, nc->node_id);
        const char *why = NULL;
        void *handle;
        Job *j;

        if (!n)
                why = "no such node";
        else if (!n->routing_id || n->state != NODE_ONLINE)
                why = "the node's agent is not connected";
        else if (zlistx_size(c->jobs) >= MAX_PENDING_JOBS)
                why = "too many commands in progress";
        if (why) {
                coordinator_metrics_job(c->metrics, cmd.kind_case, "refused");
                err.request_id = request_id;
                err.error = (char *) why;
                err.last = true;
                (void) link_send(c->query, client, &err.base);
                return;
        }
        j = calloc(1, sizeof *j);
        if (!j || !(j->node_id = strdup(nc->node_id))) {
                free(j);
                return;
        }
        j->command_id = ++c->last_command_id;
        j->request_id = request_id;
        j->client = zframe_dup(client);
        j->kind = cmd.kind_case;
        handle = zlistx_add_end(c->jobs, j);

        cmd.command_id = j->command_id;
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_COMMAND;
        e.command = &cmd;
        if (link_send(c->agents, n->routing_id, &e.base) < 0) {
                reply_job(c, j, NULL, "the command could not be sent to the node", true);
                coordinator_metrics_job(c->metrics, j->kind, "refused");
                zlistx_delete(c->jobs, handle);
                return;
        }
        log_info("Command %" PRIu64 " sent to node %s.", j->command_id, j->node_id);
        /* Rescan and policy have no progress to report: they are done once delivered. */
        if (cmd.kind_case != CASTLE__COMMAND__KIND_OSD_CREATE) {
                Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
                u.command_id = j->command_id;
                u.step = (char *) "sent";
                u.percent = 100;
                u.done = true;
                u.osd_id = -1;
                reply_job(c, j, &u, NULL, true);
                coordinator_metrics_job(c->metrics, j->kind, "done");
                zlistx_delete(c->jobs, handle);
        }
}

void jobs_update(Coordinator *c, const char *node_id, Castle__JobUpdate *u) {
        Job *j = job_find(c, u->command_id);

        if (!j || !streq(j->node_id, node_id)) {
                log_debug("Node %s: update of unknown command %" PRIu64 " ignored.", node_id, u->command_id);
                return;
        }
        if (u->done)
                log_info("Node %s: command %" PRIu64 " %s%s%s.", node_id, u->command_id,
                         isempty(u->error) ? "done" : "failed", isempty(u->error) ? "" : ": ", strempty(u->error));
        reply_job(c, j, u, isempty(u->error) ? NULL : u->error, u->done);
        if (u->done) {
                coordinator_metrics_job(c->metrics, j->kind, isempty(u->error) ? "done" : "failed");
                zlistx_delete(c->jobs, zlistx_cursor(c->jobs));
        }
}

void jobs_node_lost(Coordinator *c, const char *node_id) {
        Job *j = zlistx_first(c->jobs);

        while (j) {
                if (streq(j->node_id, node_id)) {
                        reply_job(c, j, NULL, "the node went offline before the command finished", true);
                        coordinator_metrics_job(c->metrics, j->kind, "node_lost");
                        zlistx_delete(c->jobs, zlistx_cursor(c->jobs));
                        j = zlistx_first(c->jobs);
                } else
                        j = zlistx_next(c->jobs);
        }
}
