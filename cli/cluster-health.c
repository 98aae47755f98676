/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster's disk health: the HEALTH column and --health=VERDICT filter of `cluster
 * devices`, and `cluster device ID`, which shows one device's record on every node that has
 * it, with every health metric its agent last read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cluster.h"
#include "common/log.h"
#include "common/size.h"
#include "common/strv.h"
#include "proto/codec.h"

static const char *const verdicts[] = { "unknown", "ok", "warning", "failing" };

int cluster_health_parse(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(verdicts); i++)
                if (streq(s, verdicts[i]))
                        return (int) i;
        return -EINVAL;
}

const char *cluster_health_verdict(const Castle__DeviceHealth *h) {
        if (!h)
                return "-";
        return h->verdict >= 0 && (size_t) h->verdict < ELEMENTSOF(verdicts) ? verdicts[h->verdict] : "?";
}

bool cluster_health_match(const ClusterArgs *a, const Castle__Device *d) {
        if (a->health_verdict < 0)
                return true;
        /* a disk whose health was never read counts as unknown */
        return (d->health ? (int) d->health->verdict : CASTLE__DEVICE_HEALTH__VERDICT__HEALTH_UNKNOWN) ==
               a->health_verdict;
}

char *cluster_health_text(const Castle__Device *d) {
        const Castle__DeviceHealth *h = d->health;
        _cleanup_free_ char *why = NULL;
        char *s;

        if (!h)
                return strdup("-");
        if (!isempty(h->error))
                why = strdup(h->error);
        else
                why = cluster_join(h->reasons, h->n_reasons, "; ");
        if (!why)
                return NULL;
        if (asprintf(&s, "%s%s%s", cluster_health_verdict(h), isempty(why) ? "" : ": ", why) < 0)
                return NULL;
        return s;
}

static void metric(const char *name, int64_t v, const char *unit) {
        if (v < 0)
                printf("  %-24s -\n", name);
        else
                printf("  %-24s %" PRIi64 "%s\n", name, v, unit);
}

static void show_health(const Castle__DeviceHealth *h) {
        char when[64] = "never";

        if (!h) {
                printf("health:                    not read (the agent reads it every health-interval)\n");
                return;
        }
        if (h->checked_usec > 0) {
                time_t t = (time_t) (h->checked_usec / (int64_t) USEC_PER_SEC);
                struct tm tm;
                if (gmtime_r(&t, &tm))
                        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        printf("health:                    %s\n", cluster_health_verdict(h));
        for (size_t i = 0; i < h->n_reasons; i++)
                printf("  reason                   %s\n", h->reasons[i]);
        if (!isempty(h->error))
                printf("  error                    %s\n", h->error);
        printf("  source                   %s\n", isempty(h->source) ? "-" : h->source);
        printf("  checked                  %s\n", when);
        if (h->critical_warning >= 0)
                printf("  critical warning         0x%02" PRIx64 "\n", (uint64_t) h->critical_warning);
        else
                metric("critical warning", -1, "");
        metric("media errors", h->media_errors, "");
        metric("percentage used", h->percent_used, "%");
        metric("available spare", h->available_spare, "%");
        metric("spare threshold", h->spare_threshold, "%");
        metric("temperature", h->temperature_celsius, " C");
        metric("power-on hours", h->power_on_hours, "");
        metric("reallocated sectors", h->reallocated_sectors, "");
        metric("pending sectors", h->pending_sectors, "");
        metric("offline uncorrectable", h->offline_uncorrectable, "");
        metric("grown defects", h->grown_defects, "");
        metric("uncorrected errors", h->uncorrected_errors, "");
        printf("  %-24s %s\n", "SMART self-assessment",
               h->smart_passed < 0 ? "-" : h->smart_passed ? "PASSED" : "FAILED");
        metric("smartctl exit status", h->smartctl_exit_status, "");
}

int cluster_device_show(ClusterArgs *a) {
        _cleanup_(device_replies_done) DeviceReplies d = {};
        int r;

        r = cluster_query_devices(a, &d);
        if (r < 0)
                return r;
        if (d.n_devices == 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENODEV), "No device with stable id %s.", a->filter.stable_id);
        for (size_t i = 0; i < d.n_devices; i++) {
                const Castle__ClusterDevice *cd = d.devices[i];
                const Castle__Device *dev = cd->device;
                _cleanup_free_ char *reasons = NULL;
                char size[FORMAT_SIZE_MAX];

                if (!dev)
                        continue;
                reasons = cluster_device_reasons(dev);
                if (i > 0)
                        putchar('\n');
                printf("node:                      %s\n", strempty(cd->node_id));
                printf("stable id:                 %s\n", strempty(dev->stable_id));
                printf("path:                      %s\n", strempty(dev->path));
                printf("model:                     %s\n", isempty(dev->model) ? "-" : dev->model);
                printf("serial:                    %s\n", isempty(dev->serial) ? "-" : dev->serial);
                printf("size:                      %s\n", format_size(dev->size, size, sizeof size));
                printf("available:                 %s\n", dev->available ? "yes" : "no");
                if (!isempty(reasons))
                        printf("reject reasons:            %s\n", reasons);
                for (size_t k = 0; k < dev->n_ceph; k++)
                        if (dev->ceph[k]->osd_id >= 0)
                                printf("osd:                       %d (%s)\n", dev->ceph[k]->osd_id,
                                       strempty(dev->ceph[k]->type));
                show_health(dev->health);
        }
        fflush(stdout);
        return 0;
}
