/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Aligned text tables, like lsblk's and `ceph orch device ls`: every column as wide as its
 * widest cell, the last one not padded. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

typedef struct Table Table;

Table *table_new(const char *const *headers, size_t n_columns);
Table *table_free(Table *t);
/* Adds a row of n_columns cells (copied, control characters escaped; NULL prints as "-"). */
int table_add_row(Table *t, const char *const *cells);
void table_print(const Table *t, FILE *f, bool headings);
