/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OSD work on this node, one job at a time: each job is `castlectl-osd osd prepare
 * --progress=json ...` run as a child, so librados, ceph-osd --mkfs and their threads stay out
 * of the agent's process, and a crash of either leaves the other running. Its progress lines
 * become JobUpdate messages. The prepare journal makes a job the agent never saw finish safe to
 * run again. */
#pragma once

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/report.h"
#include "proto/castle.pb-c.h"

typedef struct JobRunner JobRunner;

/* Called for every progress line and once with done = true. */
typedef void (*JobUpdateFn)(const Castle__JobUpdate *u, void *userdata);

/* helper: the castlectl-osd program. */
JobRunner *job_runner_new(zloop_t *loop, const char *helper, JobUpdateFn cb, void *userdata);
JobRunner *job_runner_free(JobRunner *jr);

/* Queues a job; args are the helper's arguments after its name (copied). */
int job_runner_submit(JobRunner *jr, uint64_t command_id, char *const *args);

/* Each job's deadline from now on (default 30 min): a removal's drain may take hours. */
void job_runner_set_timeout(JobRunner *jr, uint64_t usec);

/* Jobs queued or running. */
size_t job_runner_pending(const JobRunner *jr);

/* ---- what the agent asks castlectl-osd to do ---- */

/* The castlectl-osd options the agent's configuration sets for every prepare ([osd] section);
 * empty strings are left out. */
typedef struct JobPrepareOptions {
        const char *cluster;
        const char *start_mode;
        const char *ceph_conf;
        const char *keyring;
        const char *osd_root;
        const char *state_dir;
        bool allow_loop;
} JobPrepareOptions;

/* castlectl-osd's arguments after its name for preparing an OSD on device:
 * "osd", "prepare", "--data=DEVICE", "--progress=json", then the options. */
int job_prepare_args(const JobPrepareOptions *o, const char *device, bool dry_run, const char *crush_class,
                     char ***ret);
/* Bounds of an OsdCreate from the network (the coordinator's, hence a client's). */
#define JOB_DEVICE_NAME_MAX 255
#define JOB_MAX_DEVICES 64                      /* data (with device_id), DB, WAL devices each */
#define JOB_MAX_OSDS_PER_DEVICE 32
#define JOB_CRUSH_CLASS_MAX 64
#define JOB_MAX_SIZE (UINT64_C(1) << 50)        /* 1 PiB for a block.db or block.wal */

/* Whether c needs `osd batch` (more than one raw device on its own does). */
bool job_osd_create_is_batch(const Castle__OsdCreate *c);
/* castlectl-osd's arguments for c after its name: `osd prepare` for one raw device with no
 * extras, else `osd batch`; every field validated first (-EINVAL/-ERANGE/-E2BIG with *error
 * in words). default_class: the agent's own, for a request that names none. */
int job_osd_create_args(const JobPrepareOptions *o, const Castle__OsdCreate *c, const char *default_class,
                        char ***ret, char **error);
/* castlectl-osd's arguments for the zap of z->device (`zap --progress=json ... -- DEVICE`). */
int job_zap_args(const JobPrepareOptions *o, const Castle__Zap *z, char ***ret, char **error);

/* Queues the prepare of device as job command_id. -EBUSY when the
 * queue is full. */
int job_runner_submit_prepare(JobRunner *jr, uint64_t command_id, const JobPrepareOptions *o,
                              const char *device, bool dry_run, const char *crush_class);

/* The castlectl-osd program: the configured one, else the one next to this program, else the
 * one in the libexec directory. NULL when out of memory. */
char *job_helper_path(const char *configured);
