/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-agent's configuration: one table of options (name, type, default, range, help) for the
 * [agent] and [osd] sections of /etc/castle/agent.conf, read by the parser, by --OPTION=VALUE on
 * the command line, by --help and by --check-config. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/conf.h"
#include "agent/sources.h"
#include "common/daemon.h"
#include "osd-prep/startmode.h"

#define AGENT_CONFIG_DEFAULT_PATH "/etc/castle/agent.conf"

typedef struct AgentConfig {
        char *coordinator;
        char *key;
        char *coordinator_key;
        char *node_id;
        bool insecure;
        bool allow_loop;
        bool all;
        char *filter;
        char *path_filter;
        UdevEvents udev_events;
        uint64_t debounce_quiet;
        uint64_t debounce_max;
        uint64_t rescan_interval;
        uint64_t heartbeat_interval;
        uint64_t probe_timeout;
        char *sysroot;
        char *metrics_listen;
        /* [osd] */
        char *osd_helper;
        char *cluster;
        char *ceph_conf;
        char *keyring;
        char *osd_root;
        char *state_dir;
        StartMode start_mode;
        bool auto_prepare;
        char *auto_prepare_filter;
        char *auto_prepare_path_filter;
        char *crush_device_class;
} AgentConfig;

/* The start-mode names, indexed by StartMode: what the agent passes to castlectl-osd. */
extern const char *const agent_config_start_modes[];

extern const ConfOption agent_config_options[];
extern const size_t agent_config_n_options;

/* The command line: --config, --check-config, --verbose, --help and --OPTION=VALUE. Returns
 * -EINVAL after logging a usage error. */
int agent_config_parse_args(int argc, char *argv[], DaemonArgs *ret);
/* Defaults, then the file, then the command-line overrides; errors are logged. *ret is written
 * only on success. */
int agent_config_load(const DaemonArgs *args, AgentConfig *ret);
void agent_config_done(AgentConfig *c);
/* The options with their defaults and help, for --help. */
void agent_config_print_help(FILE *f);
/* The values as the file would set them, for --check-config. */
void agent_config_print(const AgentConfig *c, FILE *f);
