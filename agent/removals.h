/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's OSD removals (`castlectl cluster osd rm`): one `castlectl-osd osd rm ID` child per
 * OSD, each with a job runner of its own (a drain may take hours and must not hold up prepares
 * or the other removals); one OsdRemove command's JobUpdates tell its OSDs' progress and end
 * once all of them did. At start every journalled removal that did not finish is carried on,
 * and the journal files feed the heartbeat's removal list. */
#pragma once

#include <czmq.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/jobs.h"
#include "agent/osdreport.h"
#include "proto/castle.pb-c.h"

typedef struct AgentRemovals AgentRemovals;

typedef struct AgentRemovalsOptions {
        const char *helper;             /* castlectl-osd */
        const AgentConfig *cfg;         /* [osd]: cluster, conf, osd-root, state-dir, start mode,
                                         * allow-loop, remove-client, remove-keyring; read at each
                                         * start (a reload replaces it in place) */
        OsdReport *report;              /* its removal list is filled from the journal */
        JobUpdateFn update;             /* every JobUpdate of a removal command */
        void (*changed)(void *userdata); /* the report's removal list changed */
        /* a mark-out (agent_removals_mark_out()) ended; error: NULL when the OSD is out */
        void (*marked_out)(int osd_id, const char *error, void *userdata);
        void *userdata;
} AgentRemovalsOptions;

int agent_removals_new(zloop_t *loop, const AgentRemovalsOptions *o, AgentRemovals **ret);
AgentRemovals *agent_removals_free(AgentRemovals *r);

/* An OsdRemove command: starts a child per OSD (or, with cancel, cancels them). < 0 refuses
 * it, with *error in words. */
int agent_removals_command(AgentRemovals *r, uint64_t command_id, const Castle__OsdRemove *m, char **error);

/* Carries on with every journalled removal that has not finished. */
int agent_removals_resume(AgentRemovals *r);

/* After a failed replacement of the reserved osd_id: `osd rm ID --replace --force` on its
 * finished entry destroys the id again if the attempt left it existing and down (job
 * command_id, the agent's own). */
int agent_removals_redestroy(AgentRemovals *r, uint64_t command_id, int osd_id);

/* Marks osd_id out (`osd rm ID --out`, as the removal client; job command_id, the agent's
 * own): its disk turned failing and health-mark-out is on. */
int agent_removals_mark_out(AgentRemovals *r, uint64_t command_id, int osd_id);

/* Reads the journal again into the report's removal list. */
void agent_removals_refresh(AgentRemovals *r);
