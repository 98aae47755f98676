/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which devices of a node an OSD spec takes, and the OSDs it makes of them. One code over the
 * wire's Device records serves the coordinator's fleet preview (castlectl cluster plan, apply
 * --dry-run) and the agent's apply on its node, so the two cannot disagree.
 *
 * Selection is cephadm's DriveSelection (ceph.deployment.drive_selection), exactly: its
 * filters, its size units and rounding (sizes compared as ceph-volume's human-readable size,
 * "10.00 GB", in decimal units), its limit, its order, and its treatment of devices that
 * already hold OSDs (they still count). The layout is what cephadm runs: ceph-volume lvm batch
 * --no-auto (every data device holds data, DB/WAL devices cut into even slots or db_slots/
 * wal_slots) or, with method raw, one OSD per data device with DB/WAL devices paired one to
 * one. docs/specs.md lists where castle differs from cephadm. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proto/castle.pb-c.h"

/* Whether the spec's placement names this host (hosts, label, host_pattern as cephadm's
 * PlacementSpec.filter_matching_hostspecs; the pattern as Python's fnmatch, no backslash
 * escapes). labels: a NULL-terminated list, or NULL for none. */
bool spec_places(const Castle__OsdSpec *s, const char *hostname, char *const *labels);

/* cephadm's DriveSelection over one node's devices, in its order (by path). Explicit paths are
 * taken as written (and must be on the node, as its path or one of its links: else -ENODEV and
 * *error); a size filter that does not parse is -EINVAL (when a device reaches it, as in
 * cephadm). existing_daemons: the OSDs of this spec already on the node (cephadm counts them
 * against limit). The selection points into devices. */
typedef struct SpecSelection {
        const Castle__Device **data, **db, **wal;
        size_t n_data, n_db, n_wal;
} SpecSelection;

void spec_selection_done(SpecSelection *s);
int spec_select(const Castle__OsdSpec *s, Castle__Device *const *devices, size_t n_devices,
                unsigned existing_daemons, SpecSelection *ret, char **error);

/* The whole answer for one node: whether it is placed, the OSDs (existing and new) with their
 * DB/WAL devices and sizes, every device not taken with the reasons (its verdict reasons, or
 * the filter that left it out: "model does not match 'MZ7'", "limit 4 reached", ...), and the
 * OsdCreate the agent runs for the OSDs still to make (NULL when none, or when the spec is
 * unmanaged). A spec that cannot be laid out (a DB device too small, a path not on the node,
 * raw with osds_per_device > 1) sets plan->error, and no OSDs and no create.
 *
 * A node the placement does not name: placed = false and one SkippedDevice with an empty
 * device and the reason "not placed on this host". The existing daemons are the node's OSDs
 * whose LVs carry ceph.osdspec_affinity = service_id. An LVM create names every data device
 * (the batch lays out the same slots and skips the OSDs that exist); a raw create names only
 * the devices still without one. Returns -ENOMEM only: every other failure is plan->error. */
int spec_plan_node(const Castle__OsdSpec *s, const char *node_id, const char *hostname, char *const *labels,
                   Castle__Device *const *devices, size_t n_devices, Castle__NodePlan **ret);

/* Frees a plan made by spec_plan_node(). */
void spec_node_plan_free(Castle__NodePlan *p);
