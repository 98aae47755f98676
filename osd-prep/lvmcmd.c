/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One `lvm` command per LVM change (vgcreate, lvcreate with its tags, lvchange, lvremove), each
 * with a deadline and its stderr as the error message. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "discovery/lvmreport.h"
#include "osd-prep/lvmcmd.h"

#define LVM_CMD_TIMEOUT_USEC (120 * UINT64_C(1000000))
#define LVM_CMD_OUT_MAX (1 << 20)

/* Runs `lvm argv...`; on success *ret_out (if given) is its stdout. */
static int run(char **argv, char **ret_out, char **error) {
        _cleanup_(spawn_result_done) SpawnResult res = {};
        _cleanup_free_ char *lvm = lvm_find();
        int r;

        if (!lvm) {
                error_set(error, "lvm is not installed (Debian package lvm2)");
                return -ENOENT;
        }
        free(argv[0]);
        argv[0] = TAKE_PTR(lvm);
        r = spawn_capture(argv, (char *const *) lvm_envp,
                          &(SpawnOptions) { .timeout_usec = LVM_CMD_TIMEOUT_USEC, .out_max = LVM_CMD_OUT_MAX }, &res);
        if (r < 0) {
                error_set(error, "lvm %s: %s", argv[1], r == -ETIMEDOUT ? "timed out" : strerror(-r));
                return r;
        }
        if (res.status != 0) {
                error_set(error, "lvm %s failed (exit %d): %s", argv[1], res.status, strip_trailing(res.err));
                return -EIO;
        }
        if (ret_out)
                *ret_out = TAKE_PTR(res.out);
        return 0;
}

/* argv from a NULL-terminated list of strings after the subcommand, plus extra. */
static char **args(const char *sub, ...) {
        char **l = NULL;
        va_list ap;

        if (strv_extend(&l, "lvm") < 0 || strv_extend(&l, sub) < 0)
                return strv_free(l);
        va_start(ap, sub);
        for (const char *a; (a = va_arg(ap, const char *));)
                if (strv_extend(&l, a) < 0) {
                        va_end(ap);
                        return strv_free(l);
                }
        va_end(ap);
        return l;
}

static int run_args(char **argv, char **error) {
        _cleanup_strv_free_ char **a = argv;
        return a ? run(a, NULL, error) : -ENOMEM;
}

char *lvmcmd_lv_spec(const char *vg, const char *lv) {
        char *s;
        return asprintf(&s, "%s/%s", vg, lv) < 0 ? NULL : s;
}

int lvmcmd_pv_remove(const char *device, char **error) {
        return run_args(args("pvremove", device, NULL), error);
}

int lvmcmd_vg_create(const char *vg, const char *pv, char **error) {
        return run_args(args("vgcreate", "--addtag", "ceph", vg, pv, NULL), error);
}

int lvmcmd_vg_remove(const char *vg, char **error) {
        return run_args(args("vgremove", vg, NULL), error);
}

/* The first row of report section `section` ("vg", "lv") of lvm's JSON report. */
static json_object *first_row(json_object *report, const char *section) {
        json_object *l, *sec;

        if (!json_object_object_get_ex(report, "report", &l) || !json_object_is_type(l, json_type_array) ||
            json_object_array_length(l) < 1)
                return NULL;
        if (!json_object_object_get_ex(json_object_array_get_idx(l, 0), section, &sec) ||
            !json_object_is_type(sec, json_type_array) || json_object_array_length(sec) < 1)
                return NULL;
        return json_object_array_get_idx(sec, 0);
}

static int row_u64(json_object *row, const char *key, uint64_t *ret) {
        json_object *v;
        char *end;

        if (!json_object_object_get_ex(row, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        errno = 0;
        *ret = strtoull(json_object_get_string(v), &end, 10);
        return errno || *end || end == json_object_get_string(v) ? -EBADMSG : 0;
}

/* lvm's JSON report for one object; -ENOENT when lvm says it does not exist. */
static int report(char **argv, json_object **ret, char **error) {
        _cleanup_strv_free_ char **a = argv;
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r;

        if (!a)
                return -ENOMEM;
        r = run(a, &out, &err);
        if (r == -EIO && err && (strstr(err, "not found") || strstr(err, "Failed to find"))) {
                error_set(error, "%s", err);
                return -ENOENT;
        }
        if (r < 0) {
                error_set(error, "%s", strempty(err));
                return r;
        }
        *ret = json_tokener_parse(out);
        if (!*ret) {
                error_set(error, "lvm's report is not JSON");
                return -EBADMSG;
        }
        return 0;
}

int lvmcmd_vg_info(const char *vg, VgInfo *ret, char **error) {
        json_object *o = NULL, *row;
        VgInfo v;
        int r;

        r = report(args("vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
                        "vg_extent_size,vg_extent_count,vg_free_count", vg, NULL),
                   &o, error);
        if (r < 0)
                return r;
        row = first_row(o, "vg");
        r = row ? 0 : -ENOENT;
        if (r >= 0)
                r = row_u64(row, "vg_extent_size", &v.extent_size);
        if (r >= 0)
                r = row_u64(row, "vg_extent_count", &v.extent_count);
        if (r >= 0)
                r = row_u64(row, "vg_free_count", &v.free_count);
        json_object_put(o);
        if (r < 0) {
                error_set(error, "lvm's report on VG %s has no extent counts", vg);
                return r;
        }
        *ret = v;
        return 0;
}

int lvmcmd_lv_create(const char *vg, const char *lv, uint64_t extents, char *const *tags, char **error) {
        _cleanup_strv_free_ char **a = NULL;
        char n[32];

        if (extents > 0)
                snprintf(n, sizeof n, "%llu", (unsigned long long) extents);
        else
                snprintf(n, sizeof n, "100%%FREE");
        /* --yes answers only lvcreate's question about an old signature inside the new LV,
         * which lies in a VG this prepare just created or a ceph VG's free space. */
        a = args("lvcreate", "--yes", "--wipesignatures", "y", "-l", n, "-n", lv, NULL);
        STRV_FOREACH(t, tags)
                if (strv_extend(&a, "--addtag") < 0 || strv_extend(&a, *t) < 0)
                        return -ENOMEM;
        if (!a || strv_extend(&a, vg) < 0)
                return -ENOMEM;
        return run(a, NULL, error);
}

int lvmcmd_lv_remove(const char *vg, const char *lv, char **error) {
        _cleanup_free_ char *spec = lvmcmd_lv_spec(vg, lv);
        return spec ? run_args(args("lvremove", "--yes", spec, NULL), error) : -ENOMEM;
}

int lvmcmd_lv_activate(const char *vg, const char *lv, char **error) {
        _cleanup_free_ char *spec = lvmcmd_lv_spec(vg, lv);
        return spec ? run_args(args("lvchange", "-ay", spec, NULL), error) : -ENOMEM;
}

int lvmcmd_lv_tags(char *const *lvs, char *const *addtags, char *const *deltags, char **error) {
        _cleanup_strv_free_ char **a = args("lvchange", NULL);

        if (!a)
                return -ENOMEM;
        STRV_FOREACH(t, deltags)
                if (strv_extend(&a, "--deltag") < 0 || strv_extend(&a, *t) < 0)
                        return -ENOMEM;
        STRV_FOREACH(t, addtags)
                if (strv_extend(&a, "--addtag") < 0 || strv_extend(&a, *t) < 0)
                        return -ENOMEM;
        if (strv_length(a) == 2 || strv_isempty(lvs))
                return 0;
        STRV_FOREACH(lv, lvs)
                if (strv_extend(&a, *lv) < 0)
                        return -ENOMEM;
        return run(a, NULL, error);
}

int lvmcmd_lv_uuid(const char *vg, const char *lv, char **ret, char **error) {
        _cleanup_free_ char *spec = lvmcmd_lv_spec(vg, lv);
        json_object *o = NULL, *row, *v;
        int r;

        if (!spec)
                return -ENOMEM;
        r = report(args("lvs", "--reportformat", "json", "-o", "lv_uuid", spec, NULL), &o, error);
        if (r < 0)
                return r;
        row = first_row(o, "lv");
        if (!row || !json_object_object_get_ex(row, "lv_uuid", &v) || !json_object_is_type(v, json_type_string)) {
                json_object_put(o);
                error_set(error, "lvm's report on %s has no uuid", spec);
                return -ENOENT;
        }
        *ret = strdup(json_object_get_string(v));
        json_object_put(o);
        return *ret ? 0 : -ENOMEM;
}
