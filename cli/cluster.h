/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster's parts: its arguments, the connections to the coordinators' query
 * endpoints, failing over from one to the next, and the queries every verb uses (cluster.c),
 * and the watch (cluster-watch.c). */
#pragma once

#include <czmq.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/timeutil.h"
#include "proto/castle.pb-c.h"

/* Coordinators one castlectl may name. */
#define CLUSTER_MAX_ENDPOINTS 16
/* Failing over, for queries: when the coordinator asked first has not answered within
 * CLUSTER_HEDGE_USEC, the query goes to the next one too (and so on), and the first to answer
 * gives the whole answer; one that falls silent for CLUSTER_PART_USEC in the middle of a
 * multi-part answer is given up and the query starts again on the others. Commands are never
 * sent to two coordinators at once: the next one gets the command (with its id) when the one
 * asked is lost (its connection closed, or ZMTP heartbeats unanswered for 6 s), or could not
 * be reached within CLUSTER_CONNECT_USEC. */
#define CLUSTER_HEDGE_USEC (500 * USEC_PER_MSEC)
#define CLUSTER_PART_USEC (2 * USEC_PER_SEC)
#define CLUSTER_CONNECT_USEC (1 * USEC_PER_SEC)

typedef struct ClusterArgs {
        const char *endpoint, *server_key, *key; /* endpoint, server_key: the coordinator in use */
        char **endpoints;       /* every coordinator's query endpoint */
        char **server_keys;     /* their public keys: one for all, or one per endpoint */
        size_t first;           /* the endpoint to ask first: random at start, then the last that answered */
        uint64_t command_id;    /* --command-id; 0: a random one */
        bool quiet;             /* no answer is no error yet (the watch tries another): debug only */
        bool insecure, json, rook, headings;
        bool exit_on_loss;      /* watch: exit when the coordinator is lost instead of waiting */
        const char *rook_namespace;
        uint64_t timeout_usec;
        Castle__DeviceFilter filter;
        bool dry_run, force;
        const char *crush_class;
        const char *since;      /* audit: --since TIME */
        const char *input;      /* apply: -i FILE, "-" for stdin */
        bool yaml;              /* specs: --format yaml */
        /* osd create's batch options (castlectl osd batch's), zap's and rescan's */
        char **db_devices, **wal_devices;
        uint32_t osds_per_device, db_slots, wal_slots;
        uint64_t block_db_size, block_wal_size;
        int32_t osd_ids[256];
        size_t n_osd_ids;
        bool dmcrypt, lvm, destroy, yes, all;
        bool health;            /* devices: --health, the HEALTH column */
        int health_verdict;     /* devices: --health=VERDICT, DeviceHealth.Verdict; -1: all */
        bool replace, zap, wait; /* osd rm */
        const char *device;     /* osd replace: --device NODE:DEVICE */
        const char *image;      /* osd manifests: --image; NULL: CLUSTER_DEFAULT_IMAGE */
} ClusterArgs;

/* One request to the coordinators, and the replies to it, all from one of them. */
typedef struct ClusterExchange {
        const char *what;               /* for messages: "query", "command" */
        bool hedge;                     /* a query: ask the next coordinator too when the first is slow */
        uint64_t silence_usec;          /* give up after this long without a reply (restarted by each) */
        int (*send)(zsock_t *s, uint64_t request_id, void *userdata);
        /* Takes rep; returns 1 after the last reply, 0 for more, or an error. */
        int (*reply)(Castle__QueryReply *rep, void *userdata);
        /* The coordinator that was answering is lost: forget what its replies gave. May be NULL. */
        void (*restart)(void *userdata);
        void *userdata;
} ClusterExchange;

/* Runs x against the coordinators (failing over as above): 0, or -EACCES when the coordinator
 * refused it for this key's role, or another error (logged). */
int cluster_exchange(ClusterArgs *a, const ClusterExchange *x);

/* Every device reply to one query, kept for the devices they hold. */
typedef struct DeviceReplies {
        Castle__QueryReply **replies;
        size_t n_replies;
        Castle__ClusterDevice **devices;        /* into replies */
        size_t n_devices;
} DeviceReplies;

/* A DEALER to a->endpoint with this client's key pair (or none with --insecure); errors are
 * logged. */
int cluster_connect(const ClusterArgs *a, zsock_t **ret);
/* The same for the i-th coordinator; ret_args (may be NULL) gets a with it as the one in use. */
int cluster_connect_at(const ClusterArgs *a, size_t i, ClusterArgs *ret_args, zsock_t **ret);
/* Receives one reply, or fails after timeout_usec (0: wait forever, for watch); a reply that
 * carries an error is logged and gives -EREMOTEIO. */
int cluster_receive(zsock_t *s, const ClusterArgs *a, uint64_t timeout_usec, Castle__QueryReply **ret);
/* Sends a query of one kind; body is that kind's message (ListNodes, DeviceFilter, Watch,
 * NodeCommand or RemoveNode). */
int cluster_query_send(zsock_t *s, uint64_t request_id, Castle__QueryRequest__KindCase kind, void *body);
/* The node list, in one reply, from the first coordinator that answers (a->first is then
 * that one). */
int cluster_query_nodes(ClusterArgs *a, Castle__QueryReply **ret);
/* The devices that match a's filter, in as many replies as the coordinator sends, all from the
 * one coordinator (another one's answer replaces them all when it is lost in the middle). */
int cluster_query_devices(ClusterArgs *a, DeviceReplies *ret);
/* Keeps rep at the end of *replies (rep is freed if that fails): rep->last, or -ENOMEM. For an
 * exchange whose answer comes in parts. */
int cluster_keep_reply(Castle__QueryReply ***replies, size_t *n, Castle__QueryReply *rep);
/* Frees every kept reply: a lost coordinator's partial answer. */
void cluster_free_replies(Castle__QueryReply ***replies, size_t *n);
void device_replies_done(DeviceReplies *d);
/* A device's reject reasons, joined with ", " (the caller frees it). */
char *cluster_device_reasons(const Castle__Device *d);

/* castlectl cluster apply, specs, spec rm, plan (cluster-specs.c). */
int cluster_apply(ClusterArgs *a);
int cluster_specs(ClusterArgs *a);
int cluster_spec_rm(ClusterArgs *a, const char *name);
int cluster_plan(ClusterArgs *a, const char *name);
/* A protobuf repeated string joined with sep (the caller frees it); NULL when out of memory. */
char *cluster_join(char *const *items, size_t n, const char *sep);

/* Disk health (cluster-health.c): --health=VERDICT's names (unknown, ok, warning, failing) as
 * DeviceHealth.Verdict, or -EINVAL; the verdict's name ("-": not read); whether the device
 * passes a->health_verdict; "failing: reasons" (the caller frees it); `cluster device ID`. */
int cluster_health_parse(const char *s);
const char *cluster_health_verdict(const Castle__DeviceHealth *h);
bool cluster_health_match(const ClusterArgs *a, const Castle__Device *d);
char *cluster_health_text(const Castle__Device *d);
int cluster_device_show(ClusterArgs *a);
/* Sends cmd to node's agent (its id chosen here unless --command-id) and follows its JobUpdates
 * to the last, showing progress: 0, or an error (logged). */
int cluster_run_node_command(ClusterArgs *a, const char *node, Castle__Command *cmd);
/* castlectl cluster osd replace ID --device NODE:DEVICE (cluster-osd-replace.c). */
int cluster_osd_replace(ClusterArgs *a, const char *id);
/* "12s ago", "3min ago", "2h ago" for a Unix time in usec ("-" for none), in buf. */
char *cluster_format_ago(int64_t then_usec, char *buf, size_t n);
/* Prints o as castlectl's JSON output (pretty, spaced, no escaped slashes). */
void cluster_print_json(json_object *o);

/* The fleet's OSD list (QueryRequest.osds) in its reply parts. */
typedef struct ClusterOsdReplies {
        Castle__OsdList list;
        Castle__QueryReply **replies;
        size_t n_replies;
} ClusterOsdReplies;
int cluster_query_osds(ClusterArgs *a, ClusterOsdReplies *q);
void cluster_osd_replies_done(ClusterOsdReplies *q);

/* castlectl cluster osds and osd manifests (cluster-osds.c). */
#define CLUSTER_DEFAULT_IMAGE "localhost/castle:" PACKAGE_VERSION
int cluster_osds(ClusterArgs *a);
int cluster_osd_manifests(ClusterArgs *a);

/* castlectl cluster watch: prints changes until interrupted, survives the coordinator's loss
 * unless a->exit_on_loss. */
int cluster_watch(ClusterArgs *a);

/* Sends cmd to node and follows its JobUpdates to the last one (osd rm without --wait: to the
 * first), printing progress on stderr. */
int cluster_run_node_command(ClusterArgs *a, const char *node, Castle__Command *cmd);

/* castlectl cluster osd rm [cancel] ID... and osd rm status (cluster-osd-rm.c). */
int cluster_osd_rm(ClusterArgs *a, char **ids, bool cancel);
int cluster_osd_rm_status(ClusterArgs *a);
