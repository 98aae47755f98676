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
