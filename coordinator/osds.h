/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's OSDs (QueryRequest.osds): each node's last OsdState list with its data disk's
 * health from the stored inventory and its removal in progress, the removals of OSDs a node
 * no longer lists, and every reserved id. */
#pragma once

#include "coordinator/nodes.h"
#include "coordinator/store.h"
#include "proto/castle.pb-c.h"

/* Hands one reply part to the caller, who sets its request_id and sends it (its pointers are
 * valid during the call only). */
typedef void (*OsdsSendFunc)(Castle__QueryReply *r, void *userdata);

/* Answers l in parts through send: one per node that lists OSDs, then a last one with the
 * removals of unlisted OSDs and the reservations (last set). -ENOENT: l names a node not known
 * in this run (nothing was sent); -ENOMEM (parts may have gone out: the caller ends the answer
 * with an error). */
int osds_answer(Store *store, Nodes *nodes, const Castle__OsdList *l, OsdsSendFunc send, void *userdata);
