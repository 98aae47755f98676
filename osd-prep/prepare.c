/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "common/uuid.h"
#include "discovery/bluestore.h"
#include "discovery/health.h"
#include "discovery/verdict.h"
#include "osd-prep/cephx.h"
#include "osd-prep/crypt.h"
#include "osd-prep/fault.h"
#include "osd-prep/journal.h"
#include "osd-prep/lvmlayout.h"
#include "osd-prep/osddir.h"
#include "osd-prep/osdlist.h"
#include "osd-prep/prepare.h"
#include "osd-prep/start.h"
#include "osd-prep/target.h"

#define MKFS_TIMEOUT_USEC (10 * 60 * USEC_PER_SEC)

const char *const prepare_step_names[] = {
        "plan", "lock", "journal", "osd-new", "lvm", "osd-dir", "mkfs", "start", "up", NULL,
};

void prepare_result_done(PrepareResult *r) {
        free(r->device);
        free(r->stable_id);
        strv_free(r->reasons);
        free(r->osd_uuid);
        free(r->cluster_fsid);
        free(r->error);
        free(r->rolled_back);
        free(r->db_device);
        free(r->wal_device);
        free(r->block_path);
        *r = (PrepareResult) { .osd_id = -1 };
}

typedef struct Run {
        const OsdContext *c;
        const PrepareRequest *req;
        PrepareResult *res;
        uint64_t step_start;
        MonConn *mon;
        bool own_mon;           /* connected by this prepare (not the context's) */
        JournalEntry entry;
        bool have_entry;
        /* the data device, and in LVM mode the db and wal devices */
        const Device *planned[_VOLUME_MAX];     /* in the plan's scan */
        TargetLock lock[_VOLUME_MAX];
        ScanResult *locked;                     /* the scan made under the locks */
        char *node[_VOLUME_MAX];                /* /dev/<kname> under the lock */
        OsdPaths paths;
        char dmcrypt_key[DMCRYPT_KEY_MAX];
        dev_t devnum;
        uint64_t size;
        char *dir;
} Run;

static void progress(Run *run, const char *step, unsigned percent, const char *fmt, ...) _printf_(4, 5);
static void progress(Run *run, const char *step, unsigned percent, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!run->c->progress)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        run->c->progress(step, percent, msg ?: step, run->c->userdata);
}

/* Closes the timing of the step that just ended. */
static void step_done(Run *run, const char *name) {
        uint64_t now = now_usec();
        PrepareResult *r = run->res;

        if (r->n_steps < PREPARE_MAX_STEPS)
                r->steps[r->n_steps++] = (StepTiming) { .name = name, .usec = now - run->step_start };
        run->step_start = now;
}

static int fail(Run *run, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Run *run, int r, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(run->res->error);
        run->res->error = s;
        return r < 0 ? r : -EIO;
}

/* Takes over a message from a library call's char **error. */
static int fail_with(Run *run, int r, const char *what, char *error) {
        _cleanup_free_ char *e = error;
        return fail(run, r, "%s: %s", what, e ?: strerror(-r));
}

static char **reason_strings(ReasonSet set) {
        char **l = NULL;
        REASON_SET_FOREACH(c, set)
                if (strv_extend(&l, reason_message(c)) < 0)
                        break;
        return l;
}

static int refuse(Run *run, const Device *d, const ScanResult *scan) {
        _cleanup_free_ char *why = verdict_explain(d, scan->devices);
        return fail(run, -EPERM, "refusing /dev/%s (%s): %s", d->kname, strempty(d->stable_id),
                    strempty(why));
}

/* The OSD a device already holds, from its label or LVM tags, or NULL. */
static const CephFacts *device_osd(const Device *d) {
        for (size_t i = 0; i < d->n_ceph; i++) {
                if (streq_ptr(d->ceph[i].source, "bluestore-label") && !device_has_label_at_start(d))
                        continue;
                if (d->ceph[i].osd_uuid)
                        return &d->ceph[i];
        }
        return NULL;
}

/* A device an interrupted prepare of ours was writing: nothing on it but BlueStore labels
 * that carry our uuid. */
static bool device_owned_by(const Device *d, const char *uuid) {
        const ReasonSet label_only = REASON_BIT(REASON_HAS_BLUESTORE_LABEL) |
                                     REASON_BIT(REASON_BLUESTORE_LABEL_REPLICA) |
                                     REASON_BIT(REASON_HAS_FILESYSTEM);

        if (d->reasons & ~label_only)
                return false;
        for (size_t i = 0; i < d->n_signatures; i++)
                if (!streq_ptr(d->signatures[i].type, "ceph_bluestore"))
                        return false;
        if (d->n_label_offsets > 0 && d->n_ceph == 0)
                return false;
        for (size_t i = 0; i < d->n_ceph; i++)
                if (!streq_ptr(d->ceph[i].osd_uuid, uuid))
                        return false;
        return true;
}

/* Reads the label at offset 0 of node: 0 if it is osd uuid's with id. */
static int label_check(const char *node, const char *uuid, int id) {
        _cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC);
        uint8_t buf[BLUESTORE_LABEL_SIZE];
        BlueStoreLabel l;

        if (fd < 0)
                return -errno;
        if (pread(fd, buf, sizeof buf, 0) != (ssize_t) sizeof buf)
                return -EIO;
        if (bluestore_label_parse(buf, sizeof buf, &l) < 0 || !l.crc_ok)
                return -EBADMSG;
        if (!streq(l.osd_uuid, uuid) || (id >= 0 && l.osd_id != id))
                return -ESTALE;
        return 0;
}

/* Zeroes the labels an interrupted mkfs of ours left; fd is locked. */
static int zero_labels(int fd, const Device *d) {
        static const uint8_t zeros[BLUESTORE_LABEL_SIZE];

        for (size_t i = 0; i < d->n_label_offsets; i++)
                if (pwrite(fd, zeros, sizeof zeros, (off_t) d->label_offsets[i]) != (ssize_t) sizeof zeros)
                        return -errno ?: -EIO;
        return d->n_label_offsets > 0 && fsync(fd) < 0 ? -errno : 0;
}

/* The first of the OSD's devices that is no longer there (pulled during the prepare), or NULL. */
static const char *device_gone(const Run *run) {
        for (VolumeType t = 0; t < _VOLUME_MAX; t++)
                if (run->node[t] && access(run->node[t], F_OK) < 0)
                        return run->node[t];
        return NULL;
}

static int mkfs(Run *run) {
        SpawnOptions so = { .timeout_usec = MKFS_TIMEOUT_USEC, .out_max = 1 << 20, .in = run->entry.secret };
        _cleanup_(spawn_result_done) SpawnResult res = {};
        _cleanup_free_ char *monmap = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        const char *gone;
        size_t n = 0;
        int r;

        if (asprintf(&monmap, "%s/activate.monmap", run->dir) < 0)
                return -ENOMEM;
        const char *extra[16] = { "--osd-objectstore", "bluestore", "--mkfs", "--monmap", monmap,
                                  "--keyfile", "-", "--osd-uuid", run->entry.uuid };
        while (extra[n])
                n++;
        if (run->paths.path[VOLUME_DB]) {
                extra[n++] = "--bluestore-block-db-path";
                extra[n++] = run->paths.path[VOLUME_DB];
        }
        if (run->paths.path[VOLUME_WAL]) {
                extra[n++] = "--bluestore-block-wal-path";
                extra[n++] = run->paths.path[VOLUME_WAL];
        }
        if (run->req->osdspec_affinity) {
                /* into the BlueStore label, as ceph-volume does: how a raw OSD, which has no
                 * LV tags, is counted against its spec's limit */
                extra[n++] = "--osdspec-affinity";
                extra[n++] = run->req->osdspec_affinity;
        }
        r = osd_ceph_argv(run->c, run->entry.osd_id, run->dir, extra, &argv);
        if (r < 0)
                return r;
        r = osd_ceph_run(argv, &so, run->node[VOLUME_BLOCK], &res);
        if (r < 0)
                return fail(run, r, "ceph-osd --mkfs: %s", r == -ENOENT ? "ceph-osd is not installed" : strerror(-r));
        if (res.status == 0)
                return 0;
        gone = device_gone(run);
        if (gone)
                return fail(run, -ENODEV,
                            "ceph-osd --mkfs failed: %s is gone (the disk was removed during the prepare); "
                            "ceph-osd said: %s",
                            gone, strip_trailing(res.err));
        return fail(run, -EIO, "ceph-osd --mkfs failed (exit %d): %s", res.status, strip_trailing(res.err));
}

/* Undoes what this prepare created, after a step failed. Each undo is logged in words. */
static void rollback(Run *run) {
        _cleanup_strv_free_ char **done = NULL;
        JournalEntry *e = &run->entry;
        char *err = NULL;
        char buf[256];
        unsigned left = 0;
        int r;

        if (e->lvm) {
                left = lvm_layout_remove(e, (const char *const *) run->node, &done);
        } else if (run->node[VOLUME_BLOCK] && run->devnum != 0 && label_check(run->node[VOLUME_BLOCK], e->uuid, -1) == 0) {
                /* Only ours: the label there carries this prepare's uuid. */
                Device d = { .kname = run->node[VOLUME_BLOCK] + 5, .devnum = run->devnum };
                int fd = -EBADF;

                for (size_t i = 0; i < ELEMENTSOF(bluestore_label_offsets); i++)
                        if (bluestore_label_offsets[i] + BLUESTORE_LABEL_SIZE <= run->size)
                                d.label_offsets[d.n_label_offsets++] = bluestore_label_offsets[i];

                if (target_open_exclusive(&d, &fd, NULL) >= 0) {
                        r = zero_labels(fd, &d);
                        safe_close(fd);
                        snprintf(buf, sizeof buf, r < 0 ? "could not wipe the label on %s" : "wiped the label on %s", run->node[VOLUME_BLOCK]);
                        (void) strv_extend(&done, buf);
                }
        }
        if (run->dir && osd_dir_remove(run->dir) >= 0) {
                snprintf(buf, sizeof buf, "removed %s", run->dir);
                (void) strv_extend(&done, buf);
        }
        if (e->osd_id >= 0 && run->mon) {
                if (e->reused_id)
                        snprintf(buf, sizeof buf, "kept osd.%d: it is a destroyed id being reused", e->osd_id);
                else if (mon_osd_purge_new(run->mon, e->osd_id, &err) >= 0)
                        snprintf(buf, sizeof buf, "purged osd.%d", e->osd_id);
                else
                        snprintf(buf, sizeof buf, "could not purge osd.%d (%s)", e->osd_id, strempty(err));
                free(err);
                (void) strv_extend(&done, buf);
        }
        if (left > 0) {
                /* Volumes on a device that went away stay recorded: running the same prepare
                 * when it is back removes them (by the names kept here) and starts afresh. */
                e->step = STEP_JOURNAL;
                e->osd_id = -1;
                e->reused_id = false;
                if (journal_write(run->c->state_dir ?: STATE_DIR_DEFAULT, e) >= 0)
                        (void) strv_extend(&done, "kept the journal entry: run the same prepare again when the device is back");
        } else if (journal_remove(run->c->state_dir ?: STATE_DIR_DEFAULT, e->uuid) >= 0)
                (void) strv_extend(&done, "removed the journal entry");
        free(run->res->rolled_back);
        run->res->rolled_back = strv_join(done, ", ");
}

#define START_TRIES 3

static int start_and_wait(Run *run, int id) {
        _cleanup_free_ char *dir = osd_dir_path(run->c, id);
        char *err = NULL;
        int r;

        if (!dir)
                return -ENOMEM;
        if (osd_start_mode_resolve(run->c) == START_NONE)
                return 0;
        for (int attempt = 1;; attempt++) {
                if (osd_running_pid(id) == 0) {
                        progress(run, "start", 85, "starting osd.%d", id);
                        osd_wait_device_idle(run->res->block_path ?: run->res->device);
                        r = osd_start(run->c, id, dir, &err);
                        if (r < 0)
                                return fail_with(run, r, "cannot start the OSD", err);
                        run->res->started = true;
                        fault_point("start");
                }
                step_done(run, "start");
                progress(run, "up", 90, "waiting for osd.%d to be up", id);
                r = osd_wait_up(run->c, run->mon, id, &err);
                if (r == -ESRCH && attempt < START_TRIES) {
                        progress(run, "up", 90, "%s; starting it again", err);
                        err = mfree(err);
                        continue;
                }
                if (r < 0)
                        return fail_with(run, r, "the OSD did not come up", err);
                step_done(run, "up");
                return 0;
        }
}

/* The device already holds an OSD and no prepare of ours is pending for it. */
static int already_prepared(Run *run, const CephFacts *f) {
        PrepareResult *res = run->res;

        if (!streq_ptr(f->cluster_fsid, res->cluster_fsid))
                return fail(run, -EEXIST, "%s already holds osd.%d of another cluster (fsid %s); zap it first if it is not needed",
                            res->device, f->osd_id, strempty(f->cluster_fsid));
        res->already_prepared = true;
        res->osd_id = f->osd_id;
        res->osd_uuid = strdup(f->osd_uuid);
        progress(run, "plan", 80, "%s already holds osd.%d; nothing to prepare", res->device, f->osd_id);
        return start_and_wait(run, f->osd_id);
}

static int plan(Run *run, ScanResult **ret_scan, const Device **ret) {
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        PrepareResult *res = run->res;
        const Device *d;
        int r;

        ScanOptions o = run->c->scan;
        o.previous = run->req->recent;
        o.dirty = run->req->dirty;
        progress(run, "plan", 0, "scanning devices");
        r = devscan_run(&o, &scan);
        if (r < 0)
                return fail(run, r, "cannot scan the devices: %s", strerror(-r));
        d = target_find(scan->devices, run->req->data);
        if (!d)
                return fail(run, -ENODEV, "no block device is named %s (castlectl inventory lists them)", run->req->data);
        if (asprintf(&res->device, "/dev/%s", d->kname) < 0)
                return -ENOMEM;
        res->stable_id = d->stable_id ? strdup(d->stable_id) : NULL;
        res->size = d->size;
        res->available = d->available;
        res->reasons = reason_strings(d->reasons);
        if (isempty(d->stable_id))
                return fail(run, -EPERM, "refusing %s: it has no stable id, so castle could not recognise it again", res->device);
        res->lvm = run->req->lvm;
        res->encrypted = run->req->lvm && run->req->dmcrypt;
        if (!run->req->lvm && (run->req->db || run->req->wal || run->req->dmcrypt))
                return fail(run, -EINVAL, "separate DB/WAL devices and dm-crypt need LVM mode (--mode lvm)");
        run->planned[VOLUME_BLOCK] = d;
        for (VolumeType t = VOLUME_DB; t < _VOLUME_MAX; t++) {
                const char *arg = t == VOLUME_DB ? run->req->db : run->req->wal;
                char **where = t == VOLUME_DB ? &res->db_device : &res->wal_device;
                const Device *v;

                if (!arg)
                        continue;
                v = target_find(scan->devices, arg);
                if (!v)
                        return fail(run, -ENODEV, "no block device is named %s (the %s device)", arg, volume_type_to_string(t));
                if (isempty(v->stable_id))
                        return fail(run, -EPERM, "refusing /dev/%s as the %s device: it has no stable id", v->kname,
                                    volume_type_to_string(t));
                if (v == d || (t == VOLUME_WAL && v == run->planned[VOLUME_DB]))
                        return fail(run, -EINVAL, "the data, DB and WAL devices must be different devices");
                if (asprintf(where, "/dev/%s", v->kname) < 0)
                        return -ENOMEM;
                run->planned[t] = v;
        }
        /* A failing disk never gets a new OSD: the scan reads no health (the agent reads it on
         * its own schedule), so the disks this OSD would be written on are read now. */
        progress(run, "plan", 5, "reading the health of the disks");
        r = health_read_disks(scan->devices, run->planned, _VOLUME_MAX, run->c->scan.sysroot, 0);
        if (r < 0)
                return r;
        res->available = d->available;
        strv_free(res->reasons);
        res->reasons = reason_strings(d->reasons);
        *ret = d;
        *ret_scan = TAKE_PTR(scan);
        return 0;
}

static int journal_step(Run *run, PrepareStep step) {
        int r;

        run->entry.step = step;
        r = journal_write(run->c->state_dir ?: STATE_DIR_DEFAULT, &run->entry);
        if (r < 0)
                return fail(run, r, "cannot write the prepare journal in %s: %s",
                            run->c->state_dir ?: STATE_DIR_DEFAULT, strerror(-r));
        return 0;
}

static int new_entry(Run *run) {
        JournalEntry *e = &run->entry;
        _cleanup_free_ char *uuid = NULL;
        char secret[CEPHX_SECRET_MAX];
        int r;

        r = uuid_random(&uuid);
        if (r < 0)
                return fail(run, r, "cannot make a uuid: %s", strerror(-r));
        r = cephx_secret_new(secret);
        if (r < 0)
                return fail(run, r, "cannot make a cephx secret: %s", strerror(-r));
        *e = (JournalEntry) {
                .uuid = TAKE_PTR(uuid),
                .secret = strdup(secret),
                .stable_id = strdup(run->res->stable_id),
                .device = strdup(run->node[VOLUME_BLOCK]),
                .cluster = strdup(osd_ctx_cluster(run->c)),
                .cluster_fsid = strdup(run->res->cluster_fsid),
                .crush_class = run->req->crush_class ? strdup(run->req->crush_class) : NULL,
                .osd_id = -1,
        };
        explicit_bzero(secret, sizeof secret);
        if (!e->uuid || !e->secret || !e->stable_id || !e->device || !e->cluster || !e->cluster_fsid)
                return -ENOMEM;
        if (run->req->lvm) {
                e->lvm = true;
                e->encrypted = run->req->dmcrypt;
                if (e->encrypted) {
                        r = cephx_secret_new(secret);
                        if (r < 0)
                                return fail(run, r, "cannot make a lockbox secret: %s", strerror(-r));
                        e->lockbox = strdup(secret);
                        explicit_bzero(secret, sizeof secret);
                        if (!e->lockbox)
                                return -ENOMEM;
                }
                for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                        const Device *d = run->lock[t].device;
                        if (!d)
                                continue;
                        r = lvm_volume_plan(&e->vol[t], t, d, e->uuid);
                        if (r < 0)
                                return fail(run, r, "cannot name the %s volume: %s", volume_type_to_string(t), strerror(-r));
                }
        }
        run->have_entry = true;
        return journal_step(run, STEP_JOURNAL);
}

static int fetch_dmcrypt_key(Run *run) {
        _cleanup_free_ char *key = NULL;
        char *err = NULL;
        int r;

        r = mon_dmcrypt_key(&run->c->ceph, run->entry.uuid, run->entry.lockbox, &key, &err);
        if (r < 0)
                return fail_with(run, r, "cannot fetch the dm-crypt key from the monitors", err);
        if (strlen(key) >= sizeof run->dmcrypt_key) {
                explicit_bzero(key, strlen(key));
                return fail(run, -EBADMSG, "the monitors' dm-crypt key for osd %s is too long", run->entry.uuid);
        }
        strcpy(run->dmcrypt_key, key);
        explicit_bzero(key, strlen(key));
        return 0;
}

/* LVM mode: VGs, tagged LVs, crypt volumes. What an interrupted run of this entry left is
 * removed first (only names this entry chose), so every run builds the layout whole. */
static int make_layout(Run *run) {
        JournalEntry *e = &run->entry;
        LayoutRequest lr = {
                .node = { run->node[VOLUME_BLOCK], run->node[VOLUME_DB], run->node[VOLUME_WAL] },
                .slots = { run->req->data_slots, run->req->db_slots, run->req->wal_slots },
                .size = { 0, run->req->db_size, run->req->wal_size },
                .cluster_name = osd_ctx_cluster(run->c),
                .osdspec_affinity = run->req->osdspec_affinity,
        };
        char *err = NULL;
        int r;

        if (e->encrypted && isempty(run->dmcrypt_key)) {
                r = fetch_dmcrypt_key(run);
                if (r < 0)
                        return r;
        }
        lr.dmcrypt_key = e->encrypted ? run->dmcrypt_key : NULL;
        /* The scan under the locks knows the extents of a VG that is there already, unless
         * the removal of an interrupted run's LVs below changes them. */
        for (VolumeType t = 0; !run->res->resumed && t < _VOLUME_MAX; t++) {
                const Device *d = run->lock[t].device;
                if (d && d->lvm && !e->vol[t].vg_ours && streq_ptr(d->lvm->vg_name, e->vol[t].vg))
                        lr.vg[t] = (VgInfo) { .extent_size = d->lvm->vg_extent_size,
                                              .extent_count = d->lvm->vg_extent_count,
                                              .free_count = d->lvm->vg_free_count };
        }
        /* LVM opens the devices itself (vgcreate exclusively): hand them over. */
        for (VolumeType t = 0; t < _VOLUME_MAX; t++)
                run->lock[t].fd = safe_close(run->lock[t].fd);
        if (run->res->resumed) {
                _cleanup_strv_free_ char **done = NULL;
                lvm_layout_remove(e, (const char *const *) run->node, &done);
                STRV_FOREACH(d, done)
                        progress(run, "lvm", 30, "interrupted prepare of osd %s: %s", e->uuid, *d);
        }
        progress(run, "lvm", 30, "creating the volumes of osd.%d%s", e->osd_id, e->encrypted ? " (dm-crypt)" : "");
        r = lvm_layout_create(e, &lr, &run->paths, &err);
        if (r < 0)
                return fail_with(run, r, "cannot create the LVM volumes", err);
        fault_point("lvm");
        step_done(run, "lvm");
        return 0;
}

static int allocate_id(Run *run) {
        JournalEntry *e = &run->entry;
        int want = run->req->osd_id, id, r;
        char *err = NULL;

        if (want >= 0) {
                OsdState st;
                r = mon_osd_state(run->mon, want, &st, &err);
                if (r < 0 && r != -ENOENT)
                        return fail_with(run, r, "cannot read the osd map", err);
                if (r == 0 && !st.destroyed && !streq(st.uuid, e->uuid))
                        return fail(run, -EEXIST, "osd.%d exists and is not destroyed; only a destroyed id can be reused", want);
                if (r == 0 && st.destroyed && !e->reused_id) {
                        /* Recorded before `osd new` so that a rollback after a crash knows. */
                        e->reused_id = true;
                        r = journal_step(run, e->step);
                        if (r < 0)
                                return r;
                }
        }
        progress(run, "osd-new", 20, "asking the monitors for an OSD id");
        OsdSecrets secrets = { .cephx = e->secret, .crush_class = e->crush_class };
        if (e->encrypted) {
                r = cephx_dmcrypt_key_new(run->dmcrypt_key);
                if (r < 0)
                        return fail(run, r, "cannot make a dm-crypt key: %s", strerror(-r));
                secrets.lockbox = e->lockbox;
                secrets.dmcrypt = run->dmcrypt_key;
        }
        r = mon_osd_new(run->mon, e->uuid, &secrets, want, &id, &err);
        if (r == -EEXIST && e->encrypted) {
                /* An interrupted run got as far as `osd new`: the monitors keep its key. */
                err = mfree(err);
                r = fetch_dmcrypt_key(run);
                if (r < 0)
                        return r;
                r = mon_osd_new(run->mon, e->uuid, &secrets, want, &id, &err);
        }
        if (r < 0)
                return fail_with(run, r, "the monitors refused a new OSD", err);
        e->osd_id = id;
        r = journal_step(run, STEP_OSD_NEW);
        if (r < 0)
                return r;
        fault_point("osd-new");
        return 0;
}

static int make_osd(Run *run) {
        JournalEntry *e = &run->entry;
        _cleanup_free_ void *monmap = NULL;
        size_t monmap_size = 0;
        char *err = NULL;
        int r;

        if (e->lvm) {
                r = make_layout(run);
                if (r < 0)
                        return r;
        } else {
                /* An interrupted mkfs of ours may have left labels: they carry our uuid (checked
                 * under the lock), and mkfs starts again from nothing. */
                r = zero_labels(run->lock[VOLUME_BLOCK].fd, run->lock[VOLUME_BLOCK].device);
                if (r < 0)
                        return fail(run, r, "cannot clear the interrupted mkfs on %s: %s", run->node[VOLUME_BLOCK], strerror(-r));
                run->paths.path[VOLUME_BLOCK] = strdup(run->node[VOLUME_BLOCK]);
                if (!run->paths.path[VOLUME_BLOCK])
                        return -ENOMEM;
        }
        free(run->res->block_path);
        run->res->block_path = strdup(run->paths.path[VOLUME_BLOCK]);
        r = mon_getmap(run->mon, &monmap, &monmap_size, &err);
        if (r < 0)
                return fail_with(run, r, "cannot get the monmap", err);
        progress(run, "osd-dir", 35, "creating %s", run->dir);
        r = osd_dir_create(run->dir, e->osd_id, run->paths.path[VOLUME_BLOCK], e->secret, monmap, monmap_size);
        /* mkfs links block.db and block.wal itself (from --bluestore-block-*-path) */
        for (VolumeType t = VOLUME_DB; r >= 0 && t < _VOLUME_MAX; t++)
                if (run->paths.path[t])
                        r = osd_chown_device(run->paths.path[t]);
        if (r < 0)
                return fail(run, r, "cannot create %s: %s", run->dir, strerror(-r));
        r = journal_step(run, STEP_OSD_DIR);
        if (r < 0)
                return r;
        fault_point("osd-dir");
        step_done(run, "osd-dir");

        /* ceph-osd takes its own flock on the device: hand it over. The label it writes is
         * read back below, which proves mkfs wrote the device we locked. */
        run->lock[VOLUME_BLOCK].fd = safe_close(run->lock[VOLUME_BLOCK].fd);
        progress(run, "mkfs", 40, "ceph-osd --mkfs on %s", run->paths.path[VOLUME_BLOCK]);
        if (fault_fail("mkfs"))
                return fail(run, -EIO, "ceph-osd --mkfs failed (fault point mkfs)");
        r = mkfs(run);
        if (r < 0)
                return r;
        r = label_check(run->paths.path[VOLUME_BLOCK], e->uuid, e->osd_id);
        if (r < 0)
                return fail(run, r, "after mkfs, %s does not carry the label of osd.%d (%s)",
                            run->paths.path[VOLUME_BLOCK], e->osd_id, strerror(-r));
        r = journal_step(run, STEP_MKFS);
        if (r < 0)
                return r;
        fault_point("mkfs");
        step_done(run, "mkfs");
        progress(run, "mkfs", 80, "osd.%d created on %s", e->osd_id, run->paths.path[VOLUME_BLOCK]);
        return 0;
}

/* d may take volume t of a new OSD: available, or in LVM mode a ceph VG with room (a shared
 * DB device, or a data device split into --osds-per-device slots). */
static bool volume_fresh(Run *run, const Device *d, VolumeType t) {
        if (d->available)
                return true;
        return run->req->lvm && (t != VOLUME_BLOCK || run->req->data_slots > 1) && lvm_device_in_ceph_vg(d, NULL, NULL);
}

/* d holds nothing but what the interrupted prepare of the journal entry wrote there. */
static bool volume_ours(Run *run, const Device *d, VolumeType t) {
        const JournalVolume *v = &run->entry.vol[t];
        char *names[] = { v->lv, NULL };

        if (!run->entry.lvm)
                return device_owned_by(d, run->entry.uuid);
        if (v->vg_ours && d->available)
                return true;
        /* A bare PV: the run was killed while vgcreate made the PV and the VG. */
        if (v->vg_ours && d->lvm && isempty(d->lvm->vg_name) && d->n_signatures == 1 &&
            streq_ptr(d->signatures[0].type, "LVM2_member") &&
            !(d->reasons & ~(REASON_BIT(REASON_HAS_FILESYSTEM) | REASON_BIT(REASON_LVM_DETECTED))))
                return true;
        return lvm_device_in_ceph_vg(d, v->vg, names);
}

static int prepare(Run *run) {
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        const char *state_dir = run->c->state_dir ?: STATE_DIR_DEFAULT;
        PrepareResult *res = run->res;
        const CephFacts *existing;
        const Device *d = NULL;
        char fsid[37], *err = NULL;
        int r;

        r = plan(run, &scan, &d);
        if (r < 0)
                return r;
        r = journal_find(state_dir, res->stable_id, &run->entry);
        if (r < 0)
                return fail(run, r, "cannot read the prepare journal in %s: %s", state_dir, strerror(-r));
        run->have_entry = r > 0;
        if (run->have_entry && run->entry.lvm != run->req->lvm)
                return fail(run, -EBUSY, "an interrupted %s-mode prepare of %s is pending (journal %s): run it again in that mode",
                            run->entry.lvm ? "lvm" : "raw", res->device, run->entry.uuid);
        existing = run->have_entry ? NULL : device_osd(d);
        /* --osds-per-device: a data device with fewer OSDs than slots takes one more */
        if (existing && run->req->lvm && run->req->data_slots > 1 && osd_count_on(d) < run->req->data_slots &&
            lvm_device_in_ceph_vg(d, NULL, NULL))
                existing = NULL;
        for (VolumeType t = 0; !run->have_entry && t < _VOLUME_MAX; t++)
                if (run->planned[t] && !(t == VOLUME_BLOCK && existing) && !volume_fresh(run, run->planned[t], t))
                        return refuse(run, run->planned[t], scan);
        if (run->req->dry_run)
                return 0;
        fault_point("plan");
        step_done(run, "plan");

        run->mon = run->c->mon;
        if (!run->mon) {
                r = mon_connect(&run->c->ceph, &run->mon, &err);
                if (r < 0)
                        return fail_with(run, r, "cannot connect to the cluster", err);
                run->own_mon = true;
        }
        r = mon_fsid(run->mon, fsid);
        if (r < 0)
                return fail(run, r, "cannot read the cluster's fsid: %s", strerror(-r));
        res->cluster_fsid = strdup(fsid);
        if (!res->cluster_fsid)
                return -ENOMEM;
        if (existing)
                return already_prepared(run, existing);
        if (run->have_entry) {
                res->resumed = true;
                if (!streq_ptr(run->entry.cluster_fsid, fsid))
                        return fail(run, -EXDEV, "an interrupted prepare of %s (journal %s) was for cluster %s, not %s",
                                    res->device, run->entry.uuid, strempty(run->entry.cluster_fsid), fsid);
                progress(run, "plan", 5, "finishing the interrupted prepare of osd %s (last step: %s)", run->entry.uuid,
                         journal_step_to_string(run->entry.step));
        }

        progress(run, "lock", 10, "locking %s", res->device);
        TargetWant want[_VOLUME_MAX] = {};
        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                const Device *was;

                want[t].stable_id = t == VOLUME_BLOCK ? res->stable_id
                                    : run->have_entry ? run->entry.vol[t].stable_id
                                    : run->planned[t] ? run->planned[t]->stable_id : NULL;
                if (!want[t].stable_id)
                        continue;
                was = target_find(scan->devices, want[t].stable_id);
                want[t].planned_kname = was ? was->kname : NULL;
                /* A PV whose LVs are open is held by device-mapper: flock only (LVM's own
                 * locking orders its metadata writes), and the checks below still apply. */
                want[t].exclusive = !(was && was->lvm);
        }
        r = target_lock_all(want, _VOLUME_MAX, &run->c->scan, scan->devices, run->lock, &run->locked, &err);
        if (r < 0)
                return fail_with(run, r, "cannot lock the device", err);
        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                const Device *l = run->lock[t].device;

                if (!l)
                        continue;
                if (asprintf(&run->node[t], "/dev/%s", l->kname) < 0)
                        return -ENOMEM;
                if (run->have_entry ? !volume_ours(run, l, t) : !volume_fresh(run, l, t))
                        return refuse(run, l, run->locked);
        }
        d = run->lock[VOLUME_BLOCK].device;
        run->devnum = d->devnum;
        run->size = d->size;
        free(res->device);
        res->device = strdup(run->node[VOLUME_BLOCK]);
        fault_point("lock");
        step_done(run, "lock");

        if (!run->have_entry) {
                r = new_entry(run);
                if (r < 0)
                        return r;
                fault_point("journal");
        }
        step_done(run, "journal");

        if (run->entry.step < STEP_OSD_NEW) {
                r = allocate_id(run);
                if (r < 0)
                        return r;
        }
        step_done(run, "osd-new");
        res->osd_id = run->entry.osd_id;
        res->osd_uuid = strdup(run->entry.uuid);
        run->dir = osd_dir_path(run->c, run->entry.osd_id);
        if (!run->dir || !res->osd_uuid)
                return -ENOMEM;

        if (run->entry.step < STEP_MKFS) {
                r = make_osd(run);
                if (r < 0) {
                        rollback(run);
                        return r;
                }
        }
        for (VolumeType t = 0; t < _VOLUME_MAX; t++)
                target_unlock(&run->lock[t]);
        /* Prepared: what is left (starting it) is what activation does, and a rerun finds the
         * OSD by its label. */
        r = journal_remove(state_dir, run->entry.uuid);
        if (r < 0)
                return fail(run, r, "cannot remove the prepare journal entry: %s", strerror(-r));
        return start_and_wait(run, run->entry.osd_id);
}

int osd_prepare(const OsdContext *c, const PrepareRequest *req, PrepareResult *ret) {
        uint64_t t0 = now_usec();
        Run run = {
                .c = c,
                .req = req,
                .res = ret,
                .step_start = t0,
                .entry = { .osd_id = -1 },
                .lock = { { .fd = -EBADF }, { .fd = -EBADF }, { .fd = -EBADF } },
        };
        int r;

        *ret = (PrepareResult) { .osd_id = -1 };
        r = prepare(&run);
        if (r >= 0 && !req->dry_run)
                progress(&run, "done", 100, "osd.%d is ready on %s", ret->osd_id, strempty(ret->device));
        ret->total_usec = now_usec() - t0;
        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                target_unlock(&run.lock[t]);
                free(run.node[t]);
        }
        scan_result_free(run.locked);
        osd_paths_done(&run.paths);
        explicit_bzero(run.dmcrypt_key, sizeof run.dmcrypt_key);
        if (run.own_mon)
                mon_disconnect(run.mon);
        journal_entry_done(&run.entry);
        free(run.dir);
        return r;
}
