/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ZAP handler on its own thread (a CZMQ actor). Requests are answered from in-memory tables
 * of each allowlist directory (fingerprint -> key name, node), re-read when a directory's
 * mtime changes (looked at most once a second) and on RELOAD. zcertstore is not used because
 * it forgets the file names, and a key's name is what the role errors and the audit trail
 * show. Denials are counted and logged at most once a second, so a flood of bad clients cannot
 * flood the log. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/timeutil.h"
#include "coordinator/zap.h"
#include "proto/codec.h"

#define ZAP_MAX_DOMAINS 8
#define ZAP_MAX_KEYS_PER_DIR 100000

static const char *const role_names[_ZAP_ROLE_MAX] = {
        [ZAP_ROLE_NONE] = "none",         [ZAP_ROLE_AGENT] = "agent", [ZAP_ROLE_VIEWER] = "viewer",
        [ZAP_ROLE_OPERATOR] = "operator", [ZAP_ROLE_ADMIN] = "admin",
};

const char *zap_role_to_string(ZapRole r) {
        return r >= 0 && r < _ZAP_ROLE_MAX ? role_names[r] : "none";
}

ZapRole zap_role_from_string(const char *s) {
        for (int r = ZAP_ROLE_AGENT; s && r < _ZAP_ROLE_MAX; r++)
                if (streq(s, role_names[r]))
                        return r;
        return ZAP_ROLE_NONE;
}

static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._@+-", c);
}

void zap_key_name(const char *file_name, char ret[ZAP_NAME_MAX + 1]) {
        size_t n = strlen(file_name);

        if (n > 4 && streq(file_name + n - 4, ".key"))
                n -= 4;
        n = MIN(n, (size_t) ZAP_NAME_MAX);
        for (size_t i = 0; i < n; i++)
                ret[i] = name_char(file_name[i]) ? file_name[i] : '_';
        ret[n] = 0;
        if (n == 0)
                snprintf(ret, ZAP_NAME_MAX + 1, "_");
}

int zap_user_id_format(char *buf, size_t size, ZapRole role, const char *name, const char *fingerprint,
                       const char *node) {
        int k = snprintf(buf, size, "%s %s %s%s%s", zap_role_to_string(role), name, fingerprint,
                         isempty(node) ? "" : " ", strempty(node));

        return k < 0 || (size_t) k >= size ? -ENAMETOOLONG : 0;
}

/* Copies one space-separated field of at most max characters of the name alphabet. */
static const char *parse_field(const char *p, char *ret, size_t max) {
        size_t n = strcspn(p, " ");

        if (n == 0 || n > max)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!name_char(p[i]))
                        return NULL;
        memcpy(ret, p, n);
        ret[n] = 0;
        return p + n;
}

int zap_peer_parse(const char *user_id, ZapPeer *ret) {
        ZapPeer p = {};
        char role[16];
        const char *s = user_id;

        if (!s || !(s = parse_field(s, role, sizeof role - 1)) || *s++ != ' ')
                return -EINVAL;
        p.role = zap_role_from_string(role);
        if (p.role == ZAP_ROLE_NONE)
                return -EINVAL;
        if (!(s = parse_field(s, p.name, ZAP_NAME_MAX)) || *s++ != ' ')
                return -EINVAL;
        /* Z85 has characters outside the name alphabet: the fingerprint is checked by itself. */
        size_t n = strcspn(s, " ");
        if (!(n == ZAP_FINGERPRINT_LEN || (n == 1 && s[0] == '-')))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (s[i] <= ' ' || s[i] > '~')
                        return -EINVAL;
        memcpy(p.fingerprint, s, n);
        s += n;
        if (*s == ' ') {
                /* only agents' keys name a node */
                s++;
                n = strlen(s);
                if (p.role != ZAP_ROLE_AGENT || n > ZAP_NODE_MAX)
                        return -EINVAL;
                memcpy(p.node, s, n + 1);
                if (!codec_valid_id(p.node))
                        return -EINVAL;
                s += n;
        }
        if (*s != 0)
                return -EINVAL;
        *ret = p;
        return 0;
}

typedef struct ZapKey {
        char name[ZAP_NAME_MAX + 1];
        char node[ZAP_NODE_MAX + 1];
} ZapKey;

typedef struct ZapDir {
        char *domain, *path;
        ZapRole role;
        zhashx_t *keys;         /* fingerprint -> ZapKey */
        struct timespec mtime;  /* of the directory when it was read; 0: missing */
} ZapDir;

struct Zap {
        zactor_t *actor;
        pthread_mutex_t lock;
        ZapStats stats;
        size_t n_dirs;
        ZapDir dirs[ZAP_MAX_DOMAINS];
        bool insecure;
};

typedef struct Handler {
        Zap *zap;
        uint64_t last_log, last_check;
} Handler;

static int dir_mtime(const char *path, struct timespec *ret) {
        struct stat st;

        if (stat(path, &st) < 0) {
                *ret = (struct timespec) {};
                return -errno;
        }
        *ret = st.st_mtim;
        return 0;
}

static void key_free(void **p) {
        free(*p);
        *p = NULL;
}

static int key_file(const struct dirent *de) {
        return de->d_name[0] != '.' && !strstr(de->d_name, "_secret");
}

/* Reads one allowlist directory. A missing directory holds no keys; a file that is not a
 * public key is skipped (zcertstore did the same). */
static void load_dir(ZapDir *d) {
        struct dirent **names = NULL;
        int n;

        zhashx_destroy(&d->keys);
        d->keys = zhashx_new();
        if (!d->keys)
                return;
        zhashx_set_destructor(d->keys, key_free);
        (void) dir_mtime(d->path, &d->mtime);
        n = scandir(d->path, &names, key_file, alphasort);
        if (n < 0) {
                if (errno != ENOENT)
                        log_warning_errno(errno, "Cannot read the allowlist %s: %m", d->path);
                return;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                zcert_t *cert;
                const char *node;
                ZapKey *k;

                if (zhashx_size(d->keys) < ZAP_MAX_KEYS_PER_DIR &&
                    asprintf(&path, "%s/%s", d->path, names[i]->d_name) >= 0 && stat(path, &st) >= 0 && S_ISREG(st.st_mode) && (cert = zcert_load(path))) {
                        node = zcert_meta(cert, "node");
                        if (d->role == ZAP_ROLE_AGENT && !isempty(node) &&
                            (strlen(node) > ZAP_NODE_MAX || !codec_valid_id(node)))
                                log_warning("%s names node '%s', which is not a node id: the key is not admitted.",
                                            path, node);
                        else if (!zhashx_lookup(d->keys, zcert_public_txt(cert)) && (k = calloc(1, sizeof(ZapKey)))) {
                                zap_key_name(names[i]->d_name, k->name);
                                if (d->role == ZAP_ROLE_AGENT && !isempty(node))
                                        snprintf(k->node, sizeof k->node, "%s", node);
                                (void) zhashx_insert(d->keys, zcert_public_txt(cert), k);
                        }
                        zcert_destroy(&cert);
                }
                free(names[i]);
        }
        free(names);
}

static void load_all(Handler *h) {
        for (size_t i = 0; i < h->zap->n_dirs; i++)
                load_dir(&h->zap->dirs[i]);
}

/* Re-reads the directories that changed, at most once a second. */
static void refresh(Handler *h) {
        uint64_t now = now_usec();

        if (now - h->last_check < USEC_PER_SEC)
                return;
        h->last_check = now;
        for (size_t i = 0; i < h->zap->n_dirs; i++) {
                ZapDir *d = &h->zap->dirs[i];
                struct timespec t;

                (void) dir_mtime(d->path, &t);
                if (t.tv_sec != d->mtime.tv_sec || t.tv_nsec != d->mtime.tv_nsec)
                        load_dir(d);
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
static const char *decide(Handler *h, zmsg_t *req, char ret_user[ZAP_USER_ID_MAX]) {
        char *version = zmsg_popstr(req), *request_id = zmsg_popstr(req), *domain = zmsg_popstr(req),
             *address = zmsg_popstr(req), *identity = zmsg_popstr(req), *mechanism = zmsg_popstr(req);
        const char *status = "400";
        zframe_t *key = NULL;
        bool known_domain = false;
        ZapRole best = ZAP_ROLE_NONE;

        free(request_id);
        free(identity);
        ret_user[0] = 0;
        if (!version || !streq(version, "1.0") || !domain || !mechanism) {
                count(h, &h->zap->stats.malformed, "malformed ZAP request", domain, address);
                status = "500";
                goto finish;
        }
        for (size_t d = 0; d < h->zap->n_dirs; d++)
                if (streq(domain, h->zap->dirs[d].domain)) {
                        known_domain = true;
                        best = MAX(best, h->zap->dirs[d].role);
                }
        if (!known_domain) {
                count(h, &h->zap->stats.denied_domain, "unknown ZAP domain", domain, address);
                goto finish;
        }
        if (streq(mechanism, "NULL") && h->zap->insecure) {
                status = "200";
                (void) zap_user_id_format(ret_user, ZAP_USER_ID_MAX, best, "insecure", "-", NULL);
        } else if (streq(mechanism, "CURVE")) {
                const ZapKey *found = NULL;
                ZapRole role = ZAP_ROLE_NONE;
                char txt[41];

                key = zmsg_pop(req);
                if (!key || zframe_size(key) != 32) {
                        count(h, &h->zap->stats.malformed, "bad CURVE credentials", domain, address);
                        goto finish;
                }
                zmq_z85_encode(txt, zframe_data(key), 32);
                refresh(h);
                /* the highest role of the domain's directories that have the key */
                for (size_t d = 0; d < h->zap->n_dirs; d++) {
                        ZapDir *zd = &h->zap->dirs[d];
                        const ZapKey *k;

                        if (!streq(domain, zd->domain) || !zd->keys || !(k = zhashx_lookup(zd->keys, txt)))
                                continue;
                        if (!found || zd->role > role) {
                                found = k;
                                role = zd->role;
                        }
                }
                if (found && zap_user_id_format(ret_user, ZAP_USER_ID_MAX, role, found->name, txt, found->node) >= 0)
                        status = "200";
                else
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
        load_all(&h);
        h.last_check = now_usec();
        poller = zpoller_new(pipe, rep, NULL);
        zsock_signal(pipe, 0);
        for (;;) {
                void *which = zpoller_wait(poller, -1);
                if (which == pipe) {
                        char *cmd = zstr_recv(pipe);
                        bool term = !cmd || streq(cmd, "$TERM");
                        if (cmd && streq(cmd, "RELOAD"))
                                load_all(&h);
                        free(cmd);
                        if (term)
                                break;
                } else if (which == rep) {
                        zmsg_t *req = zmsg_recv(rep), *rep_msg;
                        char user[ZAP_USER_ID_MAX];
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
        for (size_t i = 0; i < h.zap->n_dirs; i++)
                zhashx_destroy(&h.zap->dirs[i].keys);
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
                z->dirs[i] = (ZapDir) { .domain = strdup(domains[i].name), .path = strdup(domains[i].key_dir),
                                        .role = domains[i].role };
                z->n_dirs++;
                if (!z->dirs[i].domain || !z->dirs[i].path) {
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
        for (size_t i = 0; i < z->n_dirs; i++) {
                free(z->dirs[i].domain);
                free(z->dirs[i].path);
                zhashx_destroy(&z->dirs[i].keys);
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
