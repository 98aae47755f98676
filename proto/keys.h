/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CURVE key files, in CZMQ's certificate format (what zcert and zauth use): NAME holds the
 * public key, NAME_secret the key pair and is private (0600). An allowlist is a directory of
 * public key files. */
#pragma once

#include <czmq.h>

#define KEY_TEXT_LEN 40 /* Z85 text of a 32-byte key */

/* Writes NAME and NAME_secret; refuses to overwrite existing files (-EEXIST). */
int keys_generate(const char *path, const char *name, char ret_public[KEY_TEXT_LEN + 1]);
/* The same with the metadata `node = NODE` in both files (NULL: none): an agent key that the
 * coordinator binds to that node (coordinator/binding.h). */
int keys_generate_for_node(const char *path, const char *name, const char *node, char ret_public[KEY_TEXT_LEN + 1]);
/* Loads a key pair from NAME_secret (or from PATH if it is the secret file itself). */
int keys_load_pair(const char *path, zcert_t **ret);
/* Loads the public key from NAME (or NAME_secret). */
int keys_load_public(const char *path, char ret[KEY_TEXT_LEN + 1]);
