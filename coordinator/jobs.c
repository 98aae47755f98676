/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Commands from query clients to agents, and their progress back: a command carries the id
 * its client chose (the same one when the client sends it again to another coordinator, so
 * that the agent runs it once), or one this coordinator gives it; it goes to the node's agent,
 * and every JobUpdate with that id is relayed to the clients that asked, until the one marked
 * done. A client that went away, or a node that went offline, or that says nothing for
 * job-timeout, ends the job here (the agent still finishes its work; its inventory shows the
 * result). Ids given here are a random prefix drawn at start-up and a counter, so that a late
 * update for a command of an earlier run of the coordinator (the agent outlived a restart)
 * cannot complete a command of this run. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"
#include "coordinator/jobs.h"
#include "proto/codec.h"
#include "proto/link.h"

struct Jobs {
        zsock_t *agents, *query;
        Nodes *nodes;
        CoordinatorMetrics *metrics;
        zlistx_t *list; /* Job, in the order sent */
        uint64_t last_command_id;
        size_t max_per_client;
        uint64_t timeout_usec;
        Audit *audit;
};

/* A client following a command: its routing id on the query socket and its request's id. */
typedef struct JobClient {
        zframe_t *client;
        uint64_t request_id;
} JobClient;

typedef struct Job {
        uint64_t command_id;
        char *node_id;
        JobClient clients[JOBS_MAX_CLIENTS];    /* [0]: the first to ask; more that sent it again */
        size_t n_clients;
        Castle__Command__KindCase kind;
        uint64_t deadline;      /* monotonic usec; 0: none */
        AuditCaller *caller;    /* who asked, when the request is in the audit trail; else NULL */
        char *action, *device;  /* for its result there */
        uint8_t *latest;        /* the latest progress relayed (a packed QueryReply), for a client
                                 * that attaches later; NULL before the first */
        size_t latest_size;
} Job;

static void job_free(void **item) {
        Job *j = *item;

        if (!j)
                return;
        free(j->node_id);
        free(j->caller);
        free(j->action);
        free(j->device);
        for (size_t i = 0; i < j->n_clients; i++)
                zframe_destroy(&j->clients[i].client);
        free(j->latest);
        free(j);
        *item = NULL;
}

static void reply_job(Jobs *jobs, Job *j, Castle__JobUpdate *u, const char *error, bool last) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.job = u;
        r.error = (char *) error;
        r.last = last;
        for (size_t i = 0; i < j->n_clients; i++) {
                r.request_id = j->clients[i].request_id;
                if (link_send(jobs->query, j->clients[i].client, &r.base) < 0)
                        log_debug("A client of command %" PRIu64 " went away.", j->command_id);
        }
        if (!last && !error && u) {
                free(j->latest);
                j->latest = NULL;
                r.request_id = 0;
                if (codec_pack(&r.base, &j->latest, &j->latest_size) < 0)
                        j->latest = NULL;
        }
}

static bool job_has_client(const Job *j, zframe_t *client) {
        for (size_t i = 0; i < j->n_clients; i++)
                if (zframe_eq(j->clients[i].client, client))
                        return true;
        return false;
}

/* Another client (or the same one again) sent a command that is pending here: it follows the
 * command from now on, starting with the latest progress. Clients past JOBS_MAX_CLIENTS push out
 * the oldest but the first (a script that retries over and over must not grow the list). */
static void job_attach(Jobs *jobs, Job *j, zframe_t *client, uint64_t request_id) {
        Castle__QueryReply *latest = NULL;
        size_t i;

        for (i = 0; i < j->n_clients; i++)
                if (zframe_eq(j->clients[i].client, client))
                        break;
        if (i == j->n_clients) {
                if (j->n_clients == JOBS_MAX_CLIENTS) {
                        zframe_destroy(&j->clients[1].client);
                        memmove(&j->clients[1], &j->clients[2], (JOBS_MAX_CLIENTS - 2) * sizeof *j->clients);
                        j->n_clients--;
                        i = j->n_clients;
                }
                j->clients[i].client = zframe_dup(client);
                if (!j->clients[i].client)
                        return;
                j->n_clients++;
        }
        j->clients[i].request_id = request_id;
        log_info("Command %" PRIu64 " for node %s sent again: %zu client(s) follow it.", j->command_id, j->node_id,
                 j->n_clients);
        if (j->latest && codec_query_reply_unpack(j->latest, j->latest_size, &latest) >= 0) {
                latest->request_id = request_id;
                if (link_send(jobs->query, client, &latest->base) < 0)
                        log_debug("A client of command %" PRIu64 " went away.", j->command_id);
                castle__query_reply__free_unpacked(latest, NULL);
        }
}

/* The end of an audited command, in the trail. */
static void job_audit(Jobs *jobs, const Job *j, const char *result, const char *why) {
        _cleanup_free_ char *text = NULL;

        if (!jobs->audit || !j->caller)
                return;
        if (why && asprintf(&text, "%s: %s", result, why) < 0)
                text = NULL;
        (void) audit_result(jobs->audit, &j->caller->who, j->action, j->node_id, j->device, j->command_id,
                            text ?: result);
}

static Job *job_find(Jobs *jobs, uint64_t command_id) {
        for (Job *j = zlistx_first(jobs->list); j; j = zlistx_next(jobs->list))
                if (j->command_id == command_id)
                        return j;
        return NULL;
}

/* This run's first command id, minus one: a random non-zero 29-bit prefix above a 24-bit
 * counter (0 is nobody's; the agents' own jobs for their OSD specs use ids from 2^62 up). Two runs start in the same 16-million-id
 * block with chance 2^-29; ids stay below 2^53, exact in JSON readers that use doubles (jq). */
static uint64_t command_id_epoch(void) {
        uint32_t prefix = 0;

        if (getrandom(&prefix, sizeof prefix, GRND_NONBLOCK) != (ssize_t) sizeof prefix)
                prefix = (uint32_t) (now_realtime_usec() ^ ((uint64_t) getpid() << 16) ^ now_usec());
        prefix &= (UINT32_C(1) << 29) - 1;
        return (uint64_t) (prefix ?: 1) << 24;
}

static size_t jobs_of_client(Jobs *jobs, zframe_t *client) {
        size_t n = 0;

        for (Job *j = zlistx_first(jobs->list); j; j = zlistx_next(jobs->list))
                n += job_has_client(j, client);
        return n;
}

int jobs_new(zsock_t *agents, zsock_t *query, Nodes *nodes, CoordinatorMetrics *metrics, Jobs **ret) {
        Jobs *jobs = calloc(1, sizeof(Jobs));

        if (!jobs)
                return -ENOMEM;
        *jobs = (Jobs) { .agents = agents, .query = query, .nodes = nodes, .metrics = metrics };
        jobs->list = zlistx_new();
        if (!jobs->list) {
                free(jobs);
                return -ENOMEM;
        }
        zlistx_set_destructor(jobs->list, job_free);
        jobs->last_command_id = command_id_epoch();
        jobs->max_per_client = JOBS_MAX_PER_CLIENT;
        jobs->timeout_usec = JOBS_TIMEOUT_USEC;
        *ret = jobs;
        return 0;
}

void jobs_set_limits(Jobs *jobs, size_t max_per_client, uint64_t timeout_usec) {
        jobs->max_per_client = max_per_client;
        jobs->timeout_usec = timeout_usec;
}

void jobs_set_audit(Jobs *jobs, Audit *audit) {
        jobs->audit = audit;
}

Jobs *jobs_free(Jobs *jobs) {
        if (!jobs)
                return NULL;
        zlistx_destroy(&jobs->list);
        free(jobs);
        return NULL;
}

size_t jobs_pending(const Jobs *jobs) {
        return zlistx_size(jobs->list);
}

/* What a client may not send to an agent itself: the node policy (Castle__Policy, replaced by
 * OSD specs: an older client's is refused with the way to do the same now), and a node's spec
 * set, which only the coordinator sends, from the specs it stored (an operator's set would
 * bypass the apply's validation and audit record). */
static const char *client_refusal(const Castle__Command *cmd) {
        switch (cmd->kind_case) {
        case CASTLE__COMMAND__KIND_POLICY:
                return "the node policy was removed: OSD specs replace it (castlectl cluster apply)";
        case CASTLE__COMMAND__KIND_SPECS:
                return "a node's OSD specs come from the applied specs only (castlectl cluster apply)";
        default:
                return NULL;
        }
}

void jobs_submit(Jobs *jobs, zframe_t *client, uint64_t request_id, const Castle__NodeCommand *nc) {
        jobs_submit_as(jobs, client, request_id, nc, NULL);
}

void jobs_submit_as(Jobs *jobs, zframe_t *client, uint64_t request_id, const Castle__NodeCommand *nc,
                    const AuditWho *who) {
        Castle__QueryReply err = CASTLE__QUERY_REPLY__INIT;
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Command cmd = *nc->command;
        NodeRuntime *n = nodes_get(jobs->nodes, nc->node_id);
        const char *refusal = NULL;
        const char *why = NULL;
        void *handle;
        Job *j = cmd.command_id > 0 ? job_find(jobs, cmd.command_id) : NULL;

        if (j && streq(j->node_id, nc->node_id)) {
                job_attach(jobs, j, client, request_id);
                return;
        }
        if (j)
                why = "this command id is in use by a command for another node";
        else if (cmd.command_id >= JOBS_MAX_COMMAND_ID)
                why = "the command id is out of range (1 to 2^53-1)";
        else if (!n)
                why = "no such node";
        else if (!n->routing_id || n->state != NODE_ONLINE)
                why = "the node's agent is not connected";
        else if (zlistx_size(jobs->list) >= JOBS_MAX_PENDING)
                why = "too many commands in progress";
        else if ((refusal = client_refusal(&cmd)))
                why = refusal;
        else if (jobs->max_per_client > 0 && jobs_of_client(jobs, client) >= jobs->max_per_client)
                why = "too many commands in progress from this client (max-jobs-per-client)";
        if (why) {
                coordinator_metrics_job(jobs->metrics, cmd.kind_case, "refused");
                err.request_id = request_id;
                err.error = (char *) why;
                err.last = true;
                (void) link_send(jobs->query, client, &err.base);
                if (jobs->audit && who) {
                        _cleanup_free_ char *text = NULL;
                        if (asprintf(&text, "refused: %s", why) < 0)
                                text = NULL;
                        (void) audit_result(jobs->audit, who, audit_command_action(&cmd), nc->node_id,
                                            audit_command_device(&cmd), cmd.command_id, text ?: "refused");
                }
                return;
        }
        j = calloc(1, sizeof *j);
        if (!j || !(j->node_id = strdup(nc->node_id))) {
                free(j);
                return;
        }
        if (who) {
                j->caller = malloc(sizeof(AuditCaller));
                j->action = strdup(audit_command_action(&cmd));
                j->device = audit_command_device(&cmd) ? strdup(audit_command_device(&cmd)) : NULL;
                if (j->caller)
                        audit_caller_set(j->caller, who);
        }
        j->command_id = cmd.command_id > 0 ? cmd.command_id : ++jobs->last_command_id;
        j->clients[0] = (JobClient) { .client = zframe_dup(client), .request_id = request_id };
        j->n_clients = 1;
        j->kind = cmd.kind_case;
        j->deadline = jobs->timeout_usec ? now_usec() + jobs->timeout_usec : 0;
        handle = zlistx_add_end(jobs->list, j);

        cmd.command_id = j->command_id;
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_COMMAND;
        e.command = &cmd;
        if (link_send(jobs->agents, n->routing_id, &e.base) < 0) {
                reply_job(jobs, j, NULL, "the command could not be sent to the node", true);
                coordinator_metrics_job(jobs->metrics, j->kind, "refused");
                job_audit(jobs, j, "failed", "the command could not be sent to the node");
                zlistx_delete(jobs->list, handle);
                return;
        }
        log_info("Command %" PRIu64 " sent to node %s.", j->command_id, j->node_id);
        /* A rescan has no progress to report: it is done once delivered. */
        if (cmd.kind_case != CASTLE__COMMAND__KIND_OSD_CREATE && cmd.kind_case != CASTLE__COMMAND__KIND_ZAP &&
            cmd.kind_case != CASTLE__COMMAND__KIND_OSD_REMOVE && cmd.kind_case != CASTLE__COMMAND__KIND_OSD_REPLACE) {
                Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
                u.command_id = j->command_id;
                u.step = (char *) "sent";
                u.percent = 100;
                u.done = true;
                u.osd_id = -1;
                reply_job(jobs, j, &u, NULL, true);
                coordinator_metrics_job(jobs->metrics, j->kind, "done");
                job_audit(jobs, j, "ok", NULL);
                zlistx_delete(jobs->list, handle);
        }
}

void jobs_update(Jobs *jobs, const char *node_id, Castle__JobUpdate *u) {
        Job *j = job_find(jobs, u->command_id);

        /* Agents send their updates to every coordinator: those of commands that another one
         * forwarded, or that ended here, are not news. */
        if (!j || !streq(j->node_id, node_id)) {
                log_debug("Node %s: update of unknown command %" PRIu64 " ignored.", node_id, u->command_id);
                return;
        }
        if (u->done)
                log_info("Node %s: command %" PRIu64 " %s%s%s.", node_id, u->command_id,
                         isempty(u->error) ? "done" : "failed", isempty(u->error) ? "" : ": ", strempty(u->error));
        reply_job(jobs, j, u, isempty(u->error) ? NULL : u->error, u->done);
        j->deadline = jobs->timeout_usec ? now_usec() + jobs->timeout_usec : 0;
        if (u->done) {
                coordinator_metrics_job(jobs->metrics, j->kind, isempty(u->error) ? "done" : "failed");
                job_audit(jobs, j, isempty(u->error) ? "ok" : "failed", isempty(u->error) ? NULL : u->error);
                zlistx_delete(jobs->list, zlistx_cursor(jobs->list));
        }
}

/* Ends every job for which fail(j) says so, with error; result is the metric's. */
static void jobs_fail_where(Jobs *jobs, bool (*fail)(const Job *j, const void *arg), const void *arg,
                            const char *error, const char *result) {
        Job *j = zlistx_first(jobs->list);

        while (j) {
                if (fail(j, arg)) {
                        log_info("Command %" PRIu64 " for node %s: %s.", j->command_id, j->node_id, error);
                        reply_job(jobs, j, NULL, error, true);
                        coordinator_metrics_job(jobs->metrics, j->kind, result);
                        job_audit(jobs, j, "failed", error);
                        /* detaching moves the cursor back one */
                        zlistx_delete(jobs->list, zlistx_cursor(jobs->list));
                }
                j = zlistx_next(jobs->list);
        }
}

static bool job_of_node(const Job *j, const void *node_id) {
        return streq(j->node_id, node_id);
}

static bool job_expired(const Job *j, const void *now) {
        return j->deadline > 0 && j->deadline <= *(const uint64_t *) now;
}

void jobs_node_gone(Jobs *jobs, const char *node_id, const char *why) {
        jobs_fail_where(jobs, job_of_node, node_id, why, "node_lost");
}

void jobs_node_lost(Jobs *jobs, const char *node_id) {
        jobs_node_gone(jobs, node_id, "the node went offline before the command finished");
}

void jobs_tick(Jobs *jobs, uint64_t now) {
        char why[128];

        if (jobs->timeout_usec == 0 || zlistx_size(jobs->list) == 0)
                return;
        snprintf(why, sizeof why, "timed out: the node's agent said nothing of the command for %" PRIu64 " s (job-timeout)",
                 jobs->timeout_usec / USEC_PER_SEC);
        jobs_fail_where(jobs, job_expired, &now, why, "timed_out");
}
