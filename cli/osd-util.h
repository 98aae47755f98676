/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the castlectl-osd verbs (osd prepare, batch, activate, list; zap) share: the option
 * ids and the options every verb has, the options of prepare and batch, --format and
 * --progress, and the JSON printing. One file per verb, as systemctl-*.c. */
#pragma once

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/commands.h"

#include "osd-prep/context.h"
#include "osd-prep/prepare.h"
#include "osd-prep/zap.h"

#define OSDCLI_COMMON_HELP \
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
        ARG_METHOD,
        ARG_DB_SLOTS,
        ARG_WAL_SLOTS,
        ARG_OSD_IDS,
        ARG_OSDSPEC_AFFINITY,
        ARG_NO_AUTO,
};

#define OSDCLI_COMMON_OPTIONS                                              \
        { "cluster", required_argument, NULL, ARG_CLUSTER },               \
        { "conf", required_argument, NULL, ARG_CONF },                     \
        { "keyring", required_argument, NULL, ARG_KEYRING },               \
        { "osd-root", required_argument, NULL, ARG_OSD_ROOT },             \
        { "state-dir", required_argument, NULL, ARG_STATE_DIR },           \
        { "allow-loop", no_argument, NULL, ARG_ALLOW_LOOP },               \
        { "format", required_argument, NULL, 'f' },                        \
        { "verbose", no_argument, NULL, 'v' },                             \
        { "help", no_argument, NULL, 'h' }

/* The options prepare and batch share. */
#define OSDCLI_PREPARE_OPTIONS                                                  \
        { "crush-device-class", required_argument, NULL, ARG_CRUSH_CLASS },     \
        { "no-start", no_argument, NULL, ARG_NO_START },                        \
        { "start-mode", required_argument, NULL, ARG_START_MODE },              \
        { "timeout", required_argument, NULL, ARG_TIMEOUT },                    \
        { "progress", required_argument, NULL, ARG_PROGRESS },                  \
        { "block-db-size", required_argument, NULL, ARG_BLOCK_DB_SIZE },        \
        { "block-wal-size", required_argument, NULL, ARG_BLOCK_WAL_SIZE },      \
        { "dmcrypt", no_argument, NULL, ARG_DMCRYPT }

typedef struct OsdArgs {
        OsdContext ctx;
        PrepareRequest prep;
        ZapRequest zap;
        const char *format;
        const char *progress;
        bool all, help;
} OsdArgs;

typedef struct OsdVerb {
        const char *shortopts;
        const struct option *options;
        /* The verb's own options: 1 if c was one of them, 0 if not, < 0 on error (logged;
         * -ENOMEM: out of memory). NULL: it has none. */
        int (*option)(OsdArgs *a, int c, void *userdata);
        void (*help)(FILE *f);
} OsdVerb;

/* Parses argv with v's options: those more than one verb has, then the verb's own. Returns 1
 * to go on, 0 when --help was printed, < 0 on a usage error (logged) or -ENOMEM. */
int osdcli_parse(OsdArgs *a, const OsdVerb *v, int argc, char *argv[], void *userdata);
/* The exit status when osdcli_parse() did not return 1. */
static inline int osdcli_parse_exit(int r) {
        return r == 0 ? 0 : r == -ENOMEM ? 1 : EXIT_USAGE;
}
/* After the options of prepare or batch: how they start OSDs, and show progress. */
int osdcli_prepare_options_done(OsdArgs *a);

int osdcli_check_format(const OsdArgs *a);
bool osdcli_want_json(const OsdArgs *a);

/* Prints o on stdout, one line or pretty, and drops the reference. */
void osdcli_print_json(json_object *o, bool pretty);
json_object *osdcli_json_string_or_null(const char *s);
json_object *osdcli_json_strv(char *const *l);
/* One prepare's result, as osd prepare --format=json prints it and osd batch lists it. */
json_object *osdcli_prepare_json(const PrepareResult *r, const PrepareRequest *req, bool ok);

/* The verbs; each returns the process exit status. */
int osdcli_prepare(int argc, char *argv[]);
int osdcli_batch(int argc, char *argv[]);
int osdcli_activate(int argc, char *argv[]);
int osdcli_run(int argc, char *argv[]);
int osdcli_list(int argc, char *argv[]);
int osdcli_rm(int argc, char *argv[]);
