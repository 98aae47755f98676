/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The settle check (settle.h): each followed device's packed-record hash, its written sectors
 * and since when both are as they are. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/settle.h"
#include "common/log.h"
#include "common/macro.h"

typedef struct Track {
        char *key;
        uint64_t hash;          /* of its packed Device record */
        uint64_t written;       /* sectors written; valid when has_written */
        bool has_written;
        uint64_t since;
        bool seen;              /* checked in this round */
        bool fresh;             /* not compared yet */
} Track;

struct SettleTracker {
        SettleWrittenFn written;
        void *userdata;
        Track *tracks;
        size_t n;
};

int settle_tracker_new(SettleWrittenFn written, void *userdata, SettleTracker **ret) {
        SettleTracker *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        t->written = written;
        t->userdata = userdata;
        *ret = t;
        return 0;
}

SettleTracker *settle_tracker_free(SettleTracker *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                free(t->tracks[i].key);
        free(t->tracks);
        free(t);
        return NULL;
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * UINT64_C(1099511628211);
        return h;
}

/* The record's hash without its health: a disk's temperature or power-on hours move on their own
 * and are no change of the device. A failing disk is not available, which its reasons say. */
static uint64_t record_hash(const ReportEntry *e) {
        Castle__Device copy;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;

        if (!e->msg->health)
                return fnv1a(e->packed, e->size);
        copy = *e->msg;
        copy.health = NULL;
        n = protobuf_c_message_get_packed_size(&copy.base);
        buf = malloc(n ?: 1);
        if (!buf)
                return fnv1a(e->packed, e->size);
        protobuf_c_message_pack(&copy.base, buf);
        return fnv1a(buf, n);
}

static Track *track_get(SettleTracker *s, const char *key) {
        Track *t;

        for (size_t i = 0; i < s->n; i++)
                if (streq(s->tracks[i].key, key))
                        return &s->tracks[i];
        t = realloc(s->tracks, (s->n + 1) * sizeof(Track));
        if (!t)
                return NULL;
        s->tracks = t;
        t = &s->tracks[s->n];
        *t = (Track) { .key = strdup(key), .fresh = true };
        if (!t->key)
                return NULL;
        s->n++;
        return t;
}

void settle_begin(SettleTracker *t) {
        for (size_t i = 0; i < t->n; i++)
                t->tracks[i].seen = false;
}

void settle_end(SettleTracker *t) {
        size_t k = 0;

        for (size_t i = 0; i < t->n; i++)
                if (t->tracks[i].seen)
                        t->tracks[k++] = t->tracks[i];
                else
                        free(t->tracks[i].key);
        t->n = k;
}

bool settle_check(SettleTracker *s, const ReportEntry *e, uint64_t settle_usec, uint64_t now, uint64_t *wait_until) {
        uint64_t h = record_hash(e), w = 0;
        bool has_w = s->written && s->written(e->msg->kname, &w, s->userdata) >= 0;
        Track *t = track_get(s, e->key);

        if (!t)
                return false;
        if (t->fresh) {
                t->since = now;
                t->hash = h;
                t->fresh = false;
        } else if (t->hash != h || t->has_written != has_w || (has_w && t->written != w)) {
                log_debug("Device %s changed: its settle time starts over.", e->msg->path);
                t->since = now;
                t->hash = h;
        }
        t->written = w;
        t->has_written = has_w;
        t->seen = true;
        if (now - t->since >= settle_usec)
                return true;
        *wait_until = MAX(*wait_until, t->since + settle_usec);
        return false;
}
