/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounded reads of small files (sysfs attributes, /proc tables) relative to a directory fd,
 * so that the same code reads the live system and a captured tree (--sysroot). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads at most max bytes; fails with -EFBIG if the file is longer. */
int read_full_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_size);
/* Reads the first line, without the newline and trailing blanks. */
int read_one_line_at(int dirfd, const char *path, char **ret);
int read_u64_at(int dirfd, const char *path, uint64_t *ret);
/* Lists the entry names of a directory, sorted, without "." and "..". */
int list_dir_at(int dirfd, const char *path, char ***ret);

int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi(const char *s, int *ret);
/* Trailing whitespace is removed in place. */
char *strip_trailing(char *s);

/* Writes a whole file through a temporary name, fsync and rename, then fsyncs the directory:
 * after a crash the file is either the old one or the new one, never half written. */
int write_file_atomic(const char *path, const void *data, size_t n, mode_t mode);
/* The same for name in the directory dfd, for a directory someone else may write to: through
 * name.tmp created with O_EXCL|O_NOFOLLOW after any old name.tmp (even a symlink or a hard
 * link planted there) is unlinked, owned by uid:gid ((uid_t) -1: unchanged) through its
 * descriptor. Nothing but name and name.tmp in dfd is created, truncated or chowned. */
int write_file_atomic_at(int dfd, const char *name, const void *data, size_t n, mode_t mode, uid_t uid,
                         gid_t gid);
/* mkdir -p */
int mkdir_p(const char *path, mode_t mode);
