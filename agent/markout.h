/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The optional mark-out of OSDs whose disk turns failing ([osd] health-mark-out): after each
 * look at the node's OSDs and their data disks' health, which OSDs to mark out now. Each OSD
 * is marked once per failing episode: again only after its disk was seen not failing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct MarkOut MarkOut;

/* One OSD of the node and its data disk as the last scan saw them. */
typedef struct MarkOutOsd {
        int osd_id;
        bool failing;           /* the disk's health verdict is failing */
} MarkOutOsd;

int mark_out_new(MarkOut **ret);
MarkOut *mark_out_free(MarkOut *m);

/* The OSDs of osds to mark out now (enabled: the option is on), in *ret (to free, NULL when
 * none) and *ret_n; they are not asked for again in this episode unless their mark-out
 * fails. An OSD whose disk is not failing any more, or that is gone, ends its episode.
 * Returns -ENOMEM only. */
int mark_out_decide(MarkOut *m, bool enabled, const MarkOutOsd *osds, size_t n, int **ret, size_t *ret_n);

/* How an OSD's mark-out ended: done, it counts; failed (the monitors unreachable, the key
 * refused), the next decision asks for it again. */
void mark_out_result(MarkOut *m, int osd_id, bool ok);

/* OSDs marked out so far (for the metric). */
unsigned long mark_out_count(const MarkOut *m);
