/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dm-crypt for OSD volumes through libcryptsetup: LUKS2 format, open and close, the
 * adapter that turns libcryptsetup's errors into -errno. The passphrase is the
 * monitor-stored key (base64 of 128 random bytes, as ceph-volume makes it); it is only ever
 * in memory on this node. */
#pragma once

#include <stdbool.h>

/* LUKS2 on device with one keyslot for key. */
int dmcrypt_format(const char *device, const char *key, char **error);
/* Opens device as /dev/mapper/name (discards allowed, as ceph-volume does); 0 if it is open
 * already. */
int dmcrypt_open(const char *device, const char *name, const char *key, char **error);
/* Closes /dev/mapper/name; 0 if it is not open. */
int dmcrypt_close(const char *name, char **error);
bool dmcrypt_is_open(const char *name);
