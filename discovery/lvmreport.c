/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lvm fullreport runner and parser. The JSON is lvm's output, but still parsed defensively:
 * every field is optional and every count is bounded. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "discovery/lvmreport.h"

#define LVM_OUTPUT_MAX (32 * 1024 * 1024)
#define LVM_ITEMS_MAX 100000

const char *const lvm_report_argv[] = {
        "lvm", "fullreport", "--reportformat", "json", "--units", "b", "--nosuffix",
        "--configreport", "vg", "-o", "vg_name,vg_uuid,vg_extent_size,vg_extent_count,vg_free_count",
        "--configreport", "pv", "-o", "pv_name,pv_uuid,vg_name,vg_uuid",
        "--configreport", "lv", "-o", "lv_name,vg_name,lv_path,lv_uuid,lv_size,lv_tags",
        "--configreport", "pvseg", "-o", "pv_name",
        "--configreport", "seg", "-o", "lv_uuid,devices",
        NULL
};

typedef struct Pv {
        char *name, *uuid, *vg_name, *vg_uuid;
} Pv;
typedef struct Vg {
        char *name, *uuid;
        uint64_t extent_size, extent_count, free_count;
} Vg;
typedef struct Lv {
        char *name, *vg_name, *path, *uuid, *tags;
        uint64_t size;
        char **devices; /* PV paths, from the seg report */
} Lv;

struct LvmReport {
        Pv *pvs;
        size_t n_pvs;
        Vg *vgs;
        size_t n_vgs;
        Lv *lvs;
        size_t n_lvs;
};

LvmReport *lvm_report_free(LvmReport *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_pvs; i++) {
                free(r->pvs[i].name);
                free(r->pvs[i].uuid);
                free(r->pvs[i].vg_name);
                free(r->pvs[i].vg_uuid);
        }
        for (size_t i = 0; i < r->n_vgs; i++) {
                free(r->vgs[i].name);
                free(r->vgs[i].uuid);
        }
        for (size_t i = 0; i < r->n_lvs; i++) {
                free(r->lvs[i].name);
                free(r->lvs[i].vg_name);
                free(r->lvs[i].path);
                free(r->lvs[i].uuid);
                free(r->lvs[i].tags);
                strv_free(r->lvs[i].devices);
        }
        free(r->pvs);
        free(r->vgs);
        free(r->lvs);
        free(r);
        return NULL;
}

void lvm_report_freep(LvmReport **r) {
        lvm_report_free(*r);
}

static char *get_str(json_object *o, const char *key) {
        json_object *v;
        const char *s;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        s = json_object_get_string(v);
        return isempty(s) ? NULL : strndup(s, 4096);
}

static uint64_t get_u64(json_object *o, const char *key) {
        _cleanup_free_ char *s = get_str(o, key);
        uint64_t v = 0;

        if (s)
                (void) safe_atou64(s, &v);
        return v;
}

static json_object *get_array(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

static void *grow(void *p, size_t *n, size_t size) {
        void *q;

        if (*n >= LVM_ITEMS_MAX)
                return NULL;
        q = realloc(p, (*n + 1) * size);
        if (!q)
                return NULL;
        memset((char *) q + *n * size, 0, size);
        (*n)++;
        return q;
}

/* "/dev/sda(0),/dev/sdb(100)" -> { "/dev/sda", "/dev/sdb" } */
static int parse_seg_devices(const char *s, char ***devices) {
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *paren = strchr(t, '(');
                int r;

                if (paren)
                        *paren = 0;
                if (isempty(t))
                        continue;
                r = strv_extend_unique(devices, t);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_vg(LvmReport *r, json_object *o) {
        Vg *v = grow(r->vgs, &r->n_vgs, sizeof(Vg));

        if (!v)
                return -ENOMEM;
        r->vgs = v;
        v = &r->vgs[r->n_vgs - 1];
        v->name = get_str(o, "vg_name");
        v->uuid = get_str(o, "vg_uuid");
        v->extent_size = get_u64(o, "vg_extent_size");
        v->extent_count = get_u64(o, "vg_extent_count");
        v->free_count = get_u64(o, "vg_free_count");
        return 0;
}

static int add_pv(LvmReport *r, json_object *o) {
        Pv *p = grow(r->pvs, &r->n_pvs, sizeof(Pv));

        if (!p)
                return -ENOMEM;
        r->pvs = p;
        p = &r->pvs[r->n_pvs - 1];
        p->name = get_str(o, "pv_name");
        p->uuid = get_str(o, "pv_uuid");
        p->vg_name = get_str(o, "vg_name");
        p->vg_uuid = get_str(o, "vg_uuid");
        return 0;
}

static int add_lv(LvmReport *r, json_object *o) {
        Lv *l = grow(r->lvs, &r->n_lvs, sizeof(Lv));

        if (!l)
                return -ENOMEM;
        r->lvs = l;
        l = &r->lvs[r->n_lvs - 1];
        l->name = get_str(o, "lv_name");
        l->vg_name = get_str(o, "vg_name");
        l->path = get_str(o, "lv_path");
        l->uuid = get_str(o, "lv_uuid");
        l->tags = get_str(o, "lv_tags");
        l->size = get_u64(o, "lv_size");
        return 0;
}

/* A segment says which PVs an LV sits on; the LV comes first in the same report. */
static int add_seg(LvmReport *r, json_object *o) {
        _cleanup_free_ char *uuid = get_str(o, "lv_uuid"), *devs = get_str(o, "devices");

        if (!uuid || !devs)
                return 0;
        for (size_t j = 0; j < r->n_lvs; j++)
                if (streq_ptr(r->lvs[j].uuid, uuid)) {
                        int k = parse_seg_devices(devs, &r->lvs[j].devices);
                        if (k < 0)
                                return k;
                }
        return 0;
}

static int parse_one_report(LvmReport *r, json_object *rep) {
        static const struct {
                const char *key;
                int (*add)(LvmReport *r, json_object *o);
        } kinds[] = { { "vg", add_vg }, { "pv", add_pv }, { "lv", add_lv }, { "seg", add_seg } };

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                json_object *a = get_array(rep, kinds[k].key);
                for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                        int r2 = kinds[k].add(r, json_object_array_get_idx(a, i));
                        if (r2 < 0)
                                return r2;
                }
        }
        return 0;
}

int lvm_report_parse(const char *json, LvmReport **ret) {
        _cleanup_(lvm_report_freep) LvmReport *r = calloc(1, sizeof(LvmReport));
        json_object *root, *reports;
        int k = 0;

        if (!r)
                return -ENOMEM;
        root = json_tokener_parse(json);
        if (!root)
                return -EBADMSG;
        reports = get_array(root, "report");
        if (!reports)
                k = -EBADMSG;
        for (size_t i = 0; k >= 0 && reports && i < json_object_array_length(reports); i++)
                k = parse_one_report(r, json_object_array_get_idx(reports, i));
        json_object_put(root);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

/* True once the report's outer JSON object is closed: lvm has printed everything. */
static bool report_complete(const char *s, size_t n) {
        bool in_string = false, escape = false, started = false;
        int depth = 0;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (in_string) {
                        if (escape)
                                escape = false;
                        else if (c == '\\')
                                escape = true;
                        else if (c == '"')
                                in_string = false;
                } else if (c == '"')
                        in_string = true;
                else if (c == '{' || c == '[') {
                        depth++;
                        started = true;
                } else if (c == '}' || c == ']') {
                        if (--depth == 0 && started)
                                return true;
                }
        }
        return false;
}

const char *const lvm_envp[] = { "LVM_SUPPRESS_FD_WARNINGS=1", "LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                 NULL };

char *lvm_find(void) {
        static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
        char path[64];

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(path, sizeof path, "%s/lvm", dirs[i]);
                if (access(path, X_OK) == 0)
                        return strdup(path);
        }
        return NULL;
}

int lvm_report_run(char *const *devices, uint64_t timeout_usec, LvmReport **ret, char **ret_error) {
        _cleanup_strv_free_ char **argv = strv_copy((char *const *) lvm_report_argv);
        SpawnResult res = {};
        int r;

        if (!argv)
                return -ENOMEM;
        /* Look lvm up in the system directories ourselves: posix_spawnp() would try every
         * directory of the caller's PATH, one failed execve each. */
        free(argv[0]);
        argv[0] = lvm_find();
        if (!argv[0])
                return -ENOENT;
        STRV_FOREACH(dev, devices) {
                if (strv_extend(&argv, "--devices") < 0 || strv_extend(&argv, *dev) < 0)
                        return -ENOMEM;
        }
        r = spawn_capture(argv, (char *const *) lvm_envp,
                          &(SpawnOptions) { .timeout_usec = timeout_usec, .out_max = LVM_OUTPUT_MAX,
                                            .out_complete = report_complete },
                          &res);
        if (r < 0)
                return r;
        if (res.exited && res.status != 0) {
                if (ret_error)
                        *ret_error = strdup(strip_trailing(res.err));
                spawn_result_done(&res);
                return -EIO;
        }
        r = lvm_report_parse(res.out, ret);
        spawn_result_done(&res);
        return r;
}

static bool device_is(const Device *d, const char *path) {
        return path && (streq_ptr(d->path, path) || strv_contains(d->links, path));
}

/* "ceph.osd_id=3,ceph.type=block" -> tag list; values may hold '=' but not ','. */
static int split_tags(const char *s, LvmTag **ret, size_t *ret_n) {
        _cleanup_free_ char *copy = s ? strdup(s) : NULL;
        LvmTag *tags = NULL;
        size_t n = 0;
        char *save = NULL;

        if (s && !copy)
                return -ENOMEM;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(t, '=');
                LvmTag *g = grow(tags, &n, sizeof(LvmTag));

                if (!g) {
                        n--;
                        break;
                }
                tags = g;
                if (eq)
                        *eq = 0;
                tags[n - 1].key = strdup(t);
                tags[n - 1].value = strdup(eq ? eq + 1 : "");
        }
        *ret = tags;
        *ret_n = n;
        return 0;
}

static const char *tag_value(const LvmTag *tags, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(tags[i].key, key))
                        return tags[i].value;
        return NULL;
}

static int add_ceph_from_tags(Device *d, const Lv *lv, const LvmTag *tags, size_t n) {
        const char *fsid = tag_value(tags, n, "ceph.osd_fsid"), *id = tag_value(tags, n, "ceph.osd_id");
        CephFacts f = {
                .source = (char *) "lvm-tags",
                .osd_uuid = (char *) fsid,
                .osd_id = -1,
                .cluster_fsid = (char *) tag_value(tags, n, "ceph.cluster_fsid"),
                .type = (char *) tag_value(tags, n, "ceph.type"),
                .lv_path = lv->path,
                .osdspec_affinity = (char *) tag_value(tags, n, "ceph.osdspec_affinity"),
        };

        if (!fsid && !id)
                return 0; /* not a Ceph LV: listing.py's test is "has ceph.osd_id" */
        if (id && safe_atoi(id, &f.osd_id) < 0)
                f.osd_id = -1;
        return device_add_ceph(d, &f);
}

static int attach_lv(Device *d, LvmFacts *facts, const Lv *lv) {
        LogicalVolume *v = grow(facts->lvs, &facts->n_lvs, sizeof(LogicalVolume));
        int r;

        if (!v)
                return -ENOMEM;
        facts->lvs = v;
        v = &facts->lvs[facts->n_lvs - 1];
        v->name = lv->name ? strdup(lv->name) : NULL;
        v->vg_name = lv->vg_name ? strdup(lv->vg_name) : NULL;
        v->path = lv->path ? strdup(lv->path) : NULL;
        v->uuid = lv->uuid ? strdup(lv->uuid) : NULL;
        v->size = lv->size;
        r = split_tags(lv->tags, &v->tags, &v->n_tags);
        if (r < 0)
                return r;
        return add_ceph_from_tags(d, lv, v->tags, v->n_tags);
}

int lvm_report_apply(const LvmReport *rep, DeviceList *l) {
        int r;

        for (size_t i = 0; i < l->n; i++) {
                Device *d = l->items[i];

                /* A PV: VG facts and every LV that has a segment on it. */
                for (size_t p = 0; p < rep->n_pvs; p++) {
                        const Pv *pv = &rep->pvs[p];
                        LvmFacts *f;

                        if (!device_is(d, pv->name) || d->lvm)
                                continue;
                        f = d->lvm = calloc(1, sizeof(LvmFacts));
                        if (!f)
                                return -ENOMEM;
                        f->pv_uuid = pv->uuid ? strdup(pv->uuid) : NULL;
                        f->vg_name = pv->vg_name ? strdup(pv->vg_name) : NULL;
                        f->vg_uuid = pv->vg_uuid ? strdup(pv->vg_uuid) : NULL;
                        for (size_t v = 0; v < rep->n_vgs; v++)
                                if (pv->vg_uuid && streq_ptr(rep->vgs[v].uuid, pv->vg_uuid)) {
                                        f->vg_extent_size = rep->vgs[v].extent_size;
                                        f->vg_extent_count = rep->vgs[v].extent_count;
                                        f->vg_free_count = rep->vgs[v].free_count;
                                }
                        for (size_t k = 0; k < rep->n_lvs; k++) {
                                bool on_pv = false;
                                STRV_FOREACH(dev, rep->lvs[k].devices)
                                        if (device_is(d, *dev))
                                                on_pv = true;
                                if (!on_pv)
                                        continue;
                                r = attach_lv(d, f, &rep->lvs[k]);
                                if (r < 0)
                                        return r;
                        }
                }

                /* An LV's own dm device: its tags say which OSD it belongs to. */
                for (size_t k = 0; k < rep->n_lvs; k++) {
                        LvmTag *tags = NULL;
                        size_t n = 0;

                        if (!device_is(d, rep->lvs[k].path))
                                continue;
                        r = split_tags(rep->lvs[k].tags, &tags, &n);
                        if (r >= 0)
                                r = add_ceph_from_tags(d, &rep->lvs[k], tags, n);
                        for (size_t j = 0; j < n; j++) {
                                free(tags[j].key);
                                free(tags[j].value);
                        }
                        free(tags);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
