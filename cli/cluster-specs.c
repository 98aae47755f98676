/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster apply, specs, spec rm and plan: OSD specs through the coordinator. The
 * coordinator parses the YAML (castlectl only reads the file and bounds it) and answers with
 * every node's plan; this file prints the plans, grouped by spec and node, with the devices
 * not taken and why, and a summary line per spec. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cluster.h"
#include "cli/table.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/size.h"
#include "common/strv.h"
#include "proto/codec.h"
#include "spec/spec.h"

char *cluster_join(char *const *items, size_t n, const char *sep) {
        size_t len = 1, k = strlen(sep);
        char *r, *p;

        for (size_t i = 0; i < n; i++)
                len += strlen(items[i]) + k;
        r = p = malloc(len);
        if (!r)
                return NULL;
        *p = 0;
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        p = stpcpy(p, sep);
                p = stpcpy(p, items[i]);
        }
        return r;
}

/* The replies to one spec request, all from one coordinator. */
typedef struct SpecReplies {
        Castle__QueryRequest__KindCase kind;
        void *body;
        Castle__QueryReply **replies;
        size_t n_replies;
} SpecReplies;

static int send_spec_request(zsock_t *s, uint64_t request_id, void *userdata) {
        SpecReplies *q = userdata;

        return cluster_query_send(s, request_id, q->kind, q->body);
}

static int reply_spec(Castle__QueryReply *rep, void *userdata) {
        SpecReplies *q = userdata;

        return cluster_keep_reply(&q->replies, &q->n_replies, rep);
}

static void restart_spec(void *userdata) {
        SpecReplies *q = userdata;

        cluster_free_replies(&q->replies, &q->n_replies);
}

/* A plan over the whole fleet takes the coordinator a moment: at least this long. */
#define SPEC_MIN_TIMEOUT_USEC (30 * USEC_PER_SEC)

static int spec_exchange(ClusterArgs *a, SpecReplies *q, bool query) {
        return cluster_exchange(a, &(ClusterExchange) { .what = query ? "query" : "request", .hedge = query,
                                                       .silence_usec = MAX(a->timeout_usec, SPEC_MIN_TIMEOUT_USEC),
                                                       .send = send_spec_request, .reply = reply_spec,
                                                       .restart = restart_spec, .userdata = q });
}

static const char *size_text(uint64_t bytes, char *buf, size_t n) {
        return bytes > 0 ? format_size(bytes, buf, n) : "-";
}

/* Per spec: what its plans add up to. */
typedef struct SpecSum {
        const char *service_id;
        size_t nodes, placed, errors, to_make, existing, not_taken;
} SpecSum;

static SpecSum *sum_of(SpecSum *sums, size_t *n, const char *service_id) {
        for (size_t i = 0; i < *n; i++)
                if (streq(sums[i].service_id, service_id))
                        return &sums[i];
        sums[*n] = (SpecSum) { .service_id = service_id };
        return &sums[(*n)++];
}

static const Castle__OsdSpec *spec_of(const SpecReplies *q, const char *service_id) {
        for (size_t i = 0; i < q->n_replies; i++)
                for (size_t k = 0; k < q->replies[i]->n_specs; k++)
                        if (streq(q->replies[i]->specs[k]->service_id, service_id))
                                return q->replies[i]->specs[k];
        return NULL;
}

static size_t n_plans(const SpecReplies *q) {
        size_t n = 0;

        for (size_t i = 0; i < q->n_replies; i++)
                n += q->replies[i]->n_plans;
        return n;
}

/* The sums of every spec named in the specs or the plans, in that order. */
static SpecSum *sum_plans(const SpecReplies *q, size_t *ret_n) {
        size_t max = n_plans(q), n = 0;
        SpecSum *sums;

        for (size_t i = 0; i < q->n_replies; i++)
                max += q->replies[i]->n_specs;
        sums = calloc(MAX(max, (size_t) 1), sizeof(SpecSum));
        if (!sums)
                return NULL;
        for (size_t i = 0; i < q->n_replies; i++)
                for (size_t k = 0; k < q->replies[i]->n_specs; k++)
                        (void) sum_of(sums, &n, q->replies[i]->specs[k]->service_id);
        for (size_t i = 0; i < q->n_replies; i++)
                for (size_t k = 0; k < q->replies[i]->n_plans; k++) {
                        const Castle__NodePlan *p = q->replies[i]->plans[k];
                        SpecSum *s = sum_of(sums, &n, p->service_id);

                        s->nodes++;
                        if (!p->placed)
                                continue;
                        s->placed++;
                        s->errors += !isempty(p->error);
                        for (size_t o = 0; o < p->n_osds; o++)
                                if (p->osds[o]->exists)
                                        s->existing++;
                                else
                                        s->to_make++;
                        s->not_taken += p->n_skipped;
                }
        *ret_n = n;
        return sums;
}

static void print_node_plan(const Castle__NodePlan *p) {
        static const char *const header[] = { "OSD", "DATA", "SIZE", "DB", "DB SIZE", "WAL", "WAL SIZE", "ENCRYPTED",
                                               "CLASS" };
        Table *t;

        if (!p->placed) {
                printf("%s: node %s (%s): not placed%s%s\n", p->service_id, p->node_id, p->hostname,
                       p->n_skipped > 0 && p->skipped[0]->n_reasons > 0 ? ": " : "",
                       p->n_skipped > 0 && p->skipped[0]->n_reasons > 0 ? p->skipped[0]->reasons[0] : "");
                return;
        }
        printf("%s: node %s (%s)\n", p->service_id, p->node_id, p->hostname);
        if (!isempty(p->error))
                printf("  ERROR: %s\n", p->error);
        if (p->n_osds > 0 && (t = table_new(header, ELEMENTSOF(header)))) {
                for (size_t i = 0; i < p->n_osds; i++) {
                        const Castle__PlannedOsd *o = p->osds[i];
                        char osd[32], s1[32], s2[32], s3[32];

                        if (o->exists && o->osd_id >= 0)
                                snprintf(osd, sizeof osd, "osd.%d", o->osd_id);
                        else
                                snprintf(osd, sizeof osd, "%s", o->exists ? "exists" : "new");
                        (void) table_add_row(t, (const char *[]) { osd, o->data, size_text(o->data_size, s1, sizeof s1),
                                                                   isempty(o->db) ? "-" : o->db,
                                                                   size_text(o->db_size, s2, sizeof s2),
                                                                   isempty(o->wal) ? "-" : o->wal,
                                                                   size_text(o->wal_size, s3, sizeof s3),
                                                                   o->encrypted ? "yes" : "no",
                                                                   isempty(o->crush_device_class) ? "-"
                                                                                                   : o->crush_device_class });
                }
                table_print(t, stdout, true);
                table_free(t);
        } else if (isempty(p->error))
                printf("  no OSD\n");
        for (size_t i = 0; i < p->n_skipped; i++) {
                _cleanup_free_ char *why = cluster_join(p->skipped[i]->reasons, p->skipped[i]->n_reasons, "; ");

                printf("  not taken: %s: %s\n", p->skipped[i]->device, why ? why : "?");
        }
}

static void print_sum(const SpecSum *s, const Castle__OsdSpec *spec) {
        printf("%s: %zu of %zu node(s) placed, %zu OSD(s) to make, %zu existing, %zu device(s) not taken",
               s->service_id, s->placed, s->nodes, s->to_make, s->existing, s->not_taken);
        if (s->errors > 0)
                printf(", %zu node(s) in error", s->errors);
        if (spec && spec->unmanaged)
                printf(" (unmanaged: previewed, nothing is made)");
        printf("\n");
}

static void print_plans_json(const SpecReplies *q) {
        json_object *o = json_object_new_object(), *specs = json_object_new_array(), *plans = json_object_new_array();

        for (size_t i = 0; i < q->n_replies; i++) {
                for (size_t k = 0; k < q->replies[i]->n_specs; k++)
                        json_object_array_add(specs, codec_message_to_json(&q->replies[i]->specs[k]->base));
                for (size_t k = 0; k < q->replies[i]->n_plans; k++)
                        json_object_array_add(plans, codec_message_to_json(&q->replies[i]->plans[k]->base));
        }
        json_object_object_add(o, "specs", specs);
        json_object_object_add(o, "plans", plans);
        cluster_print_json(o);
        json_object_put(o);
}

/* Plans grouped by spec, then node, and a summary line per spec. */
static int print_plans(const ClusterArgs *a, const SpecReplies *q) {
        _cleanup_free_ SpecSum *sums = NULL;
        size_t n = 0;

        if (a->json) {
                print_plans_json(q);
                return 0;
        }
        sums = sum_plans(q, &n);
        if (!sums)
                return log_oom();
        for (size_t s = 0; s < n; s++)
                for (size_t i = 0; i < q->n_replies; i++)
                        for (size_t k = 0; k < q->replies[i]->n_plans; k++)
                                if (streq(q->replies[i]->plans[k]->service_id, sums[s].service_id))
                                        print_node_plan(q->replies[i]->plans[k]);
        for (size_t s = 0; s < n; s++)
                print_sum(&sums[s], spec_of(q, sums[s].service_id));
        return 0;
}

/* The YAML from -i: a file, or standard input with "-"; one byte over the bound tells the
 * coordinator's limit apart from a text that fits. */
static int read_input(const char *path, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, max = SPEC_YAML_MAX + 1;
        int r;

        if (!streq(path, "-")) {
                r = read_full_file_at(AT_FDCWD, path, max, &buf, &n);
                if (r < 0 && r != -EFBIG && r != -E2BIG)
                        return log_error_errno(r, "Cannot read %s: %m", path);
                if (r < 0 || n > SPEC_YAML_MAX)
                        return log_error_errno(SYNTHETIC_ERRNO(E2BIG), "%s is larger than %u bytes, the most an apply "
                                               "takes.", path, SPEC_YAML_MAX);
        } else {
                buf = malloc(max + 1);
                if (!buf)
                        return log_oom();
                for (;;) {
                        ssize_t k = read(STDIN_FILENO, buf + n, max - n);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0)
                                return log_error_errno(-errno, "Cannot read standard input: %m");
                        if (k == 0)
                                break;
                        n += (size_t) k;
                        if (n > SPEC_YAML_MAX)
                                return log_error_errno(SYNTHETIC_ERRNO(E2BIG), "The YAML on standard input is larger "
                                                       "than %u bytes, the most an apply takes.", SPEC_YAML_MAX);
                }
                buf[n] = 0;
        }
        if (memchr(buf, 0, n))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s holds a NUL byte: not YAML text.",
                                       streq(path, "-") ? "Standard input" : path);
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int cluster_apply(ClusterArgs *a) {
        Castle__SpecApply apply = CASTLE__SPEC_APPLY__INIT;
        SpecReplies q = { .kind = CASTLE__QUERY_REQUEST__KIND_APPLY, .body = &apply };
        _cleanup_free_ char *yaml = NULL;
        size_t size = 0;
        int r;

        r = read_input(a->input, &yaml, &size);
        if (r < 0)
                return r;
        apply.yaml = yaml;
        apply.dry_run = a->dry_run;
        /* a dry run changes nothing: asked like a query; an apply goes to one coordinator at a time */
        r = spec_exchange(a, &q, a->dry_run);
        if (r >= 0) {
                r = print_plans(a, &q);
                if (r >= 0 && !a->json)
                        printf(a->dry_run ? "Dry run: nothing was stored.\n"
                                          : "Stored; the agents of the nodes placed apply it.\n");
        }
        restart_spec(&q);
        return r;
}

int cluster_plan(ClusterArgs *a, const char *name) {
        Castle__PlanRequest plan = CASTLE__PLAN_REQUEST__INIT;
        SpecReplies q = { .kind = CASTLE__QUERY_REQUEST__KIND_PLAN, .body = &plan };
        int r;

        plan.service_id = (char *) strempty(name);
        r = spec_exchange(a, &q, true);
        if (r >= 0) {
                if (!a->json && n_plans(&q) == 0 && q.n_replies > 0 && q.replies[0]->n_specs == 0)
                        printf("No spec is stored.\n");
                else
                        r = print_plans(a, &q);
        }
        restart_spec(&q);
        return r;
}

static const char *spec_state(const SpecSum *s, const Castle__OsdSpec *spec) {
        if (spec->unmanaged)
                return "unmanaged";
        if (s->errors > 0)
                return "error";
        if (s->placed == 0)
                return "no node placed";
        return s->to_make > 0 ? "applying" : "applied";
}

static char *placement_text(const Castle__OsdSpec *s) {
        _cleanup_strv_free_ char **l = NULL;
        char *text = NULL;

        if (s->placement_all)
                return strdup("all hosts");
        if (s->n_hosts > 0) {
                _cleanup_free_ char *hosts = cluster_join(s->hosts, s->n_hosts, ",");
                if (!hosts || asprintf(&text, "hosts %s", hosts) < 0 || strv_consume(&l, text) < 0)
                        return NULL;
        }
        if (!isempty(s->label) && (asprintf(&text, "label %s", s->label) < 0 || strv_consume(&l, text) < 0))
                return NULL;
        if (!isempty(s->host_pattern) &&
            (asprintf(&text, "pattern %s", s->host_pattern) < 0 || strv_consume(&l, text) < 0))
                return NULL;
        return l ? strv_join(l, "; ") : strdup("-");
}

int cluster_specs(ClusterArgs *a) {
        static const char *const header[] = { "NAME", "PLACEMENT", "METHOD", "NODES", "OSDS", "TO MAKE", "NOT TAKEN",
                                               "STATE", "APPLIED", "BY" };
        Castle__SpecList list = CASTLE__SPEC_LIST__INIT;
        SpecReplies q = { .kind = CASTLE__QUERY_REQUEST__KIND_SPECS, .body = &list };
        _cleanup_free_ SpecSum *sums = NULL;
        size_t n = 0;
        int r;

        r = spec_exchange(a, &q, true);
        if (r < 0)
                goto finish;
        if (a->json) {
                print_plans_json(&q);
                goto finish;
        }
        if (a->yaml) {
                bool first = true;

                for (size_t i = 0; i < q.n_replies; i++)
                        for (size_t k = 0; k < q.replies[i]->n_specs; k++) {
                                const char *y = strempty(q.replies[i]->specs[k]->yaml);

                                printf("%s%s%s", first ? "" : "---\n", y, *y && y[strlen(y) - 1] != '\n' ? "\n" : "");
                                first = false;
                        }
                goto finish;
        }
        sums = sum_plans(&q, &n);
        if (!sums) {
                r = log_oom();
                goto finish;
        }
        {
                Table *t = table_new(header, ELEMENTSOF(header));

                for (size_t i = 0; t && i < q.n_replies; i++)
                        for (size_t k = 0; k < q.replies[i]->n_specs; k++) {
                                const Castle__OsdSpec *s = q.replies[i]->specs[k];
                                const SpecSum *sum = sum_of(sums, &n, s->service_id);
                                _cleanup_free_ char *placement = placement_text(s);
                                char nodes[32], osds[32], make[32], skipped[32], when[32] = "-";
                                time_t sec = (time_t) (s->applied_usec / 1000000);
                                struct tm tm;

                                snprintf(nodes, sizeof nodes, "%zu/%zu", sum->placed, sum->nodes);
                                snprintf(osds, sizeof osds, "%zu", sum->existing);
                                snprintf(make, sizeof make, "%zu", sum->to_make);
                                snprintf(skipped, sizeof skipped, "%zu", sum->not_taken);
                                if (s->applied_usec > 0 && localtime_r(&sec, &tm))
                                        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
                                (void) table_add_row(t, (const char *[]) { s->service_id, placement ?: "?",
                                                                           isempty(s->method) ? "lvm" : s->method,
                                                                           nodes, osds, make, skipped,
                                                                           spec_state(sum, s), when,
                                                                           isempty(s->applied_by) ? "-" : s->applied_by });
                        }
                if (t)
                        table_print(t, stdout, a->headings);
                table_free(t);
        }
finish:
        restart_spec(&q);
        return r;
}

int cluster_spec_rm(ClusterArgs *a, const char *name) {
        Castle__SpecRemove rm = CASTLE__SPEC_REMOVE__INIT;
        SpecReplies q = { .kind = CASTLE__QUERY_REQUEST__KIND_SPEC_RM, .body = &rm };
        int r;

        rm.service_id = (char *) name;
        r = spec_exchange(a, &q, false);
        restart_spec(&q);
        if (r < 0)
                return r;
        printf("Spec %s removed. The OSDs it made stay; no agent makes more for it.\n", name);
        return 0;
}
