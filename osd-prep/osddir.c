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
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
                /* A symlink (or a file) where the directory goes is removed as a name, never
                 * followed: the files of the directory it points to are not ours to delete. */
                return unlink(dir) < 0 && errno != ENOENT ? -errno : 0;
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    unlinkat(dirfd(d), de->d_name, 0) < 0 && r == 0)
                        r = -errno;
        closedir(d);
        if (r == 0 && rmdir(dir) < 0)
                r = -errno;
        return r;
}

/* name -> device in dfd, through name.tmp, the link owned by uid:gid without following it. */
static int link_at(int dfd, const char *name, const char *device, uid_t uid, gid_t gid) {
        _cleanup_free_ char *tmp = NULL;

        if (asprintf(&tmp, "%s.tmp", name) < 0)
                return -ENOMEM;
        if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
                return -errno;
        if (symlinkat(device, dfd, tmp) < 0)
                return -errno;
        if (uid != (uid_t) -1)
                (void) fchownat(dfd, tmp, uid, gid, AT_SYMLINK_NOFOLLOW);
        if (renameat(dfd, tmp, dfd, name) < 0)
                return -errno;
        return 0;
}

int osd_dir_link(const char *dir, const char *name, const char *device) {
        _cleanup_close_ int dfd = -EBADF;
        uid_t uid;
        gid_t gid;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        osd_owner(&uid, &gid);
        return link_at(dfd, name, device, uid, gid);
}

int osd_chown_device(const char *device) {
        struct stat st;
        uid_t uid;
        gid_t gid;

        osd_owner(&uid, &gid);
        if (uid == (uid_t) -1)
                return 0;
        /* A node the host gave to ceph already is left alone: where /dev is mounted
         * read-only (a container without a writable /dev) chown fails even when it would
         * change nothing. */
        if (stat(device, &st) >= 0 && st.st_uid == uid && st.st_gid == gid)
                return 0;
        if (chown(device, uid, gid) < 0)
                return -errno;
        return 0;
}

int osd_dir_create(const char *dir, int id, const char *device, const char *secret, const void *monmap,
                   size_t monmap_size) {
        _cleanup_free_ char *entity = NULL;
        _cleanup_close_ int dfd = -EBADF;
        struct stat st;
        uid_t uid;
        gid_t gid;
        int r;

        r = osd_dir_remove(dir);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        /* The directory is filled by root and handed to the ceph user only when complete, and
         * every file in it is written through this descriptor: until the hand-over nobody else
         * can plant a link where the keyring goes, and a directory someone else made (in the
         * gap after osd_dir_remove(), the parent may be ceph's) is refused. */
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fstat(dfd, &st) < 0)
                return -errno;
        if (st.st_uid != geteuid() || (st.st_mode & 0022))
                return -EPERM;
        if (asprintf(&entity, "osd.%d", id) < 0)
                return -ENOMEM;
        osd_owner(&uid, &gid);
        r = link_at(dfd, "block", device, uid, gid);
        if (r < 0)
                return r;
        r = keyring_write_at(dfd, "keyring", entity, secret, uid, gid);
        if (r < 0)
                return r;
        r = write_file_atomic_at(dfd, "activate.monmap", monmap, monmap_size, 0644, uid, gid);
        if (r < 0)
                return r;
        if (uid != (uid_t) -1 && fchown(dfd, uid, gid) < 0)
                return -errno;
        return osd_chown_device(device);
}
