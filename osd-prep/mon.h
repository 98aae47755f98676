/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The monitor calls OSD preparation needs, through librados `rados_mon_command` as
 * client.bootstrap-osd: no `ceph` CLI processes. The bootstrap-osd profile allows exactly
 * these: read the osd map, `mon getmap`, `osd new` and `osd purge-new`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CephTarget {
        const char *cluster;    /* "ceph" */
        const char *conf;       /* NULL: librados' default search (/etc/ceph/<cluster>.conf) */
        const char *keyring;    /* NULL: /var/lib/ceph/bootstrap-osd/<cluster>.keyring */
        const char *entity;     /* NULL: "client.bootstrap-osd" */
        const char *key;        /* this secret instead of a keyring (the OSD's lockbox key) */
        uint64_t timeout_usec;  /* connect and each command; 0: 30 s */
} CephTarget;

typedef struct MonConn MonConn;

/* On failure *error says what went wrong in words (caller frees). */
int mon_connect(const CephTarget *t, MonConn **ret, char **error);
MonConn *mon_disconnect(MonConn *c);
void mon_disconnectp(MonConn **c);

/* The cluster's fsid. */
int mon_fsid(MonConn *c, char ret[static 37]);

typedef struct OsdSecrets {
        const char *cephx;      /* the OSD's key */
        const char *lockbox;    /* dm-crypt: client.osd-lockbox.<uuid>'s key, else NULL */
        const char *dmcrypt;    /* dm-crypt: the LUKS passphrase the monitors keep */
        const char *crush_class;
} OsdSecrets;

/* `osd new <uuid> [id]` with {"cephx_secret", "cephx_lockbox_secret", "dmcrypt_key",
 * "crush_device_class"} as input, as ceph-volume sends it. The monitor answers the same id
 * for the same uuid and secrets, so a retry after a crash converges; -EEXIST when it
 * already holds another dm-crypt key for this uuid. want_id < 0: let the monitor choose. */
int mon_osd_new(MonConn *c, const char *uuid, const OsdSecrets *s, int want_id, int *ret_id, char **error);

/* `config-key get KEY`: *ret is the value, NUL-terminated. */
int mon_config_key_get(MonConn *c, const char *key, char **ret, char **error);

/* The dm-crypt key of OSD uuid, fetched as client.osd-lockbox.<uuid> with its lockbox
 * secret, from where the monitors keep it (config-key dm-crypt/osd/<uuid>/luks). */
int mon_dmcrypt_key(const CephTarget *t, const char *uuid, const char *lockbox_secret, char **ret, char **error);

/* `osd purge-new`: removes an id that was allocated but never booted. */
int mon_osd_purge_new(MonConn *c, int id, char **error);

/* `mon getmap`: the binary monmap mkfs needs. */
int mon_getmap(MonConn *c, void **ret, size_t *ret_size, char **error);

typedef struct OsdState {
        int id;
        char uuid[37];
        bool exists, up, in, destroyed;
} OsdState;

/* The osd map's entries (`osd dump`). */
int mon_osd_states(MonConn *c, OsdState **ret, size_t *ret_n, char **error);
/* One OSD: 0 and *ret filled, or -ENOENT. */
int mon_osd_state(MonConn *c, int id, OsdState *ret, char **error);

/* Any command, to the monitors or (mgr) to the active manager: *ret_out the answer and
 * *ret_outs the status text, each NUL-terminated (either may be NULL). Returns the command's
 * result (-errno); on failure *error holds what the monitor said. For the removal steps,
 * whose commands are sent as a dedicated client with just the caps they need. */
int mon_command(MonConn *c, bool mgr, const char *cmd, char **ret_out, char **ret_outs, char **error);
