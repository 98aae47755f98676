/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Clocks in microseconds: monotonic for durations and deadlines, realtime for what is stored
 * or shown as a date. */
#pragma once

#include <stdint.h>

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MINUTE)
#define USEC_PER_DAY (24 * USEC_PER_HOUR)

/* CLOCK_MONOTONIC. */
uint64_t now_usec(void);
/* CLOCK_REALTIME: microseconds since the Unix epoch. */
int64_t now_realtime_usec(void);

/* A point in time as a user writes it, in Unix microseconds: a Unix time in seconds
 * ("1765000000"), an ISO 8601 date or date and time ("2026-12-06", "2026-12-06T11:30",
 * "2026-12-06 11:30:15"; local time, or UTC with a trailing Z), or a duration before now
 * ("1h", "30min", "2d": see conf_parse_duration()). -EINVAL if it is none of them. */
int parse_timestamp(const char *s, int64_t now_usec, int64_t *ret_usec);
