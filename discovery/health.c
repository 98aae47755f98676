/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk health: reads NVMe's SMART / health log page through libnvme or runs smartctl --json
 * for other disks, and draws the verdict from the metrics. The rules follow Ceph's devicehealth
 * module and smartctl's own judgement; docs/health.md lists them. The readers only gather
 * numbers; health_evaluate() alone decides, so the tests can feed it captured data. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <nvme/ioctl.h>
#include <nvme/types.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "discovery/device.h"
#include "discovery/health.h"
#include "discovery/verdict.h"

#define SMARTCTL_OUTPUT_MAX (4 * 1024 * 1024)

static const char *const verdict_names[_HEALTH_VERDICT_MAX] = {
        [HEALTH_UNKNOWN] = "unknown",
        [HEALTH_OK] = "ok",
        [HEALTH_WARNING] = "warning",
        [HEALTH_FAILING] = "failing",
};

const char *health_verdict_to_string(HealthVerdict v) {
        return v >= 0 && v < _HEALTH_VERDICT_MAX ? verdict_names[v] : NULL;
}

HealthVerdict health_verdict_from_string(const char *s) {
        for (HealthVerdict v = 0; s && v < _HEALTH_VERDICT_MAX; v++)
                if (streq(verdict_names[v], s))
                        return v;
        return _HEALTH_VERDICT_MAX;
}

static void metrics_reset(Health *h) {
        h->critical_warning = h->media_errors = h->percent_used = -1;
        h->available_spare = h->spare_threshold = -1;
        h->temperature_celsius = h->power_on_hours = -1;
        h->reallocated_sectors = h->pending_sectors = h->offline_uncorrectable = -1;
        h->grown_defects = h->uncorrected_errors = -1;
        h->smart_passed = h->smartctl_exit_status = -1;
}

Health *health_new(void) {
        Health *h = calloc(1, sizeof(Health));

        if (h)
                metrics_reset(h);
        return h;
}

Health *health_free(Health *h) {
        if (!h)
                return NULL;
        strv_free(h->reasons);
        free(h->source);
        free(h->error);
        free(h);
        return NULL;
}

void health_freep(Health **h) {
        *h = health_free(*h);
}

int health_copy(const Health *h, Health **ret) {
        _cleanup_(health_freep) Health *c = malloc(sizeof(Health));

        if (!c)
                return -ENOMEM;
        *c = *h;
        c->reasons = NULL;
        c->source = c->error = NULL;
        if ((h->reasons && !(c->reasons = strv_copy(h->reasons))) ||
            (h->source && !(c->source = strdup(h->source))) ||
            (h->error && !(c->error = strdup(h->error))))
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

bool health_same_verdict(const Health *a, const Health *b) {
        size_t n;

        if (!a || !b)
                return a == b;
        if (a->verdict != b->verdict || !streq_ptr(a->source, b->source) || !streq_ptr(a->error, b->error))
                return false;
        n = strv_length(a->reasons);
        if (n != strv_length(b->reasons))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a->reasons[i], b->reasons[i]))
                        return false;
        return true;
}

/* NVMe's 128-bit little-endian counters: the low 64 bits, saturated. */
static int64_t le128(const uint8_t *p) {
        uint64_t v = 0;

        for (int i = 15; i >= 8; i--)
                if (p[i])
                        return INT64_MAX;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

void health_from_nvme_log(Health *h, const struct nvme_smart_log *log) {
        unsigned kelvin = log->temperature[0] | (unsigned) log->temperature[1] << 8;

        h->critical_warning = log->critical_warning;
        h->available_spare = log->avail_spare;
        h->spare_threshold = log->spare_thresh;
        h->percent_used = log->percent_used;
        h->media_errors = le128(log->media_errors);
        h->power_on_hours = le128(log->power_on_hours);
        /* 0 K: the controller does not report it */
        h->temperature_celsius = kelvin > 0 ? (int64_t) kelvin - 273 : -1;
}

static json_object *get_path(json_object *o, const char *a, const char *b) {
        json_object *v = NULL;

        if (!o || !json_object_object_get_ex(o, a, &v))
                return NULL;
        if (b && !json_object_object_get_ex(v, b, &v))
                return NULL;
        return v;
}

static int64_t get_int(json_object *o, const char *a, const char *b) {
        json_object *v = get_path(o, a, b);
        int64_t i;

        if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
                return -1;
        i = json_object_get_int64(v);
        return i < 0 ? -1 : i;
}

static void ata_attributes(Health *h, json_object *root) {
        json_object *table = get_path(root, "ata_smart_attributes", "table");
        size_t n;

        if (!table || !json_object_is_type(table, json_type_array))
                return;
        n = json_object_array_length(table);
        for (size_t i = 0; i < n; i++) {
                json_object *a = json_object_array_get_idx(table, i);
                int64_t id = get_int(a, "id", NULL), raw = get_int(a, "raw", "value");

                /* the raw value's low 16 bits: some vendors pack more into the upper ones */
                if (raw > 0xffff)
                        raw &= 0xffff;
                switch (id) {
                case 5:
                        h->reallocated_sectors = raw;
                        break;
                case 197:
                        h->pending_sectors = raw;
                        break;
                case 198:
                        h->offline_uncorrectable = raw;
                        break;
                default:
                        break;
                }
        }
}

static void scsi_counters(Health *h, json_object *root) {
        static const char *const dirs[] = { "read", "write", "verify" };
        json_object *log = get_path(root, "scsi_error_counter_log", NULL);
        int64_t sum = -1;

        h->grown_defects = get_int(root, "scsi_grown_defect_list", NULL);
        for (size_t i = 0; log && i < ELEMENTSOF(dirs); i++) {
                int64_t v = get_int(get_path(log, dirs[i], NULL), "total_uncorrected_errors", NULL);
                if (v >= 0)
                        sum = (sum < 0 ? 0 : sum) + v;
        }
        h->uncorrected_errors = sum;
}

/* The first error message smartctl gave, for a read that produced no data. */
static char *smartctl_message(json_object *root) {
        json_object *msgs = get_path(root, "smartctl", "messages");
        size_t n = msgs && json_object_is_type(msgs, json_type_array) ? json_object_array_length(msgs) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *m = json_object_array_get_idx(msgs, i), *s = get_path(m, "string", NULL);
                if (s && json_object_is_type(s, json_type_string))
                        return strdup(json_object_get_string(s));
        }
        return NULL;
}

int health_from_smartctl_json(Health *h, const char *json, int exit_status) {
        json_object *root, *v, *nvme;
        int r = 0;

        root = json_tokener_parse(json);
        if (!root || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return -EBADMSG;
        }
        if (exit_status < 0)
                exit_status = (int) get_int(root, "smartctl", "exit_status");
        h->smartctl_exit_status = exit_status;

        v = get_path(root, "smart_status", "passed");
        if (v && json_object_is_type(v, json_type_boolean))
                h->smart_passed = json_object_get_boolean(v) ? 1 : 0;
        ata_attributes(h, root);
        scsi_counters(h, root);
        h->temperature_celsius = get_int(root, "temperature", "current");
        h->power_on_hours = get_int(root, "power_on_time", "hours");

        /* smartctl on an NVMe disk (when the ioctl path is not ours to use) */
        nvme = get_path(root, "nvme_smart_health_information_log", NULL);
        if (nvme) {
                h->critical_warning = get_int(nvme, "critical_warning", NULL);
                h->available_spare = get_int(nvme, "available_spare", NULL);
                h->spare_threshold = get_int(nvme, "available_spare_threshold", NULL);
                h->percent_used = get_int(nvme, "percentage_used", NULL);
                h->media_errors = get_int(nvme, "media_errors", NULL);
        }

        /* the device could not be opened or the command line was refused: no reading */
        if (exit_status >= 0 && (exit_status & (SMARTCTL_EXIT_CMDLINE | SMARTCTL_EXIT_OPEN))) {
                _cleanup_free_ char *msg = smartctl_message(root);
                free(h->error);
                if (asprintf(&h->error, "smartctl failed (exit status %d): %s", exit_status,
                             msg ?: "device open failed") < 0) {
                        h->error = NULL;
                        r = -ENOMEM;
                }
        }
        json_object_put(root);
        return r;
}

static bool has_data(const Health *h) {
        return h->smart_passed >= 0 || h->critical_warning >= 0 || h->reallocated_sectors >= 0 ||
               h->pending_sectors >= 0 || h->offline_uncorrectable >= 0 || h->grown_defects >= 0 ||
               h->uncorrected_errors >= 0 || h->percent_used >= 0 || h->media_errors >= 0 ||
               (h->smartctl_exit_status > 0 && (h->smartctl_exit_status & SMARTCTL_EXIT_FAILING));
}

static int add(char ***l, const char *fmt, ...) _printf_(2, 3);
static int add(char ***l, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? -ENOMEM : strv_consume(l, s);
}

/* The NVMe critical warning bits (NVMe base specification, SMART / Health Information log,
 * byte 0): which turn a disk failing, which only warn. */
static const struct {
        unsigned bit;
        bool failing;
        const char *what;
} nvme_bits[] = {
        { NVME_SMART_CRIT_SPARE, true, "available spare below threshold" },
        { NVME_SMART_CRIT_TEMPERATURE, false, "temperature outside its thresholds" },
        { NVME_SMART_CRIT_DEGRADED, true, "reliability degraded by media or internal errors" },
        { NVME_SMART_CRIT_MEDIA, true, "media placed in read-only mode" },
        { NVME_SMART_CRIT_VOLATILE_MEMORY, true, "volatile memory backup failed" },
        { NVME_SMART_CRIT_PMR_RO, true, "persistent memory region read-only" },
};

int health_evaluate(Health *h) {
        _cleanup_strv_free_ char **failing = NULL, **warning = NULL;
        int64_t bad_sectors = -1;
        int r = 0;

        if (!h->source || h->error) {
                h->verdict = HEALTH_UNKNOWN;
                return 0;
        }
        if (!has_data(h)) {
                h->verdict = HEALTH_UNKNOWN;
                strv_free(h->reasons);
                h->reasons = NULL;
                return add(&h->reasons, "%s reported no health data", h->source);
        }

        if (h->critical_warning > 0)
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(nvme_bits); i++)
                        if (h->critical_warning & nvme_bits[i].bit)
                                r = add(nvme_bits[i].failing ? &failing : &warning,
                                        "NVMe critical warning: %s", nvme_bits[i].what);
        if (r >= 0 && h->critical_warning > 0 && (h->critical_warning & ~UINT64_C(0x3f)))
                r = add(&warning, "NVMe critical warning bits 0x%" PRIx64 " set",
                        (uint64_t) h->critical_warning & ~UINT64_C(0x3f));
        if (r >= 0 && h->available_spare >= 0 && h->spare_threshold > 0 && h->available_spare < h->spare_threshold &&
            !(h->critical_warning > 0 && (h->critical_warning & NVME_SMART_CRIT_SPARE)))
                r = add(&failing, "available spare %" PRIi64 "%% below its threshold %" PRIi64 "%%",
                        h->available_spare, h->spare_threshold);
        if (r >= 0 && h->percent_used >= HEALTH_PERCENT_USED_WARNING)
                r = add(&warning, "%" PRIi64 "%% of rated endurance used", h->percent_used);
        if (r >= 0 && h->media_errors > 0)
                r = add(&warning, "%" PRIi64 " media errors", h->media_errors);

        if (r >= 0 && (h->smart_passed == 0 ||
                       (h->smartctl_exit_status > 0 && (h->smartctl_exit_status & SMARTCTL_EXIT_FAILING))))
                r = add(&failing, "SMART overall-health self-assessment: FAILED");
        if (r >= 0 && h->smartctl_exit_status > 0 && (h->smartctl_exit_status & SMARTCTL_EXIT_PREFAIL))
                r = add(&failing, "SMART prefailure attributes at or below their threshold");
        if (r >= 0 && h->smartctl_exit_status > 0 && (h->smartctl_exit_status & SMARTCTL_EXIT_PAST_PREFAIL))
                r = add(&warning, "SMART attributes were at or below their threshold in the past");
        if (r >= 0 && h->smartctl_exit_status > 0 && (h->smartctl_exit_status & SMARTCTL_EXIT_SELFTEST_LOG))
                r = add(&warning, "SMART self-test log records errors");

        if (h->pending_sectors >= 0 || h->offline_uncorrectable >= 0)
                bad_sectors = MAX(h->pending_sectors, 0) + MAX(h->offline_uncorrectable, 0);
        if (r >= 0 && bad_sectors > 0)
                r = add(bad_sectors >= HEALTH_SECTORS_FAILING ? &failing : &warning,
                        "%" PRIi64 " pending or offline uncorrectable sectors", bad_sectors);
        if (r >= 0 && h->reallocated_sectors > 0)
                r = add(h->reallocated_sectors >= HEALTH_REALLOCATED_FAILING ? &failing : &warning,
                        "%" PRIi64 " reallocated sectors", h->reallocated_sectors);
        if (r >= 0 && h->grown_defects > 0)
                r = add(h->grown_defects >= HEALTH_REALLOCATED_FAILING ? &failing : &warning,
                        "%" PRIi64 " grown defects", h->grown_defects);
        if (r >= 0 && h->uncorrected_errors > 0)
                r = add(&warning, "%" PRIi64 " uncorrected read/write/verify errors", h->uncorrected_errors);
        if (r < 0)
                return r;

        strv_free(h->reasons);
        if (failing) {
                h->verdict = HEALTH_FAILING;
                STRV_FOREACH(w, warning)
                        if (strv_extend(&failing, *w) < 0) {
                                h->reasons = NULL;
                                return -ENOMEM;
                        }
                h->reasons = TAKE_PTR(failing);
        } else if (warning) {
                h->verdict = HEALTH_WARNING;
                h->reasons = TAKE_PTR(warning);
        } else {
                h->verdict = HEALTH_OK;
                h->reasons = NULL;
        }
        return 0;
}

char *health_explain(const Health *h) {
        if (h->error)
                return strdup(h->error);
        if (strv_isempty(h->reasons))
                return strdup("");
        return strv_join(h->reasons, "; ");
}

static int set_error(Health *h, const char *fmt, ...) _printf_(2, 3);
static int set_error(Health *h, const char *fmt, ...) {
        va_list ap;
        int r;

        free(h->error);
        va_start(ap, fmt);
        r = vasprintf(&h->error, fmt, ap);
        va_end(ap);
        if (r < 0) {
                h->error = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int read_nvme(Health *h, const HealthReadOptions *o, uint64_t timeout_usec) {
        _cleanup_close_ int fd = -EBADF;
        struct nvme_smart_log log = {};
        struct nvme_get_log_args args = {
                .log = &log,
                .args_size = sizeof(args),
                .timeout = (uint32_t) MIN(timeout_usec / 1000, UINT32_MAX),
                .lid = NVME_LOG_LID_SMART,
                .len = sizeof(log),
                .nsid = NVME_NSID_ALL,
                .csi = NVME_CSI_NVM,
                .lsi = NVME_LOG_LSI_NONE,
                .lsp = NVME_LOG_LSP_NONE,
                .uuidx = NVME_UUID_NONE,
        };
        int r;

        if (!(h->source = strdup("nvme")))
                return -ENOMEM;
        fd = open(o->node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return set_error(h, "Failed to open %s: %s", o->node, strerror(errno));
        args.fd = fd;
        r = nvme_get_log(&args);
        if (r < 0)
                return set_error(h, "Failed to read the NVMe SMART / health log of %s: %s", o->node,
                                 strerror(errno));
        if (r > 0)
                return set_error(h, "NVMe SMART / health log of %s: command status 0x%x", o->node, r);
        health_from_nvme_log(h, &log);
        return 0;
}

static char *first_line(const char *s) {
        size_t n;

        if (!s)
                return NULL;
        n = strcspn(s, "\n");
        return strndup(s, n);
}

static int read_smartctl(Health *h, const HealthReadOptions *o, uint64_t timeout_usec) {
        const char *prog = o->smartctl ?: "smartctl";
        char *argv[] = { (char *) prog, (char *) "--json=c", (char *) "-x", (char *) o->node, NULL };
        _cleanup_(spawn_result_done) SpawnResult res = {};
        int r;

        if (!(h->source = strdup("smartctl")))
                return -ENOMEM;
        r = spawn_capture(argv, NULL,
                          &(SpawnOptions) { .timeout_usec = timeout_usec, .out_max = SMARTCTL_OUTPUT_MAX },
                          &res);
        if (r == -ENOENT)
                return set_error(h, "smartctl is not installed (smartmontools)");
        if (r == -ETIMEDOUT)
                return set_error(h, "smartctl did not answer within %" PRIu64 " s", timeout_usec / USEC_PER_SEC);
        if (r < 0)
                return set_error(h, "Failed to run smartctl: %s", strerror(-r));
        if (res.signal > 0)
                return set_error(h, "smartctl was killed by signal %d", res.signal);
        r = health_from_smartctl_json(h, res.out ?: "", res.status);
        if (r == -EBADMSG) {
                _cleanup_free_ char *line = first_line(res.err);
                return set_error(h, "smartctl (exit status %d) gave no JSON%s%s", res.status,
                                 isempty(line) ? "" : ": ", strempty(line));
        }
        return r;
}

int health_read(const HealthReadOptions *o, Health **ret) {
        _cleanup_(health_freep) Health *h = health_new();
        uint64_t timeout = o->timeout_usec ?: HEALTH_DEFAULT_TIMEOUT_USEC;
        int r;

        if (!h)
                return -ENOMEM;
        h->checked_usec = now_realtime_usec();
        if (o->no_health)
                r = add(&h->reasons, "%s", o->no_health_why ?: "the device reports no health");
        else if (o->nvme)
                r = read_nvme(h, o, timeout);
        else
                r = read_smartctl(h, o, timeout);
        if (r >= 0)
                r = health_evaluate(h);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}

bool health_applies(const Device *d) {
        return d->type == DEVICE_TYPE_DISK || d->type == DEVICE_TYPE_LOOP || d->type == DEVICE_TYPE_MPATH;
}

int health_read_device(const Device *d, const char *sysroot, uint64_t timeout_usec, Health **ret) {
        _cleanup_free_ char *why = NULL, *node = NULL;
        HealthReadOptions o = {
                .kname = d->kname,
                .nvme = d->transport == TRANSPORT_NVME,
                .timeout_usec = timeout_usec,
        };

        if (!isempty(sysroot))
                why = strdup("a captured tree: health is not read");
        else if (d->type != DEVICE_TYPE_DISK) {
                if (asprintf(&why, "%s devices report no health", device_type_to_string(d->type)) < 0)
                        return -ENOMEM;
        } else if (startswith(d->kname, "zram") || startswith(d->kname, "nbd") || startswith(d->kname, "rbd") ||
                   startswith(d->kname, "ram"))
                why = strdup("memory and network block devices report no health");
        else if (d->transport == TRANSPORT_VIRTIO)
                why = strdup("virtio disks report no health");
        else if (d->transport == TRANSPORT_VIRTUAL)
                why = strdup("virtual disks report no health");
        if (why) {
                o.no_health = true;
                o.no_health_why = why;
        } else if (d->path)
                o.node = d->path;
        else {
                if (asprintf(&node, "/dev/%s", d->kname) < 0)
                        return -ENOMEM;
                o.node = node;
        }
        return health_read(&o, ret);
}

static int read_disk(Device *d, const char *sysroot, uint64_t timeout_usec) {
        int r;

        if (d->health || !health_applies(d))
                return 0;
        r = health_read_device(d, sysroot, timeout_usec, &d->health);
        if (r < 0)
                return r;
        if (d->health->error)
                log_debug("%s: %s", d->kname, d->health->error);
        return 0;
}

int health_read_disks(DeviceList *all, const Device *const *devices, size_t n_devices, const char *sysroot,
                      uint64_t timeout_usec) {
        int r = 0;

        if (!devices)
                for (size_t i = 0; r >= 0 && i < all->n; i++)
                        r = read_disk(all->items[i], sysroot, timeout_usec);
        for (size_t i = 0; devices && r >= 0 && i < n_devices; i++) {
                Device *disk;

                if (!devices[i])
                        continue;
                disk = device_list_find(all, devices[i]->parent ?: devices[i]->kname);
                if (disk)
                        r = read_disk(disk, sysroot, timeout_usec);
        }
        if (r < 0)
                return r;
        verdict_apply_health(all);
        return 0;
}
