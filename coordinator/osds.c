/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `castlectl cluster osds` on the coordinator: what each agent last said of its OSDs (kept in
 * memory by ingest), joined with the stored inventory for the health of each OSD's disk. A node
 * is one reply part, so that no message grows with the fleet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/strv.h"
#include "coordinator/osds.h"

/* Partition -> disk, LV or dm-crypt -> the device under it: hops from an OSD's device to the
 * disk whose health counts. */
#define HEALTH_HOPS 4

typedef struct NodeDevices {
        Castle__Device **v;
        size_t n;
} NodeDevices;

static void node_devices_done(NodeDevices *d) {
        for (size_t i = 0; i < d->n; i++)
                castle__device__free_unpacked(d->v[i], NULL);
        free(d->v);
        *d = (NodeDevices) {};
}

static int collect_device(const char *node_id, const uint8_t *data, size_t size, void *userdata) {
        NodeDevices *d = userdata;
        Castle__Device *dev, **v;

        (void) node_id;
        dev = castle__device__unpack(NULL, size, data);
        if (!dev)
                return 0; /* a row we cannot read has no health to give */
        v = realloc(d->v, (d->n + 1) * sizeof *v);
        if (!v) {
                castle__device__free_unpacked(dev, NULL);
                return -ENOMEM;
        }
        d->v = v;
        d->v[d->n++] = dev;
        return 0;
}

static const Castle__Device *find_device(const NodeDevices *d, const char *stable_id, const char *kname) {
        for (size_t i = 0; i < d->n; i++)
                if ((stable_id && streq(d->v[i]->stable_id, stable_id)) || (kname && streq(d->v[i]->kname, kname)))
                        return d->v[i];
        return NULL;
}

/* The health of the disk under the OSD's device: its own (a whole disk), else its parent's (a
 * partition), else the first of its slaves' (an LV, a LUKS volume), a few hops at most. */
static Castle__DeviceHealth *osd_health(const NodeDevices *d, const Castle__OsdState *o) {
        const Castle__Device *dev = isempty(o->device) ? NULL : find_device(d, o->device, NULL);

        for (unsigned hop = 0; dev && hop < HEALTH_HOPS; hop++) {
                if (dev->health)
                        return dev->health;
                if (!isempty(dev->parent))
                        dev = find_device(d, NULL, dev->parent);
                else if (dev->n_slaves > 0)
                        dev = find_device(d, NULL, dev->slaves[0]);
                else
                        break;
        }
        return NULL;
}

static Castle__OsdRemoval *find_removal(const Castle__Heartbeat *h, int32_t id) {
        for (size_t i = 0; i < h->n_removals; i++)
                if (h->removals[i]->osd_id == id)
                        return h->removals[i];
        return NULL;
}

static bool osd_listed(const Castle__Heartbeat *h, int32_t id) {
        for (size_t i = 0; i < h->n_osds; i++)
                if (h->osds[i]->osd_id == id)
                        return true;
        return false;
}

/* One node's OSDs as a reply part. */
static int send_node(Store *store, NodeRuntime *n, OsdsSendFunc send, void *userdata) {
        _cleanup_(node_devices_done) NodeDevices devices = {};
        const Castle__Heartbeat *h = n->osd_report;
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        DeviceQuery dq = DEVICE_QUERY_INIT;
        _cleanup_free_ Castle__ClusterOsd *items = NULL;
        _cleanup_free_ Castle__ClusterOsd **ptrs = NULL;
        int k;

        if (!h || h->n_osds == 0)
                return 0;
        dq.node_id = n->node_id;
        /* Without the inventory the OSDs are still worth listing: their health is unknown. */
        k = store_query_devices(store, &dq, collect_device, &devices);
        if (k == -ENOMEM)
                return k;
        items = calloc(h->n_osds, sizeof *items);
        ptrs = calloc(h->n_osds, sizeof *ptrs);
        if (!items || !ptrs)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_osds; i++) {
                castle__cluster_osd__init(&items[i]);
                items[i].node_id = n->node_id;
                items[i].hostname = n->hostname ?: (char *) "";
                items[i].osd = h->osds[i];
                items[i].health = osd_health(&devices, h->osds[i]);
                items[i].removal = find_removal(h, h->osds[i]->osd_id);
                ptrs[i] = &items[i];
        }
        r.osds = ptrs;
        r.n_osds = h->n_osds;
        send(&r, userdata);
        return 0;
}

typedef struct Tail {
        Castle__ClusterOsd *removals;
        Castle__OsdState *removed; /* the unlisted OSDs' ids, one per removal */
        Castle__ClusterOsd **removal_ptrs;
        size_t n_removals;
        Castle__ClusterReservation *reservations;
        Castle__ClusterReservation **reservation_ptrs;
        size_t n_reservations;
} Tail;

static void tail_done(Tail *t) {
        free(t->removals);
        free(t->removed);
        free(t->removal_ptrs);
        free(t->reservations);
        free(t->reservation_ptrs);
}

/* Room for the node's removals and reservations in the last part. */
static int tail_grow(Tail *t, const Castle__Heartbeat *h) {
        size_t nr = t->n_removals + h->n_removals, nv = t->n_reservations + h->n_reservations;
        void *p;

        if (!(p = realloc(t->removals, MAX(nr, 1U) * sizeof *t->removals)))
                return -ENOMEM;
        t->removals = p;
        if (!(p = realloc(t->removed, MAX(nr, 1U) * sizeof *t->removed)))
                return -ENOMEM;
        t->removed = p;
        if (!(p = realloc(t->removal_ptrs, MAX(nr, 1U) * sizeof *t->removal_ptrs)))
                return -ENOMEM;
        t->removal_ptrs = p;
        if (!(p = realloc(t->reservations, MAX(nv, 1U) * sizeof *t->reservations)))
                return -ENOMEM;
        t->reservations = p;
        if (!(p = realloc(t->reservation_ptrs, MAX(nv, 1U) * sizeof *t->reservation_ptrs)))
                return -ENOMEM;
        t->reservation_ptrs = p;
        return 0;
}

static int tail_add(Tail *t, NodeRuntime *n) {
        const Castle__Heartbeat *h = n->osd_report;
        char *hostname = n->hostname ?: (char *) "";
        int k;

        if (!h || (h->n_removals == 0 && h->n_reservations == 0))
                return 0;
        k = tail_grow(t, h);
        if (k < 0)
                return k;
        for (size_t i = 0; i < h->n_removals; i++) {
                Castle__OsdRemoval *rm = h->removals[i];
                size_t j = t->n_removals;

                if (osd_listed(h, rm->osd_id))
                        continue;
                castle__osd_state__init(&t->removed[j]);
                t->removed[j].osd_id = rm->osd_id;
                t->removed[j].device = rm->device;
                castle__cluster_osd__init(&t->removals[j]);
                t->removals[j].node_id = n->node_id;
                t->removals[j].hostname = hostname;
                t->removals[j].removal = rm;
                t->n_removals++;
        }
        for (size_t i = 0; i < h->n_reservations; i++) {
                Castle__ClusterReservation *c = &t->reservations[t->n_reservations++];

                castle__cluster_reservation__init(c);
                c->node_id = n->node_id;
                c->hostname = hostname;
                c->reservation = h->reservations[i];
        }
        return 0;
}

int osds_answer(Store *store, Nodes *nodes, const Castle__OsdList *l, OsdsSendFunc send, void *userdata) {
        const char *only = l && !isempty(l->node_id) ? l->node_id : NULL;
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        _cleanup_(tail_done) Tail t = {};
        NodeRuntime *n;
        int k;

        if (only && !nodes_get(nodes, only))
                return -ENOENT;
        /* The tail first: an error is then found before any part went out. */
        for (n = nodes_next(nodes, NULL); n; n = nodes_next(nodes, n))
                if (!only || streq(n->node_id, only)) {
                        k = tail_add(&t, n);
                        if (k < 0)
                                return k;
                }
        for (n = nodes_next(nodes, NULL); n; n = nodes_next(nodes, n))
                if (!only || streq(n->node_id, only)) {
                        k = send_node(store, n, send, userdata);
                        if (k < 0)
                                return k;
                }
        for (size_t i = 0; i < t.n_removals; i++) {
                t.removals[i].osd = &t.removed[i]; /* now that the arrays no longer move */
                t.removal_ptrs[i] = &t.removals[i];
        }
        for (size_t i = 0; i < t.n_reservations; i++)
                t.reservation_ptrs[i] = &t.reservations[i];
        r.removals = t.removal_ptrs;
        r.n_removals = t.n_removals;
        r.reservations = t.reservation_ptrs;
        r.n_reservations = t.n_reservations;
        r.last = true;
        send(&r, userdata);
        return 0;
}
