/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node's reserved OSD ids and their replacement. A removal with --replace ends with its
 * journal entry left in place (osd-prep/removal.h: step done, replace set): that entry is the
 * reservation of its id for the old disk's slot (its /dev/disk/by-path link). After every scan
 * the watch looks for a whole disk in a reserved slot that is available and has settled, and
 * prepares it with the reserved id in the recorded layout (raw, or LVM with a DB of the same
 * size on the same DB device, encrypted if the old OSD was), as an OsdCreate through the
 * agent's job runner. A disk in another slot gets an id only when the operator gives it one
 * (agent_replace_give(): `castlectl cluster osd replace`). The entry goes once the new OSD is
 * up; a failed attempt leaves it, with the error, and is tried again after a back-off: the id
 * is never given up. The journal, the job queue and the write counters come in through
 * AgentReplaceOps, so the logic is tested alone with fake time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/osdreport.h"
#include "agent/report.h"
#include "agent/settle.h"
#include "osd-prep/removal.h"
#include "proto/castle.pb-c.h"

/* The replacement jobs the watch starts itself take command ids from here up: above the
 * coordinator's and the clients' (below 2^53), below the specs' (2^62). */
#define AGENT_REPLACE_COMMAND_BASE (UINT64_C(1) << 61)
/* After a replacement failed, it is not tried again before this. */
#define AGENT_REPLACE_RETRY_USEC (UINT64_C(5) * 60 * 1000000)

typedef struct AgentReplace AgentReplace;

typedef struct AgentReplaceOps {
        /* The removal journal (removal_list, removal_read, removal_write, removal_remove). */
        int (*list)(const char *state_dir, int **ret, size_t *ret_n);
        int (*read)(const char *state_dir, int osd_id, RemovalEntry *ret);
        int (*write)(const char *state_dir, const RemovalEntry *e);
        int (*remove)(const char *state_dir, int osd_id);
        /* Queues c as job command_id, as a coordinator's OsdCreate; < 0 when refused. */
        int (*submit)(uint64_t command_id, const Castle__OsdCreate *c, void *userdata);
        /* Destroys osd_id again if a failed attempt left it existing, not destroyed and down
         * (`castlectl-osd osd rm ID --replace --force` as the removal client, job command_id),
         * so that the next attempt may reuse it; NULL: not done. */
        int (*redestroy)(uint64_t command_id, int osd_id, void *userdata);
        /* The device's written sectors, for the settle check; NULL: not used. */
        SettleWrittenFn written;
        void *userdata;
} AgentReplaceOps;

int agent_replace_new(const AgentReplaceOps *ops, const char *state_dir, uint64_t settle_usec, AgentReplace **ret);
AgentReplace *agent_replace_free(AgentReplace *r);
void agent_replace_set_settle(AgentReplace *r, uint64_t settle_usec);

/* Reads the journal again: the reservations are its finished entries with replace set. A
 * reservation that stays keeps its job, back-off and settle state. One newly read whose last
 * attempt failed (an agent restarted since) is destroyed again (redestroy) and backs off from
 * now. < 0 when the directory could not be listed (the reservations held stay). */
int agent_replace_load(AgentReplace *r, uint64_t now);
/* The node's devices changed (kept by reference until the next report; NULL: none). */
void agent_replace_report(AgentReplace *r, const Report *report);
/* Prepares a settled disk in a reserved slot (or the disk the operator gave, after a back-off).
 * Returns when it should run again (now_usec() clock; 0: on the next change). */
uint64_t agent_replace_reconcile(AgentReplace *r, uint64_t now);

/* The operator gives reserved osd_id to device (stable id, /dev path or link) as job
 * command_id. 0 when the job was queued (or ended at once: its update says why), else
 * -ENOENT/-EBUSY/-EINVAL/-ENODEV with *error in words, or the job queue's error (-EBUSY,
 * -ENOMEM) with no *error. */
int agent_replace_give(AgentReplace *r, uint64_t command_id, int osd_id, const char *device, uint64_t now,
                       char **error);

/* Whether command_id is a replacement job (the watch's or one given). */
bool agent_replace_owns(const AgentReplace *r, uint64_t command_id);
/* A job's update: its last one ends the reservation (the OSD is up with the id) or records the
 * failure and starts the back-off. */
void agent_replace_job_update(AgentReplace *r, const Castle__JobUpdate *u, uint64_t now);

/* Puts the reservations in the heartbeat's list: 1 when it changed, 0, or -ENOMEM. */
int agent_replace_publish(AgentReplace *r, OsdReport *report);

/* The layout of e in words ("raw", "lvm, db 30.0 GiB on ID, encrypted"); NULL when out of
 * memory. */
char *agent_replace_layout(const RemovalEntry *e);
