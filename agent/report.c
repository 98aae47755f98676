/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device pictures and their differences. Two devices are the same when their packed
 * messages are byte-identical: the Device message holds no timestamps, so an unchanged
 * device packs to the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/report.h"
#include "common/macro.h"
#include "proto/codec.h"
#include "proto/devproto.h"

Report *report_ref(Report *r) {
        if (r)
                r->extra_refs++;
        return r;
}

Report *report_free(Report *r) {
        if (!r)
                return NULL;
        if (r->extra_refs > 0) {
                r->extra_refs--;
                return NULL;
        }
        for (size_t i = 0; i < r->n; i++) {
                free(r->entries[i].key);
                free(r->entries[i].packed);
                devproto_device_free(r->entries[i].msg);
        }
        free(r->entries);
        free(r);
        return NULL;
}

void report_freep(Report **r) {
        report_free(*r);
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const ReportEntry *) a)->key, ((const ReportEntry *) b)->key);
}

int report_build(const ScanResult *scan, const ReportSelection *sel, Report **ret) {
        _cleanup_(report_freep) Report *r = calloc(1, sizeof(Report));
        const DeviceList *l = scan->devices;
        int k;

        if (!r || !(r->entries = calloc(l->n ?: 1, sizeof(ReportEntry))))
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                const Device *d = l->items[i];
                ReportEntry *e = &r->entries[r->n];

                if (!filter_listed_by_default(d, sel->all, sel->allow_loop) || !filter_match(sel->filter, d))
                        continue;
                k = devproto_device_new(d, &e->msg);
                if (k < 0)
                        return k;
                r->n++;
                if (!isempty(d->stable_id))
                        e->key = strdup(d->stable_id);
                else if (asprintf(&e->key, "kname:%s", d->kname) < 0)
                        e->key = NULL;
                if (!e->key)
                        return -ENOMEM;
                k = codec_pack(&e->msg->base, &e->packed, &e->size);
                if (k < 0)
                        return k;
        }
        qsort(r->entries, r->n, sizeof(ReportEntry), cmp_entry);
        /* Two devices with one key (a shared LUN seen twice): keep the first, the coordinator
         * keys devices the same way. */
        for (size_t i = 1; i < r->n;) {
                if (streq(r->entries[i].key, r->entries[i - 1].key)) {
                        free(r->entries[i].key);
                        free(r->entries[i].packed);
                        devproto_device_free(r->entries[i].msg);
                        memmove(&r->entries[i], &r->entries[i + 1], (r->n - i - 1) * sizeof(ReportEntry));
                        r->n--;
                } else
                        i++;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

int report_diff(const Report *prev, const Report *next, Castle__Device ***ret_changed, size_t *ret_n_changed,
                char ***ret_removed, size_t *ret_n_removed) {
        Castle__Device **changed = calloc(next->n ?: 1, sizeof(Castle__Device *));
        char **removed = calloc(prev && prev->n ? prev->n : 1, sizeof(char *));
        size_t i = 0, j = 0, nc = 0, nr = 0, np = prev ? prev->n : 0;

        if (!changed || !removed) {
                free(changed);
                free(removed);
                return -ENOMEM;
        }
        /* Both are sorted by key: one merge pass. */
        while (i < np || j < next->n) {
                int c = i >= np ? 1 : j >= next->n ? -1 : strcmp(prev->entries[i].key, next->entries[j].key);
                if (c < 0)
                        removed[nr++] = prev->entries[i++].key;
                else if (c > 0)
                        changed[nc++] = next->entries[j++].msg;
                else {
                        const ReportEntry *a = &prev->entries[i++], *b = &next->entries[j++];
                        if (a->size != b->size || memcmp(a->packed, b->packed, a->size) != 0)
                                changed[nc++] = b->msg;
                }
        }
        *ret_changed = changed;
        *ret_n_changed = nc;
        *ret_removed = removed;
        *ret_n_removed = nr;
        return 0;
}

int report_devices(const Report *r, Castle__Device ***ret, size_t *ret_n) {
        Castle__Device **a = calloc(r->n ?: 1, sizeof(Castle__Device *));

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < r->n; i++)
                a[i] = r->entries[i].msg;
        *ret = a;
        *ret_n = r->n;
        return 0;
}
