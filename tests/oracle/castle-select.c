/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The castle half of the oracle test (tests/oracle/drive_selection.py): reads cases, one JSON
 * object a line ({"spec": OsdSpec as JSON, "devices": [Device as castle's JSON], "existing":
 * N}), and prints for each castle's selection and plan next to ceph-volume's inventory of the
 * same devices as castlectl inventory --format ceph-volume prints it, which is what the
 * Python side hands to cephadm's DriveSelection. Not installed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cvformat.h"
#include "common/macro.h"
#include "spec/select.h"

static const char *jstr(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        return json_object_get_string(v);
}

static uint64_t juint(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        if (json_object_is_type(v, json_type_string))
                return strtoull(json_object_get_string(v), NULL, 10);
        return (uint64_t) json_object_get_int64(v);
}

static bool jbool(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static json_object *jarr(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

/* Strings are malloc'd: protobuf_c_message_free_unpacked() frees the whole message. */
static char *sdup(const char *s) {
        return isempty(s) ? (char *) protobuf_c_empty_string : strdup(s);
}

static char **dup_list(json_object *a, size_t *ret_n) {
        size_t n = a ? json_object_array_length(a) : 0;
        char **l = calloc(n + 1, sizeof *l);

        for (size_t i = 0; l && i < n; i++)
                l[i] = sdup(json_object_get_string(json_object_array_get_idx(a, i)));
        *ret_n = n;
        return l;
}

static int tri(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return CASTLE__DEVICE_FILTER__TRI__ANY;
        if (json_object_is_type(v, json_type_string)) {
                const char *s = json_object_get_string(v);
                return streq(s, "yes") || streq(s, "YES") ? CASTLE__DEVICE_FILTER__TRI__YES
                       : streq(s, "no") || streq(s, "NO") ? CASTLE__DEVICE_FILTER__TRI__NO
                                                          : CASTLE__DEVICE_FILTER__TRI__ANY;
        }
        return json_object_get_boolean(v) ? CASTLE__DEVICE_FILTER__TRI__YES : CASTLE__DEVICE_FILTER__TRI__NO;
}

static Castle__DeviceSelection *selection_from_json(json_object *o) {
        Castle__DeviceSelection *s;

        if (!o || json_object_is_type(o, json_type_null))
                return NULL;
        s = malloc(sizeof *s);
        castle__device_selection__init(s);
        s->paths = dup_list(jarr(o, "paths"), &s->n_paths);
        s->all = jbool(o, "all");
        s->rotational = tri(o, "rotational");
        s->size = sdup(jstr(o, "size"));
        s->model = sdup(jstr(o, "model"));
        s->vendor = sdup(jstr(o, "vendor"));
        s->limit = (uint32_t) juint(o, "limit");
        return s;
}

static Castle__OsdSpec *spec_from_json(json_object *o) {
        Castle__OsdSpec *s = malloc(sizeof *s);
        json_object *v;
        const char *logic;

        castle__osd_spec__init(s);
        s->service_id = sdup(jstr(o, "service_id"));
        s->hosts = dup_list(jarr(o, "hosts"), &s->n_hosts);
        s->label = sdup(jstr(o, "label"));
        s->host_pattern = sdup(jstr(o, "host_pattern"));
        s->placement_all = jbool(o, "placement_all");
        s->data_devices = selection_from_json(json_object_object_get_ex(o, "data_devices", &v) ? v : NULL);
        s->db_devices = selection_from_json(json_object_object_get_ex(o, "db_devices", &v) ? v : NULL);
        s->wal_devices = selection_from_json(json_object_object_get_ex(o, "wal_devices", &v) ? v : NULL);
        logic = jstr(o, "filter_logic");
        s->filter_logic_or = jbool(o, "filter_logic_or") || (logic && streq(logic, "OR"));
        s->osds_per_device = (uint32_t) juint(o, "osds_per_device");
        s->db_slots = (uint32_t) juint(o, "db_slots");
        s->wal_slots = (uint32_t) juint(o, "wal_slots");
        s->block_db_size = juint(o, "block_db_size");
        s->block_wal_size = juint(o, "block_wal_size");
        s->encrypted = jbool(o, "encrypted");
        s->crush_device_class = sdup(jstr(o, "crush_device_class"));
        s->method = sdup(jstr(o, "method"));
        s->unmanaged = jbool(o, "unmanaged");
        return s;
}

static Castle__Device *device_from_json(json_object *o) {
        Castle__Device *d = malloc(sizeof *d);
        json_object *a, *lvm;

        castle__device__init(d);
        d->stable_id = sdup(jstr(o, "stable_id"));
        d->kname = sdup(jstr(o, "kname"));
        d->path = sdup(jstr(o, "path"));
        d->links = dup_list(jarr(o, "links"), &d->n_links);
        d->size = juint(o, "size");
        d->rotational = jbool(o, "rotational");
        d->read_only = jbool(o, "read_only");
        d->removable = jbool(o, "removable");
        d->logical_sector_size = (uint32_t) juint(o, "logical_sector_size");
        d->vendor = sdup(jstr(o, "vendor"));
        d->model = sdup(jstr(o, "model"));
        d->device_id = sdup(jstr(o, "device_id"));
        d->parent = sdup(jstr(o, "parent"));
        d->id_bus = sdup(jstr(o, "id_bus"));
        d->partitions = dup_list(jarr(o, "partitions"), &d->n_partitions);
        d->holders = dup_list(jarr(o, "holders"), &d->n_holders);
        d->slaves = dup_list(jarr(o, "slaves"), &d->n_slaves);
        d->available = jbool(o, "available");
        if ((a = jarr(o, "reasons"))) {
                d->n_reasons = json_object_array_length(a);
                d->reasons = calloc(d->n_reasons + 1, sizeof *d->reasons);
                for (size_t i = 0; i < d->n_reasons; i++) {
                        json_object *r = json_object_array_get_idx(a, i);
                        d->reasons[i] = malloc(sizeof *d->reasons[i]);
                        castle__reason__init(d->reasons[i]);
                        d->reasons[i]->message = sdup(json_object_is_type(r, json_type_string)
                                                             ? json_object_get_string(r)
                                                             : jstr(r, "message"));
                }
        }
        if ((a = jarr(o, "ceph"))) {
                d->n_ceph = json_object_array_length(a);
                d->ceph = calloc(d->n_ceph + 1, sizeof *d->ceph);
                for (size_t i = 0; i < d->n_ceph; i++) {
                        json_object *c = json_object_array_get_idx(a, i), *id;
                        d->ceph[i] = malloc(sizeof *d->ceph[i]);
                        castle__ceph_facts__init(d->ceph[i]);
                        d->ceph[i]->source = sdup(jstr(c, "source"));
                        d->ceph[i]->osd_uuid = sdup(jstr(c, "osd_uuid"));
                        d->ceph[i]->osd_id = json_object_object_get_ex(c, "osd_id", &id) ? json_object_get_int(id) : -1;
                        d->ceph[i]->type = sdup(jstr(c, "type"));
                }
        }
        if (json_object_object_get_ex(o, "lvm", &lvm) && (a = jarr(lvm, "lvs"))) {
                d->lvm = malloc(sizeof *d->lvm);
                castle__lvm_facts__init(d->lvm);
                d->lvm->vg_name = sdup(jstr(lvm, "vg_name"));
                d->lvm->n_lvs = json_object_array_length(a);
                d->lvm->lvs = calloc(d->lvm->n_lvs + 1, sizeof *d->lvm->lvs);
                for (size_t i = 0; i < d->lvm->n_lvs; i++) {
                        json_object *l = json_object_array_get_idx(a, i), *tags = jarr(l, "tags");
                        Castle__LogicalVolume *lv = malloc(sizeof *lv);
                        castle__logical_volume__init(lv);
                        d->lvm->lvs[i] = lv;
                        lv->name = sdup(jstr(l, "name"));
                        lv->n_tags = tags ? json_object_array_length(tags) : 0;
                        lv->tags = calloc(lv->n_tags + 1, sizeof *lv->tags);
                        for (size_t t = 0; t < lv->n_tags; t++) {
                                json_object *tag = json_object_array_get_idx(tags, t);
                                lv->tags[t] = malloc(sizeof *lv->tags[t]);
                                castle__logical_volume__tag__init(lv->tags[t]);
                                lv->tags[t]->key = sdup(jstr(tag, "key"));
                                lv->tags[t]->value = sdup(jstr(tag, "value"));
                        }
                }
        }
        return d;
}

typedef struct Node {
        Castle__Device **d;
        size_t n;
} Node;

static const Castle__Device *find_kname(const char *kname, void *userdata) {
        Node *node = userdata;

        for (size_t i = 0; i < node->n; i++)
                if (streq_ptr(node->d[i]->kname, kname))
                        return node->d[i];
        return NULL;
}

static json_object *paths(const Castle__Device **l, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(strempty(l[i]->path)));
        return a;
}

static json_object *plan_json(const Castle__NodePlan *p) {
        json_object *o = json_object_new_object(), *osds = json_object_new_array(),
                    *skipped = json_object_new_array();

        json_object_object_add(o, "placed", json_object_new_boolean(p->placed));
        json_object_object_add(o, "error", json_object_new_string(strempty(p->error)));
        for (size_t i = 0; i < p->n_osds; i++) {
                const Castle__PlannedOsd *x = p->osds[i];
                json_object *e = json_object_new_object();
                json_object_object_add(e, "data", json_object_new_string(strempty(x->data)));
                json_object_object_add(e, "db", json_object_new_string(strempty(x->db)));
                json_object_object_add(e, "wal", json_object_new_string(strempty(x->wal)));
                json_object_object_add(e, "db_size", json_object_new_int64((int64_t) x->db_size));
                json_object_object_add(e, "exists", json_object_new_boolean(x->exists));
                json_object_object_add(e, "osd_id", json_object_new_int(x->osd_id));
                json_object_array_add(osds, e);
        }
        for (size_t i = 0; i < p->n_skipped; i++) {
                json_object *e = json_object_new_object(), *r = json_object_new_array();
                json_object_object_add(e, "device", json_object_new_string(strempty(p->skipped[i]->device)));
                for (size_t k = 0; k < p->skipped[i]->n_reasons; k++)
                        json_object_array_add(r, json_object_new_string(p->skipped[i]->reasons[k]));
                json_object_object_add(e, "reasons", r);
                json_object_array_add(skipped, e);
        }
        json_object_object_add(o, "osds", osds);
        json_object_object_add(o, "skipped", skipped);
        json_object_object_add(o, "create", json_object_new_boolean(p->create != NULL));
        return o;
}

static int run_case(const char *line) {
        json_object *in = json_tokener_parse(line), *specj, *devs, *out, *cv;
        Castle__OsdSpec *spec;
        _cleanup_(spec_selection_done) SpecSelection sel = {};
        Castle__NodePlan *plan = NULL;
        _cleanup_free_ char *error = NULL;
        Node node = {};
        const char *host;
        int r;

        if (!in || !json_object_object_get_ex(in, "spec", &specj) || !(devs = jarr(in, "devices"))) {
                fprintf(stderr, "castle-select: a line is not a case\n");
                json_object_put(in);
                return -EINVAL;
        }
        spec = spec_from_json(specj);
        node.n = json_object_array_length(devs);
        node.d = calloc(node.n + 1, sizeof *node.d);
        for (size_t i = 0; i < node.n; i++)
                node.d[i] = device_from_json(json_object_array_get_idx(devs, i));

        out = json_object_new_object();
        r = spec_select(spec, node.d, node.n, (unsigned) juint(in, "existing"), &sel, &error);
        if (r < 0)
                json_object_object_add(out, "error", json_object_new_string(strempty(error)));
        else {
                json_object_object_add(out, "data", paths(sel.data, sel.n_data));
                json_object_object_add(out, "db", paths(sel.db, sel.n_db));
                json_object_object_add(out, "wal", paths(sel.wal, sel.n_wal));
        }
        host = jstr(in, "hostname");
        if (jbool(in, "plan") && spec_plan_node(spec, "node", host ?: "host", NULL, node.d, node.n, &plan) >= 0) {
                json_object_object_add(out, "plan", plan_json(plan));
                spec_node_plan_free(plan);
        }
        cv = json_object_new_array();
        for (size_t i = 0; i < node.n; i++)
                json_object_array_add(cv, cv_device(node.d[i], find_kname, &node));
        json_object_object_add(out, "cv", cv);
        puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));

        json_object_put(out);
        json_object_put(in);
        for (size_t i = 0; i < node.n; i++)
                protobuf_c_message_free_unpacked(&node.d[i]->base, NULL);
        free(node.d);
        protobuf_c_message_free_unpacked(&spec->base, NULL);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        ssize_t n;

        if (argc > 1) {
                printf("%s < CASES\n\n"
                       "Reads oracle cases (one JSON object a line: spec, devices, existing) on standard\n"
                       "input and prints castle's selection and the devices' ceph-volume inventory for each.\n",
                       program_invocation_short_name);
                return streq(argv[1], "--help") ? 0 : 2;
        }
        while ((n = getline(&line, &size, stdin)) > 0) {
                if (n <= 1)
                        continue;
                if (run_case(line) < 0)
                        return 1;
        }
        return 0;
}
