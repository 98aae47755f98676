/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verdict rules. Each rule adds a reason; order of evaluation does not matter because
 * reasons are a set printed in code order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macro.h"
#include "common/strv.h"
#include "discovery/verdict.h"

/* ceph-disk partition type GUIDs (ceph-volume util/constants.py ceph_disk_guids). */
static const char *const ceph_disk_guids[] = {
        "01b41e1b-002a-453c-9f17-88793989ff8f", "166418da-c469-4022-adf4-b30afd37f176",
        "306e8683-4fe2-4330-b7c0-00a917c16966", "30cd0809-c2b2-499c-8879-2d6b78529876",
        "45b0969e-8ae0-4982-bf9d-5a8d867af560", "45b0969e-9b03-4f30-b4c6-35865ceff106",
        "45b0969e-9b03-4f30-b4c6-5ec00ceff106", "4fbd7e29-8ae0-4982-bf9d-5a8d867af560",
        "4fbd7e29-9d25-41b8-afd0-062c0ceff05d", "4fbd7e29-9d25-41b8-afd0-35865ceff05d",
        "4fbd7e29-9d25-41b8-afd0-5ec00ceff05d", "5ce17fce-4087-4169-b7ff-056cc58473f9",
        "7f4a666a-16f3-47a2-8445-152ef4d03f6c", "86a32090-3647-40b9-bbbd-38d8c573aa86",
        "93b0052d-02d9-4d8a-a43b-33a3ee4dfbc3", "cafecafe-8ae0-4982-bf9d-5a8d867af560",
        "cafecafe-9b03-4f30-b4c6-35865ceff106", "cafecafe-9b03-4f30-b4c6-5ec00ceff106",
        "cafecafe-9b03-4f30-b4c6-b4b80ceff106", "ec6d6385-e346-45dc-be91-da2a7c8b3261",
        "fb3aabf9-d25f-47cc-bf5e-721d1816496b",
};

bool verdict_is_ceph_disk_partition(const Device *part) {
        if (part->part_label && strstr(part->part_label, "ceph"))
                return true;
        for (size_t i = 0; part->part_type && i < ELEMENTSOF(ceph_disk_guids); i++)
                if (strcasecmp(part->part_type, ceph_disk_guids[i]) == 0)
                        return true;
        return false;
}

static bool type_is_acceptable(const Device *d, const VerdictOptions *o) {
        switch (d->type) {
        case DEVICE_TYPE_DISK:
        case DEVICE_TYPE_PART:
        case DEVICE_TYPE_LVM:
        case DEVICE_TYPE_MPATH:
                return true;
        case DEVICE_TYPE_LOOP:
                return o->allow_loop;
        default:
                return false;
        }
}

static bool has_label_at(const Device *d, bool at_zero) {
        for (size_t i = 0; i < d->n_label_offsets; i++)
                if ((d->label_offsets[i] == 0) == at_zero)
                        return true;
        return false;
}

/* ceph-volume: no VG the device (or one of its partitions) is in has more than 10 free extents. */
static void lvm_reasons(const Device *d, const DeviceList *all, ReasonSet *set) {
        bool in_vg = false, vg_has_space = false;
        const Device *members[1 + 256];
        size_t n = 0;

        members[n++] = d;
        STRV_FOREACH(p, d->partitions) {
                const Device *part = all ? device_list_find(all, *p) : NULL;
                if (part && n < ELEMENTSOF(members))
                        members[n++] = part;
        }
        for (size_t i = 0; i < n; i++) {
                const LvmFacts *f = members[i]->lvm;
                if (!f || isempty(f->vg_name))
                        continue;
                in_vg = true;
                if (f->vg_free_count > VERDICT_MIN_VG_FREE_EXTENTS)
                        vg_has_space = true;
        }
        if (in_vg) {
                *set |= REASON_BIT(REASON_LVM_DETECTED);
                if (!vg_has_space)
                        *set |= REASON_BIT(REASON_INSUFFICIENT_VG_SPACE);
        }
}

static bool holder_is(const DeviceList *all, const Device *d, DeviceType type) {
        STRV_FOREACH(h, d->holders) {
                const Device *hd = all ? device_list_find(all, *h) : NULL;
                if (hd && hd->type == type)
                        return true;
        }
        return false;
}

bool verdict_health_failing(const Device *d, const Device *parent) {
        return (d->health && d->health->verdict == HEALTH_FAILING) ||
               (parent && parent->health && parent->health->verdict == HEALTH_FAILING);
}

void verdict_apply_health(DeviceList *all) {
        for (size_t i = 0; i < all->n; i++) {
                Device *d = all->items[i];
                const Device *parent = d->parent ? device_list_find(all, d->parent) : NULL;

                if (verdict_health_failing(d, parent)) {
                        d->reasons |= REASON_BIT(REASON_HEALTH_FAILING);
                        d->available = false;
                }
        }
}

void verdict_evaluate(Device *d, const Device *parent, const DeviceList *all, const VerdictOptions *o) {
        ReasonSet set = 0;

        /* ceph-volume's generic checks */
        if (streq_ptr(d->id_bus, "usb"))
                set |= REASON_BIT(REASON_ID_BUS);
        if (d->read_only)
                set |= REASON_BIT(REASON_READ_ONLY);
        if (!type_is_acceptable(d, o))
                set |= REASON_BIT(REASON_DEVICE_TYPE_NOT_ACCEPTABLE);
        else if (d->size < VERDICT_MIN_SIZE)
                set |= REASON_BIT(REASON_INSUFFICIENT_SPACE);
        if (d->type == DEVICE_TYPE_PART ? verdict_is_ceph_disk_partition(d) : false)
                set |= REASON_BIT(REASON_USED_BY_CEPH_DISK);
        STRV_FOREACH(p, d->partitions) {
                const Device *part = all ? device_list_find(all, *p) : NULL;
                if (part && verdict_is_ceph_disk_partition(part))
                        set |= REASON_BIT(REASON_USED_BY_CEPH_DISK);
        }
        if (has_label_at(d, true))
                set |= REASON_BIT(REASON_HAS_BLUESTORE_LABEL);
        if (d->label_error < 0 || !d->probed)
                set |= REASON_BIT(REASON_BLUESTORE_LABEL_UNREADABLE);
        if (d->type == DEVICE_TYPE_PART && parent) {
                if (parent->n_label_offsets > 0)
                        set |= REASON_BIT(REASON_PARENT_HAS_BLUESTORE_LABEL);
                if (!parent->probed || parent->label_error < 0)
                        set |= REASON_BIT(REASON_PARENT_BLUESTORE_LABEL_UNREADABLE);
        }
        if (streq_ptr(d->pttype, "gpt"))
                set |= REASON_BIT(REASON_HAS_GPT_HEADERS);
        if (!strv_isempty(d->partitions))
                set |= REASON_BIT(REASON_HAS_PARTITIONS);
        if (d->n_signatures > 0)
                set |= REASON_BIT(REASON_HAS_FILESYSTEM);

        /* ceph-volume's LVM and raw checks; an LV that carries ceph.* tags belongs to an OSD */
        lvm_reasons(d, all, &set);
        for (size_t i = 0; d->type == DEVICE_TYPE_LVM && i < d->n_ceph; i++)
                if (streq_ptr(d->ceph[i].source, "lvm-tags"))
                        set |= REASON_BIT(REASON_LVM_DETECTED);

        /* castle's own */
        if (has_label_at(d, false))
                set |= REASON_BIT(REASON_BLUESTORE_LABEL_REPLICA);
        if (d->pttype && !streq(d->pttype, "gpt"))
                set |= REASON_BIT(REASON_HAS_PARTITION_TABLE);
        if (!strv_isempty(d->mountpoints))
                set |= REASON_BIT(REASON_MOUNTED);
        if (d->swap)
                set |= REASON_BIT(REASON_SWAP);
        if (d->os_disk)
                set |= REASON_BIT(REASON_OS_DISK);
        if (d->locked)
                set |= REASON_BIT(REASON_LOCKED);
        if (!strv_isempty(d->holders))
                set |= REASON_BIT(REASON_HAS_HOLDERS);
        if (holder_is(all, d, DEVICE_TYPE_MPATH) || streq_ptr(d->fs_type_udev, "mpath_member") ||
            device_has_signature(d, "mpath_member"))
                set |= REASON_BIT(REASON_MULTIPATH_MEMBER);
        if (holder_is(all, d, DEVICE_TYPE_MD) || device_has_signature(d, "linux_raid_member") ||
            device_has_signature(d, "isw_raid_member") || device_has_signature(d, "ddf_raid_member"))
                set |= REASON_BIT(REASON_RAID_MEMBER);
        if (!d->probed)
                set |= REASON_BIT(REASON_PROBE_FAILED);
        if (isempty(d->stable_id))
                set |= REASON_BIT(REASON_NO_STABLE_ID);
        if (verdict_health_failing(d, parent))
                set |= REASON_BIT(REASON_HEALTH_FAILING);

        d->reasons = set;
        d->available = set == 0;
}

/* What was found behind reason c, as "a, b", or NULL where the message says it all. */
static char *reason_detail(ReasonCode c, const Device *d, const DeviceList *all) {
        _cleanup_strv_free_ char **what = NULL;

        switch (c) {
        case REASON_HAS_FILESYSTEM:
                for (size_t i = 0; i < d->n_signatures; i++)
                        if (strv_extend_unique(&what, d->signatures[i].type ?: "unknown") < 0)
                                return NULL;
                break;
        case REASON_HAS_HOLDERS:
                STRV_FOREACH(h, d->holders) {
                        const Device *hd = all ? device_list_find(all, *h) : NULL;
                        char *one;

                        if (!hd || hd->type == DEVICE_TYPE_UNKNOWN)
                                one = strdup(*h);
                        else if (asprintf(&one, "%s: %s%s%s", *h, device_type_to_string(hd->type),
                                          hd->dm_name ? " " : "", strempty(hd->dm_name)) < 0)
                                one = NULL;
                        if (!one || strv_consume(&what, one) < 0)
                                return NULL;
                }
                break;
        case REASON_MOUNTED:
                what = strv_copy(d->mountpoints);
                break;
        case REASON_HEALTH_FAILING: {
                const Health *h = d->health && d->health->verdict == HEALTH_FAILING ? d->health : NULL;
                const Device *parent = !h && d->parent && all ? device_list_find(all, d->parent) : NULL;

                if (!h && parent)
                        h = parent->health;
                return h ? health_explain(h) : NULL;
        }
        case REASON_HAS_PARTITION_TABLE:
                /* dos, PMBR (a GPT's protective MBR whose headers are gone), atari, ... */
                if (d->pttype && strv_extend(&what, d->pttype) < 0)
                        return NULL;
                break;
        default:
                break;
        }
        return strv_isempty(what) ? NULL : strv_join(what, ", ");
}

char *verdict_explain(const Device *d, const DeviceList *all) {
        _cleanup_strv_free_ char **why = NULL;

        REASON_SET_FOREACH(c, d->reasons) {
                _cleanup_free_ char *detail = reason_detail(c, d, all);
                char *one;

                if (detail ? asprintf(&one, "%s (%s)", reason_message(c), detail) < 0
                           : !(one = strdup(reason_message(c))))
                        return NULL;
                if (strv_consume(&why, one) < 0)
                        return NULL;
        }
        return strv_join(why, "; ");
}
