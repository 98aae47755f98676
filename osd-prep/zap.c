/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl zap: decides whether each device may be destroyed (never the OS disk, never
 * anything mounted, held, or an OSD that runs or is up), then wipes it under O_EXCL + flock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "discovery/devscan.h"
#include "osd-prep/crypt.h"
#include "osd-prep/lvmcmd.h"
#include "osd-prep/lvmlayout.h"
#include "osd-prep/mon.h"
#include "osd-prep/osddir.h"
#include "osd-prep/osdlist.h"
#include "osd-prep/start.h"
#include "osd-prep/target.h"
#include "osd-prep/wipe.h"
#include "osd-prep/zap.h"

#define ZAP_HEAD_BYTES (10 * UINT64_C(1024) * 1024)   /* like ceph-volume's dd */

typedef struct Zap {
        const OsdContext *c;
        const ZapRequest *req;
        ScanResult *scan;
        MonConn *mon;           /* connected on first need */
        char *mon_error;
        ZapResult *res;
        size_t n;
} Zap;

void zap_results_free(ZapResult *z, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(z[i].device);
                strv_free(z[i].erased);
                free(z[i].error);
        }
        free(z);
}

static ZapResult *add_result(Zap *z, const char *device) {
        ZapResult *a = realloc(z->res, (z->n + 1) * sizeof *a);

        if (!a)
                return NULL;
        z->res = a;
        a = &z->res[z->n++];
        *a = (ZapResult) { .device = strdup(device) };
        return a->device ? a : NULL;
}

/* Why the OSD f describes must not lose its device: it runs here, or is up in the osd map
 * (or the map cannot be read). NULL if neither. */
static char *osd_in_use(Zap *z, const CephFacts *f) {
        char *why = NULL, fsid[37];
        OsdState st;
        pid_t pid;

        if (f->osd_id < 0)
                return NULL;
        pid = osd_running_pid(f->osd_id);
        if (pid > 0)
                return asprintf(&why, "osd.%d runs on it (pid %d): stop it first", f->osd_id, (int) pid) < 0 ? NULL : why;
        if (!z->mon && !z->mon_error) {
                int r = mon_connect(&z->c->ceph, &z->mon, &z->mon_error);
                if (r < 0 && !z->mon_error)
                        z->mon_error = strdup(strerror(-r));
        }
        if (!z->mon)
                return asprintf(&why, "it holds osd.%d and the osd map cannot be checked (%s)", f->osd_id,
                                strempty(z->mon_error)) < 0 ? NULL : why;
        if (mon_fsid(z->mon, fsid) < 0 || !streq_ptr(f->cluster_fsid, fsid))
                return NULL; /* another cluster's OSD: this cluster's map says nothing about it */
        if (mon_osd_state(z->mon, f->osd_id, &st, NULL) == 0 && st.up && streq(st.uuid, f->osd_uuid))
                return asprintf(&why, "osd.%d is up in the osd map: mark it down (stop it) first", f->osd_id) < 0 ? NULL : why;
        return NULL;
}

/* Why d must not be zapped, or NULL. The caller frees the string. */
static char *zap_refusal(Zap *z, const Device *d) {
        char *why = NULL;

        if (d->os_disk)
                return strdup("it holds the running system (the OS disk is never zapped)");
        if (!strv_isempty(d->mountpoints)) {
                _cleanup_free_ char *m = strv_join(d->mountpoints, ", ");
                return asprintf(&why, "it is mounted on %s", strempty(m)) < 0 ? NULL : why;
        }
        if (d->swap)
                return strdup("it is in use as swap");
        if (!strv_isempty(d->holders)) {
                _cleanup_free_ char *h = strv_join(d->holders, ", ");
                return asprintf(&why, "it is held by %s (device-mapper or md; remove that first)", strempty(h)) < 0 ? NULL : why;
        }
        for (size_t i = 0; i < d->n_ceph; i++) {
                why = osd_in_use(z, &d->ceph[i]);
                if (why)
                        return why;
        }
        if (d->locked)
                return strdup("another program holds it open exclusively");
        return NULL;
}

/* Removes the OSD directory of an OSD whose device was zapped, if it is that OSD's. */
static void forget_osd_dir(Zap *z, const CephFacts *f) {
        _cleanup_free_ char *dir = osd_dir_path(z->c, f->osd_id), *fsid_path = NULL, *fsid = NULL;

        if (!dir || f->osd_id < 0 || asprintf(&fsid_path, "%s/fsid", dir) < 0)
                return;
        if (read_one_line_at(AT_FDCWD, fsid_path, &fsid) >= 0 && streq(fsid, f->osd_uuid))
                (void) osd_dir_remove(dir);
}

static void zap_one(Zap *z, const Device *d, bool whole) {
        _cleanup_free_ char *node = NULL;
        ZapResult *res;
        int fd = -EBADF, r;

        if (asprintf(&node, "/dev/%s", d->kname) < 0 || !(res = add_result(z, node)))
                return;
        res->error = zap_refusal(z, d);
        if (res->error)
                return;
        if (z->req->dry_run) {
                for (size_t i = 0; i < d->n_signatures; i++)
                        (void) strv_extend(&res->erased, d->signatures[i].type);
                if (d->pttype)
                        (void) strv_extend(&res->erased, d->pttype);
                if (d->n_label_offsets)
                        (void) strv_extend(&res->erased, "bluestore label");
                res->zapped = false;
                return;
        }
        r = target_open_exclusive(d, &fd, &res->error);
        if (r < 0)
                return;
        WipeReport w = {};
        r = wipe_device(fd, whole ? ZAP_HEAD_BYTES : MIN(ZAP_HEAD_BYTES, d->size), &w);
        safe_close(fd);
        res->erased = TAKE_PTR(w.erased);
        wipe_report_done(&w);
        if (r < 0) {
                error_set(&res->error, "wiping failed: %s", strerror(-r));
                return;
        }
        res->zapped = true;
        for (size_t i = 0; i < d->n_ceph; i++)
                forget_osd_dir(z, &d->ceph[i]);
}

static bool device_of_osd(const Device *d, const ZapRequest *req) {
        /* LVs and the crypt mappings on them (whose labels name the OSD too) are zap_lvm()'s */
        if (d->type == DEVICE_TYPE_LVM || d->type == DEVICE_TYPE_CRYPT || d->type == DEVICE_TYPE_DM)
                return false;
        for (size_t i = 0; i < d->n_ceph; i++) {
                if (streq_ptr(d->ceph[i].source, "lvm-tags"))
                        continue; /* LVM OSDs: zap_lvm() */
                if ((req->osd_id >= 0 && d->ceph[i].osd_id == req->osd_id) ||
                    (req->osd_fsid && streq_ptr(d->ceph[i].osd_uuid, req->osd_fsid)))
                        return true;
        }
        return false;
}

static bool lv_of_request(const LogicalVolume *lv, const ZapRequest *req, const Device *only) {
        const char *id = lvm_lv_tag(lv, "ceph.osd_id"), *fsid = lvm_lv_tag(lv, "ceph.osd_fsid");
        int n;

        if (!fsid)
                return false;
        if (only)
                return true;
        return (req->osd_id >= 0 && id && safe_atoi(id, &n) >= 0 && n == req->osd_id) ||
               (req->osd_fsid && streq(fsid, req->osd_fsid));
}

/* The LVs of an LVM OSD, as `ceph-volume lvm zap` treats them: crypt mappings closed; with
 * --destroy the LVs removed, and a VG left empty removed with its PV, whose device is then
 * wiped; without it the ceph.* tags cleared and the head of each LV zeroed. only: just the
 * LVs on this device (castlectl zap DEVICE --destroy on a PV of a ceph VG). */
static void zap_lvm(Zap *z, const Device *only) {
        const DeviceList *all = z->scan->devices;
        _cleanup_strv_free_ char **done_vgs = NULL;

        for (size_t i = 0; i < all->n; i++) {
                const Device *pv = all->items[i];
                bool touched = false;

                if (!pv->lvm || (only && pv != only))
                        continue;
                for (size_t k = 0; k < pv->lvm->n_lvs; k++) {
                        const LogicalVolume *lv = &pv->lvm->lvs[k];
                        _cleanup_strv_free_ char **tags = NULL;
                        ZapResult *res;
                        char *why = NULL;

                        if (!lv_of_request(lv, z->req, only) || !lv->path || !(res = add_result(z, lv->path)))
                                continue;
                        for (size_t c = 0; c < pv->n_ceph && !why; c++)
                                if (streq_ptr(pv->ceph[c].lv_path, lv->path))
                                        why = osd_in_use(z, &pv->ceph[c]);
                        if (why) {
                                res->error = why;
                                continue;
                        }
                        touched = true;
                        (void) strv_extend(&res->erased, z->req->destroy ? "LV" : "ceph.* tags, the first 10 MiB");
                        if (z->req->dry_run)
                                continue;
                        if (lv->uuid && dmcrypt_is_open(lv->uuid) && dmcrypt_close(lv->uuid, &res->error) < 0)
                                continue;
                        if (z->req->destroy) {
                                if (lvmcmd_lv_remove(lv->vg_name, lv->name, &res->error) < 0)
                                        continue;
                        } else {
                                _cleanup_close_ int fd = target_open_node(lv->path, true);
                                WipeReport w = {};
                                for (size_t t = 0; t < lv->n_tags; t++)
                                        if (startswith(lv->tags[t].key, "ceph.")) {
                                                char *tg;
                                                if (asprintf(&tg, "%s=%s", lv->tags[t].key, strempty(lv->tags[t].value)) >= 0)
                                                        (void) strv_consume(&tags, tg);
                                        }
                                if (fd < 0 || wipe_device(fd, MIN(ZAP_HEAD_BYTES, lv->size), &w) < 0) {
                                        error_set(&res->error, "cannot wipe %s: %s", lv->path, strerror(fd < 0 ? -fd : EIO));
                                        wipe_report_done(&w);
                                        continue;
                                }
                                wipe_report_done(&w);
                                _cleanup_free_ char *spec = lvmcmd_lv_spec(lv->vg_name, lv->name);
                                if (!spec || lvmcmd_lv_tags((char *[]) { spec, NULL }, NULL, tags, &res->error) < 0)
                                        continue;
                        }
                        res->zapped = true;
                }
                /* A VG this zap emptied goes, with its PV, and the device is wiped. */
                VgInfo vi;
                if (!touched || !z->req->destroy || z->req->dry_run || strv_contains(done_vgs, pv->lvm->vg_name) ||
                    lvmcmd_vg_info(pv->lvm->vg_name, &vi, NULL) < 0 || vi.free_count != vi.extent_count)
                        continue;
                (void) strv_extend(&done_vgs, pv->lvm->vg_name);
                ZapResult *res = add_result(z, pv->path ?: pv->kname);
                if (!res)
                        continue;
                if (lvmcmd_vg_remove(pv->lvm->vg_name, &res->error) < 0 || lvmcmd_pv_remove(pv->path, &res->error) < 0)
                        continue;
                int fd = -EBADF;
                if (target_open_exclusive(pv, &fd, &res->error) < 0)
                        continue;
                WipeReport w = {};
                if (wipe_device(fd, ZAP_HEAD_BYTES, &w) >= 0) {
                        res->zapped = true;
                        res->erased = TAKE_PTR(w.erased);
                        (void) strv_extend(&res->erased, "VG and PV");
                }
                wipe_report_done(&w);
                safe_close(fd);
        }
}

/* d is a PV whose LVs all belong to OSDs. */
static bool ceph_pv(const Device *d) {
        if (!d->lvm || d->lvm->n_lvs == 0)
                return false;
        for (size_t k = 0; k < d->lvm->n_lvs; k++)
                if (!lvm_lv_tag(&d->lvm->lvs[k], "ceph.osd_fsid"))
                        return false;
        return true;
}

static void zap_device(Zap *z, const Device *d) {
        const DeviceList *all = z->scan->devices;
        size_t first = z->n;

        if (strv_isempty(d->partitions) || d->os_disk) {
                zap_one(z, d, true);
                return;
        }
        /* A partitioned disk: its partitions' contents first, the table only with --destroy. */
        STRV_FOREACH(p, d->partitions) {
                const Device *part = device_list_find(all, *p);
                if (part)
                        zap_one(z, part, false);
        }
        for (size_t i = first; i < z->n; i++)
                if (z->res[i].error)
                        return;
        if (z->req->destroy)
                zap_one(z, d, true);
}

int osd_zap(const OsdContext *c, const ZapRequest *req, ZapResult **ret, size_t *ret_n) {
        Zap z = { .c = c, .req = req };
        ScanOptions so = c->scan;
        int r;

        so.allow_loop = true; /* zap names its devices itself; loop devices are fine */
        r = devscan_run(&so, &z.scan);
        if (r < 0)
                return r;
        STRV_FOREACH(arg, req->devices) {
                const Device *d = target_find(z.scan->devices, *arg);
                if (!d) {
                        ZapResult *res = add_result(&z, *arg);
                        if (res)
                                res->error = strdup("no such block device");
                        continue;
                }
                if (ceph_pv(d) && req->destroy)
                        zap_lvm(&z, d);
                else
                        zap_device(&z, d);
        }
        if (req->osd_id >= 0 || req->osd_fsid)
                zap_lvm(&z, NULL);
        if (req->osd_id >= 0 || req->osd_fsid)
                for (size_t i = 0; i < z.scan->devices->n; i++)
                        if (device_of_osd(z.scan->devices->items[i], req))
                                zap_device(&z, z.scan->devices->items[i]);
        scan_result_free(z.scan);
        mon_disconnect(z.mon);
        free(z.mon_error);
        *ret = z.res;
        *ret_n = z.n;
        return 0;
}
