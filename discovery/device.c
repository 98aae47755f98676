/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device record lifetime and small accessors. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/strv.h"
#include "discovery/device.h"

static const char *const type_names[_DEVICE_TYPE_MAX] = {
        [DEVICE_TYPE_UNKNOWN] = "unknown", [DEVICE_TYPE_DISK] = "disk", [DEVICE_TYPE_PART] = "part",
        [DEVICE_TYPE_LVM] = "lvm",         [DEVICE_TYPE_CRYPT] = "crypt", [DEVICE_TYPE_MPATH] = "mpath",
        [DEVICE_TYPE_MD] = "md",           [DEVICE_TYPE_LOOP] = "loop", [DEVICE_TYPE_ROM] = "rom",
        [DEVICE_TYPE_DM] = "dm",
};

static const char *const transport_names[_TRANSPORT_MAX] = {
        [TRANSPORT_UNKNOWN] = "unknown", [TRANSPORT_NVME] = "nvme", [TRANSPORT_SATA] = "sata",
        [TRANSPORT_SAS] = "sas",         [TRANSPORT_SCSI] = "scsi", [TRANSPORT_VIRTIO] = "virtio",
        [TRANSPORT_USB] = "usb",         [TRANSPORT_MMC] = "mmc",   [TRANSPORT_ATA] = "ata",
        [TRANSPORT_VIRTUAL] = "virtual",
};

const char *device_type_to_string(DeviceType t) {
        return t < _DEVICE_TYPE_MAX ? type_names[t] : "unknown";
}

DeviceType device_type_from_string(const char *s) {
        for (DeviceType t = 0; t < _DEVICE_TYPE_MAX; t++)
                if (streq(type_names[t], s))
                        return t;
        return DEVICE_TYPE_UNKNOWN;
}

const char *transport_to_string(Transport t) {
        return t < _TRANSPORT_MAX ? transport_names[t] : "unknown";
}

Transport transport_from_string(const char *s) {
        for (Transport t = 0; t < _TRANSPORT_MAX; t++)
                if (strcasecmp(transport_names[t], s) == 0)
                        return t;
        return _TRANSPORT_MAX;
}

Device *device_new(const char *kname) {
        Device *d = calloc(1, sizeof(Device));

        if (!d)
                return NULL;
        d->kname = strdup(kname);
        if (!d->kname)
                return device_free(d);
        return d;
}

static void signature_done(Signature *s) {
        free(s->type);
        free(s->usage);
        free(s->uuid);
        free(s->label);
        free(s->version);
}

static void lvm_facts_free(LvmFacts *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n_lvs; i++) {
                LogicalVolume *lv = &f->lvs[i];
                for (size_t j = 0; j < lv->n_tags; j++) {
                        free(lv->tags[j].key);
                        free(lv->tags[j].value);
                }
                free(lv->tags);
                free(lv->name);
                free(lv->vg_name);
                free(lv->path);
                free(lv->uuid);
        }
        free(f->lvs);
        free(f->pv_uuid);
        free(f->vg_name);
        free(f->vg_uuid);
        free(f);
}

static void ceph_facts_done(CephFacts *c) {
        free(c->source);
        free(c->osd_uuid);
        free(c->cluster_fsid);
        free(c->type);
        free(c->lv_path);
        free(c->osdspec_affinity);
}

Device *device_free(Device *d) {
        if (!d)
                return NULL;
        health_free(d->health);
        free(d->kname);
        free(d->path);
        strv_free(d->links);
        free(d->syspath);
        free(d->devtype);
        free(d->vendor);
        free(d->model);
        free(d->serial);
        free(d->wwn);
        free(d->id_bus);
        free(d->id_path);
        free(d->scsi_serial);
        free(d->id_serial);
        free(d->revision);
        free(d->sas_address);
        free(d->fs_type_udev);
        free(d->pttype_udev);
        free(d->scheduler);
        free(d->parent);
        free(d->part_uuid);
        free(d->part_label);
        free(d->part_type);
        strv_free(d->partitions);
        strv_free(d->holders);
        strv_free(d->slaves);
        free(d->dm_name);
        free(d->dm_uuid);
        free(d->loop_backing_file);
        free(d->stable_id);
        free(d->device_id);
        strv_free(d->mountpoints);
        free(d->probe_error_msg);
        for (size_t i = 0; i < d->n_signatures; i++)
                signature_done(&d->signatures[i]);
        free(d->signatures);
        free(d->pttype);
        free(d->ptuuid);
        lvm_facts_free(d->lvm);
        for (size_t i = 0; i < d->n_ceph; i++)
                ceph_facts_done(&d->ceph[i]);
        free(d->ceph);
        free(d);
        return NULL;
}

void device_freep(Device **d) {
        device_free(*d);
}

bool device_has_signature(const Device *d, const char *type) {
        for (size_t i = 0; i < d->n_signatures; i++)
                if (streq_ptr(d->signatures[i].type, type))
                        return true;
        return false;
}

const char *device_fs_type(const Device *d) {
        return d->n_signatures > 0 ? d->signatures[0].type : NULL;
}

static char *strdup_or_null(const char *s, bool *oom) {
        char *c;

        if (!s)
                return NULL;
        c = strdup(s);
        if (!c)
                *oom = true;
        return c;
}

int device_add_signature(Device *d, const char *type, const char *usage, const char *uuid,
                         const char *label, const char *version) {
        Signature *s;
        bool oom = false;

        if (d->n_signatures >= 64) /* one device cannot carry more; a bound for hostile data */
                return -E2BIG;
        s = reallocarray(d->signatures, d->n_signatures + 1, sizeof(Signature));
        if (!s)
                return -ENOMEM;
        d->signatures = s;
        s = &d->signatures[d->n_signatures];
        *s = (Signature) {
                .type = strdup_or_null(type, &oom),
                .usage = strdup_or_null(usage, &oom),
                .uuid = strdup_or_null(uuid, &oom),
                .label = strdup_or_null(label, &oom),
                .version = strdup_or_null(version, &oom),
        };
        if (oom) {
                signature_done(s);
                return -ENOMEM;
        }
        d->n_signatures++;
        return 0;
}

int device_add_ceph(Device *d, const CephFacts *f) {
        CephFacts *c;
        bool oom = false;

        c = reallocarray(d->ceph, d->n_ceph + 1, sizeof(CephFacts));
        if (!c)
                return -ENOMEM;
        d->ceph = c;
        c = &d->ceph[d->n_ceph];
        *c = (CephFacts) {
                .source = strdup_or_null(f->source, &oom),
                .osd_uuid = strdup_or_null(f->osd_uuid, &oom),
                .osd_id = f->osd_id,
                .cluster_fsid = strdup_or_null(f->cluster_fsid, &oom),
                .type = strdup_or_null(f->type, &oom),
                .lv_path = strdup_or_null(f->lv_path, &oom),
                .osdspec_affinity = strdup_or_null(f->osdspec_affinity, &oom),
        };
        if (oom) {
                ceph_facts_done(c);
                return -ENOMEM;
        }
        d->n_ceph++;
        return 0;
}

int device_copy_content(Device *d, const Device *src) {
        int r;

        for (size_t i = 0; i < src->n_signatures; i++) {
                const Signature *g = &src->signatures[i];
                r = device_add_signature(d, g->type, g->usage, g->uuid, g->label, g->version);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < src->n_ceph; i++)
                if (streq_ptr(src->ceph[i].source, "bluestore-label")) {
                        r = device_add_ceph(d, &src->ceph[i]);
                        if (r < 0)
                                return r;
                }
        if (src->pttype && !(d->pttype = strdup(src->pttype)))
                return -ENOMEM;
        if (src->ptuuid && !(d->ptuuid = strdup(src->ptuuid)))
                return -ENOMEM;
        memcpy(d->label_offsets, src->label_offsets, sizeof d->label_offsets);
        d->n_label_offsets = src->n_label_offsets;
        d->label_error = src->label_error;
        d->locked = src->locked;
        d->probed = src->probed;
        return 0;
}

DeviceList *device_list_new(void) {
        return calloc(1, sizeof(DeviceList));
}

DeviceList *device_list_free(DeviceList *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                device_free(l->items[i]);
        free(l->items);
        free(l);
        return NULL;
}

void device_list_freep(DeviceList **l) {
        device_list_free(*l);
}

int device_list_add(DeviceList *l, Device *d) {
        Device **n = reallocarray(l->items, l->n + 1, sizeof(Device *));

        if (!n) {
                device_free(d);
                return -ENOMEM;
        }
        l->items = n;
        l->items[l->n++] = d;
        return 0;
}

Device *device_list_find(const DeviceList *l, const char *kname) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i]->kname, kname))
                        return l->items[i];
        return NULL;
}

Device *device_list_find_devnum(const DeviceList *l, dev_t devnum) {
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i]->devnum == devnum)
                        return l->items[i];
        return NULL;
}
