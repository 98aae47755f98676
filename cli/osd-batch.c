/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl osd batch: the options and the printing of `ceph-volume lvm batch`'s
 * counterpart; the plan and its execution are osd-prep/batch's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/osd-util.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/size.h"
#include "common/strv.h"
#include "discovery/health.h"
#include "osd-prep/batch.h"
#include "osd-prep/target.h"

static void help_batch(FILE *f) {
        fprintf(f,
"Usage: castlectl osd batch DEVICE... [--db-devices DEVICE...] [--wal-devices DEVICE...]\n"
"                           [OPTIONS]\n"
"\n"
"Make LVM-mode OSDs on every DEVICE, as `ceph-volume lvm batch` lays them out (or raw\n"
"OSDs, one per DEVICE, with --method=raw). Without\n"
"--db-devices and --wal-devices (and --no-auto), a mix of rotational and solid-state\n"
"devices is split: the rotational ones hold data and the others block.db, each cut into\n"
"even slots, one per OSD it serves. The plan is checked whole before anything is written: one device that is\n"
"not available refuses the batch. Devices that already hold their OSDs are skipped, so\n"
"running the same batch again finishes an interrupted one and adds nothing else.\n"
"\n"
"      --db-devices DEVICE...   block.db on these (ceph VGs on them are reused)\n"
"      --wal-devices DEVICE...  block.wal on these\n"
"      --osds-per-device=N      N OSDs on each data device (default 1)\n"
"      --no-auto                every DEVICE holds data, whatever its rotation (as cephadm\n"
"                               runs ceph-volume lvm batch)\n"
"      --method=raw|lvm         LVM volumes (default), or raw OSDs that take one whole\n"
"                               data device each, without DB/WAL devices or dm-crypt\n"
"      --db-slots=N             cut each DB device in N slots (default: one per OSD it\n"
"                               serves); --wal-slots=N likewise\n"
"      --osd-id=ID              reuse this destroyed OSD id; repeat it for the next OSDs,\n"
"                               in the order they are made\n"
"      --osdspec-affinity=NAME  the OSD spec that made them, as cephadm records it: the LV\n"
"                               tag ceph.osdspec_affinity and the BlueStore label's key\n"
"      --block-db-size=SIZE     each block.db LV this big (default: an even slot)\n"
"      --block-wal-size=SIZE    each block.wal LV this big (default: an even slot)\n"
"      --dmcrypt                LUKS2 on every LV; the keys are kept by the monitors\n"
"      --crush-device-class=CLASS\n"
"      --report                 print the plan and change nothing\n"
"      --no-start, --start-mode=MODE, --timeout=SEC   as for prepare\n"
"  -f, --format=FORMAT          text (default) or json\n"
"      --progress=KIND          text (default, on stderr), json (one object per line on\n"
"                               stdout, then one result object: result, osd_ids, error),\n"
"                               none\n"
"\n"
OSDCLI_COMMON_HELP
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
                                return strv_free(out), log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s needs at least one device", argv[i]);
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
        json_object_object_add(j, "data_stable_id", osdcli_json_string_or_null(o->data->stable_id));
        json_object_object_add(j, "data_size", json_object_new_int64((int64_t) o->data_size));
        json_object_object_add(j, "db", o->db ? json_object_new_string(o->db->kname) : NULL);
        json_object_object_add(j, "db_size", o->db ? json_object_new_int64((int64_t) o->db_size) : NULL);
        json_object_object_add(j, "wal", o->wal ? json_object_new_string(o->wal->kname) : NULL);
        json_object_object_add(j, "wal_size", o->wal ? json_object_new_int64((int64_t) o->wal_size) : NULL);
        json_object_object_add(j, "exists", json_object_new_boolean(o->exists));
        return j;
}

static void print_batch_report(const BatchPlan *p, bool raw, bool dmcrypt) {
        printf("%zu OSD%s (%s%s); nothing was changed:\n", p->n, p->n == 1 ? "" : "s", raw ? "raw" : "LVM",
               dmcrypt ? ", dm-crypt" : "");
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

typedef struct BatchOutput {
        const OsdArgs *args;
        json_object *results;
        json_object *osd_ids;           /* the OSDs made, for --progress=json's result */
        char *error;                    /* the first failure, in words */
} BatchOutput;

/* Each OSD the batch made or failed to make: a line (or the error) and its JSON. */
static void batch_osd_done(const BatchOsd *o, const PrepareRequest *req, const PrepareResult *res, int r,
                           void *userdata) {
        BatchOutput *out = userdata;

        if (r < 0 && !out->error)
                (void) asprintf(&out->error, "/dev/%s: %s", o->data->kname, res->error ?: strerror(-r));
        if (r >= 0 && res->osd_id >= 0)
                json_object_array_add(out->osd_ids, json_object_new_int(res->osd_id));
        if (r < 0) {
                log_error("/dev/%s: %s", o->data->kname, res->error ?: strerror(-r));
                if (res->rolled_back)
                        log_error("Rolled back: %s", res->rolled_back);
        } else if (!osdcli_want_json(out->args) && !streq_ptr(out->args->progress, "json"))
                printf("osd.%d is %s on /dev/%s%s%s\n", res->osd_id,
                       out->args->ctx.start == START_NONE ? "prepared" : "up", o->data->kname,
                       o->db ? ", block.db on /dev/" : "", o->db ? o->db->kname : "");
        json_object_array_add(out->results, osdcli_prepare_json(res, req, r >= 0));
}

/* --progress=json's last line, which the agent's job runner takes for the end of the job:
 * whether it worked, the OSDs the batch made (and those that already were there are not
 * listed), and the first error. Takes osd_ids. */
static void print_progress_result(const char *error, json_object *osd_ids, const char *message) {
        json_object *o = json_object_new_object();
        _cleanup_free_ char *msg = NULL;
        size_t n = osd_ids ? json_object_array_length(osd_ids) : 0;

        for (size_t i = 0; i < n; i++) {
                char *m;
                if (asprintf(&m, "%s%sosd.%d", strempty(msg), msg ? " " : "",
                             json_object_get_int(json_object_array_get_idx(osd_ids, i))) < 0)
                        break;
                free(msg);
                msg = m;
        }
        json_object_object_add(o, "result", json_object_new_boolean(!error));
        json_object_object_add(o, "batch", json_object_new_boolean(true));
        json_object_object_add(o, "osd_id", json_object_new_int(n > 0 ? json_object_get_int(json_object_array_get_idx(osd_ids, 0)) : -1));
        json_object_object_add(o, "osd_ids", osd_ids ?: json_object_new_array());
        json_object_object_add(o, "message", json_object_new_string(message ?: msg ?: (error ? "" : "no new OSD was needed")));
        if (error)
                json_object_object_add(o, "error", json_object_new_string(error));
        osdcli_print_json(o, false);
}

/* The batch's own options. */
typedef struct BatchArgs {
        char **db, **wal;
        unsigned per, db_slots, wal_slots;
        int osd_ids[BATCH_MAX_OSD_IDS];
        size_t n_osd_ids;
        const char *affinity;
        bool report, raw, no_auto;
} BatchArgs;

static void batch_args_done(BatchArgs *b) {
        strv_free(b->db);
        strv_free(b->wal);
}

static int batch_option(OsdArgs *a, int c, void *userdata) {
        BatchArgs *b = userdata;
        int n;

        switch (c) {
        case ARG_DB_DEVICES:
        case ARG_WAL_DEVICES:
                return strv_extend(c == ARG_DB_DEVICES ? &b->db : &b->wal, optarg) < 0 ? -ENOMEM : 1;
        case ARG_OSDS_PER_DEVICE:
                if (safe_atoi(optarg, &n) < 0 || n <= 0 || n > 32)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--osds-per-device: '%s' is not a number from 1 to 32", optarg);
                b->per = (unsigned) n;
                return 1;
        case ARG_REPORT:
                b->report = true;
                return 1;
        case ARG_NO_AUTO:
                b->no_auto = true;
                return 1;
        case ARG_METHOD:
                if (!streq(optarg, "raw") && !streq(optarg, "lvm"))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--method: '%s' is not raw or lvm", optarg);
                b->raw = streq(optarg, "raw");
                return 1;
        case ARG_DB_SLOTS:
        case ARG_WAL_SLOTS:
                if (safe_atoi(optarg, &n) < 0 || n <= 0 || n > BATCH_MAX_SLOTS)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--%s-slots: '%s' is not a number from 1 to %d",
                                               c == ARG_DB_SLOTS ? "db" : "wal", optarg, BATCH_MAX_SLOTS);
                *(c == ARG_DB_SLOTS ? &b->db_slots : &b->wal_slots) = (unsigned) n;
                return 1;
        case ARG_OSD_IDS:
                if (safe_atoi(optarg, &n) < 0 || n < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--osd-id: '%s' is not an OSD id", optarg);
                if (b->n_osd_ids >= BATCH_MAX_OSD_IDS)
                        return log_error_errno(SYNTHETIC_ERRNO(E2BIG), "--osd-id: more than %d ids", BATCH_MAX_OSD_IDS);
                b->osd_ids[b->n_osd_ids++] = n;
                return 1;
        case ARG_OSDSPEC_AFFINITY:
                if (!batch_affinity_valid(optarg))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "--osdspec-affinity: '%s' is not a service id (letters, digits, '.', '_', '-')",
                                               optarg);
                b->affinity = optarg;
                return 1;
        default:
                return 0;
        }
}

/* The health of the disks the batch names, read now (the scan reads none): a failing disk
 * is not available, and refuses the batch like any other reason. */
static int read_named_health(DeviceList *all, const BatchRequest *req, const char *sysroot) {
        char *const *lists[] = { req->devices, req->db_devices, req->wal_devices };
        size_t n = 0, k = 0;

        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                n += strv_length(lists[l]);
        _cleanup_free_ const Device **named = calloc(n + 1, sizeof *named);
        if (!named)
                return -ENOMEM;
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                STRV_FOREACH(name, lists[l])
                        named[k++] = target_find(all, *name); /* NULL: the plan says it is missing */
        return health_read_disks(all, named, k, sysroot, 0);
}

int osdcli_batch(int argc, char *argv[]) {
        static const struct option options[] = {
                { "db-devices", required_argument, NULL, ARG_DB_DEVICES },
                { "wal-devices", required_argument, NULL, ARG_WAL_DEVICES },
                { "osds-per-device", required_argument, NULL, ARG_OSDS_PER_DEVICE },
                { "report", no_argument, NULL, ARG_REPORT },
                { "no-auto", no_argument, NULL, ARG_NO_AUTO },
                { "method", required_argument, NULL, ARG_METHOD },
                { "db-slots", required_argument, NULL, ARG_DB_SLOTS },
                { "wal-slots", required_argument, NULL, ARG_WAL_SLOTS },
                { "osd-id", required_argument, NULL, ARG_OSD_IDS },
                { "osdspec-affinity", required_argument, NULL, ARG_OSDSPEC_AFFINITY },
                OSDCLI_PREPARE_OPTIONS,
                OSDCLI_COMMON_OPTIONS,
                {},
        };
        static const OsdVerb verb = { "f:vh", options, batch_option, help_batch };
        _cleanup_strv_free_ char **args = NULL;
        _cleanup_(batch_args_done) BatchArgs b = {};
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        _cleanup_(batch_plan_done) BatchPlan plan = {};
        _cleanup_free_ char *err = NULL;
        BatchRequest req = {};
        OsdArgs a = { .prep.osd_id = -1 };
        json_object *results = NULL;
        BatchOutput out = {};
        int r, failed = 0;

        if (expand_lists(argc, argv, &args) < 0)
                return EXIT_USAGE;
        r = osdcli_parse(&a, &verb, (int) strv_length(args), args, &b);
        if (r <= 0)
                return osdcli_parse_exit(r);
        if (osdcli_check_format(&a) < 0)
                return EXIT_USAGE;
        if (optind >= (int) strv_length(args)) {
                log_error("castlectl osd batch needs at least one DEVICE (see --help)");
                return EXIT_USAGE;
        }
        if (osdcli_prepare_options_done(&a) < 0)
                return EXIT_USAGE;
        req.db_size = a.prep.db_size;
        req.wal_size = a.prep.wal_size;
        req.crush_class = a.prep.crush_class;
        req.dmcrypt = a.prep.dmcrypt;
        req.devices = args + optind;
        req.db_devices = b.db;
        req.wal_devices = b.wal;
        req.osds_per_device = b.per;
        req.db_slots = b.db_slots;
        req.wal_slots = b.wal_slots;
        req.raw = b.raw;
        req.no_auto = b.no_auto;
        req.osd_ids = b.osd_ids;
        req.n_osd_ids = b.n_osd_ids;
        req.osdspec_affinity = b.affinity;

        r = devscan_run(&a.ctx.scan, &scan);
        if (r < 0) {
                if (streq_ptr(a.progress, "json"))
                        print_progress_result("cannot scan the devices", NULL, NULL);
                return log_error_errno(r, "Cannot scan the devices: %m"), 1;
        }
        r = read_named_health(scan->devices, &req, a.ctx.scan.sysroot);
        if (r < 0)
                return log_oom(), 1;
        r = batch_plan(scan->devices, &req, &plan, &err);
        if (r < 0) {
                log_error("%s", strempty(err));
                if (streq_ptr(a.progress, "json"))
                        print_progress_result(err ?: "the batch could not be planned", NULL, NULL);
                return 1;
        }
        if (b.report) {
                if (osdcli_want_json(&a)) {
                        json_object *l = json_object_new_array();
                        for (size_t i = 0; i < plan.n; i++)
                                json_object_array_add(l, batch_osd_json(&plan.osds[i]));
                        osdcli_print_json(l, true);
                } else if (!streq_ptr(a.progress, "json"))
                        print_batch_report(&plan, b.raw, a.prep.dmcrypt);
                if (streq_ptr(a.progress, "json")) {
                        _cleanup_free_ char *msg = NULL;
                        size_t k = 0;
                        for (size_t i = 0; i < plan.n; i++)
                                k += !plan.osds[i].exists;
                        if (asprintf(&msg, "would make %zu %s OSD%s (%zu there already)", k, b.raw ? "raw" : "LVM",
                                     k == 1 ? "" : "s", plan.n - k) < 0)
                                return log_oom(), 1;
                        print_progress_result(NULL, NULL, msg);
                }
                return 0;
        }
        results = json_object_new_array();
        out = (BatchOutput) { .args = &a, .results = results, .osd_ids = json_object_new_array() };
        failed = batch_execute(&a.ctx, &req, &plan, batch_osd_done, &out);
        if (osdcli_want_json(&a))
                osdcli_print_json(results, !streq_ptr(a.progress, "json"));
        else
                json_object_put(results);
        if (streq_ptr(a.progress, "json"))
                print_progress_result(failed > 0 ? strempty(out.error) : NULL, out.osd_ids, NULL);
        else
                json_object_put(out.osd_ids);
        free(out.error);
        return failed > 0 ? 1 : 0;
}
