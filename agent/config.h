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

/* Coordinators in the coordinator option's list, at most. */
#define AGENT_MAX_COORDINATORS 16
/* Labels in the labels option, at most. */
#define AGENT_MAX_LABELS 64

typedef struct AgentConfig {
        char **coordinator;             /* endpoints, at least one */
        char *key;
        char **coordinator_key;         /* one for all, or one per endpoint */
        uint64_t recent_commands;
        char *node_id;
        char **labels;
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
        uint64_t health_interval;
        /* [osd] */
        char *osd_helper;
        char *cluster;
        char *ceph_conf;
        char *keyring;
        char *osd_root;
        char *state_dir;
        StartMode start_mode;
        char *crush_device_class;
        char *spec_file;
        uint64_t spec_settle;
        char *remove_client;
        char *remove_keyring;
        bool health_mark_out;
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
/* Whether the coordinator list and its keys go together: 1 to AGENT_MAX_COORDINATORS
 * endpoints, no endpoint twice, and one key for all or one per endpoint. -EINVAL with *ret_error
 * (to free) saying why. agent_config_load() checks it. */
int agent_config_check_coordinators(const AgentConfig *c, char **ret_error);
/* Whether the labels are valid (each 1-255 printable characters without blanks, as the
 * protocol's ids; at most AGENT_MAX_LABELS, none twice); -EINVAL with *ret_error (to free). */
int agent_config_check_labels(const AgentConfig *c, char **ret_error);
/* The public key file of coordinator i. */
const char *agent_config_coordinator_key(const AgentConfig *c, size_t i);
/* The options with their defaults and help, for --help. */
void agent_config_print_help(FILE *f);
/* The values as the file would set them, for --check-config. */
void agent_config_print(const AgentConfig *c, FILE *f);
