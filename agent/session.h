/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's session with one coordinator (it has one for each in its list). What it says:
 * Hello when it connects, a Snapshot of every device when the coordinator asks (Resync), a Delta of what a scan changed with the
 * generation one higher, a Heartbeat that carries the generation, and job updates. What it
 * hears: Ack, Resync, and Commands, which it hands to its handlers (a rescan, an OSD to create,
 * the node's OSD specs). It keeps the report the coordinator was last told about, since the generation
 * counts its changes. The socket is given to it and nothing else is (no loop, no job runner), so
 * a test drives it through one end of an inproc pair. The table of command ids it is given is
 * shared by every session: a command forwarded by several coordinators runs once. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/commands.h"
#include "agent/metrics.h"
#include "agent/osdreport.h"
#include "agent/report.h"
#include "proto/castle.pb-c.h"

typedef struct Session Session;

typedef struct SessionHandlers {
        /* Rescan command: re-probe every device. */
        void (*rescan)(void *userdata);
        /* OsdCreate command: queue the job. < 0 refuses it (-EBUSY: too many jobs queued), and
         * the refusal comes back through job_update. */
        int (*osd_create)(uint64_t command_id, const Castle__OsdCreate *c, void *userdata);
        /* Zap command: queue the job, as osd_create. */
        int (*zap)(uint64_t command_id, const Castle__Zap *z, void *userdata);
        /* OsdRemove command (remove, or cancel removals) and OsdReplace command: start them,
         * as osd_create; their progress comes back as job updates. NULL: refused. */
        int (*osd_remove)(uint64_t command_id, const Castle__OsdRemove *m, void *userdata);
        int (*osd_replace)(uint64_t command_id, const Castle__OsdReplace *m, void *userdata);
        /* The node's OSD specs (a SpecSet: it replaces the set if its revision is newer). */
        void (*specs)(const Castle__SpecSet *set, void *userdata);
        /* A job's end the session made itself (a refused command), to handle like the job
         * runner's updates: the handler sends it with session_send_job_update(). */
        void (*job_update)(const Castle__JobUpdate *u, void *userdata);
        /* A command that came again (through another coordinator, or a client's retry) and is
         * not run again: latest is its latest update, to send again to every coordinator with
         * session_send_job_update(). NULL: the session sends it on its own link only. */
        void (*repeat)(const Castle__JobUpdate *latest, void *userdata);
} SessionHandlers;

/* coordinator: its endpoint, for the logs and the metrics' coordinator label. generation: the
 * first one of this run. metrics may be NULL. */
int session_new(const char *node_id, const char *hostname, const char *coordinator, uint64_t generation,
                AgentMetrics *metrics, const SessionHandlers *handlers, void *userdata, Session **ret);
Session *session_free(Session *s);

/* The table of command ids shared by the agent's sessions (not owned; NULL: every command runs,
 * however often it comes). A command whose id it knows is not handed to the handlers again. */
void session_set_commands(Session *s, CommandTable *commands);
const char *session_coordinator(const Session *s);
/* The node's labels, said in every Hello from now on (copied). */
int session_set_labels(Session *s, char *const *labels);

/* The node's OSD report, said in every heartbeat from now on (not owned; NULL: none). */
void session_set_osd_report(Session *s, const OsdReport *r);

/* Talks over link from now on and says Hello on it; NULL: not connected, nothing is sent. The
 * socket stays the caller's. */
void session_attach(Session *s, zsock_t *link);
/* Reads one message from the link (it must be readable) and acts on it. */
void session_receive(Session *s);

/* A scan's report, taken over (report_ref() it to give it to several sessions): the first one is kept (and sent whole if the coordinator asked
 * for it meanwhile), a later one is sent as a Delta from the previous one when they differ. */
void session_report(Session *s, Report *next);
/* The report the coordinator was last told about; NULL before the first scan. */
const Report *session_current_report(const Session *s);
/* Forgets the report: the next scan's is sent whole (a reload may have changed the filters). */
void session_restart(Session *s);

void session_heartbeat(Session *s);
/* A job's progress or end. Command id 0 is nobody's: it is not sent. */
void session_send_job_update(Session *s, const Castle__JobUpdate *u);

/* When the coordinator last sent a valid message (now_usec() clock); 0: never. */
uint64_t session_last_contact(const Session *s);
uint64_t session_generation(const Session *s);
