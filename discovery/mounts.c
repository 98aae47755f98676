/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mountinfo and swaps parsers. Both files escape blanks as octal (\040). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/fileio.h"
#include "common/strv.h"
#include "discovery/mounts.h"

#define MOUNTINFO_MAX (16 * 1024 * 1024)

MountTable *mount_table_free(MountTable *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_mounts; i++) {
                free(t->mounts[i].source);
                free(t->mounts[i].mountpoint);
                free(t->mounts[i].fstype);
        }
        free(t->mounts);
        strv_free(t->swaps);
        free(t);
        return NULL;
}

void mount_table_freep(MountTable **t) {
        mount_table_free(*t);
}

/* Undoes the kernel's octal escapes in place. */
static char *unoctal(char *s) {
        char *w = s;

        for (char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char) ((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
                        r += 4;
                } else
                        *w++ = *r++;
        }
        *w = 0;
        return s;
}

static int add_mount(MountTable *t, dev_t devnum, const char *source, const char *mountpoint,
                     const char *fstype) {
        MountEntry *m;

        /* The same mount seen from both namespaces is one entry. */
        for (size_t i = 0; i < t->n_mounts; i++)
                if (t->mounts[i].devnum == devnum && streq(t->mounts[i].mountpoint, mountpoint) &&
                    streq(t->mounts[i].source, source))
                        return 0;
        m = reallocarray(t->mounts, t->n_mounts + 1, sizeof(MountEntry));
        if (!m)
                return -ENOMEM;
        t->mounts = m;
        m = &t->mounts[t->n_mounts];
        *m = (MountEntry) {
                .devnum = devnum,
                .source = strdup(source),
                .mountpoint = strdup(mountpoint),
                .fstype = strdup(fstype),
        };
        if (!m->source || !m->mountpoint || !m->fstype) {
                free(m->source);
                free(m->mountpoint);
                free(m->fstype);
                return -ENOMEM;
        }
        t->n_mounts++;
        return 0;
}

int mount_table_parse_mountinfo(MountTable *t, const char *text) {
        _cleanup_free_ char *copy = strdup(text);
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* id parent maj:min root mountpoint options [optional...] - fstype source super */
                char *f[6] = {}, *sep, *tok, *s2 = NULL;
                unsigned maj, min;
                int i = 0;

                sep = strstr(line, " - ");
                if (!sep)
                        continue;
                *sep = 0;
                for (tok = strtok_r(line, " ", &s2); tok && i < 5; tok = strtok_r(NULL, " ", &s2))
                        f[i++] = tok;
                if (i < 5 || sscanf(f[2], "%u:%u", &maj, &min) != 2)
                        continue;
                s2 = NULL;
                tok = strtok_r(sep + 3, " ", &s2);
                f[5] = strtok_r(NULL, " ", &s2);
                if (!tok || !f[5])
                        continue;
                r = add_mount(t, makedev(maj, min), unoctal(f[5]), unoctal(f[4]), tok);
                if (r < 0)
                        return r;
        }
        return 0;
}

int mount_table_parse_swaps(MountTable *t, const char *text) {
        _cleanup_free_ char *copy = strdup(text);
        char *save = NULL;
        bool header = true;
        int r;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *sp;

                if (header) { /* "Filename Type Size Used Priority" */
                        header = false;
                        continue;
                }
                sp = strpbrk(line, " \t");
                if (sp)
                        *sp = 0;
                if (isempty(line))
                        continue;
                r = strv_extend_unique(&t->swaps, unoctal(line));
                if (r < 0)
                        return r;
        }
        return 0;
}

int mount_table_load(int root_fd, MountTable **ret) {
        static const char *const mountinfo[] = { "proc/1/mountinfo", "proc/self/mountinfo" };
        _cleanup_(mount_table_freep) MountTable *t = calloc(1, sizeof(MountTable));
        _cleanup_free_ char *swaps = NULL;
        bool any = false;
        int r;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(mountinfo); i++) {
                _cleanup_free_ char *text = NULL;

                /* /proc/1 may be unreadable without privileges; self always is. */
                if (read_full_file_at(root_fd, mountinfo[i], MOUNTINFO_MAX, &text, NULL) < 0)
                        continue;
                r = mount_table_parse_mountinfo(t, text);
                if (r < 0)
                        return r;
                any = true;
        }
        if (!any)
                return -ENOENT; /* without a mount table nothing can be called unmounted */
        r = read_full_file_at(root_fd, "proc/swaps", MOUNTINFO_MAX, &swaps, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        if (swaps) {
                r = mount_table_parse_swaps(t, swaps);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

bool mountpoint_is_os(const char *mountpoint) {
        static const char *const os[] = { "/", "/boot", "/boot/efi", "/efi", "/usr", "/var" };

        for (size_t i = 0; i < ELEMENTSOF(os); i++)
                if (streq(mountpoint, os[i]))
                        return true;
        return false;
}
