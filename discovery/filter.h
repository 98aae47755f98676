/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device filters in the style of Rook's deviceFilter/devicePathFilter and cephadm's drive
 * groups: kernel-name regex, path regex (any /dev link), size range, rotational, model,
 * vendor, transport, and a limit. All given filters must match (AND). */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "discovery/device.h"

typedef struct Filter {
        bool has_name_re, has_path_re;
        regex_t name_re;        /* matched against the kernel name ("sda") */
        regex_t path_re;        /* matched against /dev/<kname> and every /dev link */
        uint64_t min_size, max_size;    /* 0: no bound */
        int rotational;         /* -1: any, 0: no, 1: yes */
        char *model, *vendor;   /* glob (fnmatch) if it has *?[, else a substring; case-insensitive */
        int transport;          /* -1: any, else a Transport */
        size_t limit;           /* 0: no limit */
} Filter;

void filter_init(Filter *f);
void filter_done(Filter *f);
/* Returns -EINVAL and a message in ret_error (to free) for a bad regex. */
int filter_set_name_regex(Filter *f, const char *re, char **ret_error);
int filter_set_path_regex(Filter *f, const char *re, char **ret_error);
int filter_set_model(Filter *f, const char *pattern);
int filter_set_vendor(Filter *f, const char *pattern);

bool filter_match(const Filter *f, const Device *d);
/* What an inventory lists without naming devices: whole disks and multipath devices, loop
 * devices when allowed, everything with all. */
bool filter_listed_by_default(const Device *d, bool all, bool allow_loop);
bool filter_pattern_match(const char *pattern, const char *value);
