/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Starting an OSD daemon and waiting until the monitors mark it up. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "osd-prep/context.h"

/* The pid of a running ceph-osd with this id (read from /proc), or 0. */
pid_t osd_running_pid(int id);

/* True if ceph-osd's error output says its device was busy: udevd or a scan had it open
 * for a moment, and trying again a little later works. */
bool osd_error_busy(const char *err);

/* The mode AUTO stands for here. */
StartMode osd_start_mode_resolve(const OsdContext *c);

/* Starts ceph-osd for the OSD whose directory is dir. START_EXEC does not return on success. */
int osd_start(const OsdContext *c, int id, const char *dir, char **error);

/* Waits (10 s at most) until nobody holds the device's flock: udevd probes a device after
 * mkfs closes it, and a ceph-osd that finds the lock taken gives up. */
void osd_wait_device_idle(const char *node);

/* Polls the osd map until osd.id is up; -ETIMEDOUT after c->up_timeout_usec, -ESRCH if a
 * daemon we forked is gone. */
int osd_wait_up(const OsdContext *c, MonConn *mon, int id, char **error);
