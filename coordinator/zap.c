/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ZAP handler on its own thread (a CZMQ actor). Requests are answered from in-memory
 * certificate stores (zcertstore re-reads its directory when it changes). Denials are
 * counted and logged at most once a second, so a flood of bad clients cannot flood the log. */
#include <pthread.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "coordinator/zap.h"

#define ZAP_MAX_DOMAINS 4

struct Zap {
        zactor_t *actor;
        pthread_mutex_t lock;
        ZapStats stats;
        size_t n_domains;
        char *names[ZAP_MAX_DOMAINS], *dirs[ZAP_MAX_DOMAINS];
        bool insecure;
};

typedef struct Handler {
        Zap *zap;
        zcertstore_t *stores[ZAP_MAX_DOMAINS];
        uint64_t last_log;
} Handler;

static void load_stores(Handler *h) {
        for (size_t i = 0; i < h->zap->n_domains; i++) {
                zcertstore_destroy(&h->stores[i]);
                h->stores[i] = zcertstore_new(h->zap->dirs[i]);
        }
}

static void count(Handler *h, uint64_t *counter, const char *what, const char *domain, const char *address) {
        uint64_t now = now_usec();

        pthread_mutex_lock(&h->zap->lock);
        (*counter)++;
        pthread_mutex_unlock(&h->zap->lock);
        if (now - h->last_log >= USEC_PER_SEC) {
                h->last_log = now;
                log_warning("Refused a connection from %s (domain '%s'): %s.", address ?: "?", domain ?: "?", what);
        }
}

/* Returns the ZAP status code for one request. */
static const char *decide(Handler *h, zmsg_t *req, char ret_user[64]) {
        char *version = zmsg_popstr(req), *request_id = zmsg_popstr(req), *domain = zmsg_popstr(req),
             *address = zmsg_popstr(req), *identity = zmsg_popstr(req), *mechanism = zmsg_popstr(req);
        const char *status = "400";
        zframe_t *key = NULL;

        free(request_id);
        free(identity);
        ret_user[0] = 0;
        if (!version || !streq(version, "1.0") || !domain || !mechanism) {
                count(h, &h->zap->stats.malformed, "malformed ZAP request", domain, address);
                status = "500";
                goto finish;
        }
        size_t d;
        for (d = 0; d < h->zap->n_domains; d++)
                if (streq(domain, h->zap->names[d]))
                        break;
        if (d >= h->zap->n_domains) {
                count(h, &h->zap->stats.denied_domain, "unknown ZAP domain", domain, address);
                goto finish;
        }
        if (streq(mechanism, "NULL") && h->zap->insecure) {
                status = "200";
                snprintf(ret_user, 64, "insecure");
        } else if (streq(mechanism, "CURVE")) {
                key = zmsg_pop(req);
                if (!key || zframe_size(key) != 32) {
                        count(h, &h->zap->stats.malformed, "bad CURVE credentials", domain, address);
                        goto finish;
                }
                char txt[41];
                zmq_z85_encode(txt, zframe_data(key), 32);
                if (h->stores[d] && zcertstore_lookup(h->stores[d], txt)) {
                        status = "200";
                        snprintf(ret_user, 64, "%s", txt);
                } else
                        count(h, &h->zap->stats.denied_unknown_key, "key not in the allowlist", domain, address);
        } else
                count(h, &h->zap->stats.denied_mechanism,
                      streq(mechanism, "NULL") ? "plain-text client (CURVE is required)" : "unsupported mechanism",
                      domain, address);
finish:
        if (streq(status, "200")) {
                pthread_mutex_lock(&h->zap->lock);
                h->zap->stats.allowed++;
                pthread_mutex_unlock(&h->zap->lock);
        }
        zframe_destroy(&key);
        free(version);
        free(domain);
        free(address);
        free(mechanism);
        return status;
}

static void handler_actor(zsock_t *pipe, void *arg) {
        Handler h = { .zap = arg };
        zsock_t *rep = zsock_new(ZMQ_REP);
        zpoller_t *poller;

        if (!rep || zsock_bind(rep, "inproc://zeromq.zap.01") < 0) {
                zsock_destroy(&rep);
                zsock_signal(pipe, 1);
                return;
        }
        load_stores(&h);
        poller = zpoller_new(pipe, rep, NULL);
        zsock_signal(pipe, 0);
        for (;;) {
                void *which = zpoller_wait(poller, -1);
                if (which == pipe) {
                        char *cmd = zstr_recv(pipe);
                        bool term = !cmd || streq(cmd, "$TERM");
                        if (cmd && streq(cmd, "RELOAD"))
                                load_stores(&h);
                        free(cmd);
                        if (term)
                                break;
                } else if (which == rep) {
                        zmsg_t *req = zmsg_recv(rep), *rep_msg;
                        char user[64];
                        zframe_t *version, *request_id;
                        const char *status;

                        if (!req)
                                continue;
                        /* Keep the first two frames to echo them back. */
                        version = zframe_dup(zmsg_first(req));
                        request_id = zframe_dup(zmsg_next(req));
                        status = decide(&h, req, user);
                        rep_msg = zmsg_new();
                        zmsg_append(rep_msg, &version);
                        zmsg_append(rep_msg, &request_id);
                        zmsg_addstr(rep_msg, status);
                        zmsg_addstr(rep_msg, streq(status, "200") ? "OK" : "Denied");
                        zmsg_addstr(rep_msg, user);
                        zmsg_addmem(rep_msg, "", 0);
                        zmsg_send(&rep_msg, rep);
                        zmsg_destroy(&req);
                } else
                        break; /* interrupted */
        }
        zpoller_destroy(&poller);
        for (size_t i = 0; i < h.zap->n_domains; i++)
                zcertstore_destroy(&h.stores[i]);
        zsock_destroy(&rep);
}

int zap_start(const ZapDomain *domains, size_t n, bool insecure, Zap **ret) {
        Zap *z;

        if (n > ZAP_MAX_DOMAINS)
                return -E2BIG;
        z = calloc(1, sizeof(Zap));
        if (!z)
                return -ENOMEM;
        pthread_mutex_init(&z->lock, NULL);
        z->insecure = insecure;
        for (size_t i = 0; i < n; i++) {
                z->names[i] = strdup(domains[i].name);
                z->dirs[i] = strdup(domains[i].key_dir);
                z->n_domains++;
                if (!z->names[i] || !z->dirs[i]) {
                        zap_stop(z);
                        return -ENOMEM;
                }
        }
        z->actor = zactor_new(handler_actor, z);
        if (!z->actor) { /* the actor signalled failure: inproc endpoint taken */
                zap_stop(z);
                return -EADDRINUSE;
        }
        *ret = z;
        return 0;
}

Zap *zap_stop(Zap *z) {
        if (!z)
                return NULL;
        zactor_destroy(&z->actor);
        for (size_t i = 0; i < z->n_domains; i++) {
                free(z->names[i]);
                free(z->dirs[i]);
        }
        pthread_mutex_destroy(&z->lock);
        free(z);
        return NULL;
}

void zap_reload(Zap *z) {
        zstr_send(z->actor, "RELOAD");
}

ZapStats zap_stats(Zap *z) {
        ZapStats s;

        pthread_mutex_lock(&z->lock);
        s = z->stats;
        pthread_mutex_unlock(&z->lock);
        return s;
}
