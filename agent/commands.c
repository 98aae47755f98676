/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table of recent command ids: an array of those in progress (bounded by
 * COMMAND_TABLE_MAX_RUNNING) and a ring of the last finished ones, oldest evicted first. A
 * lookup scans both: commands arrive a few a minute, not thousands a second. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/commands.h"
#include "common/macro.h"
#include "proto/codec.h"

typedef struct Entry {
        uint64_t id;
        Castle__JobUpdate *latest; /* owned, unpacked copy; NULL: none */
} Entry;

struct CommandTable {
        Entry running[COMMAND_TABLE_MAX_RUNNING];
        size_t n_running;
        Entry *finished; /* ring of max_finished */
        size_t max_finished, n_finished, next; /* next: where the next finished one goes */
};

static void entry_done(Entry *e) {
        if (e->latest)
                castle__job_update__free_unpacked(e->latest, NULL);
        *e = (Entry) {};
}

int command_table_new(size_t max_finished, CommandTable **ret) {
        CommandTable *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        t->max_finished = MAX(max_finished, (size_t) 1);
        t->finished = calloc(t->max_finished, sizeof(Entry));
        if (!t->finished) {
                free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

void command_table_clear(CommandTable *t) {
        for (size_t i = 0; i < t->n_running; i++)
                entry_done(&t->running[i]);
        for (size_t i = 0; i < t->max_finished; i++)
                entry_done(&t->finished[i]);
        t->n_running = t->n_finished = t->next = 0;
}

CommandTable *command_table_free(CommandTable *t) {
        if (!t)
                return NULL;
        command_table_clear(t);
        free(t->finished);
        free(t);
        return NULL;
}

static Entry *find_running(CommandTable *t, uint64_t id) {
        for (size_t i = 0; i < t->n_running; i++)
                if (t->running[i].id == id)
                        return &t->running[i];
        return NULL;
}

static Entry *find_finished(CommandTable *t, uint64_t id) {
        for (size_t i = 0; i < t->n_finished; i++)
                if (t->finished[i].id == id)
                        return &t->finished[i];
        return NULL;
}

/* Moves e (its latest update included) to the ring, evicting the oldest when it is full. */
static void add_finished(CommandTable *t, Entry e) {
        Entry *slot = &t->finished[t->next];

        entry_done(slot);
        *slot = e;
        t->next = (t->next + 1) % t->max_finished;
        t->n_finished = MIN(t->n_finished + 1, t->max_finished);
}

static void finish_running(CommandTable *t, Entry *e) {
        Entry moved = *e;

        *e = t->running[--t->n_running];
        t->running[t->n_running] = (Entry) {};
        add_finished(t, moved);
}

static int copy_update(const Castle__JobUpdate *u, Castle__JobUpdate **ret) {
        _cleanup_free_ uint8_t *packed = NULL;
        size_t size = 0;
        int r;

        r = codec_pack(&u->base, &packed, &size);
        if (r < 0)
                return r;
        *ret = castle__job_update__unpack(NULL, size, packed);
        return *ret ? 0 : -ENOMEM;
}

int command_table_begin(CommandTable *t, uint64_t id, const Castle__JobUpdate **ret_latest) {
        Entry *e;

        assert(id != 0);
        e = find_running(t, id) ?: find_finished(t, id);
        if (e) {
                *ret_latest = e->latest;
                return 1;
        }
        if (t->n_running >= COMMAND_TABLE_MAX_RUNNING)
                return -EBUSY;
        t->running[t->n_running++] = (Entry) { .id = id };
        *ret_latest = NULL;
        return 0;
}

int command_table_update(CommandTable *t, const Castle__JobUpdate *u) {
        Castle__JobUpdate *copy = NULL;
        Entry *e;
        int r;

        if (u->command_id == 0)
                return 0;
        r = copy_update(u, &copy);
        if (r < 0)
                return r;
        e = find_running(t, u->command_id);
        if (!e && (e = find_finished(t, u->command_id))) {
                /* a late update of a finished one: only its latest changes */
                entry_done(e);
                *e = (Entry) { .id = u->command_id, .latest = copy };
                return 0;
        }
        if (!e) {
                if (u->done) {
                        add_finished(t, (Entry) { .id = u->command_id, .latest = copy });
                        return 0;
                }
                if (t->n_running >= COMMAND_TABLE_MAX_RUNNING) {
                        castle__job_update__free_unpacked(copy, NULL);
                        return -EBUSY;
                }
                e = &t->running[t->n_running++];
                *e = (Entry) { .id = u->command_id };
        }
        if (e->latest)
                castle__job_update__free_unpacked(e->latest, NULL);
        e->latest = copy;
        if (u->done)
                finish_running(t, e);
        return 0;
}

void command_table_finish(CommandTable *t, uint64_t id) {
        Entry *e = find_running(t, id);

        if (e)
                finish_running(t, e);
        else if (!find_finished(t, id))
                add_finished(t, (Entry) { .id = id });
}

size_t command_table_running(const CommandTable *t) {
        return t->n_running;
}

size_t command_table_finished(const CommandTable *t) {
        return t->n_finished;
}
