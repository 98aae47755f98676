/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmicrohttpd behind castle's conventions: the listening socket is ours (SOCK_CLOEXEC, a
 * real -errno when bind fails), MHD's MHD_YES/MHD_NO and NULL returns become -errno, and its
 * log lines go to log_debug. */
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/httpd.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/netaddr.h"

#define HTTPD_CONNECTIONS            16
#define HTTPD_CONNECTIONS_PER_CLIENT 4
#define HTTPD_TIMEOUT_SEC            10
#define HTTPD_REQUEST_MEMORY         (32 * 1024)

struct Httpd {
        struct MHD_Daemon *daemon;
        char *path, *content_type;
        HttpdRenderFn render;
        void *userdata;
        char address[NETADDR_FORMAT_MAX];
        uint16_t port;
        int epoll_fd;
        struct {
                char *path;
                HttpdPageFn fn;
                void *userdata;
        } pages[HTTPD_PAGES_MAX];
};

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];

        vsnprintf(buf, sizeof buf, fmt, ap);
        buf[strcspn(buf, "\n")] = 0;
        log_debug("libmicrohttpd: %s", buf);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *content_type,
                              char *body, size_t size, const char *allow) {
        struct MHD_Response *resp;
        enum MHD_Result r;

        /* MUST_FREE: the response owns body from here, also when it cannot be made. */
        resp = MHD_create_response_from_buffer(size, body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(body);
                return MHD_NO; /* MHD closes the connection */
        }
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        if (allow)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        r = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned status, const char *text,
                                   const char *allow) {
        char *body = strdup(text);

        if (!body)
                return MHD_NO;
        return answer(c, status, "text/plain; charset=utf-8", body, strlen(body), allow);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
        Httpd *h = cls;
        char *body = NULL;
        size_t size = 0;
        int r;

        /* Answered on the first call, before any request body: nothing here takes one. */
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Only GET and HEAD are served here.\n",
                                   "GET, HEAD");
        for (size_t i = 0; i < HTTPD_PAGES_MAX && h->pages[i].path; i++) {
                if (!streq(url, h->pages[i].path))
                        continue;
                r = h->pages[i].fn(h->pages[i].userdata, &body);
                if (r < 0 || !body) {
                        free(body);
                        return answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "The page could not be rendered.\n",
                                           NULL);
                }
                return answer(c, (unsigned) r, "text/plain; charset=utf-8", body, strlen(body), NULL);
        }
        if (!streq(url, h->path)) {
                char msg[256];
                snprintf(msg, sizeof msg, "Not found. Metrics are at %s.\n", h->path);
                return answer_text(c, MHD_HTTP_NOT_FOUND, msg, NULL);
        }
        r = h->render(h->userdata, &body, &size);
        if (r < 0) {
                log_debug_errno(r, "Rendering %s failed: %m", h->path);
                return answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "The metrics could not be rendered.\n",
                                   NULL);
        }
        return answer(c, MHD_HTTP_OK, h->content_type, body, size, NULL);
}

static int listen_socket(const struct sockaddr_storage *sa, socklen_t len, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A restarted daemon binds again while the old connections sit in TIME_WAIT. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return -errno;
        if (sa->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
                return -errno;
        if (bind(fd, (const struct sockaddr *) sa, len) < 0)
                return -errno;
        if (listen(fd, HTTPD_CONNECTIONS) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int httpd_new(const char *listen, const char *path, const char *content_type, HttpdRenderFn render,
              void *userdata, Httpd **ret) {
        _cleanup_(httpd_freep) Httpd *h = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        const union MHD_DaemonInfo *info;
        int r;

        if (!path || *path != '/' || !render)
                return -EINVAL;
        r = netaddr_parse_listen(listen, &sa, &len);
        if (r < 0)
                return r;
        if (!MHD_is_feature_supported(MHD_FEATURE_EPOLL))
                return -EOPNOTSUPP;

        h = calloc(1, sizeof(Httpd));
        if (!h)
                return -ENOMEM;
        h->epoll_fd = -EBADF;
        h->render = render;
        h->userdata = userdata;
        h->path = strdup(path);
        h->content_type = strdup(content_type ?: "text/plain; charset=utf-8");
        if (!h->path || !h->content_type)
                return -ENOMEM;

        r = listen_socket(&sa, len, &fd);
        if (r < 0)
                return r;
        len = sizeof sa;
        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        netaddr_format((struct sockaddr *) &sa, h->address);
        h->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &sa)->sin6_port
                                                 : ((struct sockaddr_in *) &sa)->sin_port);

        h->daemon = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL,
                NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
                fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTPD_CONNECTIONS,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) HTTPD_CONNECTIONS_PER_CLIENT,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTPD_TIMEOUT_SEC,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTPD_REQUEST_MEMORY, MHD_OPTION_END);
        if (!h->daemon)
                return -EIO; /* MHD says no more than that; its reason went to log_debug */
        TAKE_FD(fd);         /* MHD closes it when it stops */
        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EIO;
        h->epoll_fd = info->epoll_fd;
        *ret = TAKE_PTR(h);
        return 0;
}

Httpd *httpd_free(Httpd *h) {
        if (!h)
                return NULL;
        if (h->daemon)
                MHD_stop_daemon(h->daemon);
        for (size_t i = 0; i < HTTPD_PAGES_MAX; i++)
                free(h->pages[i].path);
        free(h->path);
        free(h->content_type);
        free(h);
        return NULL;
}

int httpd_add_page(Httpd *h, const char *path, HttpdPageFn fn, void *userdata) {
        size_t i;

        if (!path || *path != '/' || !fn || streq(path, h->path))
                return -EINVAL;
        for (i = 0; i < HTTPD_PAGES_MAX && h->pages[i].path; i++)
                if (streq(h->pages[i].path, path))
                        break;
        if (i == HTTPD_PAGES_MAX)
                return -E2BIG;
        if (!h->pages[i].path) {
                h->pages[i].path = strdup(path);
                if (!h->pages[i].path)
                        return -ENOMEM;
        }
        h->pages[i].fn = fn;
        h->pages[i].userdata = userdata;
        return 0;
}

void httpd_freep(Httpd **h) {
        httpd_free(*h);
}

int httpd_fd(const Httpd *h) {
        return h->epoll_fd;
}

const char *httpd_address(const Httpd *h) {
        return h->address;
}

uint16_t httpd_port(const Httpd *h) {
        return h->port;
}

int httpd_process(Httpd *h, uint64_t *ret_timeout_usec) {
        MHD_UNSIGNED_LONG_LONG ms = 0;

        if (MHD_run(h->daemon) != MHD_YES)
                return -EIO;
        if (ret_timeout_usec)
                *ret_timeout_usec =
                        MHD_get_timeout(h->daemon, &ms) == MHD_YES ? (uint64_t) ms * 1000 : UINT64_MAX;
        return 0;
}
