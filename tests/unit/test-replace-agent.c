/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's replacement watch (agent/replace.c) with fake time, a fake removal journal and a
 * fake job queue: only finished removals with replace are reservations; a disk in the reserved
 * slot is prepared with the id once it settled, in the recorded layout; a disk in another slot
 * and the old disk are left alone; a success ends the reservation, a failure keeps it with the
 * error and backs off (also across an agent restart, destroying the id again); the
 * operator's give checks the id and the device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/replace.h"
#include "common/macro.h"
#include "common/strv.h"

#define SEC UINT64_C(1000000)
#define SETTLE (10 * SEC)
#define SLOT "/dev/disk/by-path/pci-0000:00:10.0-scsi-0:0:1:0"

typedef struct Fake {
        RemovalEntry journal[4];
        bool present[4];
        int removed[4];
        size_t n_removed, n_written;
        uint64_t ids[8];
        char *device[8];
        bool lvm[8], dmcrypt[8];
        char *db[8];
        uint64_t db_size[8];
        int osd_id[8];
        size_t n_submitted;
        int redestroyed[8];
        uint64_t redestroy_ids[8];
        size_t n_redestroyed;
} Fake;

static Fake fake;

static int f_list(const char *dir, int **ret, size_t *ret_n) {
        int *v = calloc(4, sizeof(int));
        size_t n = 0;

        for (int i = 0; i < 4; i++)
                if (fake.present[i])
                        v[n++] = fake.journal[i].osd_id;
        *ret = v;
        *ret_n = n;
        return 0;
}

static char *dup0(const char *s) {
        return s ? strdup(s) : NULL;
}

static int f_read(const char *dir, int id, RemovalEntry *ret) {
        for (int i = 0; i < 4; i++)
                if (fake.present[i] && fake.journal[i].osd_id == id) {
                        const RemovalEntry *e = &fake.journal[i];

                        *ret = *e;
                        ret->by_path = dup0(e->by_path);
                        ret->block.stable_id = dup0(e->block.stable_id);
                        ret->db.stable_id = dup0(e->db.stable_id);
                        ret->replacement = dup0(e->replacement);
                        ret->replacement_error = dup0(e->replacement_error);
                        ret->osd_uuid = ret->cluster_fsid = ret->error = ret->crush_device_class = NULL;
                        ret->block.vg = ret->block.lv = ret->db.vg = ret->db.lv = NULL;
                        ret->wal = (RemovalVolume) {};
                        return 1;
                }
        return 0;
}

static int f_write(const char *dir, const RemovalEntry *e) {
        for (int i = 0; i < 4; i++)
                if (fake.present[i] && fake.journal[i].osd_id == e->osd_id) {
                        free(fake.journal[i].replacement_error);
                        fake.journal[i].replacement_error = dup0(e->replacement_error);
                        free(fake.journal[i].replacement);
                        fake.journal[i].replacement = dup0(e->replacement);
                }
        fake.n_written++;
        return 0;
}

static int f_remove(const char *dir, int id) {
        for (int i = 0; i < 4; i++)
                if (fake.present[i] && fake.journal[i].osd_id == id) {
                        removal_entry_done(&fake.journal[i]);
                        fake.present[i] = false;
                }
        fake.removed[fake.n_removed++] = id;
        return 0;
}

static int f_submit(uint64_t id, const Castle__OsdCreate *c, void *userdata) {
        size_t k = fake.n_submitted++;

        assert_true(k < 8);
        fake.ids[k] = id;
        fake.device[k] = strdup(c->device_id);
        fake.lvm[k] = c->lvm;
        fake.dmcrypt[k] = c->dmcrypt;
        fake.db[k] = c->n_db_devices > 0 ? strdup(c->db_devices[0]) : NULL;
        fake.db_size[k] = c->block_db_size;
        assert_int_equal(c->n_osd_ids, 1);
        fake.osd_id[k] = c->osd_ids[0];
        return 0;
}

static int f_redestroy(uint64_t id, int osd_id, void *userdata) {
        size_t k = fake.n_redestroyed++;

        assert_true(k < 8);
        fake.redestroy_ids[k] = id;
        fake.redestroyed[k] = osd_id;
        return 0;
}

static const AgentReplaceOps ops = {
        .list = f_list, .read = f_read, .write = f_write, .remove = f_remove, .submit = f_submit,
        .redestroy = f_redestroy,
};

static void reserve(int slot, int id, RemovalStep step, bool replace, const char *by_path, const char *old) {
        if (fake.present[slot])
                removal_entry_done(&fake.journal[slot]);
        fake.journal[slot] = (RemovalEntry) { .osd_id = id, .step = step, .replace = replace,
                                              .by_path = dup0(by_path), .block.stable_id = dup0(old) };
        fake.present[slot] = true;
}

/* ---- a report of devices ---- */

typedef struct Dev {
        const char *id, *kname, *link;
        bool available;
} Dev;

static Report *report_of(const Dev *d, size_t n) {
        Report *r = calloc(1, sizeof *r);

        r->entries = calloc(n + 1, sizeof(ReportEntry));
        for (size_t i = 0; i < n; i++) {
                Castle__Device *m = calloc(1, sizeof *m);
                char path[64];

                castle__device__init(m);
                m->stable_id = strdup(d[i].id);
                m->kname = strdup(d[i].kname);
                snprintf(path, sizeof path, "/dev/%s", d[i].kname);
                m->path = strdup(path);
                m->type = CASTLE__DEVICE__TYPE__DISK;
                m->available = d[i].available;
                if (d[i].link) {
                        m->links = calloc(1, sizeof(char *));
                        m->links[0] = strdup(d[i].link);
                        m->n_links = 1;
                }
                r->entries[i].key = strdup(d[i].id);
                r->entries[i].msg = m;
                r->entries[i].size = castle__device__get_packed_size(m);
                r->entries[i].packed = malloc(r->entries[i].size + 1);
                castle__device__pack(m, r->entries[i].packed);
        }
        r->n = n;
        return r;
}

static int setup(void **state) {
        for (int i = 0; i < 4; i++)
                if (fake.present[i])
                        removal_entry_done(&fake.journal[i]);
        for (size_t i = 0; i < fake.n_submitted; i++) {
                free(fake.device[i]);
                free(fake.db[i]);
        }
        fake = (Fake) {};
        return 0;
}

static AgentReplace *watch_at(uint64_t now) {
        AgentReplace *r = NULL;

        assert_int_equal(agent_replace_new(&ops, "/state", SETTLE, &r), 0);
        assert_int_equal(agent_replace_load(r, now), 0);
        return r;
}

static AgentReplace *watch(void) {
        return watch_at(0);
}

/* Only a finished removal with replace reserves its id. */
static void test_reservations(void **state) {
        OsdReport *rep = NULL;
        AgentReplace *r;

        reserve(0, 3, REMOVAL_DONE, true, SLOT, "old-disk");
        reserve(1, 4, REMOVAL_DONE, false, SLOT, "old-4");
        reserve(2, 5, REMOVAL_DRAINED, true, SLOT, "old-5");
        r = watch();
        assert_int_equal(osd_report_new(&rep), 0);
        assert_int_equal(agent_replace_publish(r, rep), 1);
        assert_int_equal(agent_replace_publish(r, rep), 0);
        {
                Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;

                osd_report_fill(rep, &h);
                assert_int_equal(h.n_reservations, 1);
                assert_int_equal(h.reservations[0]->osd_id, 3);
                assert_string_equal(h.reservations[0]->slot, SLOT);
                assert_string_equal(h.reservations[0]->state, "waiting");
                assert_string_equal(h.reservations[0]->layout, "raw");
        }
        osd_report_free(rep);
        agent_replace_free(r);
}

/* A disk in the slot is prepared with the id once settled; one in another slot, and the old
 * disk, never. */
static void test_slot(void **state) {
        Report *rep;
        AgentReplace *r;
        uint64_t t = 1000 * SEC;

        reserve(0, 3, REMOVAL_DONE, true, SLOT, "old-disk");
        r = watch();
        /* the old disk is still in the slot, and a new disk elsewhere */
        rep = report_of((Dev[]) { { "old-disk", "sdb", SLOT, true }, { "other", "sdc", "/dev/disk/by-path/x", true } }, 2);
        agent_replace_report(r, rep);
        assert_int_equal(agent_replace_reconcile(r, t), 0);
        assert_int_equal(agent_replace_reconcile(r, t + 100 * SEC), 0);
        assert_int_equal(fake.n_submitted, 0);
        report_free(rep);

        /* hot-swapped: a new disk in the slot */
        rep = report_of((Dev[]) { { "new-disk", "sdb", SLOT, true }, { "other", "sdc", "/dev/disk/by-path/x", true } }, 2);
        agent_replace_report(r, rep);
        assert_int_equal(agent_replace_reconcile(r, t), t + SETTLE);
        assert_int_equal(fake.n_submitted, 0);
        assert_int_equal(agent_replace_reconcile(r, t + SETTLE), 0);
        assert_int_equal(fake.n_submitted, 1);
        assert_string_equal(fake.device[0], "new-disk");
        assert_int_equal(fake.osd_id[0], 3);
        assert_false(fake.lvm[0]);
        assert_true(fake.ids[0] >= AGENT_REPLACE_COMMAND_BASE);
        assert_true(agent_replace_owns(r, fake.ids[0]));
        assert_string_equal(fake.journal[0].replacement, "new-disk");
        assert_int_equal(fake.n_redestroyed, 0); /* not before an attempt */

        /* it fails: the id stays, with the error, and is tried again after the back-off */
        {
                Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

                u.command_id = fake.ids[0];
                u.done = true;
                u.error = (char *) "mkfs failed";
                u.osd_id = -1;
                agent_replace_job_update(r, &u, t + SETTLE);
        }
        assert_int_equal(fake.n_removed, 0);
        assert_string_equal(fake.journal[0].replacement_error, "mkfs failed");
        /* its `osd new` may have made the id exist: destroyed again (once), as an own job that
         * is not the reservation's */
        assert_int_equal(fake.n_redestroyed, 1);
        assert_int_equal(fake.redestroyed[0], 3);
        assert_true(fake.redestroy_ids[0] >= AGENT_REPLACE_COMMAND_BASE);
        assert_true(fake.redestroy_ids[0] != fake.ids[0]);
        assert_int_equal(agent_replace_reconcile(r, t + SETTLE + SEC), t + SETTLE + AGENT_REPLACE_RETRY_USEC);
        assert_int_equal(fake.n_submitted, 1);
        agent_replace_reconcile(r, t + SETTLE + AGENT_REPLACE_RETRY_USEC);
        assert_int_equal(fake.n_submitted, 2);
        assert_int_equal(fake.osd_id[1], 3);

        /* it succeeds: the reservation ends */
        {
                Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

                u.command_id = fake.ids[1];
                u.done = true;
                u.osd_id = 3;
                agent_replace_job_update(r, &u, t + SETTLE + AGENT_REPLACE_RETRY_USEC);
        }
        assert_int_equal(fake.n_removed, 1);
        assert_int_equal(fake.removed[0], 3);
        assert_int_equal(fake.n_redestroyed, 1); /* not after a success */
        agent_replace_reconcile(r, t + 100 * AGENT_REPLACE_RETRY_USEC);
        assert_int_equal(fake.n_submitted, 2);
        agent_replace_free(r);
        report_free(rep);
}

/* An agent that stopped after a failed attempt, before it destroyed the id again: when it
 * starts, the id is destroyed again at once and the next attempt waits for the back-off. */
static void test_failed_before_restart(void **state) {
        Report *rep;
        AgentReplace *r;
        uint64_t t = 1000 * SEC;

        reserve(0, 3, REMOVAL_DONE, true, SLOT, "old-disk");
        fake.journal[0].replacement = strdup("new-disk");
        fake.journal[0].replacement_error = strdup("mkfs failed");
        r = watch_at(t);
        assert_int_equal(fake.n_redestroyed, 1);
        assert_int_equal(fake.redestroyed[0], 3);
        assert_true(fake.redestroy_ids[0] >= AGENT_REPLACE_COMMAND_BASE);
        /* read again (after a scan, a job): not destroyed again */
        assert_int_equal(agent_replace_load(r, t + SEC), 0);
        assert_int_equal(fake.n_redestroyed, 1);
        rep = report_of((Dev[]) { { "new-disk", "sdb", SLOT, true } }, 1);
        agent_replace_report(r, rep);
        agent_replace_reconcile(r, t);
        agent_replace_reconcile(r, t + SETTLE);
        assert_int_equal(fake.n_submitted, 0);
        agent_replace_reconcile(r, t + AGENT_REPLACE_RETRY_USEC);
        assert_int_equal(fake.n_submitted, 1);
        assert_int_equal(fake.osd_id[0], 3);
        assert_string_equal(fake.device[0], "new-disk");
        agent_replace_free(r);
        report_free(rep);
}

/* An LVM OSD comes back as LVM with its DB of the same size on the same device, encrypted. */
static void test_lvm_layout(void **state) {
        Report *rep;
        AgentReplace *r;
        _cleanup_free_ char *layout = NULL;

        reserve(0, 7, REMOVAL_DONE, true, SLOT, "old-disk");
        fake.journal[0].lvm = true;
        fake.journal[0].encrypted = true;
        fake.journal[0].db = (RemovalVolume) { .stable_id = strdup("nvme-1"), .size = UINT64_C(30) << 30 };
        layout = agent_replace_layout(&fake.journal[0]);
        assert_string_equal(layout, "lvm, db 30G on nvme-1, encrypted");
        r = watch();
        rep = report_of((Dev[]) { { "new-disk", "sdb", SLOT, true } }, 1);
        agent_replace_report(r, rep);
        agent_replace_reconcile(r, 0);
        agent_replace_reconcile(r, SETTLE);
        assert_int_equal(fake.n_submitted, 1);
        assert_true(fake.lvm[0]);
        assert_true(fake.dmcrypt[0]);
        assert_string_equal(fake.db[0], "nvme-1");
        assert_int_equal(fake.db_size[0], UINT64_C(30) << 30);
        agent_replace_free(r);
        report_free(rep);
}

/* The operator's give: the id must be reserved, the device available. */
static void test_give(void **state) {
        Report *rep;
        AgentReplace *r;
        char *err = NULL;

        reserve(0, 3, REMOVAL_DONE, true, SLOT, "old-disk");
        r = watch();
        rep = report_of((Dev[]) { { "loop-a", "loop1", NULL, true }, { "busy", "loop2", NULL, false } }, 2);
        agent_replace_report(r, rep);
        assert_int_equal(agent_replace_give(r, 42, 9, "loop-a", 0, &err), -ENOENT);
        err = mfree(err);
        assert_int_equal(agent_replace_give(r, 42, 3, "busy", 0, &err), -EINVAL);
        err = mfree(err);
        assert_int_equal(agent_replace_give(r, 42, 3, "nothing", 0, &err), -ENODEV);
        err = mfree(err);
        assert_int_equal(fake.n_submitted, 0);
        /* a loop device has no slot: the watch alone never takes it */
        agent_replace_reconcile(r, 0);
        agent_replace_reconcile(r, 100 * SETTLE);
        assert_int_equal(fake.n_submitted, 0);
        assert_int_equal(agent_replace_give(r, 42, 3, "/dev/loop1", 0, &err), 0);
        assert_int_equal(fake.n_submitted, 1);
        assert_int_equal(fake.ids[0], 42);
        assert_string_equal(fake.device[0], "loop-a");
        assert_true(agent_replace_owns(r, 42));
        assert_int_equal(agent_replace_give(r, 43, 3, "loop-a", 0, &err), -EBUSY);
        free(err);
        agent_replace_free(r);
        report_free(rep);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_reservations, setup),
                cmocka_unit_test_setup(test_slot, setup),
                cmocka_unit_test_setup(test_failed_before_restart, setup),
                cmocka_unit_test_setup(test_lvm_layout, setup),
                cmocka_unit_test_setup(test_give, setup),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
