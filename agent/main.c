/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castle-agent: follows this node's block devices and reports them to the coordinator.
 *
 * One CZMQ zloop on the main thread drives everything: signals (signalfd), the event sources
 * (agent/sources.c: udev, the host's mount table), a DEALER socket for each coordinator in the
 * list (each with a session of its own, agent/session.c: reports, heartbeats and job updates go
 * to every coordinator, and a coordinator that is down delays no other: sends never block), the
 * scan worker's pipe and the debounce timers
 * (agent/scanplan.c), the OSD jobs (agent/jobs.c), the OSD specs' reconciliation (agent/specs.c), and
 * the rescan, heartbeat and settle timers. zloop
 * because it polls ZeroMQ sockets next to plain fds without re-deriving ZMQ_FD's
 * edge-triggered rules, and CZMQ's actors give the worker thread a socket to answer on. The
 * loop never does device I/O: scans run on the worker, whose probes have per-device
 * deadlines, so a hung disk cannot delay a heartbeat. Start-up order: udev monitor, then the
 * first full scan (coldplug), then the coordinator connection, then READY=1. This file reads
 * the configuration, builds the modules and wires them together, and applies a new
 * configuration on SIGHUP. */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/healthwatch.h"
#include "agent/hostview.h"
#include "agent/jobs.h"
#include "agent/removals.h"
#include "agent/metrics.h"
#include "agent/replace.h"
#include "agent/osdwatch.h"
#include "agent/markout.h"
#include "agent/scanplan.h"
#include "agent/session.h"
#include "agent/sources.h"
#include "agent/specs.h"
#include "common/daemon-loop.h"
#include "common/daemon.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/link.h"
#include "spec/select.h"
#include "spec/spec.h"

/* One coordinator: its endpoint, its socket (NULL while stopped) and its session. */
typedef struct Link {
        char *endpoint;
        zsock_t *sock;
        Session *session;
} Link;

typedef struct Agent {
        AgentConfig cfg;
        DaemonArgs args;
        DaemonSignals signals;
        zloop_t *loop;
        ScanPlan *scans;
        Link *links;
        size_t n_links;
        AgentMetricsLink *link_states; /* n_links, for the metrics */
        CommandTable *commands;
        zcert_t *cert;
        Sources *sources;
        HostView host;
        int heartbeat_timer, rescan_timer;
        bool ready;
        uint64_t n_scans;
        char *node_id;
        char hostname[256];
        uint64_t watchdog_usec;
        JobRunner *jobs;
        AgentSpecs *specs;
        int specs_timer;        /* -1: none */
        uint64_t specs_wakeup;
        AgentMetrics *metrics;
        OsdReport *osd_report; /* the OSDs' states, removals, reservations: in every heartbeat */
        HealthWatch *health;   /* NULL: health-interval = 0 */
        uint64_t health_interval; /* what a->health was made with */
        zmq_pollitem_t health_item;
        AgentReplace *replace;  /* the reserved ids and their replacement */
        AgentRemovals *removals;
        OsdWatch *osd_watch;   /* NULL: not watched (--sysroot) */
        MarkOut *mark_out;      /* health-mark-out: the OSDs marked out in their disk's failing episode */
        uint64_t mark_out_next; /* the next mark-out job's (own) command id */
} Agent;

static void help(void) {
        daemon_print_help("castle-agent",
                          "Follows this node's block devices (udev hotplug, mounts, periodic rescans),\n"
                          "decides which are safe to use for Ceph, and reports them to castle-coordinator.\n",
                          AGENT_CONFIG_DEFAULT_PATH, "[agent] and [osd] sections", agent_config_options,
                          agent_config_n_options, "SIGHUP re-reads the configuration");
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
        return a->node_id ? 0 : log_oom();
}

/* ---- what leads to a scan ---- */

static void on_source_event(SourcesEvent event, const char *kname, uint64_t now, void *userdata) {
        Agent *a = userdata;

        switch (event) {
        case SOURCES_DEVICE:
                scan_plan_device(a->scans, kname, now);
                break;
        case SOURCES_STATE:
                scan_plan_state(a->scans, now);
                break;
        case SOURCES_LOST:
                scan_plan_full(a->scans, now);
                break;
        }
}

static uint64_t jittered(uint64_t v) {
        /* +-10%, so that a fleet started together does not rescan together */
        return v - v / 10 + (uint64_t) ((double) (v / 5) * ((double) random() / RAND_MAX));
}

static int on_rescan(zloop_t *loop, int timer_id, void *arg) {
        Agent *a = arg;

        scan_plan_full(a->scans, now_usec());
        zloop_timer_end(loop, timer_id);
        a->rescan_timer = zloop_timer(loop, jittered(a->cfg.rescan_interval) / 1000, 1, on_rescan, a);
        return 0;
}

/* ---- OSD jobs ---- */

static JobPrepareOptions prepare_options(const AgentConfig *c) {
        return (JobPrepareOptions) {
                .cluster = c->cluster,
                .start_mode = agent_config_start_modes[c->start_mode],
                .ceph_conf = c->ceph_conf,
                .keyring = c->keyring,
                .osd_root = c->osd_root,
                .state_dir = c->state_dir,
                .allow_loop = c->allow_loop,
        };
}

/* Every session holds the same report (report_ref()): the first one's is the node's. */
static const Report *current_report(const Agent *a) {
        return a->n_links > 0 ? session_current_report(a->links[0].session) : NULL;
}

/* ---- the node's OSD specs and reserved ids ---- */

static void osd_report_changed(Agent *a);

/* The reserved ids to the heartbeat's list, said at once when they changed. */
static void replace_publish(Agent *a) {
        int r = agent_replace_publish(a->replace, a->osd_report);

        if (r < 0)
                log_oom();
        else if (r > 0)
                osd_report_changed(a);
}

/* The reservations again from the removal journal (at start, after a scan, after a job). */
static void replace_load(Agent *a) {
        int r;

        if (!a->replace)
                return;
        r = agent_replace_load(a->replace, now_usec());
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "The removal journal could not be read; keeping the reserved ids known: %m");
}

static int on_specs_timer(zloop_t *loop, int timer_id, void *arg);

/* Brings the node closer to its specs, and wakes up again when a device has settled or a
 * back-off ended. */
static void reconcile(Agent *a) {
        uint64_t now = now_usec(), next, w;

        if (!a->specs || !a->jobs)
                return;
        next = agent_specs_reconcile(a->specs, now);
        if (a->replace) {
                w = agent_replace_reconcile(a->replace, now);
                if (w > 0 && (next == 0 || w < next))
                        next = w;
                replace_publish(a);
        }
        if (next == a->specs_wakeup && a->specs_timer >= 0)
                return;
        if (a->specs_timer >= 0)
                zloop_timer_end(a->loop, a->specs_timer);
        a->specs_timer = -1;
        a->specs_wakeup = next;
        if (next > 0)
                a->specs_timer = zloop_timer(a->loop, next > now ? (size_t) ((next - now + 999) / 1000) : 1, 1,
                                             on_specs_timer, a);
}

static int on_specs_timer(zloop_t *loop, int timer_id, void *arg) {
        Agent *a = arg;

        a->specs_timer = -1; /* a timer that fires once is gone after this */
        a->specs_wakeup = 0;
        reconcile(a);
        return 0;
}

/* The sectors written to a device so far, the 7th field of its stat in sysfs: a data write
 * that changes no signature still shows there. */
static int device_written(const char *kname, uint64_t *ret, void *userdata) {
        Agent *a = userdata;
        _cleanup_free_ char *path = NULL, *line = NULL;
        uint64_t v;
        int r;

        if (!isempty(a->cfg.sysroot) || isempty(kname) || strchr(kname, '/'))
                return -EOPNOTSUPP;
        if (asprintf(&path, "/sys/class/block/%s/stat", kname) < 0)
                return -ENOMEM;
        r = read_one_line_at(AT_FDCWD, path, &line);
        if (r < 0)
                return r;
        if (sscanf(line, "%*u %*u %*u %*u %*u %*u %" SCNu64, &v) != 1)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int on_osd_create(uint64_t command_id, const Castle__OsdCreate *c, void *userdata);

/* A spec's OsdCreate runs as a coordinator's would: the same function. */
static int submit_spec_create(uint64_t command_id, const Castle__OsdCreate *c, void *userdata) {
        return on_osd_create(command_id, c, userdata);
}

static const AgentSpecsOps specs_ops = {
        .plan = spec_plan_node,
        .plan_free = spec_node_plan_free,
        .submit = submit_spec_create,
        .written = device_written,
};

/* The spec-file's specs, parsed whole; an error names the file and the parser's reason. */
static int read_spec_file(const char *path, SpecList *ret) {
        _cleanup_free_ char *text = NULL, *err = NULL;
        size_t size = 0;
        int r;

        *ret = (SpecList) {};
        if (isempty(path))
                return 0;
        r = read_full_file_at(AT_FDCWD, path, SPEC_YAML_MAX, &text, &size);
        if (r < 0)
                return log_error_errno(r, "spec-file %s: %s", path,
                                       r == -EFBIG ? "larger than the most a spec stream may hold" : strerror(-r));
        r = spec_parse(text, size, ret, &err);
        if (r < 0)
                return log_error_errno(r, "spec-file %s: %s", path, err ?: "not a valid OSD spec");
        return 0;
}

static void on_specs_command(const Castle__SpecSet *set, void *userdata) {
        Agent *a = userdata;
        int r;

        r = agent_specs_set_remote(a->specs, set);
        if (r == -EINVAL) {
                log_warning("OSD specs from a coordinator refused: a spec name is not valid, or used twice; keeping "
                            "the set held.");
                return;
        }
        if (r < 0) {
                log_oom();
                return;
        }
        if (r == 0)
                return; /* not newer than the set held (another coordinator's copy) */
        log_info("OSD specs from the coordinators: %zu, revision %" PRId64 ".", set->n_specs, set->revision);
        reconcile(a);
}

static void on_job_update(const Castle__JobUpdate *u, void *userdata) {
        Agent *a = userdata;
        /* the agent's own jobs (a spec's, a reserved id's in its slot) are in no command table */
        bool spec_job = agent_specs_owns(u->command_id), own_job = u->command_id >= AGENT_REPLACE_COMMAND_BASE;

        if (spec_job && a->specs)
                agent_specs_job_update(a->specs, u, now_usec());
        if (a->replace && agent_replace_owns(a->replace, u->command_id))
                agent_replace_job_update(a->replace, u, now_usec());
        if (u->done) {
                agent_metrics_job_done(a->metrics, u);
                if (!isempty(u->error))
                        log_error("Job %" PRIu64 " failed: %s", u->command_id, u->error);
                else if (!isempty(u->message)) /* a batch (its OSDs), a zap */
                        log_info("Job %" PRIu64 ": %s", u->command_id, u->message);
                else
                        log_info("Job %" PRIu64 ": osd.%d %s on %s.", u->command_id, u->osd_id,
                                 u->already_prepared ? "was already there" : "is ready", strempty(u->device));
                scan_plan_full(a->scans, now_usec()); /* show the result in the inventory */
                replace_load(a); /* a removal with --replace may have ended: a new reservation */
                if (a->replace)
                        replace_publish(a);
        }
        if (!own_job && command_table_update(a->commands, u) < 0)
                log_warning("Job %" PRIu64 ": its update could not be recorded; a repeat of the command will "
                            "not get it.", u->command_id);
        for (size_t i = 0; i < a->n_links; i++)
                session_send_job_update(a->links[i].session, u);
}

/* A command that came again: every coordinator hears where it stands (the one that forwarded
 * it may be one that missed the updates). */
static void on_repeat(const Castle__JobUpdate *latest, void *userdata) {
        Agent *a = userdata;

        for (size_t i = 0; i < a->n_links; i++)
                session_send_job_update(a->links[i].session, latest);
}

/* ---- the coordinator's commands ---- */

static void on_rescan_command(void *userdata) {
        Agent *a = userdata;

        if (a->health)
                health_watch_now(a->health); /* the scan after the reads reports them */
        scan_plan_full(a->scans, now_usec());
}

/* A command the agent will not run (its request does not pass the checks): its end, with
 * why, to every coordinator. */
static void refuse_command(Agent *a, uint64_t command_id, const char *why) {
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

        log_warning("Command %" PRIu64 " refused: %s", command_id, why);
        u.command_id = command_id;
        u.step = (char *) "done";
        u.done = true;
        u.error = (char *) why;
        u.osd_id = -1;
        on_job_update(&u, a);
}

static int on_osd_create(uint64_t command_id, const Castle__OsdCreate *c, void *userdata) {
        Agent *a = userdata;
        JobPrepareOptions o = prepare_options(&a->cfg);
        _cleanup_strv_free_ char **args = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = job_osd_create_args(&o, c, a->cfg.crush_device_class, &args, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                refuse_command(a, command_id, strempty(err));
                return 0;
        }
        return job_runner_submit(a->jobs, command_id, args);
}

static int on_zap(uint64_t command_id, const Castle__Zap *z, void *userdata) {
        Agent *a = userdata;
        JobPrepareOptions o = prepare_options(&a->cfg);
        _cleanup_strv_free_ char **args = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = job_zap_args(&o, z, &args, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                refuse_command(a, command_id, strempty(err));
                return 0;
        }
        return job_runner_submit(a->jobs, command_id, args);
}

/* OsdReplace: the operator gives a reserved id to a disk of this node, whatever its slot. */
static int on_osd_replace(uint64_t command_id, const Castle__OsdReplace *m, void *userdata) {
        Agent *a = userdata;
        _cleanup_free_ char *err = NULL;
        int r;

        if (!a->replace)
                return -EOPNOTSUPP;
        replace_load(a);
        r = agent_replace_give(a->replace, command_id, m->osd_id, m->device, now_usec(), &err);
        if (r < 0 && !err) {
                replace_publish(a);
                return r; /* the queue's refusal: the session says why */
        }
        if (r < 0)
                refuse_command(a, command_id, err ?: "the reserved id could not be given");
        replace_publish(a);
        return 0;
}

static int on_osd_remove(uint64_t command_id, const Castle__OsdRemove *m, void *userdata) {
        _cleanup_free_ char *err = NULL;
        Agent *a = userdata;
        int r;

        if (!a->removals)
                return -EBUSY;
        r = agent_removals_command(a->removals, command_id, m, &err);
        if (r < 0)
                log_error("Command %" PRIu64 ": refused: %s", command_id, strempty(err));
        return r;
}

static const SessionHandlers session_handlers = {
        .rescan = on_rescan_command,
        .osd_create = on_osd_create,
        .zap = on_zap,
        .osd_replace = on_osd_replace,
        .osd_remove = on_osd_remove,
        .specs = on_specs_command,
        .job_update = on_job_update,
        .repeat = on_repeat,
};

static int on_link(zloop_t *loop, zsock_t *s, void *arg) {
        session_receive(arg);
        return 0;
}

static int on_heartbeat(zloop_t *loop, int timer_id, void *arg) {
        Agent *a = arg;

        if (a->watchdog_usec)
                notify_send("WATCHDOG=1");
        for (size_t i = 0; i < a->n_links; i++)
                session_heartbeat(a->links[i].session);
        return 0;
}

/* One of the OSD report's lists changed (its setter returned 1): every coordinator hears it
 * now rather than at the next heartbeat. */
static void osd_report_changed(Agent *a) {
        for (size_t i = 0; i < a->n_links; i++)
                session_heartbeat(a->links[i].session);
}

/* How often the OSD daemons are looked at: a crash shows within this, and a unit's last exit
 * is caught while systemd waits RestartSec (castle-osd@.service: 10 s) to start it again. */
#define OSD_WATCH_INTERVAL_USEC (3 * USEC_PER_SEC)

static void watch_osds(Agent *a) {
        int r;

        if (!a->osd_watch)
                return;
        r = osd_watch_tick(a->osd_watch, current_report(a), now_realtime_usec(), a->osd_report);
        if (r < 0)
                log_warning_errno(r, "Cannot look at the OSD daemons: %m");
        else if (r > 0)
                osd_report_changed(a);
}

/* The report's whole disk with this stable id, or NULL. */
static const Castle__Device *report_disk(const Report *rep, const char *stable_id) {
        if (!rep || isempty(stable_id))
                return NULL;
        for (size_t i = 0; i < rep->n; i++)
                if (streq_ptr(rep->entries[i].msg->stable_id, stable_id))
                        return rep->entries[i].msg;
        return NULL;
}

/* health-mark-out: an OSD of this node whose data disk turned failing goes out, once per
 * failing episode, as the removal client (bootstrap-osd cannot). */
static void mark_out_failing(Agent *a) {
        _cleanup_free_ MarkOutOsd *in = NULL;
        _cleanup_free_ int *ids = NULL;
        Castle__OsdState *const *osds = NULL;
        const Report *rep = current_report(a);
        size_t n = 0, n_ids = 0;
        int r;

        if (!a->osd_watch || !a->removals || !rep)
                return;
        if (!a->mark_out && mark_out_new(&a->mark_out) < 0) {
                log_oom();
                return;
        }
        n = osd_watch_states(a->osd_watch, &osds);
        in = calloc(n + 1, sizeof *in);
        if (!in) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const Castle__Device *d = report_disk(rep, osds[i]->device);

                in[i] = (MarkOutOsd) { .osd_id = osds[i]->osd_id,
                                       .failing = d && d->health &&
                                                  d->health->verdict == CASTLE__DEVICE_HEALTH__VERDICT__FAILING };
        }
        r = mark_out_decide(a->mark_out, a->cfg.health_mark_out, in, n, &ids, &n_ids);
        if (r < 0) {
                log_oom();
                return;
        }
        for (size_t j = 0; j < n_ids; j++)
                for (size_t i = 0; i < n; i++) {
                        const Castle__Device *d;
                        _cleanup_free_ char *why = NULL;

                        if (osds[i]->osd_id != ids[j])
                                continue;
                        d = report_disk(rep, osds[i]->device);
                        if (d && d->health && d->health->n_reasons > 0)
                                why = strv_join(d->health->reasons, "; ");
                        log_notice("osd.%d: marking it out: its disk %s is failing (%s).", ids[j],
                                   d ? d->path : strempty(osds[i]->path), why ?: "health verdict failing");
                        if (a->mark_out_next == 0)
                                a->mark_out_next = AGENT_REPLACE_COMMAND_BASE + (UINT64_C(1) << 60);
                        r = agent_removals_mark_out(a->removals, a->mark_out_next++, ids[j]);
                        if (r < 0)
                                log_error_errno(r, "osd.%d: cannot start its mark-out: %m", ids[j]);
                        break;
                }
}

static int on_osd_watch(zloop_t *loop, int timer_id, void *arg) {
        watch_osds(arg);
        return 0;
}

/* ---- scans ---- */

/* Every session gets the report (one copy, shared): each diffs it against what its own
 * coordinator was told. */
static void report_to_all(Agent *a, Report *r) {
        if (a->n_links == 0) {
                report_free(r);
                return;
        }
        for (size_t i = 1; i < a->n_links; i++)
                report_ref(r);
        for (size_t i = 0; i < a->n_links; i++)
                session_report(a->links[i].session, r);
}

static void on_scanner(ScanOutcome *o, bool full, void *userdata) {
        Agent *a = userdata;

        a->n_scans++;
        agent_metrics_scan(a->metrics, o, full);
        if (o->error < 0)
                log_error_errno(o->error, "Scan failed: %m");
        else {
                log_debug("Scan %" PRIu64 ": %u devices, %u probed, %u not probeable, %.1f ms, lvm %s.", a->n_scans,
                          o->n_devices, o->n_probed, o->n_failed, (double) o->duration_usec / 1000.0,
                          strempty(o->lvm_status));
                if (o->warning && a->n_scans == 1)
                        log_warning("%s", o->warning);
                report_to_all(a, TAKE_PTR(o->report));
                watch_osds(a); /* an OSD made or removed shows at once */
                mark_out_failing(a);
                if (a->specs)
                        agent_specs_report(a->specs, current_report(a));
                if (a->replace)
                        agent_replace_report(a->replace, current_report(a));
                replace_load(a);
        }
        reconcile(a);
        if (!a->ready) {
                a->ready = true;
                notify_send("READY=1\nSTATUS=Following block devices");
        }
}

/* ---- disk health ---- */

/* New readings: a state scan (no content probes) attaches them to the devices and reports. */
static int on_health(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        Agent *a = arg;

        health_watch_ack(a->health);
        scan_plan_state(a->scans, now_usec());
        return 0;
}

static void stop_health(Agent *a) {
        if (!a->health)
                return;
        zloop_poller_end(a->loop, &a->health_item);
        a->health = health_watch_free(a->health);
}

/* With the scan worker stopped: a watch for the configured interval (kept with its readings
 * while the interval stays), none when it is 0. */
static int start_health(Agent *a) {
        int r;

        if (a->health && a->health_interval == a->cfg.health_interval)
                return 0;
        stop_health(a);
        if (a->cfg.health_interval == 0)
                return 0;
        r = health_watch_new(a->cfg.health_interval, HEALTH_DEFAULT_TIMEOUT_USEC,
                             isempty(a->cfg.sysroot) ? NULL : a->cfg.sysroot, &a->health);
        if (r < 0)
                return log_error_errno(r, "Failed to start the disk health thread: %m");
        a->health_interval = a->cfg.health_interval;
        a->health_item = (zmq_pollitem_t) { .fd = health_watch_get_fd(a->health), .events = ZMQ_POLLIN };
        if (zloop_poller(a->loop, &a->health_item, on_health, a) < 0) {
                a->health = health_watch_free(a->health);
                return log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Failed to watch the disk health thread.");
        }
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

        if (start_health(a) < 0)
                return -ENOMEM;
        sc.health = a->health;
        filter_init(&sc.filter);
        if ((!isempty(a->cfg.filter) && filter_set_name_regex(&sc.filter, a->cfg.filter, &err) < 0) ||
            (!isempty(a->cfg.path_filter) && filter_set_path_regex(&sc.filter, a->cfg.path_filter, &err) < 0)) {
                filter_done(&sc.filter);
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s", err ?: "invalid filter");
        }
        if (scan_plan_start(a->scans, &sc) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Failed to start the scan worker.");
        return 0;
}

static int replace_redestroy(uint64_t command_id, int osd_id, void *userdata) {
        Agent *a = userdata;

        return a->removals ? agent_removals_redestroy(a->removals, command_id, osd_id) : -EOPNOTSUPP;
}

static void on_removals_changed(void *userdata) {
        osd_report_changed(userdata);
}

/* A mark-out that failed is asked for again after the next scan or health pass. */
static void on_marked_out(int osd_id, const char *error, void *userdata) {
        Agent *a = userdata;

        mark_out_result(a->mark_out, osd_id, isempty(error));
        if (!isempty(error))
                log_warning("osd.%d: its mark-out is tried again after the next look at its disk.", osd_id);
}

/* The job runner, and the specs with the configuration's labels, settle time and spec-file
 * (spec_file: read already, taken over). */
static int start_jobs(Agent *a, SpecList *spec_file) {
        _cleanup_free_ char *helper = job_helper_path(a->cfg.osd_helper);
        AgentSpecsOps ops = specs_ops;
        int r;

        if (!a->jobs) {
                a->jobs = helper ? job_runner_new(a->loop, helper, on_job_update, a) : NULL;
                if (!a->jobs)
                        return log_oom();
        }
        if (!a->removals) {
                AgentRemovalsOptions ro = {
                        .helper = helper, .cfg = &a->cfg, .report = a->osd_report,
                        .update = on_job_update, .changed = on_removals_changed, .marked_out = on_marked_out,
                        .userdata = a,
                };
                if (!helper || agent_removals_new(a->loop, &ro, &a->removals) < 0)
                        return log_oom();
                (void) agent_removals_resume(a->removals);
        }
        ops.userdata = a;
        if (!a->specs) {
                r = agent_specs_new(&ops, a->node_id, a->hostname, a->cfg.labels, a->cfg.spec_settle, &a->specs);
                if (r < 0)
                        return log_oom();
        }
        agent_specs_set_settle(a->specs, a->cfg.spec_settle);
        if (agent_specs_set_labels(a->specs, a->cfg.labels) < 0 ||
            agent_specs_set_local(a->specs, spec_file->specs, spec_file->n) < 0)
                return log_oom();
        if (spec_file->n > 0)
                log_info("spec-file %s: %zu OSD spec(s).", a->cfg.spec_file, spec_file->n);
        if (!a->replace) {
                AgentReplaceOps rops = {
                        .list = removal_list,
                        .read = removal_read,
                        .write = removal_write,
                        .remove = removal_remove,
                        .submit = submit_spec_create,
                        .redestroy = replace_redestroy,
                        .written = device_written,
                        .userdata = a,
                };

                r = agent_replace_new(&rops, a->cfg.state_dir, a->cfg.spec_settle, &a->replace);
                if (r < 0)
                        return log_oom();
        }
        agent_replace_set_settle(a->replace, a->cfg.spec_settle);
        replace_load(a);
        return 0;
}

static void metrics_state(void *userdata, AgentMetricsState *ret) {
        Agent *a = userdata;
        uint64_t now = now_usec();
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < a->n_links; i++) {
                const Link *l = &a->links[i];
                uint64_t last_ack = session_last_contact(l->session), silent = now - last_ack;

                a->link_states[i] = (AgentMetricsLink) {
                        .coordinator = l->endpoint,
                        /* A coordinator acks every heartbeat: three missed answers mean it is gone. */
                        .connected = l->sock && last_ack > 0 && silent <= 3 * a->cfg.heartbeat_interval,
                };
                if (last_ack > 0)
                        a->link_states[i].last_contact_realtime_usec =
                                (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - (int64_t) silent;
        }
        *ret = (AgentMetricsState) {
                .report = current_report(a),
                .links = a->link_states,
                .n_links = a->n_links,
                .jobs_pending = a->jobs ? job_runner_pending(a->jobs) : 0,
        };
        if (a->health) {
                HealthWatchStats hs;

                health_watch_stats(a->health, &hs);
                ret->health_reads = hs.reads;
                ret->health_read_errors = hs.read_errors;
        }
        ret->osds_marked_out = mark_out_count(a->mark_out);
        if (a->osd_watch)
                ret->n_osds = osd_watch_states(a->osd_watch, &ret->osds);
        if (a->specs) {
                AgentSpecsStats st;

                agent_specs_stats(a->specs, &st);
                ret->specs = st.specs;
                ret->spec_devices_settling = st.settling;
                ret->spec_osds_made = st.osds_made;
        }
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

static void free_links(Agent *a) {
        for (size_t i = 0; i < a->n_links; i++) {
                session_free(a->links[i].session);
                free(a->links[i].endpoint);
        }
        a->links = mfree(a->links);
        a->link_states = mfree(a->link_states);
        a->n_links = 0;
}

/* The links of the coordinator list, each with its session: a session whose endpoint stays in
 * the list is kept (its generation and report go on), the others are freed, new ones made. */
static int make_links(Agent *a) {
        size_t n = strv_length(a->cfg.coordinator);
        Link *links = calloc(n, sizeof(Link));
        AgentMetricsLink *states = calloc(n, sizeof(AgentMetricsLink));
        int r = 0;

        if (!links || !states) {
                free(links);
                free(states);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++) {
                links[i].endpoint = strdup(a->cfg.coordinator[i]);
                if (!links[i].endpoint) {
                        r = log_oom();
                        break;
                }
                for (size_t k = 0; k < a->n_links; k++)
                        if (a->links[k].session && streq(a->links[k].endpoint, links[i].endpoint))
                                links[i].session = TAKE_PTR(a->links[k].session);
                if (links[i].session)
                        continue;
                /* A new run's generations never repeat an old run's: the coordinator then always
                 * asks for a snapshot after a restart. */
                r = session_new(a->node_id, a->hostname, links[i].endpoint, (uint64_t) time(NULL) << 20,
                                a->metrics, &session_handlers, a, &links[i].session);
                if (r < 0) {
                        r = log_oom();
                        break;
                }
                session_set_commands(links[i].session, a->commands);
                session_set_osd_report(links[i].session, a->osd_report);
                agent_metrics_add_coordinator(a->metrics, links[i].endpoint);
        }
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (session_set_labels(links[i].session, a->cfg.labels) < 0)
                        r = log_oom();
        /* The old list goes, what was not taken over with it; on failure the new one goes too
         * (the agent stops then) and no half-made link is left. */
        free_links(a);
        a->links = links;
        a->link_states = states;
        a->n_links = n;
        if (r < 0)
                free_links(a);
        return r;
}

static int start_links(Agent *a) {
        int r;

        if (a->cfg.insecure)
                log_warning("insecure: talking to the coordinators without CURVE.");
        else {
                r = keys_load_pair(a->cfg.key, &a->cert);
                if (r < 0)
                        return log_error_errno(r, "Failed to load the key pair %s_secret: %m", a->cfg.key);
        }
        r = make_links(a);
        if (r < 0)
                return r;
        for (size_t i = 0; i < a->n_links; i++) {
                Link *l = &a->links[i];
                const char *key_file = agent_config_coordinator_key(&a->cfg, i);
                char server_key[KEY_TEXT_LEN + 1];

                if (!a->cfg.insecure) {
                        r = keys_load_public(key_file, server_key);
                        if (r < 0)
                                return log_error_errno(r, "Failed to load the key %s of the coordinator %s: %m",
                                                       key_file, l->endpoint);
                }
                r = link_connect(l->endpoint,
                                 &(LinkOptions) { .cert = a->cert,
                                                  .server_public = a->cfg.insecure ? NULL : server_key,
                                                  .identity = a->node_id,
                                                  .insecure = a->cfg.insecure },
                                 &l->sock);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the connection to %s: %m", l->endpoint);
                /* No queue for a coordinator that is not there: a send to it fails at once
                 * (counted as unsent) and delays no other; a connected one's queue is bounded
                 * by its high-water mark, and a send to a full one fails too. */
                zsock_set_immediate(l->sock, 1);
                zloop_reader(a->loop, l->sock, on_link, l->session);
                log_info("Node %s reporting to %s.", a->node_id, l->endpoint);
                session_attach(l->session, l->sock);
        }
        return 0;
}

static void stop_links(Agent *a) {
        for (size_t i = 0; i < a->n_links; i++) {
                Link *l = &a->links[i];

                session_attach(l->session, NULL);
                if (l->sock)
                        zloop_reader_end(a->loop, l->sock);
                zsock_destroy(&l->sock);
        }
        zcert_destroy(&a->cert);
}

static void reload(void *userdata) {
        Agent *a = userdata;
        _cleanup_(spec_list_done) SpecList specs = {};
        AgentConfig n;

        log_info("SIGHUP: re-reading %s.", a->args.config_path);
        if (agent_config_load(&a->args, &n) < 0) {
                log_error("The new configuration has errors; keeping the old one.");
                return;
        }
        if (read_spec_file(n.spec_file, &specs) < 0) {
                log_error("The new spec-file has errors; keeping the old configuration.");
                agent_config_done(&n);
                return;
        }
        scan_plan_stop(a->scans);
        stop_links(a);
        agent_config_done(&a->cfg);
        a->cfg = n;
        scan_plan_set_debounce(a->scans, a->cfg.debounce_quiet, a->cfg.debounce_max);
        if (start_jobs(a, &specs) < 0 || start_scanner(a) < 0 || start_links(a) < 0) {
                log_error("Could not apply the new configuration: stopping.");
                kill(getpid(), SIGTERM);
                return;
        }
        (void) start_metrics(a); /* a metrics port in use is no reason to stop following devices */
        for (size_t i = 0; i < a->n_links; i++)
                session_restart(a->links[i].session); /* the filters may differ: start over */
        agent_specs_report(a->specs, NULL); /* the sessions' reports are gone */
        agent_replace_report(a->replace, NULL);
        scan_plan_full(a->scans, now_usec());
}

static int run(Agent *a) {
        _cleanup_(spec_list_done) SpecList specs = {};
        int r;

        r = daemon_signals_open(&a->signals, reload, a); /* before any thread starts: all inherit the mask */
        if (r < 0)
                return log_error_errno(r, "signalfd: %m");
        r = daemon_loop_new(&a->signals, 1, &a->loop);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        srandom((unsigned) (now_usec() ^ (uint64_t) getpid()));

        r = identify(a);
        if (r < 0)
                return r;
        if (!codec_valid_id(a->node_id))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Node id '%s' is not valid: 1-255 printable characters, no blanks.",
                                       strempty(a->node_id));

        r = scan_plan_new(a->loop, a->cfg.debounce_quiet, a->cfg.debounce_max, on_scanner, a, &a->scans);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        r = start_metrics(a);
        if (r < 0)
                return r;
        r = command_table_new(a->cfg.recent_commands, &a->commands);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        r = osd_report_new(&a->osd_report);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        if (isempty(a->cfg.sysroot)) {
                /* systemd's units say more than the processes where systemd runs the host. */
                OsdWatchOptions wo = { .systemd = access("/run/systemd/system", F_OK) == 0 };

                r = osd_watch_new(&wo, &a->osd_watch);
                if (r < 0)
                        return log_error_errno(r, "Out of memory.");
        }

        /* 1. the udev monitor, before anything is enumerated */
        if (isempty(a->cfg.sysroot)) {
                SourcesOptions so = { .udev_events = a->cfg.udev_events, .host = &a->host,
                                      .metrics = a->metrics, .event = on_source_event, .userdata = a };

                r = sources_new(a->loop, &so, &a->sources);
                if (r < 0)
                        return r;
        }

        /* 2. the first full scan (coldplug) */
        r = read_spec_file(a->cfg.spec_file, &specs);
        if (r < 0)
                return r;
        r = start_jobs(a, &specs);
        if (r < 0)
                return r;
        r = start_scanner(a);
        if (r < 0)
                return r;
        scan_plan_full(a->scans, 0);

        /* 3. the coordinators: connecting is asynchronous, libzmq retries with backoff */
        r = start_links(a);
        if (r < 0)
                return r;

        a->watchdog_usec = notify_watchdog_usec();
        a->heartbeat_timer = zloop_timer(a->loop,
                                         MIN(a->cfg.heartbeat_interval, a->watchdog_usec ? a->watchdog_usec / 2 : UINT64_MAX) /
                                                 1000,
                                         0, on_heartbeat, a);
        a->rescan_timer = zloop_timer(a->loop, jittered(a->cfg.rescan_interval) / 1000, 1, on_rescan, a);
        if (a->osd_watch)
                (void) zloop_timer(a->loop, OSD_WATCH_INTERVAL_USEC / 1000, 0, on_osd_watch, a);

        /* 4. READY=1 once the first scan is done (on_scanner) */
        zloop_start(a->loop);

        scan_plan_stop(a->scans);
        stop_links(a);
        daemon_signals_close(&a->signals);
        return 0;
}

int main(int argc, char *argv[]) {
        Agent a = { .signals = DAEMON_SIGNALS_NULL, .specs_timer = -1 };
        int r;

        mallopt(M_ARENA_MAX, 1); /* one malloc arena for the loop, the scanner and libzmq's threads */
        log_set_max_level(LOG_INFO);
        log_parse_environment();
        r = agent_config_parse_args(argc, argv, &a.args);
        if (r < 0)
                return 2;
        if (a.args.help) {
                help();
                r = 0;
        } else if (agent_config_load(&a.args, &a.cfg) < 0)
                r = 2;
        else if (a.args.check_only) {
                _cleanup_(spec_list_done) SpecList specs = {};

                r = read_spec_file(a.cfg.spec_file, &specs) < 0 ? 2 : 0;
                if (r == 0)
                        agent_config_print(&a.cfg, stdout);
        } else
                r = run(&a) < 0 ? 1 : 0;

        agent_metrics_free(a.metrics); /* before the loop it is registered with */
        job_runner_free(a.jobs);
        agent_removals_free(a.removals);
        sources_free(a.sources);
        scan_plan_free(a.scans);
        stop_health(&a); /* after the scan worker that uses it */
        free_links(&a);
        command_table_free(a.commands);
        osd_report_free(a.osd_report); /* after the sessions that point at it */
        osd_watch_free(a.osd_watch);
        agent_specs_free(a.specs);
        agent_replace_free(a.replace);
        mark_out_free(a.mark_out);
        zloop_destroy(&a.loop);
        daemon_signals_close(&a.signals);
        agent_config_done(&a.cfg);
        daemon_args_done(&a.args);
        free(a.node_id);
        return r;
}
