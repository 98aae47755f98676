/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's metric families and the HTTP endpoint that serves them. Gauges that describe
 * the current state are recounted from the agent's state at each scrape, so they can never
 * drift from what the agent reports to the coordinator. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "agent/metrics.h"
#include "agent/specs.h"
#include "common/log.h"
#include "common/metrics-loop.h"
#include "proto/codec.h"

struct AgentMetrics {
        MetricsEndpoint endpoint;
        AgentMetricsStateFn state;
        void *userdata;
        Metric *devices, *reasons;
        Metric *scans, *scan_duration, *probe_duration, *probe_timeouts;
        Metric *udev_events, *udev_overflows;
        Metric *sent, *unsent, *received;
        Metric *connected, *last_contact, *n_connected, *n_coordinators;
        Metric *jobs, *jobs_pending, *repeated;
        Metric *specs, *spec_settling, *spec_osds;
        Metric *health, *health_percent_used, *health_media_errors, *health_temperature;
        Metric *health_reads, *health_read_errors, *osds_marked_out;
        Metric *osd_state, *osd_restarts;
};

static const double scan_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const double probe_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,    0.25,  0.5,    1,     2.5,  5,     10};

#define DEF(field, ...) {offsetof(AgentMetrics, field), __VA_ARGS__}
static const MetricDef families[] = {
        DEF(devices, "castle_agent_devices", METRIC_GAUGE,
            "devices the agent reports, by type and by verdict (available yes or no)",
            METRIC_LABELS("type", "available"), NULL, 0),
        DEF(reasons, "castle_agent_device_reasons", METRIC_GAUGE,
            "devices that are not available, by reason code (a device counts once for each of its reasons)",
            METRIC_LABELS("reason"), NULL, 0),
        DEF(scans, "castle_agent_scans_total", METRIC_COUNTER,
            "scans run: full (coldplug, periodic, reload) or partial (after events), ok or error",
            METRIC_LABELS("kind", "result"), NULL, 0),
        DEF(scan_duration, "castle_agent_scan_duration_seconds", METRIC_HISTOGRAM,
            "how long a successful scan took", NULL, scan_buckets, ELEMENTSOF(scan_buckets)),
        DEF(probe_duration, "castle_agent_probe_duration_seconds", METRIC_HISTOGRAM,
            "how long the content probe of one device took (devices whose probe timed out are not in it)",
            NULL, probe_buckets, ELEMENTSOF(probe_buckets)),
        DEF(probe_timeouts, "castle_agent_probe_timeouts_total", METRIC_COUNTER,
            "content probes given up after probe-timeout (the device is reported as \"Could not be "
            "probed\")",
            NULL, NULL, 0),
        DEF(udev_events, "castle_agent_udev_events_total", METRIC_COUNTER,
            "block device events received (udev netlink uevents, or udev database changes with udev-events "
            "= inotify)",
            NULL, NULL, 0),
        DEF(udev_overflows, "castle_agent_udev_overflows_total", METRIC_COUNTER,
            "times device events were lost (a receive buffer or the inotify queue overflowed) and "
            "everything was rescanned",
            NULL, NULL, 0),
        DEF(sent, "castle_agent_messages_sent_total", METRIC_COUNTER,
            "messages sent to each coordinator, by type", METRIC_LABELS("coordinator", "type"), NULL, 0),
        DEF(unsent, "castle_agent_messages_unsent_total", METRIC_COUNTER,
            "messages not sent to each coordinator (not connected, or its queue full), by type",
            METRIC_LABELS("coordinator", "type"), NULL, 0),
        DEF(received, "castle_agent_messages_received_total", METRIC_COUNTER,
            "messages received from each coordinator, by type (malformed: did not decode)",
            METRIC_LABELS("coordinator", "type"), NULL, 0),
        DEF(connected, "castle_agent_coordinator_connected", METRIC_GAUGE,
            "1 if this coordinator answered within the last three heartbeat intervals, else 0",
            METRIC_LABELS("coordinator"), NULL, 0),
        DEF(last_contact, "castle_agent_coordinator_last_contact_timestamp_seconds", METRIC_GAUGE,
            "when this coordinator was last heard from, Unix time (0: never)", METRIC_LABELS("coordinator"),
            NULL, 0),
        DEF(n_connected, "castle_agent_coordinators_connected", METRIC_GAUGE,
            "coordinators that answered within the last three heartbeat intervals (0: the node reaches none)",
            NULL, NULL, 0),
        DEF(n_coordinators, "castle_agent_coordinators", METRIC_GAUGE,
            "coordinators in the agent's list", NULL, NULL, 0),
        DEF(jobs, "castle_agent_jobs_total", METRIC_COUNTER,
            "OSD jobs finished, by origin (coordinator: a command; spec: the node's OSD specs) and result "
            "(ok, already_prepared, failed)",
            METRIC_LABELS("origin", "result"), NULL, 0),
        DEF(jobs_pending, "castle_agent_jobs_pending", METRIC_GAUGE, "OSD jobs queued or running", NULL,
            NULL, 0),
        DEF(repeated, "castle_agent_commands_repeated_total", METRIC_COUNTER,
            "commands that came again with an id the agent knew (forwarded by another coordinator, or a "
            "client's retry) and were not run again",
            NULL, NULL, 0),
        DEF(specs, "castle_agent_specs", METRIC_GAUGE,
            "OSD specs the node holds (the coordinators' newest set and the spec-file's)", NULL, NULL, 0),
        DEF(spec_settling, "castle_agent_spec_devices_settling", METRIC_GAUGE,
            "devices an OSD spec would take that have not stayed unchanged for spec-settle yet", NULL, NULL, 0),
        DEF(spec_osds, "castle_agent_spec_osds_made_total", METRIC_COUNTER,
            "OSDs the node's OSD specs made since the agent started", NULL, NULL, 0),
        DEF(health, "castle_agent_device_health", METRIC_GAUGE,
            "each disk's health verdict as last read: 0 unknown, 1 ok, 2 warning, 3 failing (disks not read "
            "yet are not listed)",
            METRIC_LABELS("device", "stable_id"), NULL, 0),
        DEF(health_percent_used, "castle_agent_device_health_percent_used", METRIC_GAUGE,
            "NVMe percentage used: the vendor's estimate of the endurance used (may exceed 100)",
            METRIC_LABELS("device", "stable_id"), NULL, 0),
        DEF(health_media_errors, "castle_agent_device_health_media_errors", METRIC_GAUGE,
            "NVMe media and data integrity errors over the disk's life", METRIC_LABELS("device", "stable_id"), NULL,
            0),
        DEF(health_temperature, "castle_agent_device_temperature_celsius", METRIC_GAUGE,
            "the disk's temperature at its last health read", METRIC_LABELS("device", "stable_id"), NULL, 0),
        DEF(health_reads, "castle_agent_health_reads_total", METRIC_COUNTER,
            "disk health reads (NVMe SMART log, smartctl) done", NULL, NULL, 0),
        DEF(health_read_errors, "castle_agent_health_read_errors_total", METRIC_COUNTER,
            "disk health reads that failed (the disk's health is then unknown, with the error)", NULL, NULL, 0),
        DEF(osds_marked_out, "castle_agent_osds_marked_out_total", METRIC_COUNTER,
            "OSDs marked out because their disk turned failing (health-mark-out)", NULL, NULL, 0),
        DEF(osd_state, "castle_agent_osd_state", METRIC_GAUGE,
            "1 for each OSD of the node, labelled with its daemon's state (running, crash-looping, stopped, "
            "failed, starting)",
            METRIC_LABELS("osd", "state"), NULL, 0),
        DEF(osd_restarts, "castle_agent_osd_restarts", METRIC_GAUGE,
            "restarts of each OSD's daemon by its systemd unit (NRestarts; 0 without one)", METRIC_LABELS("osd"),
            NULL, 0),
};
#undef DEF

/* "hello", "job_update": the oneof field's own name in castle.proto. */
static const char *body_name(Castle__Envelope__BodyCase body) {
        return codec_oneof_name(&castle__envelope__descriptor, (int) body) ?: "other";
}

static void count_health(AgentMetrics *m, const Castle__Device *d) {
        const Castle__DeviceHealth *h = d->health;
        const char *const *labels = METRIC_LABELS(strempty(d->path), strempty(d->stable_id));

        if (!h)
                return;
        (void) metric_set(m->health, labels, (double) h->verdict);
        if (h->percent_used >= 0)
                (void) metric_set(m->health_percent_used, labels, (double) h->percent_used);
        if (h->media_errors >= 0)
                (void) metric_set(m->health_media_errors, labels, (double) h->media_errors);
        if (h->temperature_celsius >= 0)
                (void) metric_set(m->health_temperature, labels, (double) h->temperature_celsius);
}

static void count_devices(AgentMetrics *m, const Report *report) {
        metric_reset(m->devices);
        metric_reset(m->reasons);
        metric_reset(m->health);
        metric_reset(m->health_percent_used);
        metric_reset(m->health_media_errors);
        metric_reset(m->health_temperature);
        if (!report)
                return;
        for (size_t i = 0; i < report->n; i++) {
                const Castle__Device *d = report->entries[i].msg;
                _cleanup_free_ char *type = codec_enum_json_name(&castle__device__type__descriptor, d->type);

                if (metric_inc(m->devices, METRIC_LABELS(type ?: "unknown", d->available ? "yes" : "no")) <
                    0)
                        log_debug("Metrics: device type %s not counted.", strempty(type));
                for (size_t k = 0; k < d->n_reasons; k++) {
                        _cleanup_free_ char *code =
                                codec_enum_json_name(&castle__reason__code__descriptor, d->reasons[k]->code);
                        (void) metric_inc(m->reasons, METRIC_LABELS(code ?: "unspecified"));
                }
                count_health(m, d);
        }
}

static void refresh(void *userdata) {
        AgentMetrics *m = userdata;
        AgentMetricsState s = {};
        size_t n_connected = 0;

        if (m->state)
                m->state(m->userdata, &s);
        count_devices(m, s.report);
        /* recounted: a reload may have changed the list */
        metric_reset(m->connected);
        metric_reset(m->last_contact);
        for (size_t i = 0; i < s.n_links; i++) {
                const AgentMetricsLink *l = &s.links[i];

                (void) metric_set(m->connected, METRIC_LABELS(l->coordinator), l->connected ? 1 : 0);
                (void) metric_set(m->last_contact, METRIC_LABELS(l->coordinator),
                                  (double) l->last_contact_realtime_usec / 1e6);
                n_connected += l->connected;
        }
        (void) metric_set(m->n_connected, NULL, (double) n_connected);
        (void) metric_set(m->n_coordinators, NULL, (double) s.n_links);
        (void) metric_set(m->jobs_pending, NULL, (double) s.jobs_pending);
        (void) metric_set(m->specs, NULL, (double) s.specs);
        (void) metric_set(m->spec_settling, NULL, (double) s.spec_devices_settling);
        (void) metric_set(m->spec_osds, NULL, (double) s.spec_osds_made);
        (void) metric_set(m->health_reads, NULL, (double) s.health_reads);
        (void) metric_set(m->health_read_errors, NULL, (double) s.health_read_errors);
        (void) metric_set(m->osds_marked_out, NULL, (double) s.osds_marked_out);
        metric_reset(m->osd_state);
        metric_reset(m->osd_restarts);
        for (size_t i = 0; i < s.n_osds; i++) {
                char id[16];

                snprintf(id, sizeof id, "%" PRId32, s.osds[i]->osd_id);
                (void) metric_set(m->osd_state, METRIC_LABELS(id, s.osds[i]->state), 1);
                (void) metric_set(m->osd_restarts, METRIC_LABELS(id), s.osds[i]->restarts);
        }
}

int agent_metrics_new(AgentMetricsStateFn state, void *userdata, AgentMetrics **ret) {
        _cleanup_free_ AgentMetrics *m = NULL;
        int r;

        m = calloc(1, sizeof(AgentMetrics));
        if (!m)
                return -ENOMEM;
        *m = (AgentMetrics){.state = state, .userdata = userdata};
        r = metrics_endpoint_init(&m->endpoint, "castle-agent", families, ELEMENTSOF(families), m, refresh);
        if (r < 0)
                return r;
        /* Every kind that can occur shows from the start, at 0. */
        for (const char *const *k = METRIC_LABELS("full", "partial"); *k; k++)
                for (const char *const *res = METRIC_LABELS("ok", "error"); *res; res++)
                        (void) metric_add(m->scans, METRIC_LABELS(*k, *res), 0);
        for (const char *const *o = METRIC_LABELS("coordinator", "spec"); *o; o++)
                for (const char *const *res = METRIC_LABELS("ok", "already_prepared", "failed"); *res; res++)
                        (void) metric_add(m->jobs, METRIC_LABELS(*o, *res), 0);
        *ret = TAKE_PTR(m);
        return 0;
}

AgentMetrics *agent_metrics_free(AgentMetrics *m) {
        if (m)
                metrics_endpoint_done(&m->endpoint);
        free(m);
        return NULL;
}

int agent_metrics_render(AgentMetrics *m, char **ret, size_t *ret_size) {
        return metrics_render(m->endpoint.reg, ret, ret_size);
}

int agent_metrics_listen(AgentMetrics *m, zloop_t *loop, const char *listen) {
        return metrics_endpoint_listen(&m->endpoint, loop, listen);
}

const char *agent_metrics_address(const AgentMetrics *m) {
        return metrics_endpoint_address(&m->endpoint);
}

void agent_metrics_scan(AgentMetrics *m, const ScanOutcome *o, bool full) {
        if (!m)
                return;
        (void) metric_inc(m->scans, METRIC_LABELS(full ? "full" : "partial", o->error < 0 ? "error" : "ok"));
        if (o->error < 0)
                return;
        (void) metric_observe(m->scan_duration, NULL, (double) o->duration_usec / 1e6);
        for (size_t i = 0; i < o->n_probe_seconds; i++)
                (void) metric_observe(m->probe_duration, NULL, o->probe_seconds[i]);
        (void) metric_add(m->probe_timeouts, NULL, o->n_probe_timeouts);
}

void agent_metrics_udev_event(AgentMetrics *m) {
        if (m)
                (void) metric_inc(m->udev_events, NULL);
}

void agent_metrics_udev_lost(AgentMetrics *m) {
        if (m)
                (void) metric_inc(m->udev_overflows, NULL);
}

void agent_metrics_add_coordinator(AgentMetrics *m, const char *coordinator) {
        if (!m)
                return;
        for (const char *const *t = METRIC_LABELS("hello", "snapshot", "delta", "heartbeat", "job_update");
             *t; t++) {
                (void) metric_add(m->sent, METRIC_LABELS(coordinator, *t), 0);
                (void) metric_add(m->unsent, METRIC_LABELS(coordinator, *t), 0);
        }
        for (const char *const *t = METRIC_LABELS("ack", "resync", "command", "malformed"); *t; t++)
                (void) metric_add(m->received, METRIC_LABELS(coordinator, *t), 0);
}

void agent_metrics_sent(AgentMetrics *m, const char *coordinator, Castle__Envelope__BodyCase body, int result) {
        if (m)
                (void) metric_inc(result < 0 ? m->unsent : m->sent, METRIC_LABELS(coordinator, body_name(body)));
}

void agent_metrics_received(AgentMetrics *m, const char *coordinator, Castle__Envelope__BodyCase body,
                            bool malformed) {
        if (m)
                (void) metric_inc(m->received,
                                  METRIC_LABELS(coordinator, malformed ? "malformed" : body_name(body)));
}

void agent_metrics_command_repeated(AgentMetrics *m) {
        if (m)
                (void) metric_inc(m->repeated, NULL);
}

void agent_metrics_job_done(AgentMetrics *m, const Castle__JobUpdate *u) {
        if (!m || !u->done)
                return;
        (void) metric_inc(m->jobs, METRIC_LABELS(u->command_id >= AGENT_SPECS_COMMAND_BASE ? "spec" : "coordinator",
                                                 !isempty(u->error)    ? "failed"
                                                 : u->already_prepared ? "already_prepared"
                                                                       : "ok"));
}
