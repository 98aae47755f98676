/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster: the coordinators' view of every node (the watch is cluster-watch.c).
 * Talks to the query endpoints over CURVE with this client's key pair, and fails over from a
 * coordinator that does not answer to the next one. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cluster.h"
#include "cli/commands.h"
#include "cli/rook.h"
#include "cli/table.h"
#include "common/conf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/size.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/link.h"

static void help(FILE *f) {
        fprintf(f,
"Usage: castlectl cluster [OPTIONS] COMMAND\n"
"\n"
"Asks castle-coordinator about the nodes it knows and their devices. With several\n"
"coordinators (which all know the whole fleet), asks one at a time and fails over: a query goes\n"
"to one drawn at random first, to the next one too when no answer came within 0.5 s (the first\n"
"answer wins; a list comes whole from one coordinator, and starts again on another when its\n"
"coordinator falls silent for 2 s in the middle); a command goes to the next one, with the\n"
"same command id, when its coordinator is lost (connection closed, or 6 s without heartbeats)\n"
"or could not be reached within 1 s. --timeout bounds every wait for an answer, whichever\n"
"coordinator gives it.\n"
"\n"
"Commands:\n"
"  nodes                 every node: state (online, stale, offline), when last seen, devices\n"
"  devices               every node's devices, like `ceph orch device ls`\n"
"  device ID             one device by stable id (on every node that has it): its record,\n"
"                        reject reasons, OSDs and every disk health metric its agent read\n"
"  osds [--node=NODE]    every OSD of the fleet as its agent last reported it: id, node,\n"
"                        data device (path and stable id), kind (raw, lvm, +dmcrypt), its\n"
"                        disk's health, the daemon's state (running, crash-looping, stopped,\n"
"                        failed) with its restarts and last exit, and its removal step if it\n"
"                        is being removed; json also lists the reserved ids\n"
"  osd manifests [--node=NODE] [--image=IMAGE]\n"
"                        one Kubernetes Deployment per OSD (a List, for kubectl apply), as\n"
"                        Rook runs OSDs: on the OSD's node (kubernetes.io/hostname), privileged,\n"
"                        `castlectl osd run ID` as its command, the host's /dev, /sys,\n"
"                        /run/udev, /run/lvm, /var/lib/ceph, /var/log/ceph and the castle-ceph\n"
"                        Secret mounted, liveness through the OSD's admin socket\n"
"  osd rm ID... [--replace] [--zap] [--force] [--wait]\n"
"                        remove OSDs on their nodes (found in the OSD list), as `ceph orch\n"
"                        osd rm`: out, drain until safe-to-destroy (the PGs left are shown;\n"
"                        --force skips it), stop, purge (--replace: destroy, keeping the id\n"
"                        and CRUSH position for a new disk in the same slot), wipe the\n"
"                        volumes (--zap). Journalled on the node: it carries on after a\n"
"                        restart. Returns once it runs (--wait: once it is done)\n"
"  osd rm cancel ID...   stop removals before their destroy step: the OSD goes in again\n"
"                        (and is started again if it was stopped)\n"
"  osd rm status         the removals in progress (step, PGs left, options, error) and the\n"
"                        ids reserved for a replacement\n"
"  watch                 print changes as they happen, until interrupted; when the\n"
"                        coordinator goes away (closed, or silent for 6 s) says so on stderr,\n"
"                        watches the next coordinator that answers (or the same one once it\n"
"                        is back), prints what changed meanwhile and goes on\n"
"  osd create NODE DEVICE...\n"
"                        make BlueStore OSDs on NODE's devices (stable ids or /dev paths) and\n"
"                        start them; the node's agent runs `castlectl osd prepare` for one raw\n"
"                        device without further options, else `castlectl osd batch` (every\n"
"                        layout: raw or LVM, DB/WAL devices, slots, dm-crypt, OSDs per\n"
"                        device, ids to reuse); progress is shown, then the OSDs made\n"
"  osd replace ID --device NODE:DEVICE\n"
"                        give the id NODE reserved (`osd rm --replace`) to DEVICE (a stable id\n"
"                        or /dev path), whatever its slot: the agent prepares it with the id\n"
"                        in the old OSD's layout; progress is shown, then the OSD\n"
"  zap NODE DEVICE --yes [--destroy]\n"
"                        destroy what is on NODE's device, with all of `castlectl zap`'s\n"
"                        checks made on the node (never a mounted device, the system disk, a\n"
"                        running OSD's); without --yes nothing is sent\n"
"  rescan NODE|--all     make NODE's agent (or every online node's) probe all its devices again\n"
"  node rm NODE [--force]\n"
"                        forget NODE: its record and devices leave the coordinator's store and its\n"
"                        commands in progress fail. Refused while NODE is online unless --force\n"
"                        (an agent that is still running comes back at its next message)\n"
"  audit [--since=TIME] [--limit=N]\n"
"                        the audit trail, oldest first: every command and node removal, who\n"
"                        asked (key name, role, key fingerprint in json), which node and\n"
"                        device, when, and what became of it (a \"requested\" record, then its\n"
"                        result). TIME: a Unix time, an ISO date or date and time (local, or\n"
"                        UTC with Z), or a duration ago (1h, 30min, 7d); --limit: the newest N\n"
"                        (default: the coordinator's 1000)\n"
"  apply -i FILE|- [--dry-run]\n"
"                        apply the OSD specs (cephadm's OSD service spec YAML; several\n"
"                        documents are one apply, all or none) to the fleet: the coordinator\n"
"                        checks them against every node's devices, stores them and gives them to\n"
"                        the agents of the nodes they place. Prints each node's plan: the OSDs\n"
"                        to make (data, DB, WAL devices and sizes, encrypted), those that exist,\n"
"                        and every device not taken with the reason. --dry-run: the plan only\n"
"  specs [--format=table|json|yaml]\n"
"                        the stored specs with their state: nodes placed, OSDs existing and to\n"
"                        make, unmanaged; yaml: the documents as applied\n"
"  spec rm NAME          remove the stored spec NAME; the OSDs it made stay (nothing is\n"
"                        written to any disk)\n"
"  plan [NAME]           what the stored specs (or NAME) would make now, node by node, as\n"
"                        apply prints it\n"
"  key unbind KEY        forget which node the agent key KEY (its name in the coordinator's\n"
"                        agent-keys directory, or its public key) is bound to, so that a\n"
"                        reinstalled node with a new key may take its node id (admin role)\n"
"\n"
"Options:\n"
"  -i, --input=FILE      apply: the YAML file; - reads standard input\n"
"  -f, --format=FORMAT   table (default) or json; specs also takes yaml; devices also takes rook: a Kubernetes List\n"
"                        of ConfigMaps, one per node, laid out as Rook's discovery daemon\n"
"                        writes local-device-<node> (data.devices: the JSON array of Rook's\n"
"                        LocalDisk records as a string; the node is the agent's hostname)\n"
"      --namespace=NS    rook: the ConfigMaps' namespace (default rook-ceph; \"\" for none)\n"
"  -n, --no-headings     table without the heading line\n"
"      --node=NODE       devices, osds, osd manifests: only this node's\n"
"      --available       devices: only available ones\n"
"      --health[=VERDICT] devices: a HEALTH column (the verdict and its reasons); with\n"
"                        VERDICT (unknown, ok, warning, failing) only those disks (one never\n"
"                        read counts as unknown)\n"
"      --rotational=yes|no, --transport=NAME, --model=TEXT, --min-size=SIZE,\n"
"      --max-size=SIZE, --limit=N   devices: further filters (--limit: also audit)\n"
"      --since=TIME      audit: records from TIME on\n"
"      --coordinator=EP[,EP...]  query endpoint; repeat it (or give a comma-separated list)\n"
"                        for several coordinators, up to 16 (default $CASTLE_COORDINATOR, a\n"
"                        comma-separated list too, else tcp://127.0.0.1:7101)\n"
"      --server-key=FILE[,FILE...]  the coordinators' public key: one for all, or one per\n"
"                        endpoint in the same order (default /etc/castle/keys/coordinator.key)\n"
"      --key=FILE        this client's key pair, FILE_secret is read\n"
"                        (default /etc/castle/keys/castlectl.key)\n"
"      --insecure        no CURVE (only against a coordinator started with --insecure)\n"
"      --timeout=SEC     give up after SEC seconds without an answer from any coordinator\n"
"                        (default 5; osd create waits at least 10 minutes between progress\n"
"                        messages)\n"
"      --exit-on-loss    watch: exit with status 1 when the coordinator is lost and no other\n"
"                        one answers\n"
"      --command-id=N    osd create, zap, rescan: the command's id (1 to 2^53-1; default: a\n"
"                        random one). A command sent again with its id, through any\n"
"                        coordinator, is run\n"
"                        once: for scripts that retry, and to follow a command again after\n"
"                        castlectl was interrupted (a failed command prints its id)\n"
"      --dry-run         osd create, apply: print the plan and change nothing\n"
"      --force           node rm: also while the node is online; osd rm: no drain\n"
"      --crush-device-class=CLASS  osd create: the OSD's device class\n"
"      --method=raw|lvm, --lvm   osd create: raw OSDs (default; one per DEVICE, no DB/WAL)\n"
"                        or LVM volumes laid out like `ceph-volume lvm batch`\n"
"      --db-devices=DEV[,DEV...], --wal-devices=DEV[,DEV...]   osd create: block.db and\n"
"                        block.wal devices (LVM; repeatable)\n"
"      --osds-per-device=N, --block-db-size=SIZE, --block-wal-size=SIZE, --db-slots=N,\n"
"      --wal-slots=N, --dmcrypt   osd create: as for `castlectl osd batch` (LVM)\n"
"      --osd-id=ID       osd create: reuse this destroyed OSD id; repeat it for the next OSDs\n"
"      --destroy         zap: also remove the partition table of a partitioned disk\n"
"      --yes             zap: really destroy the data (required)\n"
"      --replace, --zap  osd rm: keep the id for a new disk; wipe the OSD's volumes\n"
"      --wait            osd rm: follow the removal to its end\n"
"      --all             rescan: every online node\n"
"      --image=IMAGE     osd manifests: the container image (default the agent DaemonSet's,\n"
"                        " CLUSTER_DEFAULT_IMAGE ")\n"
"  -h, --help            this text\n"
"\n"
"Roles: the coordinator gives each client key the role of the allowlist that holds it:\n"
"viewer (nodes, devices, device, watch, specs, plan, apply --dry-run, osds, osd manifests), operator (also\n"
"osd create, osd rm, zap, rescan, node rm, apply, spec rm and audit) or admin (also key unbind).\n"
"A request outside the key's role is refused with the role it needs, and castlectl exits\n"
"with status 4.\n"
"\n"
"Exit status: 0 on success, 1 on failure, 2 on a usage error, 4 when the coordinator\n"
"refused the request for this key's role (permission denied).\n");
}

enum { ARG_NODE = 0x100, ARG_AVAILABLE, ARG_ROTATIONAL, ARG_TRANSPORT, ARG_MODEL, ARG_MIN_SIZE, ARG_MAX_SIZE,
       ARG_LIMIT, ARG_COORDINATOR, ARG_SERVER_KEY, ARG_KEY, ARG_INSECURE, ARG_TIMEOUT, ARG_DRY_RUN,
       ARG_CRUSH_CLASS, ARG_NAMESPACE, ARG_FORCE,
       ARG_EXIT_ON_LOSS, ARG_SINCE, ARG_COMMAND_ID, ARG_DB_DEVICES, ARG_WAL_DEVICES, ARG_OSDS_PER_DEVICE,
       ARG_BLOCK_DB_SIZE, ARG_BLOCK_WAL_SIZE, ARG_DB_SLOTS, ARG_WAL_SLOTS, ARG_DMCRYPT, ARG_METHOD, ARG_LVM,
       ARG_OSD_ID, ARG_DESTROY, ARG_YES, ARG_ALL, ARG_HEALTH, ARG_IMAGE, ARG_REPLACE, ARG_ZAP, ARG_WAIT,
       ARG_DEVICE };

/* A comma-separated list's items, added to *l; empty items are refused. */
static int split_list(char ***l, const char *text, const char *what) {
        _cleanup_free_ char *copy = strdup(text);
        char *save = NULL;

        if (!copy)
                return log_oom();
        if (isempty(text) || text[0] == ',' || text[strlen(text) - 1] == ',' || strstr(text, ",,"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s: '%s' has an empty item.", what, text);
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
                if (strv_extend(l, w) < 0)
                        return log_oom();
        return 0;
}

static int parse_args(int argc, char *argv[], ClusterArgs *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "format", required_argument, NULL, 'f' },
                { "input", required_argument, NULL, 'i' },
                { "no-headings", no_argument, NULL, 'n' },
                { "node", required_argument, NULL, ARG_NODE },
                { "available", no_argument, NULL, ARG_AVAILABLE },
                { "rotational", required_argument, NULL, ARG_ROTATIONAL },
                { "transport", required_argument, NULL, ARG_TRANSPORT },
                { "model", required_argument, NULL, ARG_MODEL },
                { "min-size", required_argument, NULL, ARG_MIN_SIZE },
                { "max-size", required_argument, NULL, ARG_MAX_SIZE },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "coordinator", required_argument, NULL, ARG_COORDINATOR },
                { "server-key", required_argument, NULL, ARG_SERVER_KEY },
                { "key", required_argument, NULL, ARG_KEY },
                { "insecure", no_argument, NULL, ARG_INSECURE },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "crush-device-class", required_argument, NULL, ARG_CRUSH_CLASS },
                { "namespace", required_argument, NULL, ARG_NAMESPACE },
                { "force", no_argument, NULL, ARG_FORCE },
                { "exit-on-loss", no_argument, NULL, ARG_EXIT_ON_LOSS },
                { "since", required_argument, NULL, ARG_SINCE },
                { "command-id", required_argument, NULL, ARG_COMMAND_ID },
                { "db-devices", required_argument, NULL, ARG_DB_DEVICES },
                { "wal-devices", required_argument, NULL, ARG_WAL_DEVICES },
                { "osds-per-device", required_argument, NULL, ARG_OSDS_PER_DEVICE },
                { "block-db-size", required_argument, NULL, ARG_BLOCK_DB_SIZE },
                { "block-wal-size", required_argument, NULL, ARG_BLOCK_WAL_SIZE },
                { "db-slots", required_argument, NULL, ARG_DB_SLOTS },
                { "wal-slots", required_argument, NULL, ARG_WAL_SLOTS },
                { "dmcrypt", no_argument, NULL, ARG_DMCRYPT },
                { "method", required_argument, NULL, ARG_METHOD },
                { "lvm", no_argument, NULL, ARG_LVM },
                { "osd-id", required_argument, NULL, ARG_OSD_ID },
                { "destroy", no_argument, NULL, ARG_DESTROY },
                { "yes", no_argument, NULL, ARG_YES },
                { "all", no_argument, NULL, ARG_ALL },
                { "health", optional_argument, NULL, ARG_HEALTH },
                { "image", required_argument, NULL, ARG_IMAGE },
                { "replace", no_argument, NULL, ARG_REPLACE },
                { "zap", no_argument, NULL, ARG_ZAP },
                { "wait", no_argument, NULL, ARG_WAIT },
                { "device", required_argument, NULL, ARG_DEVICE },
                {}
        };
        uint64_t v;
        bool yes;
        int c;

        while ((c = getopt_long(argc, argv, "hf:i:n", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case 'f':
                        if (!streq(optarg, "json") && !streq(optarg, "table") && !streq(optarg, "rook") &&
                            !streq(optarg, "yaml"))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown --format '%s': use table, json, yaml or rook.", optarg);
                        a->json = streq(optarg, "json");
                        a->rook = streq(optarg, "rook");
                        a->yaml = streq(optarg, "yaml");
                        break;
                case 'i':
                        a->input = optarg;
                        break;
                case ARG_NAMESPACE:
                        a->rook_namespace = optarg;
                        break;
                case 'n':
                        a->headings = false;
                        break;
                case ARG_NODE:
                        a->filter.node_id = optarg;
                        break;
                case ARG_AVAILABLE:
                        a->filter.available = CASTLE__DEVICE_FILTER__TRI__YES;
                        break;
                case ARG_ROTATIONAL:
                        if (conf_parse_bool(optarg, &yes) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--rotational takes yes or no.");
                        a->filter.rotational = yes ? CASTLE__DEVICE_FILTER__TRI__YES : CASTLE__DEVICE_FILTER__TRI__NO;
                        break;
                case ARG_TRANSPORT:
                        a->filter.transport = optarg;
                        break;
                case ARG_MODEL:
                        a->filter.model = optarg;
                        break;
                case ARG_DRY_RUN:
                        a->dry_run = true;
                        break;
                case ARG_FORCE:
                        a->force = true;
                        break;
                case ARG_EXIT_ON_LOSS:
                        a->exit_on_loss = true;
                        break;
                case ARG_SINCE:
                        a->since = optarg;
                        break;
                case ARG_CRUSH_CLASS:
                        a->crush_class = optarg;
                        break;
                case ARG_MIN_SIZE:
                case ARG_MAX_SIZE:
                        if (parse_size(optarg, &v) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid size '%s'.", optarg);
                        if (c == ARG_MIN_SIZE)
                                a->filter.min_size = v;
                        else
                                a->filter.max_size = v;
                        break;
                case ARG_LIMIT:
                        if (safe_atou64(optarg, &v) < 0 || v == 0 || v > UINT32_MAX)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--limit takes a positive number.");
                        a->filter.limit = (uint32_t) v;
                        break;
                case ARG_COORDINATOR:
                        if (split_list(&a->endpoints, optarg, "--coordinator") < 0)
                                return -EINVAL;
                        break;
                case ARG_SERVER_KEY:
                        if (split_list(&a->server_keys, optarg, "--server-key") < 0)
                                return -EINVAL;
                        break;
                case ARG_COMMAND_ID:
                        if (safe_atou64(optarg, &v) < 0 || v == 0 || v >= UINT64_C(1) << 53)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "--command-id takes a number from 1 to 2^53-1 (9007199254740991).");
                        a->command_id = v;
                        break;
                case ARG_DB_DEVICES:
                case ARG_WAL_DEVICES:
                        if (split_list(c == ARG_DB_DEVICES ? &a->db_devices : &a->wal_devices, optarg,
                                       c == ARG_DB_DEVICES ? "--db-devices" : "--wal-devices") < 0)
                                return -EINVAL;
                        break;
                case ARG_OSDS_PER_DEVICE:
                case ARG_DB_SLOTS:
                case ARG_WAL_SLOTS: {
                        uint32_t max = c == ARG_OSDS_PER_DEVICE ? 32 : 256;
                        if (safe_atou64(optarg, &v) < 0 || v == 0 || v > max)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--%s takes a number from 1 to %" PRIu32 ".",
                                                       c == ARG_OSDS_PER_DEVICE ? "osds-per-device" :
                                                       c == ARG_DB_SLOTS ? "db-slots" : "wal-slots", max);
                        *(c == ARG_OSDS_PER_DEVICE ? &a->osds_per_device : c == ARG_DB_SLOTS ? &a->db_slots
                                                                                           : &a->wal_slots) = (uint32_t) v;
                        break;
                }
                case ARG_BLOCK_DB_SIZE:
                case ARG_BLOCK_WAL_SIZE:
                        if (parse_size(optarg, &v) < 0 || v == 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid size '%s'.", optarg);
                        *(c == ARG_BLOCK_DB_SIZE ? &a->block_db_size : &a->block_wal_size) = v;
                        break;
                case ARG_DMCRYPT:
                        a->dmcrypt = true;
                        break;
                case ARG_METHOD:
                        if (!streq(optarg, "raw") && !streq(optarg, "lvm"))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--method takes raw or lvm.");
                        a->lvm = streq(optarg, "lvm");
                        break;
                case ARG_LVM:
                        a->lvm = true;
                        break;
                case ARG_DEVICE:
                        a->device = optarg;
                        break;
                case ARG_OSD_ID:
                        if (safe_atou64(optarg, &v) < 0 || v > INT32_MAX)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--osd-id: '%s' is not an OSD id.", optarg);
                        if (a->n_osd_ids >= ELEMENTSOF(a->osd_ids))
                                return log_error_errno(SYNTHETIC_ERRNO(E2BIG), "--osd-id: at most %zu ids.",
                                                       ELEMENTSOF(a->osd_ids));
                        a->osd_ids[a->n_osd_ids++] = (int32_t) v;
                        break;
                case ARG_DESTROY:
                        a->destroy = true;
                        break;
                case ARG_YES:
                        a->yes = true;
                        break;
                case ARG_ALL:
                        a->all = true;
                        break;
                case ARG_HEALTH:
                        a->health = true;
                        if (optarg) {
                                a->health_verdict = cluster_health_parse(optarg);
                                if (a->health_verdict < 0)
                                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                               "--health takes unknown, ok, warning or failing, not '%s'.", optarg);
                        }
                        break;
                case ARG_IMAGE:
                        a->image = optarg;
                        break;
                case ARG_REPLACE:
                        a->replace = true;
                        break;
                case ARG_ZAP:
                        a->zap = true;
                        break;
                case ARG_WAIT:
                        a->wait = true;
                        break;
                case ARG_KEY:
                        a->key = optarg;
                        break;
                case ARG_INSECURE:
                        a->insecure = true;
                        break;
                case ARG_TIMEOUT:
                        if (conf_parse_duration(optarg, &v) < 0 || v < USEC_PER_SEC || v > USEC_PER_HOUR)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--timeout takes seconds, 1 to 3600.");
                        a->timeout_usec = v;
                        break;
                default:
                        return -EINVAL;
                }
        return 1;
}

int cluster_connect(const ClusterArgs *a, zsock_t **ret) {
        char server[KEY_TEXT_LEN + 1];
        zcert_t *cert = NULL;
        int r;

        if (!a->insecure) {
                r = keys_load_pair(a->key, &cert);
                if (r < 0)
                        return log_error_errno(r, "Cannot use the client key %s_secret: %m%s", a->key,
                                               r == -ENOENT ? " (make one with castlectl keygen, or pass --key)" : "");
                r = keys_load_public(a->server_key, server);
                if (r < 0) {
                        zcert_destroy(&cert);
                        return log_error_errno(r, "Cannot read the coordinator's key %s: %m", a->server_key);
                }
        }
        r = link_connect(a->endpoint, &(LinkOptions) { .cert = cert, .server_public = server, .insecure = a->insecure,
                                                       .max_message_size = 256 * 1024 * 1024 },
                         ret);
        zcert_destroy(&cert);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to %s: %m", a->endpoint);
        zsock_set_sndtimeo(*ret, -1);
        return 0;
}

static size_t n_endpoints(const ClusterArgs *a) {
        return a->endpoints ? strv_length(a->endpoints) : 1;
}

int cluster_connect_at(const ClusterArgs *a, size_t i, ClusterArgs *ret_args, zsock_t **ret) {
        ClusterArgs b = *a;

        if (a->endpoints) {
                assert(i < strv_length(a->endpoints));
                b.endpoint = a->endpoints[i];
                if (a->server_keys)
                        b.server_key = a->server_keys[strv_length(a->server_keys) == 1 ? 0 : i];
        }
        if (ret_args)
                *ret_args = b;
        return cluster_connect(&b, ret);
}

typedef ClusterExchange Exchange;

typedef struct Peer {
        ClusterArgs args;
        zsock_t *s, *monitor;
        uint64_t request_id;    /* of the request it is answering; 0: none (not asked, or given up) */
        uint64_t sent_at;
        bool up, lost;
} Peer;

static void peers_free(Peer *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (p[i].monitor)
                        link_monitor_stop(p[i].s, &p[i].monitor);
                zsock_destroy(&p[i].s);
        }
}

/* Logs a reply's error: -EACCES for a refusal for the key's role (castlectl's exit status is
 * then EXIT_PERMISSION), -EREMOTEIO for any other. */
static int reply_refusal(const Castle__QueryReply *rep) {
        if (!isempty(rep->required_role)) {
                log_error("Permission denied: %s.", rep->error);
                return -EACCES;
        }
        log_error("The coordinator says: %s", rep->error);
        return -EREMOTEIO;
}

/* Asks the next coordinator (in order from a->first) that is neither asked nor lost; false
 * when there is none. */
static bool exchange_ask_next(const Exchange *x, Peer *p, size_t n, size_t first, uint64_t *request_id) {
        for (size_t k = 0; k < n; k++) {
                Peer *q = &p[(first + k) % n];
                int r;
                if (q->request_id || q->lost)
                        continue;
                if (!q->s) {
                        if (cluster_connect_at(&q->args, (first + k) % n, &q->args, &q->s) < 0) {
                                q->lost = true;
                                continue;
                        }
                        (void) link_monitor(q->s, &q->monitor);
                }
                r = x->send(q->s, ++*request_id, x->userdata);
                if (r < 0) {
                        log_debug_errno(r, "Cannot send the %s to %s: %m", x->what, q->args.endpoint);
                        q->lost = true;
                        continue;
                }
                log_debug("%s sent to %s (request %" PRIu64 ").", x->what, q->args.endpoint, *request_id);
                q->request_id = *request_id;
                q->sent_at = now_usec();
                return true;
        }
        return false;
}

static int exchange_run(ClusterArgs *a, const Exchange *x) {
        size_t n = n_endpoints(a), chosen = SIZE_MAX;
        Peer p[CLUSTER_MAX_ENDPOINTS] = {};
        zpoller_t *poller = NULL;
        uint64_t request_id = 0, deadline, last_sent;
        int r = 0;

        assert(n > 0 && n <= CLUSTER_MAX_ENDPOINTS);
        for (size_t i = 0; i < n; i++)
                p[i].args = *a;
        if (!exchange_ask_next(x, p, n, a->first, &request_id)) {
                r = log_error_errno(SYNTHETIC_ERRNO(ECONNREFUSED), "Cannot send the %s to any coordinator.", x->what);
                goto finish;
        }
        last_sent = now_usec();
        deadline = last_sent + x->silence_usec;
        for (;;) {
                uint64_t now = now_usec(), wake = deadline;
                bool may_move = false;
                void *which;

                /* When to ask another coordinator: a query, after a hedge's delay; a command, when
                 * the one asked never connected; the one answering, when it falls silent. */
                for (size_t i = 0; i < n; i++)
                        may_move |= !p[i].request_id && !p[i].lost;
                if (may_move && chosen == SIZE_MAX && x->hedge)
                        wake = MIN(wake, last_sent + CLUSTER_HEDGE_USEC);
                else if (may_move && chosen == SIZE_MAX)
                        for (size_t i = 0; i < n; i++)
                                if (p[i].request_id && !p[i].up)
                                        wake = MIN(wake, p[i].sent_at + CLUSTER_CONNECT_USEC);
                if (may_move && chosen != SIZE_MAX && x->hedge)
                        wake = MIN(wake, p[chosen].sent_at + CLUSTER_PART_USEC);
                if (now >= wake) {
                        const char *gone = NULL;
                        if (now >= deadline) {
                                _cleanup_free_ char *list = a->endpoints ? strv_join(a->endpoints, ", ") : NULL;
                                r = log_full_errno(a->quiet ? LOG_DEBUG : LOG_ERR, SYNTHETIC_ERRNO(ETIMEDOUT),
                                                    "No answer from %s %s within %" PRIu64 " s. Is it running, and "
                                                    "is this client's public key in its query allowlist (query-keys)?",
                                                    n > 1 ? "any coordinator of" : "the coordinator at",
                                                    list ?: a->endpoint, x->silence_usec / USEC_PER_SEC);
                                goto finish;
                        }
                        if (chosen != SIZE_MAX) {
                                /* Silent in the middle: given up, and the answer starts again. */
                                gone = p[chosen].args.endpoint;
                                p[chosen].lost = true;
                                p[chosen].request_id = 0;
                                chosen = SIZE_MAX;
                        } else if (!x->hedge)
                                for (size_t i = 0; i < n; i++)
                                        if (p[i].request_id && !p[i].up && now >= p[i].sent_at + CLUSTER_CONNECT_USEC) {
                                                gone = p[i].args.endpoint;
                                                p[i].lost = true;
                                                p[i].request_id = 0;
                                        }
                        if (gone && x->restart)
                                x->restart(x->userdata);
                        if (exchange_ask_next(x, p, n, a->first, &request_id)) {
                                last_sent = now_usec();
                                for (size_t i = 0; i < n; i++)
                                        if (p[i].request_id == request_id && gone)
                                                log_notice("No answer from the coordinator at %s; the %s went to %s.",
                                                           gone, x->what, p[i].args.endpoint);
                                        else if (p[i].request_id == request_id)
                                                log_debug("No answer yet; the %s went to %s too.", x->what,
                                                          p[i].args.endpoint);
                        }
                        continue;
                }
                zpoller_destroy(&poller);
                poller = zpoller_new(NULL);
                if (!poller) {
                        r = log_oom();
                        goto finish;
                }
                for (size_t i = 0; i < n; i++) {
                        if (p[i].s)
                                zpoller_add(poller, p[i].s);
                        if (p[i].monitor)
                                zpoller_add(poller, p[i].monitor);
                }
                which = zpoller_wait(poller, (int) ((wake - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (!which) {
                        if (zpoller_terminated(poller) || zsys_interrupted) {
                                r = -EINTR;
                                goto finish;
                        }
                        continue;
                }
                for (size_t i = 0; i < n; i++) {
                        if (which == p[i].monitor) {
                                int ev = link_monitor_event(p[i].monitor);
                                if (ev == LINK_UP)
                                        p[i].up = true;
                                else if (ev == LINK_LOST && p[i].request_id) {
                                        /* Lost while it had the request: another one gets it now. */
                                        const char *gone = p[i].args.endpoint;
                                        p[i].lost = true;
                                        p[i].request_id = 0;
                                        if (chosen == i) {
                                                chosen = SIZE_MAX;
                                                if (x->restart)
                                                        x->restart(x->userdata);
                                        }
                                        if (exchange_ask_next(x, p, n, a->first, &request_id)) {
                                                last_sent = now_usec();
                                                deadline = MAX(deadline, last_sent + MIN(x->silence_usec, CLUSTER_PART_USEC));
                                                for (size_t k = 0; k < n; k++)
                                                        if (p[k].request_id == request_id)
                                                                log_notice("Lost the coordinator at %s; the %s went to %s.",
                                                                           gone, x->what, p[k].args.endpoint);
                                        }
                                }
                        } else if (which == p[i].s) {
                                Castle__QueryReply *rep = NULL;
                                zframe_t *f = zframe_recv(p[i].s);
                                if (!f)
                                        continue;
                                r = codec_query_reply_unpack(zframe_data(f), zframe_size(f), &rep);
                                zframe_destroy(&f);
                                if (r < 0) {
                                        r = log_error_errno(r, "The coordinator at %s sent something unreadable: %m",
                                                            p[i].args.endpoint);
                                        goto finish;
                                }
                                /* An answer to an earlier request, or from one that lost the race. */
                                if (!p[i].request_id || (rep->request_id != p[i].request_id && rep->request_id != 0) ||
                                    (chosen != SIZE_MAX && chosen != i)) {
                                        castle__query_reply__free_unpacked(rep, NULL);
                                        continue;
                                }
                                if (chosen == SIZE_MAX) {
                                        chosen = i;
                                        a->first = i;
                                        log_debug("The coordinator at %s answers.", p[i].args.endpoint);
                                        /* The others' answers are not needed (queries). */
                                        for (size_t k = 0; k < n; k++)
                                                if (k != i)
                                                        p[k].request_id = 0;
                                }
                                p[i].sent_at = now_usec();
                                deadline = p[i].sent_at + x->silence_usec;
                                if (!isempty(rep->error)) {
                                        r = reply_refusal(rep);
                                        castle__query_reply__free_unpacked(rep, NULL);
                                        goto finish;
                                }
                                r = x->reply(rep, x->userdata);
                                if (r != 0)
                                        goto finish;
                        }
                }
        }
finish:
        zpoller_destroy(&poller);
        peers_free(p, n);
        return r < 0 ? r : 0;
}

/* Receives one reply, or fails after the timeout (0: wait forever, for watch). */
int cluster_exchange(ClusterArgs *a, const ClusterExchange *x) {
        return exchange_run(a, x);
}

int cluster_receive(zsock_t *s, const ClusterArgs *a, uint64_t timeout_usec, Castle__QueryReply **ret) {
        zpoller_t *p = zpoller_new(s, NULL);
        zframe_t *f;
        void *which;
        int r;

        if (!p)
                return -ENOMEM;
        which = zpoller_wait(p, timeout_usec ? (int) (timeout_usec / 1000) : -1);
        zpoller_destroy(&p);
        if (!which) {
                if (zsys_interrupted || errno == EINTR)
                        return -EINTR;
                return log_error_errno(SYNTHETIC_ERRNO(ETIMEDOUT),
                                       "No answer from the coordinator at %s within %" PRIu64 " s. Is it running, "
                                       "and is this client's public key in its query allowlist (query-keys)?",
                                       a->endpoint, timeout_usec / USEC_PER_SEC);
        }
        f = zframe_recv(s);
        if (!f)
                return -EIO;
        r = codec_query_reply_unpack(zframe_data(f), zframe_size(f), ret);
        zframe_destroy(&f);
        if (r < 0)
                return log_error_errno(r, "The coordinator sent something unreadable: %m");
        if (!isempty((*ret)->error)) {
                r = reply_refusal(*ret);
                castle__query_reply__free_unpacked(*ret, NULL);
                return r;
        }
        return 0;
}

/* Sends a query of one kind; body is that kind's message (ListNodes, DeviceFilter, Watch,
 * NodeCommand or RemoveNode). */
int cluster_query_send(zsock_t *s, uint64_t request_id, Castle__QueryRequest__KindCase kind, void *body) {
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT;

        q.protocol_version = CASTLE_PROTOCOL_VERSION;
        q.request_id = request_id;
        q.kind_case = kind;
        switch (kind) {
        case CASTLE__QUERY_REQUEST__KIND_NODES:
                q.nodes = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_DEVICES:
                q.devices = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_WATCH:
                q.watch = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_COMMAND:
                q.command = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE:
                q.remove_node = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_AUDIT:
                q.audit = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_UNBIND:
                q.unbind = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_APPLY:
                q.apply = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_SPECS:
                q.specs = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_SPEC_RM:
                q.spec_rm = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_PLAN:
                q.plan = body;
                break;
        case CASTLE__QUERY_REQUEST__KIND_OSDS:
                q.osds = body;
                break;
        default:
                return -EINVAL;
        }
        return link_send(s, NULL, &q.base);
}

static int send_nodes(zsock_t *s, uint64_t request_id, void *userdata) {
        Castle__ListNodes ln = CASTLE__LIST_NODES__INIT;

        return cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_NODES, &ln);
}

static int reply_nodes(Castle__QueryReply *rep, void *userdata) {
        Castle__QueryReply **ret = userdata;

        *ret = rep;
        return 1;
}

/* The node list, in one reply. */
int cluster_query_nodes(ClusterArgs *a, Castle__QueryReply **ret) {
        Castle__QueryReply *rep = NULL;
        int r;

        r = exchange_run(a, &(Exchange) { .what = "query", .hedge = true, .silence_usec = a->timeout_usec,
                                          .send = send_nodes, .reply = reply_nodes, .userdata = &rep });
        if (r < 0)
                return r;
        if (!rep)
                return -ENOMSG;
        *ret = rep;
        return 0;
}

void device_replies_done(DeviceReplies *d) {
        for (size_t i = 0; i < d->n_replies; i++)
                castle__query_reply__free_unpacked(d->replies[i], NULL);
        free(d->replies);
        free(d->devices);
        *d = (DeviceReplies) {};
}

typedef struct DevicesQuery {
        Castle__DeviceFilter filter;
        DeviceReplies d;
        bool last;
} DevicesQuery;

static int send_devices(zsock_t *s, uint64_t request_id, void *userdata) {
        DevicesQuery *q = userdata;

        return cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_DEVICES, &q->filter);
}

static int reply_devices(Castle__QueryReply *rep, void *userdata) {
        DevicesQuery *q = userdata;
        Castle__QueryReply **nr;
        Castle__ClusterDevice **nd;

        q->last = rep->last;
        nr = reallocarray(q->d.replies, q->d.n_replies + 1, sizeof *q->d.replies);
        if (nr)
                q->d.replies = nr;
        nd = nr ? reallocarray(q->d.devices, q->d.n_devices + rep->n_devices + 1, sizeof *q->d.devices) : NULL;
        if (nd)
                q->d.devices = nd;
        if (!nr || !nd) {
                castle__query_reply__free_unpacked(rep, NULL);
                return -ENOMEM;
        }
        q->d.replies[q->d.n_replies++] = rep;
        for (size_t i = 0; i < rep->n_devices; i++)
                q->d.devices[q->d.n_devices++] = rep->devices[i];
        return q->last;
}

/* Lost in the middle of the list: the next coordinator's answer replaces it all. */
static void restart_devices(void *userdata) {
        DevicesQuery *q = userdata;

        device_replies_done(&q->d);
        q->last = false;
}

/* The devices that match a's filter, in as many replies as the coordinator sends, up to the
 * last one. */
int cluster_query_devices(ClusterArgs *a, DeviceReplies *ret) {
        DevicesQuery q = { .filter = a->filter };
        int r;

        r = exchange_run(a, &(Exchange) { .what = "query", .hedge = true, .silence_usec = a->timeout_usec,
                                          .send = send_devices, .reply = reply_devices,
                                          .restart = restart_devices, .userdata = &q });
        if (r >= 0 && !q.last)
                r = -ENOMSG;
        if (r < 0) {
                device_replies_done(&q.d);
                return r;
        }
        *ret = q.d;
        return 0;
}

char *cluster_format_ago(int64_t then_usec, char *buf, size_t n) {
        int64_t s = then_usec > 0 ? ((int64_t) time(NULL) * 1000000 - then_usec) / 1000000 : -1;

        if (s < 0)
                snprintf(buf, n, "-");
        else if (s < 120)
                snprintf(buf, n, "%" PRId64 "s ago", s);
        else if (s < 7200)
                snprintf(buf, n, "%" PRId64 "min ago", s / 60);
        else
                snprintf(buf, n, "%" PRId64 "h ago", s / 3600);
        return buf;
}

void cluster_print_json(json_object *o) {
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* When the coordinator cannot write its store, what it shows is older than what the nodes
 * said: one line says so. */
static void print_store_status(const Castle__StoreStatus *st, FILE *f) {
        char since[64] = "";

        if (!st || (isempty(st->error) && st->unsaved_nodes == 0))
                return;
        if (st->failing_since_usec > 0) {
                time_t t = (time_t) (st->failing_since_usec / 1000000);
                struct tm tm;
                if (localtime_r(&t, &tm))
                        strftime(since, sizeof since, " since %Y-%m-%d %H:%M:%S", &tm);
        }
        if (!isempty(st->error))
                fprintf(f, "STORE FAILING%s: %s (%" PRIu64 " failed writes); %u node report(s) not stored, "
                        "shown stale; retrying.\n", since, st->error, st->failures, st->unsaved_nodes);
        else
                fprintf(f, "STORE RECOVERING: writes succeed again; %u node report(s) not stored yet, shown "
                        "stale until their nodes send them again.\n", st->unsaved_nodes);
}

static int cmd_nodes(ClusterArgs *a) {
        static const char *const header[] = { "NODE", "HOSTNAME", "STATE", "SINCE", "LAST SEEN", "DEVICES", "AGENT",
                                               "LABELS" };
        Castle__QueryReply *rep = NULL;
        int r;

        r = cluster_query_nodes(a, &rep);
        if (r < 0)
                return r;
        /* A header line above the table; with json or --no-headings, on stderr, so that what a
         * script parses keeps its shape (each node also says store_error in JSON). */
        print_store_status(rep->store, a->json || !a->headings ? stderr : stdout);
        if (a->json) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < rep->n_nodes; i++)
                        json_object_array_add(arr, codec_message_to_json(&rep->nodes[i]->base));
                cluster_print_json(arr);
                json_object_put(arr);
        } else {
                Table *t = table_new(header, ELEMENTSOF(header));
                for (size_t i = 0; t && i < rep->n_nodes; i++) {
                        const Castle__NodeInfo *n = rep->nodes[i];
                        _cleanup_free_ char *labels = cluster_join(n->labels, n->n_labels, ",");
                        char since[32], seen[32], devs[16];
                        snprintf(devs, sizeof devs, "%u", n->devices);
                        table_add_row(t, (const char *[]) { n->node_id, n->hostname, n->state,
                                                            cluster_format_ago(n->state_since_usec, since, sizeof since),
                                                            cluster_format_ago(n->last_seen_usec, seen, sizeof seen), devs,
                                                            n->agent_version, isempty(labels) ? "-" : labels });
                }
                if (t)
                        table_print(t, stdout, a->headings);
                table_free(t);
        }
        castle__query_reply__free_unpacked(rep, NULL);
        return 0;
}

char *cluster_device_reasons(const Castle__Device *d) {
        _cleanup_strv_free_ char **l = NULL;

        for (size_t i = 0; i < d->n_reasons; i++)
                if (strv_extend(&l, d->reasons[i]->message) < 0)
                        return NULL;
        return l ? strv_join(l, ", ") : strdup("");
}

static const char *enum_name(const ProtobufCEnumDescriptor *e, int v, char *buf, size_t n) {
        _cleanup_free_ char *s = codec_enum_json_name(e, v);

        snprintf(buf, n, "%s", strempty(s));
        return buf;
}

static int add_device_row(Table *t, const Castle__ClusterDevice *cd) {
        const Castle__Device *d = cd->device;
        _cleanup_free_ char *reasons = NULL, *health = NULL;
        char size[FORMAT_SIZE_MAX], type[16], transport[16];

        if (!d)
                return 0;
        reasons = cluster_device_reasons(d);
        health = cluster_health_text(d);
        return table_add_row(t, (const char *[]) {
                cd->node_id, d->path, enum_name(&castle__device__type__descriptor, d->type, type, sizeof type),
                enum_name(&castle__device__transport__descriptor, d->transport, transport, sizeof transport),
                format_size(d->size, size, sizeof size), d->available ? "yes" : "no",
                isempty(d->stable_id) ? NULL : d->stable_id, reasons, health });
}

static int cmd_devices(ClusterArgs *a) {
        static const char *const header[] = { "NODE", "PATH", "TYPE", "TRANSPORT", "SIZE", "AVAILABLE", "STABLE ID",
                                              "REJECT REASONS", "HEALTH" };
        _cleanup_(device_replies_done) DeviceReplies d = {};
        Table *t;
        json_object *arr;
        int r;

        r = cluster_query_devices(a, &d);
        if (r < 0)
                return r;
        if (a->json) {
                arr = json_object_new_array();
                if (!arr)
                        return -ENOMEM;
                for (size_t i = 0; i < d.n_devices; i++)
                        if (d.devices[i]->device && cluster_health_match(a, d.devices[i]->device))
                                json_object_array_add(arr, codec_message_to_json(&d.devices[i]->base));
                cluster_print_json(arr);
                json_object_put(arr);
        } else {
                t = table_new(header, ELEMENTSOF(header) - !a->health); /* HEALTH: with --health */
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < d.n_devices; i++)
                        if (d.devices[i]->device && cluster_health_match(a, d.devices[i]->device))
                                (void) add_device_row(t, d.devices[i]);
                table_print(t, stdout, a->headings);
                table_free(t);
        }
        if (d.n_devices == 0 && !isempty(a->filter.stable_id))
                return log_error_errno(SYNTHETIC_ERRNO(ENODEV), "No device with stable id %s.", a->filter.stable_id);
        return 0;
}

/* Rook's layout needs each node's name (its hostname) and all of its devices at once, to
 * fill in partitions: the node list first, then every device reply, kept until the end. */
static int cmd_devices_rook(ClusterArgs *a) {
        _cleanup_(device_replies_done) DeviceReplies d = {};
        _cleanup_free_ Castle__NodeInfo **sel = NULL;
        Castle__QueryReply *nodes = NULL;
        json_object *list = NULL;
        size_t n_sel = 0;
        int r;

        r = cluster_query_nodes(a, &nodes);
        if (r < 0)
                return r;
        /* From the coordinator that gave the nodes, unless it is lost meanwhile. */
        r = cluster_query_devices(a, &d);
        /* --node: that node's map only (empty when it has no devices, as Rook writes it). */
        sel = r >= 0 ? calloc(nodes->n_nodes + 1, sizeof *sel) : NULL;
        if (r >= 0 && !sel)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < nodes->n_nodes; i++)
                if (isempty(a->filter.node_id) || streq(a->filter.node_id, strempty(nodes->nodes[i]->node_id)))
                        sel[n_sel++] = nodes->nodes[i];
        if (r >= 0 && !isempty(a->filter.node_id) && n_sel == 0 && d.n_devices == 0)
                r = log_error_errno(SYNTHETIC_ERRNO(ENODEV), "The coordinator knows no node %s.", a->filter.node_id);
        if (r >= 0)
                r = rook_config_maps(sel, n_sel, d.devices, d.n_devices,
                                     a->rook_namespace ? a->rook_namespace : "rook-ceph", &list);
        if (r >= 0)
                cluster_print_json(list);
        else if (r == -ENOMEM)
                log_error("Out of memory.");
        json_object_put(list);
        castle__query_reply__free_unpacked(nodes, NULL);
        return r;
}

#define JOB_TIMEOUT_USEC (600 * USEC_PER_SEC)

typedef struct NodeCommandRun {
        const ClusterArgs *a;
        const char *node;
        Castle__NodeCommand nc;
        bool tty, progress_shown;
} NodeCommandRun;

static int send_node_command(zsock_t *s, uint64_t request_id, void *userdata) {
        NodeCommandRun *c = userdata;

        return cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_COMMAND, &c->nc);
}

static int reply_node_command(Castle__QueryReply *rep, void *userdata) {
        NodeCommandRun *c = userdata;
        const Castle__Command *cmd = c->nc.command;
        const Castle__JobUpdate *u = rep->job;
        bool last = rep->last;

        if (u && !u->done && !c->a->json) {
                if (c->tty)
                        fprintf(stderr, "\r\033[K[%3u%%] %s", u->percent, strempty(u->message ?: u->step));
                else
                        fprintf(stderr, "[%3u%%] %s\n", u->percent, strempty(u->message ?: u->step));
                c->progress_shown = true;
        }
        if (u && !u->done && cmd->kind_case == CASTLE__COMMAND__KIND_OSD_REMOVE && !cmd->osd_remove->cancel &&
            !c->a->wait) {
                /* The drain may take hours: the removal goes on without us. */
                if (c->progress_shown && c->tty)
                        fputc('\n', stderr);
                c->progress_shown = false;
                if (!c->a->json)
                        printf("On %s: the removal runs; follow it with castlectl cluster osd rm status.\n", c->node);
                castle__query_reply__free_unpacked(rep, NULL);
                return 1;
        }
        if (u && u->done) {
                if (c->progress_shown && c->tty)
                        fputc('\n', stderr);
                c->progress_shown = false;
                if (c->a->json) {
                        json_object *o = codec_message_to_json(&u->base);
                        cluster_print_json(o);
                        json_object_put(o);
                } else if (cmd->kind_case == CASTLE__COMMAND__KIND_OSD_CREATE && cmd->osd_create->dry_run &&
                           !isempty(u->message))
                        printf("Dry run on %s: %s; nothing was changed.\n", c->node, u->message);
                else if (cmd->kind_case == CASTLE__COMMAND__KIND_OSD_CREATE && cmd->osd_create->dry_run)
                        printf("Dry run on %s: %s would be prepared; nothing was changed.\n", c->node,
                               strempty(u->device));
                else if (cmd->kind_case == CASTLE__COMMAND__KIND_OSD_CREATE && !isempty(u->message) && isempty(u->error))
                        /* a batch: the OSDs it made */
                        printf("On %s: %s\n", c->node, u->message);
                else if (cmd->kind_case == CASTLE__COMMAND__KIND_OSD_REMOVE && isempty(u->error))
                        printf("On %s: %s\n", c->node, cmd->osd_remove->cancel ? "cancelled" : strempty(u->message));
                else if (cmd->kind_case == CASTLE__COMMAND__KIND_ZAP && isempty(u->error))
                        printf("On %s: %s\n", c->node, strempty(u->message));
                else if (cmd->kind_case == CASTLE__COMMAND__KIND_OSD_CREATE ||
                         cmd->kind_case == CASTLE__COMMAND__KIND_OSD_REPLACE)
                        printf("osd.%d %s on %s %s (%s)\n", u->osd_id,
                               u->already_prepared ? "was already there" : "is up", c->node, strempty(u->device),
                               strempty(u->osd_uuid));
                else
                        printf("Sent to %s.\n", c->node);
        }
        castle__query_reply__free_unpacked(rep, NULL);
        return last;
}

/* A command id of the client's: random below 2^53, not 0 (that one asks the coordinator to
 * choose), unless --command-id gave one. */
static uint64_t command_id(const ClusterArgs *a) {
        uint64_t id = 0;

        if (a->command_id > 0)
                return a->command_id;
        while (id == 0) {
                if (getrandom(&id, sizeof id, 0) != (ssize_t) sizeof id)
                        id = now_realtime_usec() ^ ((uint64_t) getpid() << 32) ^ now_usec();
                id &= (UINT64_C(1) << 53) - 1;
        }
        return id;
}

/* Sends a command to a node and follows its JobUpdates to the last one. The command keeps its
 * id when it goes to another coordinator: the agent runs it once, and its progress goes on. */
static int run_node_command(ClusterArgs *a, const char *node, Castle__Command *cmd) {
        NodeCommandRun c = { .a = a, .node = node, .nc = CASTLE__NODE_COMMAND__INIT, .tty = isatty(STDERR_FILENO) };
        int r;

        cmd->command_id = command_id(a);
        log_debug("Command id %" PRIu64 ".", cmd->command_id);
        c.nc.node_id = (char *) node;
        c.nc.command = cmd;
        r = exchange_run(a, &(Exchange) { .what = "command", .silence_usec = MAX(a->timeout_usec, JOB_TIMEOUT_USEC),
                                          .send = send_node_command, .reply = reply_node_command, .userdata = &c });
        if (c.progress_shown && c.tty)
                fputc('\n', stderr);
        if (r < 0 && r != -EREMOTEIO && r != -EINTR)
                log_error("The command's id was %" PRIu64 ": run it again with --command-id=%" PRIu64
                          " to follow it, or to send it again, without running it twice.", cmd->command_id,
                          cmd->command_id);
        return r;
}

int cluster_run_node_command(ClusterArgs *a, const char *node, Castle__Command *cmd) {
        return run_node_command(a, node, cmd);
}

static int cmd_osd_create(ClusterArgs *a, const char *node, char **devices) {
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;

        oc.device_id = devices[0];
        oc.data_devices = devices + 1;
        oc.n_data_devices = strv_length(devices + 1);
        oc.dry_run = a->dry_run;
        oc.crush_device_class = (char *) a->crush_class;
        oc.lvm = a->lvm;
        oc.db_devices = a->db_devices;
        oc.n_db_devices = strv_length(a->db_devices);
        oc.wal_devices = a->wal_devices;
        oc.n_wal_devices = strv_length(a->wal_devices);
        oc.osds_per_device = a->osds_per_device;
        oc.block_db_size = a->block_db_size;
        oc.block_wal_size = a->block_wal_size;
        oc.db_slots = a->db_slots;
        oc.wal_slots = a->wal_slots;
        oc.dmcrypt = a->dmcrypt;
        oc.osd_ids = a->osd_ids;
        oc.n_osd_ids = a->n_osd_ids;
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        return run_node_command(a, node, &cmd);
}

static int cmd_cluster_zap(ClusterArgs *a, const char *node, const char *device) {
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__Zap z = CASTLE__ZAP__INIT;

        z.device = (char *) device;
        z.destroy = a->destroy;
        cmd.kind_case = CASTLE__COMMAND__KIND_ZAP;
        cmd.zap = &z;
        return run_node_command(a, node, &cmd);
}

static int rescan_one(ClusterArgs *a, const char *node) {
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__Rescan rs = CASTLE__RESCAN__INIT;

        cmd.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        cmd.rescan = &rs;
        return run_node_command(a, node, &cmd);
}

/* rescan NODE, or --all: every node the node list says is online, one command each; a node
 * that fails is reported and the others go on. */
static int cmd_rescan(ClusterArgs *a, const char *node) {
        Castle__QueryReply *rep = NULL;
        _cleanup_strv_free_ char **online = NULL;
        size_t failed = 0;
        int r;

        if (!a->all)
                return rescan_one(a, node);
        r = cluster_query_nodes(a, &rep);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rep->n_nodes; i++)
                if (streq_ptr(rep->nodes[i]->state, "online") && strv_extend(&online, rep->nodes[i]->node_id) < 0) {
                        castle__query_reply__free_unpacked(rep, NULL);
                        return log_oom();
                }
        castle__query_reply__free_unpacked(rep, NULL);
        if (!online) {
                log_error("No node is online.");
                return -ENOENT;
        }
        STRV_FOREACH(n, online) {
                r = rescan_one(a, *n);
                if (r == -EACCES)
                        return r;
                if (r < 0) {
                        log_error("%s: the rescan was not sent.", *n);
                        failed++;
                }
        }
        if (failed > 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "%zu of %zu nodes were not rescanned.", failed,
                                       strv_length(online));
        return 0;
}

static int send_node_rm(zsock_t *s, uint64_t request_id, void *userdata) {
        return cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE, userdata);
}

static int reply_empty(Castle__QueryReply *rep, void *userdata) {
        castle__query_reply__free_unpacked(rep, NULL);
        return 1;
}

/* Like a command, sent to one coordinator at a time (removing a node twice does no harm, but
 * asking two at once would race them). */
static int cmd_node_rm(ClusterArgs *a, const char *node) {
        Castle__RemoveNode rn = CASTLE__REMOVE_NODE__INIT;
        int r;

        rn.node_id = (char *) node;
        rn.force = a->force;
        r = exchange_run(a, &(Exchange) { .what = "request", .silence_usec = a->timeout_usec, .send = send_node_rm,
                                          .reply = reply_empty, .userdata = &rn });
        if (r < 0)
                return r;
        printf("Node %s removed.\n", node);
        return 0;
}

static void add_audit_row(Table *t, const Castle__AuditRecord *r) {
        char when[32] = "-", command[24] = "-";
        time_t sec = (time_t) (r->time_usec / 1000000);
        struct tm tm;

        if (r->time_usec > 0 && localtime_r(&sec, &tm))
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        if (r->command_id > 0)
                snprintf(command, sizeof command, "%" PRIu64, r->command_id);
        (void) table_add_row(t, (const char *[]) { when, r->coordinator, isempty(r->key_name) ? NULL : r->key_name,
                                                   isempty(r->role) ? NULL : r->role, r->action,
                                                   isempty(r->node_id) ? NULL : r->node_id,
                                                   isempty(r->device) ? NULL : r->device, command, r->result });
}

/* The audit trail's replies to one query, all from one coordinator. */
typedef struct AuditQuery {
        Castle__AuditQuery query;
        Castle__QueryReply **replies;
        size_t n_replies;
} AuditQuery;

static int send_audit(zsock_t *s, uint64_t request_id, void *userdata) {
        AuditQuery *q = userdata;

        return cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_AUDIT, &q->query);
}

int cluster_keep_reply(Castle__QueryReply ***replies, size_t *n, Castle__QueryReply *rep) {
        Castle__QueryReply **nr = reallocarray(*replies, *n + 1, sizeof **replies);

        if (!nr) {
                castle__query_reply__free_unpacked(rep, NULL);
                return -ENOMEM;
        }
        *replies = nr;
        (*replies)[(*n)++] = rep;
        return rep->last;
}

void cluster_free_replies(Castle__QueryReply ***replies, size_t *n) {
        for (size_t i = 0; i < *n; i++)
                castle__query_reply__free_unpacked((*replies)[i], NULL);
        *replies = mfree(*replies);
        *n = 0;
}

static int reply_audit(Castle__QueryReply *rep, void *userdata) {
        AuditQuery *q = userdata;

        return cluster_keep_reply(&q->replies, &q->n_replies, rep);
}

/* Lost in the middle: the next coordinator's answer replaces it all. */
static void restart_audit(void *userdata) {
        AuditQuery *q = userdata;

        cluster_free_replies(&q->replies, &q->n_replies);
}

/* The audit trail, oldest first. */
static int cmd_audit(ClusterArgs *a) {
        static const char *const header[] = { "TIME", "COORDINATOR", "KEY", "ROLE", "ACTION", "NODE", "DEVICE",
                                               "COMMAND", "RESULT" };
        AuditQuery q = { .query = CASTLE__AUDIT_QUERY__INIT };
        int r;

        if (a->since) {
                r = parse_timestamp(a->since, now_realtime_usec(), &q.query.since_usec);
                if (r < 0)
                        return log_error_errno(r, "--since: '%s' is not a Unix time, an ISO date (2026-12-06, "
                                               "2026-12-06T11:30Z) or a duration ago (1h).", a->since);
        }
        q.query.limit = a->filter.limit;
        r = exchange_run(a, &(Exchange) { .what = "query", .hedge = true, .silence_usec = a->timeout_usec,
                                          .send = send_audit, .reply = reply_audit, .restart = restart_audit,
                                          .userdata = &q });
        if (r >= 0 && a->json) {
                json_object *arr = json_object_new_array();

                for (size_t i = 0; arr && i < q.n_replies; i++)
                        for (size_t k = 0; k < q.replies[i]->n_audit; k++)
                                json_object_array_add(arr, codec_message_to_json(&q.replies[i]->audit[k]->base));
                if (arr)
                        cluster_print_json(arr);
                json_object_put(arr);
        } else if (r >= 0) {
                Table *t = table_new(header, ELEMENTSOF(header));

                for (size_t i = 0; t && i < q.n_replies; i++)
                        for (size_t k = 0; k < q.replies[i]->n_audit; k++)
                                add_audit_row(t, q.replies[i]->audit[k]);
                if (t)
                        table_print(t, stdout, a->headings);
                table_free(t);
        }
        restart_audit(&q);
        return r;
}

static int send_unbind(zsock_t *s, uint64_t request_id, void *userdata) {
        return cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_UNBIND, userdata);
}

/* Like node rm: to one coordinator at a time. */
static int cmd_key_unbind(ClusterArgs *a, const char *key) {
        Castle__KeyUnbind u = CASTLE__KEY_UNBIND__INIT;
        int r;

        u.key = (char *) key;
        r = exchange_run(a, &(Exchange) { .what = "request", .silence_usec = a->timeout_usec, .send = send_unbind,
                                          .reply = reply_empty, .userdata = &u });
        if (r < 0)
                return r;
        printf("Key %s is no longer bound to a node; its next message binds it again.\n", key);
        return 0;
}

/* The coordinators from --coordinator, else $CASTLE_COORDINATOR, else the local one, and their
 * keys; the one to ask first is drawn at random, so that many clients spread their queries
 * over every coordinator (which all know the same). */
static int pick_endpoints(ClusterArgs *a) {
        size_t n, n_keys;
        uint32_t pick = 0;
        const char *env;

        if (!a->endpoints) {
                env = getenv("CASTLE_COORDINATOR");
                if (split_list(&a->endpoints, isempty(env) ? "tcp://127.0.0.1:7101" : env, "$CASTLE_COORDINATOR") < 0)
                        return -EINVAL;
        }
        if (!a->server_keys && strv_extend(&a->server_keys, "/etc/castle/keys/coordinator.key") < 0)
                return log_oom();
        n = strv_length(a->endpoints);
        n_keys = strv_length(a->server_keys);
        if (n > CLUSTER_MAX_ENDPOINTS)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "At most %d coordinators, not %zu.", CLUSTER_MAX_ENDPOINTS, n);
        if (n_keys != 1 && n_keys != n)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "%zu server keys for %zu coordinators: give one for all, or one for each.", n_keys, n);
        if (n > 1 && getrandom(&pick, sizeof pick, GRND_NONBLOCK) != (ssize_t) sizeof pick)
                pick = (uint32_t) (now_usec() ^ (uint64_t) getpid());
        a->first = pick % n;
        a->endpoint = a->endpoints[a->first];
        a->server_key = a->server_keys[n_keys == 1 ? 0 : a->first];
        return 0;
}

static void cluster_args_done(ClusterArgs *a) {
        a->db_devices = strv_free(a->db_devices);
        a->wal_devices = strv_free(a->wal_devices);
        a->endpoints = strv_free(a->endpoints);
        a->server_keys = strv_free(a->server_keys);
}

int cmd_cluster(int argc, char *argv[]) {
        _cleanup_(cluster_args_done) ClusterArgs a = {
                .key = "/etc/castle/keys/castlectl.key",
                .headings = true,
                .timeout_usec = 5 * USEC_PER_SEC,
                .health_verdict = -1,
        };
        const char *cmd;
        int r;

        castle__device_filter__init(&a.filter);
        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        if (pick_endpoints(&a) < 0)
                return EXIT_USAGE;
        if (optind >= argc) {
                log_error("Which command? nodes, devices, device ID, watch, osds, osd create, osd manifests, zap, rescan, audit, apply, specs, spec rm or plan. Run 'castlectl cluster --help'.");
                return EXIT_USAGE;
        }
        cmd = argv[optind];
        if (streq(cmd, "device")) {
                if (optind + 2 != argc) {
                        log_error("'cluster device' takes one stable id.");
                        return EXIT_USAGE;
                }
                a.filter.stable_id = argv[optind + 1];
        } else if (streq(cmd, "osd") && optind + 1 < argc && streq(argv[optind + 1], "replace")) {
                if (optind + 3 != argc || !a.device) {
                        log_error("Usage: castlectl cluster osd replace ID --device NODE:DEVICE.");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "osd") && optind + 1 < argc && streq(argv[optind + 1], "manifests")) {
                if (optind + 2 != argc) {
                        log_error("Usage: castlectl cluster osd manifests [--node=NODE] [--image=IMAGE].");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "osd") && optind + 1 < argc && streq(argv[optind + 1], "rm")) {
                bool cancel = optind + 2 < argc && streq(argv[optind + 2], "cancel"),
                     status = optind + 2 < argc && streq(argv[optind + 2], "status");
                if (status ? optind + 3 != argc : optind + (cancel ? 4 : 3) > argc) {
                        log_error("Usage: castlectl cluster osd rm ID... [--replace] [--zap] [--force] [--wait], "
                                  "osd rm cancel ID..., or osd rm status.");
                        return EXIT_USAGE;
                }
                if (cancel && (a.replace || a.zap || a.force)) {
                        log_error("osd rm cancel takes no --replace, --zap or --force.");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "osd")) {
                if (optind + 4 > argc || !streq(argv[optind + 1], "create")) {
                        log_error("Usage: castlectl cluster osd create NODE DEVICE... [--dry-run] [OPTIONS].");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "zap")) {
                if (optind + 3 != argc) {
                        log_error("Usage: castlectl cluster zap NODE DEVICE --yes [--destroy].");
                        return EXIT_USAGE;
                }
                if (!a.yes) {
                        log_error("castlectl cluster zap destroys the data on %s of %s: add --yes to go on.",
                                  argv[optind + 2], argv[optind + 1]);
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "rescan")) {
                if (a.all ? optind + 1 != argc : optind + 2 != argc) {
                        log_error("Usage: castlectl cluster rescan NODE|--all.");
                        return EXIT_USAGE;
                }
                if (a.all && a.command_id > 0) {
                        log_error("--command-id names one command: not with rescan --all.");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "policy")) {
                log_error("'cluster policy' was removed: OSD specs replace the node policy (castlectl cluster apply).");
                return EXIT_USAGE;
        } else if (streq(cmd, "node")) {
                if (optind + 3 != argc || !streq(argv[optind + 1], "rm")) {
                        log_error("Usage: castlectl cluster node rm NODE [--force].");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "key")) {
                if (optind + 3 != argc || !streq(argv[optind + 1], "unbind")) {
                        log_error("Usage: castlectl cluster key unbind KEY.");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "apply")) {
                if (optind + 1 != argc || !a.input) {
                        log_error("Usage: castlectl cluster apply -i FILE|- [--dry-run] [--format table|json].");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "spec")) {
                if (optind + 3 != argc || !streq(argv[optind + 1], "rm")) {
                        log_error("Usage: castlectl cluster spec rm NAME.");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "plan")) {
                if (optind + 2 < argc) {
                        log_error("Usage: castlectl cluster plan [NAME] [--format table|json].");
                        return EXIT_USAGE;
                }
        } else if (!streq(cmd, "nodes") && !streq(cmd, "devices") && !streq(cmd, "watch") &&
                   !streq(cmd, "audit") && !streq(cmd, "specs") && !streq(cmd, "osds")) {
                log_error("Unknown cluster command '%s'. Run 'castlectl cluster --help'.", cmd);
                return EXIT_USAGE;
        } else if (optind + 1 != argc) {
                log_error("Unexpected argument '%s'.", argv[optind + 1]);
                return EXIT_USAGE;
        }
        if (a.yaml && !streq(cmd, "specs")) {
                log_error("--format yaml is for 'cluster specs' only.");
                return EXIT_USAGE;
        }
        if (a.input && !streq(cmd, "apply")) {
                log_error("-i is for 'cluster apply' only.");
                return EXIT_USAGE;
        }
        if (a.rook && !streq(cmd, "devices")) {
                log_error("--format rook is for 'cluster devices' only.");
                return EXIT_USAGE;
        }
        if (a.since && !streq(cmd, "audit")) {
                log_error("--since is for 'cluster audit' only.");
                return EXIT_USAGE;
        }
        if (a.since && parse_timestamp(a.since, now_realtime_usec(), &(int64_t) { 0 }) < 0) {
                log_error("--since: '%s' is not a Unix time, an ISO date (2026-12-06, 2026-12-06T11:30Z) or a "
                          "duration ago (1h).", a.since);
                return EXIT_USAGE;
        }
        if (!streq(cmd, "watch"))
                zsys_handler_set(NULL);
        if (streq(cmd, "nodes"))
                r = cmd_nodes(&a);
        else if (streq(cmd, "watch"))
                r = cluster_watch(&a);
        else if (streq(cmd, "osds"))
                r = cluster_osds(&a);
        else if (streq(cmd, "osd") && streq(argv[optind + 1], "rm") && streq_ptr(argv[optind + 2], "status"))
                r = cluster_osd_rm_status(&a);
        else if (streq(cmd, "osd") && streq(argv[optind + 1], "rm") && streq_ptr(argv[optind + 2], "cancel"))
                r = cluster_osd_rm(&a, argv + optind + 3, true);
        else if (streq(cmd, "osd") && streq(argv[optind + 1], "rm"))
                r = cluster_osd_rm(&a, argv + optind + 2, false);
        else if (streq(cmd, "osd") && streq(argv[optind + 1], "manifests"))
                r = cluster_osd_manifests(&a);
        else if (streq(cmd, "osd") && streq(argv[optind + 1], "replace"))
                r = cluster_osd_replace(&a, argv[optind + 2]);
        else if (streq(cmd, "osd"))
                r = cmd_osd_create(&a, argv[optind + 2], argv + optind + 3);
        else if (streq(cmd, "zap"))
                r = cmd_cluster_zap(&a, argv[optind + 1], argv[optind + 2]);
        else if (streq(cmd, "rescan"))
                r = cmd_rescan(&a, a.all ? NULL : argv[optind + 1]);
        else if (streq(cmd, "node"))
                r = cmd_node_rm(&a, argv[optind + 2]);
        else if (streq(cmd, "audit"))
                r = cmd_audit(&a);
        else if (streq(cmd, "key"))
                r = cmd_key_unbind(&a, argv[optind + 2]);
        else if (streq(cmd, "apply"))
                r = cluster_apply(&a);
        else if (streq(cmd, "specs"))
                r = cluster_specs(&a);
        else if (streq(cmd, "spec"))
                r = cluster_spec_rm(&a, argv[optind + 2]);
        else if (streq(cmd, "plan"))
                r = cluster_plan(&a, optind + 1 < argc ? argv[optind + 1] : NULL);
        else if (streq(cmd, "device") && !a.json)
                r = cluster_device_show(&a);
        else if (a.rook)
                r = cmd_devices_rook(&a);
        else
                r = cmd_devices(&a);
        return r == -EACCES ? EXIT_PERMISSION : r < 0 ? 1 : 0;
}
