/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Starting an OSD daemon and waiting until the monitors mark it up. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/spawn.h"
#include "osd-prep/context.h"

/* The pid of a running ceph-osd with this id (read from /proc), or 0. */
const char *start_mode_to_string(StartMode m);
/* -EINVAL for an unknown name. */
int start_mode_from_string(const char *s);

pid_t osd_running_pid(int id);

/* True if ceph-osd's error output says its device was busy: udevd or a scan had it open
 * for a moment, and trying again a little later works. */
bool osd_error_busy(const char *err);

/* ceph-osd's command line for osd.id with its data in dir, as every run of it has it:
 * [-c conf] --cluster, -i, --osd-data, then extra (NULL-terminated, may be NULL), then
 * --setuser/--setgroup ceph when the OSD runs as ceph. */
int osd_ceph_argv(const OsdContext *c, int id, const char *dir, const char *const *extra, char ***ret);

/* Runs ceph-osd (argv from osd_ceph_argv()), again a few times while it finds its device busy
 * (device names it in the log). Returns spawn_capture()'s error, or 0 and the last run's result. */
int osd_ceph_run(char *const *argv, const SpawnOptions *o, const char *device, SpawnResult *ret);

/* The unit template that runs an OSD under systemd here: "ceph-osd" (Ceph's own
 * ceph-osd@.service) where it is installed, else "castle-osd" (castle-osd@.service, which runs
 * `castlectl osd run ID`), else NULL. */
const char *osd_unit_template(void);

/* The mode AUTO stands for here: systemd where it runs the host and one of those units is
 * installed (and the OSD directories are the default ones), else fork. */
StartMode osd_start_mode_resolve(const OsdContext *c);

/* Starts ceph-osd for the OSD whose directory is dir. START_EXEC does not return on success. */
int osd_start(const OsdContext *c, int id, const char *dir, char **error);

/* Waits (10 s at most) until nobody holds the device's flock: udevd probes a device after
 * mkfs closes it, and a ceph-osd that finds the lock taken gives up. */
void osd_wait_device_idle(const char *node);

/* Polls the osd map until osd.id is up; -ETIMEDOUT after c->up_timeout_usec, -ESRCH if a
 * daemon we forked is gone. */
int osd_wait_up(const OsdContext *c, MonConn *mon, int id, char **error);
