/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl osd activate: start this node's OSDs, raw, LVM or dm-crypt (at boot, or as a
 * pod's entrypoint). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/osd-util.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/strv.h"
#include "osd-prep/osdlist.h"

static void help_activate(FILE *f) {
        fprintf(f,
"Usage: castlectl osd activate [OPTIONS] --all | ID\n"
"\n"
"Start the OSDs on this node, castle's and ceph-volume's: raw ones found by their BlueStore\n"
"labels whatever the kernel now calls their devices, LVM ones by their ceph.* LV tags (LVs\n"
"activated, dm-crypt volumes opened with the key the monitors keep). Each OSD's directory\n"
"is primed from its label (ceph-bluestore-tool prime-osd-dir) unless it already belongs to\n"
"that OSD, its block (and block.db, block.wal) links are pointed at the devices, and\n"
"ceph-osd is started unless it runs already.\n"
"What a node runs at boot, or a pod as its entrypoint (--start-mode=exec ID).\n"
"\n"
"      --all               every OSD of the cluster (the fsid in the configuration)\n"
"      --start-mode=MODE   auto (default: systemd where it runs, else fork), systemd,\n"
"                          fork, exec (replace this process with `ceph-osd -f`, one ID)\n"
"  -f, --format=FORMAT     text (default) or json\n"
"\n"
OSDCLI_COMMON_HELP);
}

static int activate_option(OsdArgs *a, int c, void *userdata) {
        if (c != ARG_ALL)
                return 0;
        a->all = true;
        return 1;
}

int osdcli_activate(int argc, char *argv[]) {
        static const struct option options[] = {
                { "all", no_argument, NULL, ARG_ALL },
                { "start-mode", required_argument, NULL, ARG_START_MODE },
                OSDCLI_COMMON_OPTIONS,
                {},
        };
        static const OsdVerb verb = { "f:vh", options, activate_option, help_activate };
        OsdArgs a = {};
        ActivateResult *res = NULL;
        size_t n = 0;
        int r, id = -1, failed = 0;

        r = osdcli_parse(&a, &verb, argc, argv, NULL);
        if (r <= 0)
                return osdcli_parse_exit(r);
        if (osdcli_check_format(&a) < 0)
                return EXIT_USAGE;
        if (a.all == (optind < argc) || argc - optind > 1 ||
            (optind < argc && (safe_atoi(argv[optind], &id) < 0 || id < 0))) {
                log_error("castlectl osd activate needs --all or one OSD id (see --help)");
                return EXIT_USAGE;
        }
        if (a.ctx.start == START_EXEC && a.all) {
                log_error("--start-mode=exec runs one OSD in the foreground: give its id instead of --all");
                return EXIT_USAGE;
        }
        r = osd_activate(&a.ctx, id, &res, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot look for OSDs: %m");
                return 1;
        }
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                if (res[i].error)
                        failed++;
                if (osdcli_want_json(&a)) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "osd_id", json_object_new_int(res[i].id));
                        json_object_object_add(o, "device", osdcli_json_string_or_null(res[i].device));
                        json_object_object_add(o, "started", json_object_new_boolean(res[i].started));
                        json_object_object_add(o, "error", osdcli_json_string_or_null(res[i].error));
                        json_object_array_add(arr, o);
                } else if (res[i].error)
                        log_error("osd.%d on %s: %s", res[i].id, res[i].device, res[i].error);
                else
                        printf("osd.%d on %s: %s\n", res[i].id, res[i].device, res[i].started ? "started" : "already running");
        }
        if (osdcli_want_json(&a))
                osdcli_print_json(arr, true);
        else
                json_object_put(arr);
        if (n == 0 && id >= 0) {
                log_error("No OSD with id %d on this node.", id);
                failed++;
        } else if (n == 0 && !osdcli_want_json(&a))
                printf("No OSDs of this cluster on this node.\n");
        activate_results_free(res, n);
        return failed ? 1 : 0;
}
