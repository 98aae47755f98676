/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's OSD specs: which it holds (the coordinators' newest set and the spec-file's), and
 * the reconciliation that makes the node match them, one job per spec, each device claimed only
 * once it has settled. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/settle.h"
#include "agent/specs.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "proto/codec.h"

/* A spec as the agent holds it, with its reconciliation state. */
typedef struct Entry {
        Castle__OsdSpec *spec;  /* owned */
        bool local;             /* from the spec-file */
        uint64_t job;           /* its job's command id; 0: none running */
        size_t job_osds;        /* the OSDs that job makes */
        char **claimed;         /* the report keys of the devices that job claimed */
        uint64_t retry_after;   /* after a failure: no job before this */
        uint64_t done_seq;      /* the report count when its last job ended */
        char *said;             /* what was last logged about its plan, so it is logged once */
} Entry;

struct AgentSpecs {
        AgentSpecsOps ops;
        char *node_id, *hostname;
        char **labels;
        uint64_t settle_usec;
        Castle__OsdSpec **remote, **local;
        size_t n_remote, n_local;
        bool have_remote;
        int64_t revision;
        Entry *entries;
        size_t n_entries;
        SettleTracker *settle;  /* the devices plans claim, and since when each is as it is */
        const Report *report;
        uint64_t report_seq;
        uint64_t next_id;
        size_t settling;
        uint64_t osds_made, jobs_failed;
};

static Castle__OsdSpec *spec_dup(const Castle__OsdSpec *s) {
        size_t n = castle__osd_spec__get_packed_size(s);
        _cleanup_free_ uint8_t *buf = malloc(MAX(n, 1u));

        if (!buf)
                return NULL;
        castle__osd_spec__pack(s, buf);
        return castle__osd_spec__unpack(NULL, n, buf);
}

static void specs_free(Castle__OsdSpec **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                castle__osd_spec__free_unpacked(v[i], NULL);
        free(v);
}

static int specs_copy(Castle__OsdSpec *const *v, size_t n, Castle__OsdSpec ***ret) {
        Castle__OsdSpec **c = calloc(MAX(n, 1u), sizeof *c);

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = spec_dup(v[i]))) {
                        specs_free(c, i);
                        return -ENOMEM;
                }
        *ret = c;
        return 0;
}

static void entry_done(Entry *e) {
        strv_free(e->claimed);
        free(e->said);
        *e = (Entry) {};
}

int agent_specs_new(const AgentSpecsOps *ops, const char *node_id, const char *hostname, char *const *labels,
                    uint64_t settle_usec, AgentSpecs **ret) {
        AgentSpecs *a = calloc(1, sizeof *a);

        if (!a)
                return -ENOMEM;
        *a = (AgentSpecs) {
                .ops = *ops,
                .node_id = strdup(node_id),
                .hostname = strdup(hostname),
                .settle_usec = settle_usec,
                .next_id = AGENT_SPECS_COMMAND_BASE,
        };
        if (!a->node_id || !a->hostname || agent_specs_set_labels(a, labels) < 0 ||
            settle_tracker_new(ops->written, ops->userdata, &a->settle) < 0) {
                agent_specs_free(a);
                return -ENOMEM;
        }
        *ret = a;
        return 0;
}

AgentSpecs *agent_specs_free(AgentSpecs *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_entries; i++)
                entry_done(&a->entries[i]);
        free(a->entries);
        specs_free(a->remote, a->n_remote);
        specs_free(a->local, a->n_local);
        settle_tracker_free(a->settle);
        strv_free(a->labels);
        free(a->node_id);
        free(a->hostname);
        free(a);
        return NULL;
}

void agent_specs_set_settle(AgentSpecs *a, uint64_t settle_usec) {
        a->settle_usec = settle_usec;
}

int agent_specs_set_labels(AgentSpecs *a, char *const *labels) {
        char **l = strv_copy(labels ?: (char *[]) { NULL });

        if (!l)
                return -ENOMEM;
        strv_free(a->labels);
        a->labels = l;
        return 0;
}

static Entry *entry_find(Entry *v, size_t n, const char *service_id, bool local) {
        for (size_t i = 0; i < n; i++)
                if (v[i].local == local && streq(v[i].spec->service_id, service_id))
                        return &v[i];
        return NULL;
}

static bool specs_has(Castle__OsdSpec *const *v, size_t n, const char *service_id) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i]->service_id, service_id))
                        return true;
        return false;
}

/* The entries again, after either set changed: the coordinators' specs, then the spec-file's
 * whose name the coordinators do not use. A spec that stays keeps its job, back-off and log. */
static int rebuild(AgentSpecs *a) {
        Entry *n = calloc(a->n_remote + a->n_local + 1, sizeof(Entry));
        size_t k = 0;

        if (!n)
                return -ENOMEM;
        for (size_t pass = 0; pass < 2; pass++) {
                bool local = pass == 1;
                Castle__OsdSpec **v = local ? a->local : a->remote;
                size_t nv = local ? a->n_local : a->n_remote;

                for (size_t i = 0; i < nv; i++) {
                        Entry *old;

                        if (local && specs_has(a->remote, a->n_remote, v[i]->service_id)) {
                                log_warning("Spec %s of the spec-file is ignored: the coordinator has one of the same name.",
                                            v[i]->service_id);
                                continue;
                        }
                        old = entry_find(a->entries, a->n_entries, v[i]->service_id, local);
                        if (old) {
                                n[k] = *old;
                                *old = (Entry) { .spec = old->spec }; /* moved */
                        }
                        n[k].spec = v[i];
                        n[k].local = local;
                        k++;
                }
        }
        for (size_t i = 0; i < a->n_entries; i++) {
                if (a->entries[i].job)
                        log_info("Spec %s was removed; its job %" PRIu64 " goes on.", a->entries[i].spec->service_id,
                                 a->entries[i].job);
                entry_done(&a->entries[i]);
        }
        free(a->entries);
        a->entries = n;
        a->n_entries = k;
        return 0;
}

int agent_specs_set_remote(AgentSpecs *a, const Castle__SpecSet *set) {
        Castle__OsdSpec **c = NULL, **old = a->remote;
        size_t n_old = a->n_remote;
        int r;

        if (a->have_remote && set->revision <= a->revision)
                return 0;
        /* The coordinator parsed and checked them; what names jobs and log lines is checked
         * again here, and two specs of one name would share one job. */
        for (size_t i = 0; i < set->n_specs; i++) {
                if (!set->specs[i] || !codec_valid_id(set->specs[i]->service_id))
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(set->specs[i]->service_id, set->specs[j]->service_id))
                                return -EINVAL;
        }
        r = specs_copy(set->specs, set->n_specs, &c);
        if (r < 0)
                return r;
        a->remote = c;
        a->n_remote = set->n_specs;
        r = rebuild(a);
        if (r < 0) {
                specs_free(c, set->n_specs);
                a->remote = old;
                a->n_remote = n_old;
                return r;
        }
        specs_free(old, n_old);
        a->have_remote = true;
        a->revision = set->revision;
        return 1;
}

int agent_specs_set_local(AgentSpecs *a, Castle__OsdSpec *const *specs, size_t n) {
        Castle__OsdSpec **c = NULL, **old = a->local;
        size_t n_old = a->n_local;
        int r;

        r = specs_copy(specs, n, &c);
        if (r < 0)
                return r;
        a->local = c;
        a->n_local = n;
        r = rebuild(a);
        if (r < 0) {
                specs_free(c, n);
                a->local = old;
                a->n_local = n_old;
                return r;
        }
        specs_free(old, n_old);
        return 0;
}

void agent_specs_report(AgentSpecs *a, const Report *report) {
        a->report = report;
        a->report_seq++;
}

bool agent_specs_owns(uint64_t command_id) {
        return command_id >= AGENT_SPECS_COMMAND_BASE;
}

/* ---- reconciliation ---- */

/* The report's entry for a device the plan names by stable id (or path, or link). A message's
 * repeated strings are counted, not NULL-terminated: no strv_contains() on them. */
static const ReportEntry *report_find(const Report *r, const char *id) {
        for (size_t i = 0; i < r->n; i++) {
                const Castle__Device *d = r->entries[i].msg;

                if (streq(d->stable_id, id) || streq(d->path, id))
                        return &r->entries[i];
                for (size_t l = 0; l < d->n_links; l++)
                        if (streq_ptr(d->links[l], id))
                                return &r->entries[i];
        }
        return NULL;
}

static bool claimed_by_a_job(const AgentSpecs *a, const char *key) {
        for (size_t i = 0; i < a->n_entries; i++)
                if (a->entries[i].job && strv_contains(a->entries[i].claimed, key))
                        return true;
        return false;
}

/* Logs what is said about a spec once, until it says something else. */
static void say(Entry *e, int level, const char *text) {
        if (streq_ptr(e->said, text))
                return;
        log_full_errno(level, 0, "Spec %s: %s", e->spec->service_id, text);
        free(e->said);
        e->said = strdup(text);
}

static size_t new_osds(const Castle__NodePlan *p) {
        size_t n = 0;

        for (size_t i = 0; i < p->n_osds; i++)
                n += !p->osds[i]->exists;
        return MAX(n, 1u);
}

/* Whether every OSD the plan has on data device id exists already: it is not newly selected. */
static bool data_device_kept(const Castle__NodePlan *p, const char *id) {
        bool any = false;

        for (size_t i = 0; i < p->n_osds; i++)
                if (streq_ptr(p->osds[i]->data_id, id)) {
                        if (!p->osds[i]->exists)
                                return false;
                        any = true;
                }
        return any;
}

/* Whether data device id holds one of the plan's OSDs already (osds_per_device: it is not
 * available, and takes one more). */
static bool data_device_used(const Castle__NodePlan *p, const char *id) {
        for (size_t i = 0; i < p->n_osds; i++)
                if (streq_ptr(p->osds[i]->data_id, id) && p->osds[i]->exists)
                        return true;
        return false;
}

/* The devices of a create: data, then DB, then WAL. */
static int create_devices(const Castle__OsdCreate *c, char ***ret_ids, size_t *ret_n_data) {
        _cleanup_strv_free_ char **ids = NULL;
        size_t n_data;

        if (!isempty(c->device_id) && strv_extend(&ids, c->device_id) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_data_devices; i++)
                if (strv_extend_unique(&ids, c->data_devices[i]) < 0)
                        return -ENOMEM;
        n_data = strv_length(ids);
        for (size_t i = 0; i < c->n_db_devices; i++)
                if (strv_extend_unique(&ids, c->db_devices[i]) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < c->n_wal_devices; i++)
                if (strv_extend_unique(&ids, c->wal_devices[i]) < 0)
                        return -ENOMEM;
        *ret_ids = TAKE_PTR(ids);
        *ret_n_data = n_data;
        return 0;
}

/* One spec's round; returns when it wants to run again (0: on the next change). */
static uint64_t reconcile_one(AgentSpecs *a, Entry *e, Castle__Device *const *devices, size_t n_devices,
                              uint64_t now) {
        Castle__NodePlan *plan = NULL;
        _cleanup_strv_free_ char **ids = NULL, **keys = NULL;
        _cleanup_free_ char *text = NULL, *list = NULL;
        uint64_t wait_until = 0, id;
        size_t n_data = 0;
        bool settled = true;
        int r;

        if (e->job)
                return 0; /* one job per spec: the next round follows its end */
        r = a->ops.plan(e->spec, a->node_id, a->hostname, a->labels, devices, n_devices, &plan);
        if (r < 0) {
                say(e, LOG_ERR, "could not be planned on this node.");
                return 0;
        }
        if (plan->placed && isempty(plan->error) && e->spec->unmanaged) {
                /* its plan has no create: what it would make is in its OSDs */
                _cleanup_strv_free_ char **paths = NULL;
                _cleanup_free_ char *joined = NULL;
                size_t n = 0;

                for (size_t i = 0; i < plan->n_osds; i++)
                        if (!plan->osds[i]->exists) {
                                n++;
                                if (strv_extend_unique(&paths, plan->osds[i]->data) < 0)
                                        goto out;
                        }
                joined = strv_join(paths, ", ");
                if (n == 0)
                        say(e, LOG_INFO, "unmanaged: nothing to make on this node.");
                else if (joined && asprintf(&text, "unmanaged: it would make %zu OSD(s) on %s; nothing is written.",
                                            n, joined) >= 0)
                        say(e, LOG_INFO, text);
                goto out;
        }
        if (!plan->placed || !plan->create) {
                if (!plan->placed)
                        say(e, LOG_DEBUG, "does not place this node.");
                else if (!isempty(plan->error))
                        say(e, LOG_WARNING, plan->error);
                else
                        say(e, LOG_DEBUG, "nothing to make on this node.");
                goto out;
        }
        r = create_devices(plan->create, &ids, &n_data);
        if (r >= 0 && !ids) {
                say(e, LOG_ERR, "its plan names no device.");
                goto out;
        }
        list = r >= 0 ? strv_join(ids, ", ") : NULL;
        if (!list) {
                log_oom();
                goto out;
        }
        if (e->spec->unmanaged)
                goto out; /* never written to, whatever a plan says */
        /* The devices are followed during a back-off too: one that stayed as it was is taken
         * when it ends. */
        for (size_t i = 0; ids[i]; i++) {
                const ReportEntry *d = report_find(a->report, ids[i]);

                if (!d) {
                        settled = false; /* the plan names a device this report does not have */
                        continue;
                }
                if (strv_extend(&keys, d->key) < 0) {
                        log_oom();
                        goto out;
                }
                if (i < n_data && data_device_kept(plan, ids[i]))
                        continue; /* its OSDs exist (an LVM batch names every data device) */
                if (claimed_by_a_job(a, d->key) || (i < n_data && !d->msg->available && !data_device_used(plan, ids[i])))
                        settled = false;
                else if (!settle_check(a->settle, d, a->settle_usec, now, &wait_until)) {
                        settled = false;
                        a->settling++;
                }
        }
        if (now < e->retry_after) {
                wait_until = MAX(wait_until, e->retry_after);
                goto out;
        }
        if (a->report_seq <= e->done_seq)
                goto out; /* its last job's result is not in a report yet */
        if (!settled) {
                if (wait_until > 0 && asprintf(&text, "would make %zu OSD(s) on %s once they settle.", new_osds(plan),
                                               list) >= 0)
                        say(e, LOG_INFO, text);
                goto out;
        }

        /* The job is the spec's before it is submitted: a submit may end it at once (a request
         * the job runner refuses ends with an update before submit returns). */
        id = a->next_id++;
        log_info("Spec %s: job %" PRIu64 " makes %zu OSD(s) on %s.", e->spec->service_id, id, new_osds(plan), list);
        e->job = id;
        e->job_osds = new_osds(plan);
        strv_free(e->claimed);
        e->claimed = TAKE_PTR(keys);
        e->said = mfree(e->said);
        r = a->ops.submit(id, plan->create, a->ops.userdata);
        if (r < 0) {
                e->job = 0;
                e->claimed = strv_free(e->claimed);
                e->retry_after = now + AGENT_SPECS_RETRY_USEC;
                wait_until = e->retry_after;
                a->jobs_failed++;
                log_error_errno(r, "Spec %s: job %" PRIu64 " could not be queued (%m); trying again in %u min.",
                                e->spec->service_id, id, (unsigned) (AGENT_SPECS_RETRY_USEC / 60000000));
        } else if (e->job == 0 && e->retry_after > now)
                wait_until = e->retry_after; /* it ended at once, and failed */
out:
        a->ops.plan_free(plan);
        return wait_until;
}

uint64_t agent_specs_reconcile(AgentSpecs *a, uint64_t now) {
        _cleanup_free_ Castle__Device **devices = NULL;
        uint64_t next = 0;

        a->settling = 0;
        if (!a->report)
                return 0;
        devices = calloc(a->report->n + 1, sizeof *devices);
        if (!devices) {
                log_oom();
                return 0;
        }
        for (size_t i = 0; i < a->report->n; i++)
                devices[i] = a->report->entries[i].msg;
        settle_begin(a->settle);
        for (size_t i = 0; i < a->n_entries; i++) {
                uint64_t w = reconcile_one(a, &a->entries[i], devices, a->report->n, now);

                if (w > 0 && (next == 0 || w < next))
                        next = w;
        }
        settle_end(a->settle);
        return next;
}

void agent_specs_job_update(AgentSpecs *a, const Castle__JobUpdate *u, uint64_t now) {
        Entry *e = NULL;

        if (!u->done || !agent_specs_owns(u->command_id))
                return;
        for (size_t i = 0; i < a->n_entries && !e; i++)
                if (a->entries[i].job == u->command_id)
                        e = &a->entries[i];
        if (!isempty(u->error)) {
                a->jobs_failed++;
                if (e) {
                        e->retry_after = now + AGENT_SPECS_RETRY_USEC;
                        log_error("Spec %s: job %" PRIu64 " failed: %s; trying again in %u min.", e->spec->service_id,
                                  u->command_id, u->error, (unsigned) (AGENT_SPECS_RETRY_USEC / 60000000));
                }
        } else if (!u->already_prepared)
                a->osds_made += e ? e->job_osds : 1;
        if (!e)
                return;
        e->job = 0;
        e->job_osds = 0;
        e->claimed = strv_free(e->claimed);
        e->done_seq = a->report_seq;
}

void agent_specs_stats(const AgentSpecs *a, AgentSpecsStats *ret) {
        size_t running = 0;

        for (size_t i = 0; i < a->n_entries; i++)
                running += a->entries[i].job != 0;
        *ret = (AgentSpecsStats) {
                .specs = a->n_entries,
                .settling = a->settling,
                .running = running,
                .osds_made = a->osds_made,
                .jobs_failed = a->jobs_failed,
        };
}
