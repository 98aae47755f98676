/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udevwatch: real inotify on a made-up /run/udev/data, written the way udevd writes it
 * (temporary file renamed over the record, unlink on removal). */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/udevwatch.h"
#include "common/fileio.h"

static char root[64];

typedef struct Seen {
        int changed, removed, overflow;
        char last_kname[64], last_record[64];
        bool last_kname_null;
} Seen;

static void on_event(UdevWatchEvent e, const char *record, const char *kname, void *userdata) {
        Seen *s = userdata;

        if (e == UDEV_WATCH_CHANGED)
                s->changed++;
        else if (e == UDEV_WATCH_REMOVED)
                s->removed++;
        else
                s->overflow++;
        s->last_kname_null = !kname;
        snprintf(s->last_kname, sizeof s->last_kname, "%s", kname ?: "");
        snprintf(s->last_record, sizeof s->last_record, "%s", record ?: "");
}

static void path(char *buf, size_t n, const char *rel) {
        snprintf(buf, n, "%s/%s", root, rel);
}

static void write_record(const char *name, bool via_rename) {
        char tmp[256], final[256], rel[128];
        int fd;

        snprintf(rel, sizeof rel, "run/udev/data/%s", name);
        path(final, sizeof final, rel);
        snprintf(rel, sizeof rel, "run/udev/data/.#%sXYZ", name);
        path(tmp, sizeof tmp, rel);
        fd = open(via_rename ? tmp : final, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "E:ID_FS_TYPE=ext4\nG:systemd\n", 28), 28);
        close(fd);
        if (via_rename)
                assert_int_equal(rename(tmp, final), 0);
}

/* Waits briefly for the fd, then processes what is there. */
static int pump(UdevWatch *w, Seen *s) {
        struct pollfd p = { .fd = udev_watch_fd(w), .events = POLLIN };

        (void) poll(&p, 1, 1000);
        return udev_watch_process(w, on_event, s);
}

static void test_records(void **state) {
        char p[256], cmd[128];
        UdevWatch *w = NULL;
        Seen s = {};

        snprintf(root, sizeof root, "/tmp/castle-udevwatch.XXXXXX");
        assert_non_null(mkdtemp(root));
        path(p, sizeof p, "run/udev/data");
        assert_int_equal(mkdir_p(p, 0755), 0);
        path(p, sizeof p, "sys/dev/block");
        assert_int_equal(mkdir_p(p, 0755), 0);
        path(p, sizeof p, "sys/dev/block/7:3");
        assert_int_equal(symlink("../../devices/virtual/block/loop3", p), 0);

        assert_int_equal(udev_watch_new(root, &w), 0);

        /* udevd's way: a temporary name, renamed over the record. One event, named. */
        write_record("b7:3", true);
        assert_int_equal(pump(w, &s), 1);
        assert_int_equal(s.changed, 1);
        assert_string_equal(s.last_kname, "loop3");
        assert_string_equal(s.last_record, "b7:3");

        /* Written in place: also one event. */
        write_record("b7:3", false);
        assert_int_equal(pump(w, &s), 1);
        assert_int_equal(s.changed, 2);

        /* Other subsystems are not ours. */
        write_record("c4:1", true);
        write_record("n3", true);
        write_record("+input:input7", false);
        assert_int_equal(pump(w, &s), 0);

        /* The device goes first (sysfs), then its record: removed, name unknown. */
        path(p, sizeof p, "sys/dev/block/7:3");
        assert_int_equal(unlink(p), 0);
        path(p, sizeof p, "run/udev/data/b7:3");
        assert_int_equal(unlink(p), 0);
        assert_int_equal(pump(w, &s), 1);
        assert_int_equal(s.removed, 1);
        assert_true(s.last_kname_null);

        /* A record for a device number sysfs does not know is no "change" either. */
        write_record("b8:16", true);
        assert_int_equal(pump(w, &s), 1);
        assert_int_equal(s.removed, 2);
        assert_int_equal(s.changed, 2);

        /* The directory itself goes away (udevd's /run unmounted): rescan everything. */
        snprintf(cmd, sizeof cmd, "rm -rf '%s/run/udev/data'", root);
        assert_int_equal(system(cmd), 0);
        assert_true(pump(w, &s) >= 1);
        assert_true(s.overflow >= 1);

        udev_watch_free(w);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

static void test_missing_dir(void **state) {
        UdevWatch *w = NULL;

        assert_int_equal(udev_watch_new("/nonexistent-castle-root", &w), -ENOENT);
        assert_null(w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_records),
                cmocka_unit_test(test_missing_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
