/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rook's local-device-<node> ConfigMaps from the coordinator's records. Every field follows
 * how rook-discover fills it (pkg/clusterd/disk.go, pkg/daemon/discover/discover.go): udev's
 * spelling of vendor, model and serial, lsblk's TYPE names, the last component of the mount
 * point, "Partitions" with Go's field names and null when there are none. Key order is the
 * Go struct's, so the string diffs cleanly against one rook-discover wrote. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cvformat.h"
#include "cli/rook.h"
#include "common/macro.h"
#include "common/strv.h"

#define ROOK_CM_FORMAT_PREFIX "local-device-"
#define DNS1035_LABEL_MAX 63

int rook_config_map_name(const char *node, char **ret) {
        unsigned char h[crypto_hash_sha256_BYTES];
        char hex[2 * 16 + 1];
        char *s;

        if (strlen(ROOK_CM_FORMAT_PREFIX) + strlen(node) <= DNS1035_LABEL_MAX) {
                if (asprintf(&s, ROOK_CM_FORMAT_PREFIX "%s", node) < 0)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        if (sodium_init() < 0)
                return -EIO;
        crypto_hash_sha256(h, (const unsigned char *) node, strlen(node));
        sodium_bin2hex(hex, sizeof hex, h, 16);
        if (asprintf(&s, ROOK_CM_FORMAT_PREFIX "%s", hex) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* lsblk's TYPE for the device types Rook accepts (clusterd.supportedDeviceType), NULL for
 * the ones rook-discover leaves out (md RAID, rom, other device-mapper targets). Loop
 * devices reach the coordinator only from an agent with allow-loop, castle's counterpart of
 * Rook's CEPH_VOLUME_ALLOW_LOOP_DEVICES, so they are kept. */
static const char *rook_type(Castle__Device__Type t) {
        switch (t) {
        case CASTLE__DEVICE__TYPE__DISK:
                return "disk";
        case CASTLE__DEVICE__TYPE__PART:
                return "part";
        case CASTLE__DEVICE__TYPE__LVM:
                return "lvm";
        case CASTLE__DEVICE__TYPE__CRYPT:
                return "crypt";
        case CASTLE__DEVICE__TYPE__MPATH:
                return "mpath";
        case CASTLE__DEVICE__TYPE__LOOP:
                return "loop";
        default:
                return NULL;
        }
}

/* rook-discover skips rbd devices by name: ^rbd[0-9]+p?[0-9]*$ */
static bool is_rbd(const char *kname) {
        const char *p = startswith(kname, "rbd");

        if (!p || *p < '0' || *p > '9')
                return false;
        while (*p >= '0' && *p <= '9')
                p++;
        if (*p == 'p')
                p++;
        while (*p >= '0' && *p <= '9')
                p++;
        return *p == 0;
}

/* udev's ID_VENDOR/ID_MODEL spelling of a decoded string: blanks trimmed, each run of
 * blanks one '_', anything outside udev's allowed set '_' (udev_replace_whitespace and
 * udev_replace_chars); bytes of UTF-8 sequences stay. */
static char *udev_spelling(const char *s) {
        size_t n = strlen(strempty(s));
        char *out = malloc(n + 1), *w = out;
        const char *p = strempty(s), *end = p + n;

        if (!out)
                return NULL;
        while (p < end && strchr(" \t\n", *p))
                p++;
        while (end > p && strchr(" \t\n", end[-1]))
                end--;
        for (; p < end; p++) {
                unsigned char c = (unsigned char) *p;
                if (strchr(" \t\n", c)) {
                        while (p + 1 < end && strchr(" \t\n", p[1]))
                                p++;
                        *w++ = '_';
                } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           strchr("#+-.:=@_", c) || c >= 0x80)
                        *w++ = (char) c;
                else
                        *w++ = '_';
        }
        *w = 0;
        return out;
}

/* Go's path.Base, which Rook applies to lsblk's MOUNTPOINT. */
static char *path_base(const char *p) {
        size_t n = strlen(p);
        const char *slash;

        while (n > 1 && p[n - 1] == '/')
                n--;
        if (n == 1 && p[0] == '/')
                return strdup("/");
        slash = memrchr(p, '/', n);
        return slash ? strndup(slash + 1, n - (size_t) (slash + 1 - p)) : strndup(p, n);
}

/* udev's ID_WWN: a WWN with a vendor extension (0x + 32 hex digits) without it. */
static char *wwn_short(const char *wwn) {
        if (startswith(wwn, "0x") && strlen(wwn) == 34)
                return strndup(wwn, 18);
        return strdup(wwn);
}

static const char *first_fs(const Castle__Device *d) {
        return d->n_signatures > 0 ? strempty(d->signatures[0]->type) : "";
}

static const Castle__Device *find_on_node(Castle__ClusterDevice *const *devices, size_t n, const char *node,
                                          const char *kname) {
        for (size_t i = 0; i < n; i++)
                if (devices[i]->device && streq(strempty(devices[i]->node_id), node) &&
                    streq(strempty(devices[i]->device->kname), kname))
                        return devices[i]->device;
        return NULL;
}

static const char *node_of(Castle__ClusterDevice *const *devices, size_t n, const Castle__Device *d) {
        for (size_t i = 0; i < n; i++)
                if (devices[i]->device == d)
                        return strempty(devices[i]->node_id);
        return "";
}

/* device-mapper's name of VG/LV: each '-' doubled, joined by '-' (what lsblk's NAME shows). */
static char *dm_name_of(const char *vg, const char *lv) {
        size_t n = 0;
        char *s, *w;

        for (const char *p = vg; *p; p++)
                n += *p == '-' ? 2 : 1;
        for (const char *p = lv; *p; p++)
                n += *p == '-' ? 2 : 1;
        s = w = malloc(n + 2);
        if (!s)
                return NULL;
        for (const char *p = vg; *p; p++)
                if ((*w++ = *p) == '-')
                        *w++ = '-';
        *w++ = '-';
        for (const char *p = lv; *p; p++)
                if ((*w++ = *p) == '-')
                        *w++ = '-';
        *w = 0;
        return s;
}

/* Rook's Partitions: the device's partitions (name, size, GPT name, filesystem), plus its
 * ceph-volume LVs ("ceph--..." dm names, name only), as sys.GetDevicePartitions lists them. */
static json_object *partitions_of(const Castle__Device *d, Castle__ClusterDevice *const *devices, size_t n) {
        const char *node = node_of(devices, n, d);
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < d->n_partitions; i++) {
                const Castle__Device *p = find_on_node(devices, n, node, d->partitions[i]);
                json_object *e = json_object_new_object();

                json_object_object_add(e, "Name", cv_json_string(d->partitions[i]));
                json_object_object_add(e, "Size", json_object_new_uint64(p ? p->size : 0));
                json_object_object_add(e, "Label", cv_json_string(p ? p->partition_label : ""));
                json_object_object_add(e, "Filesystem", cv_json_string(p ? first_fs(p) : ""));
                json_object_array_add(a, e);
        }
        for (size_t i = 0; a && d->lvm && i < d->lvm->n_lvs; i++) {
                const Castle__LogicalVolume *lv = d->lvm->lvs[i];
                _cleanup_free_ char *name = dm_name_of(strempty(lv->vg_name), strempty(lv->name));
                json_object *e;

                if (!name || !startswith(name, "ceph--"))
                        continue;
                e = json_object_new_object();
                json_object_object_add(e, "Name", cv_json_string(name));
                json_object_object_add(e, "Size", json_object_new_uint64(0));
                json_object_object_add(e, "Label", cv_json_string(""));
                json_object_object_add(e, "Filesystem", cv_json_string(""));
                json_object_array_add(a, e);
        }
        if (a && json_object_array_length(a) == 0) {
                json_object_put(a);
                return NULL; /* Go's nil slice: "Partitions": null */
        }
        return a;
}

typedef struct NodeDevices {
        Castle__ClusterDevice *const *devices;
        size_t n;
        const char *node;
} NodeDevices;

static const Castle__Device *node_device_find(const char *kname, void *userdata) {
        const NodeDevices *nd = userdata;

        return find_on_node(nd->devices, nd->n, nd->node, kname);
}

/* What rook-discover keeps of `ceph-volume inventory --format json` for the device
 * (discover.CephVolumeInventory: path, available, rejected_reasons, and sys_api and lvs
 * verbatim, in that order), from the record castlectl inventory --format ceph-volume prints.
 * Rook looks ceph-volume's entries up by /dev/<name>, so only devices whose path is that get
 * one. */
static char *ceph_volume_data(const Castle__Device *d, Castle__ClusterDevice *const *devices, size_t n) {
        static const char *const keys[] = { "path", "available", "rejected_reasons", "sys_api", "lvs" };
        NodeDevices nd = { devices, n, node_of(devices, n, d) };
        json_object *cv, *o;
        char *s;

        if (!startswith(strempty(d->path), "/dev/") || !streq(d->path + 5, strempty(d->kname)))
                return strdup("");
        cv = cv_device(d, node_device_find, &nd);
        o = json_object_new_object();
        if (!cv || !o) {
                json_object_put(cv);
                json_object_put(o);
                return NULL;
        }
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                json_object_object_add(o, keys[i], json_object_get(json_object_object_get(cv, keys[i])));
        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        json_object_put(cv);
        return s;
}

json_object *rook_local_disk(const Castle__Device *d, Castle__ClusterDevice *const *devices, size_t n_devices) {
        _cleanup_free_ char *links = NULL, *vendor = NULL, *model = NULL, *mountpoint = NULL, *wwn = NULL,
                            *cv = NULL;
        const char *type = rook_type(d->type), *parent = "", *fs = first_fs(d), *uuid = "";
        json_object *o, *parts;
        bool empty;

        if (!type)
                return NULL;
        links = cv_join(d->links, d->n_links, " "); /* as udev's DEVLINKS */
        vendor = udev_spelling(d->vendor);
        model = udev_spelling(d->model);
        mountpoint = d->n_mountpoints > 0 ? path_base(d->mountpoints[0]) : strdup(d->swap ? "[SWAP]" : "");
        wwn = wwn_short(strempty(d->wwn));
        cv = ceph_volume_data(d, devices, n_devices);
        o = json_object_new_object();
        if (!links || !vendor || !model || !mountpoint || !wwn || !cv || !o) {
                json_object_put(o);
                return NULL;
        }
        if (!isempty(d->parent))
                parent = d->parent;
        else if (d->n_slaves > 0)
                parent = d->slaves[0];
        /* Rook: the GPT disk GUID sgdisk prints, for whole disks (and, in castle, the loop
         * devices tests stand in for disks with). */
        if ((d->type == CASTLE__DEVICE__TYPE__DISK || d->type == CASTLE__DEVICE__TYPE__LOOP) &&
            streq_ptr(d->partition_table, "gpt"))
                uuid = strempty(d->partition_table_uuid);
        parts = partitions_of(d, devices, n_devices);
        empty = !parts && isempty(fs);

        json_object_object_add(o, "name", cv_json_string(d->kname));
        json_object_object_add(o, "parent", cv_json_string(parent));
        json_object_object_add(o, "hasChildren", json_object_new_boolean(d->n_partitions > 0 || d->n_holders > 0));
        json_object_object_add(o, "devLinks", cv_json_string(links));
        json_object_object_add(o, "size", json_object_new_uint64(d->size));
        json_object_object_add(o, "uuid", cv_json_string(uuid));
        json_object_object_add(o, "serial", cv_json_string(d->id_serial));
        json_object_object_add(o, "type", cv_json_string(type));
        json_object_object_add(o, "rotational", json_object_new_boolean(d->rotational));
        json_object_object_add(o, "readOnly", json_object_new_boolean(d->read_only));
        json_object_object_add(o, "Partitions", parts);
        json_object_object_add(o, "filesystem", cv_json_string(fs));
        json_object_object_add(o, "mountpoint", cv_json_string(mountpoint));
        json_object_object_add(o, "vendor", cv_json_string(vendor));
        json_object_object_add(o, "model", cv_json_string(model));
        json_object_object_add(o, "wwn", cv_json_string(wwn));
        json_object_object_add(o, "wwnVendorExtension",
                               cv_json_string(d->transport == CASTLE__DEVICE__TRANSPORT__NVME ? "" : d->wwn));
        json_object_object_add(o, "empty", json_object_new_boolean(empty));
        if (!isempty(cv))
                json_object_object_add(o, "cephVolumeData", cv_json_string(cv));
        json_object_object_add(o, "real-path", cv_json_string(d->path));
        json_object_object_add(o, "kernel-name", cv_json_string(d->kname));
        return o;
}

static json_object *config_map(const char *node, const char *namespace, json_object *devices) {
        _cleanup_free_ char *name = NULL;
        json_object *cm, *meta, *labels, *data;

        if (rook_config_map_name(node, &name) < 0)
                return NULL;
        cm = json_object_new_object();
        meta = json_object_new_object();
        labels = json_object_new_object();
        data = json_object_new_object();
        if (!cm || !meta || !labels || !data) {
                json_object_put(cm);
                json_object_put(meta);
                json_object_put(labels);
                json_object_put(data);
                return NULL;
        }
        json_object_object_add(cm, "apiVersion", cv_json_string("v1"));
        json_object_object_add(cm, "kind", cv_json_string("ConfigMap"));
        json_object_object_add(meta, "name", cv_json_string(name));
        if (!isempty(namespace))
                json_object_object_add(meta, "namespace", cv_json_string(namespace));
        json_object_object_add(labels, "app", cv_json_string("rook-discover"));
        json_object_object_add(labels, "rook.io/node", cv_json_string(node));
        json_object_object_add(meta, "labels", labels);
        json_object_object_add(cm, "metadata", meta);
        json_object_object_add(data, "devices",
                               cv_json_string(json_object_to_json_string_ext(devices, JSON_C_TO_STRING_PLAIN |
                                                                                    JSON_C_TO_STRING_NOSLASHESCAPE)));
        json_object_object_add(cm, "data", data);
        return cm;
}

static int add_node(json_object *items, const char *node_id, const char *name, Castle__ClusterDevice *const *devices,
                    size_t n_devices, const char *namespace) {
        json_object *arr = json_object_new_array(), *cm;

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < n_devices; i++) {
                const Castle__Device *d = devices[i]->device;
                json_object *e;

                if (!d || !streq(strempty(devices[i]->node_id), node_id) || is_rbd(strempty(d->kname)))
                        continue;
                e = rook_local_disk(d, devices, n_devices);
                if (e)
                        json_object_array_add(arr, e);
                else if (rook_type(d->type)) {
                        json_object_put(arr);
                        return -ENOMEM;
                }
        }
        cm = config_map(name, namespace, arr);
        json_object_put(arr);
        if (!cm)
                return -ENOMEM;
        json_object_array_add(items, cm);
        return 0;
}

int rook_config_maps(Castle__NodeInfo *const *nodes, size_t n_nodes, Castle__ClusterDevice *const *devices,
                     size_t n_devices, const char *namespace, json_object **ret) {
        json_object *list = json_object_new_object(), *items = json_object_new_array();
        _cleanup_strv_free_ char **seen = NULL;
        int r = 0;

        if (!list || !items) {
                json_object_put(list);
                json_object_put(items);
                return -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < n_nodes; i++) {
                const char *id = strempty(nodes[i]->node_id);
                r = strv_extend(&seen, id);
                if (r >= 0)
                        r = add_node(items, id, isempty(nodes[i]->hostname) ? id : nodes[i]->hostname, devices,
                                     n_devices, namespace);
        }
        /* A device of a node the node list did not have (it arrived in between). */
        for (size_t i = 0; r >= 0 && i < n_devices; i++) {
                const char *id = strempty(devices[i]->node_id);
                if (strv_contains(seen, id))
                        continue;
                r = strv_extend(&seen, id);
                if (r >= 0)
                        r = add_node(items, id, id, devices, n_devices, namespace);
        }
        if (r < 0) {
                json_object_put(list);
                json_object_put(items);
                return r;
        }
        json_object_object_add(list, "apiVersion", cv_json_string("v1"));
        json_object_object_add(list, "kind", cv_json_string("List"));
        json_object_object_add(list, "items", items);
        *ret = list;
        return 0;
}
