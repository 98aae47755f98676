/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's picture of its node: the reported devices as castle.Device messages, keyed as
 * the coordinator keys them, and the difference between two pictures (a Delta). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "discovery/devscan.h"
#include "discovery/filter.h"
#include "proto/castle.pb-c.h"

typedef struct ReportEntry {
        char *key;              /* stable_id, or "kname:<kname>" without one */
        Castle__Device *msg;
        uint8_t *packed;        /* for cheap comparison */
        size_t size;
} ReportEntry;

typedef struct Report {
        ReportEntry *entries;   /* sorted by key */
        size_t n;
        unsigned extra_refs;    /* report_ref()s that report_free() has not dropped yet */
} Report;

typedef struct ReportSelection {
        const Filter *filter;
        bool all, allow_loop;
} ReportSelection;

int report_build(const ScanResult *scan, const ReportSelection *sel, Report **ret);
/* A report is not changed once built: several sessions (one per coordinator) hold the same one.
 * report_ref() adds an owner; report_free() drops one and frees the report with the last. */
Report *report_ref(Report *r);
Report *report_free(Report *r);
void report_freep(Report **r);

/* Devices of next that are new or differ from prev, and keys of prev gone from next. The
 * arrays (to free) point into next's and prev's entries. */
int report_diff(const Report *prev, const Report *next, Castle__Device ***ret_changed, size_t *ret_n_changed,
                char ***ret_removed, size_t *ret_n_removed);
/* All devices, for a snapshot. */
int report_devices(const Report *r, Castle__Device ***ret, size_t *ret_n);
