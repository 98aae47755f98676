/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The applied OSD specs: the intent store holds them ("spec/<service_id>", "spec-revision"),
 * this module holds a copy in memory that is read again after every change here and every
 * change another coordinator made (the intent follower's hook), and hands each online agent
 * the specs that place its node. A SpecSet goes out with command id 0: it is no client's
 * command, expects no JobUpdate, and stays out of the agents' run-once table (which skips id
 * 0), so that every set sent is applied (the agent keeps the highest revision). */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "coordinator/specs.h"
#include "proto/codec.h"
#include "proto/link.h"
#include "spec/select.h"
#include "spec/spec.h"

#define SPEC_KEY_PREFIX "spec/"
#define SPEC_REVISION_KEY "spec-revision"

struct Specs {
        Intent *intent;
        Store *store;
        Nodes *nodes;
        zsock_t *agents;
        Castle__OsdSpec **specs;        /* by service_id */
        size_t n_specs;
        int64_t revision;
};

static void specs_clear(Castle__OsdSpec **specs, size_t n) {
        for (size_t i = 0; i < n; i++)
                castle__osd_spec__free_unpacked(specs[i], NULL);
        free(specs);
}

int specs_new(Intent *intent, Store *store, Nodes *nodes, zsock_t *agents, Specs **ret) {
        Specs *s = calloc(1, sizeof(Specs));
        int r;

        if (!s)
                return -ENOMEM;
        *s = (Specs) { .intent = intent, .store = store, .nodes = nodes, .agents = agents };
        r = specs_load(s);
        if (r < 0) {
                specs_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Specs *specs_free(Specs *s) {
        if (!s)
                return NULL;
        specs_clear(s->specs, s->n_specs);
        free(s);
        return NULL;
}

int64_t specs_revision(const Specs *s) {
        return s->revision;
}

Castle__OsdSpec *const *specs_all(const Specs *s, size_t *ret_n) {
        *ret_n = s->n_specs;
        return s->specs;
}

const Castle__OsdSpec *specs_find(const Specs *s, const char *service_id) {
        for (size_t i = 0; i < s->n_specs; i++)
                if (streq(s->specs[i]->service_id, service_id))
                        return s->specs[i];
        return NULL;
}

static int read_revision(Specs *s, int64_t *ret) {
        _cleanup_free_ void *v = NULL;
        char text[32];
        size_t n = 0;
        int r;

        r = intent_get(s->intent, SPEC_REVISION_KEY, &v, &n);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return r;
        if (n == 0 || n >= sizeof text)
                return -EBADMSG;
        memcpy(text, v, n);
        text[n] = 0;
        if (sscanf(text, "%" SCNd64, ret) != 1)
                return -EBADMSG;
        return 0;
}

typedef struct LoadCtx {
        Castle__OsdSpec **specs;
        size_t n;
        int64_t newest;
} LoadCtx;

static int load_one(const char *key, const void *value, size_t size, void *userdata) {
        LoadCtx *c = userdata;
        Castle__OsdSpec *spec, **grown;

        /* a value this version cannot read (another coordinator's newer one) is passed over */
        spec = castle__osd_spec__unpack(NULL, size, value);
        if (!spec || !streq(spec->service_id, key + strlen(SPEC_KEY_PREFIX))) {
                log_warning("Intent: %s does not hold an OSD spec this coordinator can read; ignored.", key);
                if (spec)
                        castle__osd_spec__free_unpacked(spec, NULL);
                return 0;
        }
        if (c->n >= SPECS_MAX) {
                castle__osd_spec__free_unpacked(spec, NULL);
                return 0;
        }
        grown = reallocarray(c->specs, c->n + 1, sizeof *c->specs);
        if (!grown) {
                castle__osd_spec__free_unpacked(spec, NULL);
                return -ENOMEM;
        }
        c->specs = grown;
        c->specs[c->n++] = spec;
        c->newest = MAX(c->newest, spec->applied_usec);
        return 0;
}

static const char *const empty_strv[] = { NULL };

/* The set for node n (its specs borrowed from s), packed with revision 0 so that two sets can
 * be compared. */
static int node_set(Specs *s, const NodeRuntime *n, Castle__SpecSet *set, uint8_t **ret, size_t *ret_size) {
        castle__spec_set__init(set);
        set->specs = calloc(MAX(s->n_specs, (size_t) 1), sizeof(Castle__OsdSpec *));
        if (!set->specs)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_specs; i++)
                if (spec_places(s->specs[i], strempty(n->hostname), n->labels ?: (char **) empty_strv))
                        set->specs[set->n_specs++] = s->specs[i];
        return codec_pack(&set->base, ret, ret_size);
}

/* Sends n its set when it differs from the last one sent (always with force). */
static void push_node(Specs *s, NodeRuntime *n, bool force) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__SpecSet set;
        _cleanup_free_ uint8_t *packed = NULL;
        size_t size = 0;
        int r;

        if (!s->agents || !n->routing_id || n->state != NODE_ONLINE || !n->hostname)
                return;
        r = node_set(s, n, &set, &packed, &size);
        if (r < 0) {
                free(set.specs);
                log_warning_errno(r, "Node %s: cannot make its OSD spec set: %m", n->node_id);
                return;
        }
        if (!force && n->specs_sent && n->specs_sent_size == size && memcmp(n->specs_sent, packed, size) == 0) {
                free(set.specs);
                return;
        }
        set.revision = s->revision;
        cmd.command_id = 0; /* not a client's command: see the top of this file */
        cmd.kind_case = CASTLE__COMMAND__KIND_SPECS;
        cmd.specs = &set;
        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_COMMAND;
        e.command = &cmd;
        r = link_send(s->agents, n->routing_id, &e.base);
        if (r < 0)
                log_warning_errno(r, "Node %s: cannot send its OSD specs: %m", n->node_id);
        else {
                log_info("Node %s: sent its %zu OSD spec(s), revision %" PRId64 ".", n->node_id, set.n_specs,
                         s->revision);
                free(n->specs_sent);
                n->specs_sent = TAKE_PTR(packed);
                n->specs_sent_size = size;
        }
        free(set.specs);
}

void specs_node_hello(Specs *s, NodeRuntime *n) {
        push_node(s, n, true);
}

static int spec_compare(const void *a, const void *b) {
        return strcmp((*(Castle__OsdSpec *const *) a)->service_id, (*(Castle__OsdSpec *const *) b)->service_id);
}

int specs_load(Specs *s) {
        LoadCtx c = {};
        int64_t revision;
        int r;

        r = read_revision(s, &revision);
        if (r < 0)
                log_warning_errno(r, "Intent: cannot read %s: %m; taking the newest spec's time.", SPEC_REVISION_KEY);
        r = intent_list(s->intent, SPEC_KEY_PREFIX, load_one, &c);
        if (r < 0) {
                specs_clear(c.specs, c.n);
                return log_error_errno(r, "Cannot read the OSD specs from the intent store: %m");
        }
        if (c.n > 0)
                qsort(c.specs, c.n, sizeof *c.specs, spec_compare);
        specs_clear(s->specs, s->n_specs);
        s->specs = c.specs;
        s->n_specs = c.n;
        s->revision = MAX(revision, c.newest);
        for (NodeRuntime *n = nodes_next(s->nodes, NULL); n; n = nodes_next(s->nodes, n))
                push_node(s, n, false);
        return 0;
}

void specs_followed(void *userdata) {
        Specs *s = userdata;
        int64_t revision = 0;

        if (read_revision(s, &revision) < 0 || revision == s->revision)
                return;
        log_info("OSD specs changed through another coordinator (revision %" PRId64 "): reading them again.",
                 revision);
        (void) specs_load(s);
}

/* Writes in flight for one apply or removal: done once all are. */
typedef struct Writes {
        Specs *s;
        size_t pending;
        int error;
        IntentDoneFn done;
        void *userdata;
} Writes;

static void on_written(int error, void *userdata) {
        Writes *w = userdata;

        if (error < 0 && w->error == 0)
                w->error = error;
        if (--w->pending > 0)
                return;
        /* what is durable now (all of it, or as much as got through) is what the agents get */
        (void) specs_load(w->s);
        if (w->done)
                w->done(w->error, w->userdata);
        free(w);
}

static int64_t next_revision(Specs *s) {
        return MAX(now_realtime_usec(), s->revision + 1);
}

/* Queues the pairs; their completions end w. */
static int write_all(Specs *s, const char *const *keys, uint8_t *const *values, const size_t *sizes, size_t n,
                     int64_t revision, IntentDoneFn done, void *userdata) {
        char text[32];
        Writes *w;
        int r;

        w = calloc(1, sizeof(Writes));
        if (!w)
                return -ENOMEM;
        *w = (Writes) { .s = s, .done = done, .userdata = userdata };
        snprintf(text, sizeof text, "%" PRId64, revision);
        for (size_t i = 0; i <= n; i++) {
                if (i < n)
                        r = intent_put(s->intent, keys[i], values[i], sizes[i], on_written, w);
                else /* the revision last: a follower that sees it has the specs before it */
                        r = intent_put(s->intent, SPEC_REVISION_KEY, text, strlen(text), on_written, w);
                if (r < 0) {
                        if (w->pending == 0) {
                                free(w);
                                return r;
                        }
                        /* the queued ones complete; the caller hears of the failure then */
                        w->error = r;
                        return 0;
                }
                w->pending++;
        }
        return 0;
}

int specs_apply(Specs *s, Castle__OsdSpec *const *specs, size_t n, const char *applied_by, IntentDoneFn done,
                void *userdata) {
        _cleanup_free_ char **keys = calloc(MAX(n, (size_t) 1), sizeof(char *));
        _cleanup_free_ uint8_t **values = calloc(MAX(n, (size_t) 1), sizeof(uint8_t *));
        _cleanup_free_ size_t *sizes = calloc(MAX(n, (size_t) 1), sizeof(size_t));
        int64_t revision = next_revision(s);
        size_t added = 0;
        int r = 0;

        if (!keys || !values || !sizes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!specs_find(s, specs[i]->service_id))
                        added++;
        if (s->n_specs + added > SPECS_MAX)
                return -ENOSPC;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                Castle__OsdSpec copy = *specs[i];

                copy.applied_usec = revision;
                copy.applied_by = (char *) strempty(applied_by);
                if (asprintf(&keys[i], SPEC_KEY_PREFIX "%s", specs[i]->service_id) < 0) {
                        keys[i] = NULL;
                        r = -ENOMEM;
                } else
                        r = codec_pack(&copy.base, &values[i], &sizes[i]);
                if (r >= 0 && sizes[i] > INTENT_MAX_VALUE)
                        r = -E2BIG;
        }
        if (r >= 0)
                r = write_all(s, (const char *const *) keys, values, sizes, n, revision, done, userdata);
        for (size_t i = 0; i < n; i++) {
                free(keys[i]);
                free(values[i]);
        }
        return r;
}

int specs_remove(Specs *s, const char *service_id, IntentDoneFn done, void *userdata) {
        _cleanup_free_ char *key = NULL;

        if (!specs_find(s, service_id))
                return -ENOENT;
        if (asprintf(&key, SPEC_KEY_PREFIX "%s", service_id) < 0)
                return -ENOMEM;
        return write_all(s, (const char *const *) &key, (uint8_t *[]) { NULL }, (size_t[]) { 0 }, 1,
                         next_revision(s), done, userdata);
}

/* ---- The preview ---- */

typedef struct PlanWalk {
        Specs *s;
        Castle__OsdSpec *const *specs;
        size_t n_specs;
        SpecsPlanFn fn;
        void *userdata;
        StoreNode *nodes;       /* sorted by node id */
        size_t n_nodes, next;   /* next: the first node not planned yet */
        char *node_id;          /* whose devices are being gathered; NULL: none */
        Castle__Device **devices;
        size_t n_devices, allocated;
} PlanWalk;

static int node_compare(const void *a, const void *b) {
        return strcmp(((const StoreNode *) a)->node_id, ((const StoreNode *) b)->node_id);
}

static int plan_one_node(PlanWalk *w, const char *node_id, const char *hostname) {
        NodeRuntime *rt = nodes_get(w->s->nodes, node_id);
        char *const *labels = rt && rt->labels ? rt->labels : (char *const *) empty_strv;

        for (size_t i = 0; i < w->n_specs; i++) {
                Castle__NodePlan *plan = NULL;
                int r;

                r = spec_plan_node(w->specs[i], node_id, hostname, labels, w->devices, w->n_devices, &plan);
                if (r < 0)
                        return r;
                r = w->fn(plan, w->userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void gathered_clear(PlanWalk *w) {
        for (size_t i = 0; i < w->n_devices; i++)
                castle__device__free_unpacked(w->devices[i], NULL);
        w->n_devices = 0;
        w->node_id = mfree(w->node_id);
}

/* The nodes after the last one with devices: planned with none. */
static int plan_rest(PlanWalk *w) {
        assert(!w->node_id && w->n_devices == 0);
        while (w->next < w->n_nodes) {
                const StoreNode *sn = &w->nodes[w->next++];
                int r = plan_one_node(w, sn->node_id, strempty(sn->hostname));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The gathered node is complete: plan it (and the device-less nodes before it). */
static int flush_node(PlanWalk *w) {
        int r = 0;

        if (!w->node_id)
                return 0;
        /* every node before it and itself: the nodes' order is the devices' order */
        while (w->next < w->n_nodes && strcmp(w->nodes[w->next].node_id, w->node_id) <= 0) {
                const StoreNode *sn = &w->nodes[w->next++];
                size_t keep = w->n_devices;

                if (!streq(sn->node_id, w->node_id))
                        w->n_devices = 0;
                r = plan_one_node(w, sn->node_id, strempty(sn->hostname));
                w->n_devices = keep;
                if (r < 0)
                        break;
        }
        gathered_clear(w);
        return r;
}

static int gather_device(const char *node_id, const uint8_t *data, size_t size, void *userdata) {
        PlanWalk *w = userdata;
        Castle__Device *d;
        int r;

        if (!w->node_id || !streq(w->node_id, node_id)) {
                r = flush_node(w);
                if (r < 0)
                        return r;
                w->node_id = strdup(node_id);
                if (!w->node_id)
                        return -ENOMEM;
        }
        d = castle__device__unpack(NULL, size, data);
        if (!d)
                return 0; /* a row that cannot be read is left out, as in the device list */
        if (w->n_devices == w->allocated) {
                size_t k = MAX(w->allocated * 2, (size_t) 32);
                Castle__Device **grown = reallocarray(w->devices, k, sizeof *grown);
                if (!grown) {
                        castle__device__free_unpacked(d, NULL);
                        return -ENOMEM;
                }
                w->devices = grown;
                w->allocated = k;
        }
        w->devices[w->n_devices++] = d;
        return 0;
}

int specs_plan(Specs *s, Castle__OsdSpec *const *specs, size_t n, SpecsPlanFn fn, void *userdata) {
        PlanWalk w = { .s = s, .specs = specs, .n_specs = n, .fn = fn, .userdata = userdata };
        DeviceQuery dq = DEVICE_QUERY_INIT;
        int r;

        r = store_list_nodes(s->store, &w.nodes, &w.n_nodes);
        if (r < 0)
                return r;
        if (w.n_nodes > 0)
                qsort(w.nodes, w.n_nodes, sizeof *w.nodes, node_compare);
        r = store_query_devices(s->store, &dq, gather_device, &w);
        if (r >= 0)
                r = flush_node(&w);
        if (r >= 0)
                r = plan_rest(&w);
        gathered_clear(&w);
        free(w.devices);
        store_nodes_free(w.nodes, w.n_nodes);
        return r;
}
