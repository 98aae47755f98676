/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The notify protocol is one datagram on a unix socket; abstract names start with '@'. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "common/notify.h"

int notify_send(const char *state) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        size_t n;

        if (isempty(path))
                return 0;
        n = strlen(path);
        if (n >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
                return -EINVAL;
        memcpy(sa.sun_path, path, n);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = 0;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &sa,
                   (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n)) < 0)
                return -errno;
        return 1;
}

uint64_t notify_watchdog_usec(void) {
        const char *e = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
        uint64_t v = 0, p = 0;

        if (!e || safe_atou64(e, &v) < 0)
                return 0;
        if (pid && (safe_atou64(pid, &p) < 0 || p != (uint64_t) getpid()))
                return 0;
        return v;
}
