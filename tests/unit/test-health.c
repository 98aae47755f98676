/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk health verdicts: captured smartctl JSON (tests/data/smartctl/) and NVMe SMART log pages
 * built by hand, each with the verdict and reasons it must give; and HEALTH_FAILING in the
 * availability verdict of the disk and its partitions. */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <nvme/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/strv.h"
#include "discovery/health.h"
#include "discovery/verdict.h"

static Health *from_capture(const char *name) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t size;
        Health *h = health_new();

        assert_non_null(h);
        assert_true(asprintf(&path, "%s/smartctl/%s", TEST_DATA_DIR, name) > 0);
        assert_int_equal(read_full_file_at(AT_FDCWD, path, 1 << 20, &text, &size), 0);
        h->source = strdup("smartctl");
        assert_int_equal(health_from_smartctl_json(h, text, -1), 0);
        assert_int_equal(health_evaluate(h), 0);
        return h;
}

static bool has_reason(const Health *h, const char *part) {
        STRV_FOREACH(r, h->reasons)
                if (strstr(*r, part))
                        return true;
        return false;
}

static void test_ata_healthy(void **state) {
        _cleanup_(health_freep) Health *h = from_capture("ata-healthy.json");

        assert_int_equal(h->verdict, HEALTH_OK);
        assert_null(h->reasons);
        assert_int_equal(h->smart_passed, 1);
        assert_int_equal(h->reallocated_sectors, 0);
        assert_int_equal(h->pending_sectors, 0);
        assert_int_equal(h->offline_uncorrectable, 0);
        assert_int_equal(h->temperature_celsius, 34);
        assert_int_equal(h->power_on_hours, 18712);
        assert_int_equal(h->smartctl_exit_status, 0);
        assert_int_equal(h->percent_used, -1);
        assert_int_equal(h->critical_warning, -1);
        assert_null(h->error);
}

static void test_ata_pending(void **state) {
        _cleanup_(health_freep) Health *h = from_capture("ata-pending.json");

        /* 24 pending + 8 offline uncorrectable: at or above the threshold */
        assert_int_equal(h->verdict, HEALTH_FAILING);
        assert_int_equal(h->pending_sectors, 24);
        assert_int_equal(h->offline_uncorrectable, 8);
        assert_int_equal(h->reallocated_sectors, 16);
        assert_true(has_reason(h, "32 pending or offline uncorrectable sectors"));
        assert_true(has_reason(h, "16 reallocated sectors"));
        assert_true(has_reason(h, "self-test log"));
        /* failing reasons come first */
        assert_non_null(strstr(h->reasons[0], "pending"));
}

static void test_ata_failed(void **state) {
        _cleanup_(health_freep) Health *h = from_capture("ata-failed.json");
        _cleanup_free_ char *why = NULL;

        assert_int_equal(h->verdict, HEALTH_FAILING);
        assert_int_equal(h->smart_passed, 0);
        assert_int_equal(h->smartctl_exit_status, 24);
        assert_true(has_reason(h, "FAILED"));
        assert_true(has_reason(h, "prefailure"));
        assert_true(has_reason(h, "4088 reallocated sectors"));
        why = health_explain(h);
        assert_non_null(why);
        assert_non_null(strstr(why, "; "));
}

static void test_scsi_qemu(void **state) {
        _cleanup_(health_freep) Health *h = from_capture("scsi-qemu.json");

        /* a qemu SCSI disk: smartctl runs, but there is nothing to judge */
        assert_int_equal(h->verdict, HEALTH_UNKNOWN);
        assert_true(has_reason(h, "no health data"));
        assert_int_equal(h->smartctl_exit_status, 4);
        assert_null(h->error);
}

static void test_scsi_sas(void **state) {
        _cleanup_(health_freep) Health *h = from_capture("scsi-sas.json");

        assert_int_equal(h->verdict, HEALTH_WARNING);
        assert_int_equal(h->grown_defects, 3);
        assert_int_equal(h->uncorrected_errors, 0);
        assert_int_equal(h->temperature_celsius, 31);
        assert_int_equal(h->power_on_hours, 42176);
        assert_true(has_reason(h, "3 grown defects"));
}

static void test_smartctl_nvme(void **state) {
        _cleanup_(health_freep) Health *h = from_capture("nvme-wornout.json");

        assert_int_equal(h->verdict, HEALTH_WARNING);
        assert_int_equal(h->percent_used, 93);
        assert_int_equal(h->available_spare, 100);
        assert_int_equal(h->spare_threshold, 10);
        assert_true(has_reason(h, "93% of rated endurance used"));
}

static void test_open_failed(void **state) {
        _cleanup_(health_freep) Health *h = from_capture("open-failed.json");

        assert_int_equal(h->verdict, HEALTH_UNKNOWN);
        assert_non_null(h->error);
        assert_non_null(strstr(h->error, "Unable to detect device type"));
}

static void test_garbage(void **state) {
        _cleanup_(health_freep) Health *h = health_new();

        assert_int_equal(health_from_smartctl_json(h, "not json", 0), -EBADMSG);
        assert_int_equal(health_from_smartctl_json(h, "[1,2]", 0), -EBADMSG);
        /* hostile types are ignored, not trusted */
        assert_int_equal(health_from_smartctl_json(h, "{\"smart_status\":{\"passed\":\"no\"},"
                                                      "\"temperature\":{\"current\":\"hot\"},"
                                                      "\"ata_smart_attributes\":{\"table\":{\"id\":5}}}", 0), 0);
        assert_int_equal(h->smart_passed, -1);
        assert_int_equal(h->temperature_celsius, -1);
        assert_int_equal(h->reallocated_sectors, -1);
}

static void nvme_log(struct nvme_smart_log *log, uint8_t warning, unsigned kelvin, uint8_t spare, uint8_t thresh,
                     uint8_t used, uint64_t media_errors) {
        memset(log, 0, sizeof *log);
        log->critical_warning = warning;
        log->temperature[0] = kelvin & 0xff;
        log->temperature[1] = kelvin >> 8;
        log->avail_spare = spare;
        log->spare_thresh = thresh;
        log->percent_used = used;
        for (int i = 0; i < 8; i++)
                log->media_errors[i] = (uint8_t) (media_errors >> (8 * i));
        log->power_on_hours[0] = 0x10;
        log->power_on_hours[1] = 0x27; /* 10000 */
}

static HealthVerdict nvme_verdict(const struct nvme_smart_log *log, Health **ret) {
        Health *h = health_new();

        assert_non_null(h);
        h->source = strdup("nvme");
        health_from_nvme_log(h, log);
        assert_int_equal(health_evaluate(h), 0);
        *ret = h;
        return h->verdict;
}

static void test_nvme(void **state) {
        struct nvme_smart_log log;
        Health *h;

        nvme_log(&log, 0, 273 + 35, 100, 10, 3, 0);
        assert_int_equal(nvme_verdict(&log, &h), HEALTH_OK);
        assert_int_equal(h->temperature_celsius, 35);
        assert_int_equal(h->power_on_hours, 10000);
        assert_int_equal(h->media_errors, 0);
        h = health_free(h);

        /* each critical warning bit: spare, reliability, read-only, volatile backup fail */
        for (unsigned bit = 0; bit < 6; bit++) {
                nvme_log(&log, (uint8_t) (1u << bit), 273 + 35, 100, 10, 3, 0);
                assert_int_equal(nvme_verdict(&log, &h), bit == 1 ? HEALTH_WARNING : HEALTH_FAILING);
                assert_true(has_reason(h, "NVMe critical warning"));
                h = health_free(h);
        }
        /* qemu's smart_critical_warning=8: read-only media */
        nvme_log(&log, 8, 273 + 35, 100, 10, 3, 0);
        assert_int_equal(nvme_verdict(&log, &h), HEALTH_FAILING);
        assert_true(has_reason(h, "read-only"));
        h = health_free(h);

        /* spare below threshold without the bit */
        nvme_log(&log, 0, 273 + 35, 5, 10, 3, 0);
        assert_int_equal(nvme_verdict(&log, &h), HEALTH_FAILING);
        assert_true(has_reason(h, "available spare 5% below its threshold 10%"));
        h = health_free(h);

        /* worn out, and media errors: warnings */
        nvme_log(&log, 0, 273 + 35, 100, 10, 90, 0);
        assert_int_equal(nvme_verdict(&log, &h), HEALTH_WARNING);
        h = health_free(h);
        nvme_log(&log, 0, 273 + 35, 100, 10, 89, 0);
        assert_int_equal(nvme_verdict(&log, &h), HEALTH_OK);
        h = health_free(h);
        nvme_log(&log, 0, 0, 100, 10, 3, 7);
        assert_int_equal(nvme_verdict(&log, &h), HEALTH_WARNING);
        assert_true(has_reason(h, "7 media errors"));
        assert_int_equal(h->temperature_celsius, -1); /* 0 K: not reported */
        h = health_free(h);
}

static void test_unknown(void **state) {
        HealthReadOptions o = { .kname = "loop0", .no_health = true, .no_health_why = "loop devices report no health" };
        _cleanup_(health_freep) Health *h = NULL;

        assert_int_equal(health_read(&o, &h), 0);
        assert_int_equal(h->verdict, HEALTH_UNKNOWN);
        assert_null(h->source);
        assert_true(has_reason(h, "loop devices report no health"));
        assert_true(h->checked_usec > 0);
}

static void test_smartctl_missing(void **state) {
        HealthReadOptions o = { .kname = "sdq", .node = "/dev/sdq", .smartctl = "/nonexistent/smartctl" };
        _cleanup_(health_freep) Health *h = NULL;

        assert_int_equal(health_read(&o, &h), 0);
        assert_int_equal(h->verdict, HEALTH_UNKNOWN);
        assert_non_null(h->error);
        assert_non_null(strstr(h->error, "not installed"));
}

static void test_names_and_copy(void **state) {
        _cleanup_(health_freep) Health *a = from_capture("ata-pending.json"), *b = NULL;

        for (HealthVerdict v = 0; v < _HEALTH_VERDICT_MAX; v++)
                assert_int_equal(health_verdict_from_string(health_verdict_to_string(v)), v);
        assert_int_equal(health_verdict_from_string("bad"), _HEALTH_VERDICT_MAX);
        assert_int_equal(health_copy(a, &b), 0);
        assert_true(health_same_verdict(a, b));
        b->temperature_celsius = 60; /* metrics move: the same verdict */
        assert_true(health_same_verdict(a, b));
        b->verdict = HEALTH_WARNING;
        assert_false(health_same_verdict(a, b));
}

/* The availability verdict: a failing disk and its partitions are refused. */
static void test_verdict_reason(void **state) {
        _cleanup_(device_list_freep) DeviceList *all = device_list_new();
        Device *disk = device_new("sdb"), *part = device_new("sdb1");
        VerdictOptions o = {};
        _cleanup_free_ char *why = NULL;

        assert_non_null(all);
        disk->type = DEVICE_TYPE_DISK;
        disk->size = UINT64_C(10) << 30;
        disk->probed = true;
        disk->stable_id = strdup("wwn-0x5000c500a1b2c3d4");
        part->type = DEVICE_TYPE_PART;
        part->size = UINT64_C(9) << 30;
        part->probed = true;
        part->parent = strdup("sdb");
        part->stable_id = strdup("wwn-0x5000c500a1b2c3d4-part1");
        assert_int_equal(device_list_add(all, disk), 0);
        assert_int_equal(device_list_add(all, part), 0);

        verdict_evaluate(disk, NULL, all, &o);
        assert_true(disk->available);

        disk->health = from_capture("ata-healthy.json");
        verdict_apply_health(all);
        assert_true(disk->available);

        disk->health = health_free(disk->health);
        disk->health = from_capture("ata-failed.json");
        verdict_apply_health(all);
        assert_false(disk->available);
        assert_true(disk->reasons & REASON_BIT(REASON_HEALTH_FAILING));
        assert_true(part->reasons & REASON_BIT(REASON_HEALTH_FAILING));
        assert_false(part->available);

        /* verdict_evaluate() keeps it too */
        verdict_evaluate(disk, NULL, all, &o);
        assert_int_equal(disk->reasons, REASON_BIT(REASON_HEALTH_FAILING));
        why = verdict_explain(disk, all);
        assert_non_null(why);
        assert_non_null(strstr(why, "Disk health is failing (SMART overall-health self-assessment: FAILED"));
        assert_string_equal(reason_code_name(REASON_HEALTH_FAILING), "health_failing");
        assert_int_equal(REASON_HEALTH_FAILING, 26);

        /* a warning does not refuse the disk */
        disk->health = health_free(disk->health);
        disk->health = from_capture("scsi-sas.json");
        verdict_evaluate(disk, NULL, all, &o);
        assert_true(disk->available);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ata_healthy),
                cmocka_unit_test(test_ata_pending),
                cmocka_unit_test(test_ata_failed),
                cmocka_unit_test(test_scsi_qemu),
                cmocka_unit_test(test_scsi_sas),
                cmocka_unit_test(test_smartctl_nvme),
                cmocka_unit_test(test_open_failed),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_nvme),
                cmocka_unit_test(test_unknown),
                cmocka_unit_test(test_smartctl_missing),
                cmocka_unit_test(test_names_and_copy),
                cmocka_unit_test(test_verdict_reason),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
