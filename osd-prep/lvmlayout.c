/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "common/uuid.h"
#include "osd-prep/crypt.h"
#include "osd-prep/lvmcmd.h"
#include "osd-prep/lvmlayout.h"

void osd_paths_done(OsdPaths *p) {
        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                free(p->path[t]);
                free(p->lv_uuid[t]);
        }
        *p = (OsdPaths) {};
}

const char *lvm_lv_tag(const LogicalVolume *lv, const char *key) {
        for (size_t i = 0; i < lv->n_tags; i++)
                if (streq_ptr(lv->tags[i].key, key))
                        return strempty(lv->tags[i].value);
        return NULL;
}

static bool lv_has_tag(const LogicalVolume *lv, const char *key) {
        return lvm_lv_tag(lv, key) != NULL;
}

bool lvm_device_in_ceph_vg(const Device *d, const char *vg, char *const *names) {
        const ReasonSet lvm_only = REASON_BIT(REASON_LVM_DETECTED) | REASON_BIT(REASON_HAS_FILESYSTEM) |
                                   REASON_BIT(REASON_LOCKED) | REASON_BIT(REASON_HAS_HOLDERS) |
                                   REASON_BIT(REASON_INSUFFICIENT_VG_SPACE);

        if (!d->lvm || isempty(d->lvm->vg_name) || !startswith(d->lvm->vg_name, "ceph-"))
                return false;
        if (vg && !streq(d->lvm->vg_name, vg))
                return false;
        if (d->reasons & ~lvm_only)
                return false;
        for (size_t i = 0; i < d->n_signatures; i++)
                if (!streq_ptr(d->signatures[i].type, "LVM2_member"))
                        return false;
        for (size_t i = 0; i < d->lvm->n_lvs; i++) {
                const LogicalVolume *lv = &d->lvm->lvs[i];
                if (!lv_has_tag(lv, "ceph.osd_fsid") && !strv_contains(names, lv->name))
                        return false;
        }
        return true;
}

int lvm_volume_plan(JournalVolume *v, VolumeType t, const Device *d, const char *osd_uuid) {
        _cleanup_free_ char *u = NULL;
        int r;

        *v = (JournalVolume) { .stable_id = strdup(d->stable_id) };
        if (!v->stable_id)
                return -ENOMEM;
        if (lvm_device_in_ceph_vg(d, NULL, NULL))
                v->vg = strdup(d->lvm->vg_name);
        else {
                r = uuid_random(&u);
                if (r < 0)
                        return r;
                v->vg_ours = true;
                if (asprintf(&v->vg, "ceph-%s", u) < 0)
                        v->vg = NULL;
                u = mfree(u);
        }
        if (t == VOLUME_BLOCK)
                r = asprintf(&v->lv, "osd-block-%s", osd_uuid);
        else {
                r = uuid_random(&u);
                if (r < 0)
                        return r;
                r = asprintf(&v->lv, "osd-%s-%s", volume_type_to_string(t), u);
        }
        if (r < 0)
                v->lv = NULL;
        return v->vg && v->lv ? 0 : -ENOMEM;
}

static int tag(char ***l, const char *key, const char *value) {
        char *s;
        if (asprintf(&s, "ceph.%s=%s", key, strempty(value)) < 0)
                return -ENOMEM;
        return strv_consume(l, s);
}

/* The tags every LV of the OSD carries from its creation on. */
static int base_tags(const JournalEntry *e, const LayoutRequest *req, VolumeType t, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        char id[16];
        int r = 0;

        snprintf(id, sizeof id, "%d", e->osd_id);
        r = r < 0 ? r : tag(&l, "osd_fsid", e->uuid);
        r = r < 0 ? r : tag(&l, "osd_id", id);
        r = r < 0 ? r : tag(&l, "cluster_fsid", e->cluster_fsid);
        r = r < 0 ? r : tag(&l, "cluster_name", req->cluster_name);
        r = r < 0 ? r : tag(&l, "crush_device_class", e->crush_class);
        r = r < 0 ? r : tag(&l, "osdspec_affinity", req->osdspec_affinity);
        r = r < 0 ? r : tag(&l, "objectstore", "bluestore");
        r = r < 0 ? r : tag(&l, "encrypted", e->encrypted ? "1" : "0");
        r = r < 0 ? r : tag(&l, "cephx_lockbox_secret", e->encrypted ? e->lockbox : "");
        r = r < 0 ? r : tag(&l, "vdo", "0");
        r = r < 0 ? r : tag(&l, "type", volume_type_to_string(t));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Even slots, as ceph-volume cuts them (the extents rounding leaves over stay free). */
static uint64_t extents_for(const VgInfo *vg, unsigned slots, uint64_t size) {
        if (size > 0)
                return (size + vg->extent_size - 1) / vg->extent_size;
        return MIN(vg->extent_count / (slots ?: 1), vg->free_count);
}

static int create_volume(const JournalEntry *e, const LayoutRequest *req, VolumeType t, char **error) {
        const JournalVolume *v = &e->vol[t];
        _cleanup_strv_free_ char **tags = NULL;
        VgInfo vg = req->vg[t];
        uint64_t n = 0;
        int r;

        if (v->vg_ours) {
                /* vgcreate makes the PV as well. Without --yes, a signature that appeared
                 * since the check makes LVM ask, stdin is /dev/null, and the answer is no. */
                r = lvmcmd_vg_create(v->vg, req->node[t], error);
                if (r < 0)
                        return r;
                vg = (VgInfo) {};
        }
        /* The one LV of a new VG takes all of it (0: 100%FREE), and LVM need not be asked
         * how big the VG came out. */
        if (!v->vg_ours || req->slots[t] > 1 || req->size[t] > 0) {
                if (vg.extent_size == 0) {
                        r = lvmcmd_vg_info(v->vg, &vg, error);
                        if (r == -ENOENT)
                                error_set(error, "the volume group %s for the %s volume is gone", v->vg,
                                          volume_type_to_string(t));
                        if (r < 0)
                                return r;
                }
                n = extents_for(&vg, req->slots[t], req->size[t]);
                if (n == 0 || n > vg.free_count) {
                        error_set(error, "%s has %llu free extents of %llu bytes; the %s volume needs %llu", v->vg,
                                  (unsigned long long) vg.free_count, (unsigned long long) vg.extent_size,
                                  volume_type_to_string(t), (unsigned long long) (n ?: 1));
                        return -ENOSPC;
                }
        }
        r = base_tags(e, req, t, &tags);
        if (r < 0)
                return r;
        return lvmcmd_lv_create(v->vg, v->lv, n, tags, error);
}

/* The uuid of an active LV, from device-mapper's uuid of its node: "LVM-", then the VG's
 * and the LV's uuid, 32 characters each, without the dashes LVM shows (6-4-4-4-4-4-6). */
static int active_lv_uuid(const char *path, char **ret) {
        static const unsigned groups[] = { 6, 4, 4, 4, 4, 4, 6 };
        _cleanup_free_ char *dm = NULL;
        char sys[64], out[39], *o = out;
        const char *lv;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u/dm/uuid", major(st.st_rdev), minor(st.st_rdev));
        r = read_one_line_at(AT_FDCWD, sys, &dm);
        if (r < 0)
                return r;
        if (!startswith(dm, "LVM-") || strlen(dm) != 4 + 64)
                return -EBADMSG;
        lv = dm + 4 + 32;
        for (size_t i = 0; i < ELEMENTSOF(groups); i++) {
                memcpy(o, lv, groups[i]);
                o += groups[i];
                lv += groups[i];
                if (i + 1 < ELEMENTSOF(groups))
                        *o++ = '-';
        }
        *o = 0;
        *ret = strdup(out);
        return *ret ? 0 : -ENOMEM;
}

typedef struct VolumeJob {
        const JournalEntry *e;
        const LayoutRequest *req;
        VolumeType t;
        char *path, *lv_uuid, *error;
        int r;
} VolumeJob;

/* One volume: its VG (if new) and LV, then the LV's path and uuid. */
static void *volume_job(void *userdata) {
        VolumeJob *j = userdata;
        const JournalVolume *v = &j->e->vol[j->t];

        j->r = create_volume(j->e, j->req, j->t, &j->error);
        if (j->r >= 0 && asprintf(&j->path, "/dev/%s/%s", v->vg, v->lv) < 0) {
                j->path = NULL;
                j->r = -ENOMEM;
        }
        if (j->r >= 0 && active_lv_uuid(j->path, &j->lv_uuid) < 0)
                j->r = lvmcmd_lv_uuid(v->vg, v->lv, &j->lv_uuid, &j->error);
        return NULL;
}

int lvm_layout_create(const JournalEntry *e, const LayoutRequest *req, OsdPaths *ret, char **error) {
        _cleanup_strv_free_ char **cross = NULL, **lvs = NULL;
        VolumeJob jobs[_VOLUME_MAX] = {};
        pthread_t threads[_VOLUME_MAX];
        bool started[_VOLUME_MAX] = {};
        OsdPaths p = {};
        int r = 0;

        /* The volumes are on different devices and in different VGs: LVM makes them at the
         * same time (each lvm command mostly waits for its own start, scan and udev). */
        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                if (!e->vol[t].stable_id)
                        continue;
                jobs[t] = (VolumeJob) { .e = e, .req = req, .t = t };
                if (pthread_create(&threads[t], NULL, volume_job, &jobs[t]) == 0)
                        started[t] = true;
                else
                        volume_job(&jobs[t]);
        }
        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                if (started[t])
                        (void) pthread_join(threads[t], NULL);
                if (jobs[t].r < 0 && r >= 0) {
                        r = jobs[t].r;
                        error_set(error, "%s", jobs[t].error ?: strerror(-r));
                }
                free(jobs[t].error);
                p.path[t] = jobs[t].path;
                p.lv_uuid[t] = jobs[t].lv_uuid;
        }
        if (r < 0)
                goto fail;
        /* ceph.block_device, ceph.db_uuid...: the same on every LV of the OSD, set on all of
         * them in one lvchange */
        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                char key[32];
                if (!p.path[t])
                        continue;
                r = strv_consume(&lvs, lvmcmd_lv_spec(e->vol[t].vg, e->vol[t].lv));
                snprintf(key, sizeof key, "%s_device", volume_type_to_string(t));
                if (r >= 0)
                        r = tag(&cross, key, p.path[t]);
                snprintf(key, sizeof key, "%s_uuid", volume_type_to_string(t));
                if (r >= 0)
                        r = tag(&cross, key, p.lv_uuid[t]);
                if (r < 0)
                        goto fail;
        }
        r = lvmcmd_lv_tags(lvs, cross, NULL, error);
        if (r < 0)
                goto fail;
        /* dm-crypt: each LV is a LUKS2 volume opened under its LV uuid, as ceph-volume names it */
        for (VolumeType t = 0; req->dmcrypt_key && t < _VOLUME_MAX; t++) {
                if (!p.path[t])
                        continue;
                r = dmcrypt_format(p.path[t], req->dmcrypt_key, error);
                if (r >= 0)
                        r = dmcrypt_open(p.path[t], p.lv_uuid[t], req->dmcrypt_key, error);
                if (r < 0)
                        goto fail;
                free(p.path[t]);
                if (asprintf(&p.path[t], "/dev/mapper/%s", p.lv_uuid[t]) < 0) {
                        p.path[t] = NULL;
                        r = -ENOMEM;
                        goto fail;
                }
        }
        *ret = p;
        return 0;
fail:
        osd_paths_done(&p);
        return r;
}

unsigned lvm_layout_remove(const JournalEntry *e, const char *const node[_VOLUME_MAX], char ***done) {
        unsigned failed = 0;
        char buf[512];

        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                const JournalVolume *v = &e->vol[t];
                _cleanup_free_ char *uuid = NULL, *err = NULL;

                if (!v->stable_id || !v->vg || !v->lv)
                        continue;
                if (!node[t] || access(node[t], F_OK) < 0) {
                        /* The disk is gone (pulled): what is on it cannot be undone now. */
                        snprintf(buf, sizeof buf, "could not clean up the %s volume: its device %s is gone",
                                 volume_type_to_string(t), node[t] ?: v->stable_id);
                        (void) strv_extend(done, buf);
                        failed++;
                        continue;
                }
                if (lvmcmd_lv_uuid(v->vg, v->lv, &uuid, NULL) >= 0) {
                        if (dmcrypt_is_open(uuid) && dmcrypt_close(uuid, &err) >= 0) {
                                snprintf(buf, sizeof buf, "closed /dev/mapper/%s", uuid);
                                (void) strv_extend(done, buf);
                        }
                        if (lvmcmd_lv_remove(v->vg, v->lv, &err) >= 0)
                                snprintf(buf, sizeof buf, "removed LV %s/%s", v->vg, v->lv);
                        else {
                                snprintf(buf, sizeof buf, "could not remove LV %s/%s (%s)", v->vg, v->lv, strempty(err));
                                failed++;
                        }
                        (void) strv_extend(done, buf);
                }
                if (!v->vg_ours)
                        continue;
                err = mfree(err);
                if (lvmcmd_vg_remove(v->vg, &err) >= 0) {
                        snprintf(buf, sizeof buf, "removed VG %s", v->vg);
                        (void) strv_extend(done, buf);
                }
                /* The PV: only when this entry made the VG on it, and only if it is a bare PV
                 * now (pvremove refuses a PV that is in a VG). */
                if (node[t] && lvmcmd_pv_remove(node[t], NULL) >= 0) {
                        snprintf(buf, sizeof buf, "removed PV %s", node[t]);
                        (void) strv_extend(done, buf);
                }
        }
        return failed;
}

/* The LV of OSD uuid with ceph.type type, from the LVM facts of any PV in devices. */
static const LogicalVolume *find_lv(const DeviceList *devices, const char *uuid, const char *type) {
        for (size_t i = 0; i < devices->n; i++) {
                const LvmFacts *f = devices->items[i]->lvm;
                for (size_t k = 0; f && k < f->n_lvs; k++)
                        if (streq_ptr(lvm_lv_tag(&f->lvs[k], "ceph.osd_fsid"), uuid) &&
                            streq_ptr(lvm_lv_tag(&f->lvs[k], "ceph.type"), type))
                                return &f->lvs[k];
        }
        return NULL;
}

int lvm_layout_open(const CephTarget *t, const DeviceList *devices, const char *uuid, OsdPaths *ret, char **error) {
        _cleanup_free_ char *key = NULL;
        const LogicalVolume *lv[_VOLUME_MAX];
        OsdPaths p = {};
        int r = 0;

        for (VolumeType v = 0; v < _VOLUME_MAX; v++)
                lv[v] = find_lv(devices, uuid, volume_type_to_string(v));
        if (!lv[VOLUME_BLOCK] || !lv[VOLUME_BLOCK]->path || !lv[VOLUME_BLOCK]->uuid) {
                error_set(error, "no LV carries the block tags of osd %s", uuid);
                return -ENOENT;
        }
        if (streq_ptr(lvm_lv_tag(lv[VOLUME_BLOCK], "ceph.encrypted"), "1")) {
                const char *lockbox = lvm_lv_tag(lv[VOLUME_BLOCK], "ceph.cephx_lockbox_secret");
                if (isempty(lockbox)) {
                        error_set(error, "osd %s is encrypted but its LV has no lockbox secret", uuid);
                        return -EBADMSG;
                }
                r = mon_dmcrypt_key(t, uuid, lockbox, &key, error);
                if (r < 0)
                        return r;
        }
        for (VolumeType v = 0; v < _VOLUME_MAX; v++) {
                if (!lv[v] || !lv[v]->path || !lv[v]->uuid)
                        continue;
                if (access(lv[v]->path, F_OK) < 0)
                        r = lvmcmd_lv_activate(lv[v]->vg_name, lv[v]->name, error);
                if (r >= 0 && key)
                        r = dmcrypt_open(lv[v]->path, lv[v]->uuid, key, error);
                if (r >= 0 && (key ? asprintf(&p.path[v], "/dev/mapper/%s", lv[v]->uuid)
                                   : asprintf(&p.path[v], "%s", lv[v]->path)) < 0) {
                        p.path[v] = NULL;
                        r = -ENOMEM;
                }
                if (r >= 0 && !(p.lv_uuid[v] = strdup(lv[v]->uuid)))
                        r = -ENOMEM;
                if (r < 0)
                        break;
        }
        if (key)
                explicit_bzero(key, strlen(key));
        if (r < 0) {
                osd_paths_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}
