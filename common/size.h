/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Byte sizes as people write them ("5G", "500MiB", "1T") and as tables print them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Suffixes K, M, G, T, P (optionally followed by "iB" or "B") are powers of 1024, as in
 * lsblk and ceph-volume; a plain number is bytes. */
int parse_size(const char *s, uint64_t *ret);
/* "5.0G", "512M", "0B": one decimal below 10 units, like lsblk. */
char *format_size(uint64_t bytes, char *buf, size_t len);
#define FORMAT_SIZE_MAX 16
