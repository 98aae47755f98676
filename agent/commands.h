/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The commands this agent has seen, by their client-chosen id, so that each runs once however
 * many coordinators forward it (each of them, and a client's retry through another): those in
 * progress, and the last few finished, each with its latest JobUpdate, which a repeat gets
 * again. Bounded both ways; kept in memory only (a repeated prepare after a restart is made
 * safe by the prepare journal instead). Id 0 is not a client's: it is never recorded. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proto/castle.pb-c.h"

/* Commands in progress at once: more than the job queue holds (256 and the running one). */
#define COMMAND_TABLE_MAX_RUNNING 1024U

typedef struct CommandTable CommandTable;

/* max_finished: how many finished commands are remembered (at least 1). */
int command_table_new(size_t max_finished, CommandTable **ret);
CommandTable *command_table_free(CommandTable *t);

/* A command arrives: 0 when id is new (it is recorded as in progress: run it), 1 when it is
 * known (do not run it again), with *ret_latest its latest update (NULL: none yet, or a command
 * without progress such as a rescan; valid until the table changes). -EBUSY when too many
 * commands are in progress, -ENOMEM. */
int command_table_begin(CommandTable *t, uint64_t id, const Castle__JobUpdate **ret_latest);
/* u becomes its command's latest update; u->done finishes the command. An update of an id not
 * in the table (a refusal before it was recorded, a job of an evicted one) is recorded too. */
int command_table_update(CommandTable *t, const Castle__JobUpdate *u);
/* Finishes a command that has no updates (a rescan, a spec set). */
void command_table_finish(CommandTable *t, uint64_t id);
/* Forgets everything (a reload that reset what the commands changed). */
void command_table_clear(CommandTable *t);

size_t command_table_running(const CommandTable *t);
size_t command_table_finished(const CommandTable *t);
