/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl osd list: every OSD on this node, castle's and ceph-volume's, as a table or
 * JSON. Reads only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/osd-util.h"
#include "cli/table.h"
#include "common/log.h"
#include "common/strv.h"
#include "osd-prep/osdlist.h"

static void help_list(FILE *f) {
        fprintf(f,
"Usage: castlectl osd list [OPTIONS]\n"
"\n"
"Every OSD on this node, castle's and ceph-volume's: raw OSDs by their BlueStore labels,\n"
"LVM OSDs by their ceph.* LV tags. Reads only.\n"
"\n"
"  -f, --format=FORMAT     table (default) or json\n"
"  -n, --no-headings       table without the heading line\n"
"\n"
OSDCLI_COMMON_HELP);
}

static int list_option(OsdArgs *a, int c, void *userdata) {
        bool *headings = userdata;

        if (c != 'n')
                return 0;
        *headings = false;
        return 1;
}

int osdcli_list(int argc, char *argv[]) {
        static const struct option options[] = {
                { "no-headings", no_argument, NULL, 'n' },
                OSDCLI_COMMON_OPTIONS,
                {},
        };
        static const OsdVerb verb = { "f:nvh", options, list_option, help_list };
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        _cleanup_(osd_list_done) OsdList l = {};
        OsdArgs a = {};
        bool headings = true;
        int r;

        r = osdcli_parse(&a, &verb, argc, argv, &headings);
        if (r <= 0)
                return osdcli_parse_exit(r);
        if (osdcli_check_format(&a) < 0 || optind < argc) {
                log_error("castlectl osd list takes no arguments (see --help)");
                return EXIT_USAGE;
        }
        r = devscan_run(&a.ctx.scan, &scan);
        if (r >= 0)
                r = osd_list_build(scan->devices, &l);
        if (r < 0) {
                log_error_errno(r, "Cannot list the OSDs: %m");
                return 1;
        }
        if (osdcli_want_json(&a)) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < l.n; i++) {
                        const OsdEntry *e = &l.items[i];
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "osd_id", json_object_new_int(e->id));
                        json_object_object_add(o, "osd_uuid", osdcli_json_string_or_null(e->uuid));
                        json_object_object_add(o, "cluster_fsid", osdcli_json_string_or_null(e->cluster_fsid));
                        json_object_object_add(o, "kind", osdcli_json_string_or_null(e->kind));
                        json_object_object_add(o, "type", osdcli_json_string_or_null(e->type));
                        json_object_object_add(o, "device", osdcli_json_string_or_null(e->device));
                        json_object_object_add(o, "stable_id", osdcli_json_string_or_null(e->stable_id));
                        json_object_object_add(o, "running", json_object_new_boolean(e->pid > 0));
                        json_object_object_add(o, "pid", e->pid > 0 ? json_object_new_int(e->pid) : NULL);
                        json_object_array_add(arr, o);
                }
                osdcli_print_json(arr, true);
                return 0;
        }
        static const char *const headers[] = { "ID", "KIND", "TYPE", "DEVICE", "RUNNING", "OSD UUID", "CLUSTER", "STABLE ID" };
        Table *t = table_new(headers, ELEMENTSOF(headers));
        if (!t)
                return log_oom(), 1;
        for (size_t i = 0; i < l.n; i++) {
                const OsdEntry *e = &l.items[i];
                char id[16], running[24];
                snprintf(id, sizeof id, "%d", e->id);
                if (e->pid > 0)
                        snprintf(running, sizeof running, "yes (pid %d)", (int) e->pid);
                else
                        snprintf(running, sizeof running, "no");
                const char *cells[] = { id, e->kind, e->type, e->device, running, e->uuid, e->cluster_fsid, e->stable_id };
                if (table_add_row(t, cells) < 0) {
                        table_free(t);
                        return log_oom(), 1;
                }
        }
        if (l.n == 0)
                printf("No OSDs on this node.\n");
        else
                table_print(t, stdout, headings);
        table_free(t);
        return 0;
}
