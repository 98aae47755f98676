/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster osd replace ID --device NODE:DEVICE: the operator gives an id that NODE
 * holds reserved (a removal with --replace) to a disk of that node in any slot. The node's
 * agent checks that the id is reserved there and the disk available, and prepares it with the
 * id in the old OSD's layout through its job runner; the JobUpdates come back here. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cluster.h"
#include "common/log.h"
#include "common/macro.h"

int cluster_osd_replace(ClusterArgs *a, const char *id) {
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__OsdReplace m = CASTLE__OSD_REPLACE__INIT;
        _cleanup_free_ char *node = NULL;
        const char *colon;
        char *end;
        long v;

        errno = 0;
        v = strtol(id, &end, 10);
        if (errno != 0 || end == id || *end || v < 0 || v > INT_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "'%s' is not an OSD id.", id);
        colon = strchr(a->device, ':');
        if (!colon || colon == a->device || isempty(colon + 1))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "--device: '%s' is not NODE:DEVICE (a node id, a colon, a stable id or /dev path).",
                                       a->device);
        node = strndup(a->device, (size_t) (colon - a->device));
        if (!node)
                return log_oom();
        m.osd_id = (int32_t) v;
        m.device = (char *) colon + 1;
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_REPLACE;
        cmd.osd_replace = &m;
        return cluster_run_node_command(a, node, &cmd);
}
