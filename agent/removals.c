/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's OSD removals: a castlectl-osd child per OSD in a job runner of its own, the
 * JobUpdates of one OsdRemove command gathered into one end, journalled removals carried on
 * at start, and the journal read into the heartbeat's removal list after every change. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/removals.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "osd-prep/context.h"
#include "osd-prep/removal.h"

#define MAX_CHILDREN 128
#define MAX_COMMANDS 128
#define MAX_IDS_PER_COMMAND 64
/* A drain waits for the cluster, which may take days on big disks; the child's own steps are
 * bounded. */
#define REMOVAL_TIMEOUT_USEC (7 * USEC_PER_DAY)
#define ERRORS_MAX 4096

typedef struct Child Child;

typedef struct Cmd {
        uint64_t command_id;
        unsigned pending;       /* children not done yet */
        unsigned failed;
        char *errors;           /* "osd.N: why; osd.M: why" */
        bool used;
} Cmd;

struct Child {
        AgentRemovals *owner;
        int osd_id;
        uint64_t command_id;
        bool cancel;
        bool redestroy;         /* only re-asserts a reserved id's destroyed state */
        bool out_only;          /* only marks the OSD out (health-mark-out) */
        bool done;
        JobRunner *jr;
};

struct AgentRemovals {
        zloop_t *loop;
        AgentRemovalsOptions o;
        char *helper;
        Child *children[MAX_CHILDREN];
        Cmd cmds[MAX_COMMANDS];
};

static const char *state_dir(const AgentRemovals *r) {
        return isempty(r->o.cfg->state_dir) ? STATE_DIR_DEFAULT : r->o.cfg->state_dir;
}

static Cmd *cmd_find(AgentRemovals *r, uint64_t id) {
        for (size_t i = 0; i < MAX_COMMANDS; i++)
                if (r->cmds[i].used && r->cmds[i].command_id == id)
                        return &r->cmds[i];
        return NULL;
}

static Cmd *cmd_add(AgentRemovals *r, uint64_t id) {
        Cmd *c = cmd_find(r, id);

        if (c)
                return c;
        for (size_t i = 0; i < MAX_COMMANDS; i++)
                if (!r->cmds[i].used) {
                        r->cmds[i] = (Cmd) { .command_id = id, .used = true };
                        return &r->cmds[i];
                }
        return NULL;
}

static void emit(AgentRemovals *r, uint64_t command_id, const char *step, unsigned percent, bool done,
                 const char *error, const char *message, int osd_id) {
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

        u.command_id = command_id;
        u.step = (char *) step;
        u.percent = percent;
        u.done = done;
        u.error = (char *) error;
        u.message = (char *) message;
        u.osd_id = osd_id;
        r->o.update(&u, r->o.userdata);
}

static void cmd_child_done(AgentRemovals *r, Cmd *c, int osd_id, const char *error) {
        if (error) {
                _cleanup_free_ char *s = NULL;
                c->failed++;
                if (asprintf(&s, "%s%sosd.%d: %s", strempty(c->errors), c->errors ? "; " : "", osd_id, error) >= 0 &&
                    strlen(s) < ERRORS_MAX) {
                        free(c->errors);
                        c->errors = TAKE_PTR(s);
                }
        }
        if (c->pending > 0)
                c->pending--;
        if (c->pending > 0)
                return;
        emit(r, c->command_id, "done", 100, true, c->failed ? (c->errors ?: "failed") : NULL,
             c->failed ? NULL : "every removal of the command finished", c->failed ? -1 : osd_id);
        free(c->errors);
        *c = (Cmd) {};
}

void agent_removals_refresh(AgentRemovals *r) {
        _cleanup_free_ int *ids = NULL;
        Castle__OsdRemoval **list = NULL, *items = NULL;
        RemovalEntry *entries = NULL;
        size_t n_ids = 0, n = 0;
        int k;

        if (!r->o.report || removal_list(state_dir(r), &ids, &n_ids) < 0)
                return;
        list = calloc(n_ids ?: 1, sizeof *list);
        items = calloc(n_ids ?: 1, sizeof *items);
        entries = calloc(n_ids ?: 1, sizeof *entries);
        if (!list || !items || !entries)
                goto out;
        for (size_t i = 0; i < n_ids; i++) {
                RemovalEntry *e = &entries[n];
                Castle__OsdRemoval *m = &items[n];

                if (removal_read(state_dir(r), ids[i], e) <= 0)
                        continue;
                /* A finished --replace entry is a reservation: the replacement watch's. */
                if (e->step >= REMOVAL_DONE) {
                        removal_entry_done(e);
                        continue;
                }
                castle__osd_removal__init(m);
                m->osd_id = e->osd_id;
                m->step = (char *) (e->step == REMOVAL_OUT && !e->force ? "draining" : removal_step_to_string(e->step));
                m->replace = e->replace;
                m->zap = e->zap;
                m->force = e->force;
                m->pgs_left = e->pgs_left;
                m->started_usec = e->started_usec;
                m->updated_usec = e->updated_usec;
                m->error = e->error ?: (char *) "";
                m->device = e->block.stable_id ?: (char *) "";
                m->command_id = e->command_id;
                list[n++] = m;
        }
        k = osd_report_set_removals(r->o.report, list, n);
        if (k > 0 && r->o.changed)
                r->o.changed(r->o.userdata);
out:
        for (size_t i = 0; entries && i < n; i++)
                removal_entry_done(&entries[i]);
        free(entries);
        free(items);
        free(list);
}

static void on_child_update(const Castle__JobUpdate *u, void *userdata) {
        Child *ch = userdata;
        AgentRemovals *r = ch->owner;
        Cmd *c = cmd_find(r, ch->command_id);

        if (!u->done) {
                _cleanup_free_ char *msg = NULL;
                if (!u->message || asprintf(&msg, "%s", u->message) < 0)
                        msg = NULL;
                emit(r, ch->command_id, u->step, u->percent, false, NULL, msg ?: u->message, ch->osd_id);
        } else {
                ch->done = true;
                if (ch->out_only) {
                        if (u->error)
                                log_error("osd.%d: could not be marked out: %s", ch->osd_id, u->error);
                        else
                                log_info("osd.%d is out.", ch->osd_id);
                        if (r->o.marked_out)
                                r->o.marked_out(ch->osd_id, u->error, r->o.userdata);
                } else if (ch->redestroy && u->error)
                        log_error("osd.%d: its reserved id could not be destroyed again: %s", ch->osd_id, u->error);
                else if (ch->redestroy)
                        log_info("osd.%d: its reserved id is destroyed, ready for the next attempt.", ch->osd_id);
                else if (u->error)
                        log_error("osd.%d: the removal %s: %s", ch->osd_id, ch->cancel ? "cancel failed" : "stopped",
                                  u->error);
                else
                        log_info("osd.%d: %s.", ch->osd_id, ch->cancel ? "removal cancelled" : "removed");
                if (c)
                        cmd_child_done(r, c, ch->osd_id, u->error);
        }
        agent_removals_refresh(r);
}

static Child *child_free(Child *ch) {
        if (!ch)
                return NULL;
        job_runner_free(ch->jr);
        free(ch);
        return NULL;
}

/* Frees the children that are done (never from one's own callback: its runner is still in use). */
static void reap(AgentRemovals *r) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (r->children[i] && r->children[i]->done && job_runner_pending(r->children[i]->jr) == 0)
                        r->children[i] = child_free(r->children[i]);
}

static Child *running_child(AgentRemovals *r, int osd_id, bool cancel) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (r->children[i] && !r->children[i]->done && r->children[i]->osd_id == osd_id &&
                    r->children[i]->cancel == cancel)
                        return r->children[i];
        return NULL;
}

#define ARG(fmt, value) STRV_APPENDF(r, args, fmt, value)

static int child_args(AgentRemovals *rm, int osd_id, bool replace, bool zap, bool force, bool cancel, bool resume,
                      bool out_only, char ***ret) {
        _cleanup_strv_free_ char **args = NULL;
        const AgentConfig *o = rm->o.cfg;
        const char *start_mode = agent_config_start_modes[o->start_mode];
        int r = 0;

        ARG("%s", "osd");
        ARG("%s", "rm");
        ARG("%s", "--progress=json");
        if (!isempty(o->cluster))
                ARG("--cluster=%s", o->cluster);
        if (!isempty(o->ceph_conf))
                ARG("--conf=%s", o->ceph_conf);
        if (!isempty(o->osd_root))
                ARG("--osd-root=%s", o->osd_root);
        if (!isempty(o->state_dir))
                ARG("--state-dir=%s", o->state_dir);
        if (!isempty(start_mode))
                ARG("--start-mode=%s", start_mode);
        if (o->allow_loop)
                ARG("%s", "--allow-loop");
        if (!isempty(o->remove_client))
                ARG("--client=%s", o->remove_client);
        if (!isempty(o->remove_keyring))
                ARG("--keyring=%s", o->remove_keyring);
        if (cancel)
                ARG("%s", "--cancel");
        if (resume)
                ARG("%s", "--resume");
        if (out_only)
                ARG("%s", "--out");
        if (replace)
                ARG("%s", "--replace");
        if (zap)
                ARG("%s", "--zap");
        if (force)
                ARG("%s", "--force");
        ARG("%s", "--");
        ARG("%d", osd_id);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(args);
        return 0;
}
#undef ARG

static int child_start(AgentRemovals *r, uint64_t command_id, int osd_id, bool replace, bool zap, bool force,
                       bool cancel, bool resume, bool out_only) {
        _cleanup_strv_free_ char **args = NULL;
        Child *ch;
        size_t slot;
        int k;

        for (slot = 0; slot < MAX_CHILDREN && r->children[slot]; slot++)
                ;
        if (slot == MAX_CHILDREN)
                return -EBUSY;
        k = child_args(r, osd_id, replace, zap, force, cancel, resume, out_only, &args);
        if (k < 0)
                return k;
        ch = calloc(1, sizeof *ch);
        if (!ch)
                return -ENOMEM;
        *ch = (Child) { .owner = r, .osd_id = osd_id, .command_id = command_id, .cancel = cancel,
                        .out_only = out_only };
        ch->jr = job_runner_new(r->loop, r->helper, on_child_update, ch);
        if (!ch->jr) {
                free(ch);
                return -ENOMEM;
        }
        job_runner_set_timeout(ch->jr, REMOVAL_TIMEOUT_USEC);
        r->children[slot] = ch;
        /* Submitting starts it at once; its updates may arrive from here on. */
        k = job_runner_submit(ch->jr, command_id, args);
        if (k < 0) {
                r->children[slot] = child_free(ch);
                return k;
        }
        return 0;
}

int agent_removals_command(AgentRemovals *r, uint64_t command_id, const Castle__OsdRemove *m, char **error) {
        Cmd *c;
        unsigned started = 0;
        int k;

        reap(r);
        if (m->n_osd_ids == 0 || m->n_osd_ids > MAX_IDS_PER_COMMAND) {
                error_set(error, "a removal names 1 to %d OSD ids, not %zu", MAX_IDS_PER_COMMAND, m->n_osd_ids);
                return -EINVAL;
        }
        for (size_t i = 0; i < m->n_osd_ids; i++)
                if (m->osd_ids[i] < 0) {
                        error_set(error, "%d is not an OSD id", m->osd_ids[i]);
                        return -EINVAL;
                }
        if (m->cancel && (m->replace || m->zap || m->force)) {
                error_set(error, "a cancel takes no other removal option");
                return -EINVAL;
        }
        c = cmd_add(r, command_id);
        if (!c) {
                error_set(error, "too many removal commands at once");
                return -EBUSY;
        }
        for (size_t i = 0; i < m->n_osd_ids; i++) {
                int id = m->osd_ids[i];

                if (running_child(r, id, m->cancel)) {
                        log_info("osd.%d: a %s runs already; command %" PRIu64 " leaves it to finish.", id,
                                 m->cancel ? "cancel" : "removal", command_id);
                        continue;
                }
                c->pending++;
                k = child_start(r, command_id, id, m->replace, m->zap, m->force, m->cancel, false, false);
                if (k < 0) {
                        char why[128];
                        snprintf(why, sizeof why, "cannot start: %s", strerror(-k));
                        cmd_child_done(r, c, id, why);
                        if (!cmd_find(r, command_id))
                                return 0; /* that was the last one: the command's end is told */
                        continue;
                }
                started++;
        }
        if (c->pending == 0 && c->used) {
                /* Nothing to start: every OSD named is being removed already. */
                emit(r, command_id, "done", 100, true, NULL, "the removals run already", -1);
                *c = (Cmd) {};
        }
        log_info("Command %" PRIu64 ": %s of %u OSD(s) started.", command_id, m->cancel ? "cancel" : "removal", started);
        agent_removals_refresh(r);
        return 0;
}

int agent_removals_redestroy(AgentRemovals *r, uint64_t command_id, int osd_id) {
        Child *ch;
        int k;

        reap(r);
        if (running_child(r, osd_id, false))
                return 0;
        log_info("osd.%d: making sure its reserved id is destroyed again after a failed replacement.", osd_id);
        k = child_start(r, command_id, osd_id, true, false, true, false, true, false);
        if (k < 0)
                return k;
        ch = running_child(r, osd_id, false);
        if (ch)
                ch->redestroy = true;
        return 0;
}

int agent_removals_mark_out(AgentRemovals *r, uint64_t command_id, int osd_id) {
        reap(r);
        if (running_child(r, osd_id, false))
                return 0; /* a removal runs: it marks the OSD out itself */
        return child_start(r, command_id, osd_id, false, false, false, false, false, true);
}

int agent_removals_resume(AgentRemovals *r) {
        _cleanup_free_ int *ids = NULL;
        size_t n = 0;
        int k;

        k = removal_list(state_dir(r), &ids, &n);
        if (k < 0)
                return log_warning_errno(k, "Cannot read the removal journal in %s/remove: %m", state_dir(r));
        for (size_t i = 0; i < n; i++) {
                _cleanup_(removal_entry_done) RemovalEntry e = { .osd_id = -1 };
                Cmd *c;

                k = removal_read(state_dir(r), ids[i], &e);
                if (k <= 0) {
                        if (k < 0)
                                log_warning_errno(k, "Ignoring the removal journal entry of osd.%d: %m", ids[i]);
                        continue;
                }
                if (e.step >= REMOVAL_DONE || running_child(r, e.osd_id, false))
                        continue;
                log_info("osd.%d: carrying on with its removal from step %s.", e.osd_id,
                         removal_step_to_string(e.step));
                c = cmd_add(r, e.command_id);
                if (!c)
                        return -EBUSY;
                c->pending++;
                /* The journal keeps the options; the child reads them from there. A child of the
                 * agent that was killed may still run it: the new one waits for its lock. */
                k = child_start(r, e.command_id, e.osd_id, false, false, false, false, true, false);
                if (k < 0) {
                        c->pending--;
                        if (c->pending == 0)
                                *c = (Cmd) {};
                        log_error_errno(k, "osd.%d: cannot carry on with its removal: %m", e.osd_id);
                }
        }
        agent_removals_refresh(r);
        return 0;
}

int agent_removals_new(zloop_t *loop, const AgentRemovalsOptions *o, AgentRemovals **ret) {
        AgentRemovals *r = calloc(1, sizeof *r);

        if (!r)
                return -ENOMEM;
        r->loop = loop;
        r->o = *o;
        r->helper = strdup(o->helper);
        if (!r->helper) {
                agent_removals_free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

AgentRemovals *agent_removals_free(AgentRemovals *r) {
        if (!r)
                return NULL;
        /* Running children are left to go on: the journal lets the next agent carry on. */
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                child_free(r->children[i]);
        for (size_t i = 0; i < MAX_COMMANDS; i++)
                free(r->cmds[i].errors);
        free(r->helper);
        free(r);
        return NULL;
}
