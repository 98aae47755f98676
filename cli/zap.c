/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl zap: destroy what is on devices (or on an OSD's devices) so that they can be
 * used again; the checks and the wipe are osd-prep/zap's. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/osd-util.h"
#include "common/log.h"
#include "common/strv.h"
#include "osd-prep/zap.h"

static void help_zap(FILE *f) {
        fprintf(f,
"Usage: castlectl zap [OPTIONS] DEVICE...\n"
"       castlectl zap [OPTIONS] --osd-id=ID | --osd-fsid=UUID\n"
"\n"
"Destroy what is on a device so that it can be used again: every signature libblkid finds\n"
"(filesystems, LVM, LUKS, RAID, partition tables with their backups), every BlueStore label\n"
"and its copies at 1, 10, 100 and 1000 GiB, and the first 10 MiB. The inventory then\n"
"reports the device available. THIS DESTROYS THE DATA ON IT.\n"
"\n"
"Never zapped: the disk the system runs from; a device that is mounted, used as swap, or\n"
"held open by someone else; a device whose OSD is running here or is up in the osd map\n"
"(stop it and mark it down first). A disk with partitions has each partition zapped; its\n"
"partition table is removed only with --destroy.\n"
"\n"
"      --destroy           also remove the partition table of a partitioned disk\n"
"      --osd-id=ID         zap every device of this OSD on this node\n"
"      --osd-fsid=UUID     zap every device of the OSD with this uuid\n"
"      --dry-run           say what would be zapped and change nothing\n"
"  -f, --format=FORMAT     text (default) or json\n"
"      --progress=json     a progress line when it starts, and one result object (result,\n"
"                          device, message, error) as the last line, for castle-agent\n"
"\n"
OSDCLI_COMMON_HELP
"\n"
"Exit status: 0 when every device was zapped, 1 if any was refused or failed, 2 on a\n"
"usage error.\n");
}

static void progress_line(const char *message) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "step", json_object_new_string("zap"));
        json_object_object_add(o, "percent", json_object_new_int(0));
        json_object_object_add(o, "message", json_object_new_string(message));
        osdcli_print_json(o, false);
}

/* --progress=json's last line, which castle-agent's job runner takes for the job's end. */
static void result_line(const char *device, const char *message, const char *error) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "result", json_object_new_boolean(!error));
        json_object_object_add(o, "device", osdcli_json_string_or_null(device));
        json_object_object_add(o, "osd_id", json_object_new_int(-1));
        json_object_object_add(o, "message", osdcli_json_string_or_null(message));
        json_object_object_add(o, "error", osdcli_json_string_or_null(error));
        osdcli_print_json(o, false);
}

static int zap_option(OsdArgs *a, int c, void *userdata) {
        switch (c) {
        case ARG_DESTROY:
                a->zap.destroy = true;
                return 1;
        case ARG_OSD_FSID:
                a->zap.osd_fsid = optarg;
                return 1;
        default:
                return 0;
        }
}

int cmd_zap(int argc, char *argv[]) {
        static const struct option options[] = {
                { "destroy", no_argument, NULL, ARG_DESTROY },
                { "osd-id", required_argument, NULL, ARG_OSD_ID },
                { "osd-fsid", required_argument, NULL, ARG_OSD_FSID },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "progress", required_argument, NULL, ARG_PROGRESS },
                OSDCLI_COMMON_OPTIONS,
                {},
        };
        static const OsdVerb verb = { "f:vh", options, zap_option, help_zap };
        OsdArgs a = { .zap.osd_id = -1 };
        ZapResult *res = NULL;
        size_t n = 0;
        bool json;
        int r, failed = 0;

        r = osdcli_parse(&a, &verb, argc, argv, NULL);
        if (r <= 0)
                return osdcli_parse_exit(r);
        if (osdcli_check_format(&a) < 0)
                return EXIT_USAGE;
        a.zap.devices = argv + optind;
        if ((optind < argc) == (a.zap.osd_id >= 0 || a.zap.osd_fsid != NULL)) {
                log_error("castlectl zap needs devices, or --osd-id / --osd-fsid (see --help)");
                return EXIT_USAGE;
        }
        if (a.progress && !streq(a.progress, "json")) {
                log_error("--progress: '%s' is not json", a.progress);
                return EXIT_USAGE;
        }
        json = streq_ptr(a.progress, "json");
        if (json) {
                _cleanup_free_ char *what = strv_join(a.zap.devices, " ");
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "zapping %s", strempty(what)) >= 0)
                        progress_line(msg);
        }
        r = osd_zap(&a.ctx, &a.zap, &res, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot zap: %m");
                if (json)
                        result_line(NULL, NULL, strerror(-r));
                return 1;
        }
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                const ZapResult *z = &res[i];
                if (z->error)
                        failed++;
                if (osdcli_want_json(&a)) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "device", osdcli_json_string_or_null(z->device));
                        json_object_object_add(o, "zapped", json_object_new_boolean(z->zapped));
                        json_object_object_add(o, "erased", osdcli_json_strv(z->erased));
                        json_object_object_add(o, "error", osdcli_json_string_or_null(z->error));
                        json_object_array_add(arr, o);
                } else if (z->error)
                        log_error("%s: %s", z->device, z->error);
                else {
                        _cleanup_free_ char *what = strv_join(z->erased, ", ");
                        printf("%s: %s%s%s\n", z->device, a.zap.dry_run ? "would be zapped" : "zapped",
                               isempty(what) ? "" : ": ", strempty(what));
                }
        }
        if (osdcli_want_json(&a))
                osdcli_print_json(arr, true);
        else
                json_object_put(arr);
        if (n == 0) {
                log_error("Nothing to zap: no device of that OSD on this node.");
                failed++;
        }
        if (json) {
                /* the agent's job: one line for the whole zap, the first failure its error */
                _cleanup_free_ char *msg = NULL, *error = NULL;
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *what = strv_join(res[i].erased, ", ");
                        char *m;
                        if (res[i].error && !error)
                                (void) asprintf(&error, "%s: %s", res[i].device, res[i].error);
                        if (res[i].error)
                                continue;
                        if (asprintf(&m, "%s%s%s: %s%s%s", strempty(msg), msg ? "; " : "", res[i].device,
                                     a.zap.dry_run ? "would be zapped" : "zapped", isempty(what) ? "" : ": ",
                                     strempty(what)) < 0)
                                break;
                        free(msg);
                        msg = m;
                }
                result_line(n > 0 ? res[0].device : NULL, msg,
                            error ?: (n == 0 ? "nothing to zap: no device of that OSD on this node" : NULL));
        }
        zap_results_free(res, n);
        return failed ? 1 : 0;
}
