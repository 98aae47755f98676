/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl osd prepare: one device made a BlueStore OSD (raw or LVM mode), or with
 * --dry-run the plan for it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/osd-util.h"
#include "common/log.h"
#include "common/size.h"
#include "common/strv.h"

static void print_plan(const OsdArgs *a, const PrepareResult *r) {
        _cleanup_free_ char *reasons = strv_join(r->reasons, "; ");
        char size[32];

        format_size(r->size, size, sizeof size);
        printf("Plan for %s (nothing was changed):\n", a->prep.data);
        printf("  device     %s\n", strempty(r->device));
        printf("  stable id  %s\n", strempty(r->stable_id));
        printf("  size       %s\n", size);
        printf("  verdict    %s%s%s\n", r->available ? "available" : "not available", r->available ? "" : ": ",
               r->available ? "" : strempty(reasons));
        printf("  mode       %s%s\n", a->prep.lvm ? "lvm" : "raw", a->prep.dmcrypt ? ", dm-crypt (LUKS2)" : "");
        if (r->db_device)
                printf("  block.db   %s\n", r->db_device);
        if (r->wal_device)
                printf("  block.wal  %s\n", r->wal_device);
        printf("  cluster    %s (%s)\n", osd_ctx_cluster(&a->ctx), a->ctx.ceph.conf ?: "default configuration");
        if (a->prep.crush_class)
                printf("  class      %s\n", a->prep.crush_class);
        printf("  steps      ");
        for (size_t i = 0; prepare_step_names[i]; i++) {
                if (a->ctx.start == START_NONE && (streq(prepare_step_names[i], "start") || streq(prepare_step_names[i], "up")))
                        continue;
                if (!a->prep.lvm && streq(prepare_step_names[i], "lvm"))
                        continue;
                printf("%s%s", i ? " → " : "", prepare_step_names[i]);
        }
        printf("\n");
}

static void help_prepare(FILE *f) {
        fprintf(f,
"Usage: castlectl osd prepare --data=DEVICE [OPTIONS]\n"
"\n"
"Make DEVICE a BlueStore OSD of the cluster and start it: raw mode as `ceph-volume raw\n"
"prepare` does it, or LVM mode (--mode=lvm) laid out as `ceph-volume lvm prepare` does it\n"
"(VG ceph-<uuid>, LV osd-block-<osd fsid>, every ceph.* tag), optionally with block.db and\n"
"block.wal LVs on faster devices and dm-crypt. DEVICE is a /dev path or link, a stable\n"
"id or a device id from `castlectl inventory`. castle writes nothing unless the device is\n"
"available when it is checked again under an exclusive lock. A prepare that was\n"
"interrupted is finished by running the same command again; a device that already holds\n"
"an OSD is reported and left as it is.\n"
"\n"
"Prepare:\n"
"      --data=DEVICE       the device (required)\n"
"      --dry-run           print the plan and change nothing\n"
"      --crush-device-class=CLASS  hdd, ssd, nvme or any class name\n"
"      --osd-id=ID         reuse this destroyed OSD id\n"
"      --mode=MODE         raw (default) or lvm\n"
"      --block-db=DEVICE   lvm: a block.db LV on DEVICE (a new ceph VG, or a ceph VG on it)\n"
"      --block-wal=DEVICE  lvm: a block.wal LV on DEVICE\n"
"      --block-db-size=SIZE, --block-wal-size=SIZE\n"
"                          lvm: their size (default: all of a new VG, else what is free)\n"
"      --dmcrypt           lvm: LUKS2 on every LV; the key is kept by the monitors\n"
"                          (config-key dm-crypt/osd/<uuid>/luks), never on this node\n"
"      --no-start          prepare only; `castlectl osd activate` starts it later\n"
"      --start-mode=MODE   auto (default: systemd where it runs, else fork), systemd,\n"
"                          fork (ceph-osd daemonizes), none\n"
"      --timeout=SEC       wait this long for the monitors and for the OSD to be up (120)\n"
"  -f, --format=FORMAT     text (default) or json: the result as one JSON object\n"
"      --progress=KIND     text (default, on stderr), json (one object per line on stdout,\n"
"                          before the result), none\n"
"\n"
OSDCLI_COMMON_HELP
"\n"
"Exit status: 0 when the OSD is ready (or already was), 1 on failure or refusal, 2 on a\n"
"usage error.\n");
}

static int prepare_option(OsdArgs *a, int c, void *userdata) {
        switch (c) {
        case ARG_DATA:
                a->prep.data = optarg;
                return 1;
        case ARG_MODE:
                if (!streq(optarg, "raw") && !streq(optarg, "lvm"))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--mode: '%s' is not raw or lvm", optarg);
                a->prep.lvm = streq(optarg, "lvm");
                return 1;
        case ARG_BLOCK_DB:
                a->prep.db = optarg;
                return 1;
        case ARG_BLOCK_WAL:
                a->prep.wal = optarg;
                return 1;
        default:
                return 0;
        }
}

int osdcli_prepare(int argc, char *argv[]) {
        static const struct option options[] = {
                { "data", required_argument, NULL, ARG_DATA },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "osd-id", required_argument, NULL, ARG_OSD_ID },
                { "mode", required_argument, NULL, ARG_MODE },
                { "block-db", required_argument, NULL, ARG_BLOCK_DB },
                { "block-wal", required_argument, NULL, ARG_BLOCK_WAL },
                OSDCLI_PREPARE_OPTIONS,
                OSDCLI_COMMON_OPTIONS,
                {},
        };
        static const OsdVerb verb = { "f:vh", options, prepare_option, help_prepare };
        OsdArgs a = { .prep.osd_id = -1 };
        _cleanup_(prepare_result_done) PrepareResult res = { .osd_id = -1 };
        int r;

        r = osdcli_parse(&a, &verb, argc, argv, NULL);
        if (r <= 0)
                return osdcli_parse_exit(r);
        if (osdcli_check_format(&a) < 0)
                return EXIT_USAGE;
        if (!a.prep.data || optind < argc) {
                log_error("castlectl osd prepare needs --data=DEVICE and no other arguments (see --help)");
                return EXIT_USAGE;
        }
        if (!a.prep.lvm && (a.prep.db || a.prep.wal || a.prep.dmcrypt || a.prep.db_size || a.prep.wal_size)) {
                log_error("--block-db, --block-wal, their sizes and --dmcrypt need --mode=lvm");
                return EXIT_USAGE;
        }
        if (osdcli_prepare_options_done(&a) < 0)
                return EXIT_USAGE;
        if (a.prep.dry_run)
                a.ctx.progress = NULL;

        r = osd_prepare(&a.ctx, &a.prep, &res);
        if (osdcli_want_json(&a) || streq_ptr(a.progress, "json"))
                osdcli_print_json(osdcli_prepare_json(&res, &a.prep, r >= 0), osdcli_want_json(&a) && !streq_ptr(a.progress, "json"));
        else if (a.prep.dry_run && r >= 0)
                print_plan(&a, &res);
        else if (r >= 0 && res.already_prepared)
                printf("%s already holds osd.%d (%s)%s\n", res.device, res.osd_id, res.osd_uuid,
                       res.started ? "; started it" : "");
        else if (r >= 0)
                printf("osd.%d is %s on %s (%s)\n", res.osd_id, a.ctx.start == START_NONE ? "prepared" : "up",
                       res.device, res.osd_uuid);
        if (r < 0 && !osdcli_want_json(&a)) {
                log_error("%s", res.error ?: strerror(-r));
                if (res.rolled_back)
                        log_error("Rolled back: %s", res.rolled_back);
        }
        return r < 0 ? 1 : 0;
}
