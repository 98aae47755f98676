/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Agent keys bound to nodes: a key may speak for one node only, and a node is spoken for by
 * one key. The key file's metadata (`node = NAME`, castlectl keygen --node) binds a key ahead;
 * otherwise the first message from a key (its Hello) binds it to that message's node. Bindings
 * are kept in the store (they survive a restart) until `castlectl cluster key unbind`. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "coordinator/store.h"
#include "coordinator/zap.h"

/* A key file's `node = *`: the key may speak for any node and is never bound (bench/fleet's
 * simulated agents share one key). "*" is therefore no usable node id. */
#define BINDING_ANY_NODE "*"

typedef struct Bindings Bindings;

int bindings_new(Store *store, Bindings **ret);
Bindings *bindings_free(Bindings *b);

/* Whether peer may speak for node_id (a valid node id) at now (realtime usec): 0 yes, 1 yes
 * and the key is now bound to it, -EPERM no (why says why, in one line, for the log). A peer
 * that is not an authenticated agent (no CURVE: --insecure) is not bound: 0. A binding the
 * store could not write still holds until the coordinator restarts. */
int bindings_check(Bindings *b, const ZapPeer *peer, const char *node_id, int64_t now, char *why, size_t why_size);
