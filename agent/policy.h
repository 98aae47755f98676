/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node's OSD policy: "prepare every available device matching these filters", off by
 * default. Set by the agent's configuration, replaced by a Policy the coordinator pushes.
 * Each device is tried once per agent run, whatever the outcome: a failure is reported, not
 * retried in a loop. */
#pragma once

#include <regex.h>
#include <stdbool.h>

#include "proto/castle.pb-c.h"

typedef struct Policy {
        bool auto_prepare;
        bool has_name, has_path;
        regex_t name, path;
        char *crush_class;
        char **tried;           /* stable ids already handed to a job */
} Policy;

/* Empty filters match everything. On a bad regex, *error says which. */
int policy_set(Policy *p, bool auto_prepare, const char *name_filter, const char *path_filter,
               const char *crush_class, char **error);
void policy_done(Policy *p);

/* True if d should be prepared now; marks it as tried. */
bool policy_take(Policy *p, const Castle__Device *d);
