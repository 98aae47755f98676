/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cephx secrets and keyring files, written by our own code instead of spawning
 * `ceph-authtool --gen-print-key` and `ceph-authtool --create-keyring`. */
#pragma once

#include <sys/types.h>

/* base64 of the 28-byte encoded CryptoKey: 40 characters and a NUL. */
#define CEPHX_SECRET_MAX 41

/* A new AES secret, encoded as Ceph encodes a CryptoKey (type 1, creation time, 16 random
 * bytes) and then base64, exactly what `ceph-authtool --gen-print-key` prints. */
int cephx_secret_new(char ret[static CEPHX_SECRET_MAX]);

/* A dm-crypt key as ceph-volume makes one: base64 of 128 random bytes. The monitors keep it
 * (config-key dm-crypt/osd/<uuid>/luks); castle never writes it to this node's disks. */
#define DMCRYPT_KEY_BYTES 128
#define DMCRYPT_KEY_MAX 173
int cephx_dmcrypt_key_new(char ret[static DMCRYPT_KEY_MAX]);

/* True if s looks like such a secret (base64 of a 28-byte AES key). */
int cephx_secret_valid(const char *s);

/* Writes "[entity]\n\tkey = secret\n" to name in the directory dfd atomically, mode 0600,
 * owned by uid:gid ((uid_t) -1: unchanged): through name.tmp, created with O_EXCL|O_NOFOLLOW
 * after any old name.tmp (even a symlink or a hard link planted there) is unlinked, chowned
 * through its descriptor, then renamed. Nothing outside the directory is opened, truncated or
 * chowned, whatever name.tmp was. */
int keyring_write_at(int dfd, const char *name, const char *entity, const char *secret, uid_t uid, gid_t gid);
/* The same for a path: its directory, then keyring_write_at(). */
int keyring_write(const char *path, const char *entity, const char *secret, uid_t uid, gid_t gid);
