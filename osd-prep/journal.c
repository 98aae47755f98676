/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The prepare journal's files: each read back and validated as untrusted JSON, each
 * rewritten atomically and its folder synced before a step, so a killed prepare converges. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "osd-prep/journal.h"
#include "osd-prep/jsonfield.h"

#define JOURNAL_MAX_SIZE 16384

static const char *const step_names[_STEP_MAX] = {
        [STEP_NONE] = "none",
        [STEP_JOURNAL] = "journal",
        [STEP_OSD_NEW] = "osd-new",
        [STEP_OSD_DIR] = "osd-dir",
        [STEP_MKFS] = "mkfs",
};

const char *journal_step_to_string(PrepareStep s) {
        return s < _STEP_MAX ? step_names[s] : "unknown";
}

PrepareStep journal_step_from_string(const char *s) {
        for (PrepareStep i = 0; i < _STEP_MAX; i++)
                if (streq_ptr(s, step_names[i]))
                        return i;
        return STEP_NONE;
}

static const char *const volume_types[_VOLUME_MAX] = {
        [VOLUME_BLOCK] = "block",
        [VOLUME_DB] = "db",
        [VOLUME_WAL] = "wal",
};

const char *volume_type_to_string(VolumeType t) {
        return t < _VOLUME_MAX ? volume_types[t] : "unknown";
}

void journal_entry_done(JournalEntry *e) {
        for (VolumeType t = 0; t < _VOLUME_MAX; t++) {
                free(e->vol[t].stable_id);
                free(e->vol[t].vg);
                free(e->vol[t].lv);
        }
        if (e->lockbox)
                explicit_bzero(e->lockbox, strlen(e->lockbox));
        free(e->lockbox);
        free(e->uuid);
        if (e->secret)
                explicit_bzero(e->secret, strlen(e->secret));
        free(e->secret);
        free(e->stable_id);
        free(e->device);
        free(e->cluster);
        free(e->cluster_fsid);
        free(e->crush_class);
        *e = (JournalEntry) { .osd_id = -1 };
}

char *journal_dir(const char *state_dir) {
        char *p;
        return asprintf(&p, "%s/prepare", state_dir) < 0 ? NULL : p;
}

static char *entry_path(const char *state_dir, const char *uuid) {
        char *p;
        return asprintf(&p, "%s/prepare/%s.json", state_dir, uuid) < 0 ? NULL : p;
}

int journal_write(const char *state_dir, const JournalEntry *e) {
        _cleanup_free_ char *dir = journal_dir(state_dir), *path = entry_path(state_dir, e->uuid);
        const char *s;
        json_object *o;
        int r;

        if (!dir || !path)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        jsonfield_add_string(o, "uuid", e->uuid);
        jsonfield_add_string(o, "secret", e->secret);
        jsonfield_add_string(o, "stable_id", e->stable_id);
        jsonfield_add_string(o, "device", e->device);
        jsonfield_add_string(o, "cluster", e->cluster);
        jsonfield_add_string(o, "cluster_fsid", e->cluster_fsid);
        jsonfield_add_string(o, "crush_device_class", e->crush_class);
        json_object_object_add(o, "osd_id", json_object_new_int(e->osd_id));
        json_object_object_add(o, "reused_id", json_object_new_boolean(e->reused_id));
        jsonfield_add_string(o, "step", journal_step_to_string(e->step));
        if (e->lvm) {
                json_object *vols = json_object_new_object();

                json_object_object_add(o, "mode", json_object_new_string("lvm"));
                json_object_object_add(o, "encrypted", json_object_new_boolean(e->encrypted));
                jsonfield_add_string(o, "lockbox", e->lockbox);
                for (VolumeType t = 0; vols && t < _VOLUME_MAX; t++) {
                        json_object *v;
                        if (!e->vol[t].stable_id)
                                continue;
                        v = json_object_new_object();
                        jsonfield_add_string(v, "stable_id", e->vol[t].stable_id);
                        jsonfield_add_string(v, "vg", e->vol[t].vg);
                        jsonfield_add_string(v, "lv", e->vol[t].lv);
                        json_object_object_add(v, "vg_ours", json_object_new_boolean(e->vol[t].vg_ours));
                        json_object_object_add(vols, volume_types[t], v);
                }
                json_object_object_add(o, "volumes", vols);
        }
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        r = write_file_atomic(path, s, strlen(s), 0600);
        json_object_put(o);
        return r;
}

int journal_remove(const char *state_dir, const char *uuid) {
        _cleanup_free_ char *path = entry_path(state_dir, uuid), *dir = journal_dir(state_dir);
        _cleanup_close_ int dfd = -EBADF;

        if (!path || !dir)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

static int entry_parse(const char *text, JournalEntry *ret) {
        JournalEntry e = { .osd_id = -1 };
        _cleanup_free_ char *step = NULL;
        json_object *o, *v;
        int r;

        o = json_tokener_parse(text);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        r = jsonfield_dup_string(o, "uuid", &e.uuid);
        if (r >= 0)
                r = jsonfield_dup_string(o, "secret", &e.secret);
        if (r >= 0)
                r = jsonfield_dup_string(o, "stable_id", &e.stable_id);
        if (r >= 0)
                r = jsonfield_dup_string(o, "device", &e.device);
        if (r >= 0)
                r = jsonfield_dup_string(o, "cluster", &e.cluster);
        if (r >= 0)
                r = jsonfield_dup_string(o, "cluster_fsid", &e.cluster_fsid);
        if (r >= 0)
                r = jsonfield_dup_string(o, "crush_device_class", &e.crush_class);
        if (r >= 0)
                r = jsonfield_dup_string(o, "step", &step);
        if (json_object_object_get_ex(o, "osd_id", &v))
                e.osd_id = json_object_get_int(v);
        e.reused_id = jsonfield_get_bool(o, "reused_id");
        e.step = journal_step_from_string(step);
        if (r >= 0 && json_object_object_get_ex(o, "mode", &v) && streq_ptr(json_object_get_string(v), "lvm")) {
                json_object *vols;

                e.lvm = true;
                e.encrypted = jsonfield_get_bool(o, "encrypted");
                r = jsonfield_dup_string(o, "lockbox", &e.lockbox);
                if (json_object_object_get_ex(o, "volumes", &vols) && json_object_is_type(vols, json_type_object))
                        for (VolumeType t = 0; r >= 0 && t < _VOLUME_MAX; t++) {
                                if (!json_object_object_get_ex(vols, volume_types[t], &v))
                                        continue;
                                r = jsonfield_dup_string(v, "stable_id", &e.vol[t].stable_id);
                                if (r >= 0)
                                        r = jsonfield_dup_string(v, "vg", &e.vol[t].vg);
                                if (r >= 0)
                                        r = jsonfield_dup_string(v, "lv", &e.vol[t].lv);
                                e.vol[t].vg_ours = jsonfield_get_bool(v, "vg_ours");
                        }
        }
        json_object_put(o);
        if (r == -ENOMEM) {
                journal_entry_done(&e);
                return r;
        }
        if (r < 0 || !e.uuid || !e.secret || !e.stable_id || e.step == STEP_NONE ||
            (e.lvm && (!e.vol[VOLUME_BLOCK].vg || !e.vol[VOLUME_BLOCK].lv || (e.encrypted && !e.lockbox)))) {
                journal_entry_done(&e);
                return -EBADMSG;
        }
        *ret = e;
        return 0;
}

int journal_list(const char *state_dir, char ***ret) {
        _cleanup_free_ char *dir = journal_dir(state_dir);
        _cleanup_strv_free_ char **names = NULL, **uuids = NULL;
        int r;

        if (!dir)
                return -ENOMEM;
        r = list_dir_at(AT_FDCWD, dir, &names);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                size_t l = strlen(*n);
                if (l <= 5 || !streq(*n + l - 5, ".json"))
                        continue;
                r = strv_consume(&uuids, strndup(*n, l - 5));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(uuids);
        return 0;
}

int journal_find(const char *state_dir, const char *stable_id, JournalEntry *ret) {
        _cleanup_strv_free_ char **uuids = NULL;
        int r;

        r = journal_list(state_dir, &uuids);
        if (r < 0)
                return r;
        STRV_FOREACH(u, uuids) {
                _cleanup_free_ char *path = entry_path(state_dir, *u), *text = NULL;
                JournalEntry e;

                if (!path)
                        return -ENOMEM;
                r = read_full_file_at(AT_FDCWD, path, JOURNAL_MAX_SIZE, &text, NULL);
                if (r >= 0)
                        r = entry_parse(text, &e);
                if (r < 0) {
                        log_debug_errno(r, "Ignoring prepare journal entry %s: %m", path);
                        continue;
                }
                if (streq(e.stable_id, stable_id)) {
                        *ret = e;
                        return 1;
                }
                journal_entry_done(&e);
        }
        return 0;
}
