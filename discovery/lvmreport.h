/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LVM facts from one `lvm fullreport --reportformat json` per scan (the TopoLVM pattern;
 * ceph-volume's per-device pvs/vgs/lvs calls were its main cost). PVs, VGs, LVs with their
 * tags, and which PVs each LV sits on; ceph.* tags become CephFacts. */
#pragma once

#include <stdint.h>

#include "discovery/device.h"

typedef struct LvmReport LvmReport;

/* The exact command castle runs; the capture script runs the same one. */
extern const char *const lvm_report_argv[];

/* The lvm binary's absolute path (malloc'ed), or NULL if it is not installed; and the
 * environment castle runs it with. */
char *lvm_find(void);
extern const char *const lvm_envp[];

/* Runs lvm restricted to the given PV paths (NULL: every device LVM sees). -ENOENT when
 * lvm is not installed, -ETIMEDOUT on the deadline, -EIO when lvm failed (ret_error says
 * why, from its stderr). */
int lvm_report_run(char *const *devices, uint64_t timeout_usec, LvmReport **ret, char **ret_error);
int lvm_report_parse(const char *json, LvmReport **ret);
LvmReport *lvm_report_free(LvmReport *r);
void lvm_report_freep(LvmReport **r);

/* Attaches PV/VG/LV facts and ceph.* tags to the devices they describe. */
int lvm_report_apply(const LvmReport *r, DeviceList *l);
