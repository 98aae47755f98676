/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Output formatting for `castlectl inventory`. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/format.h"
#include "cli/table.h"
#include "common/size.h"
#include "common/strv.h"
#include "proto/codec.h"
#include "proto/devproto.h"

OutputFormat output_format_from_string(const char *s) {
        if (streq(s, "table"))
                return OUTPUT_TABLE;
        if (streq(s, "json"))
                return OUTPUT_JSON;
        if (streq(s, "ceph-volume"))
                return OUTPUT_CEPH_VOLUME;
        return _OUTPUT_FORMAT_MAX;
}

static char *reasons_text(const Device *d) {
        _cleanup_strv_free_ char **l = NULL;

        REASON_SET_FOREACH(c, d->reasons)
                if (strv_extend(&l, reason_message(c)) < 0)
                        return NULL;
        return l ? strv_join(l, ", ") : strdup("");
}

/* What the device is part of: its OSDs (from labels or LV tags), else who holds it, else,
 * for a dm device, what it sits on. */
static char *used_by_text(const Device *d) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *list = NULL;
        char *s = NULL;

        for (size_t i = 0; i < d->n_ceph; i++) {
                char osd[32];
                if (d->ceph[i].osd_id < 0)
                        continue;
                snprintf(osd, sizeof osd, "osd.%d", d->ceph[i].osd_id);
                if (!strv_contains(l, osd) && strv_extend(&l, osd) < 0)
                        return NULL;
        }
        if (l)
                return strv_join(l, ",");
        if (!strv_isempty(d->holders)) {
                list = strv_join(d->holders, ",");
                return list && asprintf(&s, "held by %s", list) >= 0 ? s : NULL;
        }
        if (!strv_isempty(d->slaves)) {
                list = strv_join(d->slaves, ",");
                return list && asprintf(&s, "on %s", list) >= 0 ? s : NULL;
        }
        return strdup("");
}

int format_table(FILE *f, const ScanResult *scan, Device *const *devices, size_t n, bool headings) {
        static const char *const header[] = { "PATH", "TYPE", "TRANSPORT", "SIZE", "ROT",
                                              "AVAILABLE", "STABLE ID", "USED BY", "REJECT REASONS" };
        Table *t = table_new(header, ELEMENTSOF(header));
        int r = 0;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const Device *d = devices[i];
                _cleanup_free_ char *reasons = reasons_text(d), *used = used_by_text(d);
                char size[FORMAT_SIZE_MAX];

                if (!reasons || !used) {
                        r = -ENOMEM;
                        break;
                }
                r = table_add_row(t, (const char *[]) {
                        d->path, device_type_to_string(d->type), transport_to_string(d->transport),
                        format_size(d->size, size, sizeof size), d->rotational ? "yes" : "no",
                        d->available ? "yes" : "no", isempty(d->stable_id) ? NULL : d->stable_id,
                        isempty(used) ? NULL : used, reasons });
        }
        if (r >= 0)
                table_print(t, f, headings);
        table_free(t);
        return r;
}

static int print_json(FILE *f, json_object *o) {
        int r = 0;

        if (!o)
                return -ENOMEM;
        if (fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE),
                  f) < 0 ||
            fputc('\n', f) < 0)
                r = -EIO;
        json_object_put(o);
        return r;
}

int format_json(FILE *f, const ScanResult *scan, Device *const *devices, size_t n, const char *sysroot) {
        Castle__Inventory *m = NULL;
        char host[256] = "";
        json_object *o;
        int r;

        (void) gethostname(host, sizeof host - 1);
        r = devproto_inventory_new(scan, devices, n, host, sysroot, &m);
        if (r < 0)
                return r;
        o = codec_message_to_json(&m->base);
        devproto_inventory_free(m);
        return print_json(f, o);
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

static json_object *jstr(const char *s) {
        return json_object_new_string(strempty(s));
}

static json_object *jnum_str(uint64_t v) {
        char buf[32];

        snprintf(buf, sizeof buf, "%" PRIu64, v);
        return json_object_new_string(buf);
}

static json_object *cv_partitions(const DeviceList *all, const Device *d) {
        json_object *o = json_object_new_object();

        STRV_FOREACH(p, d->partitions) {
                const Device *part = device_list_find(all, *p);
                json_object *e = json_object_new_object(), *holders = json_object_new_array();

                if (!part)
                        continue;
                json_object_object_add(e, "start", jnum_str(0));
                json_object_object_add(e, "sectors", jnum_str(part->size / 512));
                json_object_object_add(e, "sectorsize", json_object_new_int((int) (d->logical_sector_size ?: 512)));
                json_object_object_add(e, "size", json_object_new_double((double) part->size));
                json_object_object_add(e, "human_readable_size", cv_human_size(part->size));
                STRV_FOREACH(h, part->holders)
                        json_object_array_add(holders, jstr(*h));
                json_object_object_add(e, "holders", holders);
                json_object_object_add(o, *p, e);
        }
        return o;
}

static json_object *cv_lvs(const Device *d, bool *ret_ceph) {
        json_object *a = json_object_new_array();

        *ret_ceph = false;
        for (size_t i = 0; d->lvm && i < d->lvm->n_lvs; i++) {
                const LogicalVolume *lv = &d->lvm->lvs[i];
                json_object *e = json_object_new_object();
                const char *type = NULL;
                bool ceph = false;

                for (size_t t = 0; t < lv->n_tags; t++)
                        if (streq_ptr(lv->tags[t].key, "ceph.osd_id"))
                                ceph = true;
                        else if (streq_ptr(lv->tags[t].key, "ceph.type"))
                                type = lv->tags[t].value;
                json_object_object_add(e, "name", jstr(lv->name));
                if (!ceph) {
                        json_object_object_add(e, "comment", jstr("not used by ceph"));
                        json_object_array_add(a, e);
                        continue;
                }
                *ret_ceph = true;
                for (size_t t = 0; t < lv->n_tags; t++) {
                        static const char *const keys[] = { "osd_id", "cluster_name", "osd_fsid",
                                                            "cluster_fsid", "osdspec_affinity" };
                        const char *k = startswith(strempty(lv->tags[t].key), "ceph.");
                        for (size_t j = 0; k && j < ELEMENTSOF(keys); j++)
                                if (streq(k, keys[j]))
                                        json_object_object_add(e, k, jstr(lv->tags[t].value));
                        if (k && type && startswith(k, type) && streq(k + strlen(type), "_uuid"))
                                json_object_object_add(e, k, jstr(lv->tags[t].value));
                }
                json_object_object_add(e, "type", jstr(type));
                json_object_array_add(a, e);
        }
        return a;
}

int format_ceph_volume(FILE *f, const ScanResult *scan, Device *const *devices, size_t n) {
        json_object *list = json_object_new_array();

        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const Device *d = devices[i];
                const Device *parent = devscan_parent(scan->devices, d);
                json_object *o = json_object_new_object(), *sys = json_object_new_object(),
                            *reasons = json_object_new_array();
                _cleanup_free_ char *nodes = NULL, *parent_path = NULL;
                bool ceph_device;

                if (!o || !sys || !reasons) {
                        json_object_put(list);
                        return -ENOMEM;
                }
                nodes = strv_isempty(d->slaves) ? strdup(d->kname) : strv_join(d->slaves, ",");
                if (asprintf(&parent_path, "/dev/%s", parent ? parent->kname : d->kname) < 0)
                        parent_path = NULL;

                json_object_object_add(o, "path", jstr(d->path));
                json_object_object_add(sys, "removable", jstr(d->removable ? "1" : "0"));
                json_object_object_add(sys, "ro", jstr(d->read_only ? "1" : "0"));
                json_object_object_add(sys, "vendor", jstr(d->vendor));
                json_object_object_add(sys, "model", jstr(d->model));
                json_object_object_add(sys, "rev", jstr(d->revision));
                json_object_object_add(sys, "sas_address", jstr(d->sas_address));
                json_object_object_add(sys, "sas_device_handle", jstr(""));
                json_object_object_add(sys, "support_discard", jnum_str(d->discard_granularity));
                json_object_object_add(sys, "rotational", jstr(d->rotational ? "1" : "0"));
                json_object_object_add(sys, "nr_requests", jnum_str(d->nr_requests));
                json_object_object_add(sys, "partitions", cv_partitions(scan->devices, d));
                json_object_object_add(sys, "device_nodes", jstr(nodes));
                json_object_object_add(sys, "actuators", jstr(""));
                json_object_object_add(sys, "scheduler_mode", jstr(d->scheduler));
                json_object_object_add(sys, "sectors", json_object_new_int(0));
                json_object_object_add(sys, "sectorsize", jnum_str(d->logical_sector_size ?: 512));
                json_object_object_add(sys, "size", json_object_new_double((double) d->size));
                json_object_object_add(sys, "human_readable_size", cv_human_size(d->size));
                json_object_object_add(sys, "path", jstr(d->path));
                json_object_object_add(sys, "devname", jstr(d->kname));
                json_object_object_add(sys, "type", jstr(device_type_to_string(d->type)));
                json_object_object_add(sys, "parent", jstr(parent_path));
                json_object_object_add(sys, "id_bus", jstr(d->id_bus));
                json_object_object_add(o, "sys_api", sys);
                json_object_object_add(o, "lvs", cv_lvs(d, &ceph_device));
                json_object_object_add(o, "ceph_device", json_object_new_boolean(ceph_device));
                json_object_object_add(o, "lsm_data", json_object_new_object());
                json_object_object_add(o, "available", json_object_new_boolean(d->available));
                /* Castle's own reasons are listed too: a tool that shows ceph-volume's list
                 * then shows why castle refuses. */
                REASON_SET_FOREACH(c, d->reasons)
                        json_object_array_add(reasons, jstr(reason_message(c)));
                json_object_object_add(o, "rejected_reasons", reasons);
                json_object_object_add(o, "device_id", jstr(d->device_id));
                json_object_array_add(list, o);
        }
        return print_json(f, list);
}
