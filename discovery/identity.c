/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Identity rules. Kernel names change across reboots (rook#14363, #15227); stable ids come
 * from what the hardware reports, then from where it is plugged in. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "discovery/dmdev.h"
#include "discovery/identity.h"

DeviceType identity_type(const Device *d) {
        if (startswith(d->kname, "dm-"))
                return dmdev_type_from_uuid(d->dm_uuid);
        if (d->partition_number > 0 || streq_ptr(d->devtype, "partition"))
                return DEVICE_TYPE_PART;
        if (startswith(d->kname, "loop"))
                return DEVICE_TYPE_LOOP;
        if (startswith(d->kname, "md") && d->is_md)
                return DEVICE_TYPE_MD;
        if (startswith(d->kname, "sr") || startswith(d->kname, "scd"))
                return DEVICE_TYPE_ROM;
        return DEVICE_TYPE_DISK;
}

Transport identity_transport(const Device *d, const Device *parent) {
        const char *bus = d->id_bus, *path = d->id_path;

        if (d->type == DEVICE_TYPE_PART && parent)
                return parent->transport;
        if (d->type == DEVICE_TYPE_LOOP || d->type == DEVICE_TYPE_MD || startswith(d->kname, "dm-"))
                return TRANSPORT_VIRTUAL;
        if (startswith(d->kname, "nvme") || streq_ptr(bus, "nvme"))
                return TRANSPORT_NVME;
        if (startswith(d->kname, "vd") || (path && strstr(path, "virtio")))
                return path && strstr(path, "-scsi-") ? TRANSPORT_SCSI : TRANSPORT_VIRTIO;
        if (streq_ptr(bus, "usb") || (path && strstr(path, "-usb-")))
                return TRANSPORT_USB;
        if (startswith(d->kname, "mmcblk"))
                return TRANSPORT_MMC;
        if (streq_ptr(bus, "ata"))
                return path && strstr(path, "-ata-") == NULL && strstr(path, "-sas-") ? TRANSPORT_SAS
                                                                                      : TRANSPORT_SATA;
        if (path && strstr(path, "-sas-"))
                return TRANSPORT_SAS;
        if (streq_ptr(bus, "scsi"))
                return TRANSPORT_SCSI;
        if (streq_ptr(bus, "ide"))
                return TRANSPORT_ATA;
        return TRANSPORT_UNKNOWN;
}

/* Spaces and slashes cannot appear in an id that is also used as a file and key name. */
static char *normalize(char *s) {
        char *w = s;

        if (!s)
                return NULL;
        for (char *r = s; *r; r++) {
                char c = *r;
                if (c == ' ' || c == '/' || c == '\t' || c == '\n')
                        c = '_';
                if (c == '_' && w > s && w[-1] == '_')
                        continue;
                *w++ = c;
        }
        while (w > s && w[-1] == '_')
                w--;
        *w = 0;
        return s;
}

static char *join(const char *a, const char *b, const char *c) {
        char *s = NULL;

        if (asprintf(&s, "%s%s%s%s%s", a, b ? "_" : "", strempty(b), c ? "_" : "", strempty(c)) < 0)
                return NULL;
        return normalize(s);
}


/* WWNs of all zeroes are placeholders some devices report (harvester#6604). */
static bool wwn_is_valid(const char *wwn) {
        const char *p;

        if (isempty(wwn))
                return false;
        p = startswith(wwn, "0x") ?: startswith(wwn, "eui.") ?: startswith(wwn, "naa.") ?: wwn;
        for (; *p; p++)
                if (*p != '0')
                        return true;
        return false;
}

_printf_(1, 2) static char *id_printf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : normalize(s);
}

char *identity_stable_id(const Device *d, const Device *parent) {
        if (d->type == DEVICE_TYPE_PART && !startswith(d->kname, "dm-")) {
                if (!parent || isempty(parent->stable_id))
                        return NULL;
                return id_printf("%s-part%u", parent->stable_id, d->partition_number);
        }
        if (startswith(d->kname, "dm-"))
                return isempty(d->dm_uuid) ? NULL : id_printf("dm-uuid-%s", d->dm_uuid);
        if (wwn_is_valid(d->wwn) && !isempty(d->serial))
                return id_printf("wwn-%s_%s", d->wwn, d->serial);
        if (wwn_is_valid(d->wwn))
                return id_printf("wwn-%s", d->wwn);
        if (!isempty(d->serial) && !isempty(d->model))
                return isempty(d->vendor) ? join(d->model, d->serial, NULL)
                                          : join(d->vendor, d->model, d->serial);
        if (!isempty(d->serial) && d->transport == TRANSPORT_VIRTIO)
                return id_printf("virtio-%s", d->serial); /* udev's by-id name for it */
        if (d->type == DEVICE_TYPE_LOOP && !isempty(d->loop_backing_file))
                return id_printf("loop-%s", d->loop_backing_file + (d->loop_backing_file[0] == '/'));
        if (!isempty(d->id_path))
                return id_printf("path-%s", d->id_path);
        return NULL;
}

char *identity_ceph_device_id(const Device *d) {
        const char *vendor = d->vendor, *model = d->model;

        /* ceph-volume uses udev's ID_* strings; ours hold sysfs' where it has them, which
         * differ only in blanks, and normalize() turns those into '_' as udev does. */
        if (!isempty(vendor) && !isempty(model) && !isempty(d->scsi_serial))
                return join(vendor, model, d->scsi_serial);
        if (!isempty(model) && !isempty(d->serial))
                return join(model, d->serial, NULL);
        if (!isempty(d->id_serial)) {
                if (startswith(d->id_serial, "MTFD"))
                        return id_printf("Micron_%s", d->id_serial);
                return normalize(strdup(d->id_serial));
        }
        return strdup("");
}
