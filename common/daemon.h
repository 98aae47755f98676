/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What castle's daemons share at start-up: the command line (--config, --check-config,
 * --verbose, --help and --OPTION=VALUE for every option of the configuration table) and
 * signals as a file descriptor for the event loop, with what each signal means: SIGTERM and
 * SIGINT stop, SIGHUP reloads. common/daemon-loop.h puts them on a CZMQ loop. */
#pragma once

#include <errno.h>
#include <stdbool.h>

#include "common/conf.h"

typedef struct DaemonArgs {
        char *config_path;
        bool explicit_config;   /* --config given: a missing file is then an error */
        bool check_only;
        bool help;
        char **overrides;       /* option name, value, name, value, ... */
} DaemonArgs;

/* Returns 0 on success (a.help may be set), -EINVAL after logging a usage error. */
int daemon_parse_args(const ConfOption *table, size_t n, const char *default_config, int argc, char *argv[],
                      DaemonArgs *ret);
void daemon_args_done(DaemonArgs *a);
/* --help: usage, what the program does, the common options, the table's options (from
 * sections of the file), and what SIGHUP does. */
void daemon_print_help(const char *program, const char *description, const char *default_config,
                       const char *sections, const ConfOption *table, size_t n, const char *sighup);
/* Defaults, then the file, then the command-line overrides; errors are logged. */
int daemon_load_config(const ConfOption *table, size_t n, const DaemonArgs *a, void *values);

typedef void (*DaemonReloadFn)(void *userdata);

typedef struct DaemonSignals {
        int fd;                 /* a signalfd */
        DaemonReloadFn reload;  /* SIGHUP */
        void *userdata;
} DaemonSignals;

#define DAEMON_SIGNALS_NULL ((DaemonSignals) { .fd = -EBADF })

/* Blocks SIGTERM, SIGINT and SIGHUP (call before any thread starts, so that every thread
 * inherits the mask) and opens a signalfd that reports them; reload is what SIGHUP does. */
int daemon_signals_open(DaemonSignals *ret, DaemonReloadFn reload, void *userdata);
void daemon_signals_close(DaemonSignals *s);
/* Reads one signal: SIGHUP calls reload and returns 0; SIGTERM and SIGINT log that the daemon
 * stops, tell the service manager STOPPING=1 and return 1; nothing read: 0. */
int daemon_signals_dispatch(DaemonSignals *s);
