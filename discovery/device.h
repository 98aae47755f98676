/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device record: everything discovery learns about one block device, and its verdict.
 * A plain struct on purpose: identity, verdict, filters and the codec all read it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "discovery/health.h"
#include "discovery/reason.h"

typedef enum DeviceType {
        DEVICE_TYPE_UNKNOWN,
        DEVICE_TYPE_DISK,
        DEVICE_TYPE_PART,
        DEVICE_TYPE_LVM,
        DEVICE_TYPE_CRYPT,
        DEVICE_TYPE_MPATH,
        DEVICE_TYPE_MD,
        DEVICE_TYPE_LOOP,
        DEVICE_TYPE_ROM,
        DEVICE_TYPE_DM,
        _DEVICE_TYPE_MAX,
} DeviceType;

typedef enum Transport {
        TRANSPORT_UNKNOWN,
        TRANSPORT_NVME,
        TRANSPORT_SATA,
        TRANSPORT_SAS,
        TRANSPORT_SCSI,
        TRANSPORT_VIRTIO,
        TRANSPORT_USB,
        TRANSPORT_MMC,
        TRANSPORT_ATA,
        TRANSPORT_VIRTUAL,
        _TRANSPORT_MAX,
} Transport;

typedef struct Signature {
        char *type, *usage, *uuid, *label, *version;
} Signature;

typedef struct LvmTag {
        char *key, *value;
} LvmTag;

typedef struct LogicalVolume {
        char *name, *vg_name, *path, *uuid;
        uint64_t size;
        LvmTag *tags;
        size_t n_tags;
} LogicalVolume;

typedef struct LvmFacts {
        char *pv_uuid, *vg_name, *vg_uuid;
        uint64_t vg_extent_size;        /* bytes; 0: not reported */
        uint64_t vg_extent_count, vg_free_count;
        LogicalVolume *lvs;
        size_t n_lvs;
} LvmFacts;

typedef struct CephFacts {
        char *source;           /* "bluestore-label" or "lvm-tags" */
        char *osd_uuid;
        int osd_id;             /* -1: unknown */
        char *cluster_fsid;
        char *type;             /* block, db, wal */
        char *lv_path;
        char *osdspec_affinity; /* the OSD spec that made it (label meta or LV tag); NULL: none */
} CephFacts;

/* Where a BlueStore label may sit: offset 0, and since Ceph 19 copies at 1, 10, 100 and
 * 1000 GiB where the device reaches that far. */
#define BLUESTORE_LABEL_OFFSETS_MAX 5

typedef struct Device {
        /* names */
        char *kname;
        char *path;
        char **links;
        dev_t devnum;
        char *syspath;          /* relative to the sysfs root: "sys/class/block/<kname>" */

        /* udev database */
        char *devtype;          /* DEVTYPE: disk, partition */
        char *vendor, *model, *serial, *wwn, *id_bus, *id_path, *scsi_serial, *id_serial;
        char *revision, *sas_address;
        char *fs_type_udev;     /* what udev's blkid saw: used when we cannot probe ourselves */
        char *pttype_udev;

        /* sysfs */
        uint64_t size;
        unsigned logical_sector_size, physical_sector_size;
        bool rotational, read_only, removable;
        unsigned nr_requests;
        char *scheduler;
        uint64_t discard_granularity, optimal_io_size;
        char *parent;           /* partitions: kname of the whole disk */
        unsigned partition_number;
        char *part_uuid, *part_label, *part_type;
        char **partitions, **holders, **slaves;
        char *dm_name, *dm_uuid;
        char *loop_backing_file;
        bool is_md;

        /* classification */
        DeviceType type;
        Transport transport;
        char *stable_id;
        char *device_id;        /* ceph-volume compatible */

        /* host state */
        char **mountpoints;
        bool swap;
        bool os_disk;

        /* content, from our own probe */
        bool probed;            /* content facts below are valid */
        int probe_error;        /* -errno when the probe failed */
        char *probe_error_msg;
        uint64_t probe_usec;    /* how long this scan's own probe took (0: none ran); for metrics */
        Signature *signatures;
        size_t n_signatures;
        char *pttype;
        char *ptuuid;           /* PTUUID: GPT disk GUID, DOS disk id */
        uint64_t label_offsets[BLUESTORE_LABEL_OFFSETS_MAX];
        size_t n_label_offsets;
        int label_error;        /* -errno: a label location could not be read */
        bool locked;            /* O_EXCL open failed with EBUSY */

        /* LVM and Ceph */
        LvmFacts *lvm;
        CephFacts *ceph;
        size_t n_ceph;

        /* health: whole disks only, read by health_read() when asked (NULL: not read) */
        Health *health;

        /* verdict */
        bool available;
        ReasonSet reasons;
} Device;

Device *device_new(const char *kname);
Device *device_free(Device *d);
void device_freep(Device **d);

const char *device_type_to_string(DeviceType t);
DeviceType device_type_from_string(const char *s);
const char *transport_to_string(Transport t);
/* Case-insensitive; _TRANSPORT_MAX for an unknown name. */
Transport transport_from_string(const char *s);

bool device_has_signature(const Device *d, const char *type);
/* True if a BlueStore label sits at offset 0, where an OSD's is; a copy found only at a replica
 * offset is a remnant, not an OSD. */
static inline bool device_has_label_at_start(const Device *d) {
        return d->n_label_offsets > 0 && d->label_offsets[0] == 0;
}

/* The main content type of the device, or NULL: the first signature's TYPE. */
const char *device_fs_type(const Device *d);
int device_add_signature(Device *d, const char *type, const char *usage, const char *uuid,
                         const char *label, const char *version);
int device_add_ceph(Device *d, const CephFacts *f);
/* Copies what a content probe learns (signatures, partition table, labels, lock state, Ceph
 * facts from the label) from src into d, which has none yet. */
int device_copy_content(Device *d, const Device *src);

/* The set of devices one scan found, in enumeration order (disks before their partitions). */
typedef struct DeviceList {
        Device **items;
        size_t n;
} DeviceList;

DeviceList *device_list_new(void);
DeviceList *device_list_free(DeviceList *l);
void device_list_freep(DeviceList **l);
int device_list_add(DeviceList *l, Device *d);  /* takes ownership, also on failure */
Device *device_list_find(const DeviceList *l, const char *kname);
Device *device_list_find_devnum(const DeviceList *l, dev_t devnum);
