/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OSD specs applied to the fleet: kept in the intent store (one key "spec/<service_id>" per
 * spec, a packed OsdSpec, and "spec-revision"), read into memory at start and whenever the
 * intent follower copies in what another coordinator wrote; each online node's agent is sent
 * the set of specs that place it (SpecSet) after its Hello and whenever that set changes. Also
 * the fleet's preview: every node's plan for some specs, from the store's devices. */
#pragma once

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/intent.h"
#include "coordinator/nodes.h"
#include "coordinator/store.h"
#include "proto/castle.pb-c.h"

/* Specs one coordinator keeps: the list goes out whole in one reply, each spec up to
 * INTENT_MAX_VALUE packed, and must stay under the 16 MiB a message may have. */
#define SPECS_MAX 256

typedef struct Specs Specs;

/* agents: the agents' ROUTER, where SpecSets go (NULL: none are sent, for tests). Loads the
 * stored specs. */
int specs_new(Intent *intent, Store *store, Nodes *nodes, zsock_t *agents, Specs **ret);
Specs *specs_free(Specs *s);

/* Reads the specs from the intent store again and sends each online node whose set changed
 * its new set. */
int specs_load(Specs *s);
/* The intent follower copied in pairs: reloads when the spec revision moved. */
void specs_followed(void *userdata);

int64_t specs_revision(const Specs *s);
/* The stored specs, by service_id. */
Castle__OsdSpec *const *specs_all(const Specs *s, size_t *ret_n);
const Castle__OsdSpec *specs_find(const Specs *s, const char *service_id);

/* Stores specs (each replaces the stored spec of its service_id), stamped applied_usec (the
 * new revision) and applied_by; done is called on the loop once they are durable (0) or
 * with why not. Then the agents whose set changed are sent it. -E2BIG: a spec packs to more
 * than the intent store holds in one value; -ENOSPC: past SPECS_MAX. */
int specs_apply(Specs *s, Castle__OsdSpec *const *specs, size_t n, const char *applied_by, IntentDoneFn done,
                void *userdata);
/* Removes a stored spec (-ENOENT: none of that name); like specs_apply(). OSDs it made stay. */
int specs_remove(Specs *s, const char *service_id, IntentDoneFn done, void *userdata);

/* The node said Hello (n->hostname and n->labels are set): it is sent its set. */
void specs_node_hello(Specs *s, NodeRuntime *n);

/* Every node's plan for each of specs (spec_plan_node() over the store's devices of the node),
 * node by node in node id order; fn takes each plan (spec_node_plan_free()); a negative return
 * stops the walk and is returned. */
typedef int (*SpecsPlanFn)(Castle__NodePlan *plan, void *userdata);
int specs_plan(Specs *s, Castle__OsdSpec *const *specs, size_t n, SpecsPlanFn fn, void *userdata);
