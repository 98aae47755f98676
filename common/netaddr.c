/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listen address parsing and printing (inet_pton/inet_ntop around the three written forms). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/netaddr.h"

static int parse_port(const char *s, uint16_t *ret) {
        unsigned long v = 0;

        if (isempty(s) || strlen(s) > 5)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                v = v * 10 + (unsigned long) (*p - '0');
        }
        if (v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

int netaddr_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char host[INET6_ADDRSTRLEN + 1];
        const char *port, *colon;
        uint16_t p;
        size_t l;

        if (isempty(s))
                return -EINVAL;
        if (*s == '[') {
                const char *end = strchr(s, ']');
                struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};

                if (!end || end[1] != ':')
                        return -EINVAL;
                l = (size_t) (end - s - 1);
                if (l == 0 || l >= sizeof host)
                        return -EINVAL;
                memcpy(host, s + 1, l);
                host[l] = 0;
                if (inet_pton(AF_INET6, host, &sa6.sin6_addr) != 1 || parse_port(end + 2, &p) < 0)
                        return -EINVAL;
                sa6.sin6_port = htons(p);
                memset(ret, 0, sizeof *ret);
                memcpy(ret, &sa6, sizeof sa6);
                *ret_len = sizeof sa6;
                return 0;
        }

        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        colon = strchr(s, ':');
        if (colon) {
                l = (size_t) (colon - s);
                if (l == 0 || l >= sizeof host || strchr(colon + 1, ':'))
                        return -EINVAL; /* an IPv6 address needs its brackets */
                memcpy(host, s, l);
                host[l] = 0;
                if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                        return -EINVAL;
                port = colon + 1;
        } else
                port = s; /* a bare port: loopback only, the safe default */
        if (parse_port(port, &p) < 0)
                return -EINVAL;
        sa.sin_port = htons(p);
        memset(ret, 0, sizeof *ret);
        memcpy(ret, &sa, sizeof sa);
        *ret_len = sizeof sa;
        return 0;
}

const char *netaddr_format(const struct sockaddr *sa, char buf[static NETADDR_FORMAT_MAX]) {
        char host[INET6_ADDRSTRLEN];

        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) sa;
                inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
                snprintf(buf, NETADDR_FORMAT_MAX, "[%s]:%u", host, ntohs(s6->sin6_port));
        } else if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;
                inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
                snprintf(buf, NETADDR_FORMAT_MAX, "%s:%u", host, ntohs(s4->sin_port));
        } else
                snprintf(buf, NETADDR_FORMAT_MAX, "(address family %d)", sa->sa_family);
        return buf;
}
