/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The intent store's backend in the Ceph monitors' config-key store, through librados:
 * castle's pairs live under one key prefix, which is all the coordinators' cephx key may touch.
 * It connects lazily, on the intent worker thread, so that a coordinator starts and answers
 * queries while the monitors are away; every call gives up after timeout_usec. */
#pragma once

#include <stdint.h>

#include "coordinator/intent.h"

typedef struct IntentCephOptions {
        const char *conf;       /* ceph.conf */
        const char *name;       /* the cephx user, "client.castle-coordinator" */
        const char *keyring;
        const char *prefix;     /* "castle/" */
        const char *writer;     /* this coordinator's name: its own keys, and its cursor's */
        uint64_t timeout_usec;  /* per monitor command */
} IntentCephOptions;

int intent_ceph_backend(const IntentCephOptions *o, IntentBackend *ret);
