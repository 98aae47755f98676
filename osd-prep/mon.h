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
        uint64_t timeout_usec;  /* connect and each command; 0: 30 s */
} CephTarget;

typedef struct MonConn MonConn;

/* On failure *error says what went wrong in words (caller frees). */
int mon_connect(const CephTarget *t, MonConn **ret, char **error);
MonConn *mon_disconnect(MonConn *c);
void mon_disconnectp(MonConn **c);

/* The cluster's fsid. */
int mon_fsid(MonConn *c, char ret[static 37]);

/* `osd new <uuid> [id]` with {"cephx_secret": ..., "crush_device_class": ...} as input,
 * as ceph-volume sends it. The monitor answers the same id for the same uuid and secret,
 * so a retry after a crash converges. want_id < 0: let the monitor choose. */
int mon_osd_new(MonConn *c, const char *uuid, const char *secret, const char *crush_class,
                int want_id, int *ret_id, char **error);

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
