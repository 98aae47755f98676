/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `castlectl osd batch`'s domain half: the plan (which device holds whose data, DB and WAL,
 * in how many slots), and its execution, one LVM prepare per OSD; the command line only
 * parses options and prints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "discovery/verdict.h"
#include "osd-prep/batch.h"
#include "osd-prep/lvmlayout.h"
#include "osd-prep/osdlist.h"
#include "osd-prep/target.h"

#define BATCH_MAX_DEVICES 256

void batch_plan_done(BatchPlan *p) {
        free(p->osds);
        strv_free(p->skipped);
        *p = (BatchPlan) {};
}

typedef struct Role {
        const Device *d[BATCH_MAX_DEVICES];
        size_t n;
} Role;

static bool used(const Role *roles, size_t n_roles, const Device *d) {
        for (size_t r = 0; r < n_roles; r++)
                for (size_t i = 0; i < roles[r].n; i++)
                        if (roles[r].d[i] == d)
                                return true;
        return false;
}

static int resolve(const DeviceList *devices, char *const *names, Role *roles, size_t n_roles, Role *into,
                   char **error) {
        STRV_FOREACH(n, names) {
                const Device *d = target_find(devices, *n);
                if (!d) {
                        error_set(error, "no block device is named %s (castlectl inventory lists them)", *n);
                        return -ENODEV;
                }
                if (used(roles, n_roles, d)) {
                        error_set(error, "/dev/%s is named twice: data, DB and WAL devices must be distinct", d->kname);
                        return -EINVAL;
                }
                if (into->n >= BATCH_MAX_DEVICES) {
                        error_set(error, "more than %d devices", BATCH_MAX_DEVICES);
                        return -E2BIG;
                }
                into->d[into->n++] = d;
        }
        return 0;
}

static int refuse(const Device *d, const DeviceList *all, const char *role, char **error) {
        _cleanup_free_ char *why = verdict_explain(d, all);

        error_set(error, "refusing /dev/%s as a %s device: %s", d->kname, role, strempty(why));
        return -EPERM;
}

/* One role's devices split into slots for `users` OSDs: slots per device, and the size. */
static int fast_slots(const DeviceList *all, const Role *fast, size_t users, uint64_t want, unsigned asked,
                      const char *what, unsigned *ret_slots, char **error) {
        unsigned slots;

        if (fast->n == 0)
                return 0;
        slots = (unsigned) ((users + fast->n - 1) / fast->n);
        if (asked > 0) {
                /* ceph-volume's --db-slots: the device is cut in this many, some may stay free */
                if (asked < slots) {
                        error_set(error, "--%s-slots=%u leaves no slot for %zu OSDs on %zu %s device%s", what, asked,
                                  users, fast->n, what, fast->n == 1 ? "" : "s");
                        return -ENOSPC;
                }
                slots = asked;
        }
        for (size_t i = 0; i < fast->n; i++) {
                const Device *d = fast->d[i];
                if (!d->available && !lvm_device_in_ceph_vg(d, NULL, NULL))
                        return refuse(d, all, what, error);
                if (want > 0 && want * slots > d->size) {
                        error_set(error, "--block-%s-size is larger than a slot of /dev/%s (%u slots of %llu bytes)", what,
                                  d->kname, slots, (unsigned long long) (d->size / slots));
                        return -ENOSPC;
                }
        }
        *ret_slots = slots ?: 1;
        return 0;
}

int batch_plan(const DeviceList *devices, const BatchRequest *req, BatchPlan *ret, char **error) {
        Role roles[3] = {}; /* data, db, wal */
        Role *data = &roles[0], *db = &roles[1], *wal = &roles[2];
        unsigned per = req->osds_per_device ?: 1, db_slots = 1, wal_slots = 1;
        BatchPlan p = {};
        size_t users;
        int r;

        r = resolve(devices, req->db_devices, roles, 3, db, error);
        if (r >= 0)
                r = resolve(devices, req->wal_devices, roles, 3, wal, error);
        if (r >= 0)
                r = resolve(devices, req->devices, roles, 3, data, error);
        if (r < 0)
                return r;
        if (data->n == 0) {
                error_set(error, "no data devices");
                return -EINVAL;
        }
        if (req->raw && (db->n > 0 || wal->n > 0 || per > 1 || req->dmcrypt || req->db_slots > 0 || req->wal_slots > 0)) {
                /* castle's raw OSDs keep block, DB and WAL on one device */
                error_set(error, "raw OSDs take one whole data device each: DB and WAL devices, several OSDs per "
                                 "device, slots and dm-crypt need --method=lvm");
                return -EOPNOTSUPP;
        }
        /* ceph-volume's automatic split: rotational data, solid-state block.db */
        if (!req->raw && db->n == 0 && wal->n == 0) {
                Role rot = {}, ssd = {};
                for (size_t i = 0; i < data->n; i++) {
                        Role *to = data->d[i]->rotational ? &rot : &ssd;
                        to->d[to->n++] = data->d[i];
                }
                if (rot.n > 0 && ssd.n > 0) {
                        *data = rot;
                        *db = ssd;
                }
        }
        for (size_t i = 0; i < data->n; i++) {
                const Device *d = data->d[i];
                if (!d->available && osd_count_on(d) == 0 && !lvm_device_in_ceph_vg(d, NULL, NULL))
                        return refuse(d, devices, "data", error);
        }
        users = data->n * per;
        r = fast_slots(devices, db, users, req->db_size, req->db_slots, "db", &db_slots, error);
        if (r >= 0)
                r = fast_slots(devices, wal, users, req->wal_size, req->wal_slots, "wal", &wal_slots, error);
        if (r < 0)
                return r;
        if (req->n_osd_ids > users) {
                error_set(error, "%zu OSD ids for %zu OSDs", req->n_osd_ids, users);
                return -EINVAL;
        }

        p.osds = calloc(users, sizeof *p.osds);
        if (!p.osds)
                return -ENOMEM;
        for (size_t i = 0; i < data->n; i++) {
                unsigned have = osd_count_on(data->d[i]);
                for (unsigned k = 0; k < per; k++) {
                        size_t n = p.n++;
                        BatchOsd *o = &p.osds[n];
                        *o = (BatchOsd) {
                                .data = data->d[i],
                                .data_slots = per,
                                .data_size = data->d[i]->size / per,
                                .exists = k < have,
                        };
                        if (db->n > 0) {
                                o->db = db->d[n / db_slots];
                                o->db_slots = db_slots;
                                o->db_size = req->db_size ?: o->db->size / db_slots;
                        }
                        if (wal->n > 0) {
                                o->wal = wal->d[n / wal_slots];
                                o->wal_slots = wal_slots;
                                o->wal_size = req->wal_size ?: o->wal->size / wal_slots;
                        }
                }
        }
        p.devices = devices;
        *ret = p;
        return 0;
}

static bool batch_has_new(const BatchPlan *plan) {
        for (size_t i = 0; i < plan->n; i++)
                if (!plan->osds[i].exists)
                        return true;
        return false;
}

int batch_execute(OsdContext *c, const BatchRequest *req, const BatchPlan *plan, BatchOsdDone done,
                  void *userdata) {
        _cleanup_strv_free_ char **written = NULL;
        bool own_mon = false;
        size_t made = 0;
        int failed = 0;

        if (!c->mon && batch_has_new(plan))
                own_mon = mon_connect(&c->ceph, &c->mon, NULL) >= 0;
        for (size_t i = 0; i < plan->n; i++) {
                const BatchOsd *o = &plan->osds[i];
                _cleanup_(prepare_result_done) PrepareResult res = { .osd_id = -1 };
                PrepareRequest pr = {
                        .data = o->data->stable_id,
                        .crush_class = req->crush_class,
                        .osd_id = -1,
                        .lvm = !req->raw,
                        .dmcrypt = req->dmcrypt,
                        .db = o->db ? o->db->stable_id : NULL,
                        .wal = o->wal ? o->wal->stable_id : NULL,
                        .data_slots = o->data_slots,
                        .db_slots = o->db_slots,
                        .wal_slots = o->wal_slots,
                        .db_size = req->db_size,
                        .wal_size = req->wal_size,
                        .recent = plan->devices,
                        .dirty = written,
                        .osdspec_affinity = req->osdspec_affinity,
                };
                int r;

                if (o->exists)
                        continue;
                if (made < req->n_osd_ids)
                        pr.osd_id = req->osd_ids[made];
                made++;
                if (req->raw)
                        pr.data_slots = 0;
                r = osd_prepare(c, &pr, &res);
                /* what this OSD wrote to is probed again by the next OSD's plan */
                (void) strv_extend(&written, o->data->kname);
                if (o->db)
                        (void) strv_extend_unique(&written, o->db->kname);
                if (o->wal)
                        (void) strv_extend_unique(&written, o->wal->kname);
                if (r < 0)
                        failed++;
                if (done)
                        done(o, &pr, &res, r, userdata);
        }
        if (own_mon)
                c->mon = mon_disconnect(c->mon);
        return failed;
}
