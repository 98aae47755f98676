/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OSD preparation's pure parts: cephx secrets (checked against ceph-authtool when it is
 * installed), keyring files, the prepare journal on a real directory, and the wipe on real
 * images with real signatures (mkfs.ext4, sgdisk, mkswap, a real BlueStore label). */
#include "tests/unit/testutil.h"

#include <blkid.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/strv.h"
#include "discovery/bluestore.h"
#include "osd-prep/batch.h"
#include "osd-prep/cephx.h"
#include "osd-prep/journal.h"
#include "osd-prep/osddir.h"
#include "osd-prep/wipe.h"

#define TOOLTEST_TMPDIR "/tmp/castle-osdprep.XXXXXX"
#include "tests/unit/tooltest.h"

/* Runs "TOOL ARGS IMG", quiet. */
static int run(const char *tool_args, const char *img) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", tool_args, img);
        return system(cmd);
}

static void test_secret(void **state) {
        char a[CEPHX_SECRET_MAX], b[CEPHX_SECRET_MAX], path[256], *text = NULL;
        (void) state;

        assert_int_equal(cephx_secret_new(a), 0);
        assert_int_equal(cephx_secret_new(b), 0);
        assert_int_equal(strlen(a), 40);
        assert_true(cephx_secret_valid(a));
        assert_string_not_equal(a, b);
        assert_false(cephx_secret_valid("AQ"));
        assert_false(cephx_secret_valid("not a secret at all, forty characters!!!"));

        snprintf(path, sizeof path, "%s/keyring", tmpdir);
        assert_int_equal(keyring_write(path, "osd.7", a, (uid_t) -1, (gid_t) -1), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(read_full_file_at(AT_FDCWD, path, 4096, &text, NULL), 0);
        assert_non_null(strstr(text, "[osd.7]\n\tkey = "));
        assert_non_null(strstr(text, a));
        free(text);

        /* Ceph's own parser must accept it: ceph-authtool lists the key it read. */
        REQUIRE_TOOL("ceph-authtool");
        char cmd[512];
        snprintf(cmd, sizeof cmd, "ceph-authtool %s --list 2>&1 | grep -q 'key = %s'", path, a);
        assert_int_equal(system(cmd), 0);
}

/* Asserts that victim still holds "precious\n", belongs to root and has no other name. */
static void assert_untouched(const char *victim) {
        char *text = NULL;
        struct stat st;

        assert_int_equal(stat(victim, &st), 0);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_nlink, 1);
        assert_int_equal(read_full_file_at(AT_FDCWD, victim, 4096, &text, NULL), 0);
        assert_string_equal(text, "precious\n");
        free(text);
}

/* Asserts that path is a regular file of its own (not the victim), mode 0600, owned by uid,
 * holding the key of entity, and that no tmp file is left. */
static void assert_keyring(const char *dir, const char *entity, const char *secret, uid_t uid) {
        char path[512], expect[256], *text = NULL;
        struct stat st;

        snprintf(path, sizeof path, "%s/keyring", dir);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(st.st_nlink, 1);
        assert_int_equal(read_full_file_at(AT_FDCWD, path, 4096, &text, NULL), 0);
        snprintf(expect, sizeof expect, "[%s]\n\tkey = %s\n", entity, secret);
        assert_string_equal(text, expect);
        free(text);
        snprintf(path, sizeof path, "%s/keyring.tmp", dir);
        assert_int_equal(lstat(path, &st), -1);
}

/* The OSD directory is the ceph user's once handed over, so keyring.tmp may be anything that
 * user planted: a symlink or a hard link to a file of root's. Writing the keyring as root must
 * neither truncate nor chown that file, and must still write the keyring. */
static void test_keyring_planted_links(void **state) {
        char dir[256], victim[256], tmp[512], keyring[512], secret[CEPHX_SECRET_MAX];
        const uid_t nobody = 65534;
        struct stat st;
        uid_t owner;
        gid_t group;
        (void) state;

        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: %s: needs root, to chown the keyring and own the victim\n", __func__);
                n_skipped++;
                skip();
        }
        assert_int_equal(cephx_secret_new(secret), 0);
        snprintf(dir, sizeof dir, "%s/ceph-3", tmpdir);
        snprintf(victim, sizeof victim, "%s/shadow", tmpdir);
        snprintf(tmp, sizeof tmp, "%s/keyring.tmp", dir);
        snprintf(keyring, sizeof keyring, "%s/keyring", dir);
        assert_int_equal(mkdir(dir, 0755), 0);
        assert_int_equal(write_file_atomic(victim, "precious\n", 9, 0640), 0);

        assert_int_equal(symlink(victim, tmp), 0);
        assert_int_equal(keyring_write(keyring, "osd.3", secret, nobody, nobody), 0);
        assert_untouched(victim);
        assert_keyring(dir, "osd.3", secret, nobody);

        assert_int_equal(link(victim, tmp), 0);
        assert_int_equal(keyring_write(keyring, "osd.3", secret, nobody, nobody), 0);
        assert_untouched(victim);
        assert_keyring(dir, "osd.3", secret, nobody);

        /* the whole directory, as prepare makes it: the same links planted first */
        char device[512], monmap[512];
        snprintf(device, sizeof device, "%s/device", tmpdir);
        snprintf(monmap, sizeof monmap, "%s/activate.monmap.tmp", dir);
        assert_int_equal(write_file_atomic(device, "", 0, 0600), 0);
        assert_int_equal(symlink(victim, tmp), 0);
        assert_int_equal(link(victim, monmap), 0);
        assert_int_equal(osd_dir_create(dir, 3, device, secret, "monmap", 6), 0);
        assert_untouched(victim);
        osd_owner(&owner, &group);
        if (owner == (uid_t) -1)
                owner = geteuid();
        assert_keyring(dir, "osd.3", secret, owner);
        assert_int_equal(lstat(dir, &st), 0);
        assert_int_equal(st.st_uid, owner); /* handed over once complete */

        /* a symlink where the directory goes is removed, not followed into */
        char elsewhere[256], kept[512];
        snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", tmpdir);
        snprintf(kept, sizeof kept, "%s/kept", elsewhere);
        assert_int_equal(mkdir(elsewhere, 0755), 0);
        assert_int_equal(write_file_atomic(kept, "x", 1, 0600), 0);
        assert_int_equal(osd_dir_remove(dir), 0);
        assert_int_equal(symlink(elsewhere, dir), 0);
        assert_int_equal(osd_dir_create(dir, 3, device, secret, "monmap", 6), 0);
        assert_int_equal(access(kept, F_OK), 0);
        assert_int_equal(lstat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_keyring(dir, "osd.3", secret, owner);
}

static void test_journal(void **state) {
        JournalEntry e = {
                .uuid = (char *) "2a2f4a4e-9a6b-4c57-8f59-4a0a7cde0001",
                .secret = (char *) "AQBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                .stable_id = (char *) "wwn-0x5000c500a1b2c3d4_ZA1234",
                .device = (char *) "/dev/sdb",
                .cluster = (char *) "ceph",
                .cluster_fsid = (char *) "c0ffee00-0000-4000-8000-000000000000",
                .osd_id = 12,
                .reused_id = true,
                .step = STEP_OSD_NEW,
        };
        JournalEntry got = { .osd_id = -1 };
        char **uuids = NULL, path[512];
        struct stat st;
        (void) state;

        assert_int_equal(journal_find(tmpdir, e.stable_id, &got), 0); /* no directory yet */
        assert_int_equal(journal_write(tmpdir, &e), 0);
        snprintf(path, sizeof path, "%s/prepare/%s.json", tmpdir, e.uuid);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600); /* it holds a secret */

        /* a corrupt entry next to it is skipped, not fatal */
        snprintf(path, sizeof path, "%s/prepare/garbage.json", tmpdir);
        assert_int_equal(write_file_atomic(path, "{\"uuid\": 3", 10, 0600), 0);

        assert_int_equal(journal_find(tmpdir, "some-other-disk", &got), 0);
        assert_int_equal(journal_find(tmpdir, e.stable_id, &got), 1);
        assert_string_equal(got.uuid, e.uuid);
        assert_string_equal(got.secret, e.secret);
        assert_string_equal(got.cluster_fsid, e.cluster_fsid);
        assert_int_equal(got.osd_id, 12);
        assert_true(got.reused_id);
        assert_int_equal(got.step, STEP_OSD_NEW);
        assert_null(got.crush_class);
        journal_entry_done(&got);

        assert_int_equal(journal_list(tmpdir, &uuids), 0);
        assert_int_equal(strv_length(uuids), 2);
        strv_free(uuids);
        assert_int_equal(journal_remove(tmpdir, e.uuid), 0);
        assert_int_equal(journal_find(tmpdir, e.stable_id, &got), 0);
        assert_int_equal(journal_remove(tmpdir, e.uuid), 0); /* twice is fine */
}

/* Nothing libblkid recognises is left, partition tables included. */
static void assert_blank(const char *img) {
        int fd = open(img, O_RDONLY | O_CLOEXEC);
        blkid_probe pr;

        assert_true(fd >= 0);
        pr = blkid_new_probe();
        assert_non_null(pr);
        assert_int_equal(blkid_probe_set_device(pr, fd, 0, 0), 0);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_FORCE_GPT);
        assert_int_equal(blkid_do_probe(pr), 1);
        blkid_free_probe(pr);
        close(fd);
}

static char *image(const char *name, const char *size) {
        char *p;
        assert_true(asprintf(&p, "%s/%s.img", tmpdir, name) > 0);
        (void) unlink(p);
        char cmd[512];
        snprintf(cmd, sizeof cmd, "truncate -s %s %s", size, p);
        assert_int_equal(system(cmd), 0);
        return p;
}

/* A marker well outside every region the wipe touches: it must survive. */
#define MARKER_OFFSET (UINT64_C(512) << 20)
static const char marker[] = "castle: data that is not a signature";

static void put_marker(const char *img) {
        int fd = open(img, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, marker, sizeof marker, MARKER_OFFSET), (ssize_t) sizeof marker);
        close(fd);
}

static void wipe_and_check(const char *img, unsigned min_signatures, unsigned min_labels) {
        WipeReport w = {};
        char buf[sizeof marker];
        int fd = open(img, O_RDWR | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(wipe_device(fd, 10 << 20, &w), 0);
        assert_true(w.n_signatures >= min_signatures);
        assert_true(w.n_labels >= min_labels);
        assert_int_equal(w.zeroed_bytes, 10 << 20);
        assert_int_equal(strv_length(w.erased), w.n_signatures + w.n_labels);
        wipe_report_done(&w);
        assert_int_equal(pread(fd, buf, sizeof buf, MARKER_OFFSET), (ssize_t) sizeof buf);
        assert_memory_equal(buf, marker, sizeof marker);
        for (size_t i = 0; i < ELEMENTSOF(bluestore_label_offsets); i++) {
                uint8_t label[BLUESTORE_LABEL_SIZE];
                if (pread(fd, label, sizeof label, (off_t) bluestore_label_offsets[i]) == (ssize_t) sizeof label)
                        assert_false(bluestore_has_magic(label, sizeof label));
        }
        close(fd);
        assert_blank(img);
}

static void test_wipe_ext4(void **state) {
        (void) state;
        REQUIRE_TOOL("mkfs.ext4");
        _cleanup_free_ char *img = image("ext4", "2G");
        put_marker(img);
        assert_int_equal(run("mkfs.ext4 -q -F -E nodiscard", img), 0);
        put_marker(img); /* mkfs may have zeroed it: the wipe must not */
        wipe_and_check(img, 1, 0);
}

static void test_wipe_gpt(void **state) {
        (void) state;
        REQUIRE_TOOL("sgdisk");
        _cleanup_free_ char *img = image("gpt", "2G");
        assert_int_equal(run("sgdisk -n 1:2048:+1M", img), 0);
        put_marker(img);
        /* the protective MBR, the primary GPT and the backup GPT at the end */
        wipe_and_check(img, 2, 0);
}

static void test_wipe_swap(void **state) {
        (void) state;
        REQUIRE_TOOL("mkswap");
        _cleanup_free_ char *img = image("swap", "2G");
        assert_int_equal(run("mkswap", img), 0);
        put_marker(img);
        wipe_and_check(img, 1, 0);
}

static void test_wipe_bluestore(void **state) {
        _cleanup_free_ char *label = NULL;
        size_t n;
        (void) state;

        assert_int_equal(read_full_file_at(AT_FDCWD, TEST_DATA_DIR "/bluestore-label-pacific.bin", 1 << 16, &label, &n), 0);
        _cleanup_free_ char *img = image("bluestore", "2G");
        int fd = open(img, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, label, n, 0), (ssize_t) n);
        assert_int_equal(pwrite(fd, label, n, 1 << 30), (ssize_t) n); /* the 1 GiB copy */
        close(fd);
        put_marker(img);
        /* libblkid knows ceph_bluestore at offset 0; the 1 GiB copy is castle's to find */
        wipe_and_check(img, 0, 1);
}

/* The LVM journal fields survive a write and a read. */
static void test_journal_lvm(void **state) {
        JournalEntry e = {
                .uuid = (char *) "0b6d2a4e-4a7e-4d7e-9d2c-6c3f0e1f2a3b",
                .secret = (char *) "AQBUdg9rPI18MhAArWwiBxWKhaYr+7z6LMgltg==",
                .stable_id = (char *) "scsi-HDD1",
                .osd_id = 4,
                .step = STEP_OSD_NEW,
                .lvm = true,
                .encrypted = true,
                .lockbox = (char *) "AQBUdg9rPI18MhAArWwiBxWKhaYr+7z6LMgltg==",
                .vol = {
                        [VOLUME_BLOCK] = { (char *) "scsi-HDD1", (char *) "ceph-a", (char *) "osd-block-0b6d", true },
                        [VOLUME_DB] = { (char *) "nvme-NV1", (char *) "ceph-b", (char *) "osd-db-77", false },
                },
        };
        JournalEntry got;
        (void) state;

        assert_int_equal(journal_write(tmpdir, &e), 0);
        assert_int_equal(journal_find(tmpdir, "scsi-HDD1", &got), 1);
        assert_true(got.lvm && got.encrypted);
        assert_string_equal(got.lockbox, e.lockbox);
        assert_string_equal(got.vol[VOLUME_BLOCK].vg, "ceph-a");
        assert_true(got.vol[VOLUME_BLOCK].vg_ours);
        assert_string_equal(got.vol[VOLUME_DB].lv, "osd-db-77");
        assert_false(got.vol[VOLUME_DB].vg_ours);
        assert_null(got.vol[VOLUME_WAL].stable_id);
        journal_entry_done(&got);
        assert_int_equal(journal_remove(tmpdir, e.uuid), 0);
}

static Device *disk(DeviceList *l, const char *kname, bool rotational, uint64_t gib) {
        Device *d = device_new(kname);
        char sid[64];

        assert_non_null(d);
        snprintf(sid, sizeof sid, "id-%s", kname);
        d->stable_id = strdup(sid);
        d->rotational = rotational;
        d->size = gib << 30;
        d->available = true;
        assert_int_equal(device_list_add(l, d), 0);
        return d;
}

/* ceph-volume batch's split and slots. */
static void test_batch_plan(void **state) {
        _cleanup_(device_list_freep) DeviceList *l = device_list_new();
        char *all[] = { (char *) "sda", (char *) "sdb", (char *) "sdc", (char *) "nvme0n1", NULL };
        char *two[] = { (char *) "sda", (char *) "sdb", NULL };
        char *db[] = { (char *) "nvme0n1", NULL };
        char *dup[] = { (char *) "sda", (char *) "sda", NULL };
        BatchPlan p = {};
        char *err = NULL;
        (void) state;

        disk(l, "sda", true, 100);
        disk(l, "sdb", true, 100);
        Device *c = disk(l, "sdc", true, 100);
        disk(l, "nvme0n1", false, 30);

        /* rotational for data, the NVMe disk for block.db, three even slots */
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = all }, &p, &err), 0);
        assert_int_equal(p.n, 3);
        for (size_t i = 0; i < p.n; i++) {
                assert_true(p.osds[i].data->rotational);
                assert_string_equal(p.osds[i].db->kname, "nvme0n1");
                assert_int_equal(p.osds[i].db_slots, 3);
                assert_int_equal(p.osds[i].db_size, (UINT64_C(30) << 30) / 3);
        }
        batch_plan_done(&p);

        /* --no-auto (cephadm's): every device holds data, the NVMe disk too */
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = all, .no_auto = true }, &p, &err), 0);
        assert_int_equal(p.n, 4);
        for (size_t i = 0; i < p.n; i++)
                assert_null(p.osds[i].db);
        batch_plan_done(&p);

        /* two OSDs per data device share its VG; the DB device has four slots */
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = two, .db_devices = db, .osds_per_device = 2 }, &p, &err), 0);
        assert_int_equal(p.n, 4);
        assert_int_equal(p.osds[0].data_slots, 2);
        assert_int_equal(p.osds[3].db_slots, 4);
        batch_plan_done(&p);

        /* a DB size that does not fit a slot is refused before anything is done */
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = two, .db_devices = db, .db_size = UINT64_C(20) << 30 },
                                    &p, &err), -ENOSPC);
        assert_non_null(strstr(err, "larger than a slot"));
        err = mfree(err);

        /* one unavailable data device refuses the whole batch, with its reasons */
        c->available = false;
        c->reasons = REASON_BIT(REASON_HAS_FILESYSTEM);
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = all }, &p, &err), -EPERM);
        assert_non_null(strstr(err, "sdc"));
        assert_non_null(strstr(err, "Has a FileSystem"));
        err = mfree(err);

        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = dup }, &p, &err), -EINVAL);
        err = mfree(err);
        char *missing[] = { (char *) "sdz", NULL };
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = missing }, &p, &err), -ENODEV);
        free(err);
}

/* The batch's raw method (no split, one OSD per device, nothing but data), explicit slots
 * (ceph-volume's --db-slots), and ids to reuse. */
static void test_batch_raw_slots_ids(void **state) {
        _cleanup_(device_list_freep) DeviceList *l = device_list_new();
        char *mixed[] = { (char *) "sda", (char *) "nvme0n1", NULL };
        char *two[] = { (char *) "sda", (char *) "sdb", NULL };
        char *db[] = { (char *) "nvme0n1", NULL };
        const int ids[] = { 5, 6, 7 };
        BatchPlan p = {};
        char *err = NULL;
        (void) state;

        disk(l, "sda", true, 100);
        disk(l, "sdb", true, 100);
        disk(l, "nvme0n1", false, 30);

        /* raw: the solid-state disk is a data device too, with no block.db */
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = mixed, .raw = true }, &p, &err), 0);
        assert_int_equal(p.n, 2);
        assert_string_equal(p.osds[1].data->kname, "nvme0n1");
        assert_null(p.osds[0].db);
        assert_null(p.osds[1].db);
        batch_plan_done(&p);
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = two, .db_devices = db, .raw = true }, &p, &err),
                         -EOPNOTSUPP);
        assert_non_null(strstr(err, "--method=lvm"));
        err = mfree(err);
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = two, .raw = true, .osds_per_device = 2 }, &p, &err),
                         -EOPNOTSUPP);
        err = mfree(err);

        /* --db-slots=5: each DB LV a fifth of the device, though two OSDs use it */
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = two, .db_devices = db, .db_slots = 5 }, &p, &err), 0);
        assert_int_equal(p.osds[1].db_slots, 5);
        assert_int_equal(p.osds[1].db_size, (UINT64_C(30) << 30) / 5);
        batch_plan_done(&p);
        /* fewer slots than OSDs is ignored, as ceph-volume ignores it: one slot per OSD */
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = two, .db_devices = db, .db_slots = 1 }, &p, &err), 0);
        assert_int_equal(p.osds[1].db_slots, 2);
        batch_plan_done(&p);

        /* ids: as many as the OSDs or fewer; more is refused */
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = two, .raw = true, .osd_ids = ids, .n_osd_ids = 2 },
                                    &p, &err), 0);
        batch_plan_done(&p);
        assert_int_equal(batch_plan(l, &(BatchRequest) { .devices = two, .raw = true, .osd_ids = ids, .n_osd_ids = 3 },
                                    &p, &err), -EINVAL);
        err = mfree(err);

        assert_true(batch_affinity_valid("osd_spec-1.a"));
        assert_false(batch_affinity_valid(""));
        assert_false(batch_affinity_valid("a b"));
        assert_false(batch_affinity_valid("a=b"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_secret),
                cmocka_unit_test(test_keyring_planted_links),
                cmocka_unit_test(test_journal),
                cmocka_unit_test(test_journal_lvm),
                cmocka_unit_test(test_batch_plan),
                cmocka_unit_test(test_batch_raw_slots_ids),
                cmocka_unit_test(test_wipe_ext4),
                cmocka_unit_test(test_wipe_gpt),
                cmocka_unit_test(test_wipe_swap),
                cmocka_unit_test(test_wipe_bluestore),
        };
        int r = cmocka_run_group_tests(tests, setup, teardown);
        return tooltest_exit(r);
}
