/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail: every state-changing request (who, what, which node and device, when, the
 * result) kept in the intent store under "audit/", in batches (AuditBatch: one intent value per
 * batch, a batch per monitor commit). audit_request() is written before the request is acted
 * on: its completion says whether the coordinator may go on; audit_result() follows with what
 * became of it. Each record is also logged. Secrets never reach it: a record holds key names,
 * fingerprints (public keys), node ids, device ids and results. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/intent.h"
#include "proto/castle.pb-c.h"

typedef struct Audit Audit;

/* Who made a request: from the ZAP handler's User-Id (zap.h). */
typedef struct AuditWho {
        const char *key_name, *key_fingerprint, *role;
} AuditWho;

/* A result is cut to this many bytes (an agent's error text), so that a batch holds tens. */
#define AUDIT_MAX_RESULT 1024
/* audit_list()'s records when the query gives no limit. */
#define AUDIT_DEFAULT_LIMIT 1000

/* An AuditWho with room for its strings. */
typedef struct AuditCaller {
        char role[16], key_name[128], key_fingerprint[64];
        AuditWho who;   /* into the arrays above */
} AuditCaller;

/* How a command is named in the trail: "osd create" ("osd create --dry-run"), "rescan",
 * "policy"; and the device it names, or NULL. */
const char *audit_command_action(const Castle__Command *c);
/* The device a command names; for a batch create, its devices joined by ',' (DB and WAL ones as
 * db:NAME, wal:NAME; "..." past AUDIT_DEVICES_MAX), valid until the next call on this thread. */
#define AUDIT_DEVICES_MAX 1024
const char *audit_command_device(const Castle__Command *c);

/* Copies who into c (its strings cut to c's arrays). */
void audit_caller_set(AuditCaller *c, const AuditWho *who);

/* coordinator: this coordinator's name, in every record's id and coordinator field. */
int audit_new(Intent *intent, const char *coordinator, Audit **ret);
Audit *audit_free(Audit *a);

/* Records a request and calls done (on the loop) once it is durable, or with why it is not:
 * then the request must be refused. node_id, device may be NULL. */
int audit_request(Audit *a, const AuditWho *who, const char *action, const char *node_id, const char *device,
                  uint64_t command_id, IntentDoneFn done, void *userdata);
/* Records what became of a request ("ok", "failed: ...", "refused: ..."); not waited for. */
int audit_result(Audit *a, const AuditWho *who, const char *action, const char *node_id, const char *device,
                 uint64_t command_id, const char *result);
/* Records at or after since_usec, oldest first, at most limit of the newest (0: all). */
int audit_list(Audit *a, int64_t since_usec, size_t limit, Castle__AuditRecord ***ret, size_t *ret_n);
void audit_records_free(Castle__AuditRecord **records, size_t n);
