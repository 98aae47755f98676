/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl osd rm: remove OSDs of this node (out, drain, stop, destroy or purge, zap), or
 * carry on with or cancel a journalled removal. What the agent runs for `castlectl cluster
 * osd rm`, one child per OSD. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/osd-util.h"
#include "common/conf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "osd-prep/remove.h"

#define REMOVE_CLIENT_DEFAULT "client.castle-osd-rm"

enum {
        ARG_RM_REPLACE = 0x200,
        ARG_RM_ZAP,
        ARG_RM_FORCE,
        ARG_RM_CANCEL,
        ARG_RM_CLIENT,
        ARG_RM_POLL,
        ARG_RM_DRAIN_TIMEOUT,
        ARG_RM_RESUME,
        ARG_RM_OUT,
};

typedef struct RmArgs {
        RemoveRequest req;
        const char *client;
} RmArgs;

static void help_rm(FILE *f) {
        fprintf(f,
"Usage: castlectl osd rm [OPTIONS] ID...\n"
"       castlectl osd rm --cancel ID...\n"
"\n"
"Remove OSDs of this node as `ceph orch osd rm` does: mark each out, wait until\n"
"`ceph osd safe-to-destroy` says the cluster can lose it (where no ceph-mgr runs: until\n"
"the daemon holds no PG), showing the PGs left, stop its daemon and close what its\n"
"activation opened, then purge it (id, CRUSH entry and key gone) or, with --replace,\n"
"destroy it (the id and its CRUSH position stay for a new disk in the same slot), and\n"
"with --zap remove its volumes (LVM: its own LVs only, a VG left empty with its PV, as\n"
"`ceph-volume lvm zap --destroy` does). Each step is journalled first in\n"
"STATE-DIR/remove/ID.json: running the command again carries on where a removal stopped.\n"
"With --replace the entry stays when done: it reserves the id for the new disk.\n"
"\n"
"      --replace           destroy instead of purge: keep the id and CRUSH position\n"
"      --zap               remove the OSD's volumes when it is gone\n"
"      --force             do not wait for the drain (data may be lost if the cluster\n"
"                          holds no other copy)\n"
"      --cancel            undo removals that have not reached the destroy step: the\n"
"                          OSD goes in again and is started again if it was stopped\n"
"      --resume            only carry on journalled removals (what the agent runs at\n"
"                          start); an id with none is left alone\n"
"      --out               only mark the OSDs out, nothing else, no journal (what the\n"
"                          agent runs when an OSD's disk turns failing, health-mark-out)\n"
"      --client=NAME       the cephx client (default " REMOVE_CLIENT_DEFAULT "); --keyring\n"
"                          defaults to /etc/ceph/CLUSTER.NAME.keyring\n"
"      --poll-interval=SEC how often the drain is checked (default 5)\n"
"      --drain-timeout=SEC give up draining after this long (default: never)\n"
"      --start-mode=MODE   --cancel: how a stopped OSD is started again: auto (default:\n"
"                          systemd where it runs, else fork), systemd, fork\n"
"  -f, --format=FORMAT     text (default) or json: one result object per OSD\n"
"      --progress=KIND     text (default, on stderr), json (one object per line on stdout,\n"
"                          before each result), none\n"
"\n"
OSDCLI_COMMON_HELP
"\n"
"The client needs these capabilities, and no more:\n"
"  ceph auth get-or-create client.castle-osd-rm mon 'allow r, allow command \"osd out\",\n"
"    allow command \"osd in\", allow command \"osd down\", allow command \"osd destroy-actual\",\n"
"    allow command \"osd purge-actual\"' mgr 'allow r'\n"
"\n"
"Exit status: 0 when every removal finished (or was cancelled), 1 when one failed (it\n"
"carries on when run again), 2 on a usage error.\n");
}

static int rm_option(OsdArgs *a, int c, void *userdata) {
        RmArgs *rm = userdata;
        uint64_t t;

        switch (c) {
        case ARG_RM_REPLACE:
                rm->req.replace = true;
                return 1;
        case ARG_RM_ZAP:
                rm->req.zap = true;
                return 1;
        case ARG_RM_FORCE:
                rm->req.force = true;
                return 1;
        case ARG_RM_CANCEL:
                rm->req.cancel = true;
                return 1;
        case ARG_RM_RESUME:
                rm->req.resume = true;
                return 1;
        case ARG_RM_OUT:
                rm->req.out_only = true;
                return 1;
        case ARG_RM_CLIENT:
                rm->client = optarg;
                return 1;
        case ARG_RM_POLL:
        case ARG_RM_DRAIN_TIMEOUT:
                if (conf_parse_duration(optarg, &t) < 0 || t < 100 * USEC_PER_MSEC || t > 30 * USEC_PER_DAY)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--%s: '%s' is not a number of seconds",
                                               c == ARG_RM_POLL ? "poll-interval" : "drain-timeout", optarg);
                *(c == ARG_RM_POLL ? &rm->req.poll_usec : &rm->req.drain_timeout_usec) = t;
                return 1;
        default:
                return 0;
        }
}

static json_object *result_json(const RemoveRequest *req, const RemoveResult *res, bool ok) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "result", json_object_new_boolean(ok));
        json_object_object_add(o, "osd_id", json_object_new_int(req->osd_id));
        json_object_object_add(o, "step", json_object_new_string(removal_step_to_string(res->step)));
        json_object_object_add(o, "resumed", json_object_new_boolean(res->resumed));
        json_object_object_add(o, "cancel", json_object_new_boolean(req->cancel));
        json_object_object_add(o, "error", osdcli_json_string_or_null(ok ? NULL : res->error ?: "failed"));
        return o;
}

int osdcli_rm(int argc, char *argv[]) {
        static const struct option options[] = {
                { "replace", no_argument, NULL, ARG_RM_REPLACE },
                { "zap", no_argument, NULL, ARG_RM_ZAP },
                { "force", no_argument, NULL, ARG_RM_FORCE },
                { "cancel", no_argument, NULL, ARG_RM_CANCEL },
                { "client", required_argument, NULL, ARG_RM_CLIENT },
                { "resume", no_argument, NULL, ARG_RM_RESUME },
                { "out", no_argument, NULL, ARG_RM_OUT },
                { "poll-interval", required_argument, NULL, ARG_RM_POLL },
                { "drain-timeout", required_argument, NULL, ARG_RM_DRAIN_TIMEOUT },
                { "progress", required_argument, NULL, ARG_PROGRESS },
                { "start-mode", required_argument, NULL, ARG_START_MODE },
                OSDCLI_COMMON_OPTIONS,
                {},
        };
        static const OsdVerb verb = { "f:vh", options, rm_option, help_rm };
        _cleanup_strv_free_ char **ids = NULL;
        _cleanup_free_ char *keyring = NULL, *entity = NULL;
        RmArgs rm = { .client = REMOVE_CLIENT_DEFAULT };
        OsdArgs a = {};
        int r, failed = 0;

        r = osdcli_parse(&a, &verb, argc, argv, &rm);
        if (r <= 0)
                return osdcli_parse_exit(r);
        if (osdcli_check_format(&a) < 0 || osdcli_prepare_options_done(&a) < 0)
                return EXIT_USAGE;
        if (optind >= argc) {
                log_error("castlectl osd rm needs at least one OSD id (see --help)");
                return EXIT_USAGE;
        }
        if (rm.req.out_only && (rm.req.cancel || rm.req.replace || rm.req.zap || rm.req.force || rm.req.resume)) {
                log_error("--out takes no other removal option");
                return EXIT_USAGE;
        }
        if (rm.req.cancel && (rm.req.replace || rm.req.zap || rm.req.force || rm.req.resume)) {
                log_error("--cancel takes no other removal option");
                return EXIT_USAGE;
        }
        for (int i = optind; i < argc; i++) {
                int id;
                if (safe_atoi(argv[i], &id) < 0 || id < 0) {
                        log_error("'%s' is not an OSD id", argv[i]);
                        return EXIT_USAGE;
                }
        }
        /* The dedicated client, not bootstrap-osd: it cannot mark OSDs out or destroy them. */
        entity = startswith(rm.client, "client.") ? strdup(rm.client) : NULL;
        if (!entity && asprintf(&entity, "client.%s", rm.client) < 0)
                return log_oom(), 1;
        if (!a.ctx.ceph.keyring) {
                if (asprintf(&keyring, "/etc/ceph/%s.%s.keyring", osd_ctx_cluster(&a.ctx), entity) < 0)
                        return log_oom(), 1;
                a.ctx.ceph.keyring = keyring;
        }
        a.ctx.ceph.entity = entity;
        for (int i = optind; i < argc; i++) {
                _cleanup_(remove_result_done) RemoveResult res = {};
                RemoveRequest req = rm.req;

                (void) safe_atoi(argv[i], &req.osd_id);
                r = osd_remove(&a.ctx, &req, &res);
                if (r < 0)
                        failed++;
                if (osdcli_want_json(&a) || streq_ptr(a.progress, "json"))
                        osdcli_print_json(result_json(&req, &res, r >= 0), osdcli_want_json(&a) && !streq_ptr(a.progress, "json"));
                else if (r < 0)
                        log_error("osd.%d: %s", req.osd_id, res.error ?: strerror(-r));
                else if (req.cancel)
                        printf("osd.%d: removal cancelled; the OSD is in\n", req.osd_id);
                else if (req.out_only)
                        printf("osd.%d: out\n", req.osd_id);
                else
                        printf("osd.%d: %s\n", req.osd_id,
                               rm.req.replace ? "destroyed; its id waits for a new disk" : "removed");
        }
        return failed ? 1 : 0;
}
