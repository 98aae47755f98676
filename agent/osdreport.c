/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's OSD report (osdreport.h). Each list is held as a Heartbeat that carries only it,
 * packed and unpacked: the packed bytes say whether a new list differs, the unpacked message
 * owns the copy the sessions' heartbeats point at. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/osdreport.h"
#include "common/macro.h"

typedef struct ReportList {
        Castle__Heartbeat *msg; /* unpacked copy; NULL: empty */
        uint8_t *packed;
        size_t size;
} ReportList;

enum { LIST_STATES, LIST_REMOVALS, LIST_RESERVATIONS, _LIST_MAX };

struct OsdReport {
        ReportList list[_LIST_MAX];
};

int osd_report_new(OsdReport **ret) {
        OsdReport *r = calloc(1, sizeof *r);

        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static void list_done(ReportList *l) {
        if (l->msg)
                castle__heartbeat__free_unpacked(l->msg, NULL);
        free(l->packed);
        *l = (ReportList) {};
}

OsdReport *osd_report_free(OsdReport *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < _LIST_MAX; i++)
                list_done(&r->list[i]);
        free(r);
        return NULL;
}

/* h carries one list: it replaces r's list number i if it differs. */
static int list_set(ReportList *l, const Castle__Heartbeat *h) {
        size_t size = castle__heartbeat__get_packed_size(h);
        uint8_t *packed = NULL;
        Castle__Heartbeat *msg = NULL;

        if (size == l->size && (size == 0 || l->packed)) {
                _cleanup_free_ uint8_t *now = malloc(MAX(size, 1U));

                if (!now)
                        return -ENOMEM;
                castle__heartbeat__pack(h, now);
                if (size == 0 || memcmp(now, l->packed, size) == 0)
                        return 0;
        }
        packed = malloc(MAX(size, 1U));
        if (!packed)
                return -ENOMEM;
        castle__heartbeat__pack(h, packed);
        if (size > 0) {
                msg = castle__heartbeat__unpack(NULL, size, packed);
                if (!msg) {
                        free(packed);
                        return -ENOMEM;
                }
        }
        list_done(l);
        *l = (ReportList) { .msg = msg, .packed = packed, .size = size };
        return 1;
}

int osd_report_set_states(OsdReport *r, Castle__OsdState *const *v, size_t n) {
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;

        h.osds = (Castle__OsdState **) v;
        h.n_osds = n;
        return list_set(&r->list[LIST_STATES], &h);
}

int osd_report_set_removals(OsdReport *r, Castle__OsdRemoval *const *v, size_t n) {
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;

        h.removals = (Castle__OsdRemoval **) v;
        h.n_removals = n;
        return list_set(&r->list[LIST_REMOVALS], &h);
}

int osd_report_set_reservations(OsdReport *r, Castle__OsdReservation *const *v, size_t n) {
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;

        h.reservations = (Castle__OsdReservation **) v;
        h.n_reservations = n;
        return list_set(&r->list[LIST_RESERVATIONS], &h);
}

void osd_report_fill(const OsdReport *r, Castle__Heartbeat *h) {
        const Castle__Heartbeat *s = r->list[LIST_STATES].msg, *m = r->list[LIST_REMOVALS].msg,
                                *v = r->list[LIST_RESERVATIONS].msg;

        h->osds = s ? s->osds : NULL;
        h->n_osds = s ? s->n_osds : 0;
        h->removals = m ? m->removals : NULL;
        h->n_removals = m ? m->n_removals : 0;
        h->reservations = v ? v->reservations : NULL;
        h->n_reservations = v ? v->n_reservations : 0;
}
