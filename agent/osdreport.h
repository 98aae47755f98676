/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent says of its OSDs in every heartbeat: their daemons' states, the removals in
 * progress and the reserved ids. Three lists, each kept by the module that knows it (the OSD
 * supervisor watch, the removal runner, the replacement watch), copied in whole when they
 * change; every session's heartbeat points at them. A change is said at once: a setter tells
 * whether its list changed, and the caller then sends a heartbeat. */
#pragma once

#include <stddef.h>

#include "proto/castle.pb-c.h"

typedef struct OsdReport OsdReport;

int osd_report_new(OsdReport **ret);
OsdReport *osd_report_free(OsdReport *r);

/* Replace one list with a copy of v[0..n): 1 when it differs from the list it replaces, 0 when
 * it is the same, -ENOMEM (the old list stays). */
int osd_report_set_states(OsdReport *r, Castle__OsdState *const *v, size_t n);
int osd_report_set_removals(OsdReport *r, Castle__OsdRemoval *const *v, size_t n);
int osd_report_set_reservations(OsdReport *r, Castle__OsdReservation *const *v, size_t n);

/* Points h's osds, removals and reservations at the report's lists (valid until the next set). */
void osd_report_fill(const OsdReport *r, Castle__Heartbeat *h);
