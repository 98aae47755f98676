/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libmicrohttpd adapter over real loopback TCP: this thread is both the event loop that
 * drives the server (poll on httpd_fd(), httpd_process()) and the client. GET and HEAD of the
 * page, 404 elsewhere, 405 with Allow for other methods, 500 when rendering fails, a port in
 * use; and the listen address forms. */
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>

#include "common/httpd.h"
#include "common/netaddr.h"
#include "common/timeutil.h"

static int renders;
static bool render_fails;

static int render(void *userdata, char **ret, size_t *ret_size) {
        renders++;
        if (render_fails)
                return -EIO;
        *ret = strdup(userdata);
        *ret_size = strlen(*ret);
        return *ret ? 0 : -ENOMEM;
}

/* Sends request to the server on port and returns everything it answers until it closes. */
static char *exchange(Httpd *h, const char *request) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons(httpd_port(h)),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        uint64_t deadline = now_usec() + 5 * USEC_PER_SEC;
        size_t n = 0, sent = 0, len = strlen(request);
        char *buf = calloc(1, 65536);
        int fd;

        assert_non_null(buf);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        assert_true(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0 || errno == EINPROGRESS);
        while (now_usec() < deadline) {
                struct pollfd p[2] = {{.fd = httpd_fd(h), .events = POLLIN},
                                      {.fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0)}};
                uint64_t timeout;
                ssize_t k;

                assert_true(poll(p, 2, 100) >= 0);
                assert_int_equal(httpd_process(h, &timeout), 0);
                if ((p[1].revents & POLLOUT) && sent < len) {
                        k = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
                        if (k > 0)
                                sent += (size_t) k;
                }
                if (p[1].revents & (POLLIN | POLLHUP)) {
                        k = recv(fd, buf + n, 65535 - n, 0);
                        if (k == 0)
                                break;
                        if (k > 0)
                                n += (size_t) k;
                }
        }
        close(fd);
        assert_true(now_usec() < deadline); /* the server answered and closed */
        return buf;
}

static void test_pages(void **state) {
        _cleanup_(httpd_freep) Httpd *h = NULL;
        char *r;

        assert_int_equal(httpd_new("127.0.0.1:0", "/metrics", "text/plain; version=0.0.4; charset=utf-8",
                                   render, (void *) "x_total 1\n", &h),
                         0);
        assert_true(httpd_port(h) > 0);
        assert_true(strncmp(httpd_address(h), "127.0.0.1:", 10) == 0);

        renders = 0;
        r = exchange(h, "GET /metrics HTTP/1.0\r\n\r\n");
        assert_true(strncmp(r, "HTTP/1.0 200", 12) == 0 || strncmp(r, "HTTP/1.1 200", 12) == 0);
        assert_non_null(strcasestr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        assert_non_null(strcasestr(r, "\r\nContent-Length: 10\r\n"));
        assert_non_null(strstr(r, "\r\n\r\nx_total 1\n"));
        assert_int_equal(renders, 1);
        free(r);

        r = exchange(h, "HEAD /metrics HTTP/1.0\r\n\r\n");
        assert_non_null(strstr(r, " 200 "));
        assert_null(strstr(r, "x_total")); /* no body for HEAD */
        free(r);

        r = exchange(h, "GET /metricsX HTTP/1.0\r\n\r\n");
        assert_non_null(strstr(r, " 404 "));
        free(r);
        r = exchange(h, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_non_null(strstr(r, " 404 "));
        free(r);

        renders = 0;
        r = exchange(h, "POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
        assert_non_null(strstr(r, " 405 "));
        assert_non_null(strcasestr(r, "\r\nAllow: GET, HEAD\r\n"));
        free(r);
        r = exchange(h, "DELETE /metrics HTTP/1.0\r\n\r\n");
        assert_non_null(strstr(r, " 405 "));
        free(r);
        assert_int_equal(renders, 0); /* nothing rendered for those */

        render_fails = true;
        r = exchange(h, "GET /metrics HTTP/1.0\r\n\r\n");
        assert_non_null(strstr(r, " 500 "));
        free(r);
        render_fails = false;

        /* garbage instead of HTTP: an error answer or a closed connection, and the server lives on */
        free(exchange(h, "\x01\x02 not http at all\r\n\r\n"));
        r = exchange(h, "GET /metrics HTTP/1.0\r\n\r\n");
        assert_non_null(strstr(r, " 200 "));
        free(r);
}

static void test_port_in_use(void **state) {
        _cleanup_(httpd_freep) Httpd *a = NULL, *b = NULL;
        char listen[32];

        assert_int_equal(httpd_new("127.0.0.1:0", "/metrics", NULL, render, (void *) "", &a), 0);
        snprintf(listen, sizeof listen, "127.0.0.1:%u", httpd_port(a));
        assert_int_equal(httpd_new(listen, "/metrics", NULL, render, (void *) "", &b), -EADDRINUSE);
        assert_null(b);
        assert_int_equal(httpd_new("not an address", "/metrics", NULL, render, (void *) "", &b), -EINVAL);
        assert_int_equal(httpd_new("127.0.0.1:0", "metrics", NULL, render, (void *) "", &b), -EINVAL);
}

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

/* The listening socket is handed to libmicrohttpd, which closes it; the epoll fd too. */
static void test_no_fd_leak(void **state) {
        int before = count_fds();

        for (int i = 0; i < 20; i++) {
                Httpd *h = NULL;
                char *r;
                assert_int_equal(httpd_new("127.0.0.1:0", "/metrics", NULL, render, (void *) "x 1\n", &h),
                                 0);
                r = exchange(h, "GET /metrics HTTP/1.0\r\n\r\n");
                free(r);
                h = httpd_free(h);
        }
        assert_int_equal(count_fds(), before);
}

static void test_ipv6(void **state) {
        _cleanup_(httpd_freep) Httpd *h = NULL;
        int r;

        r = httpd_new("[::1]:0", "/metrics", NULL, render, (void *) "", &h);
        if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT) {
                skip(); /* a machine without IPv6 on loopback */
                return;
        }
        assert_int_equal(r, 0);
        assert_true(strncmp(httpd_address(h), "[::1]:", 6) == 0);
}

static void test_listen_forms(void **state) {
        static const struct {
                const char *in, *out;
        } good[] = {
                {"9100", "127.0.0.1:9100"},     {"0.0.0.0:9100", "0.0.0.0:9100"},
                {"192.0.2.7:1", "192.0.2.7:1"}, {"[::1]:9100", "[::1]:9100"},
                {"[::]:65535", "[::]:65535"},   {"127.0.0.1:0", "127.0.0.1:0"},
        };
        static const char *const bad[] = {
                "",
                "abc",
                "1.2.3.4",
                ":9100",
                "1.2.3.4:",
                "::1:9100",
                "[::1]",
                "[::1]9100",
                "[]:1",
                "1.2.3.4:65536",
                "1.2.3.4:-1",
                "1.2.3.4:12a",
                "localhost:9100",
                "1.2.3:80",
                "999999",
                "[1.2.3.4]:80",
        };
        struct sockaddr_storage sa;
        socklen_t len;
        char buf[NETADDR_FORMAT_MAX];

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                assert_int_equal(netaddr_parse_listen(good[i].in, &sa, &len), 0);
                assert_string_equal(netaddr_format((struct sockaddr *) &sa, buf), good[i].out);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (netaddr_parse_listen(bad[i], &sa, &len) != -EINVAL)
                        fail_msg("'%s' was accepted", bad[i]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pages),        cmocka_unit_test(test_port_in_use),
                cmocka_unit_test(test_no_fd_leak),   cmocka_unit_test(test_ipv6),
                cmocka_unit_test(test_listen_forms),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
