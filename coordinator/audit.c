/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail over the intent store: records wait in a queue while one batch is being
 * stored, and the records that came meanwhile become the next batch (one AuditBatch value
 * under "audit/<coordinator>/<time_usec>-<seq>"), so that a slow backend (a monitor commit is
 * about a second) costs a request one commit however many others arrive with it. Every record
 * is logged as it is made; what is read back is decoded with the bounded codec, since other
 * coordinators write it too. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/escape.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/timeutil.h"
#include "coordinator/audit.h"
#include "proto/codec.h"

/* Records waiting for the batch in flight; more are refused (the store has stalled). */
#define AUDIT_MAX_PENDING 65536
#define AUDIT_MAX_COORDINATOR_LEN 128

typedef struct Entry {
        Castle__AuditRecord *record;
        IntentDoneFn done;
        void *userdata;
        struct Entry *next;
} Entry;

struct Audit {
        Intent *intent;
        char *coordinator;
        uint64_t seq;           /* of batches, in their keys */
        uint64_t record_seq;    /* of records, in their ids */
        Entry *pending, **pending_tail;
        size_t n_pending;
        Entry *in_flight;       /* the batch being stored */
        bool busy;
};

static void record_free(Castle__AuditRecord *r) {
        if (r)
                castle__audit_record__free_unpacked(r, NULL);
}

/* Every string malloc'd, so that free_unpacked() frees the record. */
static Castle__AuditRecord *record_new(const char *id, int64_t time_usec, const char *coordinator, const AuditWho *who,
                                       const char *action, const char *node_id, const char *device,
                                       uint64_t command_id, const char *result) {
        Castle__AuditRecord *r = malloc(sizeof *r);

        if (!r)
                return NULL;
        castle__audit_record__init(r);
        r->time_usec = time_usec;
        r->command_id = command_id;
        r->id = strdup(strempty(id));
        r->coordinator = strdup(strempty(coordinator));
        r->key_name = strdup(strempty(who ? who->key_name : NULL));
        r->key_fingerprint = strdup(strempty(who ? who->key_fingerprint : NULL));
        r->role = strdup(strempty(who ? who->role : NULL));
        r->action = strdup(strempty(action));
        r->node_id = strdup(strempty(node_id));
        r->device = strdup(strempty(device));
        r->result = strndup(strempty(result), AUDIT_MAX_RESULT);
        if (!r->id || !r->coordinator || !r->key_name || !r->key_fingerprint || !r->role || !r->action ||
            !r->node_id || !r->device || !r->result) {
                /* free_unpacked would free the default empty string */
                free(r->id);
                free(r->coordinator);
                free(r->key_name);
                free(r->key_fingerprint);
                free(r->role);
                free(r->action);
                free(r->node_id);
                free(r->device);
                free(r->result);
                free(r);
                return NULL;
        }
        return r;
}

static Castle__AuditRecord *record_dup(const Castle__AuditRecord *r) {
        return record_new(r->id, r->time_usec, r->coordinator,
                          &(AuditWho) { .key_name = r->key_name, .key_fingerprint = r->key_fingerprint,
                                        .role = r->role },
                          r->action, r->node_id, r->device, r->command_id, r->result);
}

static void entries_free(Entry *e) {
        while (e) {
                Entry *next = e->next;
                record_free(e->record);
                free(e);
                e = next;
        }
}

int audit_new(Intent *intent, const char *coordinator, Audit **ret) {
        Audit *a;

        if (!codec_valid_id(coordinator) || strchr(coordinator, '/') ||
            strlen(coordinator) > AUDIT_MAX_COORDINATOR_LEN)
                return -EINVAL;
        a = calloc(1, sizeof(Audit));
        if (!a)
                return -ENOMEM;
        a->coordinator = strdup(coordinator);
        if (!a->coordinator) {
                free(a);
                return -ENOMEM;
        }
        a->intent = intent;
        a->pending_tail = &a->pending;
        *ret = a;
        return 0;
}

/* A batch still in the intent store's hands is dropped with its callers' callbacks: the
 * intent store drops its completion too (intent_close()). */
Audit *audit_free(Audit *a) {
        if (!a)
                return NULL;
        entries_free(a->pending);
        entries_free(a->in_flight);
        free(a->coordinator);
        free(a);
        return NULL;
}

static size_t varint_size(size_t v) {
        size_t n = 1;

        for (; v >= 0x80; v >>= 7)
                n++;
        return n;
}

static void on_batch_stored(int error, void *userdata);

/* Sends the pending records that fit in one value as the next batch. */
static int flush(Audit *a) {
        _cleanup_free_ Castle__AuditRecord **records = NULL;
        Castle__AuditBatch batch = CASTLE__AUDIT_BATCH__INIT;
        _cleanup_free_ uint8_t *buf = NULL;
        Entry *e, **tail;
        size_t n = 0, size = 0, packed;
        char key[INTENT_MAX_KEY + 1];
        int r;

        if (a->busy || !a->pending)
                return 0;
        /* what fits: each record costs its bytes, a tag and a length */
        for (e = a->pending; e && n < CODEC_MAX_AUDIT_RECORDS; e = e->next) {
                size_t s = castle__audit_record__get_packed_size(e->record);
                s += 1 + varint_size(s);
                if (n > 0 && size + s > INTENT_MAX_VALUE)
                        break;
                size += s;
                n++;
        }
        records = calloc(n, sizeof(Castle__AuditRecord *));
        if (!records)
                return -ENOMEM;
        tail = &a->pending;
        for (size_t k = 0; k < n; k++, tail = &(*tail)->next)
                records[k] = (*tail)->record;
        batch.records = records;
        batch.n_records = n;
        r = codec_pack(&batch.base, &buf, &packed);
        if (r < 0)
                return r;
        snprintf(key, sizeof key, "audit/%s/%016" PRId64 "-%08" PRIu64, a->coordinator, records[0]->time_usec,
                 a->seq);
        a->seq++;
        r = intent_put(a->intent, key, buf, packed, on_batch_stored, a);
        if (r < 0)
                return r;
        /* the first n entries are the batch in flight */
        a->in_flight = a->pending;
        a->pending = *tail;
        *tail = NULL;
        a->n_pending -= n;
        if (!a->pending)
                a->pending_tail = &a->pending;
        a->busy = true;
        return 0;
}

static void complete(Entry *batch, int error) {
        for (Entry *e = batch; e; e = e->next)
                if (e->done)
                        e->done(error, e->userdata);
        entries_free(batch);
}

static void flush_all(Audit *a) {
        int r;

        while (!a->busy && a->pending) {
                r = flush(a);
                if (r >= 0)
                        break;
                /* this batch cannot even be queued: its records are lost, its requests refused */
                log_warning_errno(r, "Audit: %zu record(s) could not be queued for the intent store: %m",
                                  a->n_pending);
                Entry *all = a->pending;
                a->pending = NULL;
                a->pending_tail = &a->pending;
                a->n_pending = 0;
                complete(all, r);
        }
}

static void on_batch_stored(int error, void *userdata) {
        Audit *a = userdata;
        Entry *batch = a->in_flight;

        a->in_flight = NULL;
        if (error < 0) {
                size_t n = 0;
                for (Entry *e = batch; e; e = e->next)
                        n++;
                log_warning_errno(error, "Audit: %zu record(s) could not be stored in the intent store: %m", n);
        }
        /* still busy while the callers hear of it: what they record now joins the next batch */
        complete(batch, error);
        a->busy = false;
        flush_all(a);
}

static void log_record(const Castle__AuditRecord *r) {
        _cleanup_free_ char *action = strdup_escaped(r->action), *node = strdup_escaped(r->node_id),
                            *device = strdup_escaped(r->device), *name = strdup_escaped(r->key_name),
                            *role = strdup_escaped(r->role), *result = strdup_escaped(r->result);

        log_info("Audit %s: %s, node %s, device %s, command %" PRIu64 ", by %s (role %s, key %s): %s.", r->id,
                 strempty(action), isempty(node) ? "-" : node, isempty(device) ? "-" : device, r->command_id,
                 isempty(name) ? "-" : name, isempty(role) ? "-" : role,
                 isempty(r->key_fingerprint) ? "-" : r->key_fingerprint, strempty(result));
}

static int record(Audit *a, const AuditWho *who, const char *action, const char *node_id, const char *device,
                  uint64_t command_id, const char *result, IntentDoneFn done, void *userdata) {
        int64_t now = now_realtime_usec();
        char id[AUDIT_MAX_COORDINATOR_LEN + 64];
        Entry *e;
        int r;

        if (a->n_pending >= AUDIT_MAX_PENDING)
                return -ENOBUFS;
        e = calloc(1, sizeof(Entry));
        if (!e)
                return -ENOMEM;
        snprintf(id, sizeof id, "%s/%" PRId64 "/%" PRIu64, a->coordinator, now, a->record_seq++);
        e->record = record_new(id, now, a->coordinator, who, action, node_id, device, command_id, result);
        if (!e->record) {
                free(e);
                return -ENOMEM;
        }
        e->done = done;
        e->userdata = userdata;
        log_record(e->record);

        *a->pending_tail = e;
        a->pending_tail = &e->next;
        a->n_pending++;
        if (a->busy)
                return 0;
        /* not busy: nothing was pending, so the batch is this record alone */
        r = flush(a);
        if (r < 0) {
                a->pending = NULL;
                a->pending_tail = &a->pending;
                a->n_pending = 0;
                entries_free(e);
                return r;
        }
        return 0;
}

int audit_request(Audit *a, const AuditWho *who, const char *action, const char *node_id, const char *device,
                  uint64_t command_id, IntentDoneFn done, void *userdata) {
        return record(a, who, action, node_id, device, command_id, "requested", done, userdata);
}

int audit_result(Audit *a, const AuditWho *who, const char *action, const char *node_id, const char *device,
                 uint64_t command_id, const char *result) {
        return record(a, who, action, node_id, device, command_id, result, NULL, NULL);
}

typedef struct ListCtx {
        int64_t since;
        Castle__AuditRecord **records;
        size_t n, allocated;
        size_t undecodable;
} ListCtx;

static int list_batch(const char *key, const void *value, size_t size, void *userdata) {
        ListCtx *c = userdata;
        Castle__AuditBatch *b = NULL;
        int r;

        r = codec_audit_batch_unpack(value, size, &b);
        if (r < 0) {
                log_debug("Audit: %s does not decode: %s.", key, codec_strerror(r));
                c->undecodable++;
                return 0;
        }
        for (size_t i = 0; i < b->n_records; i++) {
                Castle__AuditRecord *rec;

                if (b->records[i]->time_usec < c->since)
                        continue;
                if (c->n == c->allocated) {
                        size_t m = MAX(c->allocated * 2, (size_t) 64);
                        Castle__AuditRecord **p = realloc(c->records, m * sizeof(*p));
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        c->records = p;
                        c->allocated = m;
                }
                rec = record_dup(b->records[i]);
                if (!rec) {
                        r = -ENOMEM;
                        break;
                }
                c->records[c->n++] = rec;
        }
        castle__audit_batch__free_unpacked(b, NULL);
        return r;
}

static int record_cmp(const void *x, const void *y) {
        const Castle__AuditRecord *a = *(Castle__AuditRecord *const *) x, *b = *(Castle__AuditRecord *const *) y;
        int k;

        if (a->time_usec != b->time_usec)
                return a->time_usec < b->time_usec ? -1 : 1;
        k = strcmp(a->coordinator, b->coordinator);
        if (k != 0)
                return k;
        return strcmp(a->id, b->id);
}

int audit_list(Audit *a, int64_t since_usec, size_t limit, Castle__AuditRecord ***ret, size_t *ret_n) {
        ListCtx c = { .since = since_usec };
        int r;

        r = intent_list(a->intent, "audit/", list_batch, &c);
        if (r < 0) {
                audit_records_free(c.records, c.n);
                return r;
        }
        if (c.undecodable > 0)
                log_warning("Audit: %zu batch(es) of the intent store do not decode; left out.", c.undecodable);
        if (c.n > 0)
                qsort(c.records, c.n, sizeof(*c.records), record_cmp);
        if (limit > 0 && c.n > limit) {
                for (size_t i = 0; i < c.n - limit; i++)
                        record_free(c.records[i]);
                memmove(c.records, c.records + (c.n - limit), limit * sizeof(*c.records));
                c.n = limit;
        }
        *ret = c.records;
        *ret_n = c.n;
        return 0;
}

void audit_records_free(Castle__AuditRecord **records, size_t n) {
        for (size_t i = 0; i < n; i++)
                record_free(records[i]);
        free(records);
}

static void set_str(char *dst, size_t size, const char *s, size_t len) {
        snprintf(dst, size, "%.*s", (int) MIN(len, size - 1), s);
}

void audit_caller_set(AuditCaller *c, const AuditWho *who) {
        set_str(c->role, sizeof c->role, strempty(who->role), SIZE_MAX);
        set_str(c->key_name, sizeof c->key_name, strempty(who->key_name), SIZE_MAX);
        set_str(c->key_fingerprint, sizeof c->key_fingerprint, strempty(who->key_fingerprint), SIZE_MAX);
        c->who = (AuditWho) { .role = c->role, .key_name = c->key_name, .key_fingerprint = c->key_fingerprint };
}

const char *audit_command_action(const Castle__Command *c) {
        switch (c ? c->kind_case : CASTLE__COMMAND__KIND__NOT_SET) {
        case CASTLE__COMMAND__KIND_OSD_CREATE:
                return c->osd_create->dry_run ? "osd create --dry-run" : "osd create";
        case CASTLE__COMMAND__KIND_RESCAN:
                return "rescan";
        case CASTLE__COMMAND__KIND_POLICY:
                return "policy";
        case CASTLE__COMMAND__KIND_ZAP:
                return c->zap->destroy ? "zap --destroy" : "zap";
        case CASTLE__COMMAND__KIND_OSD_REMOVE:
                return c->osd_remove->cancel ? "osd rm cancel" : c->osd_remove->replace ? "osd rm --replace" : "osd rm";
        case CASTLE__COMMAND__KIND_OSD_REPLACE:
                return "osd replace";
        default:
                return "command";
        }
}

/* Appends name to buf (a list separated by ','), or "..." once it is full. */
static void devices_add(char *buf, size_t size, const char *name) {
        size_t n = strlen(buf);

        if (isempty(name) || (n >= 3 && streq(buf + n - 3, "...")))
                return;
        if (n + 1 + strlen(name) + 5 > size) {
                snprintf(buf + n, size - n, "%s...", n > 0 ? "," : "");
                return;
        }
        snprintf(buf + n, size - n, "%s%s", n > 0 ? "," : "", name);
}

const char *audit_command_device(const Castle__Command *c) {
        /* a batch names every data, DB and WAL device; the list lives until the next call on
         * this thread (callers copy it at once) */
        static _Thread_local char buf[AUDIT_DEVICES_MAX];
        const Castle__OsdCreate *o;

        if (c && c->kind_case == CASTLE__COMMAND__KIND_ZAP)
                return c->zap->device;
        if (!c || c->kind_case != CASTLE__COMMAND__KIND_OSD_CREATE)
                return NULL;
        o = c->osd_create;
        if (o->n_data_devices == 0 && o->n_db_devices == 0 && o->n_wal_devices == 0)
                return o->device_id;
        buf[0] = 0;
        devices_add(buf, sizeof buf, o->device_id);
        for (size_t i = 0; i < o->n_data_devices; i++)
                devices_add(buf, sizeof buf, o->data_devices[i]);
        for (size_t i = 0; i < o->n_db_devices; i++) {
                char *s;
                if (asprintf(&s, "db:%s", strempty(o->db_devices[i])) < 0)
                        continue;
                devices_add(buf, sizeof buf, s);
                free(s);
        }
        for (size_t i = 0; i < o->n_wal_devices; i++) {
                char *s;
                if (asprintf(&s, "wal:%s", strempty(o->wal_devices[i])) < 0)
                        continue;
                devices_add(buf, sizeof buf, s);
                free(s);
        }
        return buf;
}
