/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ZAP handler (ZeroMQ RFC 27): decides which peers may connect. Each ZAP domain has its
 * own allowlist directory of public key files; a CURVE client is admitted only if its key is
 * in the directory of the socket's domain. The lists are re-read when a directory changes
 * and on zap_reload(). Without a handler libzmq would admit every CURVE client, so the
 * handler must run before any server socket binds. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Zap Zap;

typedef struct ZapDomain {
        const char *name;       /* e.g. "agents" */
        const char *key_dir;    /* directory of allowed public keys */
} ZapDomain;

typedef struct ZapStats {
        uint64_t allowed, denied_unknown_key, denied_mechanism, denied_domain, malformed;
} ZapStats;

/* insecure: also admit peers without CURVE (NULL mechanism). */
int zap_start(const ZapDomain *domains, size_t n, bool insecure, Zap **ret);
Zap *zap_stop(Zap *z);
void zap_reload(Zap *z);
ZapStats zap_stats(Zap *z);
