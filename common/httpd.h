/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libmicrohttpd adapter: a small HTTP server with one page (GET or HEAD of one path, e.g.
 * /metrics), whose body a callback renders on every request; 404 for any other path, 405 for
 * any other method.
 *
 * Threads: none. libmicrohttpd runs in its "external epoll" mode: the daemon's event loop
 * polls httpd_fd() for input and calls httpd_process() when it is readable, or when the
 * timeout httpd_process() returned has passed. The render callback therefore runs on the loop
 * thread, next to the state it reads, and needs no lock; the price is that a scrape waits for
 * the loop, which never blocks for long by design. Connections are bounded: at most 16 (4 per
 * client address), 10 s each, 32 KiB of request buffer. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct Httpd Httpd;

/* Fills *ret_body (malloc'd; the server frees it) and *ret_size; a negative return answers
 * 500. */
typedef int (*HttpdRenderFn)(void *userdata, char **ret_body, size_t *ret_size);

/* listen: as netaddr_parse_listen() takes it. Binds at once, so that a port in use is an error
 * here (-EADDRINUSE), not later. path: "/metrics". */
int httpd_new(const char *listen, const char *path, const char *content_type, HttpdRenderFn render,
              void *userdata, Httpd **ret);
Httpd *httpd_free(Httpd *h);
void httpd_freep(Httpd **h);

/* Another page, e.g. "/ready": fn fills *ret_body (malloc'd, text/plain) and returns the HTTP
 * status (200, 503...); a negative return answers 500. At most HTTPD_PAGES_MAX; a path already
 * there is replaced. */
#define HTTPD_PAGES_MAX 4
typedef int (*HttpdPageFn)(void *userdata, char **ret_body);
int httpd_add_page(Httpd *h, const char *path, HttpdPageFn fn, void *userdata);

/* Poll this for input (it is an epoll fd). */
int httpd_fd(const Httpd *h);
/* The address it listens on, with the port the kernel chose for port 0. */
const char *httpd_address(const Httpd *h);
uint16_t httpd_port(const Httpd *h);
/* Does what is ready: accepts, reads, answers, closes what timed out. *ret_timeout_usec is
 * how soon to call again even without input (UINT64_MAX: only on input). */
int httpd_process(Httpd *h, uint64_t *ret_timeout_usec);
