/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Daemon start-up helpers: the command line, the configuration, and signals. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/daemon.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/strv.h"

int daemon_parse_args(const ConfOption *table, size_t n, const char *default_config, int argc, char *argv[],
                      DaemonArgs *ret) {
        DaemonArgs a = { .config_path = strdup(default_config) };

        if (!a.config_path)
                return log_oom();
        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i], *eq, *v;
                _cleanup_free_ char *name = NULL;
                const ConfOption *o;

                if (streq(arg, "-h") || streq(arg, "--help")) {
                        a.help = true;
                        continue;
                }
                if (streq(arg, "-v") || streq(arg, "--verbose")) {
                        log_set_max_level(LOG_DEBUG);
                        continue;
                }
                if (streq(arg, "--check-config")) {
                        a.check_only = true;
                        continue;
                }
                if (streq(arg, "-c") || streq(arg, "--config") || startswith(arg, "--config=")) {
                        v = startswith(arg, "--config=") ?: (i + 1 < argc ? argv[++i] : NULL);
                        if (!v) {
                                daemon_args_done(&a);
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--config needs a file name.");
                        }
                        free(a.config_path);
                        a.config_path = strdup(v);
                        a.explicit_config = true;
                        continue;
                }
                if (!startswith(arg, "--")) {
                        daemon_args_done(&a);
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unexpected argument '%s'. Run with --help.", arg);
                }
                eq = strchr(arg, '=');
                name = eq ? strndup(arg + 2, (size_t) (eq - arg - 2)) : strdup(arg + 2);
                o = name ? conf_find(table, n, name) : NULL;
                if (!o) {
                        daemon_args_done(&a);
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown option '%s'. Run with --help.", arg);
                }
                /* --name=value, --name value, and a bare --flag for booleans */
                v = eq ? eq + 1 : o->type == CONF_BOOL ? "yes" : i + 1 < argc ? argv[++i] : NULL;
                if (!v) {
                        daemon_args_done(&a);
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s needs a value.", arg);
                }
                if (strv_extend(&a.overrides, name) < 0 || strv_extend(&a.overrides, v) < 0) {
                        daemon_args_done(&a);
                        return log_oom();
                }
        }
        *ret = a;
        return 0;
}

void daemon_args_done(DaemonArgs *a) {
        free(a->config_path);
        strv_free(a->overrides);
        *a = (DaemonArgs) {};
}

int daemon_load_config(const ConfOption *table, size_t n, const DaemonArgs *a, void *values) {
        int r;

        r = conf_set_defaults(table, n, values);
        if (r < 0)
                return log_error_errno(r, "Bad built-in default: %m");
        r = conf_parse_file(table, n, a->config_path, values, stderr);
        if (r == -ENOENT && !a->explicit_config)
                r = 0;
        else if (r == -ENOENT)
                return log_error_errno(r, "%s: No such file.", a->config_path);
        for (size_t i = 0; r >= 0 && a->overrides && a->overrides[i]; i += 2) {
                _cleanup_free_ char *err = NULL;
                r = conf_set(table, n, a->overrides[i], a->overrides[i + 1], values, &err);
                if (r < 0)
                        log_error("--%s: %s", a->overrides[i], err ?: "invalid value");
        }
        return r;
}

static int signal_fd(void) {
        sigset_t mask;
        int fd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

int daemon_signals_open(DaemonSignals *ret, DaemonReloadFn reload, void *userdata) {
        int fd = signal_fd();

        if (fd < 0)
                return fd;
        *ret = (DaemonSignals) { .fd = fd, .reload = reload, .userdata = userdata };
        return 0;
}

void daemon_signals_close(DaemonSignals *s) {
        s->fd = safe_close(s->fd);
}

int daemon_signals_dispatch(DaemonSignals *s) {
        struct signalfd_siginfo si;

        if (read(s->fd, &si, sizeof si) != sizeof si)
                return 0;
        if (si.ssi_signo == SIGHUP) {
                if (s->reload)
                        s->reload(s->userdata);
                return 0;
        }
        /* The daemons' own line, so it is logged here at info and not at debug. */
        log_info("Signal %u: stopping.", si.ssi_signo);
        notify_send("STOPPING=1");
        return 1;
}

void daemon_print_help(const char *program, const char *description, const char *default_config,
                       const char *sections, const ConfOption *table, size_t n, const char *sighup) {
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "%s"
               "\n"
               "  -c, --config=FILE     configuration file (default %s; missing is fine)\n"
               "      --check-config    parse the configuration, print it, and exit\n"
               "      --OPTION=VALUE    any option below, overriding the file\n"
               "  -v, --verbose         debug messages\n"
               "  -h, --help            this text\n"
               "\n"
               "Options (%s of the file):\n",
               program, description, default_config, sections);
        conf_print_help(table, n, stdout);
        printf("\nSignals: SIGTERM/SIGINT stop; %s.\n", sighup);
}
