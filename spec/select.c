/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cephadm's DriveSelection and PlacementSpec over the wire's Device records, line for line
 * (ceph/deployment/drive_selection/{selector,filter,matchers}.py), and the OSDs a spec makes
 * of the selection (ceph/deployment/translate.py: lvm batch --no-auto, or one raw prepare per
 * data device). Devices are seen as cephadm sees them through castle's ceph-volume inventory
 * (cli/cvformat.c): available, ceph_device (an LV tagged ceph.osd_id), the ceph.* tags of its
 * LVs, and sizes as ceph-volume's human-readable "10.00 GB" strings. */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "spec/select.h"

/* ---- placement ---- */

bool spec_places(const Castle__OsdSpec *s, const char *hostname, char *const *labels) {
        if (s->placement_all)
                return true;
        if (s->n_hosts > 0) {
                for (size_t i = 0; i < s->n_hosts; i++)
                        if (streq_ptr(s->hosts[i], hostname))
                                return true;
                return false;
        }
        if (!isempty(s->label))
                return strv_contains(labels, s->label);
        if (!isempty(s->host_pattern))
                /* Python's fnmatch: no backslash escapes, '*' crosses '/' and leading dots */
                return fnmatch(s->host_pattern, strempty(hostname), FNM_NOESCAPE) == 0;
        return true;
}

/* ---- what cephadm sees of a device (ceph-volume's inventory as cli/cvformat.c prints it) ---- */

static const char *lv_tag(const Castle__LogicalVolume *lv, const char *key) {
        for (size_t t = 0; t < lv->n_tags; t++)
                if (streq_ptr(lv->tags[t]->key, key))
                        return strempty(lv->tags[t]->value);
        return NULL;
}

static size_t n_lvs(const Castle__Device *d) {
        return d->lvm ? d->lvm->n_lvs : 0;
}

/* ceph-volume's ceph_device: one of its LVs has a ceph.osd_id tag */
static bool ceph_device(const Castle__Device *d) {
        for (size_t i = 0; i < n_lvs(d); i++)
                if (lv_tag(d->lvm->lvs[i], "ceph.osd_id"))
                        return true;
        return false;
}

/* selector.py: the first LV (of a ceph device) whose osdspec_affinity is not this spec's
 * name; "" when none (or when that LV's affinity is empty, as cephadm's break has it). */
static const char *other_affinity(const Castle__Device *d, const char *service_id) {
        for (size_t i = 0; i < n_lvs(d); i++) {
                const Castle__LogicalVolume *lv = d->lvm->lvs[i];
                const char *a;

                if (!lv_tag(lv, "ceph.osd_id")) /* cvformat reports only ceph LVs' tags */
                        continue;
                a = lv_tag(lv, "ceph.osdspec_affinity");
                if (a && !streq(a, strempty(service_id)))
                        return a;
        }
        return "";
}

/* ceph-volume's human_readable_size (util/disk.py), as cvformat.c prints it */
static const char *const human_suffix[] = { "B", "KB", "MB", "GB", "TB", "PB" };

static void human_size(uint64_t bytes, char *buf, size_t size) {
        double v = (double) bytes;
        size_t i = 0;

        while (v >= 1024 && i < ELEMENTSOF(human_suffix) - 1) {
                v /= 1024;
                i++;
        }
        snprintf(buf, size, "%.2f %s", v, human_suffix[i]);
}

/* ---- SizeMatcher ---- */

typedef struct SizeBound {
        bool set;
        char number[32];
        double factor;
} SizeBound;

typedef struct SizeFilter {
        SizeBound low, high, exact;
} SizeFilter;

static double unit_factor(const char *u, size_t n) {
        static const struct {
                const char *name;
                double factor;
        } units[] = {
                { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
                { "K", 1e3 },  { "M", 1e6 },  { "G", 1e9 },  { "T", 1e12 },
        };
        char up[8];

        if (n == 0 || n >= sizeof up)
                return 0;
        for (size_t i = 0; i < n; i++)
                up[i] = (u[i] >= 'a' && u[i] <= 'z') ? (char) (u[i] - 'a' + 'A') : u[i];
        up[n] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(up, units[i].name))
                        return units[i].factor;
        return 0;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}
static bool is_upper(char c) {
        return c >= 'A' && c <= 'Z';
}
static bool is_alpha(char c) {
        return is_upper(c) || (c >= 'a' && c <= 'z');
}

/* _get_k_v over s[0..n): the first \d+\.?\d* and the first [a-zA-Z]+, normalised */
static int size_bound(const char *s, size_t n, SizeBound *ret, const char *value, char **error) {
        size_t i = 0, start, len;
        const char *u = NULL;
        size_t un = 0;

        while (i < n && !is_digit(s[i]))
                i++;
        start = i;
        while (i < n && is_digit(s[i]))
                i++;
        if (i < n && s[i] == '.') {
                i++;
                while (i < n && is_digit(s[i]))
                        i++;
        }
        len = i - start;
        for (size_t j = 0; j < n; j++)
                if (is_alpha(s[j])) {
                        u = s + j;
                        while (j + un < n && is_alpha(s[j + un]))
                                un++;
                        break;
                }
        if (len == 0 || len >= sizeof ret->number || !u) {
                error_set(error, "Couldn't parse %s", value);
                return -EINVAL;
        }
        *ret = (SizeBound) { .set = true, .factor = unit_factor(u, un) };
        if (ret->factor == 0) {
                error_set(error, "Unit '%.*s' not supported", (int) un, u);
                return -EINVAL;
        }
        memcpy(ret->number, s + start, len);
        ret->number[len] = 0;
        return 0;
}

/* How much of s a regex \d+[A-Z]{1,2} matches, followed by `next` when that is not 0; 0 when
 * it does not match. The digits cannot give way to a capital, so only the capitals backtrack. */
static size_t num_unit(const char *s, char next) {
        size_t i = 0;

        while (is_digit(s[i]))
                i++;
        if (i == 0 || !is_upper(s[i]))
                return 0;
        if (next == 0)
                return i + (is_upper(s[i + 1]) ? 2 : 1);
        if (is_upper(s[i + 1]) && s[i + 2] == next)
                return i + 2;
        return s[i + 1] == next ? i + 1 : 0;
}

/* SizeMatcher._parse_filter */
static int size_filter_parse(const char *v, SizeFilter *ret, char **error) {
        SizeFilter f = {};
        size_t a, b, i;
        int r;

        /* 1) LOW:HIGH, a prefix match */
        a = num_unit(v, ':');
        if (a > 0 && (b = num_unit(v + a + 1, 0)) > 0) {
                r = size_bound(v, a, &f.low, v, error);
                if (r >= 0)
                        r = size_bound(v + a + 1, b, &f.high, v, error);
                if (r < 0)
                        return r;
        }
        /* 2) LOW: */
        if (a > 0 && v[a + 1] == 0) {
                r = size_bound(v, a + 1, &f.low, v, error);
                if (r < 0)
                        return r;
        }
        /* 3) :HIGH, a prefix match */
        if (v[0] == ':' && (b = num_unit(v + 1, 0)) > 0) {
                r = size_bound(v, b + 1, &f.high, v, error);
                if (r < 0)
                        return r;
        }
        /* 4) EXACT: ^\d+\.?\d*[A-Z]{1,2}$ */
        i = 0;
        while (is_digit(v[i]))
                i++;
        if (i > 0) {
                size_t j = i, u = 0;
                if (v[j] == '.') {
                        j++;
                        while (is_digit(v[j]))
                                j++;
                }
                while (is_upper(v[j + u]))
                        u++;
                if (u >= 1 && u <= 2 && v[j + u] == 0) {
                        r = size_bound(v, j + u, &f.exact, v, error);
                        if (r < 0)
                                return r;
                }
        }
        if (!f.low.set && !f.high.set && !f.exact.set) {
                error_set(error, "Couldn't parse %s", v);
                return -EINVAL;
        }
        *ret = f;
        return 0;
}

static double bound_bytes(const SizeBound *b) {
        return strtod(b->number, NULL) * b->factor;
}

/* SizeMatcher.compare against the device's human-readable size. Units cephadm cannot parse
 * (B below 1 KiB, PB from 1 PiB) are compared in castle with their decimal factors where
 * cephadm raises "Unit 'PB' not supported" for the whole spec (docs/specs.md). */
static bool size_matches(const SizeFilter *f, uint64_t bytes) {
        char human[48], *unit;
        double disk, factor;

        human_size(bytes, human, sizeof human);
        unit = strchr(human, ' ');
        factor = streq(unit + 1, "B") ? 1 : streq(unit + 1, "PB") ? 1e15 : unit_factor(unit + 1, strlen(unit + 1));
        *unit = 0;
        disk = strtod(human, NULL) * factor;

        if (f->high.set && f->low.set)
                return disk <= bound_bytes(&f->high) && disk >= bound_bytes(&f->low);
        if (f->low.set)
                return disk >= bound_bytes(&f->low);
        if (f->high.set)
                return disk <= bound_bytes(&f->high);
        return disk == bound_bytes(&f->exact);
}

/* ---- DriveSelection ---- */

/* Why a device was not taken, in words; the first pass that looked at it (data_devices)
 * explains it. */
typedef struct Why {
        char **reasons;
} Why;

static int why_add(Why *w, const char *format, ...) _printf_(2, 3);
static int why_add(Why *w, const char *format, ...) {
        va_list ap;
        char *s;
        int r;

        if (!w || w->reasons)
                return 0;
        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return strv_consume(&w->reasons, s);
}

static int why_add_list(Why *w, char **l) {
        if (!w || w->reasons)
                return strv_free(l), 0;
        w->reasons = l;
        return 0;
}

typedef struct Selector {
        const Castle__OsdSpec *spec;
        const Castle__Device **disks; /* still unassigned, by path */
        size_t n_disks;
        Castle__Device *const *all;
        size_t n_all;
        unsigned existing;
        Why *why;                     /* per device of all[], or NULL */
} Selector;

static size_t index_of(const Selector *sel, const Castle__Device *d) {
        for (size_t i = 0; i < sel->n_all; i++)
                if (sel->all[i] == d)
                        return i;
        return 0;
}

static const Castle__Device *find_path(Castle__Device *const *all, size_t n, const char *path) {
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(all[i]->path, path))
                        return all[i];
        for (size_t i = 0; i < n; i++)
                for (size_t l = 0; l < all[i]->n_links; l++)
                        if (streq_ptr(all[i]->links[l], path))
                                return all[i];
        return NULL;
}

static int cmp_path(const void *a, const void *b) {
        const Castle__Device *const *x = a, *const *y = b;
        int c = strcmp(strempty((*x)->path), strempty((*y)->path));

        /* a stable sort, as Python's: equal paths keep their order (pointers of one array) */
        return c != 0 ? c : (*x < *y ? -1 : *x > *y);
}

/* Each matcher of filter.py's FilterGenerator, in its order: whether it matches, and when it
 * does not, why. */
static int run_filters(const Castle__DeviceSelection *f, const SizeFilter *size, const Castle__Device *d,
                       bool or_logic, bool *ret, char ***ret_why) {
        _cleanup_strv_free_ char **why = NULL;
        bool any = false, all = true;
        char buf[256], human[48];

        for (int m = 0; m < 5; m++) {
                bool match;

                switch (m) {
                case 0:
                        if (isempty(f->size))
                                continue;
                        match = size_matches(size, d->size);
                        human_size(d->size, human, sizeof human);
                        snprintf(buf, sizeof buf, "size %s is not %s%s", human, strchr(f->size, ':') ? "in " : "",
                                 f->size);
                        break;
                case 1:
                        if (isempty(f->model))
                                continue;
                        match = strstr(strempty(d->model), f->model);
                        snprintf(buf, sizeof buf, "model does not match '%s'", f->model);
                        break;
                case 2:
                        if (isempty(f->vendor))
                                continue;
                        match = strstr(strempty(d->vendor), f->vendor);
                        snprintf(buf, sizeof buf, "vendor does not match '%s'", f->vendor);
                        break;
                case 3:
                        if (f->rotational == CASTLE__DEVICE_FILTER__TRI__ANY)
                                continue;
                        match = d->rotational == (f->rotational == CASTLE__DEVICE_FILTER__TRI__YES);
                        snprintf(buf, sizeof buf, "%s", d->rotational ? "rotational" : "not rotational");
                        break;
                default:
                        if (!f->all)
                                continue;
                        match = true;
                        break;
                }
                any = any || match;
                all = all && match;
                if (!match && strv_extend(&why, buf) < 0)
                        return -ENOMEM;
                /* Python's all()/any() stop at the first answer */
                if ((!or_logic && !match) || (or_logic && match))
                        break;
        }
        *ret = or_logic ? any : all;
        if (or_logic && !any && strv_length(why) == 0 && strv_extend(&why, "no filter given") < 0)
                return -ENOMEM;
        *ret_why = TAKE_PTR(why);
        return 0;
}

/* DriveSelection.assign_devices */
static int assign(Selector *sel, const char *name, const Castle__DeviceSelection *f, bool first,
                  const Castle__Device ***ret, size_t *ret_n, char **error) {
        _cleanup_free_ const Castle__Device **taken = NULL;
        SizeFilter size = {};
        bool size_parsed = false;
        size_t n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (!f || !sel->spec->data_devices)
                return 0;
        if (f->n_paths > 0) {
                taken = calloc(f->n_paths, sizeof *taken);
                if (!taken)
                        return -ENOMEM;
                for (size_t i = 0; i < f->n_paths; i++) {
                        taken[i] = find_path(sel->all, sel->n_all, f->paths[i]);
                        if (!taken[i]) {
                                error_set(error, "spec %s: %s: %s is not a device of this node",
                                          sel->spec->service_id, name, f->paths[i]);
                                return -ENODEV;
                        }
                }
                /* cephadm returns the paths as written and leaves them to the next role */
                for (size_t i = 0; first && sel->why && i < sel->n_all; i++) {
                        bool in = false;
                        for (size_t j = 0; j < f->n_paths; j++)
                                in = in || taken[j] == sel->all[i];
                        if (!in && (r = why_add(&sel->why[i], "not in %s paths", name)) < 0)
                                return r;
                }
                *ret_n = f->n_paths;
                *ret = TAKE_PTR(taken);
                return 0;
        }
        taken = calloc(sel->n_disks ?: 1, sizeof *taken);
        if (!taken)
                return -ENOMEM;
        for (size_t i = 0; i < sel->n_disks; i++) {
                const Castle__Device *d = sel->disks[i];
                Why *w = first && sel->why ? &sel->why[index_of(sel, d)] : NULL;
                _cleanup_strv_free_ char **no = NULL;
                bool cephdev = ceph_device(d), match;
                const char *other;

                if (!d->available && !cephdev) {
                        for (size_t k = 0; w && !w->reasons && k < d->n_reasons; k++)
                                if (strv_extend(&no, strempty(d->reasons[k]->message)) < 0)
                                        return -ENOMEM;
                        if (!no && (r = why_add(w, "not available")) < 0)
                                return r;
                        why_add_list(w, TAKE_PTR(no));
                        continue;
                }
                if (!d->available && cephdev && n_lvs(d) > 0 &&
                    !isempty(other = other_affinity(d, sel->spec->service_id))) {
                        if ((r = why_add(w, "used by spec %s", other)) < 0)
                                return r;
                        continue;
                }
                if (isempty(d->path))
                        continue;
                if (f->limit > 0 && n + sel->existing >= f->limit) {
                        /* cephadm stops here: no later device is looked at */
                        for (size_t j = i; first && sel->why && j < sel->n_disks; j++)
                                if ((r = why_add(&sel->why[index_of(sel, sel->disks[j])], "limit %u reached",
                                                 f->limit)) < 0)
                                        return r;
                        break;
                }
                /* cephadm makes its SizeMatcher (and fails on a bad size) for each device
                 * that gets this far, not before */
                if (!isempty(f->size) && !size_parsed) {
                        r = size_filter_parse(f->size, &size, error);
                        if (r < 0) {
                                _cleanup_free_ char *e = error ? TAKE_PTR(*error) : NULL;
                                error_set(error, "spec %s: %s: size: %s", sel->spec->service_id, name,
                                          strempty(e));
                                return r;
                        }
                        size_parsed = true;
                }
                r = run_filters(f, &size, d, sel->spec->filter_logic_or, &match, &no);
                if (r < 0)
                        return r;
                if (!match) {
                        why_add_list(w, TAKE_PTR(no));
                        continue;
                }
                taken[n++] = d;
        }
        /* taken devices are not assigned again */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < sel->n_disks; j++)
                        if (sel->disks[j] == taken[i]) {
                                memmove(sel->disks + j, sel->disks + j + 1,
                                        (sel->n_disks - j - 1) * sizeof *sel->disks);
                                sel->n_disks--;
                                break;
                        }
        /* already in path order: cephadm's sorted() changes nothing */
        *ret_n = n;
        *ret = n > 0 ? TAKE_PTR(taken) : NULL;
        return 0;
}

void spec_selection_done(SpecSelection *s) {
        free(s->data);
        free(s->db);
        free(s->wal);
        *s = (SpecSelection) {};
}

static int select_run(const Castle__OsdSpec *s, Castle__Device *const *devices, size_t n_devices,
                      unsigned existing, Why *why, SpecSelection *ret, char **error) {
        _cleanup_free_ const Castle__Device **disks = NULL;
        _cleanup_(spec_selection_done) SpecSelection sel = {};
        Selector st = {
                .spec = s,
                .all = devices,
                .n_all = n_devices,
                .existing = existing,
                .why = why,
        };
        int r;

        disks = calloc(n_devices ?: 1, sizeof *disks);
        if (!disks)
                return -ENOMEM;
        memcpy(disks, devices, n_devices * sizeof *disks);
        /* ceph's Devices keeps the inventory sorted by path */
        qsort(disks, n_devices, sizeof *disks, cmp_path);
        st.disks = disks;
        st.n_disks = n_devices;

        /* cephadm's order: data, then WAL, then DB */
        r = assign(&st, "data_devices", s->data_devices, true, &sel.data, &sel.n_data, error);
        if (r >= 0)
                r = assign(&st, "wal_devices", s->wal_devices, false, &sel.wal, &sel.n_wal, error);
        if (r >= 0)
                r = assign(&st, "db_devices", s->db_devices, false, &sel.db, &sel.n_db, error);
        if (r < 0)
                return r;
        *ret = sel;
        sel = (SpecSelection) {};
        return 0;
}

int spec_select(const Castle__OsdSpec *s, Castle__Device *const *devices, size_t n_devices,
                unsigned existing_daemons, SpecSelection *ret, char **error) {
        return select_run(s, devices, n_devices, existing_daemons, NULL, ret, error);
}

/* ---- the plan ---- */

/* The OSDs on a device: the ids of its main (block) volumes, each once */
static size_t osds_on(const Castle__Device *d, int32_t *ids, size_t max) {
        const char *uuids[64];
        size_t n = 0;

        for (size_t i = 0; i < d->n_ceph && n < MIN(max, ELEMENTSOF(uuids)); i++) {
                const Castle__CephFacts *c = d->ceph[i];
                bool seen = false;

                if (!streq_ptr(c->type, "block") || isempty(c->osd_uuid))
                        continue;
                for (size_t j = 0; j < n; j++)
                        seen = seen || streq(uuids[j], c->osd_uuid);
                if (seen)
                        continue;
                uuids[n] = c->osd_uuid;
                ids[n++] = c->osd_id;
        }
        return n;
}

/* cephadm's existing_daemons: the OSDs of this spec on the node, known by their LVs'
 * ceph.osdspec_affinity tag */
static unsigned spec_daemons(const Castle__OsdSpec *s, Castle__Device *const *devices, size_t n) {
        _cleanup_strv_free_ char **seen = NULL;

        for (size_t i = 0; i < n; i++)
                for (size_t l = 0; l < n_lvs(devices[i]); l++) {
                        const Castle__LogicalVolume *lv = devices[i]->lvm->lvs[l];
                        const char *a = lv_tag(lv, "ceph.osdspec_affinity"), *t = lv_tag(lv, "ceph.type"),
                                   *fsid = lv_tag(lv, "ceph.osd_fsid");
                        if (a && streq(a, strempty(s->service_id)) && streq_ptr(t, "block") && !isempty(fsid))
                                (void) strv_extend_unique(&seen, fsid);
                }
        return strv_length(seen);
}

static char *dup_str(const char *s) {
        return isempty(s) ? (char *) protobuf_c_empty_string : strdup(s);
}

void spec_node_plan_free(Castle__NodePlan *p) {
        if (p)
                protobuf_c_message_free_unpacked(&p->base, NULL);
}

static int add_skipped(Castle__NodePlan *p, const Castle__Device *d, char **reasons) {
        Castle__SkippedDevice *k, **a;

        a = realloc(p->skipped, (p->n_skipped + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        p->skipped = a;
        k = malloc(sizeof *k);
        if (!k)
                return -ENOMEM;
        castle__skipped_device__init(k);
        p->skipped[p->n_skipped++] = k;
        k->device = dup_str(d ? d->path : NULL);
        k->stable_id = dup_str(d ? d->stable_id : NULL);
        k->n_reasons = strv_length(reasons);
        k->reasons = calloc(k->n_reasons ?: 1, sizeof(char *));
        if (!k->device || !k->stable_id || !k->reasons)
                return -ENOMEM;
        for (size_t i = 0; i < k->n_reasons; i++)
                if (!(k->reasons[i] = strdup(reasons[i])))
                        return -ENOMEM;
        return 0;
}

static int add_strv(char ***a, size_t *n, const char *s) {
        char **b = realloc(*a, (*n + 1) * sizeof *b);

        if (!b)
                return -ENOMEM;
        *a = b;
        b[*n] = strdup(strempty(s));
        if (!b[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* A fast device role's slots: db_slots when given, else the OSDs it serves spread evenly
 * (ceph-volume lvm batch); each slot must hold `want` bytes when it is set. */
static int fast_slots(const Castle__OsdSpec *s, const char *what, const Castle__Device **fast, size_t n_fast,
                      size_t users, unsigned given, uint64_t want, unsigned *ret, char **error) {
        unsigned slots;

        if (n_fast == 0)
                return 0;
        slots = given ?: (unsigned) ((users + n_fast - 1) / n_fast);
        slots = slots ?: 1;
        if ((size_t) slots * n_fast < users) {
                error_set(error, "spec %s: %s_slots %u on %zu %s devices is fewer than the %zu OSDs", s->service_id,
                          what, slots, n_fast, what, users);
                return -ENOSPC;
        }
        for (size_t i = 0; i < n_fast; i++)
                if (want > 0 && want > fast[i]->size / slots) {
                        error_set(error,
                                  "spec %s: block_%s_size %" PRIu64 " does not fit %s: %u slots of %" PRIu64 " bytes",
                                  s->service_id, what, want, fast[i]->path, slots, fast[i]->size / slots);
                        return -ENOSPC;
                }
        *ret = slots;
        return 0;
}

static int layout(const Castle__OsdSpec *s, const SpecSelection *sel, Castle__NodePlan *p, char **error) {
        bool raw = streq_ptr(s->method, "raw");
        unsigned per = s->osds_per_device ?: 1, db_slots = 1, wal_slots = 1;
        size_t users = sel->n_data * per, n_new = 0;
        Castle__OsdCreate *c;
        int r;

        if (sel->n_data == 0)
                return 0;
        if (raw && per > 1) {
                error_set(error, "spec %s: osds_per_device %u: method raw makes one OSD per device", s->service_id,
                          per);
                return -EINVAL;
        }
        if (raw && ((sel->n_db > 0 && sel->n_db != sel->n_data) || (sel->n_wal > 0 && sel->n_wal != sel->n_data))) {
                error_set(error,
                          "spec %s: method raw pairs each data device with one %s device: %zu data, %zu %s devices",
                          s->service_id, sel->n_db > 0 && sel->n_db != sel->n_data ? "DB" : "WAL", sel->n_data,
                          sel->n_db > 0 && sel->n_db != sel->n_data ? sel->n_db : sel->n_wal,
                          sel->n_db > 0 && sel->n_db != sel->n_data ? "DB" : "WAL");
                return -EINVAL;
        }
        if (!raw) {
                r = fast_slots(s, "db", sel->db, sel->n_db, users, s->db_slots, s->block_db_size, &db_slots, error);
                if (r >= 0)
                        r = fast_slots(s, "wal", sel->wal, sel->n_wal, users, s->wal_slots, s->block_wal_size,
                                       &wal_slots, error);
                if (r < 0)
                        return r;
        }

        p->osds = calloc(users, sizeof *p->osds);
        if (!p->osds)
                return -ENOMEM;
        for (size_t i = 0; i < sel->n_data; i++) {
                const Castle__Device *d = sel->data[i];
                int32_t ids[64];
                size_t have = osds_on(d, ids, ELEMENTSOF(ids));

                for (unsigned k = 0; k < per; k++) {
                        size_t n = p->n_osds;
                        Castle__PlannedOsd *o = malloc(sizeof *o);
                        const Castle__Device *db = NULL, *wal = NULL;

                        if (!o)
                                return -ENOMEM;
                        castle__planned_osd__init(o);
                        p->osds[p->n_osds++] = o;
                        o->data = dup_str(d->path);
                        o->data_id = dup_str(d->stable_id);
                        o->data_size = d->size / per;
                        o->encrypted = s->encrypted;
                        o->exists = k < have;
                        o->osd_id = o->exists ? ids[k] : -1;
                        o->crush_device_class = dup_str(s->crush_device_class);
                        if (sel->n_db > 0) {
                                db = raw ? sel->db[i] : sel->db[n / db_slots];
                                o->db = dup_str(db->path);
                                o->db_size = raw ? db->size : s->block_db_size ?: db->size / db_slots;
                        }
                        if (sel->n_wal > 0) {
                                wal = raw ? sel->wal[i] : sel->wal[n / wal_slots];
                                o->wal = dup_str(wal->path);
                                o->wal_size = raw ? wal->size : s->block_wal_size ?: wal->size / wal_slots;
                        }
                        if (!o->data || !o->data_id || !o->crush_device_class || !o->db || !o->wal)
                                return -ENOMEM;
                        n_new += !o->exists;
                }
        }
        if (n_new == 0 || s->unmanaged)
                return 0;

        c = malloc(sizeof *c);
        if (!c)
                return -ENOMEM;
        castle__osd_create__init(c);
        p->create = c;
        c->lvm = !raw;
        c->dmcrypt = s->encrypted;
        c->osds_per_device = s->osds_per_device;
        c->block_db_size = raw ? 0 : s->block_db_size;
        c->block_wal_size = raw ? 0 : s->block_wal_size;
        c->db_slots = raw ? 0 : s->db_slots;
        c->wal_slots = raw ? 0 : s->wal_slots;
        c->crush_device_class = dup_str(s->crush_device_class);
        c->spec = dup_str(s->service_id);
        if (!c->crush_device_class || !c->spec)
                return -ENOMEM;
        /* LVM: every data device, so that the batch lays out the same slots and skips the
         * OSDs that exist; raw: the devices (and their pairs) still without an OSD */
        for (size_t i = 0; i < sel->n_data; i++) {
                const Castle__Device *d = sel->data[i];

                if (raw && p->osds[i]->exists)
                        continue;
                if (isempty(c->device_id)) {
                        c->device_id = dup_str(d->stable_id);
                        if (!c->device_id)
                                return -ENOMEM;
                } else if (add_strv(&c->data_devices, &c->n_data_devices, d->stable_id) < 0)
                        return -ENOMEM;
                if (raw && sel->n_db > 0 && add_strv(&c->db_devices, &c->n_db_devices, sel->db[i]->stable_id) < 0)
                        return -ENOMEM;
                if (raw && sel->n_wal > 0 && add_strv(&c->wal_devices, &c->n_wal_devices, sel->wal[i]->stable_id) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; !raw && i < sel->n_db; i++)
                if (add_strv(&c->db_devices, &c->n_db_devices, sel->db[i]->stable_id) < 0)
                        return -ENOMEM;
        for (size_t i = 0; !raw && i < sel->n_wal; i++)
                if (add_strv(&c->wal_devices, &c->n_wal_devices, sel->wal[i]->stable_id) < 0)
                        return -ENOMEM;
        return 0;
}

/* Whether an OSD of the plan uses d */
static bool used(const Castle__NodePlan *p, const Castle__Device *d) {
        for (size_t i = 0; i < p->n_osds; i++)
                if (streq_ptr(p->osds[i]->data, d->path) || streq_ptr(p->osds[i]->db, d->path) ||
                    streq_ptr(p->osds[i]->wal, d->path))
                        return true;
        return false;
}

/* The role a selection gave d, when no OSD uses it (no data device was selected) */
static const char *role(const SpecSelection *sel, const Castle__Device *d) {
        for (size_t i = 0; i < sel->n_db; i++)
                if (sel->db[i] == d)
                        return "selected as a DB device, but no data device is";
        for (size_t i = 0; i < sel->n_wal; i++)
                if (sel->wal[i] == d)
                        return "selected as a WAL device, but no data device is";
        return NULL;
}

int spec_plan_node(const Castle__OsdSpec *s, const char *node_id, const char *hostname, char *const *labels,
                   Castle__Device *const *devices, size_t n_devices, Castle__NodePlan **ret) {
        _cleanup_(spec_selection_done) SpecSelection sel = {};
        _cleanup_free_ char *error = NULL;
        Castle__NodePlan *p;
        Why *why = NULL;
        int r;

        p = malloc(sizeof *p);
        if (!p)
                return -ENOMEM;
        castle__node_plan__init(p);
        p->service_id = dup_str(s->service_id);
        p->node_id = dup_str(node_id);
        p->hostname = dup_str(hostname);
        if (!p->service_id || !p->node_id || !p->hostname) {
                r = -ENOMEM;
                goto fail;
        }
        if (!spec_places(s, hostname, labels)) {
                char *reason[] = { (char *) "not placed on this host", NULL };
                r = add_skipped(p, NULL, reason);
                if (r < 0)
                        goto fail;
                *ret = p;
                return 0;
        }
        p->placed = true;

        why = calloc(n_devices ?: 1, sizeof *why);
        if (!why) {
                r = -ENOMEM;
                goto fail;
        }
        r = select_run(s, devices, n_devices, spec_daemons(s, devices, n_devices), why, &sel, &error);
        if (r == -ENOMEM)
                goto fail;
        if (r >= 0) {
                r = layout(s, &sel, p, &error);
                if (r == -ENOMEM)
                        goto fail;
        }
        if (r < 0) {
                /* nothing is made of a spec that cannot be laid out */
                for (size_t i = 0; i < p->n_osds; i++)
                        protobuf_c_message_free_unpacked(&p->osds[i]->base, NULL);
                p->osds = mfree(p->osds);
                p->n_osds = 0;
                if (p->create)
                        protobuf_c_message_free_unpacked(&p->create->base, NULL);
                p->create = NULL;
                p->error = strdup(error ?: "cannot be laid out");
                if (!p->error) {
                        p->error = (char *) protobuf_c_empty_string;
                        r = -ENOMEM;
                        goto fail;
                }
                spec_selection_done(&sel);
        }
        for (size_t i = 0; i < n_devices; i++) {
                char *fallback[] = { (char *) (role(&sel, devices[i]) ?: "not selected"), NULL };
                if (used(p, devices[i]))
                        continue;
                r = add_skipped(p, devices[i], role(&sel, devices[i]) || !why[i].reasons ? fallback : why[i].reasons);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < n_devices; i++)
                strv_free(why[i].reasons);
        free(why);
        *ret = p;
        return 0;
fail:
        for (size_t i = 0; why && i < n_devices; i++)
                strv_free(why[i].reasons);
        free(why);
        spec_node_plan_free(p);
        return r;
}
