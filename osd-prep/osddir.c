/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fills an OSD's data directory (<root>/<cluster>-<id>) with our own calls: the block
 * links, the keyring and the monmap that ceph-osd --mkfs and the daemon read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "osd-prep/cephx.h"
#include "osd-prep/osddir.h"

char *osd_dir_path(const OsdContext *c, int id) {
        char *p;
        return asprintf(&p, "%s/%s-%d", c->osd_root ?: OSD_ROOT_DEFAULT, osd_ctx_cluster(c), id) < 0 ? NULL : p;
}

void osd_owner(uid_t *uid, gid_t *gid) {
        struct passwd *pw = geteuid() == 0 ? getpwnam("ceph") : NULL;

        *uid = pw ? pw->pw_uid : (uid_t) -1;
        *gid = pw ? pw->pw_gid : (gid_t) -1;
}

int osd_dir_remove(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    unlinkat(dirfd(d), de->d_name, 0) < 0 && r == 0)
                        r = -errno;
        closedir(d);
        if (r == 0 && rmdir(dir) < 0)
                r = -errno;
        return r;
}

int osd_dir_link(const char *dir, const char *name, const char *device) {
        _cleanup_free_ char *link = NULL, *tmp = NULL;
        uid_t uid;
        gid_t gid;

        if (asprintf(&link, "%s/%s", dir, name) < 0 || asprintf(&tmp, "%s/%s.tmp", dir, name) < 0)
                return -ENOMEM;
        (void) unlink(tmp);
        if (symlink(device, tmp) < 0)
                return -errno;
        osd_owner(&uid, &gid);
        if (uid != (uid_t) -1)
                (void) lchown(tmp, uid, gid);
        if (rename(tmp, link) < 0)
                return -errno;
        return 0;
}

int osd_chown_device(const char *device) {
        uid_t uid;
        gid_t gid;

        osd_owner(&uid, &gid);
        if (uid != (uid_t) -1 && chown(device, uid, gid) < 0)
                return -errno;
        return 0;
}

int osd_dir_create(const char *dir, int id, const char *device, const char *secret, const void *monmap,
                   size_t monmap_size) {
        _cleanup_free_ char *keyring = NULL, *mm = NULL, *entity = NULL;
        uid_t uid;
        gid_t gid;
        int r;

        r = osd_dir_remove(dir);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        osd_owner(&uid, &gid);
        if (uid != (uid_t) -1 && chown(dir, uid, gid) < 0)
                return -errno;
        r = osd_dir_link(dir, "block", device);
        if (r < 0)
                return r;
        if (asprintf(&keyring, "%s/keyring", dir) < 0 || asprintf(&mm, "%s/activate.monmap", dir) < 0 ||
            asprintf(&entity, "osd.%d", id) < 0)
                return -ENOMEM;
        r = keyring_write(keyring, entity, secret, uid, gid);
        if (r < 0)
                return r;
        r = write_file_atomic(mm, monmap, monmap_size, 0644);
        if (r < 0)
                return r;
        if (uid != (uid_t) -1 && chown(mm, uid, gid) < 0)
                return -errno;
        return osd_chown_device(device);
}
