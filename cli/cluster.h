/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl cluster's parts: its arguments, the connection to the coordinator's query
 * endpoint and the queries every verb uses (cluster.c), and the watch (cluster-watch.c). */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/castle.pb-c.h"

typedef struct ClusterArgs {
        const char *endpoint, *server_key, *key;
        bool insecure, json, rook, headings;
        bool exit_on_loss;      /* watch: exit when the coordinator is lost instead of waiting */
        const char *rook_namespace;
        uint64_t timeout_usec;
        Castle__DeviceFilter filter;
        bool dry_run, force;
        const char *crush_class;
        int auto_prepare;       /* -1: not given */
        const char *name_filter, *path_filter;
        const char *since;      /* audit: --since TIME */
} ClusterArgs;

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
/* Receives one reply, or fails after timeout_usec (0: wait forever, for watch); a reply that
 * carries an error is logged and gives -EREMOTEIO. */
int cluster_receive(zsock_t *s, const ClusterArgs *a, uint64_t timeout_usec, Castle__QueryReply **ret);
/* Sends a query of one kind; body is that kind's message (ListNodes, DeviceFilter, Watch,
 * NodeCommand or RemoveNode). */
int cluster_query_send(zsock_t *s, uint64_t request_id, Castle__QueryRequest__KindCase kind, void *body);
/* The node list, in one reply. */
int cluster_query_nodes(zsock_t *s, const ClusterArgs *a, uint64_t request_id, Castle__QueryReply **ret);
/* The devices that match a's filter, in as many replies as the coordinator sends. */
int cluster_query_devices(zsock_t *s, const ClusterArgs *a, uint64_t request_id, DeviceReplies *ret);
void device_replies_done(DeviceReplies *d);
/* A device's reject reasons, joined with ", " (the caller frees it). */
char *cluster_device_reasons(const Castle__Device *d);

/* castlectl cluster watch: prints changes until interrupted, survives the coordinator's loss
 * unless a->exit_on_loss. */
int cluster_watch(zsock_t *s, const ClusterArgs *a);
