/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ZAP handler (ZeroMQ RFC 27): decides which peers may connect, and who they are. Each
 * ZAP domain has one or more allowlist directories of public key files, each giving its keys a
 * role; a CURVE client is admitted only if its key is in a directory of the socket's domain.
 * The lists are re-read when a directory changes and on zap_reload(). Without a handler libzmq
 * would admit every CURVE client, so the handler must run before any server socket binds.
 *
 * An admitted peer's messages carry the ZAP User-Id, "ROLE NAME FINGERPRINT": ROLE is viewer,
 * operator or admin for query clients and agent for agents, NAME the key file's name in the
 * allowlist (without ".key"), FINGERPRINT the Z85 public key. An agent's key file may name its
 * node (zcert metadata `node = NAME`, castlectl keygen --node): then a fourth field follows,
 * "agent NAME FINGERPRINT NODE". With --insecure a peer without CURVE is "admin insecure -"
 * (query) or "agent insecure -" (agents). zap_peer_parse() reads it back. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Zap Zap;

/* Client roles are ordered: a role may do what the ones below it may. */
typedef enum ZapRole {
        ZAP_ROLE_NONE,          /* no User-Id: not authenticated (a socket without ZAP) */
        ZAP_ROLE_AGENT,
        ZAP_ROLE_VIEWER,
        ZAP_ROLE_OPERATOR,
        ZAP_ROLE_ADMIN,
        _ZAP_ROLE_MAX,
} ZapRole;

const char *zap_role_to_string(ZapRole r);
ZapRole zap_role_from_string(const char *s); /* ZAP_ROLE_NONE if unknown */

/* One allowlist directory and the role it gives; several may share a domain (a key in
 * several gets the highest role). */
typedef struct ZapDomain {
        const char *name;       /* e.g. "agents" */
        const char *key_dir;    /* directory of allowed public keys; missing: no keys */
        ZapRole role;
} ZapDomain;

typedef struct ZapStats {
        uint64_t allowed, denied_unknown_key, denied_mechanism, denied_domain, malformed;
} ZapStats;

#define ZAP_NAME_MAX 64
#define ZAP_FINGERPRINT_LEN 40
#define ZAP_NODE_MAX 255 /* CODEC_MAX_ID_LEN */
#define ZAP_USER_ID_MAX 512

/* A peer as its User-Id describes it. */
typedef struct ZapPeer {
        ZapRole role;
        char name[ZAP_NAME_MAX + 1];                    /* "insecure" without CURVE */
        char fingerprint[ZAP_FINGERPRINT_LEN + 1];      /* "-" without CURVE */
        char node[ZAP_NODE_MAX + 1];                    /* agents: the node the key file names, or "" */
} ZapPeer;

/* Parses a User-Id; -EINVAL if it is not one this handler writes. */
int zap_peer_parse(const char *user_id, ZapPeer *ret);
/* Writes a User-Id (the handler's format); node may be NULL. -ENAMETOOLONG if it does not fit. */
int zap_user_id_format(char *buf, size_t size, ZapRole role, const char *name, const char *fingerprint,
                       const char *node);
/* A key file's name as it shows in a User-Id: the file name without ".key", every character
 * outside [A-Za-z0-9._@+-] replaced by '_', at most ZAP_NAME_MAX. */
void zap_key_name(const char *file_name, char ret[ZAP_NAME_MAX + 1]);

/* insecure: also admit peers without CURVE (NULL mechanism), with the domain's highest role. */
int zap_start(const ZapDomain *domains, size_t n, bool insecure, Zap **ret);
Zap *zap_stop(Zap *z);
void zap_reload(Zap *z);
ZapStats zap_stats(Zap *z);
