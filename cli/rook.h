/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The coordinator's inventory in the layout of Rook's discovery daemon: one ConfigMap
 * `local-device-<node>` per node whose data key `devices` holds the JSON array of Rook's
 * sys.LocalDisk records (pkg/util/sys/device.go), so tools that read those maps read castle. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

#include "proto/castle.pb-c.h"

/* The ConfigMap name Rook gives a node: "local-device-<node>", or, when that is longer than
 * 63 characters, the node part replaced by the first 16 bytes of its SHA-256 in hex
 * (k8sutil.TruncateNodeName). */
int rook_config_map_name(const char *node, char **ret);

/* One Rook LocalDisk record for d; devices are the node's other records (partitions, to fill
 * the "Partitions" list). */
json_object *rook_local_disk(const Castle__Device *d, Castle__ClusterDevice *const *devices, size_t n_devices);

/* A Kubernetes "List" of ConfigMaps, one per node in nodes (named by its hostname, which
 * castle-agent takes from NODE_NAME in a pod), holding that node's devices. */
int rook_config_maps(Castle__NodeInfo *const *nodes, size_t n_nodes, Castle__ClusterDevice *const *devices,
                     size_t n_devices, const char *namespace, json_object **ret);
