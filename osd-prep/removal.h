/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The removal journal: one JSON file per OSD removal, <state dir>/remove/<osd id>.json, written
 * atomically (mode 0600) before each step that changes the cluster or a disk, so that a removal
 * carries on from its last completed step after the agent (or the node) restarts. A finished
 * removal with replace set stays as the reservation of its id: the replacement watch gives the
 * id to a new disk in the old one's slot (by_path), in the layout recorded here, and removes
 * the file only once the new OSD is up. A failed replacement leaves it: the id stays reserved. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef enum RemovalStep {
        REMOVAL_REQUESTED,      /* journalled; nothing done */
        REMOVAL_OUT,            /* ceph osd out done */
        REMOVAL_DRAINED,        /* safe-to-destroy said yes (or --force) */
        REMOVAL_STOPPED,        /* the daemon is stopped */
        REMOVAL_DESTROYED,      /* ceph osd destroy (replace) or purge done: no cancel from here */
        REMOVAL_ZAPPED,         /* the disk is zapped (zap only) */
        REMOVAL_DONE,           /* finished; with replace: the id waits for a new disk */
        REMOVAL_CANCELLED,      /* cancelled before the destroy; the OSD went back in */
        _REMOVAL_STEP_MAX,
} RemovalStep;

const char *removal_step_to_string(RemovalStep s);
RemovalStep removal_step_from_string(const char *s);

/* One LV (or a raw device) of the OSD as it was, for the replacement to remake. */
typedef struct RemovalVolume {
        char *stable_id;        /* the device it sits on; NULL: the OSD has no such volume */
        char *vg, *lv;          /* LVM only */
        uint64_t size;          /* bytes */
} RemovalVolume;

typedef struct RemovalEntry {
        int osd_id;
        char *osd_uuid;
        char *cluster_fsid;
        RemovalStep step;
        bool replace, zap, force;
        uint64_t command_id;
        int64_t started_usec, updated_usec;
        char *error;            /* the last failure, retried until cancelled */
        /* The layout, captured before anything is done. */
        bool lvm;
        bool encrypted;
        char *crush_device_class;
        char *by_path;          /* the data disk's /dev/disk/by-path link: its slot */
        RemovalVolume block, db, wal;
        /* Replacement (replace only, after REMOVAL_DONE). */
        char *replacement;      /* the device given the id (stable id); NULL: none yet */
        char *replacement_error;
        /* Added by the removal steps. */
        int pgs_left;           /* while draining: PGs still on the OSD; -1: unknown */
} RemovalEntry;

void removal_entry_done(RemovalEntry *e);

/* <state dir>/remove */
char *removal_dir(const char *state_dir);
int removal_write(const char *state_dir, const RemovalEntry *e);
/* 1 and *ret filled, 0 if there is no entry for this id, < 0 on a read or parse error. */
int removal_read(const char *state_dir, int osd_id, RemovalEntry *ret);
int removal_remove(const char *state_dir, int osd_id);
/* Every entry's id, ascending; *ret_n of them. */
int removal_list(const char *state_dir, int **ret, size_t *ret_n);
