/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ceph-volume inventory record of one device (ceph_volume/util/device.py json_report(),
 * api/lvm.py Volume.report()), with ceph-volume's spellings: sysfs values as strings, sizes as
 * doubles and "1.00 GB" strings, "" for what is unknown. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cvformat.h"
#include "common/macro.h"
#include "proto/codec.h"

json_object *cv_json_string(const char *s) {
        return json_object_new_string(strempty(s));
}

char *cv_join(char *const *l, size_t n, const char *sep) {
        size_t len = 1;
        char *s, *w;

        for (size_t i = 0; i < n; i++)
                len += strlen(strempty(l[i])) + strlen(sep);
        s = w = malloc(len);
        if (!s)
                return NULL;
        *w = 0;
        for (size_t i = 0; i < n; i++)
                w = stpcpy(stpcpy(w, i > 0 ? sep : ""), strempty(l[i]));
        return s;
}

/* ceph-volume's human_readable_size: two decimals, 1024-based, "GB" meaning GiB. */
static json_object *cv_human_size(uint64_t bytes) {
        static const char *const suffix[] = { "B", "KB", "MB", "GB", "TB", "PB" };
        double v = (double) bytes;
        size_t i = 0;
        char buf[32];

        while (v >= 1024 && i < ELEMENTSOF(suffix) - 1) {
                v /= 1024;
                i++;
        }
        snprintf(buf, sizeof buf, "%.2f %s", v, suffix[i]);
        return json_object_new_string(buf);
}

static json_object *cv_number_string(uint64_t v) {
        char buf[32];

        snprintf(buf, sizeof buf, "%" PRIu64, v);
        return json_object_new_string(buf);
}

static json_object *cv_bool_string(bool b) {
        return json_object_new_string(b ? "1" : "0");
}

static json_object *cv_partitions(const Castle__Device *d, CvFindFn find, void *userdata) {
        json_object *o = json_object_new_object();

        for (size_t i = 0; o && i < d->n_partitions; i++) {
                const Castle__Device *part = find(d->partitions[i], userdata);
                json_object *e, *holders;

                if (!part)
                        continue;
                e = json_object_new_object();
                holders = json_object_new_array();
                json_object_object_add(e, "start", cv_number_string(0));
                json_object_object_add(e, "sectors", cv_number_string(part->size / 512));
                json_object_object_add(e, "sectorsize",
                                       json_object_new_int((int) (d->logical_sector_size ?: 512)));
                json_object_object_add(e, "size", json_object_new_double((double) part->size));
                json_object_object_add(e, "human_readable_size", cv_human_size(part->size));
                for (size_t h = 0; h < part->n_holders; h++)
                        json_object_array_add(holders, cv_json_string(part->holders[h]));
                json_object_object_add(e, "holders", holders);
                json_object_object_add(o, d->partitions[i], e);
        }
        return o;
}

static json_object *cv_sys_api(const Castle__Device *d, CvFindFn find, void *userdata) {
        const Castle__QueueFacts *q = d->queue;
        const char *parent = !isempty(d->parent) && find(d->parent, userdata) ? d->parent : d->kname;
        _cleanup_free_ char *parent_path = NULL, *nodes = NULL, *type = NULL;
        json_object *sys = json_object_new_object();

        if (asprintf(&parent_path, "/dev/%s", strempty(parent)) < 0)
                parent_path = NULL;
        nodes = d->n_slaves == 0 ? strdup(strempty(d->kname)) : cv_join(d->slaves, d->n_slaves, ",");
        type = codec_enum_json_name(&castle__device__type__descriptor, d->type);
        if (!sys || !parent_path || !nodes || !type)
                return json_object_put(sys), NULL;

        json_object_object_add(sys, "removable", cv_bool_string(d->removable));
        json_object_object_add(sys, "ro", cv_bool_string(d->read_only));
        json_object_object_add(sys, "vendor", cv_json_string(d->vendor));
        json_object_object_add(sys, "model", cv_json_string(d->model));
        json_object_object_add(sys, "rev", cv_json_string(d->revision));
        json_object_object_add(sys, "sas_address", cv_json_string(d->sas_address));
        json_object_object_add(sys, "sas_device_handle", cv_json_string(""));
        json_object_object_add(sys, "support_discard", cv_number_string(q ? q->discard_granularity : 0));
        json_object_object_add(sys, "rotational", cv_bool_string(d->rotational));
        json_object_object_add(sys, "nr_requests", cv_number_string(q ? q->nr_requests : 0));
        json_object_object_add(sys, "partitions", cv_partitions(d, find, userdata));
        json_object_object_add(sys, "device_nodes", cv_json_string(nodes));
        json_object_object_add(sys, "actuators", cv_json_string(""));
        json_object_object_add(sys, "scheduler_mode", cv_json_string(q ? q->scheduler : ""));
        json_object_object_add(sys, "sectors", json_object_new_int(0));
        json_object_object_add(sys, "sectorsize", cv_number_string(d->logical_sector_size ?: 512));
        json_object_object_add(sys, "size", json_object_new_double((double) d->size));
        json_object_object_add(sys, "human_readable_size", cv_human_size(d->size));
        json_object_object_add(sys, "path", cv_json_string(d->path));
        json_object_object_add(sys, "devname", cv_json_string(d->kname));
        json_object_object_add(sys, "type", cv_json_string(type));
        json_object_object_add(sys, "parent", cv_json_string(parent_path));
        json_object_object_add(sys, "id_bus", cv_json_string(d->id_bus));
        return sys;
}

/* ceph-volume's Volume.report(): an LV without ceph.osd_id is "not used by ceph"; an OSD's
 * LV carries its ceph.* tags without the prefix, among them <type>_uuid (block_uuid,
 * db_uuid, wal_uuid: the LV's own uuid). */
static json_object *cv_lvs(const Castle__Device *d, bool *ret_ceph) {
        static const char *const keys[] = { "osd_id", "cluster_name", "osd_fsid", "cluster_fsid",
                                            "osdspec_affinity" };
        json_object *a = json_object_new_array();

        *ret_ceph = false;
        for (size_t i = 0; a && d->lvm && i < d->lvm->n_lvs; i++) {
                const Castle__LogicalVolume *lv = d->lvm->lvs[i];
                json_object *e = json_object_new_object();
                const char *type = NULL;
                bool ceph = false;

                for (size_t t = 0; t < lv->n_tags; t++)
                        if (streq_ptr(lv->tags[t]->key, "ceph.osd_id"))
                                ceph = true;
                        else if (streq_ptr(lv->tags[t]->key, "ceph.type"))
                                type = lv->tags[t]->value;
                json_object_object_add(e, "name", cv_json_string(lv->name));
                if (!ceph) {
                        json_object_object_add(e, "comment", cv_json_string("not used by ceph"));
                        json_object_array_add(a, e);
                        continue;
                }
                *ret_ceph = true;
                for (size_t t = 0; t < lv->n_tags; t++) {
                        const char *k = startswith(strempty(lv->tags[t]->key), "ceph.");
                        for (size_t j = 0; k && j < ELEMENTSOF(keys); j++)
                                if (streq(k, keys[j]))
                                        json_object_object_add(e, k, cv_json_string(lv->tags[t]->value));
                        if (k && type && startswith(k, type) && streq(k + strlen(type), "_uuid"))
                                json_object_object_add(e, k, cv_json_string(lv->tags[t]->value));
                }
                json_object_object_add(e, "type", cv_json_string(type));
                json_object_array_add(a, e);
        }
        return a;
}

json_object *cv_device(const Castle__Device *d, CvFindFn find, void *userdata) {
        json_object *o = json_object_new_object(), *sys = cv_sys_api(d, find, userdata),
                    *reasons = json_object_new_array();
        bool ceph_device;

        if (!o || !sys || !reasons) {
                json_object_put(o);
                json_object_put(sys);
                json_object_put(reasons);
                return NULL;
        }
        for (size_t i = 0; i < d->n_reasons; i++)
                json_object_array_add(reasons, cv_json_string(d->reasons[i]->message));
        json_object_object_add(o, "path", cv_json_string(d->path));
        json_object_object_add(o, "sys_api", sys);
        json_object_object_add(o, "lvs", cv_lvs(d, &ceph_device));
        json_object_object_add(o, "ceph_device", json_object_new_boolean(ceph_device));
        json_object_object_add(o, "lsm_data", json_object_new_object());
        json_object_object_add(o, "available", json_object_new_boolean(d->available));
        /* Castle's own reasons are listed too: a tool that shows ceph-volume's list then
         * shows why castle refuses. */
        json_object_object_add(o, "rejected_reasons", reasons);
        json_object_object_add(o, "device_id", cv_json_string(d->device_id));
        return o;
}
