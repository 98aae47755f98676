/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The option parsing and JSON printing the castlectl-osd verbs share: the options more
 * than one verb has, parsed with each verb's own, prepare's and batch's progress printers,
 * and prepare's result as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/osd-util.h"
#include "common/conf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/size.h"
#include "osd-prep/start.h"
#include "common/strv.h"
#include "common/timeutil.h"

/* The options more than one verb has (OSDCLI_COMMON_OPTIONS, OSDCLI_PREPARE_OPTIONS, and
 * those several verbs list themselves): 1 if c was one of them, 0 if not, < 0 on error. */
static int shared_option(OsdArgs *a, int c) {
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
        case 'f':
                a->format = optarg;
                return 1;
        case ARG_DRY_RUN:
                a->prep.dry_run = a->zap.dry_run = true;
                return 1;
        case ARG_CRUSH_CLASS:
                a->prep.crush_class = optarg;
                return 1;
        case ARG_NO_START:
                a->ctx.start = START_NONE;
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
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--%s: '%s' is not a size", c == ARG_BLOCK_DB_SIZE ? "block-db-size" : "block-wal-size",
                                         optarg);
                return 1;
        case ARG_START_MODE: {
                int m = start_mode_from_string(optarg);
                if (m < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--start-mode: '%s' is not one of auto, systemd, fork, exec, none", optarg);
                a->ctx.start = (StartMode) m;
                return 1;
        }
        case ARG_TIMEOUT: {
                uint64_t t;
                if (conf_parse_duration(optarg, &t) < 0 || t < USEC_PER_SEC || t > USEC_PER_DAY)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--timeout: '%s' is not a number of seconds", optarg);
                a->ctx.up_timeout_usec = a->ctx.ceph.timeout_usec = t;
                return 1;
        }
        case ARG_OSD_ID: {
                int id;
                if (safe_atoi(optarg, &id) < 0 || id < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--osd-id: '%s' is not an OSD id", optarg);
                a->prep.osd_id = a->zap.osd_id = id;
                return 1;
        }
        case '?':
                return -EINVAL;
        default:
                return 0;
        }
}

int osdcli_parse(OsdArgs *a, const OsdVerb *v, int argc, char *argv[], void *userdata) {
        int c, r;

        while ((c = getopt_long(argc, argv, v->shortopts, v->options, NULL)) >= 0) {
                r = shared_option(a, c);
                if (r == 0 && v->option)
                        r = v->option(a, c, userdata);
                if (r < 0)
                        return r;
        }
        if (a->help) {
                v->help(stdout);
                return 0;
        }
        return 1;
}

bool osdcli_want_json(const OsdArgs *a) {
        return streq_ptr(a->format, "json");
}

int osdcli_check_format(const OsdArgs *a) {
        if (a->format && !streq(a->format, "json") && !streq(a->format, "table") && !streq(a->format, "text"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--format: '%s' is not text or json", a->format);
        return 0;
}

void osdcli_print_json(json_object *o, bool pretty) {
        printf("%s\n", json_object_to_json_string_ext(o, pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                             : JSON_C_TO_STRING_PLAIN));
        fflush(stdout);
        json_object_put(o);
}

json_object *osdcli_json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

json_object *osdcli_json_strv(char *const *l) {
        json_object *a = json_object_new_array();
        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
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
        osdcli_print_json(o, false);
}

/* After the options of prepare or batch: how they start OSDs, and show progress. */
int osdcli_prepare_options_done(OsdArgs *a) {
        if (a->ctx.start == START_EXEC)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--start-mode=exec is for `castlectl osd activate ID` only");
        if (!a->progress || streq(a->progress, "text"))
                a->ctx.progress = progress_text;
        else if (streq(a->progress, "json"))
                a->ctx.progress = progress_json;
        else if (!streq(a->progress, "none"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--progress: '%s' is not text, json or none", a->progress);
        return 0;
}

json_object *osdcli_prepare_json(const PrepareResult *r, const PrepareRequest *req, bool ok) {
        json_object *o = json_object_new_object(), *steps = json_object_new_array();

        json_object_object_add(o, "result", json_object_new_boolean(ok));
        json_object_object_add(o, "device", osdcli_json_string_or_null(r->device));
        json_object_object_add(o, "stable_id", osdcli_json_string_or_null(r->stable_id));
        json_object_object_add(o, "size", json_object_new_int64((int64_t) r->size));
        json_object_object_add(o, "available", json_object_new_boolean(r->available));
        json_object_object_add(o, "reasons", osdcli_json_strv(r->reasons));
        json_object_object_add(o, "dry_run", json_object_new_boolean(req->dry_run));
        json_object_object_add(o, "mode", json_object_new_string(r->lvm ? "lvm" : "raw"));
        json_object_object_add(o, "encrypted", json_object_new_boolean(r->encrypted));
        json_object_object_add(o, "db_device", osdcli_json_string_or_null(r->db_device));
        json_object_object_add(o, "wal_device", osdcli_json_string_or_null(r->wal_device));
        json_object_object_add(o, "block_path", osdcli_json_string_or_null(r->block_path));
        json_object_object_add(o, "osd_id", r->osd_id >= 0 ? json_object_new_int(r->osd_id) : NULL);
        json_object_object_add(o, "osd_uuid", osdcli_json_string_or_null(r->osd_uuid));
        json_object_object_add(o, "cluster_fsid", osdcli_json_string_or_null(r->cluster_fsid));
        json_object_object_add(o, "already_prepared", json_object_new_boolean(r->already_prepared));
        json_object_object_add(o, "resumed", json_object_new_boolean(r->resumed));
        json_object_object_add(o, "started", json_object_new_boolean(r->started));
        json_object_object_add(o, "error", osdcli_json_string_or_null(r->error));
        json_object_object_add(o, "rolled_back", osdcli_json_string_or_null(r->rolled_back));
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
