/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl osd prepare|activate|list, and castlectl zap: the commands that write to disks
 * and talk to the monitors. They run in castlectl-osd, which links librados. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/table.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/size.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "osd-prep/batch.h"
#include "osd-prep/context.h"
#include "osd-prep/fault.h"
#include "osd-prep/osdlist.h"
#include "osd-prep/prepare.h"
#include "osd-prep/start.h"
#include "osd-prep/zap.h"

#define COMMON_HELP \
"Cluster and files:\n" \
"      --cluster=NAME      cluster name (default ceph)\n" \
"      --conf=FILE         Ceph configuration (default /etc/ceph/NAME.conf)\n" \
"      --keyring=FILE      the client.bootstrap-osd keyring\n" \
"                          (default /var/lib/ceph/bootstrap-osd/NAME.keyring)\n" \
"      --osd-root=DIR      OSD directories live in DIR/NAME-ID (default " OSD_ROOT_DEFAULT ")\n" \
"      --state-dir=DIR     castle's state; the prepare journal is DIR/prepare\n" \
"                          (default " STATE_DIR_DEFAULT ")\n" \
"      --allow-loop        accept loop devices (tests, demos)\n" \
"  -v, --verbose           debug messages on stderr\n" \
"  -h, --help              this text\n"

enum {
        ARG_CLUSTER = 0x100,
        ARG_CONF,
        ARG_KEYRING,
        ARG_OSD_ROOT,
        ARG_STATE_DIR,
        ARG_ALLOW_LOOP,
        ARG_DATA,
        ARG_DRY_RUN,
        ARG_CRUSH_CLASS,
        ARG_OSD_ID,
        ARG_OSD_FSID,
        ARG_START_MODE,
        ARG_NO_START,
        ARG_PROGRESS,
        ARG_TIMEOUT,
        ARG_ALL,
        ARG_DESTROY,
        ARG_MODE,
        ARG_BLOCK_DB,
        ARG_BLOCK_WAL,
        ARG_BLOCK_DB_SIZE,
        ARG_BLOCK_WAL_SIZE,
        ARG_DMCRYPT,
        ARG_DB_DEVICES,
        ARG_WAL_DEVICES,
        ARG_OSDS_PER_DEVICE,
        ARG_REPORT,
};

#define COMMON_OPTIONS                                                     \
        { "cluster", required_argument, NULL, ARG_CLUSTER },               \
        { "conf", required_argument, NULL, ARG_CONF },                     \
        { "keyring", required_argument, NULL, ARG_KEYRING },               \
        { "osd-root", required_argument, NULL, ARG_OSD_ROOT },             \
        { "state-dir", required_argument, NULL, ARG_STATE_DIR },           \
        { "allow-loop", no_argument, NULL, ARG_ALLOW_LOOP },               \
        { "verbose", no_argument, NULL, 'v' },                             \
        { "help", no_argument, NULL, 'h' }

typedef struct Args {
        OsdContext ctx;
        PrepareRequest prep;
        ZapRequest zap;
        const char *format;
        const char *progress;
        bool all, help;
} Args;

/* The options every subcommand has; 1 if c was one of them, 0 if not, < 0 on error. */
static int common_option(Args *a, int c) {
        switch (c) {
        case ARG_CLUSTER:
                a->ctx.ceph.cluster = optarg;
                return 1;
        case ARG_CONF:
                a->ctx.ceph.conf = optarg;
                return 1;
        case ARG_KEYRING:
                a->ctx.ceph.keyring = optarg;
                return 1;
        case ARG_OSD_ROOT:
                a->ctx.osd_root = optarg;
                return 1;
        case ARG_STATE_DIR:
                a->ctx.state_dir = optarg;
                return 1;
        case ARG_ALLOW_LOOP:
                a->ctx.scan.allow_loop = true;
                return 1;
        case 'v':
                log_set_max_level(LOG_DEBUG);
                return 1;
        case 'h':
                a->help = true;
                return 1;
        case ARG_START_MODE: {
                int m = start_mode_from_string(optarg);
                if (m < 0)
                        return log_error("--start-mode: '%s' is not one of auto, systemd, fork, exec, none", optarg), -EINVAL;
                a->ctx.start = (StartMode) m;
                return 1;
        }
        case ARG_TIMEOUT: {
                uint64_t s;
                if (safe_atou64(optarg, &s) < 0 || s == 0 || s > 86400)
                        return log_error("--timeout: '%s' is not a number of seconds", optarg), -EINVAL;
                a->ctx.up_timeout_usec = a->ctx.ceph.timeout_usec = s * USEC_PER_SEC;
                return 1;
        }
        case ARG_OSD_ID: {
                int id;
                if (safe_atoi(optarg, &id) < 0 || id < 0)
                        return log_error("--osd-id: '%s' is not an OSD id", optarg), -EINVAL;
                a->prep.osd_id = a->zap.osd_id = id;
                return 1;
        }
        case '?':
                return -EINVAL;
        default:
                return 0;
        }
}

static bool want_json(const Args *a) {
        return streq_ptr(a->format, "json");
}

static int check_format(const Args *a) {
        if (a->format && !streq(a->format, "json") && !streq(a->format, "table") && !streq(a->format, "text"))
                return log_error("--format: '%s' is not text or json", a->format), -EINVAL;
        return 0;
}

static void print_json(json_object *o, bool pretty) {
        printf("%s\n", json_object_to_json_string_ext(o, pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                             : JSON_C_TO_STRING_PLAIN));
        fflush(stdout);
        json_object_put(o);
}

static json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *json_strv(char *const *l) {
        json_object *a = json_object_new_array();
        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

/* ---- prepare ---- */

/* The options prepare and batch share (start-mode and timeout are common_option()'s). */
#define PREPARE_OPTIONS                                                         \
        { "crush-device-class", required_argument, NULL, ARG_CRUSH_CLASS },     \
        { "no-start", no_argument, NULL, ARG_NO_START },                        \
        { "start-mode", required_argument, NULL, ARG_START_MODE },              \
        { "timeout", required_argument, NULL, ARG_TIMEOUT },                    \
        { "format", required_argument, NULL, 'f' },                             \
        { "progress", required_argument, NULL, ARG_PROGRESS },                  \
        { "block-db-size", required_argument, NULL, ARG_BLOCK_DB_SIZE },        \
        { "block-wal-size", required_argument, NULL, ARG_BLOCK_WAL_SIZE },      \
        { "dmcrypt", no_argument, NULL, ARG_DMCRYPT }

/* 1 if c was one of PREPARE_OPTIONS' own, 0 if not, < 0 on error. */
static int prepare_option(Args *a, int c) {
        switch (c) {
        case ARG_CRUSH_CLASS:
                a->prep.crush_class = optarg;
                return 1;
        case ARG_NO_START:
                a->ctx.start = START_NONE;
                return 1;
        case 'f':
                a->format = optarg;
                return 1;
        case ARG_PROGRESS:
                a->progress = optarg;
                return 1;
        case ARG_DMCRYPT:
                a->prep.dmcrypt = true;
                return 1;
        case ARG_BLOCK_DB_SIZE:
        case ARG_BLOCK_WAL_SIZE:
                if (parse_size(optarg, c == ARG_BLOCK_DB_SIZE ? &a->prep.db_size : &a->prep.wal_size) < 0)
                        return log_error("--%s: '%s' is not a size", c == ARG_BLOCK_DB_SIZE ? "block-db-size" : "block-wal-size",
                                         optarg), -EINVAL;
                return 1;
        default:
                return 0;
        }
}

static void progress_text(const char *step, unsigned percent, const char *message, void *userdata) {
        (void) step;
        (void) userdata;
        fprintf(stderr, "[%3u%%] %s\n", percent, message);
}

static void progress_json(const char *step, unsigned percent, const char *message, void *userdata) {
        json_object *o = json_object_new_object();

        (void) userdata;
        json_object_object_add(o, "step", json_object_new_string(step));
        json_object_object_add(o, "percent", json_object_new_int((int) percent));
        json_object_object_add(o, "message", json_object_new_string(message));
        print_json(o, false);
}

/* After the options of prepare or batch: how they start OSDs, and show progress. */
static int prepare_options_done(Args *a) {
        if (a->ctx.start == START_EXEC)
                return log_error("--start-mode=exec is for `castlectl osd activate ID` only"), -EINVAL;
        if (!a->progress || streq(a->progress, "text"))
                a->ctx.progress = progress_text;
        else if (streq(a->progress, "json"))
                a->ctx.progress = progress_json;
        else if (!streq(a->progress, "none"))
                return log_error("--progress: '%s' is not text, json or none", a->progress), -EINVAL;
        return 0;
}

static json_object *prepare_json(const PrepareResult *r, const PrepareRequest *req, bool ok) {
        json_object *o = json_object_new_object(), *steps = json_object_new_array();

        json_object_object_add(o, "result", json_object_new_boolean(ok));
        json_object_object_add(o, "device", json_string_or_null(r->device));
        json_object_object_add(o, "stable_id", json_string_or_null(r->stable_id));
        json_object_object_add(o, "size", json_object_new_int64((int64_t) r->size));
        json_object_object_add(o, "available", json_object_new_boolean(r->available));
        json_object_object_add(o, "reasons", json_strv(r->reasons));
        json_object_object_add(o, "dry_run", json_object_new_boolean(req->dry_run));
        json_object_object_add(o, "mode", json_object_new_string(r->lvm ? "lvm" : "raw"));
        json_object_object_add(o, "encrypted", json_object_new_boolean(r->encrypted));
        json_object_object_add(o, "db_device", json_string_or_null(r->db_device));
        json_object_object_add(o, "wal_device", json_string_or_null(r->wal_device));
        json_object_object_add(o, "block_path", json_string_or_null(r->block_path));
        json_object_object_add(o, "osd_id", r->osd_id >= 0 ? json_object_new_int(r->osd_id) : NULL);
        json_object_object_add(o, "osd_uuid", json_string_or_null(r->osd_uuid));
        json_object_object_add(o, "cluster_fsid", json_string_or_null(r->cluster_fsid));
        json_object_object_add(o, "already_prepared", json_object_new_boolean(r->already_prepared));
        json_object_object_add(o, "resumed", json_object_new_boolean(r->resumed));
        json_object_object_add(o, "started", json_object_new_boolean(r->started));
        json_object_object_add(o, "error", json_string_or_null(r->error));
        json_object_object_add(o, "rolled_back", json_string_or_null(r->rolled_back));
        for (size_t i = 0; i < r->n_steps; i++) {
                json_object *s = json_object_new_object();
                json_object_object_add(s, "name", json_object_new_string(r->steps[i].name));
                json_object_object_add(s, "usec", json_object_new_int64((int64_t) r->steps[i].usec));
                json_object_array_add(steps, s);
        }
        json_object_object_add(o, "steps", steps);
        json_object_object_add(o, "total_usec", json_object_new_int64((int64_t) r->total_usec));
        return o;
}

static void print_plan(const Args *a, const PrepareResult *r) {
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
COMMON_HELP
"\n"
"Exit status: 0 when the OSD is ready (or already was), 1 on failure or refusal, 2 on a\n"
"usage error.\n");
}

static int osd_prepare_cmd(int argc, char *argv[]) {
        static const struct option options[] = {
                { "data", required_argument, NULL, ARG_DATA },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "osd-id", required_argument, NULL, ARG_OSD_ID },
                { "mode", required_argument, NULL, ARG_MODE },
                { "block-db", required_argument, NULL, ARG_BLOCK_DB },
                { "block-wal", required_argument, NULL, ARG_BLOCK_WAL },
                PREPARE_OPTIONS,
                COMMON_OPTIONS,
                {},
        };
        Args a = { .prep.osd_id = -1 };
        _cleanup_(prepare_result_done) PrepareResult res = { .osd_id = -1 };
        int c, r;

        while ((c = getopt_long(argc, argv, "f:vh", options, NULL)) >= 0) {
                r = common_option(&a, c);
                if (r == 0)
                        r = prepare_option(&a, c);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                switch (c) {
                case ARG_DATA:
                        a.prep.data = optarg;
                        break;
                case ARG_DRY_RUN:
                        a.prep.dry_run = true;
                        break;
                case ARG_MODE:
                        if (!streq(optarg, "raw") && !streq(optarg, "lvm")) {
                                log_error("--mode: '%s' is not raw or lvm", optarg);
                                return EXIT_USAGE;
                        }
                        a.prep.lvm = streq(optarg, "lvm");
                        break;
                case ARG_BLOCK_DB:
                        a.prep.db = optarg;
                        break;
                case ARG_BLOCK_WAL:
                        a.prep.wal = optarg;
                        break;
                }
        }
        if (a.help) {
                help_prepare(stdout);
                return 0;
        }
        if (check_format(&a) < 0)
                return EXIT_USAGE;
        if (!a.prep.data || optind < argc) {
                log_error("castlectl osd prepare needs --data=DEVICE and no other arguments (see --help)");
                return EXIT_USAGE;
        }
        if (!a.prep.lvm && (a.prep.db || a.prep.wal || a.prep.dmcrypt || a.prep.db_size || a.prep.wal_size)) {
                log_error("--block-db, --block-wal, their sizes and --dmcrypt need --mode=lvm");
                return EXIT_USAGE;
        }
        if (prepare_options_done(&a) < 0)
                return EXIT_USAGE;
        if (a.prep.dry_run)
                a.ctx.progress = NULL;

        r = osd_prepare(&a.ctx, &a.prep, &res);
        if (want_json(&a) || streq_ptr(a.progress, "json"))
                print_json(prepare_json(&res, &a.prep, r >= 0), want_json(&a) && !streq_ptr(a.progress, "json"));
        else if (a.prep.dry_run && r >= 0)
                print_plan(&a, &res);
        else if (r >= 0 && res.already_prepared)
                printf("%s already holds osd.%d (%s)%s\n", res.device, res.osd_id, res.osd_uuid,
                       res.started ? "; started it" : "");
        else if (r >= 0)
                printf("osd.%d is %s on %s (%s)\n", res.osd_id, a.ctx.start == START_NONE ? "prepared" : "up",
                       res.device, res.osd_uuid);
        if (r < 0 && !want_json(&a)) {
                log_error("%s", res.error ?: strerror(-r));
                if (res.rolled_back)
                        log_error("Rolled back: %s", res.rolled_back);
        }
        return r < 0 ? 1 : 0;
}

/* ---- batch ---- */

static void help_batch(FILE *f) {
        fprintf(f,
"Usage: castlectl osd batch DEVICE... [--db-devices DEVICE...] [--wal-devices DEVICE...]\n"
"                           [OPTIONS]\n"
"\n"
"Make LVM-mode OSDs on every DEVICE, as `ceph-volume lvm batch` lays them out. Without\n"
"--db-devices and --wal-devices, a mix of rotational and solid-state devices is split:\n"
"the rotational ones hold data and the others block.db, each cut into even slots, one per\n"
"OSD it serves. The plan is checked whole before anything is written: one device that is\n"
"not available refuses the batch. Devices that already hold their OSDs are skipped, so\n"
"running the same batch again finishes an interrupted one and adds nothing else.\n"
"\n"
"      --db-devices DEVICE...   block.db on these (ceph VGs on them are reused)\n"
"      --wal-devices DEVICE...  block.wal on these\n"
"      --osds-per-device=N      N OSDs on each data device (default 1)\n"
"      --block-db-size=SIZE     each block.db LV this big (default: an even slot)\n"
"      --block-wal-size=SIZE    each block.wal LV this big (default: an even slot)\n"
"      --dmcrypt                LUKS2 on every LV; the keys are kept by the monitors\n"
"      --crush-device-class=CLASS\n"
"      --report                 print the plan and change nothing\n"
"      --no-start, --start-mode=MODE, --timeout=SEC   as for prepare\n"
"  -f, --format=FORMAT          text (default) or json\n"
"      --progress=KIND          text (default, on stderr), json, none\n"
"\n"
COMMON_HELP
"\n"
"Exit status: 0 when every OSD is ready, 1 if any failed or was refused, 2 on a usage\n"
"error.\n");
}

/* "--db-devices A B --x" -> "--db-devices=A --db-devices=B --x": ceph-volume's lists, for
 * getopt. *ret holds pointers into argv and new strings (freed by the caller). */
static int expand_lists(int argc, char *argv[], char ***ret) {
        char **out = NULL;

        for (int i = 0; i < argc; i++) {
                if (streq(argv[i], "--db-devices") || streq(argv[i], "--wal-devices")) {
                        int k = i + 1;
                        for (; k < argc && argv[k][0] != '-'; k++) {
                                char *s;
                                if (asprintf(&s, "%s=%s", argv[i], argv[k]) < 0 || strv_consume(&out, s) < 0)
                                        return strv_free(out), -ENOMEM;
                        }
                        if (k == i + 1)
                                return strv_free(out), log_error("%s needs at least one device", argv[i]), -EINVAL;
                        i = k - 1;
                } else if (strv_extend(&out, argv[i]) < 0)
                        return strv_free(out), -ENOMEM;
        }
        *ret = out;
        return 0;
}

static json_object *batch_osd_json(const BatchOsd *o) {
        json_object *j = json_object_new_object();

        json_object_object_add(j, "data", json_object_new_string(o->data->kname));
        json_object_object_add(j, "data_stable_id", json_string_or_null(o->data->stable_id));
        json_object_object_add(j, "data_size", json_object_new_int64((int64_t) o->data_size));
        json_object_object_add(j, "db", o->db ? json_object_new_string(o->db->kname) : NULL);
        json_object_object_add(j, "db_size", o->db ? json_object_new_int64((int64_t) o->db_size) : NULL);
        json_object_object_add(j, "wal", o->wal ? json_object_new_string(o->wal->kname) : NULL);
        json_object_object_add(j, "wal_size", o->wal ? json_object_new_int64((int64_t) o->wal_size) : NULL);
        json_object_object_add(j, "exists", json_object_new_boolean(o->exists));
        return j;
}

static void print_batch_report(const BatchPlan *p, bool dmcrypt) {
        printf("%zu OSD%s (LVM%s); nothing was changed:\n", p->n, p->n == 1 ? "" : "s", dmcrypt ? ", dm-crypt" : "");
        printf("  %-12s %-9s %-12s %-9s %-12s %-9s %s\n", "DATA", "SIZE", "DB", "SIZE", "WAL", "SIZE", "");
        for (size_t i = 0; i < p->n; i++) {
                const BatchOsd *o = &p->osds[i];
                char ds[16], bs[16] = "-", ws[16] = "-";
                format_size(o->data_size, ds, sizeof ds);
                if (o->db)
                        format_size(o->db_size, bs, sizeof bs);
                if (o->wal)
                        format_size(o->wal_size, ws, sizeof ws);
                printf("  %-12s %-9s %-12s %-9s %-12s %-9s %s\n", o->data->kname, ds, o->db ? o->db->kname : "-", bs,
                       o->wal ? o->wal->kname : "-", ws, o->exists ? "(exists)" : "");
        }
}

static int osd_batch_cmd(int argc, char *argv[]) {
        static const struct option options[] = {
                { "db-devices", required_argument, NULL, ARG_DB_DEVICES },
                { "wal-devices", required_argument, NULL, ARG_WAL_DEVICES },
                { "osds-per-device", required_argument, NULL, ARG_OSDS_PER_DEVICE },
                { "report", no_argument, NULL, ARG_REPORT },
                PREPARE_OPTIONS,
                COMMON_OPTIONS,
                {},
        };
        _cleanup_strv_free_ char **args = NULL, **db = NULL, **wal = NULL, **written = NULL;
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        _cleanup_(batch_plan_done) BatchPlan plan = {};
        _cleanup_free_ char *err = NULL;
        BatchRequest req = {};
        Args a = { .prep.osd_id = -1 };
        bool report = false;
        json_object *results = NULL;
        unsigned per = 0;
        int c, r, pi, failed = 0;

        if (expand_lists(argc, argv, &args) < 0)
                return EXIT_USAGE;
        argc = (int) strv_length(args);
        while ((c = getopt_long(argc, args, "f:vh", options, NULL)) >= 0) {
                r = common_option(&a, c);
                if (r == 0)
                        r = prepare_option(&a, c);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                switch (c) {
                case ARG_DB_DEVICES:
                case ARG_WAL_DEVICES:
                        if (strv_extend(c == ARG_DB_DEVICES ? &db : &wal, optarg) < 0)
                                return 1;
                        break;
                case ARG_OSDS_PER_DEVICE:
                        if (safe_atoi(optarg, &pi) < 0 || pi <= 0 || pi > 32) {
                                log_error("--osds-per-device: '%s' is not a number from 1 to 32", optarg);
                                return EXIT_USAGE;
                        }
                        per = (unsigned) pi;
                        break;
                case ARG_REPORT:
                        report = true;
                        break;
                }
        }
        if (a.help) {
                help_batch(stdout);
                return 0;
        }
        if (check_format(&a) < 0)
                return EXIT_USAGE;
        if (optind >= argc) {
                log_error("castlectl osd batch needs at least one DEVICE (see --help)");
                return EXIT_USAGE;
        }
        if (prepare_options_done(&a) < 0)
                return EXIT_USAGE;
        req.db_size = a.prep.db_size;
        req.wal_size = a.prep.wal_size;
        req.devices = args + optind;
        req.db_devices = db;
        req.wal_devices = wal;
        req.osds_per_device = per;

        r = devscan_run(&a.ctx.scan, &scan);
        if (r < 0)
                return log_error_errno(r, "Cannot scan the devices: %m"), 1;
        r = batch_plan(scan->devices, &req, &plan, &err);
        if (r < 0) {
                log_error("%s", strempty(err));
                return 1;
        }
        if (report) {
                if (want_json(&a)) {
                        json_object *l = json_object_new_array();
                        for (size_t i = 0; i < plan.n; i++)
                                json_object_array_add(l, batch_osd_json(&plan.osds[i]));
                        print_json(l, true);
                } else
                        print_batch_report(&plan, a.prep.dmcrypt);
                return 0;
        }
        /* One connection to the monitors for every OSD of the batch; without it each prepare
         * connects itself and says so if it cannot. */
        for (size_t i = 0; i < plan.n; i++)
                if (!plan.osds[i].exists) {
                        (void) mon_connect(&a.ctx.ceph, &a.ctx.mon, NULL);
                        break;
                }
        results = json_object_new_array();
        for (size_t i = 0; i < plan.n; i++) {
                const BatchOsd *o = &plan.osds[i];
                _cleanup_(prepare_result_done) PrepareResult res = { .osd_id = -1 };
                PrepareRequest pr = {
                        .data = o->data->stable_id,
                        .crush_class = a.prep.crush_class,
                        .osd_id = -1,
                        .lvm = true,
                        .dmcrypt = a.prep.dmcrypt,
                        .db = o->db ? o->db->stable_id : NULL,
                        .wal = o->wal ? o->wal->stable_id : NULL,
                        .data_slots = o->data_slots,
                        .db_slots = o->db_slots,
                        .wal_slots = o->wal_slots,
                        .db_size = req.db_size,
                        .wal_size = req.wal_size,
                        .recent = scan->devices,
                        .dirty = written,
                };

                if (o->exists)
                        continue;
                r = osd_prepare(&a.ctx, &pr, &res);
                /* what this OSD wrote to is probed again by the next OSD's plan */
                (void) strv_extend(&written, o->data->kname);
                if (o->db)
                        (void) strv_extend_unique(&written, o->db->kname);
                if (o->wal)
                        (void) strv_extend_unique(&written, o->wal->kname);
                if (r < 0) {
                        failed++;
                        log_error("/dev/%s: %s", o->data->kname, res.error ?: strerror(-r));
                        if (res.rolled_back)
                                log_error("Rolled back: %s", res.rolled_back);
                } else if (!want_json(&a))
                        printf("osd.%d is %s on /dev/%s%s%s\n", res.osd_id, a.ctx.start == START_NONE ? "prepared" : "up",
                               o->data->kname, o->db ? ", block.db on /dev/" : "", o->db ? o->db->kname : "");
                json_object_array_add(results, prepare_json(&res, &pr, r >= 0));
        }
        a.ctx.mon = mon_disconnect(a.ctx.mon);
        if (want_json(&a))
                print_json(results, !streq_ptr(a.progress, "json"));
        else
                json_object_put(results);
        return failed > 0 ? 1 : 0;
}

/* ---- activate ---- */

static void help_activate(FILE *f) {
        fprintf(f,
"Usage: castlectl osd activate [OPTIONS] --all | ID\n"
"\n"
"Start the raw OSDs on this node: castle's and ceph-volume's, found by their BlueStore\n"
"labels whatever the kernel now calls their devices. Each OSD's directory is primed from\n"
"its label (ceph-bluestore-tool prime-osd-dir) unless it already belongs to that OSD, its\n"
"block link is pointed at the device, and ceph-osd is started unless it runs already.\n"
"What a node runs at boot, or a pod as its entrypoint (--start-mode=exec ID).\n"
"\n"
"      --all               every OSD of the cluster (the fsid in the configuration)\n"
"      --start-mode=MODE   auto (default: systemd where it runs, else fork), systemd,\n"
"                          fork, exec (replace this process with `ceph-osd -f`, one ID)\n"
"  -f, --format=FORMAT     text (default) or json\n"
"\n"
COMMON_HELP);
}

static int osd_activate_cmd(int argc, char *argv[]) {
        static const struct option options[] = {
                { "all", no_argument, NULL, ARG_ALL },
                { "start-mode", required_argument, NULL, ARG_START_MODE },
                { "format", required_argument, NULL, 'f' },
                COMMON_OPTIONS,
                {},
        };
        Args a = {};
        ActivateResult *res = NULL;
        size_t n = 0;
        int c, r, id = -1, failed = 0;

        while ((c = getopt_long(argc, argv, "f:vh", options, NULL)) >= 0) {
                r = common_option(&a, c);
                if (r < 0)
                        return EXIT_USAGE;
                if (r == 0 && c == ARG_ALL)
                        a.all = true;
                else if (r == 0 && c == 'f')
                        a.format = optarg;
        }
        if (a.help) {
                help_activate(stdout);
                return 0;
        }
        if (check_format(&a) < 0)
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
                if (want_json(&a)) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "osd_id", json_object_new_int(res[i].id));
                        json_object_object_add(o, "device", json_string_or_null(res[i].device));
                        json_object_object_add(o, "started", json_object_new_boolean(res[i].started));
                        json_object_object_add(o, "error", json_string_or_null(res[i].error));
                        json_object_array_add(arr, o);
                } else if (res[i].error)
                        log_error("osd.%d on %s: %s", res[i].id, res[i].device, res[i].error);
                else
                        printf("osd.%d on %s: %s\n", res[i].id, res[i].device, res[i].started ? "started" : "already running");
        }
        if (want_json(&a))
                print_json(arr, true);
        else
                json_object_put(arr);
        if (n == 0 && id >= 0) {
                log_error("No raw OSD with id %d on this node.", id);
                failed++;
        } else if (n == 0 && !want_json(&a))
                printf("No raw OSDs of this cluster on this node.\n");
        activate_results_free(res, n);
        return failed ? 1 : 0;
}

/* ---- list ---- */

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
COMMON_HELP);
}

static int osd_list_cmd(int argc, char *argv[]) {
        static const struct option options[] = {
                { "format", required_argument, NULL, 'f' },
                { "no-headings", no_argument, NULL, 'n' },
                COMMON_OPTIONS,
                {},
        };
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        _cleanup_(osd_list_done) OsdList l = {};
        Args a = {};
        bool headings = true;
        int c, r;

        while ((c = getopt_long(argc, argv, "f:nvh", options, NULL)) >= 0) {
                r = common_option(&a, c);
                if (r < 0)
                        return EXIT_USAGE;
                if (r == 0 && c == 'f')
                        a.format = optarg;
                else if (r == 0 && c == 'n')
                        headings = false;
        }
        if (a.help) {
                help_list(stdout);
                return 0;
        }
        if (check_format(&a) < 0 || optind < argc) {
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
        if (want_json(&a)) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < l.n; i++) {
                        const OsdEntry *e = &l.items[i];
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "osd_id", json_object_new_int(e->id));
                        json_object_object_add(o, "osd_uuid", json_string_or_null(e->uuid));
                        json_object_object_add(o, "cluster_fsid", json_string_or_null(e->cluster_fsid));
                        json_object_object_add(o, "kind", json_string_or_null(e->kind));
                        json_object_object_add(o, "type", json_string_or_null(e->type));
                        json_object_object_add(o, "device", json_string_or_null(e->device));
                        json_object_object_add(o, "stable_id", json_string_or_null(e->stable_id));
                        json_object_object_add(o, "running", json_object_new_boolean(e->pid > 0));
                        json_object_object_add(o, "pid", e->pid > 0 ? json_object_new_int(e->pid) : NULL);
                        json_object_array_add(arr, o);
                }
                print_json(arr, true);
                return 0;
        }
        static const char *const headers[] = { "ID", "KIND", "TYPE", "DEVICE", "RUNNING", "OSD UUID", "CLUSTER", "STABLE ID" };
        Table *t = table_new(headers, ELEMENTSOF(headers));
        if (!t)
                return log_error_errno(ENOMEM, "Out of memory: %m"), 1;
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
                        return log_error_errno(ENOMEM, "Out of memory: %m"), 1;
                }
        }
        if (l.n == 0)
                printf("No OSDs on this node.\n");
        else
                table_print(t, stdout, headings);
        table_free(t);
        return 0;
}

/* ---- zap ---- */

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
"\n"
COMMON_HELP
"\n"
"Exit status: 0 when every device was zapped, 1 if any was refused or failed, 2 on a\n"
"usage error.\n");
}

static int zap_cmd(int argc, char *argv[]) {
        static const struct option options[] = {
                { "destroy", no_argument, NULL, ARG_DESTROY },
                { "osd-id", required_argument, NULL, ARG_OSD_ID },
                { "osd-fsid", required_argument, NULL, ARG_OSD_FSID },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "format", required_argument, NULL, 'f' },
                COMMON_OPTIONS,
                {},
        };
        Args a = { .zap.osd_id = -1 };
        ZapResult *res = NULL;
        size_t n = 0;
        int c, r, failed = 0;

        while ((c = getopt_long(argc, argv, "f:vh", options, NULL)) >= 0) {
                r = common_option(&a, c);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (c == ARG_DESTROY)
                        a.zap.destroy = true;
                else if (c == ARG_OSD_FSID)
                        a.zap.osd_fsid = optarg;
                else if (c == ARG_DRY_RUN)
                        a.zap.dry_run = true;
                else if (c == 'f')
                        a.format = optarg;
        }
        if (a.help) {
                help_zap(stdout);
                return 0;
        }
        if (check_format(&a) < 0)
                return EXIT_USAGE;
        a.zap.devices = argv + optind;
        if ((optind < argc) == (a.zap.osd_id >= 0 || a.zap.osd_fsid != NULL)) {
                log_error("castlectl zap needs devices, or --osd-id / --osd-fsid (see --help)");
                return EXIT_USAGE;
        }
        r = osd_zap(&a.ctx, &a.zap, &res, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot zap: %m");
                return 1;
        }
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                const ZapResult *z = &res[i];
                if (z->error)
                        failed++;
                if (want_json(&a)) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "device", json_string_or_null(z->device));
                        json_object_object_add(o, "zapped", json_object_new_boolean(z->zapped));
                        json_object_object_add(o, "erased", json_strv(z->erased));
                        json_object_object_add(o, "error", json_string_or_null(z->error));
                        json_object_array_add(arr, o);
                } else if (z->error)
                        log_error("%s: %s", z->device, z->error);
                else {
                        _cleanup_free_ char *what = strv_join(z->erased, ", ");
                        printf("%s: %s%s%s\n", z->device, a.zap.dry_run ? "would be zapped" : "zapped",
                               isempty(what) ? "" : ": ", strempty(what));
                }
        }
        if (want_json(&a))
                print_json(arr, true);
        else
                json_object_put(arr);
        if (n == 0) {
                log_error("Nothing to zap: no device of that OSD on this node.");
                failed++;
        }
        zap_results_free(res, n);
        return failed ? 1 : 0;
}

static void help_osd(FILE *f) {
        fprintf(f,
"Usage: castlectl osd COMMAND [OPTIONS]\n"
"\n"
"OSDs on this node.\n"
"\n"
"Commands:\n"
"  prepare     make a device a BlueStore OSD and start it\n"
"  batch       LVM OSDs on many devices, block.db on the fast ones (ceph-volume lvm batch)\n"
"  activate    start this node's OSDs (at boot, or as a pod's entrypoint)\n"
"  list        every OSD on this node, castle's and ceph-volume's\n"
"\n"
"Run 'castlectl osd COMMAND --help' for the options of a command.\n");
}

int cmd_osd(int argc, char *argv[]) {
        if (argc < 2) {
                help_osd(stderr);
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h")) {
                help_osd(stdout);
                return 0;
        }
        if (streq(argv[1], "prepare"))
                return osd_prepare_cmd(argc - 1, argv + 1);
        if (streq(argv[1], "activate"))
                return osd_activate_cmd(argc - 1, argv + 1);
        if (streq(argv[1], "batch"))
                return osd_batch_cmd(argc - 1, argv + 1);
        if (streq(argv[1], "list"))
                return osd_list_cmd(argc - 1, argv + 1);
        log_error("Unknown command 'osd %s'. Run 'castlectl osd --help' for the list.", argv[1]);
        return EXIT_USAGE;
}

int cmd_zap(int argc, char *argv[]) {
        return zap_cmd(argc, argv);
}
