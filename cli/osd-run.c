/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl osd run: one OSD in the foreground, whatever its kind, for whoever supervises it
 * (castle-osd@.service, a Kubernetes Deployment, a shell): activate it, then become
 * `ceph-osd -f`. The same path as `osd activate --start-mode=exec ID`. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/osd-util.h"
#include "common/fileio.h"
#include "common/log.h"
#include "osd-prep/osdlist.h"
#include "osd-prep/start.h"

static void help_run(FILE *f) {
        fprintf(f,
"Usage: castlectl osd run [OPTIONS] ID\n"
"\n"
"Run one OSD of this node in the foreground: activate it whatever its kind (raw or LVM,\n"
"encrypted or not: LVs activated, LUKS volumes opened, its directory primed from its label,\n"
"its block links set), then replace this process with `ceph-osd -f`, so that its\n"
"supervisor (castle-osd@.service, a Kubernetes Deployment from `castlectl cluster osd\n"
"manifests`) sees the daemon itself: its exit status, its signals.\n"
"Fails (exit 1) if the OSD is not on this node, or if a ceph-osd for it runs already: a\n"
"supervisor must not believe it runs an OSD another one started.\n"
"The same as `castlectl osd activate --start-mode=exec ID`.\n"
"\n"
OSDCLI_COMMON_HELP);
}

int osdcli_run(int argc, char *argv[]) {
        static const struct option options[] = {
                OSDCLI_COMMON_OPTIONS,
                {},
        };
        static const OsdVerb verb = { "f:vh", options, NULL, help_run };
        OsdArgs a = {};
        ActivateResult *res = NULL;
        size_t n = 0;
        pid_t pid;
        int r, id = -1;

        r = osdcli_parse(&a, &verb, argc, argv, NULL);
        if (r <= 0)
                return osdcli_parse_exit(r);
        if (argc - optind != 1 || safe_atoi(argv[optind], &id) < 0 || id < 0) {
                log_error("castlectl osd run needs one OSD id (see --help)");
                return EXIT_USAGE;
        }
        /* Said before the scan: the error a supervisor logs names the daemon in the way. */
        pid = osd_running_pid(id);
        if (pid > 0) {
                log_error("osd.%d runs already (ceph-osd, pid %d), not under this supervisor.", id, (int) pid);
                return 1;
        }
        a.ctx.start = START_EXEC;
        r = osd_activate(&a.ctx, id, &res, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot look for OSDs: %m");
                return 1;
        }
        /* Back here: exec failed, the OSD was not found, or it could not be made ready. */
        if (n == 0)
                log_error("No OSD with id %d of this cluster on this node.", id);
        for (size_t i = 0; i < n; i++) {
                if (res[i].error)
                        log_error("osd.%d on %s: %s", res[i].id, res[i].device, res[i].error);
                else if (!res[i].started)
                        log_error("osd.%d on %s runs already, not under this supervisor.", res[i].id,
                                  res[i].device);
        }
        activate_results_free(res, n);
        return 1;
}
