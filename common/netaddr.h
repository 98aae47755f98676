/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listen addresses as operators write them in a configuration file: "PORT" (loopback only),
 * "ADDR:PORT" or "[IPV6]:PORT". Numeric only: a daemon does not resolve names at start-up. */
#pragma once

#include <stddef.h>
#include <sys/socket.h>

/* The longest text netaddr_format() writes, with its NUL: "[v6 address]:65535". */
#define NETADDR_FORMAT_MAX 56

/* Parses s into ret. Returns -EINVAL for anything else than the three forms above, with a
 * port from 0 to 65535 (0: any free port, for tests). */
int netaddr_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
/* "127.0.0.1:9100", "[::1]:9100". */
const char *netaddr_format(const struct sockaddr *sa, char buf[static NETADDR_FORMAT_MAX]);
