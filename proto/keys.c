/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* zcert adapter: zcert returns NULL/-1 and prints nothing useful; here that becomes -errno.
 * We check the files ourselves first so that a user learns which file is missing or open
 * to the world. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "proto/keys.h"

static char *secret_path(const char *path) {
        char *p = NULL;
        size_t n = strlen(path);

        if (n > 7 && streq(path + n - 7, "_secret"))
                return strdup(path);
        return asprintf(&p, "%s_secret", path) < 0 ? NULL : p;
}

int keys_generate(const char *path, const char *name, char ret_public[KEY_TEXT_LEN + 1]) {
        return keys_generate_for_node(path, name, NULL, ret_public);
}

int keys_generate_for_node(const char *path, const char *name, const char *node, char ret_public[KEY_TEXT_LEN + 1]) {
        _cleanup_free_ char *sec = secret_path(path);
        zcert_t *cert;
        struct stat st;
        int r = 0;

        if (!sec)
                return -ENOMEM;
        if (stat(path, &st) >= 0 || stat(sec, &st) >= 0)
                return -EEXIST;
        cert = zcert_new();
        if (!cert)
                return -ENOMEM;
        zcert_set_meta(cert, "name", "%s", name);
        zcert_set_meta(cert, "created-by", "castlectl keygen");
        if (node)
                zcert_set_meta(cert, "node", "%s", node);
        /* zcert_save() writes the secret file with private permissions (0600). */
        if (zcert_save(cert, path) < 0)
                r = errno > 0 ? -errno : -EIO;
        else if (chmod(sec, 0600) < 0)
                r = -errno;
        if (r >= 0 && ret_public)
                snprintf(ret_public, KEY_TEXT_LEN + 1, "%s", zcert_public_txt(cert));
        zcert_destroy(&cert);
        return r;
}

int keys_load_pair(const char *path, zcert_t **ret) {
        _cleanup_free_ char *sec = secret_path(path);
        struct stat st;
        zcert_t *cert;

        if (!sec)
                return -ENOMEM;
        if (stat(sec, &st) < 0)
                return -errno;
        if (st.st_mode & 0077)
                return -EPERM; /* a secret key others can read is no secret */
        cert = zcert_load(sec);
        if (!cert)
                return -EBADMSG;
        /* A public-only file loads with an all-zero secret key. */
        if (streq(zcert_secret_txt(cert), "0000000000000000000000000000000000000000")) {
                zcert_destroy(&cert);
                return -ENOKEY;
        }
        *ret = cert;
        return 0;
}

int keys_load_public(const char *path, char ret[KEY_TEXT_LEN + 1]) {
        struct stat st;
        zcert_t *cert;

        if (stat(path, &st) < 0)
                return -errno;
        cert = zcert_load(path);
        if (!cert)
                return -EBADMSG;
        snprintf(ret, KEY_TEXT_LEN + 1, "%s", zcert_public_txt(cert));
        zcert_destroy(&cert);
        return strlen(ret) == KEY_TEXT_LEN ? 0 : -EBADMSG;
}
