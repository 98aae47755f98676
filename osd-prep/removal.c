/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The removal journal's files: one JSON object per OSD removal, read back as untrusted
 * input and rewritten atomically (tmp file, fsync, rename, 0600) before every step, so that
 * a removal interrupted anywhere carries on from its last completed step. */
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
#include "osd-prep/jsonfield.h"
#include "osd-prep/removal.h"

#define REMOVAL_MAX_SIZE 16384
#define REMOVAL_MAX_ENTRIES 4096

static const char *const step_names[_REMOVAL_STEP_MAX] = {
        [REMOVAL_REQUESTED] = "requested",
        [REMOVAL_OUT] = "out",
        [REMOVAL_DRAINED] = "drained",
        [REMOVAL_STOPPED] = "stopped",
        [REMOVAL_DESTROYED] = "destroyed",
        [REMOVAL_ZAPPED] = "zapped",
        [REMOVAL_DONE] = "done",
        [REMOVAL_CANCELLED] = "cancelled",
};

const char *removal_step_to_string(RemovalStep s) {
        return s < _REMOVAL_STEP_MAX ? step_names[s] : "unknown";
}

RemovalStep removal_step_from_string(const char *s) {
        for (RemovalStep i = 0; i < _REMOVAL_STEP_MAX; i++)
                if (streq_ptr(s, step_names[i]))
                        return i;
        return _REMOVAL_STEP_MAX;
}

static void volume_done(RemovalVolume *v) {
        free(v->stable_id);
        free(v->vg);
        free(v->lv);
        *v = (RemovalVolume) {};
}

void removal_entry_done(RemovalEntry *e) {
        free(e->osd_uuid);
        free(e->cluster_fsid);
        free(e->error);
        free(e->crush_device_class);
        free(e->by_path);
        volume_done(&e->block);
        volume_done(&e->db);
        volume_done(&e->wal);
        free(e->replacement);
        free(e->replacement_error);
        *e = (RemovalEntry) { .osd_id = -1, .pgs_left = -1 };
}

char *removal_dir(const char *state_dir) {
        char *p;
        return asprintf(&p, "%s/remove", state_dir) < 0 ? NULL : p;
}

static char *entry_path(const char *state_dir, int osd_id) {
        char *p;
        return asprintf(&p, "%s/remove/%d.json", state_dir, osd_id) < 0 ? NULL : p;
}

static json_object *volume_to_json(const RemovalVolume *v) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        jsonfield_add_string(o, "stable_id", v->stable_id);
        jsonfield_add_string(o, "vg", v->vg);
        jsonfield_add_string(o, "lv", v->lv);
        json_object_object_add(o, "size", json_object_new_int64((int64_t) v->size));
        return o;
}

int removal_write(const char *state_dir, const RemovalEntry *e) {
        _cleanup_free_ char *dir = removal_dir(state_dir), *path = NULL;
        const char *s;
        json_object *o;
        int r;

        if (e->osd_id < 0 || e->step >= _REMOVAL_STEP_MAX)
                return -EINVAL;
        path = entry_path(state_dir, e->osd_id);
        if (!dir || !path)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "osd_id", json_object_new_int(e->osd_id));
        jsonfield_add_string(o, "osd_uuid", e->osd_uuid);
        jsonfield_add_string(o, "cluster_fsid", e->cluster_fsid);
        jsonfield_add_string(o, "step", removal_step_to_string(e->step));
        json_object_object_add(o, "replace", json_object_new_boolean(e->replace));
        json_object_object_add(o, "zap", json_object_new_boolean(e->zap));
        json_object_object_add(o, "force", json_object_new_boolean(e->force));
        json_object_object_add(o, "command_id", json_object_new_int64((int64_t) e->command_id));
        json_object_object_add(o, "started_usec", json_object_new_int64(e->started_usec));
        json_object_object_add(o, "updated_usec", json_object_new_int64(e->updated_usec));
        jsonfield_add_string(o, "error", e->error);
        json_object_object_add(o, "mode", json_object_new_string(e->lvm ? "lvm" : "raw"));
        json_object_object_add(o, "encrypted", json_object_new_boolean(e->encrypted));
        jsonfield_add_string(o, "crush_device_class", e->crush_device_class);
        jsonfield_add_string(o, "by_path", e->by_path);
        if (e->block.stable_id)
                json_object_object_add(o, "block", volume_to_json(&e->block));
        if (e->db.stable_id)
                json_object_object_add(o, "db", volume_to_json(&e->db));
        if (e->wal.stable_id)
                json_object_object_add(o, "wal", volume_to_json(&e->wal));
        jsonfield_add_string(o, "replacement", e->replacement);
        jsonfield_add_string(o, "replacement_error", e->replacement_error);
        json_object_object_add(o, "pgs_left", json_object_new_int(e->pgs_left));
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        r = s ? write_file_atomic(path, s, strlen(s), 0600) : -ENOMEM;
        json_object_put(o);
        return r;
}

int removal_remove(const char *state_dir, int osd_id) {
        _cleanup_free_ char *path = entry_path(state_dir, osd_id), *dir = removal_dir(state_dir);
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

static int volume_parse(json_object *o, const char *key, RemovalVolume *ret) {
        json_object *v;
        int64_t size;
        int r;

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_object))
                return -EBADMSG;
        r = jsonfield_dup_string(v, "stable_id", &ret->stable_id);
        if (r >= 0)
                r = jsonfield_dup_string(v, "vg", &ret->vg);
        if (r >= 0)
                r = jsonfield_dup_string(v, "lv", &ret->lv);
        if (r < 0)
                return r;
        size = jsonfield_get_int64(v, "size");
        if (size < 0)
                return -EBADMSG;
        ret->size = (uint64_t) size;
        return 0;
}

static int entry_parse(const char *text, int want_id, RemovalEntry *ret) {
        _cleanup_(removal_entry_done) RemovalEntry e = { .osd_id = -1, .pgs_left = -1 };
        _cleanup_free_ char *step = NULL, *mode = NULL;
        json_object *o, *v;
        int r;

        o = json_tokener_parse(text);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        if (json_object_object_get_ex(o, "osd_id", &v) && json_object_is_type(v, json_type_int))
                e.osd_id = json_object_get_int(v);
        r = jsonfield_dup_string(o, "osd_uuid", &e.osd_uuid);
        if (r >= 0)
                r = jsonfield_dup_string(o, "cluster_fsid", &e.cluster_fsid);
        if (r >= 0)
                r = jsonfield_dup_string(o, "step", &step);
        if (r >= 0)
                r = jsonfield_dup_string(o, "error", &e.error);
        if (r >= 0)
                r = jsonfield_dup_string(o, "mode", &mode);
        if (r >= 0)
                r = jsonfield_dup_string(o, "crush_device_class", &e.crush_device_class);
        if (r >= 0)
                r = jsonfield_dup_string(o, "by_path", &e.by_path);
        if (r >= 0)
                r = jsonfield_dup_string(o, "replacement", &e.replacement);
        if (r >= 0)
                r = jsonfield_dup_string(o, "replacement_error", &e.replacement_error);
        if (r >= 0)
                r = volume_parse(o, "block", &e.block);
        if (r >= 0)
                r = volume_parse(o, "db", &e.db);
        if (r >= 0)
                r = volume_parse(o, "wal", &e.wal);
        e.replace = jsonfield_get_bool(o, "replace");
        e.zap = jsonfield_get_bool(o, "zap");
        e.force = jsonfield_get_bool(o, "force");
        e.encrypted = jsonfield_get_bool(o, "encrypted");
        e.command_id = (uint64_t) jsonfield_get_int64(o, "command_id");
        e.started_usec = jsonfield_get_int64(o, "started_usec");
        e.updated_usec = jsonfield_get_int64(o, "updated_usec");
        e.pgs_left = json_object_object_get_ex(o, "pgs_left", &v) ? (int) jsonfield_get_int64(o, "pgs_left") : -1;
        json_object_put(o);
        if (r < 0)
                return r;
        e.step = removal_step_from_string(step);
        e.lvm = streq_ptr(mode, "lvm");
        if (e.osd_id < 0 || e.osd_id != want_id || e.step >= _REMOVAL_STEP_MAX ||
            (mode && !e.lvm && !streq(mode, "raw")))
                return -EBADMSG;
        *ret = e;
        e = (RemovalEntry) { .osd_id = -1, .pgs_left = -1 };
        return 0;
}

int removal_read(const char *state_dir, int osd_id, RemovalEntry *ret) {
        _cleanup_free_ char *path = entry_path(state_dir, osd_id), *text = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file_at(AT_FDCWD, path, REMOVAL_MAX_SIZE, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = entry_parse(text, osd_id, ret);
        if (r < 0)
                return log_debug_errno(r, "Cannot parse removal journal entry %s: %m", path);
        return 1;
}

static int int_cmp(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return x < y ? -1 : x > y;
}

int removal_list(const char *state_dir, int **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = removal_dir(state_dir);
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ int *ids = NULL;
        size_t n = 0;
        int r;

        if (!dir)
                return -ENOMEM;
        r = list_dir_at(AT_FDCWD, dir, &names);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        STRV_FOREACH(name, names) {
                _cleanup_free_ char *num = NULL;
                size_t l = strlen(*name);
                int id;

                if (l <= 5 || !streq(*name + l - 5, ".json"))
                        continue;
                num = strndup(*name, l - 5);
                if (!num)
                        return -ENOMEM;
                if (safe_atoi(num, &id) < 0 || id < 0)
                        continue;
                if (n >= REMOVAL_MAX_ENTRIES)
                        break;
                int *a = realloc(ids, (n + 1) * sizeof *a);
                if (!a)
                        return -ENOMEM;
                ids = a;
                ids[n++] = id;
        }
        if (n > 1)
                qsort(ids, n, sizeof *ids, int_cmp);
        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}
