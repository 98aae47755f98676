/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-agent's option table and how it is loaded: the table is the one source of each option's
 * name, type, default, range and help, for the file, the command line, --help and
 * --check-config. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "proto/codec.h"

#define OPT(name, type, def, min, max, field, help) \
        { "agent", name, type, def, min, max, offsetof(AgentConfig, field), help }
#define OSDOPT(name, type, def, min, max, field, help) \
        { "osd", name, type, def, min, max, offsetof(AgentConfig, field), help }
#define ENUM(section, name, def, field, choices, help) \
        { section, name, CONF_ENUM, def, 0, 0, offsetof(AgentConfig, field), help, choices }

static const char *const udev_events_choices[] = { UDEV_EVENTS_NAMES, NULL };
const char *const agent_config_start_modes[] = { START_MODE_PREPARE_NAMES, NULL };

const ConfOption agent_config_options[] = {
        OPT("coordinator", CONF_STRV, "tcp://127.0.0.1:7100", 0, 0, coordinator,
            "the coordinators' agent endpoints (ZeroMQ), separated by commas: the agent reports to each of "
            "them (at most 16)"),
        OPT("key", CONF_STRING, "/etc/castle/keys/agent.key", 0, 0, key,
            "this agent's CURVE key pair (castlectl keygen); the _secret file is read"),
        OPT("coordinator-key", CONF_STRV, "/etc/castle/keys/coordinator.key", 0, 0, coordinator_key,
            "the coordinators' public key files: one for all of them, or one per endpoint, in order"),
        OPT("recent-commands", CONF_UINT, "1024", 16, 1000000, recent_commands,
            "finished commands remembered by id, so that one forwarded again (by another coordinator, or a "
            "client's retry) is not run twice"),
        OPT("node-id", CONF_STRING, "", 0, 0, node_id,
            "this node's name at the coordinator (default: /etc/machine-id, else the hostname; in a container the host's machine-id, else $NODE_NAME)"),
        OPT("labels", CONF_STRV, "", 0, 0, labels,
            "this node's labels, separated by commas: OSD specs with placement.label place the nodes that "
            "have it (at most 64, each 1-255 printable characters without blanks)"),
        OPT("insecure", CONF_BOOL, "no", 0, 0, insecure, "connect without CURVE (testing only)"),
        OPT("allow-loop", CONF_BOOL, "no", 0, 0, allow_loop,
            "report loop devices and accept them as available (tests and demos)"),
        OPT("all", CONF_BOOL, "no", 0, 0, all, "report partitions, LVs and dm devices too, not only disks"),
        OPT("filter", CONF_REGEX, "", 0, 0, filter, "report only devices whose kernel name matches (regex)"),
        OPT("path-filter", CONF_REGEX, "", 0, 0, path_filter,
            "report only devices with a /dev path or link matching (regex)"),
        ENUM("agent", "udev-events", "auto", udev_events, udev_events_choices,
             "how device events arrive (read at start): netlink (udev's broadcast; it reaches only udevd's "
            "network namespace), inotify (watch /run/udev/data: any network namespace, e.g. a pod without "
            "hostNetwork), both, or auto (netlink in udevd's network namespace, inotify outside it, both "
            "when that cannot be told)"),
        OPT("debounce-quiet", CONF_DURATION, "20ms", USEC_PER_MSEC, 10 * USEC_PER_SEC, debounce_quiet,
            "scan after this long without further device events"),
        OPT("debounce-max", CONF_DURATION, "200ms", USEC_PER_MSEC, 60 * USEC_PER_SEC, debounce_max,
            "scan at the latest this long after the first event of a burst"),
        OPT("rescan-interval", CONF_DURATION, "10min", 10 * USEC_PER_SEC, USEC_PER_DAY, rescan_interval,
            "full rescan this often (with +-10% jitter), to catch anything missed"),
        OPT("heartbeat-interval", CONF_DURATION, "5s", 100 * USEC_PER_MSEC, 10 * USEC_PER_MINUTE, heartbeat_interval,
            "heartbeat to each coordinator this often"),
        OPT("probe-timeout", CONF_DURATION, "10s", 100 * USEC_PER_MSEC, 10 * USEC_PER_MINUTE, probe_timeout,
            "a device that does not answer within this is reported as \"Could not be probed\""),
        OPT("sysroot", CONF_STRING, "", 0, 0, sysroot, "read a captured tree instead of this machine (tests)"),
        OPT("metrics-listen", CONF_LISTEN, "", 0, 0, metrics_listen,
            "serve Prometheus metrics at http://ADDRESS/metrics (PORT alone: 127.0.0.1:PORT; empty: off)"),
        OPT("health-interval", CONF_DURATION, "1h", 0, 7 * USEC_PER_DAY, health_interval,
            "read each disk's health (NVMe SMART log, smartctl) this often, and at once on a rescan command; "
            "0: never"),
        OSDOPT("helper", CONF_STRING, "", 0, 0, osd_helper,
               "the castlectl-osd program that prepares OSDs (default: next to castle-agent, else in the libexec directory)"),
        OSDOPT("cluster", CONF_STRING, "ceph", 0, 0, cluster, "Ceph cluster name"),
        OSDOPT("conf", CONF_STRING, "", 0, 0, ceph_conf, "Ceph configuration file (default /etc/ceph/CLUSTER.conf)"),
        OSDOPT("keyring", CONF_STRING, "", 0, 0, keyring,
               "client.bootstrap-osd keyring (default /var/lib/ceph/bootstrap-osd/CLUSTER.keyring)"),
        OSDOPT("osd-root", CONF_STRING, "", 0, 0, osd_root, "OSD directories (default /var/lib/ceph/osd)"),
        OSDOPT("state-dir", CONF_STRING, "", 0, 0, state_dir, "castle's state, the prepare journal (default /var/lib/castle)"),
        ENUM("osd", "start-mode", "auto", start_mode, agent_config_start_modes,
             "how prepared OSDs are started"),
        OSDOPT("crush-device-class", CONF_STRING, "", 0, 0, crush_device_class,
               "CRUSH device class of OSDs this agent prepares (empty: the monitor's guess)"),
        OSDOPT("spec-file", CONF_STRING, "", 0, 0, spec_file,
               "OSD specs of this node in cephadm's YAML (castlectl cluster apply's format), applied with "
               "the coordinators' (which win on a name both use); read at start and on SIGHUP"),
        OSDOPT("spec-settle", CONF_DURATION, "60s", USEC_PER_SEC, USEC_PER_DAY, spec_settle,
               "a device an OSD spec newly selects is taken only once it has stayed unchanged (its "
               "signatures, partitions, holders, sectors written) and available this long"),
        OSDOPT("remove-client", CONF_STRING, "client.castle-osd-rm", 0, 0, remove_client,
               "the cephx client that removes OSDs (castlectl cluster osd rm): out, in, down, destroy, "
               "purge and reads; bootstrap-osd cannot"),
        OSDOPT("remove-keyring", CONF_STRING, "", 0, 0, remove_keyring,
               "remove-client's keyring (default /etc/ceph/CLUSTER.REMOVE-CLIENT.keyring)"),
        OSDOPT("health-mark-out", CONF_BOOL, "no", 0, 0, health_mark_out,
               "when a disk's health turns failing, mark the OSDs of this node on it out (as remove-client; "
               "once per failing episode)"),
};

const size_t agent_config_n_options = ELEMENTSOF(agent_config_options);

int agent_config_parse_args(int argc, char *argv[], DaemonArgs *ret) {
        return daemon_parse_args(agent_config_options, agent_config_n_options, AGENT_CONFIG_DEFAULT_PATH, argc, argv,
                                 ret);
}

/* The options that are gone, and what replaces them: a configuration that still sets one is
 * refused, with the way to do the same now. */
static const char *const removed_options[] = { "auto-prepare", "auto-prepare-filter", "auto-prepare-path-filter" };

static void explain_removed(const char *path) {
        _cleanup_free_ char *text = NULL;
        unsigned lineno = 0;
        size_t size = 0;

        if (isempty(path) || read_full_file_at(AT_FDCWD, path, 1024 * 1024, &text, &size) < 0)
                return;
        for (char *line = text, *next; line && *line; line = next) {
                char *key = line;
                size_t len;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                lineno++;
                key += strspn(key, " \t");
                len = strcspn(key, " \t=");
                for (size_t i = 0; i < ELEMENTSOF(removed_options); i++)
                        if (len == strlen(removed_options[i]) && strncmp(key, removed_options[i], len) == 0)
                                log_error("%s:%u: %s was removed: OSD specs replace the node policy (castlectl "
                                          "cluster apply, or the spec-file option for a node without a "
                                          "coordinator; see castle.conf(5)).",
                                          path, lineno, removed_options[i]);
        }
}

int agent_config_load(const DaemonArgs *args, AgentConfig *ret) {
        AgentConfig c = {};
        int r;

        r = daemon_load_config(agent_config_options, agent_config_n_options, args, &c);
        if (r < 0)
                explain_removed(args->config_path);
        if (r >= 0) {
                _cleanup_free_ char *err = NULL;

                r = agent_config_check_coordinators(&c, &err);
                if (r >= 0)
                        r = agent_config_check_labels(&c, &err);
                if (r < 0)
                        log_error("%s", strempty(err));
        }
        if (r < 0) {
                agent_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

void agent_config_done(AgentConfig *c) {
        conf_free_values(agent_config_options, agent_config_n_options, c);
}

int agent_config_check_coordinators(const AgentConfig *c, char **ret_error) {
        size_t n = strv_length(c->coordinator), n_keys = strv_length(c->coordinator_key);
        int k = 0; /* asprintf()'s: > 0 once a reason is written */

        if (n == 0)
                k = asprintf(ret_error, "coordinator: no endpoint given");
        else if (n > AGENT_MAX_COORDINATORS)
                k = asprintf(ret_error, "coordinator: %zu endpoints, at most %u", n, AGENT_MAX_COORDINATORS);
        for (size_t i = 1; k == 0 && i < n; i++)
                for (size_t j = 0; k == 0 && j < i; j++)
                        if (streq(c->coordinator[i], c->coordinator[j]))
                                k = asprintf(ret_error, "coordinator: %s is listed twice",
                                             c->coordinator[i]);
        if (k == 0 && !c->insecure && n_keys != 1 && n_keys != n)
                k = asprintf(ret_error,
                             "coordinator-key: %zu keys for %zu coordinators (give one key for all, or one "
                             "per endpoint)",
                             n_keys, n);
        return k == 0 ? 0 : k < 0 ? -ENOMEM : -EINVAL;
}

int agent_config_check_labels(const AgentConfig *c, char **ret_error) {
        size_t n = strv_length(c->labels);
        int k = 0;

        if (n > AGENT_MAX_LABELS)
                k = asprintf(ret_error, "labels: %zu labels, at most %u", n, AGENT_MAX_LABELS);
        for (size_t i = 0; k == 0 && i < n; i++) {
                if (!codec_valid_id(c->labels[i]))
                        k = asprintf(ret_error, "labels: '%s' is not a valid label (1-255 printable characters, no blanks)",
                                     c->labels[i]);
                for (size_t j = 0; k == 0 && j < i; j++)
                        if (streq(c->labels[i], c->labels[j]))
                                k = asprintf(ret_error, "labels: %s is listed twice", c->labels[i]);
        }
        return k == 0 ? 0 : k < 0 ? -ENOMEM : -EINVAL;
}

const char *agent_config_coordinator_key(const AgentConfig *c, size_t i) {
        size_t n_keys = strv_length(c->coordinator_key);

        return n_keys == 0 ? "" : c->coordinator_key[n_keys == 1 ? 0 : MIN(i, n_keys - 1)];
}

void agent_config_print_help(FILE *f) {
        conf_print_help(agent_config_options, agent_config_n_options, f);
}

void agent_config_print(const AgentConfig *c, FILE *f) {
        conf_print_values(agent_config_options, agent_config_n_options, c, f);
}
