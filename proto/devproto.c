/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device records of a scan (discovery/) as proto messages: what the agent reports and what
 * castlectl prints as JSON. Messages built here own every string and array through malloc, so
 * protobuf_c_message_free_unpacked() frees them; empty strings point at protobuf-c's shared
 * empty string, which it knows not to free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/macro.h"
#include "common/strv.h"
#include "proto/devproto.h"

static char *dup_str(const char *s, bool *oom) {
        char *c;

        if (isempty(s))
                return (char *) protobuf_c_empty_string;
        c = strdup(s);
        if (!c) {
                *oom = true;
                return (char *) protobuf_c_empty_string;
        }
        return c;
}

static char **dup_strv(char *const *l, size_t *ret_n, bool *oom) {
        size_t n = strv_length(l);
        char **a;

        *ret_n = 0;
        if (n == 0)
                return NULL;
        a = calloc(n, sizeof(char *));
        if (!a) {
                *oom = true;
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                a[i] = dup_str(l[i], oom);
        *ret_n = n;
        return a;
}

static void *new_array(size_t n, size_t size, bool *oom) {
        void *a;

        if (n == 0)
                return NULL;
        a = calloc(n, size);
        if (!a)
                *oom = true;
        return a;
}

static Castle__LvmFacts *lvm_to_proto(const LvmFacts *f, bool *oom) {
        Castle__LvmFacts *m;

        if (!f)
                return NULL;
        m = malloc(sizeof *m);
        if (!m) {
                *oom = true;
                return NULL;
        }
        castle__lvm_facts__init(m);
        m->pv_uuid = dup_str(f->pv_uuid, oom);
        m->vg_name = dup_str(f->vg_name, oom);
        m->vg_uuid = dup_str(f->vg_uuid, oom);
        m->vg_extent_count = f->vg_extent_count;
        m->vg_free_count = f->vg_free_count;
        m->lvs = new_array(f->n_lvs, sizeof(Castle__LogicalVolume *), oom);
        for (size_t i = 0; m->lvs && i < f->n_lvs; i++) {
                const LogicalVolume *lv = &f->lvs[i];
                Castle__LogicalVolume *v = malloc(sizeof *v);
                if (!v) {
                        *oom = true;
                        break;
                }
                castle__logical_volume__init(v);
                m->lvs[m->n_lvs++] = v;
                v->name = dup_str(lv->name, oom);
                v->vg_name = dup_str(lv->vg_name, oom);
                v->path = dup_str(lv->path, oom);
                v->uuid = dup_str(lv->uuid, oom);
                v->size = lv->size;
                v->tags = new_array(lv->n_tags, sizeof(Castle__LogicalVolume__Tag *), oom);
                for (size_t j = 0; v->tags && j < lv->n_tags; j++) {
                        Castle__LogicalVolume__Tag *t = malloc(sizeof *t);
                        if (!t) {
                                *oom = true;
                                break;
                        }
                        castle__logical_volume__tag__init(t);
                        v->tags[v->n_tags++] = t;
                        t->key = dup_str(lv->tags[j].key, oom);
                        t->value = dup_str(lv->tags[j].value, oom);
                }
        }
        return m;
}

static Castle__DeviceHealth *health_to_proto(const Health *h, bool *oom) {
        Castle__DeviceHealth *m;

        if (!h)
                return NULL;
        m = malloc(sizeof *m);
        if (!m) {
                *oom = true;
                return NULL;
        }
        castle__device_health__init(m);
        m->verdict = (Castle__DeviceHealth__Verdict) h->verdict;
        m->reasons = dup_strv(h->reasons, &m->n_reasons, oom);
        m->source = dup_str(h->source, oom);
        m->checked_usec = h->checked_usec;
        m->error = dup_str(h->error, oom);
        m->critical_warning = h->critical_warning;
        m->media_errors = h->media_errors;
        m->percent_used = h->percent_used;
        m->available_spare = h->available_spare;
        m->spare_threshold = h->spare_threshold;
        m->temperature_celsius = h->temperature_celsius;
        m->power_on_hours = h->power_on_hours;
        m->reallocated_sectors = h->reallocated_sectors;
        m->pending_sectors = h->pending_sectors;
        m->offline_uncorrectable = h->offline_uncorrectable;
        m->grown_defects = h->grown_defects;
        m->uncorrected_errors = h->uncorrected_errors;
        m->smart_passed = h->smart_passed;
        m->smartctl_exit_status = h->smartctl_exit_status;
        return m;
}

static void fill_device(Castle__Device *m, const Device *d, bool *oom) {
        size_t n;

        m->stable_id = dup_str(d->stable_id, oom);
        m->kname = dup_str(d->kname, oom);
        m->path = dup_str(d->path, oom);
        m->links = dup_strv(d->links, &m->n_links, oom);
        m->major = major(d->devnum);
        m->minor = minor(d->devnum);
        m->type = (Castle__Device__Type) d->type;
        m->transport = (Castle__Device__Transport) d->transport;
        m->size = d->size;
        m->rotational = d->rotational;
        m->read_only = d->read_only;
        m->removable = d->removable;
        m->logical_sector_size = d->logical_sector_size;
        m->physical_sector_size = d->physical_sector_size;
        m->vendor = dup_str(d->vendor, oom);
        m->model = dup_str(d->model, oom);
        m->serial = dup_str(d->serial, oom);
        m->wwn = dup_str(d->wwn, oom);
        m->revision = dup_str(d->revision, oom);
        m->sas_address = dup_str(d->sas_address, oom);
        m->id_bus = dup_str(d->id_bus, oom);
        m->device_id = dup_str(d->device_id, oom);
        m->parent = dup_str(d->parent, oom);
        m->partition_number = d->partition_number;
        m->partition_uuid = dup_str(d->part_uuid, oom);
        m->partition_label = dup_str(d->part_label, oom);
        m->partition_type = dup_str(d->part_type, oom);
        m->partitions = dup_strv(d->partitions, &m->n_partitions, oom);
        m->holders = dup_strv(d->holders, &m->n_holders, oom);
        m->slaves = dup_strv(d->slaves, &m->n_slaves, oom);
        m->dm_name = dup_str(d->dm_name, oom);
        m->dm_uuid = dup_str(d->dm_uuid, oom);
        m->mountpoints = dup_strv(d->mountpoints, &m->n_mountpoints, oom);
        m->swap = d->swap;
        m->partition_table = dup_str(d->pttype, oom);
        m->partition_table_uuid = dup_str(d->ptuuid, oom);
        m->id_serial = dup_str(d->id_serial, oom);

        m->signatures = new_array(d->n_signatures, sizeof(Castle__Signature *), oom);
        for (size_t i = 0; m->signatures && i < d->n_signatures; i++) {
                Castle__Signature *s = malloc(sizeof *s);
                if (!s) {
                        *oom = true;
                        break;
                }
                castle__signature__init(s);
                m->signatures[m->n_signatures++] = s;
                s->type = dup_str(d->signatures[i].type, oom);
                s->usage = dup_str(d->signatures[i].usage, oom);
                s->uuid = dup_str(d->signatures[i].uuid, oom);
                s->label = dup_str(d->signatures[i].label, oom);
                s->version = dup_str(d->signatures[i].version, oom);
        }

        m->bluestore_label_offsets = new_array(d->n_label_offsets, sizeof(uint64_t), oom);
        if (m->bluestore_label_offsets) {
                memcpy(m->bluestore_label_offsets, d->label_offsets, d->n_label_offsets * sizeof(uint64_t));
                m->n_bluestore_label_offsets = d->n_label_offsets;
        }

        m->lvm = lvm_to_proto(d->lvm, oom);

        m->ceph = new_array(d->n_ceph, sizeof(Castle__CephFacts *), oom);
        for (size_t i = 0; m->ceph && i < d->n_ceph; i++) {
                Castle__CephFacts *c = malloc(sizeof *c);
                if (!c) {
                        *oom = true;
                        break;
                }
                castle__ceph_facts__init(c);
                m->ceph[m->n_ceph++] = c;
                c->source = dup_str(d->ceph[i].source, oom);
                c->osd_uuid = dup_str(d->ceph[i].osd_uuid, oom);
                c->osd_id = d->ceph[i].osd_id;
                c->cluster_fsid = dup_str(d->ceph[i].cluster_fsid, oom);
                c->type = dup_str(d->ceph[i].type, oom);
                c->lv_path = dup_str(d->ceph[i].lv_path, oom);
                c->osdspec_affinity = dup_str(d->ceph[i].osdspec_affinity, oom);
        }

        m->queue = malloc(sizeof *m->queue);
        if (m->queue) {
                castle__queue_facts__init(m->queue);
                m->queue->nr_requests = d->nr_requests;
                m->queue->scheduler = dup_str(d->scheduler, oom);
                m->queue->discard_granularity = d->discard_granularity;
                m->queue->optimal_io_size = d->optimal_io_size;
        } else
                *oom = true;

        m->health = health_to_proto(d->health, oom);
        m->available = d->available;
        n = 0;
        REASON_SET_FOREACH(c, d->reasons)
                n++;
        m->reasons = new_array(n, sizeof(Castle__Reason *), oom);
        REASON_SET_FOREACH(c, d->reasons) {
                Castle__Reason *r;
                if (!m->reasons)
                        break;
                r = malloc(sizeof *r);
                if (!r) {
                        *oom = true;
                        break;
                }
                castle__reason__init(r);
                m->reasons[m->n_reasons++] = r;
                r->code = (Castle__Reason__Code) c;
                if (c == REASON_HEALTH_FAILING && d->health && !strv_isempty(d->health->reasons)) {
                        _cleanup_free_ char *why = strv_join(d->health->reasons, "; ");
                        if (!why || asprintf(&r->message, "%s: %s", reason_message(c), why) < 0) {
                                r->message = (char *) protobuf_c_empty_string;
                                *oom = true;
                        }
                } else
                        r->message = dup_str(reason_message(c), oom);
        }
        m->probe_error = dup_str(d->probe_error < 0 ? (d->probe_error_msg ?: strerror(-d->probe_error)) : NULL, oom);
}

int devproto_device_new(const Device *d, Castle__Device **ret) {
        Castle__Device *m = malloc(sizeof *m);
        bool oom = false;

        if (!m)
                return -ENOMEM;
        castle__device__init(m);
        fill_device(m, d, &oom);
        if (oom) {
                devproto_device_free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

void devproto_device_free(Castle__Device *m) {
        if (m)
                protobuf_c_message_free_unpacked(&m->base, NULL);
}

int devproto_inventory_new(const ScanResult *scan, Device *const *devices, size_t n, const char *hostname,
                           const char *sysroot, Castle__Inventory **ret) {
        Castle__Inventory *m = malloc(sizeof *m);
        bool oom = false;
        int r = 0;

        if (!m)
                return -ENOMEM;
        castle__inventory__init(m);
        m->hostname = dup_str(hostname, &oom);
        m->scan = malloc(sizeof *m->scan);
        if (m->scan) {
                castle__scan_info__init(m->scan);
                m->scan->duration_usec = scan->duration_usec;
                m->scan->devices_seen = (uint32_t) scan->devices->n;
                m->scan->devices_failed = scan->n_failed;
                m->scan->lvm = dup_str(scan->lvm_status, &oom);
                m->scan->sysroot = dup_str(sysroot, &oom);
                m->scan->castle_version = dup_str(PACKAGE_VERSION, &oom);
        } else
                oom = true;
        m->devices = new_array(n, sizeof(Castle__Device *), &oom);
        for (size_t i = 0; m->devices && i < n && r >= 0; i++) {
                r = devproto_device_new(devices[i], &m->devices[i]);
                if (r >= 0)
                        m->n_devices++;
        }
        if (oom || r < 0) {
                devproto_inventory_free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

void devproto_inventory_free(Castle__Inventory *m) {
        if (m)
                protobuf_c_message_free_unpacked(&m->base, NULL);
}
