/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mark-out decision (markout.h): the OSDs in a failing episode, marked once each. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/markout.h"
#include "common/macro.h"

/* A node holds a few dozen OSDs. */
#define MARK_OUT_MAX 1024

struct MarkOut {
        int *marked;            /* OSDs marked out (or being) in their disk's current failing episode */
        size_t n;
        unsigned long count;
};

int mark_out_new(MarkOut **ret) {
        MarkOut *m = calloc(1, sizeof *m);

        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

MarkOut *mark_out_free(MarkOut *m) {
        if (!m)
                return NULL;
        free(m->marked);
        free(m);
        return NULL;
}

static bool marked(const MarkOut *m, int id) {
        for (size_t i = 0; i < m->n; i++)
                if (m->marked[i] == id)
                        return true;
        return false;
}

static const MarkOutOsd *find(const MarkOutOsd *osds, size_t n, int id) {
        for (size_t i = 0; i < n; i++)
                if (osds[i].osd_id == id)
                        return &osds[i];
        return NULL;
}

int mark_out_decide(MarkOut *m, bool enabled, const MarkOutOsd *osds, size_t n, int **ret, size_t *ret_n) {
        _cleanup_free_ int *out = NULL;
        size_t k = 0, n_out = 0;

        /* An episode ends when the disk is seen not failing (or the OSD is gone). */
        for (size_t i = 0; i < m->n; i++) {
                const MarkOutOsd *o = find(osds, n, m->marked[i]);

                if (o && o->failing)
                        m->marked[k++] = m->marked[i];
        }
        m->n = k;
        if (enabled)
                for (size_t i = 0; i < n; i++) {
                        int *v;

                        if (!osds[i].failing || osds[i].osd_id < 0 || marked(m, osds[i].osd_id))
                                continue;
                        if (m->n >= MARK_OUT_MAX)
                                break;
                        v = reallocarray(m->marked, m->n + 1, sizeof *v);
                        if (!v)
                                return -ENOMEM;
                        m->marked = v;
                        v = reallocarray(out, n_out + 1, sizeof *v);
                        if (!v)
                                return -ENOMEM;
                        out = v;
                        m->marked[m->n++] = osds[i].osd_id;
                        out[n_out++] = osds[i].osd_id;
                }
        *ret = TAKE_PTR(out);
        *ret_n = n_out;
        return 0;
}

void mark_out_result(MarkOut *m, int osd_id, bool ok) {
        size_t k = 0;

        if (!m)
                return;
        if (ok) {
                m->count++;
                return;
        }
        for (size_t i = 0; i < m->n; i++)
                if (m->marked[i] != osd_id)
                        m->marked[k++] = m->marked[i];
        m->n = k;
}

unsigned long mark_out_count(const MarkOut *m) {
        return m ? m->count : 0;
}
