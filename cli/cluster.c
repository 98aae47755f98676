/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster: the coordinator's view of every node (the watch is cluster-watch.c).
 * Talks to the query endpoint over CURVE with this client's key pair. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
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
"Asks castle-coordinator about the nodes it knows and their devices.\n"
"\n"
"Commands:\n"
"  nodes                 every node: state (online, stale, offline), when last seen, devices\n"
"  devices               every node's devices, like `ceph orch device ls`\n"
"  device ID             one device by stable id (on every node that has it)\n"
"  watch                 print changes as they happen, until interrupted; when the\n"
"                        coordinator goes away (closed, or silent for 6 s) says so on stderr,\n"
"                        and when it is back prints what changed meanwhile and goes on\n"
"  osd create NODE DEVICE-ID\n"
"                        prepare a BlueStore OSD on NODE's device (its stable id) and start it;\n"
"                        the node's agent runs `castlectl osd prepare`, progress is shown\n"
"  policy NODE --auto-prepare=yes|no [--filter=REGEX] [--path-filter=REGEX]\n"
"                        let NODE's agent prepare every available device matching the filters\n"
"                        as it appears (until the agent restarts; its config sets the default)\n"
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
"  key unbind KEY        forget which node the agent key KEY (its name in the coordinator's\n"
"                        agent-keys directory, or its public key) is bound to, so that a\n"
"                        reinstalled node with a new key may take its node id (admin role)\n"
"\n"
"Options:\n"
"  -f, --format=FORMAT   table (default) or json; devices also takes rook: a Kubernetes List\n"
"                        of ConfigMaps, one per node, laid out as Rook's discovery daemon\n"
"                        writes local-device-<node> (data.devices: the JSON array of Rook's\n"
"                        LocalDisk records as a string; the node is the agent's hostname)\n"
"      --namespace=NS    rook: the ConfigMaps' namespace (default rook-ceph; \"\" for none)\n"
"  -n, --no-headings     table without the heading line\n"
"      --node=NODE       devices: only this node's\n"
"      --available       devices: only available ones\n"
"      --rotational=yes|no, --transport=NAME, --model=TEXT, --min-size=SIZE,\n"
"      --max-size=SIZE, --limit=N   devices: further filters (--limit: also audit)\n"
"      --since=TIME      audit: records from TIME on\n"
"      --coordinator=EP  query endpoint (default $CASTLE_COORDINATOR, else tcp://127.0.0.1:7101)\n"
"      --server-key=FILE the coordinator's public key (default /etc/castle/keys/coordinator.key)\n"
"      --key=FILE        this client's key pair, FILE_secret is read\n"
"                        (default /etc/castle/keys/castlectl.key)\n"
"      --insecure        no CURVE (only against a coordinator started with --insecure)\n"
"      --timeout=SEC     give up after SEC seconds without an answer (default 5; osd create\n"
"                        waits at least 10 minutes between progress messages)\n"
"      --exit-on-loss    watch: exit with status 1 when the coordinator is lost\n"
"      --dry-run         osd create: print the node's plan and change nothing\n"
"      --force           node rm: also while the node is online\n"
"      --crush-device-class=CLASS  osd create, policy: the OSD's device class\n"
"      --auto-prepare=yes|no, --filter=REGEX, --path-filter=REGEX   policy: what to prepare\n"
"  -h, --help            this text\n"
"\n"
"Roles: the coordinator gives each client key the role of the allowlist that holds it:\n"
"viewer (nodes, devices, device, watch), operator (also osd create, policy, node rm, and\n"
"the rescan and audit requests) or admin (also key unbind). A request outside the key's\n"
"role is refused with the role it needs, and castlectl exits with status 4.\n"
"\n"
"Exit status: 0 on success, 1 on failure, 2 on a usage error, 4 when the coordinator\n"
"refused the request for this key's role (permission denied).\n");
}

enum { ARG_NODE = 0x100, ARG_AVAILABLE, ARG_ROTATIONAL, ARG_TRANSPORT, ARG_MODEL, ARG_MIN_SIZE, ARG_MAX_SIZE,
       ARG_LIMIT, ARG_COORDINATOR, ARG_SERVER_KEY, ARG_KEY, ARG_INSECURE, ARG_TIMEOUT, ARG_DRY_RUN,
       ARG_CRUSH_CLASS, ARG_AUTO_PREPARE, ARG_FILTER, ARG_PATH_FILTER, ARG_NAMESPACE, ARG_FORCE,
       ARG_EXIT_ON_LOSS, ARG_SINCE };

static int parse_args(int argc, char *argv[], ClusterArgs *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "format", required_argument, NULL, 'f' },
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
                { "auto-prepare", required_argument, NULL, ARG_AUTO_PREPARE },
                { "filter", required_argument, NULL, ARG_FILTER },
                { "path-filter", required_argument, NULL, ARG_PATH_FILTER },
                { "namespace", required_argument, NULL, ARG_NAMESPACE },
                { "force", no_argument, NULL, ARG_FORCE },
                { "exit-on-loss", no_argument, NULL, ARG_EXIT_ON_LOSS },
                { "since", required_argument, NULL, ARG_SINCE },
                {}
        };
        uint64_t v;
        bool yes;
        int c;

        while ((c = getopt_long(argc, argv, "hf:n", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case 'f':
                        if (!streq(optarg, "json") && !streq(optarg, "table") && !streq(optarg, "rook"))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown --format '%s': use table, json or rook.", optarg);
                        a->json = streq(optarg, "json");
                        a->rook = streq(optarg, "rook");
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
                case ARG_AUTO_PREPARE:
                        if (conf_parse_bool(optarg, &yes) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--auto-prepare takes yes or no.");
                        a->auto_prepare = yes;
                        break;
                case ARG_FILTER:
                        a->name_filter = optarg;
                        break;
                case ARG_PATH_FILTER:
                        a->path_filter = optarg;
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
                        a->endpoint = optarg;
                        break;
                case ARG_SERVER_KEY:
                        a->server_key = optarg;
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

/* Receives one reply, or fails after the timeout (0: wait forever, for watch). */
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
                /* A refusal for the key's role has an exit status of its own (EXIT_PERMISSION). */
                bool denied = !isempty((*ret)->required_role);

                if (denied)
                        log_error("Permission denied: %s.", (*ret)->error);
                else
                        log_error("The coordinator says: %s", (*ret)->error);
                castle__query_reply__free_unpacked(*ret, NULL);
                return denied ? -EACCES : -EREMOTEIO;
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
        default:
                return -EINVAL;
        }
        return link_send(s, NULL, &q.base);
}

/* The node list, in one reply. */
int cluster_query_nodes(zsock_t *s, const ClusterArgs *a, uint64_t request_id, Castle__QueryReply **ret) {
        Castle__ListNodes ln = CASTLE__LIST_NODES__INIT;
        int r;

        r = cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_NODES, &ln);
        if (r < 0)
                return r;
        return cluster_receive(s, a, a->timeout_usec, ret);
}

void device_replies_done(DeviceReplies *d) {
        for (size_t i = 0; i < d->n_replies; i++)
                castle__query_reply__free_unpacked(d->replies[i], NULL);
        free(d->replies);
        free(d->devices);
        *d = (DeviceReplies) {};
}

/* The devices that match a's filter, in as many replies as the coordinator sends, up to the
 * last one. */
int cluster_query_devices(zsock_t *s, const ClusterArgs *a, uint64_t request_id, DeviceReplies *ret) {
        _cleanup_(device_replies_done) DeviceReplies d = {};
        Castle__DeviceFilter filter = a->filter;
        bool last = false;
        int r;

        r = cluster_query_send(s, request_id, CASTLE__QUERY_REQUEST__KIND_DEVICES, &filter);
        while (r >= 0 && !last) {
                Castle__QueryReply *rep = NULL, **nr;
                Castle__ClusterDevice **nd;

                r = cluster_receive(s, a, a->timeout_usec, &rep);
                if (r < 0)
                        break;
                last = rep->last;
                nr = reallocarray(d.replies, d.n_replies + 1, sizeof *d.replies);
                nd = nr ? reallocarray(d.devices, d.n_devices + rep->n_devices + 1, sizeof *d.devices) : NULL;
                if (nr)
                        d.replies = nr;
                if (nd)
                        d.devices = nd;
                if (!nr || !nd) {
                        castle__query_reply__free_unpacked(rep, NULL);
                        r = -ENOMEM;
                        break;
                }
                d.replies[d.n_replies++] = rep;
                for (size_t i = 0; i < rep->n_devices; i++)
                        d.devices[d.n_devices++] = rep->devices[i];
        }
        if (r < 0)
                return r;
        *ret = d;
        d = (DeviceReplies) {};
        return 0;
}

static char *format_ago(int64_t then_usec, char *buf, size_t n) {
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

static void print_json(json_object *o) {
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

static int cmd_nodes(zsock_t *s, const ClusterArgs *a) {
        static const char *const header[] = { "NODE", "HOSTNAME", "STATE", "SINCE", "LAST SEEN", "DEVICES", "AGENT" };
        Castle__QueryReply *rep = NULL;
        int r;

        r = cluster_query_nodes(s, a, 1, &rep);
        if (r < 0)
                return r;
        /* A header line above the table; with json or --no-headings, on stderr, so that what a
         * script parses keeps its shape (each node also says store_error in JSON). */
        print_store_status(rep->store, a->json || !a->headings ? stderr : stdout);
        if (a->json) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < rep->n_nodes; i++)
                        json_object_array_add(arr, codec_message_to_json(&rep->nodes[i]->base));
                print_json(arr);
                json_object_put(arr);
        } else {
                Table *t = table_new(header, ELEMENTSOF(header));
                for (size_t i = 0; t && i < rep->n_nodes; i++) {
                        const Castle__NodeInfo *n = rep->nodes[i];
                        char since[32], seen[32], devs[16];
                        snprintf(devs, sizeof devs, "%u", n->devices);
                        table_add_row(t, (const char *[]) { n->node_id, n->hostname, n->state,
                                                            format_ago(n->state_since_usec, since, sizeof since),
                                                            format_ago(n->last_seen_usec, seen, sizeof seen), devs,
                                                            n->agent_version });
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
        _cleanup_free_ char *reasons = NULL;
        char size[FORMAT_SIZE_MAX], type[16], transport[16];

        if (!d)
                return 0;
        reasons = cluster_device_reasons(d);
        return table_add_row(t, (const char *[]) {
                cd->node_id, d->path, enum_name(&castle__device__type__descriptor, d->type, type, sizeof type),
                enum_name(&castle__device__transport__descriptor, d->transport, transport, sizeof transport),
                format_size(d->size, size, sizeof size), d->available ? "yes" : "no",
                isempty(d->stable_id) ? NULL : d->stable_id, reasons });
}

static int cmd_devices(zsock_t *s, const ClusterArgs *a) {
        static const char *const header[] = { "NODE", "PATH", "TYPE", "TRANSPORT", "SIZE", "AVAILABLE", "STABLE ID",
                                              "REJECT REASONS" };
        _cleanup_(device_replies_done) DeviceReplies d = {};
        Table *t;
        json_object *arr;
        int r;

        r = cluster_query_devices(s, a, 1, &d);
        if (r < 0)
                return r;
        if (a->json) {
                arr = json_object_new_array();
                if (!arr)
                        return -ENOMEM;
                for (size_t i = 0; i < d.n_devices; i++)
                        json_object_array_add(arr, codec_message_to_json(&d.devices[i]->base));
                print_json(arr);
                json_object_put(arr);
        } else {
                t = table_new(header, ELEMENTSOF(header));
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < d.n_devices; i++)
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
static int cmd_devices_rook(zsock_t *s, const ClusterArgs *a) {
        _cleanup_(device_replies_done) DeviceReplies d = {};
        _cleanup_free_ Castle__NodeInfo **sel = NULL;
        Castle__QueryReply *nodes = NULL;
        json_object *list = NULL;
        size_t n_sel = 0;
        int r;

        r = cluster_query_nodes(s, a, 1, &nodes);
        if (r < 0)
                return r;
        r = cluster_query_devices(s, a, 2, &d);
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
                print_json(list);
        else if (r == -ENOMEM)
                log_error("Out of memory.");
        json_object_put(list);
        castle__query_reply__free_unpacked(nodes, NULL);
        return r;
}

#define JOB_TIMEOUT_USEC (600 * USEC_PER_SEC)

/* Sends a command to a node and follows its JobUpdates to the last one. */
static int run_node_command(zsock_t *s, const ClusterArgs *a, const char *node, Castle__Command *cmd) {
        Castle__NodeCommand nc = CASTLE__NODE_COMMAND__INIT;
        bool tty = isatty(STDERR_FILENO), progress_shown = false;
        int r;

        nc.node_id = (char *) node;
        nc.command = cmd;
        r = cluster_query_send(s, 1, CASTLE__QUERY_REQUEST__KIND_COMMAND, &nc);
        if (r < 0)
                return log_error_errno(r, "Cannot send the request: %m");
        for (;;) {
                Castle__QueryReply *rep = NULL;
                const Castle__JobUpdate *u;

                r = cluster_receive(s, a, MAX(a->timeout_usec, JOB_TIMEOUT_USEC), &rep);
                if (progress_shown && tty && r < 0)
                        fputc('\n', stderr);
                if (r < 0)
                        return r;
                u = rep->job;
                if (u && !u->done && !a->json) {
                        if (tty)
                                fprintf(stderr, "\r\033[K[%3u%%] %s", u->percent, strempty(u->message ?: u->step));
                        else
                                fprintf(stderr, "[%3u%%] %s\n", u->percent, strempty(u->message ?: u->step));
                        progress_shown = true;
                }
                if (u && u->done) {
                        if (progress_shown && tty)
                                fputc('\n', stderr);
                        if (a->json) {
                                json_object *o = codec_message_to_json(&u->base);
                                print_json(o);
                                json_object_put(o);
                        } else if (cmd->kind_case == CASTLE__COMMAND__KIND_OSD_CREATE && cmd->osd_create->dry_run)
                                printf("Dry run on %s: %s would be prepared; nothing was changed.\n", node,
                                       strempty(u->device));
                        else if (cmd->kind_case == CASTLE__COMMAND__KIND_OSD_CREATE)
                                printf("osd.%d %s on %s %s (%s)\n", u->osd_id,
                                       u->already_prepared ? "was already there" : "is up", node, strempty(u->device),
                                       strempty(u->osd_uuid));
                        else
                                printf("Sent to %s.\n", node);
                }
                bool last = rep->last;
                castle__query_reply__free_unpacked(rep, NULL);
                if (last)
                        return 0;
        }
}

static int cmd_osd_create(zsock_t *s, const ClusterArgs *a, const char *node, const char *device) {
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;

        oc.device_id = (char *) device;
        oc.dry_run = a->dry_run;
        oc.crush_device_class = (char *) a->crush_class;
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        return run_node_command(s, a, node, &cmd);
}

static int cmd_policy(zsock_t *s, const ClusterArgs *a, const char *node) {
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__Policy p = CASTLE__POLICY__INIT;

        p.auto_prepare = a->auto_prepare > 0;
        p.name_filter = (char *) a->name_filter;
        p.path_filter = (char *) a->path_filter;
        p.crush_device_class = (char *) a->crush_class;
        cmd.kind_case = CASTLE__COMMAND__KIND_POLICY;
        cmd.policy = &p;
        return run_node_command(s, a, node, &cmd);
}

static int cmd_node_rm(zsock_t *s, const ClusterArgs *a, const char *node) {
        Castle__RemoveNode rn = CASTLE__REMOVE_NODE__INIT;
        Castle__QueryReply *rep = NULL;
        int r;

        rn.node_id = (char *) node;
        rn.force = a->force;
        r = cluster_query_send(s, 1, CASTLE__QUERY_REQUEST__KIND_REMOVE_NODE, &rn);
        if (r < 0)
                return log_error_errno(r, "Cannot send the request: %m");
        r = cluster_receive(s, a, a->timeout_usec, &rep);
        if (r < 0)
                return r;
        castle__query_reply__free_unpacked(rep, NULL);
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

/* The audit trail, in as many replies as the coordinator sends, printed as they come. */
static int cmd_audit(zsock_t *s, const ClusterArgs *a) {
        static const char *const header[] = { "TIME", "COORDINATOR", "KEY", "ROLE", "ACTION", "NODE", "DEVICE",
                                               "COMMAND", "RESULT" };
        Castle__AuditQuery aq = CASTLE__AUDIT_QUERY__INIT;
        Table *t = NULL;
        json_object *arr = NULL;
        bool last = false;
        int r;

        if (a->since) {
                r = parse_timestamp(a->since, now_realtime_usec(), &aq.since_usec);
                if (r < 0)
                        return log_error_errno(r, "--since: '%s' is not a Unix time, an ISO date (2026-12-06, "
                                               "2026-12-06T11:30Z) or a duration ago (1h).", a->since);
        }
        aq.limit = a->filter.limit;
        if (a->json)
                arr = json_object_new_array();
        else
                t = table_new(header, ELEMENTSOF(header));
        if (!arr && !t)
                return log_oom();
        r = cluster_query_send(s, 1, CASTLE__QUERY_REQUEST__KIND_AUDIT, &aq);
        if (r < 0) {
                json_object_put(arr);
                table_free(t);
                return log_error_errno(r, "Cannot send the request: %m");
        }
        while (!last) {
                Castle__QueryReply *rep = NULL;

                r = cluster_receive(s, a, a->timeout_usec, &rep);
                if (r < 0) {
                        json_object_put(arr);
                        table_free(t);
                        return r;
                }
                for (size_t i = 0; i < rep->n_audit; i++)
                        if (arr)
                                json_object_array_add(arr, codec_message_to_json(&rep->audit[i]->base));
                        else
                                add_audit_row(t, rep->audit[i]);
                last = rep->last;
                castle__query_reply__free_unpacked(rep, NULL);
        }
        if (arr) {
                print_json(arr);
                json_object_put(arr);
        } else
                table_print(t, stdout, a->headings);
        table_free(t);
        return 0;
}

static int cmd_key_unbind(zsock_t *s, const ClusterArgs *a, const char *key) {
        Castle__KeyUnbind u = CASTLE__KEY_UNBIND__INIT;
        Castle__QueryReply *rep = NULL;
        int r;

        u.key = (char *) key;
        r = cluster_query_send(s, 1, CASTLE__QUERY_REQUEST__KIND_UNBIND, &u);
        if (r < 0)
                return log_error_errno(r, "Cannot send the request: %m");
        r = cluster_receive(s, a, a->timeout_usec, &rep);
        if (r < 0)
                return r;
        castle__query_reply__free_unpacked(rep, NULL);
        printf("Key %s is no longer bound to a node; its next message binds it again.\n", key);
        return 0;
}

int cmd_cluster(int argc, char *argv[]) {
        ClusterArgs a = {
                .endpoint = getenv("CASTLE_COORDINATOR") ?: "tcp://127.0.0.1:7101",
                .server_key = "/etc/castle/keys/coordinator.key",
                .key = "/etc/castle/keys/castlectl.key",
                .headings = true,
                .timeout_usec = 5 * USEC_PER_SEC,
                .auto_prepare = -1,
        };
        const char *cmd;
        zsock_t *s = NULL;
        int r;

        castle__device_filter__init(&a.filter);
        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        if (optind >= argc) {
                log_error("Which command? nodes, devices, device ID, watch or audit. Run 'castlectl cluster --help'.");
                return EXIT_USAGE;
        }
        cmd = argv[optind];
        if (streq(cmd, "device")) {
                if (optind + 2 != argc) {
                        log_error("'cluster device' takes one stable id.");
                        return EXIT_USAGE;
                }
                a.filter.stable_id = argv[optind + 1];
        } else if (streq(cmd, "osd")) {
                if (optind + 4 != argc || !streq(argv[optind + 1], "create")) {
                        log_error("Usage: castlectl cluster osd create NODE DEVICE-ID [--dry-run].");
                        return EXIT_USAGE;
                }
        } else if (streq(cmd, "policy")) {
                if (optind + 2 != argc || a.auto_prepare < 0) {
                        log_error("Usage: castlectl cluster policy NODE --auto-prepare=yes|no [--filter=REGEX] [--path-filter=REGEX].");
                        return EXIT_USAGE;
                }
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
        } else if (!streq(cmd, "nodes") && !streq(cmd, "devices") && !streq(cmd, "watch") &&
                   !streq(cmd, "audit")) {
                log_error("Unknown cluster command '%s'. Run 'castlectl cluster --help'.", cmd);
                return EXIT_USAGE;
        } else if (optind + 1 != argc) {
                log_error("Unexpected argument '%s'.", argv[optind + 1]);
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
        r = cluster_connect(&a, &s);
        if (r < 0)
                return 1;
        if (streq(cmd, "nodes"))
                r = cmd_nodes(s, &a);
        else if (streq(cmd, "watch"))
                r = cluster_watch(s, &a);
        else if (streq(cmd, "osd"))
                r = cmd_osd_create(s, &a, argv[optind + 2], argv[optind + 3]);
        else if (streq(cmd, "policy"))
                r = cmd_policy(s, &a, argv[optind + 1]);
        else if (streq(cmd, "node"))
                r = cmd_node_rm(s, &a, argv[optind + 2]);
        else if (streq(cmd, "audit"))
                r = cmd_audit(s, &a);
        else if (streq(cmd, "key"))
                r = cmd_key_unbind(s, &a, argv[optind + 2]);
        else if (a.rook)
                r = cmd_devices_rook(s, &a);
        else
                r = cmd_devices(s, &a);
        zsock_destroy(&s);
        return r == -EACCES ? EXIT_PERMISSION : r < 0 ? 1 : 0;
}
