/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cephx secrets (16 random bytes in Ceph's CryptoKey encoding, base64) and keyring files,
 * written with our own code: no ceph-authtool process per OSD. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "osd-prep/cephx.h"

#define CRYPTO_KEY_LEN 28       /* u16 type, u32 sec, u32 nsec, u16 len, 16 bytes */
#define CEPH_CRYPTO_AES 1

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = v & 0xff;
        p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = v >> (8 * i) & 0xff;
}

static int random_bytes(uint8_t *p, size_t n) {
        size_t got = 0;

        while (got < n) {
                ssize_t k = getrandom(p + got, n - got, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t) k;
        }
        return 0;
}

int cephx_secret_new(char ret[static CEPHX_SECRET_MAX]) {
        uint8_t key[CRYPTO_KEY_LEN];
        struct timespec ts;
        int r;

        clock_gettime(CLOCK_REALTIME, &ts);
        put_le16(key, CEPH_CRYPTO_AES);
        put_le32(key + 2, (uint32_t) ts.tv_sec);
        put_le32(key + 6, (uint32_t) ts.tv_nsec);
        put_le16(key + 10, 16);
        r = random_bytes(key + 12, 16);
        if (r < 0)
                return r;
        base64_encode(key, sizeof key, ret);
        explicit_bzero(key, sizeof key);
        return 0;
}

int cephx_dmcrypt_key_new(char ret[static DMCRYPT_KEY_MAX]) {
        uint8_t key[DMCRYPT_KEY_BYTES];
        int r = random_bytes(key, sizeof key);

        if (r < 0)
                return r;
        base64_encode(key, sizeof key, ret);
        explicit_bzero(key, sizeof key);
        return 0;
}

int cephx_secret_valid(const char *s) {
        if (!s || strlen(s) != CEPHX_SECRET_MAX - 1)
                return 0;
        for (const char *p = s; *p; p++)
                if (!base64_is_char(*p) && *p != '=')
                        return 0;
        return strncmp(s, "AQ", 2) == 0; /* type 1 (AES), little endian */
}

int keyring_write_at(int dfd, const char *name, const char *entity, const char *secret, uid_t uid, gid_t gid) {
        char buf[256];
        int n, r;

        n = snprintf(buf, sizeof buf, "[%s]\n\tkey = %s\n", entity, secret);
        if (n < 0 || (size_t) n >= sizeof buf)
                return -EINVAL;
        r = write_file_atomic_at(dfd, name, buf, (size_t) n, 0600, uid, gid);
        explicit_bzero(buf, sizeof buf);
        return r;
}

int keyring_write(const char *path, const char *entity, const char *secret, uid_t uid, gid_t gid) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dfd = -EBADF;
        const char *slash = strrchr(path, '/');

        dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return keyring_write_at(dfd, slash ? slash + 1 : path, entity, secret, uid, gid);
}
