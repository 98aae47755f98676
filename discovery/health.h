/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One whole disk's health: NVMe's SMART / health information log page through libnvme, or
 * smartctl's JSON (the form Ceph's devicehealth module scrapes) for ATA and SCSI disks, and a
 * verdict drawn from those metrics by pure functions that the unit tests feed captured data. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct nvme_smart_log;

typedef enum HealthVerdict {
        HEALTH_UNKNOWN,         /* not read, a device that reports no health, or the read failed */
        HEALTH_OK,
        HEALTH_WARNING,
        HEALTH_FAILING,
        _HEALTH_VERDICT_MAX,
} HealthVerdict;

/* Thresholds of the verdict (docs/health.md). */
#define HEALTH_PERCENT_USED_WARNING 90          /* NVMe percentage used: worn out soon */
#define HEALTH_SECTORS_FAILING 8                /* ATA pending + offline uncorrectable sectors */
#define HEALTH_REALLOCATED_FAILING 100          /* ATA reallocated / SCSI grown defects */

/* smartctl's exit status bits (smartctl(8), "RETURN VALUES"). */
enum {
        SMARTCTL_EXIT_CMDLINE = 1 << 0,         /* command line did not parse */
        SMARTCTL_EXIT_OPEN = 1 << 1,            /* device open failed, or in a low-power mode */
        SMARTCTL_EXIT_COMMAND = 1 << 2,         /* some SMART or ATA command failed */
        SMARTCTL_EXIT_FAILING = 1 << 3,         /* SMART status check returned "DISK FAILING" */
        SMARTCTL_EXIT_PREFAIL = 1 << 4,         /* prefail attributes at or below threshold */
        SMARTCTL_EXIT_PAST_PREFAIL = 1 << 5,    /* usage or prefail attributes were in the past */
        SMARTCTL_EXIT_ERROR_LOG = 1 << 6,       /* the device error log holds errors */
        SMARTCTL_EXIT_SELFTEST_LOG = 1 << 7,    /* the self-test log holds errors */
};

/* Every metric is -1 when the disk did not report it. */
typedef struct Health {
        HealthVerdict verdict;
        char **reasons;                 /* why warning, failing or unknown */
        char *source;                   /* "nvme", "smartctl", NULL: nothing was read */
        int64_t checked_usec;           /* realtime; 0: never */
        char *error;                    /* why the read failed */

        int64_t critical_warning, media_errors, percent_used, available_spare, spare_threshold;
        int64_t temperature_celsius, power_on_hours;
        int64_t reallocated_sectors, pending_sectors, offline_uncorrectable;
        int64_t grown_defects, uncorrected_errors;
        int64_t smart_passed;           /* 1, 0 (FAILED), -1 */
        int64_t smartctl_exit_status;
} Health;

/* Every metric -1, verdict unknown. */
Health *health_new(void);
Health *health_free(Health *h);
void health_freep(Health **h);
int health_copy(const Health *h, Health **ret);
/* True if the two differ in what an operator acts on (verdict, reasons, source, error), not in
 * metrics that move on their own (temperature, power-on hours). */
bool health_same_verdict(const Health *a, const Health *b);

const char *health_verdict_to_string(HealthVerdict v);
/* _HEALTH_VERDICT_MAX for an unknown name. */
HealthVerdict health_verdict_from_string(const char *s);

/* Fill the metrics from an NVMe SMART / health log page (little endian, as the device gives it). */
void health_from_nvme_log(Health *h, const struct nvme_smart_log *log);
/* Fill the metrics from smartctl --json=c -x output and its exit status (-1: unknown). */
int health_from_smartctl_json(Health *h, const char *json, int exit_status);
/* The verdict and its reasons from the metrics and the source; the rules are in docs/health.md.
 * A Health without source is unknown (its reasons or error say why). */
int health_evaluate(Health *h);
/* The reasons as one line ("NVMe critical warning: ...; 3 pending sectors"), NULL on OOM. */
char *health_explain(const Health *h);

typedef struct HealthReadOptions {
        const char *kname;              /* nvme0n1, sda */
        const char *node;               /* /dev/nvme0n1 */
        bool nvme;                      /* transport is NVMe: read the log page */
        bool no_health;                 /* loop, dm, md...: unknown, no read */
        const char *no_health_why;      /* "loop devices report no health" */
        const char *smartctl;           /* NULL: "smartctl" from PATH */
        uint64_t timeout_usec;          /* 0: HEALTH_DEFAULT_TIMEOUT_USEC */
} HealthReadOptions;

#define HEALTH_DEFAULT_TIMEOUT_USEC (30 * UINT64_C(1000000))

/* Reads the disk's health now and evaluates it. Always returns a reading in *ret (unknown with
 * error set when the read failed); returns -ENOMEM only. */
int health_read(const HealthReadOptions *o, Health **ret);

struct Device;
/* True for the devices whose health is read: whole disks and the devices listed with them
 * (loop, multipath), which then say why they report none. */
bool health_applies(const struct Device *d);
/* health_read() for a device of a scan: NVMe through its log page, loop, dm, md, multipath
 * and virtio disks as unknown with the reason, the rest through smartctl. sysroot: a captured
 * tree, whose disks cannot be read (unknown). */
int health_read_device(const struct Device *d, const char *sysroot, uint64_t timeout_usec, Health **ret);

struct DeviceList;
/* Reads now the health of the disks of a scan that have none yet, one after the other, each
 * with its own deadline: every disk when devices is NULL, else the whole disks of the devices
 * given (partitions: their disk). A read that fails leaves the disk unknown (logged at debug
 * level). Then a failing disk and its partitions become unavailable (verdict_apply_health()).
 * Returns -ENOMEM only. */
int health_read_disks(struct DeviceList *all, const struct Device *const *devices, size_t n_devices,
                      const char *sysroot, uint64_t timeout_usec);
