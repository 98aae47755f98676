/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The librados side of OSD preparation: connect as client.bootstrap-osd and send the few
 * monitor commands that profile allows (osd new, osd purge-new, mon getmap, the osd map). */
#include <errno.h>
#include <json-c/json.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "osd-prep/mon.h"

struct MonConn {
        rados_t rados;
};

#define DEFAULT_TIMEOUT_USEC (30 * UINT64_C(1000000))

static void set_error(char **error, const char *what, int r, const char *detail, size_t n) {
        char *s = NULL;

        if (!error)
                return;
        if (detail && n > 0)
                r = asprintf(&s, "%s: %.*s", what, (int) n, detail);
        else
                r = asprintf(&s, "%s: %s", what, strerror(-r));
        free(*error);
        *error = r < 0 ? NULL : s;
}

int mon_connect(const CephTarget *t, MonConn **ret, char **error) {
        _cleanup_free_ char *keyring = NULL;
        char timeout[32];
        MonConn *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        r = rados_create2(&c->rados, t->cluster ?: "ceph", t->entity ?: "client.bootstrap-osd", 0);
        if (r < 0) {
                free(c);
                set_error(error, "cannot create a RADOS handle", r, NULL, 0);
                return r;
        }
        r = rados_conf_read_file(c->rados, t->conf);
        if (r < 0) {
                set_error(error, t->conf ? t->conf : "cannot read the Ceph configuration", r, NULL, 0);
                goto fail;
        }
        if (!t->keyring &&
            asprintf(&keyring, "/var/lib/ceph/bootstrap-osd/%s.keyring", t->cluster ?: "ceph") < 0) {
                r = -ENOMEM;
                goto fail;
        }
        r = t->key ? rados_conf_set(c->rados, "key", t->key) : rados_conf_set(c->rados, "keyring", t->keyring ?: keyring);
        if (r < 0)
                goto fail;
        snprintf(timeout, sizeof timeout, "%llu",
                 (unsigned long long) ((t->timeout_usec ?: DEFAULT_TIMEOUT_USEC) + 999999) / 1000000);
        (void) rados_conf_set(c->rados, "client_mount_timeout", timeout);
        (void) rados_conf_set(c->rados, "rados_mon_op_timeout", timeout);
        /* Keep librados' own log out of the caller's terminal and /var/log. */
        (void) rados_conf_set(c->rados, "log_to_stderr", "false");
        (void) rados_conf_set(c->rados, "err_to_stderr", "false");
        (void) rados_conf_set(c->rados, "log_file", "");
        r = rados_connect(c->rados);
        if (r < 0) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "cannot reach the monitors of cluster '%s' as %s with keyring %s",
                             t->cluster ?: "ceph", t->entity ?: "client.bootstrap-osd",
                             t->keyring ?: keyring) < 0)
                        what = NULL;
                set_error(error, what ?: "cannot reach the monitors", r, NULL, 0);
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        rados_shutdown(c->rados);
        free(c);
        return r;
}

MonConn *mon_disconnect(MonConn *c) {
        if (c) {
                rados_shutdown(c->rados);
                free(c);
        }
        return NULL;
}

void mon_disconnectp(MonConn **c) {
        mon_disconnect(*c);
}

int mon_fsid(MonConn *c, char ret[static 37]) {
        int r = rados_cluster_fsid(c->rados, ret, 37);
        return r < 0 ? r : 0;
}

/* One command; out and outs are NUL-terminated copies. */
static int command(MonConn *c, const char *cmd, const char *in, char **out, size_t *out_size,
                   char **error, const char *what) {
        const char *cmds[] = { cmd };
        char *outbuf = NULL, *outs = NULL;
        size_t outbuf_len = 0, outs_len = 0;
        int r;

        log_debug("mon command %s", cmd);
        r = rados_mon_command(c->rados, cmds, 1, in, in ? strlen(in) : 0, &outbuf, &outbuf_len,
                              &outs, &outs_len);
        if (r < 0)
                set_error(error, what, r, outs, outs_len);
        else if (out) {
                *out = malloc(outbuf_len + 1);
                if (!*out)
                        r = -ENOMEM;
                else {
                        if (outbuf_len)
                                memcpy(*out, outbuf, outbuf_len);
                        (*out)[outbuf_len] = 0;
                        if (out_size)
                                *out_size = outbuf_len;
                }
        }
        rados_buffer_free(outbuf);
        rados_buffer_free(outs);
        return r;
}

int mon_osd_new(MonConn *c, const char *uuid, const OsdSecrets *secrets, int want_id, int *ret_id, char **error) {
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        json_object *in, *reply, *id;
        int r;

        if (want_id >= 0)
                r = asprintf(&cmd, "{\"prefix\": \"osd new\", \"uuid\": \"%s\", \"id\": %d, \"format\": \"json\"}",
                             uuid, want_id);
        else
                r = asprintf(&cmd, "{\"prefix\": \"osd new\", \"uuid\": \"%s\", \"format\": \"json\"}", uuid);
        if (r < 0)
                return -ENOMEM;
        in = json_object_new_object();
        if (!in)
                return -ENOMEM;
        json_object_object_add(in, "cephx_secret", json_object_new_string(secrets->cephx));
        if (secrets->lockbox && secrets->dmcrypt) {
                json_object_object_add(in, "cephx_lockbox_secret", json_object_new_string(secrets->lockbox));
                json_object_object_add(in, "dmcrypt_key", json_object_new_string(secrets->dmcrypt));
        }
        if (!isempty(secrets->crush_class))
                json_object_object_add(in, "crush_device_class", json_object_new_string(secrets->crush_class));
        r = command(c, cmd, json_object_to_json_string_ext(in, JSON_C_TO_STRING_PLAIN), &out, NULL,
                    error, "osd new");
        /* The input holds the secrets: do not leave them in freed memory. */
        {
                const char *txt = json_object_to_json_string_ext(in, JSON_C_TO_STRING_PLAIN);
                explicit_bzero((char *) txt, strlen(txt));
        }
        json_object_put(in);
        if (r < 0)
                return r;
        reply = json_tokener_parse(out);
        if (reply && json_object_object_get_ex(reply, "osdid", &id) && json_object_is_type(id, json_type_int))
                *ret_id = json_object_get_int(id);
        else if (reply && json_object_is_type(reply, json_type_int))
                *ret_id = json_object_get_int(reply);
        else {
                json_object_put(reply);
                set_error(error, "osd new: the monitor's answer has no OSD id", -EBADMSG, out, strlen(out));
                return -EBADMSG;
        }
        json_object_put(reply);
        return 0;
}

int mon_config_key_get(MonConn *c, const char *key, char **ret, char **error) {
        _cleanup_free_ char *cmd = NULL;
        json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "prefix", json_object_new_string("config-key get"));
        json_object_object_add(o, "key", json_object_new_string(key));
        cmd = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        if (!cmd)
                return -ENOMEM;
        return command(c, cmd, NULL, ret, NULL, error, "config-key get");
}

int mon_dmcrypt_key(const CephTarget *t, const char *uuid, const char *lockbox_secret, char **ret, char **error) {
        _cleanup_(mon_disconnectp) MonConn *c = NULL;
        _cleanup_free_ char *entity = NULL, *key = NULL;
        CephTarget lt = *t;
        char *v = NULL;
        int r;

        if (asprintf(&entity, "client.osd-lockbox.%s", uuid) < 0 || asprintf(&key, "dm-crypt/osd/%s/luks", uuid) < 0)
                return -ENOMEM;
        lt.entity = entity;
        lt.key = lockbox_secret;
        lt.keyring = NULL;
        r = mon_connect(&lt, &c, error);
        if (r < 0)
                return r;
        r = mon_config_key_get(c, key, &v, error);
        if (r < 0)
                return r;
        /* The value is the key itself, possibly with a newline. */
        v[strcspn(v, "\r\n")] = 0;
        if (isempty(v)) {
                free(v);
                error_set(error, "the monitors hold an empty dm-crypt key for osd %s", uuid);
                return -EBADMSG;
        }
        *ret = v;
        return 0;
}

int mon_osd_purge_new(MonConn *c, int id, char **error) {
        char cmd[128];

        snprintf(cmd, sizeof cmd, "{\"prefix\": \"osd purge-new\", \"id\": %d, \"yes_i_really_mean_it\": true}", id);
        return command(c, cmd, NULL, NULL, NULL, error, "osd purge-new");
}

int mon_getmap(MonConn *c, void **ret, size_t *ret_size, char **error) {
        char *out = NULL;
        int r;

        r = command(c, "{\"prefix\": \"mon getmap\"}", NULL, &out, ret_size, error, "mon getmap");
        if (r < 0)
                return r;
        if (*ret_size == 0) {
                free(out);
                set_error(error, "mon getmap", -EBADMSG, "empty monmap", 12);
                return -EBADMSG;
        }
        *ret = out;
        return 0;
}

static bool json_bool_int(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_get_int(v) != 0;
}

int mon_osd_states(MonConn *c, OsdState **ret, size_t *ret_n, char **error) {
        _cleanup_free_ char *out = NULL;
        json_object *dump, *osds;
        OsdState *states = NULL;
        size_t n = 0;
        int r;

        r = command(c, "{\"prefix\": \"osd dump\", \"format\": \"json\"}", NULL, &out, NULL, error, "osd dump");
        if (r < 0)
                return r;
        dump = json_tokener_parse(out);
        if (!dump || !json_object_object_get_ex(dump, "osds", &osds) ||
            !json_object_is_type(osds, json_type_array)) {
                json_object_put(dump);
                set_error(error, "osd dump", -EBADMSG, "no osds in the answer", 21);
                return -EBADMSG;
        }
        n = json_object_array_length(osds);
        states = calloc(n ?: 1, sizeof *states);
        if (!states) {
                json_object_put(dump);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(osds, i), *v, *st;
                OsdState *s = &states[i];

                s->id = json_object_object_get_ex(o, "osd", &v) ? json_object_get_int(v) : -1;
                if (json_object_object_get_ex(o, "uuid", &v))
                        snprintf(s->uuid, sizeof s->uuid, "%s", json_object_get_string(v));
                s->up = json_bool_int(o, "up");
                s->in = json_bool_int(o, "in");
                if (json_object_object_get_ex(o, "state", &st) && json_object_is_type(st, json_type_array))
                        for (size_t k = 0; k < json_object_array_length(st); k++) {
                                const char *f = json_object_get_string(json_object_array_get_idx(st, k));
                                if (streq_ptr(f, "exists"))
                                        s->exists = true;
                                else if (streq_ptr(f, "destroyed"))
                                        s->destroyed = true;
                        }
        }
        json_object_put(dump);
        *ret = states;
        *ret_n = n;
        return 0;
}

int mon_osd_state(MonConn *c, int id, OsdState *ret, char **error) {
        _cleanup_free_ OsdState *states = NULL;
        size_t n;
        int r;

        r = mon_osd_states(c, &states, &n, error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (states[i].id == id) {
                        *ret = states[i];
                        return 0;
                }
        return -ENOENT;
}

static char *copy_buf(const char *p, size_t n) {
        char *s = malloc(n + 1);
        if (!s)
                return NULL;
        if (n)
                memcpy(s, p, n);
        s[n] = 0;
        return s;
}

int mon_command(MonConn *c, bool mgr, const char *cmd, char **ret_out, char **ret_outs, char **error) {
        const char *cmds[] = { cmd };
        char *outbuf = NULL, *outs = NULL;
        size_t outbuf_len = 0, outs_len = 0;
        int r;

        log_debug("%s command %s", mgr ? "mgr" : "mon", cmd);
        if (mgr)
                r = rados_mgr_command(c->rados, cmds, 1, NULL, 0, &outbuf, &outbuf_len, &outs, &outs_len);
        else
                r = rados_mon_command(c->rados, cmds, 1, NULL, 0, &outbuf, &outbuf_len, &outs, &outs_len);
        if (r < 0)
                set_error(error, cmd, r, outs, outs_len);
        if (ret_out && !(*ret_out = copy_buf(outbuf, outbuf_len)))
                r = -ENOMEM;
        if (ret_outs && !(*ret_outs = copy_buf(outs, outs_len)))
                r = -ENOMEM;
        rados_buffer_free(outbuf);
        rados_buffer_free(outs);
        return r;
}
