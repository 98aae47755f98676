/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Debounce logic. */
#include <stdlib.h>

#include "agent/debounce.h"
#include "common/strv.h"

void debounce_init(Debounce *d, uint64_t quiet_usec, uint64_t max_delay_usec) {
        *d = (Debounce) { .quiet_usec = quiet_usec, .max_delay_usec = MAX(max_delay_usec, quiet_usec) };
}

void debounce_done(Debounce *d) {
        d->dirty = strv_free(d->dirty);
}

static void event(Debounce *d, uint64_t now) {
        if (!d->pending)
                d->first = now;
        d->last = now;
        d->pending = true;
}

void debounce_touch(Debounce *d, const char *kname, uint64_t now) {
        event(d, now);
        if (d->full)
                return;
        if (strv_length(d->dirty) >= DEBOUNCE_MAX_DIRTY || strv_extend_unique(&d->dirty, kname) < 0) {
                d->full = true; /* out of room or memory: fall back to the safe choice */
                d->dirty = strv_free(d->dirty);
        }
}

void debounce_rescan(Debounce *d, uint64_t now) {
        event(d, now);
}

void debounce_full(Debounce *d, uint64_t now) {
        event(d, now);
        d->full = true;
        d->dirty = strv_free(d->dirty);
}

uint64_t debounce_due(const Debounce *d) {
        if (!d->pending)
                return UINT64_MAX;
        return MIN(d->last + d->quiet_usec, d->first + d->max_delay_usec);
}

bool debounce_take(Debounce *d, uint64_t now, char ***ret_dirty, bool *ret_full) {
        if (now < debounce_due(d))
                return false;
        *ret_dirty = TAKE_PTR(d->dirty);
        *ret_full = d->full;
        d->pending = false;
        d->full = false;
        return true;
}
