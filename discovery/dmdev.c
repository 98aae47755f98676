/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libdevmapper adapter: dm_task_* return 1 on success and 0 on failure; here that becomes
 * -errno. Only called for dm-N devices, so a host without device-mapper never loads it. */
#include <libdevmapper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <pthread.h>

#include "common/macro.h"
#include "discovery/dmdev.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct dm_task *, dm_task_destroy);

static void quiet_log(int level, const char *file, int line, int dm_errno_or_class, const char *f, ...) {
        /* libdevmapper prints to stderr by default; library code stays silent. */
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
        dm_log_with_errno_init(quiet_log);
}

static int replace(char **field, const char *v) {
        char *c;

        if (isempty(v))
                return 0;
        c = strdup(v);
        if (!c)
                return -ENOMEM;
        free(*field);
        *field = c;
        return 0;
}

int dmdev_refresh(Device *d) {
        _cleanup_(dm_task_destroyp) struct dm_task *t = NULL;
        struct dm_info info;
        int r;

        pthread_once(&once, init);
        t = dm_task_create(DM_DEVICE_INFO);
        if (!t)
                return -ENOMEM;
        if (!dm_task_set_major(t, (int) major(d->devnum)) || !dm_task_set_minor(t, (int) minor(d->devnum)))
                return -EINVAL;
        if (!dm_task_run(t))
                return -ENODEV; /* no device-mapper in this kernel, or the mapping is gone */
        if (!dm_task_get_info(t, &info) || !info.exists)
                return -ENODEV;
        r = replace(&d->dm_name, dm_task_get_name(t));
        if (r < 0)
                return r;
        return replace(&d->dm_uuid, dm_task_get_uuid(t));
}

DeviceType dmdev_type_from_uuid(const char *uuid) {
        if (isempty(uuid))
                return DEVICE_TYPE_DM;
        if (startswith(uuid, "LVM-"))
                return DEVICE_TYPE_LVM;
        if (startswith(uuid, "CRYPT-"))
                return DEVICE_TYPE_CRYPT;
        if (startswith(uuid, "mpath-"))
                return DEVICE_TYPE_MPATH;
        if (startswith(uuid, "part")) /* kpartx: part1-mpath-... */
                return DEVICE_TYPE_PART;
        return DEVICE_TYPE_DM;
}
