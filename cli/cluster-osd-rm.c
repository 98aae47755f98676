/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster osd rm, rm cancel and rm status: each OSD's node found in the fleet's OSD
 * list (or, from a coordinator that has none, in the devices' Ceph facts), one OsdRemove
 * command per node; the status is the removals and the reserved ids the agents report. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cluster.h"
#include "cli/table.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "proto/codec.h"

#define RM_MAX_IDS 64

/* The node that reports osd.id: from the OSD list, else from the devices' Ceph facts. */
static const char *node_from_osds(const ClusterOsdReplies *q, int id) {
        for (size_t i = 0; i < q->n_replies; i++) {
                for (size_t j = 0; j < q->replies[i]->n_osds; j++) {
                        const Castle__ClusterOsd *o = q->replies[i]->osds[j];
                        if (o->osd && o->osd->osd_id == id && !isempty(o->node_id))
                                return o->node_id;
                }
                for (size_t j = 0; j < q->replies[i]->n_removals; j++) {
                        const Castle__ClusterOsd *o = q->replies[i]->removals[j];
                        if (((o->osd && o->osd->osd_id == id) || (o->removal && o->removal->osd_id == id)) &&
                            !isempty(o->node_id))
                                return o->node_id;
                }
        }
        return NULL;
}

static const char *node_from_devices(const DeviceReplies *d, int id) {
        for (size_t i = 0; i < d->n_devices; i++) {
                const Castle__Device *dev = d->devices[i]->device;
                for (size_t k = 0; dev && k < dev->n_ceph; k++)
                        if (dev->ceph[k]->osd_id == id && !isempty(d->devices[i]->node_id))
                                return d->devices[i]->node_id;
        }
        return NULL;
}

int cluster_osd_rm(ClusterArgs *a, char **args, bool cancel) {
        _cleanup_(cluster_osd_replies_done) ClusterOsdReplies q = {};
        _cleanup_(device_replies_done) DeviceReplies d = {};
        _cleanup_strv_free_ char **nodes = NULL;
        int ids[RM_MAX_IDS], failed = 0, r;
        const char *where[RM_MAX_IDS];
        size_t n = strv_length(args);
        bool have_devices = false;

        if (n == 0 || n > RM_MAX_IDS)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Name 1 to %d OSD ids.", RM_MAX_IDS);
        for (size_t i = 0; i < n; i++) {
                const char *s = startswith(args[i], "osd.") ?: args[i];
                if (safe_atoi(s, &ids[i]) < 0 || ids[i] < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "'%s' is not an OSD id.", args[i]);
        }
        r = cluster_query_osds(a, &q);
        if (r == -EACCES)
                return r;
        if (r < 0)
                log_debug_errno(r, "No OSD list from the coordinator (%m): looking in the devices.");
        for (size_t i = 0; i < n; i++) {
                where[i] = r >= 0 ? node_from_osds(&q, ids[i]) : NULL;
                if (!where[i] && !have_devices) {
                        int k = cluster_query_devices(a, &d);
                        if (k < 0)
                                return k;
                        have_devices = true;
                }
                if (!where[i])
                        where[i] = node_from_devices(&d, ids[i]);
                if (!where[i])
                        return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "No node reports osd.%d.", ids[i]);
                if (!strv_contains(nodes, where[i]) && strv_extend(&nodes, where[i]) < 0)
                        return log_oom();
        }
        STRV_FOREACH(node, nodes) {
                Castle__Command cmd = CASTLE__COMMAND__INIT;
                Castle__OsdRemove m = CASTLE__OSD_REMOVE__INIT;
                int32_t mine[RM_MAX_IDS];
                size_t k = 0;

                for (size_t i = 0; i < n; i++)
                        if (streq(where[i], *node))
                                mine[k++] = ids[i];
                m.osd_ids = mine;
                m.n_osd_ids = k;
                m.replace = a->replace;
                m.zap = a->zap;
                m.force = a->force;
                m.cancel = cancel;
                cmd.kind_case = CASTLE__COMMAND__KIND_OSD_REMOVE;
                cmd.osd_remove = &m;
                r = cluster_run_node_command(a, *node, &cmd);
                if (r == -EACCES)
                        return r;
                if (r < 0)
                        failed++;
        }
        return failed ? -EIO : 0;
}

static const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

int cluster_osd_rm_status(ClusterArgs *a) {
        static const char *const header[] = { "OSD", "NODE", "STEP", "PGS LEFT", "REPLACE", "ZAP", "FORCE", "STARTED",
                                              "ERROR" };
        static const char *const rheader[] = { "OSD", "NODE", "SLOT", "OLD DEVICE", "LAYOUT", "STATE", "SINCE",
                                               "ERROR" };
        _cleanup_(cluster_osd_replies_done) ClusterOsdReplies q = {};
        size_t n_res = 0;
        Table *t;
        int r;

        r = cluster_query_osds(a, &q);
        if (r < 0)
                return r;
        if (a->json) {
                json_object *o = json_object_new_object(), *rm = json_object_new_array(), *res = json_object_new_array();

                if (!o || !rm || !res) {
                        json_object_put(o);
                        json_object_put(rm);
                        json_object_put(res);
                        return log_oom();
                }
                for (size_t i = 0; i < q.n_replies; i++) {
                        for (size_t j = 0; j < q.replies[i]->n_osds; j++)
                                if (q.replies[i]->osds[j]->removal)
                                        json_object_array_add(rm, codec_message_to_json(&q.replies[i]->osds[j]->base));
                        for (size_t j = 0; j < q.replies[i]->n_removals; j++)
                                json_object_array_add(rm, codec_message_to_json(&q.replies[i]->removals[j]->base));
                        for (size_t j = 0; j < q.replies[i]->n_reservations; j++)
                                json_object_array_add(res, codec_message_to_json(&q.replies[i]->reservations[j]->base));
                }
                json_object_object_add(o, "removals", rm);
                json_object_object_add(o, "reservations", res);
                cluster_print_json(o);
                json_object_put(o);
                return 0;
        }
        t = table_new(header, ELEMENTSOF(header));
        if (!t)
                return log_oom();
        for (size_t i = 0; i < q.n_replies; i++) {
                Castle__QueryReply *rep = q.replies[i];
                size_t total = rep->n_osds + rep->n_removals;

                for (size_t j = 0; j < total; j++) {
                        const Castle__ClusterOsd *co = j < rep->n_osds ? rep->osds[j] : rep->removals[j - rep->n_osds];
                        const Castle__OsdRemoval *m = co->removal;
                        char id[16], pgs[16], ago[32];

                        if (!m)
                                continue;
                        snprintf(id, sizeof id, "%" PRId32, m->osd_id);
                        if (m->pgs_left >= 0)
                                snprintf(pgs, sizeof pgs, "%" PRId32, m->pgs_left);
                        else
                                snprintf(pgs, sizeof pgs, "-");
                        (void) table_add_row(t, (const char *[]) {
                                id, isempty(co->hostname) ? co->node_id : co->hostname, m->step, pgs,
                                yes_no(m->replace), yes_no(m->zap), yes_no(m->force),
                                cluster_format_ago(m->started_usec, ago, sizeof ago), isempty(m->error) ? NULL : m->error });
                }
                n_res += rep->n_reservations;
        }
        table_print(t, stdout, a->headings);
        table_free(t);
        if (n_res == 0)
                return 0;
        t = table_new(rheader, ELEMENTSOF(rheader));
        if (!t)
                return log_oom();
        for (size_t i = 0; i < q.n_replies; i++)
                for (size_t j = 0; j < q.replies[i]->n_reservations; j++) {
                        const Castle__ClusterReservation *cr = q.replies[i]->reservations[j];
                        const Castle__OsdReservation *v = cr->reservation;
                        char id[16], ago[32];

                        if (!v)
                                continue;
                        snprintf(id, sizeof id, "%" PRId32, v->osd_id);
                        (void) table_add_row(t, (const char *[]) {
                                id, isempty(cr->hostname) ? cr->node_id : cr->hostname, v->slot, v->old_device,
                                v->layout, v->state, cluster_format_ago(v->since_usec, ago, sizeof ago),
                                isempty(v->error) ? NULL : v->error });
                }
        printf("\nReserved ids, waiting for a new disk in the old one's slot:\n");
        table_print(t, stdout, a->headings);
        table_free(t);
        return 0;
}
