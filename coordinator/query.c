/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The query endpoint: nodes, devices with filters, a watch stream, commands and the removal
 * of a node, and the audit trail. Large device lists and the trail go out in parts so that no
 * single message grows with the fleet. A command or a removal waits for its record in the
 * audit trail to be stored before anything is done. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "coordinator/nodes.h"
#include "coordinator/osds.h"
#include "coordinator/query.h"
#include "proto/codec.h"
#include "proto/link.h"
#include "spec/select.h"
#include "spec/spec.h"

#define REPLY_PART_DEVICES 512
#define REPLY_PART_AUDIT 256
#define REPLY_PART_PLANS 128

struct Query {
        zsock_t *sock;
        Store *store;
        Nodes *nodes;
        Watch *watch;
        Jobs *jobs;
        CoordinatorMetrics *metrics;
        uint64_t dropped[_DROP_MAX];
        Audit *audit;
        Specs *specs;
        zlistx_t *recording;    /* Recording: requests waiting for their audit record */
        bool require_peer;      /* a request without a ZAP User-Id is refused */
        uint64_t refused, last_refusal_log;
};

/* A state-changing request, held until its audit record is stored. */
typedef struct Recording {
        Query *q;
        zframe_t *rid;
        Castle__QueryRequest *req;
        AuditCaller caller;
        ZapPeer peer;
        char *subject;          /* apply: the specs' names, for the record */
        void *handle;           /* in q->recording */
} Recording;

static void recording_free(void **item) {
        Recording *r = *item;

        if (!r)
                return;
        zframe_destroy(&r->rid);
        free(r->subject);
        if (r->req)
                castle__query_request__free_unpacked(r->req, NULL);
        free(r);
        *item = NULL;
}

typedef struct Reply {
        Query *q;
        zframe_t *rid;
        uint64_t request_id;
        Castle__ClusterDevice items[REPLY_PART_DEVICES];
        Castle__ClusterDevice *ptrs[REPLY_PART_DEVICES];
        size_t n;
} Reply;

int query_new(zsock_t *query, Store *store, Nodes *nodes, Watch *watch, Jobs *jobs, CoordinatorMetrics *metrics,
              Query **ret) {
        Query *q = calloc(1, sizeof(Query));

        if (!q)
                return -ENOMEM;
        *q = (Query) { .sock = query, .store = store, .nodes = nodes, .watch = watch, .jobs = jobs,
                       .metrics = metrics };
        q->recording = zlistx_new();
        if (!q->recording) {
                free(q);
                return -ENOMEM;
        }
        zlistx_set_destructor(q->recording, recording_free);
        *ret = q;
        return 0;
}

void query_set_audit(Query *q, Audit *audit) {
        q->audit = audit;
}

void query_set_specs(Query *q, Specs *specs) {
        q->specs = specs;
}

Query *query_free(Query *q) {
        if (!q)
                return NULL;
        zlistx_destroy(&q->recording);
        free(q);
        return NULL;
}

void query_add_drops(const Query *q, uint64_t dropped[static _DROP_MAX]) {
        for (int d = 0; d < _DROP_MAX; d++)
                dropped[d] += q->dropped[d];
}

static void send_reply(Query *q, zframe_t *rid, Castle__QueryReply *r) {
        int k = link_send(q->sock, rid, &r->base);

        if (k < 0)
                log_debug_errno(k, "Failed to answer a query: %m");
}

static void flush_devices(Reply *rp, bool last) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = rp->request_id;
        r.devices = rp->ptrs;
        r.n_devices = rp->n;
        r.last = last;
        send_reply(rp->q, rp->rid, &r);
        for (size_t i = 0; i < rp->n; i++) {
                free(rp->items[i].node_id);
                castle__device__free_unpacked(rp->items[i].device, NULL);
        }
        rp->n = 0;
}

static int add_device(const char *node_id, const uint8_t *data, size_t size, void *userdata) {
        Reply *rp = userdata;
        Castle__ClusterDevice *item = &rp->items[rp->n];
        Castle__Device *d = castle__device__unpack(NULL, size, data);

        if (!d)
                return 0; /* a row we cannot read is skipped, not fatal */
        castle__cluster_device__init(item);
        item->node_id = strdup(node_id);
        if (!item->node_id) {
                castle__device__free_unpacked(d, NULL);
                return -ENOMEM;
        }
        item->device = d;
        rp->ptrs[rp->n++] = item;
        if (rp->n == REPLY_PART_DEVICES)
                flush_devices(rp, false);
        return 0;
}

static void reply_error(Query *q, zframe_t *rid, uint64_t request_id, const char *error) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = request_id;
        r.error = (char *) error;
        r.last = true;
        send_reply(q, rid, &r);
}

static void list_nodes(Query *q, zframe_t *rid, uint64_t request_id) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        Castle__StoreStatus status = CASTLE__STORE_STATUS__INIT;
        StoreHealth health;
        StoreNode *nodes = NULL;
        Castle__NodeInfo *infos;
        Castle__NodeInfo **ptrs;
        size_t n = 0;
        int k;

        k = store_list_nodes(q->store, &nodes, &n);
        if (k < 0) {
                reply_error(q, rid, request_id, "the store could not list nodes");
                return;
        }
        infos = calloc(n ?: 1, sizeof(Castle__NodeInfo));
        ptrs = calloc(n ?: 1, sizeof(Castle__NodeInfo *));
        if (!infos || !ptrs) {
                reply_error(q, rid, request_id, "out of memory");
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                NodeRuntime *rt = nodes_get(q->nodes, nodes[i].node_id);

                nodes_info_fill(&infos[i], &nodes[i]);
                if (rt && rt->labels) {
                        infos[i].labels = rt->labels;
                        infos[i].n_labels = strv_length(rt->labels);
                }
                ptrs[i] = &infos[i];
        }
        /* The store's health goes with every node list, so that a client can say when what it
         * shows is not what the nodes reported. */
        store_get_health(q->store, &health);
        status.error = health.error < 0 ? (char *) strerror(-health.error) : (char *) "";
        status.failing_since_usec = health.failing_since;
        status.failures = health.failures;
        status.unsaved_nodes = (uint32_t) MIN(health.unsaved, (size_t) UINT32_MAX);
        r.store = &status;
        r.request_id = request_id;
        r.nodes = ptrs;
        r.n_nodes = n;
        r.last = true;
        send_reply(q, rid, &r);
finish:
        free(infos);
        free(ptrs);
        store_nodes_free(nodes, n);
}

static void list_devices(Query *q, zframe_t *rid, uint64_t request_id, const Castle__DeviceFilter *f) {
        DeviceQuery dq = DEVICE_QUERY_INIT;
        _cleanup_free_ Reply *rp = calloc(1, sizeof(Reply));
        int k;

        if (!rp) {
                reply_error(q, rid, request_id, "out of memory");
                return;
        }
        *rp = (Reply) { .q = q, .rid = rid, .request_id = request_id };

        dq.node_id = isempty(f->node_id) ? NULL : f->node_id;
        dq.stable_id = isempty(f->stable_id) ? NULL : f->stable_id;
        dq.available = f->available == CASTLE__DEVICE_FILTER__TRI__YES ? 1
                       : f->available == CASTLE__DEVICE_FILTER__TRI__NO ? 0 : -1;
        dq.rotational = f->rotational == CASTLE__DEVICE_FILTER__TRI__YES ? 1
                        : f->rotational == CASTLE__DEVICE_FILTER__TRI__NO ? 0 : -1;
        dq.min_size = f->min_size;
        dq.max_size = f->max_size;
        dq.transport = isempty(f->transport) ? NULL : f->transport;
        dq.model = isempty(f->model) ? NULL : f->model;
        dq.limit = f->limit;
        k = store_query_devices(q->store, &dq, add_device, rp);
        if (k < 0) {
                flush_devices(rp, false);
                reply_error(q, rid, request_id, "the store could not answer");
                return;
        }
        flush_devices(rp, true);
}

typedef struct OsdsReply {
        Query *q;
        zframe_t *rid;
        uint64_t request_id;
} OsdsReply;

static void send_osds(Castle__QueryReply *r, void *userdata) {
        OsdsReply *o = userdata;

        r->request_id = o->request_id;
        send_reply(o->q, o->rid, r);
}

static void list_osds(Query *q, zframe_t *rid, uint64_t request_id, const Castle__OsdList *l) {
        OsdsReply o = { .q = q, .rid = rid, .request_id = request_id };
        int k = osds_answer(q->store, q->nodes, l, send_osds, &o);

        if (k == -ENOENT)
                reply_error(q, rid, request_id, "no such node");
        else if (k < 0)
                reply_error(q, rid, request_id, "out of memory");
}

static void add_watcher(Query *q, zframe_t *rid, uint64_t request_id) {
        int r = watch_subscribe(q->watch, rid, request_id);

        if (r == -EDQUOT) {
                q->dropped[DROP_QUOTA]++;
                reply_error(q, rid, request_id, "too many watches from this client (max-watches-per-client)");
        } else if (r < 0)
                reply_error(q, rid, request_id, r == -EBUSY ? "too many watch clients" : "out of memory");
}

static const char *remove_action(const Castle__RemoveNode *rn) {
        return rn->force ? "node rm --force" : "node rm";
}

/* who: the caller, when the request is in the audit trail (its result goes there too). */
static void remove_node(Query *q, zframe_t *rid, uint64_t request_id, const Castle__RemoveNode *rn,
                        const AuditWho *who) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        char error[256], result[300];
        int k;

        if (!codec_valid_id(rn->node_id)) {
                reply_error(q, rid, request_id, "invalid node id");
                return;
        }
        k = nodes_remove(q->nodes, rn->node_id, rn->force);
        if (k < 0) {
                if (k == -ENOENT)
                        snprintf(error, sizeof error, "no such node");
                else if (k == -EBUSY)
                        snprintf(error, sizeof error,
                                 "node %s is online: stop its agent first, or use --force (it comes back when its "
                                 "agent speaks again)", rn->node_id);
                else
                        snprintf(error, sizeof error, "the store could not remove the node: %s", strerror(-k));
                reply_error(q, rid, request_id, error);
                if (q->audit && who) {
                        snprintf(result, sizeof result, "refused: %s", error);
                        (void) audit_result(q->audit, who, remove_action(rn), rn->node_id, NULL, 0, result);
                }
                return;
        }
        if (q->audit && who)
                (void) audit_result(q->audit, who, remove_action(rn), rn->node_id, NULL, 0, "ok");
        jobs_node_gone(q->jobs, rn->node_id, "the node was removed before the command finished");
        r.request_id = request_id;
        r.last = true;
        send_reply(q, rid, &r);
}

static void list_audit(Query *q, zframe_t *rid, uint64_t request_id, const Castle__AuditQuery *aq) {
        Castle__AuditRecord **records = NULL;
        size_t n = 0, sent = 0;
        int k;

        if (!q->audit) {
                reply_error(q, rid, request_id, "this coordinator keeps no audit trail");
                return;
        }
        k = audit_list(q->audit, aq->since_usec, aq->limit > 0 ? aq->limit : AUDIT_DEFAULT_LIMIT, &records, &n);
        if (k < 0) {
                char error[128];
                snprintf(error, sizeof error, "the audit trail could not be read: %s", strerror(-k));
                reply_error(q, rid, request_id, error);
                return;
        }
        do {
                Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
                size_t part = MIN(n - sent, (size_t) REPLY_PART_AUDIT);

                r.request_id = request_id;
                r.audit = records + sent;
                r.n_audit = part;
                sent += part;
                r.last = sent == n;
                send_reply(q, rid, &r);
        } while (sent < n);
        audit_records_free(records, n);
}

/* who: for the audit trail's result record, NULL without one. */
static void key_unbind(Query *q, zframe_t *rid, uint64_t request_id, const Castle__KeyUnbind *u,
                       const ZapPeer *peer, const AuditWho *who) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        StoreBinding b = {};
        char error[256];
        int k;

        if (isempty(u->key) || strlen(u->key) > ZAP_NAME_MAX || strpbrk(u->key, " \t\n\r")) {
                reply_error(q, rid, request_id, "invalid key: give the key's name or its public key (Z85)");
                return;
        }
        k = store_binding_remove(q->store, u->key, &b);
        if (k < 0) {
                if (k == -ENOENT)
                        snprintf(error, sizeof error, "no agent key of that name or public key is bound to a node");
                else
                        snprintf(error, sizeof error, "the store could not remove the binding: %s", strerror(-k));
                reply_error(q, rid, request_id, error);
                if (who) {
                        char result[300];

                        snprintf(result, sizeof result, "failed: %s", error);
                        (void) audit_result(q->audit, who, "key unbind", NULL, u->key, 0, result);
                }
                return;
        }
        if (who)
                (void) audit_result(q->audit, who, "key unbind", b.node_id, u->key, 0, "ok");
        log_notice("Agent key '%s' (%s) is no longer bound to node %s (key unbind by '%s').", b.name, b.key, b.node_id,
                   peer->name);
        store_binding_done(&b);
        r.request_id = request_id;
        r.last = true;
        send_reply(q, rid, &r);
}

/* ---- OSD specs ---- */

/* Every node's plans for some specs as they are made, and the first that cannot be laid out
 * on a node the spec places. With a client (rid), plans go out in parts of REPLY_PART_PLANS
 * as they come (the client decodes one part while the next is made; memory stays at a
 * part), the specs with the first part; without one, only the error is kept. */
typedef struct Plans {
        Query *q;
        zframe_t *rid;          /* NULL: check only */
        uint64_t request_id;
        Castle__OsdSpec *const *specs;
        size_t n_specs;
        Castle__NodePlan *part[REPLY_PART_PLANS];
        size_t n;
        bool sent;              /* a part went out */
        char *error;
} Plans;

static void plans_clear(Plans *p) {
        for (size_t i = 0; i < p->n; i++)
                spec_node_plan_free(p->part[i]);
        p->n = 0;
}

static void plans_done(Plans *p) {
        plans_clear(p);
        p->error = mfree(p->error);
}

static void plans_send(Plans *p, bool last) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;

        r.request_id = p->request_id;
        if (!p->sent) {
                r.specs = (Castle__OsdSpec **) p->specs;
                r.n_specs = p->n_specs;
        }
        r.plans = p->part;
        r.n_plans = p->n;
        r.last = last;
        send_reply(p->q, p->rid, &r);
        p->sent = true;
        plans_clear(p);
}

static int plans_add(Castle__NodePlan *plan, void *userdata) {
        Plans *p = userdata;

        if (plan->placed && !isempty(plan->error) && !p->error &&
            asprintf(&p->error, "spec %s cannot be applied to node %s (%s): %s", plan->service_id, plan->node_id,
                     plan->hostname, plan->error) < 0)
                p->error = NULL;
        if (!p->rid) {
                spec_node_plan_free(plan);
                return 0;
        }
        p->part[p->n++] = plan;
        if (p->n == REPLY_PART_PLANS)
                plans_send(p, false);
        return 0;
}

/* The last part; with an error, the error instead (what went before is then void). */
static void plans_finish(Plans *p) {
        if (p->error)
                reply_error(p->q, p->rid, p->request_id, p->error);
        else
                plans_send(p, true);
}

/* A SpecApply's YAML, bounded, parsed and planned over the fleet (plans go where plans says):
 * refused (*error set) when it does not parse or a spec cannot be laid out on a node it
 * places. */
static int apply_prepare(Query *q, const Castle__SpecApply *a, SpecList *list, Plans *plans, char **error) {
        size_t len = a->yaml ? strlen(a->yaml) : 0;
        char *why = NULL;
        int r;

        if (len == 0)
                return asprintf(error, "no spec: the YAML is empty") < 0 ? -ENOMEM : -EINVAL;
        if (len > SPEC_YAML_MAX)
                return asprintf(error, "the YAML is %zu bytes; at most %u are accepted", len, SPEC_YAML_MAX) < 0
                               ? -ENOMEM : -E2BIG;
        r = spec_parse(a->yaml, len, list, &why);
        if (r < 0) {
                *error = why ?: strdup("the YAML could not be read");
                return r;
        }
        if (list->n == 0)
                return asprintf(error, "no spec in the YAML") < 0 ? -ENOMEM : -EINVAL;
        plans->specs = list->specs;
        plans->n_specs = list->n;
        r = specs_plan(q->specs, list->specs, list->n, plans_add, plans);
        if (r < 0)
                return asprintf(error, "the store could not be read: %s", strerror(-r)) < 0 ? -ENOMEM : r;
        if (plans->error) {
                *error = TAKE_PTR(plans->error);
                return -EINVAL;
        }
        return 0;
}

/* An apply or a removal waiting for the intent store. */
typedef struct SpecWrite {
        Query *q;
        zframe_t *rid;
        uint64_t request_id;
        AuditCaller caller;
        bool audited;
        const char *action;
        char *subject;          /* the specs' names */
        SpecList list;          /* apply: what is stored, planned again for the answer */
} SpecWrite;

static SpecWrite *spec_write_free(SpecWrite *w) {
        if (!w)
                return NULL;
        zframe_destroy(&w->rid);
        free(w->subject);
        spec_list_done(&w->list);
        free(w);
        return NULL;
}

static void spec_result(Query *q, const AuditWho *who, const char *action, const char *subject, const char *result) {
        if (q->audit && who)
                (void) audit_result(q->audit, who, action, NULL, subject, 0, result);
}

static void on_spec_written(int error, void *userdata) {
        SpecWrite *w = userdata;
        const AuditWho *who = w->audited ? &w->caller.who : NULL;

        if (error < 0) {
                char why[256], result[300];

                snprintf(why, sizeof why, "the intent store could not store it: %s (spec list shows what it holds)",
                         strerror(-error));
                reply_error(w->q, w->rid, w->request_id, why);
                snprintf(result, sizeof result, "failed: %s", why);
                spec_result(w->q, who, w->action, w->subject, result);
        } else {
                Plans p = { .q = w->q, .rid = w->rid, .request_id = w->request_id, .specs = w->list.specs,
                            .n_specs = w->list.n };
                int r;

                log_notice("OSD spec(s) %s: %s by '%s'.", w->subject, w->action, w->caller.who.key_name);
                /* stored: the answer is the plans (what agents now do), whatever they hold */
                r = w->list.n > 0 ? specs_plan(w->q->specs, w->list.specs, w->list.n, plans_add, &p) : 0;
                if (r < 0)
                        log_warning_errno(r, "Cannot plan the specs just stored for the answer: %m");
                plans_send(&p, true);
                plans_done(&p);
                spec_result(w->q, who, w->action, w->subject, "ok");
        }
        spec_write_free(w);
}

static char *spec_names(const SpecList *l) {
        _cleanup_strv_free_ char **names = NULL;

        for (size_t i = 0; i < l->n; i++)
                if (strv_extend(&names, l->specs[i]->service_id) < 0)
                        return NULL;
        return strv_join(names, ",");
}

/* who: the caller, NULL when there is no audit trail; caller names the key in applied_by. */
static void spec_apply(Query *q, zframe_t *rid, uint64_t request_id, const Castle__SpecApply *a, const ZapPeer *peer,
                       const AuditWho *who) {
        _cleanup_free_ char *error = NULL;
        Plans plans;
        SpecWrite *w;
        int r;

        w = calloc(1, sizeof(SpecWrite));
        if (!w || !(w->rid = zframe_dup(rid))) {
                free(w);
                reply_error(q, rid, request_id, "out of memory");
                return;
        }
        w->q = q;
        w->request_id = request_id;
        w->action = "spec apply";
        audit_caller_set(&w->caller, who ?: &(AuditWho) { .key_name = peer->name, .role = "", .key_fingerprint = "" });
        w->audited = who;
        /* a dry run's plans go out as they are made; an apply's are checked only, and made
         * again once it is stored */
        plans = (Plans) { .q = q, .rid = a->dry_run ? rid : NULL, .request_id = request_id };
        r = apply_prepare(q, a, &w->list, &plans, &error);
        if (r < 0) {
                char result[1024];

                reply_error(q, rid, request_id, error ?: "out of memory");
                snprintf(result, sizeof result, "refused: %s", strempty(error));
                spec_result(q, who, w->action, NULL, result);
                plans_done(&plans);
                spec_write_free(w);
                return;
        }
        if (a->dry_run) {
                plans_finish(&plans);
                plans_done(&plans);
                spec_write_free(w);
                return;
        }
        plans_done(&plans);
        w->subject = spec_names(&w->list);
        r = specs_apply(q->specs, w->list.specs, w->list.n, w->caller.who.key_name, on_spec_written, w);
        if (r < 0) {
                char why[256], result[300];

                if (r == -E2BIG)
                        snprintf(why, sizeof why, "a spec is larger than the intent store keeps in one value (%d bytes "
                                 "packed, with its YAML)", INTENT_MAX_VALUE);
                else if (r == -ENOSPC)
                        snprintf(why, sizeof why, "more than %d specs would be stored", SPECS_MAX);
                else
                        snprintf(why, sizeof why, "the intent store cannot take it: %s; nothing was stored",
                                 strerror(-r));
                reply_error(q, rid, request_id, why);
                snprintf(result, sizeof result, "refused: %s", why);
                spec_result(q, who, w->action, w->subject, result);
                spec_write_free(w);
        }
}

static void spec_remove(Query *q, zframe_t *rid, uint64_t request_id, const Castle__SpecRemove *rm, const ZapPeer *peer,
                        const AuditWho *who) {
        SpecWrite *w;
        char why[300], result[400];
        int r;

        w = calloc(1, sizeof(SpecWrite));
        if (!w || !(w->rid = zframe_dup(rid)) || !(w->subject = strdup(strempty(rm->service_id)))) {
                spec_write_free(w);
                reply_error(q, rid, request_id, "out of memory");
                return;
        }
        w->q = q;
        w->request_id = request_id;
        w->action = "spec rm";
        audit_caller_set(&w->caller, who ?: &(AuditWho) { .key_name = peer->name, .role = "", .key_fingerprint = "" });
        w->audited = who;
        r = specs_remove(q->specs, strempty(rm->service_id), on_spec_written, w);
        if (r < 0) {
                if (r == -ENOENT)
                        snprintf(why, sizeof why, "no spec named '%s'", strempty(rm->service_id));
                else
                        snprintf(why, sizeof why, "the intent store cannot take it: %s; nothing was removed",
                                 strerror(-r));
                reply_error(q, rid, request_id, why);
                snprintf(result, sizeof result, "refused: %s", why);
                spec_result(q, who, w->action, w->subject, result);
                spec_write_free(w);
        }
}

/* The stored specs (or the one named) and their plans: for the list and for plan. */
static void spec_plans(Query *q, zframe_t *rid, uint64_t request_id, const char *service_id) {
        Castle__OsdSpec *one[1];
        Plans plans = { .q = q, .rid = rid, .request_id = request_id };
        int r;

        plans.specs = specs_all(q->specs, &plans.n_specs);
        if (!isempty(service_id)) {
                one[0] = (Castle__OsdSpec *) specs_find(q->specs, service_id);
                if (!one[0]) {
                        char why[300];

                        snprintf(why, sizeof why, "no spec named '%s'", service_id);
                        reply_error(q, rid, request_id, why);
                        return;
                }
                plans.specs = one;
                plans.n_specs = 1;
        }
        r = plans.n_specs > 0 ? specs_plan(q->specs, plans.specs, plans.n_specs, plans_add, &plans) : 0;
        if (r < 0) {
                char why[128];

                snprintf(why, sizeof why, "the store could not be read: %s", strerror(-r));
                reply_error(q, rid, request_id, why);
        } else
                plans_send(&plans, true); /* a stored spec in error is shown, not refused */
        plans_done(&plans);
}

/* An apply that would be refused anyway is answered now, before it is recorded. */
static bool apply_checks(Query *q, zframe_t *rid, const Castle__QueryRequest *req, char **ret_names) {
        _cleanup_free_ char *error = NULL;
        SpecList list = {};
        Plans plans = {};
        int r;

        plans.q = q;
        r = apply_prepare(q, req->apply, &list, &plans, &error);
        if (r >= 0)
                *ret_names = spec_names(&list);
        spec_list_done(&list);
        plans_done(&plans);
        if (r < 0)
                reply_error(q, rid, req->request_id, error ?: "out of memory");
        return r >= 0;
}

/* What a state-changing request is, for its audit record. */
static void request_what(const Castle__QueryRequest *req, const char *subject, const char **ret_action,
                         const char **ret_node, const char **ret_device, uint64_t *ret_command_id) {
        if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_COMMAND) {
                *ret_action = audit_command_action(req->command->command);
                *ret_node = req->command->node_id;
                *ret_device = audit_command_device(req->command->command);
                *ret_command_id = req->command->command->command_id;
        } else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_APPLY) {
                *ret_action = "spec apply";
                *ret_node = NULL;
                *ret_device = subject; /* the specs' names */
                *ret_command_id = 0;
        } else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_SPEC_RM) {
                *ret_action = "spec rm";
                *ret_node = NULL;
                *ret_device = req->spec_rm->service_id;
                *ret_command_id = 0;
        } else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_UNBIND) {
                *ret_action = "key unbind";
                *ret_node = NULL;
                *ret_device = req->unbind->key; /* the key's name or public key: no secret */
                *ret_command_id = 0;
        } else {
                *ret_action = remove_action(req->remove_node);
                *ret_node = req->remove_node->node_id;
                *ret_device = NULL;
                *ret_command_id = 0;
        }
}

/* The request's record is stored (error 0): act on it now; or it is not: refuse it. */
static void on_recorded(int error, void *userdata) {
        Recording *rec = userdata;
        Query *q = rec->q;
        Castle__QueryRequest *req = rec->req;

        if (error < 0) {
                const char *action, *node_id, *device;
                uint64_t command_id;
                char why[256], result[300];

                snprintf(why, sizeof why, "the intent store cannot record the request: %s; nothing was done",
                         strerror(-error));
                reply_error(q, rec->rid, req->request_id, why);
                request_what(req, rec->subject, &action, &node_id, &device, &command_id);
                snprintf(result, sizeof result, "refused: %s", why);
                (void) audit_result(q->audit, &rec->caller.who, action, node_id, device, command_id, result);
        } else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_COMMAND)
                jobs_submit_as(q->jobs, rec->rid, req->request_id, req->command, &rec->caller.who);
        else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_UNBIND)
                key_unbind(q, rec->rid, req->request_id, req->unbind, &rec->peer, &rec->caller.who);
        else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_APPLY)
                spec_apply(q, rec->rid, req->request_id, req->apply, &rec->peer, &rec->caller.who);
        else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_SPEC_RM)
                spec_remove(q, rec->rid, req->request_id, req->spec_rm, &rec->peer, &rec->caller.who);
        else
                remove_node(q, rec->rid, req->request_id, req->remove_node, &rec->caller.who);
        zlistx_delete(q->recording, rec->handle);
}

/* Records a state-changing request and holds it until the record is stored. Returns true when
 * it took req over; false when it answered the request with an error and req stays the
 * caller's. */
static bool record_request(Query *q, zframe_t *rid, Castle__QueryRequest *req, const ZapPeer *peer,
                           char *subject) {
        const char *action, *node_id, *device;
        uint64_t command_id;
        Recording *rec;
        int k;

        /* what would be refused anyway, before anything is recorded */
        if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE && !codec_valid_id(req->remove_node->node_id)) {
                free(subject);
                reply_error(q, rid, req->request_id, "invalid node id");
                return false;
        }
        rec = calloc(1, sizeof(Recording));
        if (!rec || !(rec->rid = zframe_dup(rid))) {
                free(rec);
                free(subject);
                reply_error(q, rid, req->request_id, "out of memory");
                return false;
        }
        audit_caller_set(&rec->caller, &(AuditWho) { .role = zap_role_to_string(peer->role), .key_name = peer->name,
                                                     .key_fingerprint = streq(peer->fingerprint, "-") ? "" : peer->fingerprint });
        rec->peer = *peer;
        rec->subject = subject;
        rec->q = q;
        rec->req = req;
        rec->handle = zlistx_add_end(q->recording, rec);
        request_what(req, rec->subject, &action, &node_id, &device, &command_id);
        k = audit_request(q->audit, &rec->caller.who, action, node_id, device, command_id, on_recorded, rec);
        if (k < 0) {
                char why[256];

                snprintf(why, sizeof why, "the intent store cannot record the request: %s; nothing was done",
                         strerror(-k));
                reply_error(q, rid, req->request_id, why);
                rec->req = NULL;
                zlistx_delete(q->recording, rec->handle);
                return false;
        }
        return true;
}

void query_set_require_peer(Query *q, bool require) {
        q->require_peer = require;
}

ZapRole query_required_role(Castle__QueryRequest__KindCase kind) {
        switch (kind) {
        case CASTLE__QUERY_REQUEST__KIND_NODES:
        case CASTLE__QUERY_REQUEST__KIND_DEVICES:
        case CASTLE__QUERY_REQUEST__KIND_WATCH:
        case CASTLE__QUERY_REQUEST__KIND_SPECS:
        case CASTLE__QUERY_REQUEST__KIND_PLAN:
        case CASTLE__QUERY_REQUEST__KIND_OSDS:
                return ZAP_ROLE_VIEWER;
        case CASTLE__QUERY_REQUEST__KIND_APPLY:
        case CASTLE__QUERY_REQUEST__KIND_SPEC_RM:
        case CASTLE__QUERY_REQUEST__KIND_COMMAND:
        case CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE:
        case CASTLE__QUERY_REQUEST__KIND_AUDIT: /* who did what is not for dashboards */
                return ZAP_ROLE_OPERATOR;
        default: /* key unbind, and whatever is added later until it says otherwise */
                return ZAP_ROLE_ADMIN;
        }
}

/* Whether peer may make a request of this kind; if not, it is answered with the error and
 * the role it needs, counted, and logged at most once a second. */
static bool permitted(Query *q, zframe_t *rid, const Castle__QueryRequest *req, const ZapPeer *peer) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        /* a dry run changes nothing: a preview, like plan */
        ZapRole need = req->kind_case == CASTLE__QUERY_REQUEST__KIND_APPLY && req->apply->dry_run
                               ? ZAP_ROLE_VIEWER
                               : query_required_role(req->kind_case);
        const char *kind = codec_oneof_name(&castle__query_request__descriptor, (int) req->kind_case) ?: "?";
        char error[256];
        uint64_t now;

        if (peer->role >= need && peer->role != ZAP_ROLE_AGENT)
                return true;
        if (peer->role == ZAP_ROLE_NONE)
                snprintf(error, sizeof error, "this request needs the %s role; this client is not authenticated",
                         zap_role_to_string(need));
        else
                snprintf(error, sizeof error, "this request needs the %s role; key '%s' has the %s role",
                         zap_role_to_string(need), peer->name, zap_role_to_string(peer->role));
        q->refused++;
        coordinator_metrics_refused(q->metrics, zap_role_to_string(peer->role), zap_role_to_string(need));
        now = now_usec();
        if (now - q->last_refusal_log >= USEC_PER_SEC) {
                q->last_refusal_log = now;
                log_notice("Refused a request (%s) from key '%s' (%s): it needs the %s role, the key has the %s role; "
                           "%" PRIu64 " refused so far.",
                           kind, peer->name, peer->fingerprint, zap_role_to_string(need),
                           zap_role_to_string(peer->role), q->refused);
        }
        r.request_id = req->request_id;
        r.error = error;
        r.required_role = (char *) zap_role_to_string(need);
        r.last = true;
        send_reply(q, rid, &r);
        return false;
}


int query_message(Query *q, zmsg_t *msg) {
        zframe_t *payload = zmsg_size(msg) == 2 ? zmsg_last(msg) : NULL;

        return query_message_as(q, msg, payload ? zframe_meta(payload, "User-Id") : NULL);
}

int query_message_as(Query *q, zmsg_t *msg, const char *user_id) {
        Castle__QueryRequest *req = NULL;
        zframe_t *rid, *payload;
        ZapPeer peer = {};
        int r;

        if (zmsg_size(msg) != 2) {
                q->dropped[DROP_FRAMING]++;
                coordinator_metrics_query(q->metrics, CASTLE__QUERY_REQUEST__KIND__NOT_SET, true);
                return 0;
        }
        rid = zmsg_first(msg);
        payload = zmsg_next(msg);
        r = codec_query_request_unpack(zframe_data(payload), zframe_size(payload), &req);
        coordinator_metrics_query(q->metrics, r < 0 ? CASTLE__QUERY_REQUEST__KIND__NOT_SET : req->kind_case, r < 0);
        if (r < 0) {
                q->dropped[r == -EPROTO ? DROP_VERSION : DROP_DECODE]++;
                reply_error(q, rid, 0, r == -EPROTO ? "unsupported protocol version" : "malformed request");
                return 0;
        }
        /* Without a User-Id the socket has no ZAP handler: that is a test's inproc socket, or a
         * coordinator that requires none (require_peer unset), whose clients may do anything. */
        if (user_id ? zap_peer_parse(user_id, &peer) < 0 : q->require_peer)
                peer = (ZapPeer) { .role = ZAP_ROLE_NONE, .name = "?", .fingerprint = "-" };
        else if (!user_id)
                peer = (ZapPeer) { .role = ZAP_ROLE_ADMIN, .name = "unauthenticated", .fingerprint = "-" };
        if (!permitted(q, rid, req, &peer)) {
                castle__query_request__free_unpacked(req, NULL);
                return 0;
        }
        switch (req->kind_case) {
        case CASTLE__QUERY_REQUEST__KIND_NODES:
                list_nodes(q, rid, req->request_id);
                break;
        case CASTLE__QUERY_REQUEST__KIND_DEVICES:
                list_devices(q, rid, req->request_id, req->devices);
                break;
        case CASTLE__QUERY_REQUEST__KIND_WATCH:
                add_watcher(q, rid, req->request_id);
                break;
        case CASTLE__QUERY_REQUEST__KIND_COMMAND:
                if (q->audit) {
                        if (record_request(q, rid, req, &peer, NULL))
                                req = NULL; /* acted on once recorded */
                } else
                        jobs_submit(q->jobs, rid, req->request_id, req->command);
                break;
        case CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE:
                if (q->audit) {
                        if (record_request(q, rid, req, &peer, NULL))
                                req = NULL;
                } else
                        remove_node(q, rid, req->request_id, req->remove_node, NULL);
                break;
        case CASTLE__QUERY_REQUEST__KIND_OSDS:
                list_osds(q, rid, req->request_id, req->osds);
                break;
        case CASTLE__QUERY_REQUEST__KIND_AUDIT:
                list_audit(q, rid, req->request_id, req->audit);
                break;
        case CASTLE__QUERY_REQUEST__KIND_UNBIND:
                if (q->audit) {
                        if (record_request(q, rid, req, &peer, NULL))
                                req = NULL;
                } else
                        key_unbind(q, rid, req->request_id, req->unbind, &peer, NULL);
                break;
        case CASTLE__QUERY_REQUEST__KIND_APPLY:
        case CASTLE__QUERY_REQUEST__KIND_SPEC_RM:
                if (!q->specs)
                        reply_error(q, rid, req->request_id, "this coordinator keeps no OSD specs");
                else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_APPLY && req->apply->dry_run)
                        spec_apply(q, rid, req->request_id, req->apply, &peer, NULL); /* changes nothing */
                else if (q->audit) {
                        char *names = NULL;

                        /* bad input is answered before anything is recorded */
                        if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_APPLY &&
                            !apply_checks(q, rid, req, &names))
                                break;
                        if (record_request(q, rid, req, &peer, names))
                                req = NULL;
                } else if (req->kind_case == CASTLE__QUERY_REQUEST__KIND_APPLY)
                        spec_apply(q, rid, req->request_id, req->apply, &peer, NULL);
                else
                        spec_remove(q, rid, req->request_id, req->spec_rm, &peer, NULL);
                break;
        case CASTLE__QUERY_REQUEST__KIND_SPECS:
        case CASTLE__QUERY_REQUEST__KIND_PLAN:
                if (!q->specs)
                        reply_error(q, rid, req->request_id, "this coordinator keeps no OSD specs");
                else
                        spec_plans(q, rid, req->request_id,
                                   req->kind_case == CASTLE__QUERY_REQUEST__KIND_PLAN ? req->plan->service_id : NULL);
                break;
        default:
                reply_error(q, rid, req->request_id, "unknown request");
        }
        if (req)
                castle__query_request__free_unpacked(req, NULL);
        return 0;
}
