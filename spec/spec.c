/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cephadm's OSD service specs read from YAML with libyaml. A first pass over libyaml's events
 * bounds the stream (documents, nesting) and refuses anchors, aliases and explicit tags; a
 * second loads each document and checks it key by key against what cephadm accepts
 * (ceph.deployment.drive_group, service_spec) and what castle supports, so that a spec is
 * either taken whole or refused with the key and its line. */
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/macro.h"
#include "proto/codec.h"
#include "spec/spec.h"

_Static_assert(SPEC_YAML_MAX == CODEC_MAX_DOCUMENT_LEN, "an apply the parser takes passes the codec whole");

/* Nesting of sequences and mappings: a spec is four deep (spec, data_devices, paths, path). */
#define SPEC_DEPTH_MAX 16u
/* service_id: an intent key "spec/<service_id>". */
#define SPEC_NAME_MAX 64u
/* Other strings (model, vendor, label, host pattern, device class, paths). */
#define SPEC_VALUE_MAX 255u
/* osds_per_device, db_slots, wal_slots. */
#define SPEC_COUNT_MAX 64u
/* Keys of one mapping. */
#define SPEC_KEYS_MAX 64u
/* placement.hosts and a selection's paths. */
#define SPEC_LIST_MAX 1024u

typedef struct Ctx {
        yaml_document_t *doc;
        const char *name;               /* service_id once known, else "<unnamed>" */
        char *error;
        Castle__OsdSpec *s;
        char **seen;                    /* DriveGroupSpec keys given, top level or under spec: */
        size_t n_seen;
        bool objectstore_seen;
} Ctx;

_printf_(4, 5) static int fail(Ctx *c, const char *key, const yaml_node_t *n, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (c->error)
                return -EINVAL;
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (n)
                r = asprintf(&c->error, "spec %s: %s (line %zu): %s", c->name, key, n->start_mark.line + 1, msg);
        else
                r = asprintf(&c->error, "spec %s: %s: %s", c->name, key, msg);
        if (r < 0) {
                c->error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

static yaml_node_t *node(Ctx *c, int i) {
        return yaml_document_get_node(c->doc, i);
}

/* YAML 1.1's null as PyYAML resolves it: an empty plain scalar, ~, null. */
static bool is_null(const yaml_node_t *n) {
        const char *v;

        if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        v = (const char *) n->data.scalar.value;
        return n->data.scalar.length == 0 || streq(v, "~") || streq(v, "null") || streq(v, "Null") ||
               streq(v, "NULL");
}

static const char *kind(const yaml_node_t *n) {
        switch (n->type) {
        case YAML_MAPPING_NODE:
                return "a mapping";
        case YAML_SEQUENCE_NODE:
                return "a list";
        default:
                return "a scalar";
        }
}

static int get_str(Ctx *c, const char *key, const yaml_node_t *n, size_t max, const char **ret) {
        if (n->type != YAML_SCALAR_NODE)
                return fail(c, key, n, "must be a string, not %s", kind(n));
        if (n->data.scalar.length == 0)
                return fail(c, key, n, "must not be empty");
        if (n->data.scalar.length > max)
                return fail(c, key, n, "is longer than %zu bytes", max);
        if (strlen((const char *) n->data.scalar.value) != n->data.scalar.length)
                return fail(c, key, n, "holds a NUL character");
        for (size_t i = 0; i < n->data.scalar.length; i++)
                if ((unsigned char) n->data.scalar.value[i] < ' ' || n->data.scalar.value[i] == 0x7f)
                        return fail(c, key, n, "holds a control character");
        *ret = (const char *) n->data.scalar.value;
        return 0;
}

static int set_str(Ctx *c, const char *key, const yaml_node_t *n, size_t max, char **field) {
        const char *v;
        char *d;
        int r;

        r = get_str(c, key, n, max, &v);
        if (r < 0)
                return r;
        d = strdup(v);
        if (!d)
                return -ENOMEM;
        if (*field != protobuf_c_empty_string)
                free(*field);
        *field = d;
        return 0;
}

/* PyYAML's YAML 1.1 booleans; with numbers, also cephadm's rotational 0/1. */
static int get_bool(Ctx *c, const char *key, const yaml_node_t *n, bool numbers, bool *ret) {
        static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
        static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
        const char *v;

        if (n->type != YAML_SCALAR_NODE)
                goto bad;
        v = (const char *) n->data.scalar.value;
        if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
                /* all: "true", as some vendors' examples write it: cephadm reads any non-empty
                 * string as true, so a quoted "false" would mean true there: refused. */
                if (streq(v, "true") || streq(v, "True") || streq(v, "TRUE")) {
                        *ret = true;
                        return 0;
                }
                return fail(c, key, n, "is the string '%s', which cephadm would read as %s: write true or false, unquoted",
                            v, *v ? "true" : "false");
        }
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (streq(v, yes[i])) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (streq(v, no[i])) {
                        *ret = false;
                        return 0;
                }
        if (numbers && (streq(v, "1") || streq(v, "0"))) {
                *ret = streq(v, "1");
                return 0;
        }
bad:
        return fail(c, key, n, "must be true or false%s", numbers ? " (or 1 or 0)" : "");
}

/* A plain decimal integer, as YAML writes one (PyYAML also takes 0x, 0o and _: castle does not). */
static int get_uint(Ctx *c, const char *key, const yaml_node_t *n, uint64_t min, uint64_t max, uint64_t *ret) {
        const char *v;
        uint64_t x = 0;

        if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
            n->data.scalar.length == 0)
                goto bad;
        v = (const char *) n->data.scalar.value;
        if (*v == '+')
                v++;
        if (!*v)
                goto bad;
        for (; *v; v++) {
                if (!isdigit((unsigned char) *v))
                        goto bad;
                if (x > (UINT64_MAX - 9) / 10)
                        return fail(c, key, n, "is too large");
                x = x * 10 + (uint64_t) (*v - '0');
        }
        if (x < min || x > max)
                return fail(c, key, n, "must be between %" PRIu64 " and %" PRIu64, min, max);
        *ret = x;
        return 0;
bad:
        return fail(c, key, n, "must be a whole number");
}

/* cephadm's SizeMatcher grammar, anchored: "10G" (also "10.5G"), "10G:", ":2T", "10G:40G", with
 * units K M G T KB MB GB TB in capitals. cephadm's own regexes match a prefix and fail later
 * (or silently) on what follows; castle refuses such a string at once. */
static bool size_unit(const char *s, size_t n) {
        static const char *const units[] = { "K", "M", "G", "T", "KB", "MB", "GB", "TB" };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strlen(units[i]) == n && strncmp(s, units[i], n) == 0)
                        return true;
        return false;
}

/* One "NUMBER UNIT" at s, up to end; decimals only when allowed (cephadm takes them only in
 * the exact form). */
static bool size_term(const char *s, const char *end, bool decimals) {
        const char *p = s, *u;

        while (p < end && isdigit((unsigned char) *p))
                p++;
        if (p == s)
                return false;
        if (decimals && p < end && *p == '.') {
                p++;
                while (p < end && isdigit((unsigned char) *p))
                        p++;
        }
        u = p;
        while (p < end && isupper((unsigned char) *p))
                p++;
        return p == end && size_unit(u, (size_t) (p - u));
}

static bool size_filter_valid(const char *v) {
        const char *colon = strchr(v, ':'), *end = v + strlen(v);

        if (!colon)
                return size_term(v, end, true);
        if (strchr(colon + 1, ':'))
                return false;
        if (colon == v)
                return size_term(colon + 1, end, false);
        if (colon + 1 == end)
                return size_term(v, colon, false);
        return size_term(v, colon, false) && size_term(colon + 1, end, false);
}

/* ceph-volume's Size.parse (ceph_volume/util/disk.py): a number with an optional unit b, k, m,
 * g, t or p in either case, the last four optionally followed by b; powers of 1024. */
static int parse_cv_size(const char *v, uint64_t *ret) {
        static const char units[] = "bkmgtp";
        const char *p = v, *u;
        char *end;
        double x;
        int shift = 0;

        while (isdigit((unsigned char) *p))
                p++;
        if (p == v)
                return -EINVAL;
        if (*p == '.')
                for (p++; isdigit((unsigned char) *p);)
                        p++;
        if (*p) {
                u = strchr(units, tolower((unsigned char) *p));
                if (!u)
                        return -EINVAL;
                shift = (int) (u - units) * 10;
                p++;
                if (*p && !(shift > 0 && tolower((unsigned char) *p) == 'b' && !p[1]))
                        return -EINVAL;
        }
        errno = 0;
        x = strtod(v, &end);
        if (errno || !isfinite(x))
                return -EINVAL;
        x = ldexp(x, shift);
        if (!(x < 18446744073709551616.0))
                return -ERANGE;
        *ret = (uint64_t) x;
        return 0;
}

static int get_cv_size(Ctx *c, const char *key, const yaml_node_t *n, uint64_t *ret) {
        const char *v;
        int r;

        if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            n->data.scalar.length > 0 && strspn((const char *) n->data.scalar.value, "0123456789") == n->data.scalar.length)
                return get_uint(c, key, n, 0, UINT64_MAX, ret);
        if (n->type != YAML_SCALAR_NODE)
                return fail(c, key, n, "must be of type int or string");
        r = get_str(c, key, n, SPEC_VALUE_MAX, &v);
        if (r < 0)
                return r;
        r = parse_cv_size(v, ret);
        if (r < 0)
                return fail(c, key, n, "'%s' is not a size: bytes, or a number with a unit K, M, G, T or P (powers of 1024), as ceph-volume takes", v);
        return 0;
}

/* Keys cephadm knows that castle does not do, with the reason it gives. */
typedef struct Refused {
        const char *key;
        const char *why;
} Refused;

static const Refused refused_keys[] = {
        { "journal_devices", "is FileStore's; castle makes BlueStore OSDs only" },
        { "journal_size", "is FileStore's; castle makes BlueStore OSDs only" },
        { "data_directories", "is FileStore's; castle makes BlueStore OSDs only" },
        { "osd_id_claims", "is not supported: reuse OSD ids with castlectl cluster osd create" },
        { "preview_only", "is not supported: preview with castlectl cluster apply --dry-run or castlectl cluster plan" },
        { "extra_container_args", "is not supported: castle runs no containers" },
        { "extra_entrypoint_args", "is not supported: castle runs no containers" },
        { "custom_configs", "is not supported: castle runs no containers" },
        { "data_allocate_fraction", "is not supported: castle gives each OSD the whole of its share of a data device" },
        { "config", "is not supported: set Ceph options with ceph config set" },
        { "networks", "is not supported: OSDs take their networks from the cluster's configuration" },
};

static const Refused *refused(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(refused_keys); i++)
                if (streq(refused_keys[i].key, key))
                        return &refused_keys[i];
        return NULL;
}

/* ---- device selections ---- */

static void selection_freep(Castle__DeviceSelection **p) {
        if (*p)
                castle__device_selection__free_unpacked(*p, NULL);
}

static int add_string(char ***arr, size_t *n, const char *v) {
        char **a, *d;

        d = strdup(v);
        if (!d)
                return -ENOMEM;
        a = realloc(*arr, (*n + 1) * sizeof(char *));
        if (!a) {
                free(d);
                return -ENOMEM;
        }
        a[(*n)++] = d;
        *arr = a;
        return 0;
}

static int parse_paths(Ctx *c, const char *key, yaml_node_t *n, Castle__DeviceSelection *d) {
        _cleanup_free_ char *k = NULL;
        int r;

        if (asprintf(&k, "%s.paths", key) < 0)
                return -ENOMEM;
        if (n->type != YAML_SEQUENCE_NODE)
                return fail(c, k, n, "must be a list of device paths, not %s", kind(n));
        if (n->data.sequence.items.top - n->data.sequence.items.start > (ptrdiff_t) SPEC_LIST_MAX)
                return fail(c, k, n, "lists more than %u paths", SPEC_LIST_MAX);
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
                yaml_node_t *e = node(c, *i), *p = NULL;
                const char *v;

                if (e->type == YAML_MAPPING_NODE) {
                        /* cephadm's newer form: {path: /dev/sdb, crush_device_class: ssd} */
                        for (yaml_node_pair_t *q = e->data.mapping.pairs.start; q < e->data.mapping.pairs.top; q++) {
                                yaml_node_t *kn = node(c, q->key), *vn = node(c, q->value);
                                const char *name = kn->type == YAML_SCALAR_NODE ? (const char *) kn->data.scalar.value : "?";

                                if (streq(name, "path"))
                                        p = vn;
                                else if (streq(name, "crush_device_class"))
                                        return fail(c, k, kn, "crush_device_class per path is not supported: set crush_device_class for the spec");
                                else
                                        return fail(c, k, kn, "unknown key '%s' in a path entry", name);
                        }
                        if (!p)
                                return fail(c, k, e, "a path entry needs path:");
                } else
                        p = e;
                r = get_str(c, k, p, SPEC_VALUE_MAX, &v);
                if (r < 0)
                        return r;
                r = add_string(&d->paths, &d->n_paths, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_selection(Ctx *c, const char *key, yaml_node_t *n, Castle__DeviceSelection **ret) {
        _cleanup_(selection_freep) Castle__DeviceSelection *d = NULL;
        bool props = false;
        int r;

        if (is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return fail(c, key, n, "must be a mapping of filters, not %s", kind(n));
        if (n->data.mapping.pairs.top == n->data.mapping.pairs.start)
                return 0; /* cephadm: an empty selection is none */

        d = malloc(sizeof(*d));
        if (!d)
                return -ENOMEM;
        castle__device_selection__init(d);

        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
                _cleanup_free_ char *k = NULL;
                const char *name = (const char *) kn->data.scalar.value;
                uint64_t u;
                bool b = false;

                if (asprintf(&k, "%s.%s", key, name) < 0)
                        return -ENOMEM;
                if (is_null(vn))
                        continue; /* cephadm: None, as if not given */
                if (streq(name, "paths")) {
                        r = parse_paths(c, key, vn, d);
                        if (r < 0)
                                return r;
                } else if (streq(name, "all")) {
                        r = get_bool(c, k, vn, false, &b);
                        if (r < 0)
                                return r;
                        d->all = b;
                } else if (streq(name, "rotational")) {
                        r = get_bool(c, k, vn, true, &b);
                        if (r < 0)
                                return r;
                        d->rotational = b ? CASTLE__DEVICE_FILTER__TRI__YES : CASTLE__DEVICE_FILTER__TRI__NO;
                        props = true;
                } else if (streq(name, "size")) {
                        r = set_str(c, k, vn, SPEC_VALUE_MAX, &d->size);
                        if (r < 0)
                                return r;
                        if (!size_filter_valid(d->size))
                                return fail(c, k, vn,
                                            "Couldn't parse '%s': write 10G, 10G:, :2T or 10G:40G (units K M G T KB MB GB TB, in capitals)",
                                            d->size);
                        props = true;
                } else if (streq(name, "model")) {
                        r = set_str(c, k, vn, SPEC_VALUE_MAX, &d->model);
                        if (r < 0)
                                return r;
                        props = true;
                } else if (streq(name, "vendor")) {
                        r = set_str(c, k, vn, SPEC_VALUE_MAX, &d->vendor);
                        if (r < 0)
                                return r;
                        props = true;
                } else if (streq(name, "limit")) {
                        r = get_uint(c, k, vn, 0, UINT32_MAX, &u);
                        if (r < 0)
                                return r;
                        d->limit = (uint32_t) u;
                } else
                        return fail(c, k, kn, "Filtering for `%s` is not supported", name);
        }

        /* DeviceSelection.validate() */
        if (d->n_paths > 0 && props)
                return fail(c, key, n, "device selection: `paths` and other parameters are mutually exclusive");
        if (!d->all && d->n_paths == 0 && !props)
                return fail(c, key, n, "device selection cannot be empty");
        if (d->all && (d->n_paths > 0 || props))
                return fail(c, key, n, "device selection: `all` and other parameters are mutually exclusive");
        if (d->all && !streq(key, "data_devices"))
                return fail(c, key, n, "`all` is only allowed for data_devices");
        *ret = TAKE_PTR(d);
        return 0;
}

/* ---- placement ---- */

static bool valid_host(const char *h) {
        size_t n = strlen(h);

        if (n == 0 || n > 253)
                return false;
        for (const char *p = h; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '-' && *p != '.' && *p != '_')
                        return false;
        return true;
}

static int parse_hosts(Ctx *c, yaml_node_t *n) {
        Castle__OsdSpec *s = c->s;
        int r;

        if (n->type != YAML_SEQUENCE_NODE)
                return fail(c, "placement.hosts", n, "must be a list of host names, not %s", kind(n));
        if (n->data.sequence.items.top - n->data.sequence.items.start > (ptrdiff_t) SPEC_LIST_MAX)
                return fail(c, "placement.hosts", n, "lists more than %u hosts", SPEC_LIST_MAX);
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
                yaml_node_t *e = node(c, *i), *hn = e;
                _cleanup_free_ char *h = NULL;
                const char *v;

                if (e->type == YAML_MAPPING_NODE) {
                        /* HostPlacementSpec's JSON form: {hostname, network, name} */
                        hn = NULL;
                        for (yaml_node_pair_t *q = e->data.mapping.pairs.start; q < e->data.mapping.pairs.top; q++) {
                                yaml_node_t *kn = node(c, q->key);
                                const char *name = (const char *) kn->data.scalar.value;

                                if (streq(name, "hostname"))
                                        hn = node(c, q->value);
                                else if (!streq(name, "network") && !streq(name, "name"))
                                        return fail(c, "placement.hosts", kn, "unknown key '%s' in a host entry", name);
                        }
                        if (!hn)
                                return fail(c, "placement.hosts", e, "a host entry needs hostname:");
                }
                r = get_str(c, "placement.hosts", hn, SPEC_VALUE_MAX, &v);
                if (r < 0)
                        return r;
                /* "host:network=name": an OSD has neither a network of its own nor a daemon name
                 * to give; the host is what places it. */
                h = strndup(v, strcspn(v, ":="));
                if (!h)
                        return -ENOMEM;
                if (!valid_host(h))
                        return fail(c, "placement.hosts", hn, "'%s' is not a host name", h);
                r = add_string(&s->hosts, &s->n_hosts, h);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int set_host_pattern(Ctx *c, const char *key, yaml_node_t *n) {
        int r;

        if (n->type == YAML_MAPPING_NODE)
                return fail(c, key, n, "a pattern with pattern_type is not supported: write the fnmatch pattern as a string");
        r = set_str(c, key, n, SPEC_VALUE_MAX, &c->s->host_pattern);
        if (r < 0)
                return r;
        c->s->placement_all = streq(c->s->host_pattern, "*");
        return 0;
}

static int parse_placement(Ctx *c, yaml_node_t *n) {
        Castle__OsdSpec *s = c->s;
        int r;

        if (is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return fail(c, "placement", n, "must be a mapping, not %s", kind(n));
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
                const char *name = (const char *) kn->data.scalar.value;

                if (is_null(vn))
                        continue;
                if (streq(name, "hosts"))
                        r = parse_hosts(c, vn);
                else if (streq(name, "label"))
                        r = set_str(c, "placement.label", vn, SPEC_VALUE_MAX, &s->label);
                else if (streq(name, "host_pattern"))
                        r = set_host_pattern(c, "placement.host_pattern", vn);
                else if (streq(name, "count") || streq(name, "count_per_host"))
                        r = fail(c, streq(name, "count") ? "placement.count" : "placement.count_per_host", kn,
                                 "is not supported: an OSD spec places hosts, and the devices it selects make the OSDs");
                else {
                        _cleanup_free_ char *k = NULL;
                        if (asprintf(&k, "placement.%s", name) < 0)
                                return -ENOMEM;
                        r = fail(c, k, kn, "is not a key of a placement (hosts, label, host_pattern)");
                }
                if (r < 0)
                        return r;
        }
        if (s->n_hosts > 0 && !isempty(s->label))
                return fail(c, "placement", n, "Host and label are mutually exclusive");
        return 0;
}

/* ---- the spec's keys ---- */

static int seen(Ctx *c, const char *key, const yaml_node_t *kn) {
        char **a;

        for (size_t i = 0; i < c->n_seen; i++)
                if (streq(c->seen[i], key))
                        return fail(c, key, kn, "is given twice (at the top level and under spec:)");
        a = realloc(c->seen, (c->n_seen + 1) * sizeof(char *));
        if (!a)
                return -ENOMEM;
        c->seen = a;
        c->seen[c->n_seen++] = (char *) key; /* the key node's own text, alive with the document */
        return 0;
}

/* One of DriveGroupSpec's own keys, at the top level or under spec:. */
static int parse_feature(Ctx *c, yaml_node_t *kn, yaml_node_t *vn) {
        Castle__OsdSpec *s = c->s;
        const char *key = (const char *) kn->data.scalar.value, *v;
        const Refused *x;
        uint64_t u;
        bool b = false;
        int r;

        x = refused(key);
        if (x)
                return fail(c, key, kn, "%s", x->why);

        r = seen(c, key, kn);
        if (r < 0)
                return r;
        if (is_null(vn))
                return 0;

        if (streq(key, "data_devices"))
                return parse_selection(c, key, vn, &s->data_devices);
        if (streq(key, "db_devices"))
                return parse_selection(c, key, vn, &s->db_devices);
        if (streq(key, "wal_devices"))
                return parse_selection(c, key, vn, &s->wal_devices);
        if (streq(key, "filter_logic")) {
                r = get_str(c, key, vn, SPEC_VALUE_MAX, &v);
                if (r < 0)
                        return r;
                if (strcasecmp(v, "AND") != 0 && strcasecmp(v, "OR") != 0)
                        return fail(c, key, vn, "filter_logic must be either <AND> or <OR>");
                s->filter_logic_or = strcasecmp(v, "OR") == 0;
                return 0;
        }
        if (streq(key, "osds_per_device") || streq(key, "db_slots") || streq(key, "wal_slots")) {
                r = get_uint(c, key, vn, 1, SPEC_COUNT_MAX, &u);
                if (r < 0)
                        return r;
                *(streq(key, "osds_per_device") ? &s->osds_per_device :
                  streq(key, "db_slots")        ? &s->db_slots :
                                                  &s->wal_slots) = (uint32_t) u;
                return 0;
        }
        if (streq(key, "block_db_size"))
                return get_cv_size(c, key, vn, &s->block_db_size);
        if (streq(key, "block_wal_size"))
                return get_cv_size(c, key, vn, &s->block_wal_size);
        if (streq(key, "encrypted")) {
                r = get_bool(c, key, vn, false, &b);
                s->encrypted = b;
                return r;
        }
        if (streq(key, "unmanaged")) {
                r = get_bool(c, key, vn, false, &b);
                s->unmanaged = b;
                return r;
        }
        if (streq(key, "crush_device_class")) {
                r = set_str(c, key, vn, SPEC_NAME_MAX, &s->crush_device_class);
                if (r < 0)
                        return r;
                for (const char *p = s->crush_device_class; *p; p++)
                        if (!isalnum((unsigned char) *p) && !strchr("._-", *p))
                                return fail(c, key, vn, "'%s' is not a device class name ([A-Za-z0-9._-])",
                                            s->crush_device_class);
                return 0;
        }
        if (streq(key, "method")) {
                r = get_str(c, key, vn, SPEC_VALUE_MAX, &v);
                if (r < 0)
                        return r;
                if (!streq(v, "raw") && !streq(v, "lvm"))
                        return fail(c, key, vn, "method must be one of None, lvm, raw");
                return set_str(c, key, vn, SPEC_VALUE_MAX, &s->method);
        }
        if (streq(key, "objectstore")) {
                r = get_str(c, key, vn, SPEC_VALUE_MAX, &v);
                if (r < 0)
                        return r;
                if (!streq(v, "bluestore"))
                        return fail(c, key, vn, "%s is not supported. Must be one of ('bluestore')", v);
                return 0;
        }
        return fail(c, key, kn, "Feature `%s` is not supported: not a key of cephadm's OSD spec", key);
}

static bool is_feature(const char *key) {
        static const char *const features[] = {
                "data_devices", "db_devices", "wal_devices", "filter_logic", "osds_per_device", "db_slots",
                "wal_slots", "block_db_size", "block_wal_size", "encrypted", "unmanaged", "crush_device_class",
                "method", "objectstore",
        };

        for (size_t i = 0; i < ELEMENTSOF(features); i++)
                if (streq(features[i], key))
                        return true;
        return refused(key);
}

static int check_keys(Ctx *c, yaml_node_t *map, const char *where) {
        /* The duplicate check is quadratic: a spec's widest mapping has about twenty keys. */
        if (map->data.mapping.pairs.top - map->data.mapping.pairs.start > (ptrdiff_t) SPEC_KEYS_MAX)
                return fail(c, where, map, "a mapping of more than %u keys is not a spec", SPEC_KEYS_MAX);
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *kn = node(c, p->key);

                if (kn->type != YAML_SCALAR_NODE)
                        return fail(c, where, kn, "a key must be a string, not %s", kind(kn));
                for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
                        yaml_node_t *other = node(c, q->key);
                        if (streq((const char *) other->data.scalar.value, (const char *) kn->data.scalar.value))
                                return fail(c, (const char *) kn->data.scalar.value, kn, "is given twice");
                }
        }
        return 0;
}

/* Every mapping of the document has string keys, each once: the walks below rely on it. */
static int check_mappings(Ctx *c, yaml_node_t *n) {
        int r;

        if (n->type == YAML_MAPPING_NODE) {
                r = check_keys(c, n, "YAML");
                if (r < 0)
                        return r;
                for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                        r = check_mappings(c, node(c, p->value));
                        if (r < 0)
                                return r;
                }
        } else if (n->type == YAML_SEQUENCE_NODE)
                for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
                        r = check_mappings(c, node(c, *i));
                        if (r < 0)
                                return r;
                }
        return 0;
}

static bool valid_name(const char *v) {
        size_t n = strlen(v);

        if (n == 0 || n > SPEC_NAME_MAX)
                return false;
        for (const char *p = v; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("._-", *p))
                        return false;
        return true;
}

static yaml_node_t *lookup(Ctx *c, yaml_node_t *map, const char *key) {
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = node(c, p->key);
                if (k->type == YAML_SCALAR_NODE && streq((const char *) k->data.scalar.value, key))
                        return node(c, p->value);
        }
        return NULL;
}

static int parse_document(Ctx *c, yaml_node_t *root) {
        Castle__OsdSpec *s = c->s;
        yaml_node_t *n, *placement, *legacy;
        int r;

        if (root->type != YAML_MAPPING_NODE)
                return fail(c, "YAML", root, "a spec must be a mapping, not %s", kind(root));
        /* The name first, so that every later error can give it. */
        n = lookup(c, root, "service_id");
        if (!n || is_null(n))
                return fail(c, "service_id", root, "is required: it names the spec");
        r = set_str(c, "service_id", n, SPEC_VALUE_MAX, &s->service_id);
        if (r < 0)
                return r;
        if (!valid_name(s->service_id))
                return fail(c, "service_id", n, "'%s' is not a spec name: 1 to %u of A-Z a-z 0-9 . _ -",
                            s->service_id, SPEC_NAME_MAX);
        c->name = s->service_id;
        r = check_mappings(c, root);
        if (r < 0)
                return r;

        placement = lookup(c, root, "placement");
        legacy = lookup(c, root, "host_pattern");

        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
                yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
                const char *key = (const char *) kn->data.scalar.value;

                if (streq(key, "service_id"))
                        continue;
                if (streq(key, "service_type")) {
                        const char *v;
                        r = get_str(c, key, vn, SPEC_VALUE_MAX, &v);
                        if (r >= 0 && !streq(v, "osd"))
                                r = fail(c, key, vn, "is '%s': castle applies OSD specs only (service_type: osd)", v);
                } else if (streq(key, "service_name")) {
                        /* ceph orch ls --export writes it: osd.<service_id> */
                        const char *v;
                        r = get_str(c, key, vn, SPEC_VALUE_MAX, &v);
                        if (r >= 0 && (!startswith(v, "osd.") || !streq(v + 4, s->service_id)))
                                r = fail(c, key, vn, "is '%s', not osd.%s", v, s->service_id);
                } else if (streq(key, "placement"))
                        r = parse_placement(c, vn);
                else if (streq(key, "host_pattern")) {
                        /* pre-Octopus: cephadm moves it into placement when there is none */
                        if (placement)
                                r = fail(c, key, kn, "Feature `host_pattern` is not supported next to placement: move it into placement");
                        else
                                r = set_host_pattern(c, key, vn);
                } else if (streq(key, "spec")) {
                        if (is_null(vn))
                                continue;
                        if (vn->type != YAML_MAPPING_NODE)
                                r = fail(c, key, vn, "must be a mapping, not %s", kind(vn));
                        else
                                for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top; q++) {
                                        yaml_node_t *skn = node(c, q->key);
                                        const char *sk = (const char *) skn->data.scalar.value;

                                        if (!is_feature(sk) && (streq(sk, "placement") || streq(sk, "service_id") ||
                                                                streq(sk, "service_type")))
                                                r = fail(c, sk, skn, "belongs at the top level, not under spec:");
                                        else
                                                r = parse_feature(c, skn, node(c, q->value));
                                        if (r < 0)
                                                break;
                                }
                } else if (is_feature(key))
                        r = parse_feature(c, kn, vn);
                else
                        r = fail(c, key, kn, "is not a key of cephadm's OSD spec");
                if (r < 0)
                        return r;
        }

        /* DriveGroupSpec.validate() */
        if (isempty(s->host_pattern) && isempty(s->label) && s->n_hosts == 0)
                return fail(c, "placement", placement ?: legacy ?: root, "`placement` required");
        if (!s->data_devices)
                return fail(c, "data_devices", root, "`data_devices` element is required.");
        return 0;
}

/* ---- the stream ---- */

void spec_list_done(SpecList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                spec_free(l->specs[i]);
        free(l->specs);
        l->specs = NULL;
        l->n = 0;
}

void spec_free(Castle__OsdSpec *s) {
        if (s)
                castle__osd_spec__free_unpacked(s, NULL);
}

static int set_error(char **error, int r, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **error, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(error, fmt, ap) < 0) {
                *error = NULL;
                r = -ENOMEM;
        }
        va_end(ap);
        return r;
}

static int yaml_error(const yaml_parser_t *p, char **error) {
        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        return set_error(error, -EINVAL, "spec <unnamed>: YAML (line %zu): %s%s%s", p->problem_mark.line + 1,
                         p->context ?: "", p->context ? ": " : "", p->problem ?: "does not parse");
}

/* Bounds the stream from its events before anything is built from it. */
static int scan(const char *yaml, size_t size, char **error) {
        yaml_parser_t p;
        unsigned depth = 0, documents = 0;
        int r = 0;

        if (!yaml_parser_initialize(&p))
                return -ENOMEM;
        yaml_parser_set_input_string(&p, (const unsigned char *) yaml, size);
        for (bool done = false; !done && r >= 0;) {
                yaml_event_t e;
                const yaml_char_t *anchor = NULL, *tag = NULL;

                if (!yaml_parser_parse(&p, &e)) {
                        r = yaml_error(&p, error);
                        break;
                }
                switch (e.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (++documents > SPEC_DOCUMENTS_MAX)
                                r = set_error(error, -E2BIG, "spec <unnamed>: YAML (line %zu): more than %u documents",
                                              e.start_mark.line + 1, SPEC_DOCUMENTS_MAX);
                        break;
                case YAML_ALIAS_EVENT:
                        r = set_error(error, -EINVAL, "spec <unnamed>: YAML (line %zu): aliases (*%s) are not supported",
                                      e.start_mark.line + 1, (const char *) e.data.alias.anchor);
                        break;
                case YAML_SCALAR_EVENT:
                        anchor = e.data.scalar.anchor;
                        tag = e.data.scalar.tag;
                        break;
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        anchor = e.type == YAML_SEQUENCE_START_EVENT ? e.data.sequence_start.anchor
                                                                     : e.data.mapping_start.anchor;
                        tag = e.type == YAML_SEQUENCE_START_EVENT ? e.data.sequence_start.tag
                                                                  : e.data.mapping_start.tag;
                        if (++depth > SPEC_DEPTH_MAX)
                                r = set_error(error, -E2BIG, "spec <unnamed>: YAML (line %zu): nested deeper than %u",
                                              e.start_mark.line + 1, SPEC_DEPTH_MAX);
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        depth--;
                        break;
                default:
                        break;
                }
                if (r >= 0 && anchor)
                        r = set_error(error, -EINVAL, "spec <unnamed>: YAML (line %zu): anchors (&%s) are not supported",
                                      e.start_mark.line + 1, (const char *) anchor);
                if (r >= 0 && tag)
                        r = set_error(error, -EINVAL, "spec <unnamed>: YAML (line %zu): tags (%s) are not supported",
                                      e.start_mark.line + 1, (const char *) tag);
                yaml_event_delete(&e);
        }
        yaml_parser_delete(&p);
        return r;
}

/* The document's own lines: from its first line to its end mark (libyaml counts marks in
 * characters, lines are exact). */
static char *document_text(const char *yaml, size_t size, const yaml_document_t *d) {
        size_t line = 0, from = SIZE_MAX, to = size;

        for (size_t i = 0; i <= size; i++) {
                if (line == d->start_mark.line && from == SIZE_MAX)
                        from = i;
                if (line == d->end_mark.line) {
                        if (d->end_mark.column == 0) {
                                to = i;
                        } else {
                                const char *nl = memchr(yaml + i, '\n', size - i);
                                to = nl ? (size_t) (nl - yaml) + 1 : size;
                        }
                        break;
                }
                if (i < size && yaml[i] == '\n')
                        line++;
        }
        if (from == SIZE_MAX || to < from)
                from = to = 0;
        return strndup(yaml + from, to - from);
}

int spec_parse(const char *yaml, size_t size, SpecList *ret, char **error) {
        _cleanup_(spec_list_done) SpecList l = {};
        yaml_parser_t p;
        int r = 0;

        assert(yaml || size == 0);
        assert(ret);
        assert(error);

        *error = NULL;
        if (size > SPEC_YAML_MAX)
                return set_error(error, -E2BIG, "spec <unnamed>: YAML: the stream is %zu bytes, more than the %u allowed",
                                 size, SPEC_YAML_MAX);
        if (size == 0)
                return set_error(error, -EINVAL, "spec <unnamed>: YAML (line 1): the stream holds no spec");
        r = scan(yaml, size, error);
        if (r < 0)
                return r;

        l.specs = calloc(SPEC_DOCUMENTS_MAX, sizeof(Castle__OsdSpec *));
        if (!l.specs)
                return -ENOMEM;
        if (!yaml_parser_initialize(&p))
                return -ENOMEM;
        yaml_parser_set_input_string(&p, (const unsigned char *) yaml, size);
        for (;;) {
                yaml_document_t d;
                yaml_node_t *root;
                Castle__OsdSpec *s;
                Ctx c = { .doc = &d, .name = "<unnamed>" };

                if (!yaml_parser_load(&p, &d)) {
                        r = yaml_error(&p, error);
                        break;
                }
                root = yaml_document_get_root_node(&d);
                if (!root) {
                        yaml_document_delete(&d);
                        break; /* the stream's end */
                }
                if (is_null(root)) {
                        yaml_document_delete(&d);
                        continue; /* an empty document, as "---" at the end leaves */
                }
                s = malloc(sizeof(*s));
                if (!s) {
                        yaml_document_delete(&d);
                        r = -ENOMEM;
                        break;
                }
                castle__osd_spec__init(s);
                l.specs[l.n++] = s;
                c.s = s;
                r = parse_document(&c, root);
                if (r >= 0) {
                        s->yaml = document_text(yaml, size, &d);
                        if (!s->yaml)
                                r = -ENOMEM;
                }
                for (size_t i = 0; r >= 0 && i + 1 < l.n; i++)
                        if (streq(l.specs[i]->service_id, s->service_id))
                                r = fail(&c, "service_id", lookup(&c, root, "service_id"),
                                         "is given to two specs of the stream");
                free(c.seen);
                yaml_document_delete(&d);
                if (r < 0) {
                        *error = c.error;
                        if (!*error && r != -ENOMEM)
                                r = set_error(error, r, "spec %s: %s", c.name, strerror(-r));
                        break;
                }
        }
        yaml_parser_delete(&p);
        if (r < 0)
                return r;
        if (l.n == 0)
                return set_error(error, -EINVAL, "spec <unnamed>: YAML (line 1): the stream holds no spec");
        *ret = l;
        l = (SpecList) {};
        return 0;
}
