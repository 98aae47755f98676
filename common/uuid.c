/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Random UUIDs: the kernel hands out a fresh version 4 UUID on every read of
 * /proc/sys/kernel/random/uuid, so no library (libuuid) is needed for it. */
#include <fcntl.h>
#include <string.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "common/uuid.h"

int uuid_random(char **ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_one_line_at(AT_FDCWD, "/proc/sys/kernel/random/uuid", &s);
        if (r < 0)
                return r;
        if (strlen(s) != UUID_STRING_LEN)
                return -EBADMSG;
        *ret = TAKE_PTR(s);
        return 0;
}
