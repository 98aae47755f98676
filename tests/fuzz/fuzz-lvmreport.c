/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The LVM report parser (discovery/lvmreport.c): every input is read as the JSON of
 * `lvm fullreport --reportformat json`, and what parses is applied to a scan's devices, as the
 * agent does after each scan: disks sda-sdd, vda-vdd, nvme0n1, loop0 and a dm device with a
 * ceph-volume LV's links. */
#include <stdio.h>

#include "common/strv.h"
#include "discovery/lvmreport.h"
#include "tests/fuzz/fuzz.h"

static DeviceList *devices(void) {
        static const char *const disks[] = { "sda", "sdb", "sdc", "sdd", "vda", "vdb", "vdc", "vdd", "nvme0n1", "loop0" };
        DeviceList *l = device_list_new();
        Device *d;

        fuzz_require(l);
        for (size_t i = 0; i < ELEMENTSOF(disks); i++) {
                char path[32];

                d = device_new(disks[i]);
                fuzz_require(d);
                snprintf(path, sizeof path, "/dev/%s", disks[i]);
                d->path = strdup(path);
                fuzz_require(d->path && device_list_add(l, d) >= 0);
        }
        d = device_new("dm-0");
        fuzz_require(d);
        d->path = strdup("/dev/mapper/ceph--5c3a-osd--block--9d6c");
        fuzz_require(d->path);
        fuzz_require(strv_extend(&d->links, "/dev/ceph-5c3a/osd-block-9d6c") >= 0);
        fuzz_require(strv_extend(&d->links, "/dev/mapper/ceph--5c3a-osd--block--9d6c") >= 0);
        fuzz_require(device_list_add(l, d) >= 0);
        return l;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_quiet();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *json = fuzz_strndup(data, size);
        _cleanup_(lvm_report_freep) LvmReport *r = NULL;
        _cleanup_(device_list_freep) DeviceList *l = NULL;

        if (lvm_report_parse(json, &r) < 0)
                return 0;
        l = devices();
        (void) lvm_report_apply(r, l);
        return 0;
}
