/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finds this node's OSDs as ceph-volume does (raw: BlueStore labels; LVM: ceph.* LV tags)
 * and activates raw ones at boot: prime each OSD directory from its label, then start it. */
#include <errno.h>
#include <fcntl.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "osd-prep/lvmlayout.h"
#include "osd-prep/osddir.h"
#include "osd-prep/osdlist.h"
#include "osd-prep/start.h"

#define PRIME_TIMEOUT_USEC (60 * UINT64_C(1000000))

static void entry_done(OsdEntry *e) {
        free(e->uuid);
        free(e->cluster_fsid);
        free(e->kind);
        free(e->type);
        free(e->device);
        free(e->stable_id);
}

void osd_list_done(OsdList *l) {
        for (size_t i = 0; i < l->n; i++)
                entry_done(&l->items[i]);
        free(l->items);
        *l = (OsdList) {};
}

static int entry_cmp(const void *a, const void *b) {
        const OsdEntry *x = a, *y = b;
        if (x->id != y->id)
                return x->id < y->id ? -1 : 1;
        return strcmp(x->type ?: "", y->type ?: "");
}

static bool listed(const OsdList *l, const CephFacts *f) {
        for (size_t i = 0; i < l->n; i++)
                if (streq_ptr(l->items[i].uuid, f->osd_uuid) && streq_ptr(l->items[i].type, f->type))
                        return true;
        return false;
}

int osd_list_build(const DeviceList *devices, OsdList *ret) {
        OsdList l = {};

        for (size_t i = 0; i < devices->n; i++) {
                const Device *d = devices->items[i];

                for (size_t k = 0; k < d->n_ceph; k++) {
                        const CephFacts *f = &d->ceph[k];
                        bool lvm = streq_ptr(f->source, "lvm-tags");
                        OsdEntry *e, *items;

                        if (!f->osd_uuid || listed(&l, f) || (!lvm && !device_has_label_at_start(d)))
                                continue;
                        items = realloc(l.items, (l.n + 1) * sizeof *items);
                        if (!items) {
                                osd_list_done(&l);
                                return -ENOMEM;
                        }
                        l.items = items;
                        e = &l.items[l.n++];
                        *e = (OsdEntry) {
                                .id = f->osd_id,
                                .uuid = strdup(f->osd_uuid),
                                .cluster_fsid = f->cluster_fsid ? strdup(f->cluster_fsid) : NULL,
                                .kind = strdup(lvm ? "lvm" : "raw"),
                                .type = strdup(f->type ?: "block"),
                                .stable_id = d->stable_id ? strdup(d->stable_id) : NULL,
                        };
                        if (lvm && f->lv_path)
                                e->device = strdup(f->lv_path);
                        else if (asprintf(&e->device, "/dev/%s", d->kname) < 0)
                                e->device = NULL;
                        e->pid = f->osd_id >= 0 && streq(e->type, "block") ? osd_running_pid(f->osd_id) : 0;
                        if (!e->uuid || !e->kind || !e->type || !e->device) {
                                osd_list_done(&l);
                                return -ENOMEM;
                        }
                }
        }
        if (l.n > 1)
                qsort(l.items, l.n, sizeof *l.items, entry_cmp);
        *ret = l;
        return 0;
}

unsigned osd_count_on(const Device *d) {
        _cleanup_strv_free_ char **seen = NULL;

        for (size_t i = 0; i < d->n_ceph; i++)
                if (d->ceph[i].osd_uuid && streq_ptr(d->ceph[i].type, "block") && !strv_contains(seen, d->ceph[i].osd_uuid))
                        (void) strv_extend(&seen, d->ceph[i].osd_uuid);
        return strv_length(seen);
}

char *ceph_conf_fsid(const CephTarget *t) {
        rados_t r;
        char buf[64], *fsid = NULL;

        if (rados_create2(&r, t->cluster ?: "ceph", t->entity ?: "client.bootstrap-osd", 0) < 0)
                return NULL;
        if (rados_conf_read_file(r, t->conf) >= 0 && rados_conf_get(r, "fsid", buf, sizeof buf) >= 0 &&
            !isempty(buf) && !streq(buf, "00000000-0000-0000-0000-000000000000"))
                fsid = strdup(buf);
        rados_shutdown(r);
        return fsid;
}

/* ceph-bluestore-tool prime-osd-dir: the directory's files from the label (whoami, fsid,
 * keyring from the label's osd_key), what `ceph-volume raw activate` runs too. */
static int prime(const char *dev, const char *dir, char **error) {
        SpawnOptions so = { .timeout_usec = PRIME_TIMEOUT_USEC, .out_max = 65536 };
        _cleanup_(spawn_result_done) SpawnResult res = {};
        char *argv[] = { (char *) "ceph-bluestore-tool", (char *) "prime-osd-dir", (char *) "--dev", (char *) dev,
                         (char *) "--path", (char *) dir, (char *) "--no-mon-config", NULL };
        int r;

        r = spawn_capture(argv, NULL, &so, &res);
        if (r < 0) {
                error_set(error, "ceph-bluestore-tool: %s", r == -ENOENT ? "not installed" : strerror(-r));
                return r;
        }
        if (res.status != 0) {
                error_set(error, "ceph-bluestore-tool prime-osd-dir failed: %s", strip_trailing(res.err));
                return -EIO;
        }
        return 0;
}

/* Leaves dir ready to start: primed from the label unless it already is this OSD's. */
static int ready_dir(const OsdEntry *e, const char *block, const char *dir, char **error) {
        _cleanup_free_ char *fsid_path = NULL, *fsid = NULL, *keyring = NULL;
        uid_t uid;
        gid_t gid;
        int r;

        if (asprintf(&fsid_path, "%s/fsid", dir) < 0 || asprintf(&keyring, "%s/keyring", dir) < 0)
                return -ENOMEM;
        if (read_one_line_at(AT_FDCWD, fsid_path, &fsid) < 0 || !streq(fsid, e->uuid) ||
            access(keyring, F_OK) < 0) {
                r = mkdir_p(dir, 0755);
                if (r < 0) {
                        error_set(error, "cannot create %s: %s", dir, strerror(-r));
                        return r;
                }
                r = prime(block, dir, error);
                if (r < 0)
                        return r;
        }
        r = osd_dir_link(dir, "block", block);
        if (r < 0) {
                error_set(error, "cannot link %s/block: %s", dir, strerror(-r));
                return r;
        }
        osd_owner(&uid, &gid);
        if (uid != (uid_t) -1) {
                _cleanup_strv_free_ char **names = NULL;
                (void) chown(dir, uid, gid);
                if (list_dir_at(AT_FDCWD, dir, &names) >= 0)
                        STRV_FOREACH(n, names) {
                                int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                                if (dfd >= 0) {
                                        (void) fchownat(dfd, *n, uid, gid, AT_SYMLINK_NOFOLLOW);
                                        safe_close(dfd);
                                }
                        }
        }
        r = osd_chown_device(block);
        if (r < 0)
                error_set(error, "cannot hand %s to the ceph user: %s", block, strerror(-r));
        return r;
}

/* An LVM OSD: its LVs active, LUKS volumes open, the directory primed from the block
 * volume's label, block.db and block.wal linked. */
static int ready_lvm(const OsdContext *c, const DeviceList *devices, const OsdEntry *e, const char *dir, char **error) {
        _cleanup_(osd_paths_done) OsdPaths p = {};
        int r;

        r = lvm_layout_open(&c->ceph, devices, e->uuid, &p, error);
        if (r < 0)
                return r;
        r = ready_dir(e, p.path[VOLUME_BLOCK], dir, error);
        for (VolumeType t = VOLUME_DB; r >= 0 && t < _VOLUME_MAX; t++) {
                char name[16];
                if (!p.path[t])
                        continue;
                snprintf(name, sizeof name, "block.%s", volume_type_to_string(t));
                r = osd_dir_link(dir, name, p.path[t]);
                if (r >= 0)
                        r = osd_chown_device(p.path[t]);
                if (r < 0)
                        error_set(error, "cannot link %s/%s: %s", dir, name, strerror(-r));
        }
        return r;
}

int osd_activate(const OsdContext *c, int id, ActivateResult **ret, size_t *ret_n) {
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        _cleanup_free_ char *fsid = ceph_conf_fsid(&c->ceph);
        _cleanup_(osd_list_done) OsdList l = {};
        ActivateResult *res = NULL;
        size_t n = 0;
        int r;

        r = devscan_run(&c->scan, &scan);
        if (r < 0)
                return r;
        r = osd_list_build(scan->devices, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                const OsdEntry *e = &l.items[i];
                _cleanup_free_ char *dir = NULL;
                ActivateResult *a;

                if (!streq(e->type, "block") || e->id < 0)
                        continue;
                if ((id >= 0 && e->id != id) || (fsid && !streq_ptr(e->cluster_fsid, fsid)))
                        continue;
                a = realloc(res, (n + 1) * sizeof *a);
                if (!a) {
                        activate_results_free(res, n);
                        return -ENOMEM;
                }
                res = a;
                a = &res[n++];
                *a = (ActivateResult) { .id = e->id, .device = strdup(e->device) };
                if (e->pid > 0)
                        continue;
                dir = osd_dir_path(c, e->id);
                if (!dir)
                        r = -ENOMEM;
                else if (streq(e->kind, "lvm"))
                        r = ready_lvm(c, scan->devices, e, dir, &a->error);
                else
                        r = ready_dir(e, e->device, dir, &a->error);
                if (r >= 0)
                        r = osd_start(c, e->id, dir, &a->error);
                a->started = r >= 0;
        }
        *ret = res;
        *ret_n = n;
        return 0;
}

void activate_results_free(ActivateResult *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(a[i].device);
                free(a[i].error);
        }
        free(a);
}
