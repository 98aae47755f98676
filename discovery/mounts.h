/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mounts and swaps in the host's view: /proc/1/mountinfo (the host's namespace when the
 * agent runs in a container with the host's PID namespace) merged with /proc/self/mountinfo,
 * and /proc/swaps. Read relative to a root fd so captured trees work too. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct MountEntry {
        dev_t devnum;           /* 0:N for filesystems without a single device (btrfs, nfs) */
        char *source;           /* "/dev/sda1", or what the filesystem calls its source */
        char *mountpoint;
        char *fstype;
} MountEntry;

typedef struct MountTable {
        MountEntry *mounts;
        size_t n_mounts;
        char **swaps;           /* /proc/swaps file names */
} MountTable;

int mount_table_load(int root_fd, MountTable **ret);
MountTable *mount_table_free(MountTable *t);
void mount_table_freep(MountTable **t);

/* Parses mountinfo text, appending to t. Exposed for tests. */
int mount_table_parse_mountinfo(MountTable *t, const char *text);
int mount_table_parse_swaps(MountTable *t, const char *text);

/* Mount points that belong to the OS: a device holding one of them is never available. */
bool mountpoint_is_os(const char *mountpoint);
