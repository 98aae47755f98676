/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster osds and cluster osd manifests: every OSD of the fleet as its agent last
 * reported it (the coordinator adds its disk's health and its removal in progress), and, from
 * the same list, one Kubernetes Deployment per OSD that runs it where its disk is, as Rook
 * runs its OSDs. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cluster.h"
#include "cli/table.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "proto/codec.h"

/* What `castlectl osd run` needs in the pod, where the agent's DaemonSet has it. */
#define MANIFEST_NAMESPACE "castle-system"
#define MANIFEST_CEPH_CONF "/etc/castle/ceph/ceph.conf"

static int send_osds(zsock_t *s, uint64_t request_id, void *userdata) {
        ClusterOsdReplies *q = userdata;

        return cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_OSDS, &q->list);
}

static int reply_osds(Castle__QueryReply *rep, void *userdata) {
        ClusterOsdReplies *q = userdata;

        return cluster_keep_reply(&q->replies, &q->n_replies, rep);
}

static void restart_osds(void *userdata) {
        ClusterOsdReplies *q = userdata;

        cluster_free_replies(&q->replies, &q->n_replies);
}

void cluster_osd_replies_done(ClusterOsdReplies *q) {
        cluster_free_replies(&q->replies, &q->n_replies);
}

/* Every ClusterOsd of the replies (pointers into them), ordered by OSD id, then node. */
static int cmp_osd(const void *x, const void *y) {
        const Castle__ClusterOsd *a = *(Castle__ClusterOsd *const *) x, *b = *(Castle__ClusterOsd *const *) y;
        int32_t ia = a->osd ? a->osd->osd_id : -1, ib = b->osd ? b->osd->osd_id : -1;

        return ia != ib ? (ia < ib ? -1 : 1) : strcmp(strempty(a->node_id), strempty(b->node_id));
}

static int collect(const ClusterOsdReplies *q, bool removals, Castle__ClusterOsd ***ret, size_t *ret_n) {
        Castle__ClusterOsd **v;
        size_t n = 0, k = 0;

        for (size_t i = 0; i < q->n_replies; i++)
                n += q->replies[i]->n_osds + (removals ? q->replies[i]->n_removals : 0);
        v = calloc(MAX(n, (size_t) 1), sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < q->n_replies; i++) {
                for (size_t j = 0; j < q->replies[i]->n_osds; j++)
                        if (q->replies[i]->osds[j]->osd)
                                v[k++] = q->replies[i]->osds[j];
                for (size_t j = 0; removals && j < q->replies[i]->n_removals; j++)
                        if (q->replies[i]->removals[j]->osd)
                                v[k++] = q->replies[i]->removals[j];
        }
        qsort(v, k, sizeof *v, cmp_osd);
        *ret = v;
        *ret_n = k;
        return 0;
}

int cluster_query_osds(ClusterArgs *a, ClusterOsdReplies *q) {
        castle__osd_list__init(&q->list);
        q->list.node_id = (char *) strempty(a->filter.node_id);
        return cluster_exchange(a, &(ClusterExchange) { .what = "query", .hedge = true,
                                                       .silence_usec = a->timeout_usec, .send = send_osds,
                                                       .reply = reply_osds, .restart = restart_osds,
                                                       .userdata = q });
}

int cluster_osds(ClusterArgs *a) {
        static const char *const header[] = { "ID", "NODE", "DEVICE", "STABLE ID", "KIND", "HEALTH", "STATE",
                                              "REMOVAL" };
        _cleanup_(cluster_osd_replies_done) ClusterOsdReplies q = {};
        _cleanup_free_ Castle__ClusterOsd **v = NULL;
        size_t n = 0;
        int r;

        r = cluster_query_osds(a, &q);
        if (r < 0)
                return r;
        r = collect(&q, true, &v, &n);
        if (r < 0)
                return log_oom();
        if (a->json) {
                json_object *o = json_object_new_object(), *osds = json_object_new_array(),
                            *res = json_object_new_array();

                if (!o || !osds || !res) {
                        json_object_put(o);
                        json_object_put(osds);
                        json_object_put(res);
                        return log_oom();
                }
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(osds, codec_message_to_json(&v[i]->base));
                for (size_t i = 0; i < q.n_replies; i++)
                        for (size_t j = 0; j < q.replies[i]->n_reservations; j++)
                                json_object_array_add(res, codec_message_to_json(&q.replies[i]->reservations[j]->base));
                json_object_object_add(o, "osds", osds);
                json_object_object_add(o, "reservations", res);
                cluster_print_json(o);
                json_object_put(o);
                return 0;
        }
        Table *t = table_new(header, ELEMENTSOF(header));
        if (!t)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                const Castle__OsdState *o = v[i]->osd;
                const Castle__OsdRemoval *rm = v[i]->removal;
                _cleanup_free_ char *id = NULL, *kind = NULL, *state = NULL, *removal = NULL;
                /* A removal's OSD that its node no longer lists has no state of its own. */
                bool gone = isempty(o->state) && rm;
                int k;

                k = asprintf(&id, "%" PRId32, o->osd_id);
                if (k >= 0)
                        k = asprintf(&kind, "%s%s", isempty(o->kind) ? "-" : o->kind, o->encrypted ? "+dmcrypt" : "");
                if (k >= 0 && !gone)
                        k = o->restarts > 0 || !isempty(o->last_exit)
                                    ? asprintf(&state, "%s (%" PRIu32 " restarts%s%s)", strempty(o->state), o->restarts,
                                               isempty(o->last_exit) ? "" : ", last: ", strempty(o->last_exit))
                                    : asprintf(&state, "%s", isempty(o->state) ? "unknown" : o->state);
                if (k >= 0 && rm)
                        k = rm->pgs_left > 0 ? asprintf(&removal, "%s%s, %" PRId32 " PGs left", strempty(rm->step),
                                                        rm->replace ? " (replace)" : "", rm->pgs_left)
                                             : asprintf(&removal, "%s%s", strempty(rm->step),
                                                        rm->replace ? " (replace)" : "");
                if (k < 0) {
                        table_free(t);
                        return log_oom();
                }
                (void) table_add_row(t, (const char *[]) {
                        id, isempty(v[i]->hostname) ? v[i]->node_id : v[i]->hostname,
                        isempty(o->path) ? NULL : o->path, isempty(o->device) ? NULL : o->device, kind,
                        cluster_health_verdict(v[i]->health), state, removal });
        }
        table_print(t, stdout, a->headings);
        table_free(t);
        return 0;
}

/* ---- cluster osd manifests ---- */

static json_object *jstr(const char *s) {
        return json_object_new_string(s);
}

/* {k0: v0, k1: v1, ...}: pairs of strings, NULL-terminated. */
static json_object *jmap(const char *const *kv) {
        json_object *o = json_object_new_object();

        for (size_t i = 0; o && kv[i]; i += 2)
                json_object_object_add(o, kv[i], jstr(kv[i + 1]));
        return o;
}

static json_object *jarr(const char *const *items) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && items[i]; i++)
                json_object_array_add(a, jstr(items[i]));
        return a;
}

static json_object *jobj(const char *k, json_object *v) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, k, v);
        return o;
}

static json_object *labels(const char *id) {
        return jmap((const char *[]) { "app", "castle-osd", "ceph-osd-id", id, "app.kubernetes.io/name", "castle-osd",
                                       "app.kubernetes.io/part-of", "castle", NULL });
}

/* The host's directories `castlectl osd run` and ceph-osd use, as the agent's DaemonSet
 * mounts them: devices, sysfs and udev's database for the scan that finds the OSD's device
 * whatever the kernel now calls it, LVM's run directory for its LVs, /var/lib/ceph for the
 * OSD's directory (shared with the host), the Ceph configuration Secret. */
static const struct {
        const char *name, *path, *host_type, *mount;
        bool read_only, bidirectional;
} host_mounts[] = {
        { "dev", "/dev", NULL, "/dev" },
        { "sys", "/sys", NULL, "/sys", true },
        { "run-udev", "/run/udev", NULL, "/run/udev" },
        { "run-lvm", "/run/lvm", "DirectoryOrCreate", "/run/lvm" },
        { "ceph-data", "/var/lib/ceph", "DirectoryOrCreate", "/var/lib/ceph", false, true },
        { "ceph-log", "/var/log/ceph", "DirectoryOrCreate", "/var/log/ceph" },
};

static json_object *pod_volumes(json_object **ret_mounts) {
        json_object *vols = json_object_new_array(), *mounts = json_object_new_array(), *v, *m;

        for (size_t i = 0; i < ELEMENTSOF(host_mounts); i++) {
                json_object *hp = jmap((const char *[]) { "path", host_mounts[i].path, NULL });

                if (host_mounts[i].host_type)
                        json_object_object_add(hp, "type", jstr(host_mounts[i].host_type));
                v = jmap((const char *[]) { "name", host_mounts[i].name, NULL });
                json_object_object_add(v, "hostPath", hp);
                json_object_array_add(vols, v);
                m = jmap((const char *[]) { "name", host_mounts[i].name, "mountPath", host_mounts[i].mount, NULL });
                if (host_mounts[i].read_only)
                        json_object_object_add(m, "readOnly", json_object_new_boolean(true));
                if (host_mounts[i].bidirectional)
                        json_object_object_add(m, "mountPropagation", jstr("Bidirectional"));
                json_object_array_add(mounts, m);
        }
        /* ceph.conf (the monitors) from the Secret the agent's DaemonSet reads too; the OSD's
         * own key comes from its BlueStore label. */
        v = jmap((const char *[]) { "name", "ceph-config", NULL });
        m = jmap((const char *[]) { "secretName", "castle-ceph", NULL });
        json_object_object_add(m, "defaultMode", json_object_new_int(0400));
        json_object_object_add(v, "secret", m);
        json_object_array_add(vols, v);
        m = jmap((const char *[]) { "name", "ceph-config", "mountPath", "/etc/castle/ceph", NULL });
        json_object_object_add(m, "readOnly", json_object_new_boolean(true));
        json_object_array_add(mounts, m);
        /* The admin socket, for the liveness probe: the pod's own. */
        v = jmap((const char *[]) { "name", "run-ceph", NULL });
        json_object_object_add(v, "emptyDir", json_object_new_object());
        json_object_array_add(vols, v);
        json_object_array_add(mounts, jmap((const char *[]) { "name", "run-ceph", "mountPath", "/var/run/ceph", NULL }));
        *ret_mounts = mounts;
        return vols;
}

static json_object *osd_deployment(const Castle__ClusterOsd *c, const char *image) {
        const char *host = isempty(c->hostname) ? c->node_id : c->hostname;
        char id[16], name[32], asok[64];
        json_object *d, *meta, *spec, *tmpl, *pod, *ctr, *init, *probe, *mounts, *sc;

        snprintf(id, sizeof id, "%" PRId32, c->osd->osd_id);
        snprintf(name, sizeof name, "castle-osd-%" PRId32, c->osd->osd_id);
        snprintf(asok, sizeof asok, "/var/run/ceph/ceph-osd.%" PRId32 ".asok", c->osd->osd_id);

        ctr = jmap((const char *[]) { "name", "osd", "image", image, "imagePullPolicy", "IfNotPresent", NULL });
        json_object_object_add(ctr, "command", jarr((const char *[]) { "/usr/sbin/castlectl", "osd", "run",
                                                                       "--conf=" MANIFEST_CEPH_CONF, id, NULL }));
        /* LUKS, device-mapper and LVM ioctls, the device's flock and O_EXCL need it. */
        sc = json_object_new_object();
        json_object_object_add(sc, "privileged", json_object_new_boolean(true));
        json_object_object_add(ctr, "securityContext", sc);
        /* A daemon that stops answering on its admin socket is restarted; BlueStore's mount
         * (a log replay) takes a while on a big disk, hence the delay. */
        probe = jobj("exec", jobj("command", jarr((const char *[]) { "ceph", "--admin-daemon", asok, "status", NULL })));
        json_object_object_add(probe, "initialDelaySeconds", json_object_new_int(45));
        json_object_object_add(probe, "periodSeconds", json_object_new_int(30));
        json_object_object_add(probe, "timeoutSeconds", json_object_new_int(10));
        json_object_object_add(probe, "failureThreshold", json_object_new_int(3));
        json_object_object_add(ctr, "livenessProbe", probe);

        pod = json_object_new_object();
        json_object_object_add(pod, "nodeSelector", jmap((const char *[]) { "kubernetes.io/hostname", host, NULL }));
        /* OSDs speak to clients and peers on the host's addresses, as on bare metal. */
        json_object_object_add(pod, "hostNetwork", json_object_new_boolean(true));
        json_object_object_add(pod, "dnsPolicy", jstr("ClusterFirstWithHostNet"));
        json_object_object_add(pod, "priorityClassName", jstr("system-node-critical"));
        json_object_object_add(pod, "automountServiceAccountToken", json_object_new_boolean(false));
        json_object_object_add(pod, "terminationGracePeriodSeconds", json_object_new_int(60));
        json_object_object_add(pod, "tolerations", json_object_new_array());
        json_object_array_add(json_object_object_get(pod, "tolerations"),
                              jmap((const char *[]) { "operator", "Exists", NULL }));
        json_object_object_add(pod, "volumes", pod_volumes(&mounts));
        json_object_object_add(ctr, "volumeMounts", mounts);
        /* ceph-osd writes its log as the ceph user, and the kubelet makes a missing
         * /var/log/ceph root's (a node without Ceph's packages): hand it over first, as Rook's
         * OSD pods do. */
        init = jmap((const char *[]) { "name", "log-dir", "image", image, "imagePullPolicy", "IfNotPresent", NULL });
        json_object_object_add(init, "command",
                               jarr((const char *[]) { "chown", "ceph:ceph", "/var/log/ceph", NULL }));
        mounts = json_object_new_array();
        json_object_array_add(mounts, jmap((const char *[]) { "name", "ceph-log", "mountPath", "/var/log/ceph", NULL }));
        json_object_object_add(init, "volumeMounts", mounts);
        json_object_object_add(pod, "initContainers", json_object_new_array());
        json_object_array_add(json_object_object_get(pod, "initContainers"), init);
        json_object_object_add(pod, "containers", json_object_new_array());
        json_object_array_add(json_object_object_get(pod, "containers"), ctr);

        tmpl = jobj("metadata", jobj("labels", labels(id)));
        json_object_object_add(tmpl, "spec", pod);
        spec = json_object_new_object();
        json_object_object_add(spec, "replicas", json_object_new_int(1));
        /* Never two daemons for one OSD, not even during a rollout. */
        json_object_object_add(spec, "strategy", jmap((const char *[]) { "type", "Recreate", NULL }));
        json_object_object_add(spec, "selector",
                               jobj("matchLabels", jmap((const char *[]) { "app", "castle-osd", "ceph-osd-id", id, NULL })));
        json_object_object_add(spec, "template", tmpl);

        meta = jmap((const char *[]) { "name", name, "namespace", MANIFEST_NAMESPACE, NULL });
        json_object_object_add(meta, "labels", labels(id));
        json_object_object_add(meta, "annotations",
                               jmap((const char *[]) { "castle.io/node-id", c->node_id, "castle.io/device",
                                                       strempty(c->osd->device), NULL }));
        d = jmap((const char *[]) { "apiVersion", "apps/v1", "kind", "Deployment", NULL });
        json_object_object_add(d, "metadata", meta);
        json_object_object_add(d, "spec", spec);
        return d;
}

int cluster_osd_manifests(ClusterArgs *a) {
        _cleanup_(cluster_osd_replies_done) ClusterOsdReplies q = {};
        _cleanup_free_ Castle__ClusterOsd **v = NULL;
        json_object *list, *items;
        size_t n = 0;
        int r;

        r = cluster_query_osds(a, &q);
        if (r < 0)
                return r;
        r = collect(&q, false, &v, &n);
        if (r < 0)
                return log_oom();
        items = json_object_new_array();
        list = jmap((const char *[]) { "apiVersion", "v1", "kind", "List", NULL });
        if (!items || !list) {
                json_object_put(items);
                json_object_put(list);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++)
                json_object_array_add(items, osd_deployment(v[i], a->image ?: CLUSTER_DEFAULT_IMAGE));
        json_object_object_add(list, "items", items);
        cluster_print_json(list);
        json_object_put(list);
        if (n == 0)
                log_warning("No OSDs%s%s: the list is empty.", isempty(a->filter.node_id) ? "" : " on ",
                            strempty(a->filter.node_id));
        return 0;
}
