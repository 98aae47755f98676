/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Node-bound agent keys. Every agent message is checked, so the bindings a key has proven are
 * kept in a hash (fingerprint -> node id) in front of the store; the hash is dropped whenever
 * the store says a binding was removed (castlectl cluster key unbind), which is rare. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "coordinator/binding.h"

#define BINDINGS_MAX_CACHED 1000000

struct Bindings {
        Store *store;
        zhashx_t *cache;        /* fingerprint -> node id (char *) */
        uint64_t generation;    /* the store's bindings generation the cache is of */
};

int bindings_new(Store *store, Bindings **ret) {
        Bindings *b = calloc(1, sizeof(Bindings));

        if (!b)
                return -ENOMEM;
        b->store = store;
        b->cache = zhashx_new();
        if (!b->cache) {
                free(b);
                return -ENOMEM;
        }
        zhashx_set_duplicator(b->cache, (zhashx_duplicator_fn *) strdup);
        zhashx_set_destructor(b->cache, (zhashx_destructor_fn *) zstr_free);
        b->generation = store_bindings_generation(store);
        *ret = b;
        return 0;
}

Bindings *bindings_free(Bindings *b) {
        if (!b)
                return NULL;
        zhashx_destroy(&b->cache);
        free(b);
        return NULL;
}

static void remember(Bindings *b, const char *fingerprint, const char *node_id) {
        if (zhashx_size(b->cache) >= BINDINGS_MAX_CACHED)
                zhashx_purge(b->cache);
        (void) zhashx_update(b->cache, fingerprint, (void *) node_id);
}

int bindings_check(Bindings *b, const ZapPeer *peer, const char *node_id, int64_t now, char *why, size_t why_size) {
        const char *want = isempty(peer->node) ? NULL : peer->node, *cached;
        StoreBinding sb = {};
        int r;

        /* "*": the key file lets the key speak for any node (a simulator's, a trusted proxy's) */
        if (peer->role != ZAP_ROLE_AGENT || streq(peer->fingerprint, "-") || streq(peer->node, BINDING_ANY_NODE))
                return 0;
        if (store_bindings_generation(b->store) != b->generation) {
                zhashx_purge(b->cache);
                b->generation = store_bindings_generation(b->store);
        }
        if (want && !streq(want, node_id)) {
                snprintf(why, why_size, "key '%s' (%s) speaks for node %s, its key file binds it to node %s", peer->name,
                         peer->fingerprint, node_id, want);
                return -EPERM;
        }
        cached = zhashx_lookup(b->cache, peer->fingerprint);
        if (cached && streq(cached, node_id))
                return 0;
        if (cached && !want) {
                snprintf(why, why_size, "key '%s' (%s) speaks for node %s, it is bound to node %s", peer->name,
                         peer->fingerprint, node_id, cached);
                return -EPERM;
        }

        r = store_binding_get(b->store, peer->fingerprint, &sb);
        if (r >= 0) {
                bool same = streq(sb.node_id, node_id);

                if (!same && !want) {
                        snprintf(why, why_size, "key '%s' (%s) speaks for node %s, it is bound to node %s",
                                 peer->name, peer->fingerprint, node_id, sb.node_id);
                        store_binding_done(&sb);
                        return -EPERM;
                }
                store_binding_done(&sb);
                if (same) {
                        remember(b, peer->fingerprint, node_id);
                        return 0;
                }
                /* the key file names another node than the store has: the file wins */
        } else if (r != -ENOENT)
                log_debug_errno(r, "Cannot read the binding of key %s: %m", peer->fingerprint);

        r = store_binding_of_node(b->store, node_id, &sb);
        if (r >= 0) {
                bool other = !streq(sb.key, peer->fingerprint);

                if (other)
                        snprintf(why, why_size,
                                 "key '%s' (%s) speaks for node %s, which is bound to key '%s' (%s): "
                                 "castlectl cluster key unbind %s forgets that",
                                 peer->name, peer->fingerprint, node_id, sb.name, sb.key, sb.key);
                store_binding_done(&sb);
                if (other)
                        return -EPERM;
        }

        r = store_binding_set(b->store, peer->fingerprint, peer->name, node_id, now);
        if (r == -EEXIST) {
                snprintf(why, why_size, "key '%s' (%s) speaks for node %s, which another key holds", peer->name,
                         peer->fingerprint, node_id);
                return -EPERM;
        }
        if (r < 0)
                log_warning_errno(r, "Cannot store the binding of key '%s' to node %s (it holds until a restart): %m",
                                  peer->name, node_id);
        remember(b, peer->fingerprint, node_id);
        if (r >= 0)
                log_info("Agent key '%s' (%s) is bound to node %s%s.", peer->name, peer->fingerprint, node_id,
                         want ? " by its key file" : "");
        return 1;
}
