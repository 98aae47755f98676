/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inventory output formats: a table for people, castle's JSON (the Inventory proto message),
 * and ceph-volume's `inventory --format json` layout for tools that parse ceph-volume. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "discovery/devscan.h"

typedef enum OutputFormat {
        OUTPUT_TABLE,
        OUTPUT_JSON,
        OUTPUT_CEPH_VOLUME,
        _OUTPUT_FORMAT_MAX,
} OutputFormat;

OutputFormat output_format_from_string(const char *s);

int format_table(FILE *f, const ScanResult *scan, Device *const *devices, size_t n, bool headings);
int format_json(FILE *f, const ScanResult *scan, Device *const *devices, size_t n, const char *sysroot);
int format_ceph_volume(FILE *f, const ScanResult *scan, Device *const *devices, size_t n);
