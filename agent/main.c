/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-agent: follows this node's block devices and reports them to the coordinator.
 *
 * One CZMQ zloop on the main thread drives everything: signals (signalfd), the udev monitor
 * fd, the host's mount table (POLLPRI), the coordinator's DEALER socket, the scan worker's
 * pipe, and timers (debounce, periodic rescan, heartbeat). zloop because it polls ZeroMQ
 * sockets next to plain fds without re-deriving ZMQ_FD's edge-triggered rules, and CZMQ's
 * actors give the worker thread a socket to answer on. The loop never does device I/O: scans
 * run on the worker, whose probes have per-device deadlines, so a hung disk cannot delay a
 * heartbeat. Start-up order: udev monitor, then the first full scan (coldplug), then the
 * coordinator connection, then READY=1. */
#include <fcntl.h>
#include <libgen.h>
#include <libudev.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/debounce.h"
#include "agent/hostview.h"
#include "agent/jobs.h"
#include "agent/metrics.h"
#include "agent/policy.h"
#include "agent/scanner.h"
#include "agent/udevwatch.h"
#include "common/conf.h"
#include "common/daemon.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/link.h"

#define DEFAULT_CONFIG "/etc/castle/agent.conf"

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
        char *udev_events;
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
        char *start_mode;
        bool auto_prepare;
        char *auto_prepare_filter;
        char *auto_prepare_path_filter;
        char *crush_device_class;
} AgentConfig;

#define OPT(name, type, def, min, max, field, help) \
        { "agent", name, type, def, min, max, offsetof(AgentConfig, field), help }
#define OSDOPT(name, type, def, min, max, field, help) \
        { "osd", name, type, def, min, max, offsetof(AgentConfig, field), help }

static const ConfOption options[] = {
        OPT("coordinator", CONF_STRING, "tcp://127.0.0.1:7100", 0, 0, coordinator,
            "the coordinator's agent endpoint (ZeroMQ)"),
        OPT("key", CONF_STRING, "/etc/castle/keys/agent.key", 0, 0, key,
            "this agent's CURVE key pair (castlectl keygen); the _secret file is read"),
        OPT("coordinator-key", CONF_STRING, "/etc/castle/keys/coordinator.key", 0, 0, coordinator_key,
            "the coordinator's public key file"),
        OPT("node-id", CONF_STRING, "", 0, 0, node_id,
            "this node's name at the coordinator (default: /etc/machine-id, else the hostname; in a container the host's machine-id, else $NODE_NAME)"),
        OPT("insecure", CONF_BOOL, "no", 0, 0, insecure, "connect without CURVE (testing only)"),
        OPT("allow-loop", CONF_BOOL, "no", 0, 0, allow_loop,
            "report loop devices and accept them as available (tests and demos)"),
        OPT("all", CONF_BOOL, "no", 0, 0, all, "report partitions, LVs and dm devices too, not only disks"),
        OPT("filter", CONF_STRING, "", 0, 0, filter, "report only devices whose kernel name matches (regex)"),
        OPT("path-filter", CONF_STRING, "", 0, 0, path_filter,
            "report only devices with a /dev path or link matching (regex)"),
        OPT("udev-events", CONF_STRING, "auto", 0, 0, udev_events,
            "how device events arrive (read at start): netlink (udev's broadcast; it reaches only udevd's "
            "network namespace), inotify (watch /run/udev/data: any network namespace, e.g. a pod without "
            "hostNetwork), both, or auto (netlink in udevd's network namespace, inotify outside it, both "
            "when that cannot be told)"),
        OPT("debounce-quiet", CONF_DURATION, "20ms", 1000, 10000000, debounce_quiet,
            "scan after this long without further device events"),
        OPT("debounce-max", CONF_DURATION, "200ms", 1000, 60000000, debounce_max,
            "scan at the latest this long after the first event of a burst"),
        OPT("rescan-interval", CONF_DURATION, "10min", 10000000, 86400000000, rescan_interval,
            "full rescan this often (with +-10% jitter), to catch anything missed"),
        OPT("heartbeat-interval", CONF_DURATION, "5s", 100000, 600000000, heartbeat_interval,
            "heartbeat to the coordinator this often"),
        OPT("probe-timeout", CONF_DURATION, "10s", 100000, 600000000, probe_timeout,
            "a device that does not answer within this is reported as \"Could not be probed\""),
        OPT("sysroot", CONF_STRING, "", 0, 0, sysroot, "read a captured tree instead of this machine (tests)"),
        OPT("metrics-listen", CONF_LISTEN, "", 0, 0, metrics_listen,
            "serve Prometheus metrics at http://ADDRESS/metrics (PORT alone: 127.0.0.1:PORT; empty: off)"),
        OSDOPT("helper", CONF_STRING, "", 0, 0, osd_helper,
               "the castlectl-osd program that prepares OSDs (default: next to castle-agent, else in the libexec directory)"),
        OSDOPT("cluster", CONF_STRING, "ceph", 0, 0, cluster, "Ceph cluster name"),
        OSDOPT("conf", CONF_STRING, "", 0, 0, ceph_conf, "Ceph configuration file (default /etc/ceph/CLUSTER.conf)"),
        OSDOPT("keyring", CONF_STRING, "", 0, 0, keyring,
               "client.bootstrap-osd keyring (default /var/lib/ceph/bootstrap-osd/CLUSTER.keyring)"),
        OSDOPT("osd-root", CONF_STRING, "", 0, 0, osd_root, "OSD directories (default /var/lib/ceph/osd)"),
        OSDOPT("state-dir", CONF_STRING, "", 0, 0, state_dir, "castle's state, the prepare journal (default /var/lib/castle)"),
        OSDOPT("start-mode", CONF_STRING, "auto", 0, 0, start_mode,
               "how prepared OSDs are started: auto, systemd, fork, none"),
        OSDOPT("auto-prepare", CONF_BOOL, "no", 0, 0, auto_prepare,
               "prepare an OSD on every available device that matches the two filters below, as it appears"),
        OSDOPT("auto-prepare-filter", CONF_STRING, "", 0, 0, auto_prepare_filter,
               "auto-prepare only devices whose kernel name matches (regex; empty: all)"),
        OSDOPT("auto-prepare-path-filter", CONF_STRING, "", 0, 0, auto_prepare_path_filter,
               "auto-prepare only devices with a /dev path or link matching (regex; empty: all)"),
        OSDOPT("crush-device-class", CONF_STRING, "", 0, 0, crush_device_class,
               "CRUSH device class of OSDs this agent prepares (empty: the monitor's guess)"),
};

typedef struct Agent {
        AgentConfig cfg;
        DaemonArgs args;
        zloop_t *loop;
        zactor_t *scanner;
        zsock_t *link;
        zcert_t *cert;
        struct udev *udev;
        struct udev_monitor *monitor;
        UdevWatch *udev_watch;
        HostView host;
        int mountinfo_fd;
        Debounce debounce;
        int debounce_timer, heartbeat_timer, rescan_timer;
        bool scanning, ready, snapshot_wanted;
        Report *report;
        uint64_t generation, message_id;
        uint64_t last_ack, scans, events;
        char *node_id;
        char hostname[256];
        uint64_t watchdog_usec;
        JobRunner *jobs;
        Policy policy;
        AgentMetrics *metrics;
        bool scan_full;         /* the running scan is a full one */
} Agent;

static void help(void) {
        printf("Usage: castle-agent [OPTIONS]\n"
               "\n"
               "Follows this node's block devices (udev hotplug, mounts, periodic rescans),\n"
               "decides which are safe to use for Ceph, and reports them to castle-coordinator.\n"
               "\n"
               "  -c, --config=FILE     configuration file (default %s; missing is fine)\n"
               "      --check-config    parse the configuration, print it, and exit\n"
               "      --OPTION=VALUE    any option below, overriding the file\n"
               "  -v, --verbose         debug messages\n"
               "  -h, --help            this text\n"
               "\n"
               "Options ([agent] and [osd] sections of the file):\n",
               DEFAULT_CONFIG);
        conf_print_help(options, ELEMENTSOF(options), stdout);
        printf("\nSignals: SIGTERM/SIGINT stop; SIGHUP re-reads the configuration.\n");
}

/* Where the agent runs (host or container, and what of the host it sees), then the node's
 * id and hostname: the node-id option wins, else agent/hostview.c's order. Logs the sources. */
static int identify(Agent *a) {
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        HostIdentity id = {};
        const char *id_source;
        int r;

        host_view_detect(root >= 0 ? root : AT_FDCWD, &a->host);
        if (a->host.container)
                log_info("Running in a container (%s)%s.", a->host.container,
                         a->host.pid1_is_host ? "; /proc/1 is the host's init (host PID namespace): its mount table is read" : "");
        if (a->host.container && a->host.pid1_is_ours)
                log_warning("This container does not share the host's PID namespace: /proc/1/mountinfo is the "
                            "container's own, so filesystems mounted on the host are not seen. Run it with hostPID.");
        r = host_identity(root >= 0 ? root : AT_FDCWD, &a->host, codec_valid_id, &id);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        snprintf(a->hostname, sizeof a->hostname, "%s", id.hostname);
        if (!isempty(a->cfg.node_id)) {
                a->node_id = strdup(a->cfg.node_id);
                id_source = "the node-id option";
        } else {
                a->node_id = TAKE_PTR(id.node_id);
                id_source = id.node_id_source;
        }
        log_info("Node id %s (from %s), hostname %s (from %s).", strempty(a->node_id), id_source, a->hostname,
                 id.hostname_source);
        host_identity_done(&id);
        return a->node_id ? 0 : log_error_errno(ENOMEM, "Out of memory.");
}

static void schedule(Agent *a);

/* ---- talking to the coordinator ---- */

static void send_envelope(Agent *a, Castle__Envelope *e) {
        int r;

        if (!a->link)
                return;
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        e->message_id = ++a->message_id;
        r = link_send(a->link, NULL, &e->base);
        agent_metrics_sent(a->metrics, e->body_case, r);
        if (r < 0)
                log_debug_errno(r, "Message to the coordinator not sent (%s): %m",
                                r == -EAGAIN ? "not connected" : "error");
}

static void send_hello(Agent *a) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Hello h = CASTLE__HELLO__INIT;

        h.node_id = a->node_id;
        h.hostname = a->hostname;
        h.agent_version = (char *) PACKAGE_VERSION;
        h.protocol_version = CASTLE_PROTOCOL_VERSION;
        h.generation = a->generation;
        e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        send_envelope(a, &e);
}

static void send_snapshot(Agent *a) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Device **devs = NULL;
        size_t n = 0;

        if (!a->report) {
                a->snapshot_wanted = true; /* after the first scan */
                return;
        }
        if (report_devices(a->report, &devs, &n) < 0)
                return;
        s.generation = a->generation;
        s.devices = devs;
        s.n_devices = n;
        e.body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        send_envelope(a, &e);
        a->snapshot_wanted = false;
        free(devs);
        log_debug("Sent a snapshot of %zu devices, generation %" PRIu64 ".", n, a->generation);
}

static void send_delta(Agent *a, Castle__Device **changed, size_t n_changed, char **removed, size_t n_removed) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Delta d = CASTLE__DELTA__INIT;

        d.generation = ++a->generation;
        d.changed = changed;
        d.n_changed = n_changed;
        d.removed = removed;
        d.n_removed = n_removed;
        e.body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &d;
        send_envelope(a, &e);
        log_debug("Sent a delta: %zu changed, %zu removed, generation %" PRIu64 ".", n_changed, n_removed,
                  a->generation);
}

/* ---- OSD jobs ---- */

static void on_job_update(const Castle__JobUpdate *u, void *userdata) {
        Agent *a = userdata;
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;

        if (u->done) {
                agent_metrics_job_done(a->metrics, u);
                if (!isempty(u->error))
                        log_error("Job %" PRIu64 " failed: %s", u->command_id, u->error);
                else
                        log_info("Job %" PRIu64 ": osd.%d %s on %s.", u->command_id, u->osd_id,
                                 u->already_prepared ? "was already there" : "is ready", strempty(u->device));
                debounce_full(&a->debounce, now_usec()); /* show the result in the inventory */
                schedule(a);
        }
        if (u->command_id == 0)
                return; /* the node's own policy: nobody at the coordinator waits for it */
        e.body_case = CASTLE__ENVELOPE__BODY_JOB_UPDATE;
        e.job_update = (Castle__JobUpdate *) u;
        send_envelope(a, &e);
}

static int submit_prepare(Agent *a, uint64_t command_id, const char *device, bool dry_run, const char *crush_class) {
        _cleanup_strv_free_ char **args = NULL;
        int r = 0;

#define ARG(fmt, value)                                                                      \
        do {                                                                                 \
                char *_s;                                                                    \
                if (r >= 0 && asprintf(&_s, fmt, value) < 0)                                 \
                        r = -ENOMEM;                                                         \
                else if (r >= 0)                                                             \
                        r = strv_consume(&args, _s);                                         \
        } while (0)
        ARG("%s", "osd");
        ARG("%s", "prepare");
        ARG("--data=%s", device);
        ARG("--progress=%s", "json");
        ARG("--cluster=%s", a->cfg.cluster);
        ARG("--start-mode=%s", a->cfg.start_mode);
        if (!isempty(a->cfg.ceph_conf))
                ARG("--conf=%s", a->cfg.ceph_conf);
        if (!isempty(a->cfg.keyring))
                ARG("--keyring=%s", a->cfg.keyring);
        if (!isempty(a->cfg.osd_root))
                ARG("--osd-root=%s", a->cfg.osd_root);
        if (!isempty(a->cfg.state_dir))
                ARG("--state-dir=%s", a->cfg.state_dir);
        if (!isempty(crush_class))
                ARG("--crush-device-class=%s", crush_class);
        if (a->cfg.allow_loop)
                ARG("%s", "--allow-loop");
        if (dry_run)
                ARG("%s", "--dry-run");
#undef ARG
        if (r < 0)
                return r;
        return job_runner_submit(a->jobs, command_id, args);
}

static void job_refused(Agent *a, uint64_t command_id, const char *why) {
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

        u.command_id = command_id;
        u.step = (char *) "done";
        u.done = true;
        u.error = (char *) why;
        u.osd_id = -1;
        on_job_update(&u, a);
}

static void apply_policy(Agent *a) {
        if (!a->report || !a->policy.auto_prepare)
                return;
        for (size_t i = 0; i < a->report->n; i++) {
                const Castle__Device *d = a->report->entries[i].msg;
                if (!policy_take(&a->policy, d))
                        continue;
                log_info("Policy: preparing an OSD on %s (%s).", d->path, d->stable_id);
                if (submit_prepare(a, 0, d->stable_id, false, a->policy.crush_class) < 0)
                        log_error("Policy: could not queue the prepare of %s.", d->stable_id);
        }
}

static void on_command(Agent *a, const Castle__Command *c) {
        _cleanup_free_ char *err = NULL;
        const Castle__Policy *p;
        int r;

        switch (c->kind_case) {
        case CASTLE__COMMAND__KIND_RESCAN:
                log_info("The coordinator asks for a rescan.");
                debounce_full(&a->debounce, now_usec());
                break;
        case CASTLE__COMMAND__KIND_OSD_CREATE:
                log_info("Command %" PRIu64 ": create an OSD on %s%s.", c->command_id, c->osd_create->device_id,
                         c->osd_create->dry_run ? " (dry run)" : "");
                r = submit_prepare(a, c->command_id, c->osd_create->device_id, c->osd_create->dry_run,
                                   isempty(c->osd_create->crush_device_class) ? a->cfg.crush_device_class
                                                                              : c->osd_create->crush_device_class);
                if (r < 0)
                        job_refused(a, c->command_id, r == -EBUSY ? "too many jobs queued on the node" : "out of memory");
                break;
        case CASTLE__COMMAND__KIND_POLICY:
                p = c->policy;
                r = policy_set(&a->policy, p->auto_prepare, p->name_filter, p->path_filter, p->crush_device_class, &err);
                if (r < 0)
                        log_error("The coordinator's policy was not applied: %s", strempty(err));
                else
                        log_info("The coordinator set the policy: auto-prepare %s.", p->auto_prepare ? "on" : "off");
                apply_policy(a);
                break;
        default:
                log_debug("Ignored a command of an unknown kind.");
        }
}

static int on_link(zloop_t *loop, zsock_t *s, void *arg) {
        Agent *a = arg;
        zframe_t *f = zframe_recv(s);
        Castle__Envelope *e = NULL;
        int r;

        if (!f)
                return 0;
        r = codec_envelope_unpack(zframe_data(f), zframe_size(f), &e);
        zframe_destroy(&f);
        agent_metrics_received(a->metrics, r < 0 ? CASTLE__ENVELOPE__BODY__NOT_SET : e->body_case, r < 0);
        if (r < 0) {
                log_warning_errno(r, "Dropped a malformed message from the coordinator: %m");
                return 0;
        }
        a->last_ack = now_usec();
        switch (e->body_case) {
        case CASTLE__ENVELOPE__BODY_ACK:
                break;
        case CASTLE__ENVELOPE__BODY_RESYNC:
                log_debug("The coordinator asks for a snapshot (%s).", e->resync->reason);
                send_snapshot(a);
                break;
        case CASTLE__ENVELOPE__BODY_COMMAND:
                on_command(a, e->command);
                break;
        default:
                log_debug("Ignored an unexpected message from the coordinator.");
        }
        castle__envelope__free_unpacked(e, NULL);
        return 0;
}

/* ---- scans ---- */

static int on_debounce(zloop_t *loop, int timer_id, void *arg) {
        Agent *a = arg;

        a->debounce_timer = -1;
        schedule(a);
        return 0;
}

/* Starts a scan if one is due and none is running, or arms the timer for when one is due. */
static void schedule(Agent *a) {
        uint64_t now = now_usec(), due;
        char **dirty = NULL;
        bool full = false;

        if (a->scanning)
                return; /* the scan's completion calls us again */
        if (debounce_take(&a->debounce, now, &dirty, &full)) {
                if (a->debounce_timer >= 0) {
                        zloop_timer_end(a->loop, a->debounce_timer);
                        a->debounce_timer = -1;
                }
                if (scanner_request(a->scanner, full, dirty) >= 0) {
                        a->scanning = true;
                        a->scan_full = full;
                }
                strv_free(dirty);
                return;
        }
        due = debounce_due(&a->debounce);
        if (due != UINT64_MAX && a->debounce_timer < 0)
                a->debounce_timer = zloop_timer(a->loop, (size_t) ((due - now) / 1000) + 1, 1, on_debounce, a);
}

static int on_scanner(zloop_t *loop, zsock_t *s, void *arg) {
        Agent *a = arg;
        ScanOutcome *o = scanner_receive(a->scanner);
        Castle__Device **changed = NULL;
        char **removed = NULL;
        size_t nc = 0, nr = 0;

        a->scanning = false;
        if (!o)
                return 0;
        a->scans++;
        agent_metrics_scan(a->metrics, o, a->scan_full);
        if (o->error < 0)
                log_error_errno(o->error, "Scan failed: %m");
        else {
                log_debug("Scan %" PRIu64 ": %u devices, %u probed, %u not probeable, %.1f ms, lvm %s.", a->scans,
                          o->n_devices, o->n_probed, o->n_failed, (double) o->duration_usec / 1000.0,
                          strempty(o->lvm_status));
                if (o->warning && a->scans == 1)
                        log_warning("%s", o->warning);
                if (!a->report) {
                        a->report = TAKE_PTR(o->report);
                        if (a->snapshot_wanted)
                                send_snapshot(a);
                } else if (report_diff(a->report, o->report, &changed, &nc, &removed, &nr) >= 0) {
                        if (nc + nr > 0)
                                send_delta(a, changed, nc, removed, nr);
                        free(changed);
                        free(removed); /* points into the old report: free it after sending */
                        report_free(a->report);
                        a->report = TAKE_PTR(o->report);
                }
        }
        scan_outcome_free(o);
        apply_policy(a);
        if (!a->ready) {
                a->ready = true;
                notify_send("READY=1\nSTATUS=Following block devices");
        }
        schedule(a);
        return 0;
}

/* ---- event sources ---- */

static int on_udev(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Agent *a = arg;
        uint64_t now = now_usec();

        /* Drain what is there, with a bound so that a storm cannot starve the loop. */
        for (int i = 0; i < 1024; i++) {
                struct udev_device *d;

                errno = 0;
                d = udev_monitor_receive_device(a->monitor);
                if (!d) {
                        if (errno == ENOBUFS) {
                                agent_metrics_udev_lost(a->metrics);
                                log_warning("udev events were lost (receive buffer overflow): rescanning everything.");
                                debounce_full(&a->debounce, now);
                        }
                        break;
                }
                a->events++;
                agent_metrics_udev_event(a->metrics);
                log_debug("udev event: %s %s.", strempty(udev_device_get_action(d)), strempty(udev_device_get_sysname(d)));
                if (udev_device_get_sysname(d))
                        debounce_touch(&a->debounce, udev_device_get_sysname(d), now);
                udev_device_unref(d);
        }
        schedule(a);
        return 0;
}

static void on_udev_record(UdevWatchEvent event, const char *record, const char *kname, void *userdata) {
        Agent *a = userdata;
        uint64_t now = now_usec();

        a->events++;
        agent_metrics_udev_event(a->metrics);
        switch (event) {
        case UDEV_WATCH_CHANGED:
                log_debug("udev database: %s updated (%s).", kname, record);
                debounce_touch(&a->debounce, kname, now);
                break;
        case UDEV_WATCH_REMOVED:
                log_debug("udev database: %s removed (%s).", kname ?: "a device", record);
                if (kname)
                        debounce_touch(&a->debounce, kname, now);
                else
                        debounce_rescan(&a->debounce, now); /* the scan finds what is gone */
                break;
        case UDEV_WATCH_OVERFLOW:
                agent_metrics_udev_lost(a->metrics);
                log_warning("udev database events were lost: rescanning everything.");
                debounce_full(&a->debounce, now);
                break;
        }
}

static int on_udev_watch(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Agent *a = arg;
        int r = udev_watch_process(a->udev_watch, on_udev_record, a);

        if (r < 0)
                log_warning_errno(r, "Reading the udev database watch failed: %m");
        schedule(a);
        return 0;
}

static int on_mounts(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Agent *a = arg;
        char buf[65536];

        /* Reading the table to its end re-arms the notification. */
        if (lseek(a->mountinfo_fd, 0, SEEK_SET) >= 0)
                while (read(a->mountinfo_fd, buf, sizeof buf) > 0)
                        ;
        debounce_rescan(&a->debounce, now_usec());
        schedule(a);
        return 0;
}

static int on_heartbeat(zloop_t *loop, int timer_id, void *arg) {
        Agent *a = arg;
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Heartbeat h = CASTLE__HEARTBEAT__INIT;

        if (a->watchdog_usec)
                notify_send("WATCHDOG=1");
        if (!a->report)
                return 0;
        h.generation = a->generation;
        h.devices = (uint32_t) a->report->n;
        e.body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &h;
        send_envelope(a, &e);
        return 0;
}

static uint64_t jittered(uint64_t v) {
        /* +-10%, so that a fleet started together does not rescan together */
        return v - v / 10 + (uint64_t) ((double) (v / 5) * ((double) random() / RAND_MAX));
}

static int on_rescan(zloop_t *loop, int timer_id, void *arg) {
        Agent *a = arg;

        debounce_full(&a->debounce, now_usec());
        schedule(a);
        zloop_timer_end(loop, timer_id);
        a->rescan_timer = zloop_timer(loop, jittered(a->cfg.rescan_interval) / 1000, 1, on_rescan, a);
        return 0;
}

/* ---- set-up, reload, tear-down ---- */

static int start_scanner(Agent *a) {
        ScannerConfig sc = {
                .scan = {
                        .sysroot = isempty(a->cfg.sysroot) ? NULL : a->cfg.sysroot,
                        .allow_loop = a->cfg.allow_loop,
                        .probe_timeout_usec = a->cfg.probe_timeout,
                        .no_exclusive_test = true,
                },
                .all = a->cfg.all,
        };
        _cleanup_free_ char *err = NULL;

        filter_init(&sc.filter);
        if ((!isempty(a->cfg.filter) && filter_set_name_regex(&sc.filter, a->cfg.filter, &err) < 0) ||
            (!isempty(a->cfg.path_filter) && filter_set_path_regex(&sc.filter, a->cfg.path_filter, &err) < 0)) {
                filter_done(&sc.filter);
                return log_error_errno(EINVAL, "%s", err ?: "invalid filter");
        }
        a->scanner = scanner_new(&sc);
        if (!a->scanner)
                return log_error_errno(ENOMEM, "Failed to start the scan worker.");
        zloop_reader(a->loop, zactor_sock(a->scanner), on_scanner, a);
        return 0;
}

static int start_mode_valid(const char *m) {
        return streq(m, "auto") || streq(m, "systemd") || streq(m, "fork") || streq(m, "none") ? 0 : -EINVAL;
}

static char *osd_helper_path(const AgentConfig *cfg) {
        char self[PATH_MAX], *p = NULL;
        ssize_t n;

        if (!isempty(cfg->osd_helper))
                return strdup(cfg->osd_helper);
        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
                self[n] = 0;
                if (asprintf(&p, "%s/castlectl-osd", dirname(self)) >= 0 && access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return strdup(LIBEXECDIR "/castlectl-osd");
}

static int start_jobs(Agent *a) {
        _cleanup_free_ char *helper = osd_helper_path(&a->cfg), *err = NULL;
        int r;

        if (start_mode_valid(a->cfg.start_mode) < 0)
                return log_error_errno(EINVAL, "start-mode: '%s' is not one of auto, systemd, fork, none.", a->cfg.start_mode);
        r = policy_set(&a->policy, a->cfg.auto_prepare, a->cfg.auto_prepare_filter, a->cfg.auto_prepare_path_filter,
                       a->cfg.crush_device_class, &err);
        if (r < 0)
                return log_error_errno(r, "%s", strempty(err));
        if (!a->jobs) {
                a->jobs = helper ? job_runner_new(a->loop, helper, on_job_update, a) : NULL;
                if (!a->jobs)
                        return log_error_errno(ENOMEM, "Out of memory.");
        }
        if (a->cfg.auto_prepare)
                log_info("Policy: auto-prepare is on.");
        return 0;
}

static void metrics_state(void *userdata, AgentMetricsState *ret) {
        Agent *a = userdata;
        uint64_t now = now_usec(), silent = now - a->last_ack;
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        *ret = (AgentMetricsState) {
                .report = a->report,
                /* The coordinator acks every heartbeat: three missed answers mean it is gone. */
                .coordinator_connected = a->link && a->last_ack > 0 && silent <= 3 * a->cfg.heartbeat_interval,
                .jobs_pending = a->jobs ? job_runner_pending(a->jobs) : 0,
        };
        if (a->last_ack > 0)
                ret->last_contact_realtime_usec = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - (int64_t) silent;
}

/* Serves the metrics at metrics-listen (or stops serving, when it became empty). */
static int start_metrics(Agent *a) {
        int r;

        if (!a->metrics) {
                r = agent_metrics_new(metrics_state, a, &a->metrics);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the metrics: %m");
        }
        r = agent_metrics_listen(a->metrics, a->loop, a->cfg.metrics_listen);
        if (r < 0)
                return log_error_errno(r, "Failed to serve metrics on %s: %m", a->cfg.metrics_listen);
        if (!isempty(a->cfg.metrics_listen))
                log_info("Serving metrics at http://%s/metrics.", agent_metrics_address(a->metrics));
        return 0;
}

static int start_link(Agent *a) {
        char server_key[KEY_TEXT_LEN + 1];
        int r;

        if (a->cfg.insecure)
                log_warning("insecure: talking to the coordinator without CURVE.");
        else {
                r = keys_load_pair(a->cfg.key, &a->cert);
                if (r < 0)
                        return log_error_errno(r, "Failed to load the key pair %s_secret: %m", a->cfg.key);
                r = keys_load_public(a->cfg.coordinator_key, server_key);
                if (r < 0)
                        return log_error_errno(r, "Failed to load the coordinator's key %s: %m", a->cfg.coordinator_key);
        }
        r = link_connect(a->cfg.coordinator,
                         &(LinkOptions) { .cert = a->cert, .server_public = a->cfg.insecure ? NULL : server_key,
                                          .identity = a->node_id, .insecure = a->cfg.insecure },
                         &a->link);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the connection to %s: %m", a->cfg.coordinator);
        zsock_set_immediate(a->link, 1); /* no queue for a coordinator that is not there */
        zloop_reader(a->loop, a->link, on_link, a);
        log_info("Node %s reporting to %s.", a->node_id, a->cfg.coordinator);
        send_hello(a);
        return 0;
}

static void stop_link(Agent *a) {
        if (a->link)
                zloop_reader_end(a->loop, a->link);
        zsock_destroy(&a->link);
        zcert_destroy(&a->cert);
}

static void stop_scanner(Agent *a) {
        if (!a->scanner)
                return;
        zloop_reader_end(a->loop, zactor_sock(a->scanner));
        if (a->scanning)
                scan_outcome_free(scanner_receive(a->scanner)); /* let it finish; it owns a config copy */
        a->scanning = false;
        zactor_destroy(&a->scanner);
}

static void reload(Agent *a) {
        AgentConfig n = {};

        log_info("SIGHUP: re-reading %s.", a->args.config_path);
        if (daemon_load_config(options, ELEMENTSOF(options), &a->args, &n) < 0) {
                log_error("The new configuration has errors; keeping the old one.");
                conf_free_values(options, ELEMENTSOF(options), &n);
                return;
        }
        stop_scanner(a);
        stop_link(a);
        conf_free_values(options, ELEMENTSOF(options), &a->cfg);
        a->cfg = n;
        a->debounce.quiet_usec = a->cfg.debounce_quiet;
        a->debounce.max_delay_usec = MAX(a->cfg.debounce_max, a->cfg.debounce_quiet);
        if (start_jobs(a) < 0 || start_scanner(a) < 0 || start_link(a) < 0) {
                log_error("Could not apply the new configuration: stopping.");
                kill(getpid(), SIGTERM);
                return;
        }
        (void) start_metrics(a); /* a metrics port in use is no reason to stop following devices */
        a->report = report_free(a->report); /* the filters may differ: start over */
        a->snapshot_wanted = true;
        debounce_full(&a->debounce, now_usec());
        schedule(a);
}

static int on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Agent *a = arg;
        struct signalfd_siginfo si;

        if (read(item->fd, &si, sizeof si) != sizeof si)
                return 0;
        if (si.ssi_signo == SIGHUP) {
                reload(a);
                return 0;
        }
        log_info("Signal %u: stopping.", si.ssi_signo);
        notify_send("STOPPING=1");
        return -1;
}

static int open_mountinfo(void) {
        /* The host's table where we can read it (a container with the host's PID namespace),
         * else our own. */
        int fd = open("/proc/1/mountinfo", O_RDONLY | O_CLOEXEC);

        return fd >= 0 ? fd : open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
}

/* udev's netlink broadcast, inotify on its database, or both (the udev-events option). */
static int start_device_events(Agent *a) {
        const char *m = a->cfg.udev_events, *why;
        bool netlink, inotify;
        int r;

        if (streq(m, "auto")) {
                netlink = a->host.udevd_netns != 0;
                inotify = a->host.udevd_netns != 1;
                why = a->host.udevd_netns == 1 ? "this is udevd's network namespace"
                      : a->host.udevd_netns == 0
                              ? "this is not udevd's network namespace: its netlink events do not arrive here (rook#14844)"
                              : "cannot tell whether this is udevd's network namespace";
        } else if (streq(m, "netlink") || streq(m, "inotify") || streq(m, "both")) {
                netlink = !streq(m, "inotify");
                inotify = !streq(m, "netlink");
                why = "udev-events option";
        } else
                return log_error_errno(EINVAL, "udev-events: '%s' is not one of auto, netlink, inotify, both.", m);
        if (a->host.udevd_pid > 0)
                log_debug("Compared network namespaces with udevd, pid %d.", a->host.udevd_pid);

        if (netlink) {
                a->udev = udev_new();
                a->monitor = a->udev ? udev_monitor_new_from_netlink(a->udev, "udev") : NULL;
                if (!a->monitor || udev_monitor_filter_add_match_subsystem_devtype(a->monitor, "block", NULL) < 0 ||
                    udev_monitor_enable_receiving(a->monitor) < 0)
                        return log_error_errno(errno ?: EIO, "Failed to listen for udev events: %m");
                (void) udev_monitor_set_receive_buffer_size(a->monitor, 128 * 1024 * 1024);
                zloop_poller(a->loop, &(zmq_pollitem_t) { .fd = udev_monitor_get_fd(a->monitor), .events = ZMQ_POLLIN },
                             on_udev, a);
        }
        if (inotify) {
                r = udev_watch_new("/", &a->udev_watch);
                if (r < 0 && !streq(m, "auto"))
                        return log_error_errno(r, "udev-events=%s: cannot watch /run/udev/data: %m "
                                               "(in a container, mount the host's /run/udev).", m);
                if (r < 0) {
                        log_warning_errno(r, "Cannot watch /run/udev/data (%m): %s", netlink ? "netlink events only." :
                                          "no device events, only the periodic rescan.");
                        inotify = false;
                } else
                        zloop_poller(a->loop, &(zmq_pollitem_t) { .fd = udev_watch_fd(a->udev_watch), .events = ZMQ_POLLIN },
                                     on_udev_watch, a);
        }
        log_info("Device events: %s (%s).",
                 netlink && inotify ? "udev netlink and inotify on /run/udev/data"
                 : netlink          ? "udev netlink"
                 : inotify          ? "inotify on /run/udev/data"
                                    : "none",
                 why);
        return 0;
}

static int run(Agent *a) {
        int sfd, r;

        sfd = daemon_signal_fd(); /* before any thread starts: all inherit the mask */
        if (sfd < 0)
                return log_error_errno(sfd, "signalfd: %m");
        zsys_handler_set(NULL);
        zsys_set_io_threads(1);
        srandom((unsigned) (now_usec() ^ (uint64_t) getpid()));

        r = identify(a);
        if (r < 0)
                return r;
        if (!codec_valid_id(a->node_id))
                return log_error_errno(EINVAL, "Node id '%s' is not valid: 1-255 printable characters, no blanks.",
                                       strempty(a->node_id));
        /* A new run's generations never repeat an old run's: the coordinator then always
         * asks for a snapshot after a restart. */
        a->generation = (uint64_t) time(NULL) << 20;

        a->loop = zloop_new();
        if (!a->loop)
                return log_error_errno(ENOMEM, "Out of memory.");
        debounce_init(&a->debounce, a->cfg.debounce_quiet, a->cfg.debounce_max);
        a->debounce_timer = -1;
        r = start_metrics(a);
        if (r < 0)
                return r;

        /* 1. the udev monitor, before anything is enumerated */
        if (isempty(a->cfg.sysroot)) {
                r = start_device_events(a);
                if (r < 0)
                        return r;
                a->mountinfo_fd = open_mountinfo();
                if (a->mountinfo_fd >= 0)
                        zloop_poller(a->loop, &(zmq_pollitem_t) { .fd = a->mountinfo_fd, .events = ZMQ_POLLPRI },
                                     on_mounts, a);
        } else
                a->mountinfo_fd = -1;
        zloop_poller(a->loop, &(zmq_pollitem_t) { .fd = sfd, .events = ZMQ_POLLIN }, on_signal, a);

        /* 2. the first full scan (coldplug) */
        r = start_jobs(a);
        if (r < 0)
                return r;
        r = start_scanner(a);
        if (r < 0)
                return r;
        debounce_full(&a->debounce, 0);
        schedule(a);

        /* 3. the coordinator: connecting is asynchronous, libzmq retries with backoff */
        r = start_link(a);
        if (r < 0)
                return r;

        a->watchdog_usec = notify_watchdog_usec();
        a->heartbeat_timer = zloop_timer(a->loop,
                                         MIN(a->cfg.heartbeat_interval, a->watchdog_usec ? a->watchdog_usec / 2 : UINT64_MAX) /
                                                 1000,
                                         0, on_heartbeat, a);
        a->rescan_timer = zloop_timer(a->loop, jittered(a->cfg.rescan_interval) / 1000, 1, on_rescan, a);

        /* 4. READY=1 once the first scan is done (on_scanner) */
        zloop_start(a->loop);

        stop_scanner(a);
        stop_link(a);
        close(sfd);
        return 0;
}

int main(int argc, char *argv[]) {
        Agent a = { .mountinfo_fd = -1 };
        int r;

        mallopt(M_ARENA_MAX, 1); /* one malloc arena for the loop, the scanner and libzmq's threads */
        log_set_max_level(LOG_INFO);
        log_parse_environment();
        r = daemon_parse_args(options, ELEMENTSOF(options), DEFAULT_CONFIG, argc, argv, &a.args);
        if (r < 0)
                return 2;
        if (a.args.help) {
                help();
                r = 0;
        } else if (daemon_load_config(options, ELEMENTSOF(options), &a.args, &a.cfg) < 0)
                r = 2;
        else if (a.args.check_only) {
                conf_print_values(options, ELEMENTSOF(options), &a.cfg, stdout);
                r = 0;
        } else
                r = run(&a) < 0 ? 1 : 0;

        agent_metrics_free(a.metrics); /* before the loop it is registered with */
        job_runner_free(a.jobs);
        policy_done(&a.policy);
        zloop_destroy(&a.loop);
        report_free(a.report);
        debounce_done(&a.debounce);
        if (a.monitor)
                udev_monitor_unref(a.monitor);
        udev_watch_free(a.udev_watch);
        if (a.udev)
                udev_unref(a.udev);
        safe_close(a.mountinfo_fd);
        conf_free_values(options, ELEMENTSOF(options), &a.cfg);
        daemon_args_done(&a.args);
        free(a.node_id);
        return r;
}
