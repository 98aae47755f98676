/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Output formatting for `castlectl inventory`: the table, castle's JSON, and ceph-volume's
 * layout (cvformat's, from the same wire record the coordinator keeps). */
#include <json-c/json.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cvformat.h"
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

/* "ok", "failing: NVMe critical warning: ..." */
static char *health_text(const Device *d) {
        _cleanup_free_ char *why = NULL;
        char *s;

        if (!d->health)
                return strdup("");
        why = health_explain(d->health);
        if (!why)
                return NULL;
        if (asprintf(&s, "%s%s%s", health_verdict_to_string(d->health->verdict), isempty(why) ? "" : ": ", why) < 0)
                return NULL;
        return s;
}

int format_table(FILE *f, const ScanResult *scan, Device *const *devices, size_t n, bool headings) {
        static const char *const header[] = { "PATH", "TYPE", "TRANSPORT", "SIZE", "ROT",
                                              "AVAILABLE", "STABLE ID", "USED BY", "REJECT REASONS", "HEALTH" };
        bool health = false;
        Table *t;
        int r = 0;

        /* the HEALTH column only when it was read (castlectl inventory --health) */
        for (size_t i = 0; i < n; i++)
                health = health || devices[i]->health;
        t = table_new(header, ELEMENTSOF(header) - !health);

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const Device *d = devices[i];
                _cleanup_free_ char *reasons = reasons_text(d), *used = used_by_text(d), *h = health_text(d);
                char size[FORMAT_SIZE_MAX];

                if (!reasons || !used || !h) {
                        r = -ENOMEM;
                        break;
                }
                r = table_add_row(t, (const char *[]) {
                        d->path, device_type_to_string(d->type), transport_to_string(d->transport),
                        format_size(d->size, size, sizeof size), d->rotational ? "yes" : "no",
                        d->available ? "yes" : "no", isempty(d->stable_id) ? NULL : d->stable_id,
                        isempty(used) ? NULL : used, reasons, isempty(h) ? NULL : h });
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

static const Castle__Device *inventory_find(const char *kname, void *userdata) {
        const Castle__Inventory *m = userdata;

        for (size_t i = 0; i < m->n_devices; i++)
                if (streq(strempty(m->devices[i]->kname), kname))
                        return m->devices[i];
        return NULL;
}

int format_ceph_volume(FILE *f, const ScanResult *scan, Device *const *devices, size_t n) {
        Castle__Inventory *m = NULL;
        json_object *list;
        int r;

        /* Every device of the scan, for the partitions and parents of the ones listed. */
        r = devproto_inventory_new(scan, scan->devices->items, scan->devices->n, NULL, NULL, &m);
        if (r < 0)
                return r;
        list = json_object_new_array();
        for (size_t i = 0; list && i < n; i++) {
                const Castle__Device *d = inventory_find(devices[i]->kname, m);
                json_object *o = d ? cv_device(d, inventory_find, m) : NULL;

                if (!o) {
                        json_object_put(list);
                        list = NULL;
                        break;
                }
                json_object_array_add(list, o);
        }
        devproto_inventory_free(m);
        return print_json(f, list);
}
