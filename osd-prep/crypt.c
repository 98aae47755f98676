/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libcryptsetup adapter: LUKS2 format, open and close for OSD volumes, each
 * libcryptsetup error turned into -errno; the passphrase stays in memory. */
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "osd-prep/crypt.h"

static void crypt_freep(struct crypt_device **cd) {
        if (*cd)
                crypt_free(*cd);
}

/* libcryptsetup returns -errno already; a few calls return other negatives. */
static int crypt_err(int r) {
        return r < 0 && r >= -4095 ? r : -EIO;
}

int dmcrypt_format(const char *device, const char *key, char **error) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        /* The passphrase is 1024 random bits, so a slow KDF adds no strength; argon2's
         * default (1 GiB of memory, 2 s) would only slow every activation down. */
        struct crypt_pbkdf_type kdf = {
                .type = CRYPT_KDF_PBKDF2,
                .hash = "sha256",
                .iterations = 1000,
                .flags = CRYPT_PBKDF_NO_BENCHMARK,
        };
        struct crypt_params_luks2 params = { .sector_size = 512 };
        int r;

        r = crypt_init(&cd, device);
        if (r < 0) {
                error_set(error, "cannot open %s for LUKS: %s", device, strerror(-crypt_err(r)));
                return crypt_err(r);
        }
        r = crypt_set_pbkdf_type(cd, &kdf);
        if (r >= 0)
                r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL, NULL, 64, &params);
        if (r >= 0)
                r = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, NULL, 0, key, strlen(key));
        if (r < 0) {
                error_set(error, "LUKS2 format of %s failed: %s", device, strerror(-crypt_err(r)));
                return crypt_err(r);
        }
        return 0;
}

bool dmcrypt_is_open(const char *name) {
        char path[256];
        snprintf(path, sizeof path, "/dev/mapper/%s", name);
        return crypt_status(NULL, name) == CRYPT_ACTIVE || access(path, F_OK) == 0;
}

int dmcrypt_open(const char *device, const char *name, const char *key, char **error) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        int r;

        if (crypt_status(NULL, name) == CRYPT_ACTIVE || crypt_status(NULL, name) == CRYPT_BUSY)
                return 0;
        r = crypt_init(&cd, device);
        if (r >= 0)
                r = crypt_load(cd, CRYPT_LUKS, NULL);
        if (r < 0) {
                error_set(error, "%s has no readable LUKS header: %s", device, strerror(-crypt_err(r)));
                return crypt_err(r);
        }
        r = crypt_activate_by_passphrase(cd, name, CRYPT_ANY_SLOT, key, strlen(key), CRYPT_ACTIVATE_ALLOW_DISCARDS);
        if (r < 0) {
                error_set(error, "cannot open %s as /dev/mapper/%s: %s", device, name,
                          r == -EPERM ? "the key does not fit" : strerror(-crypt_err(r)));
                return crypt_err(r);
        }
        return 0;
}

int dmcrypt_close(const char *name, char **error) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        int r;

        if (crypt_status(NULL, name) == CRYPT_INACTIVE)
                return 0;
        r = crypt_init_by_name(&cd, name);
        if (r >= 0)
                r = crypt_deactivate(cd, name);
        if (r < 0 && r != -ENODEV) {
                error_set(error, "cannot close /dev/mapper/%s: %s", name, strerror(-crypt_err(r)));
                return crypt_err(r);
        }
        return 0;
}
