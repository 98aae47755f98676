/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The prepare journal: one small JSON file per prepare in progress, under
 * <state dir>/prepare/<osd uuid>.json, written atomically before every step that changes
 * something outside this node (the monitor's osd map) or on a disk. It holds what a rerun
 * needs to converge: the uuid and cephx secret given to `osd new` (same pair, same id), the
 * device's stable id, and the last step that completed. Mode 0600: it holds a secret. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum PrepareStep {
        STEP_NONE,
        STEP_JOURNAL,   /* entry written, nothing else done */
        STEP_OSD_NEW,   /* the monitor gave us osd_id */
        STEP_OSD_DIR,   /* OSD directory, keyring, monmap, block link */
        STEP_MKFS,      /* ceph-osd --mkfs finished, label verified */
        _STEP_MAX,
} PrepareStep;

const char *journal_step_to_string(PrepareStep s);
PrepareStep journal_step_from_string(const char *s);

typedef enum VolumeType {
        VOLUME_BLOCK,
        VOLUME_DB,
        VOLUME_WAL,
        _VOLUME_MAX,
} VolumeType;

const char *volume_type_to_string(VolumeType t);

/* LVM mode: one LV of the OSD, named before it is created. */
typedef struct JournalVolume {
        char *stable_id;        /* the device its VG sits on; NULL: this volume is not used */
        char *vg, *lv;
        bool vg_ours;           /* this prepare creates the VG (and the PV) */
} JournalVolume;

typedef struct JournalEntry {
        char *uuid;             /* OSD fsid */
        char *secret;
        char *stable_id;
        char *device;           /* /dev node at the time of the step, for messages */
        char *cluster;
        char *cluster_fsid;
        char *crush_class;
        int osd_id;             /* -1 until the monitor answered */
        bool reused_id;         /* --osd-id of a destroyed OSD: rollback must not purge it */
        PrepareStep step;
        bool lvm;
        bool encrypted;
        char *lockbox;          /* dm-crypt: client.osd-lockbox.<uuid>'s key, which ceph-volume
                                 * keeps in an LV tag too; the LUKS key itself is never here */
        JournalVolume vol[_VOLUME_MAX];
} JournalEntry;

void journal_entry_done(JournalEntry *e);

/* <state dir>/prepare */
char *journal_dir(const char *state_dir);

int journal_write(const char *state_dir, const JournalEntry *e);
int journal_remove(const char *state_dir, const char *uuid);
/* The entry for this stable id, if any: 1 and *ret filled, 0 if none. Entries that cannot be
 * parsed are skipped with a warning (and left in place for a person to look at). */
int journal_find(const char *state_dir, const char *stable_id, JournalEntry *ret);
/* Every entry's uuid. */
int journal_list(const char *state_dir, char ***ret);
