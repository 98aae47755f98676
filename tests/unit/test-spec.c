/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OSD spec parser: the examples of Ceph's "Advanced OSD Service Specifications" read as
 * cephadm reads them, a stream of several, and every kind of bad input refused with the spec's
 * name, the key and the line. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "spec/spec.h"

static int parse(const char *yaml, SpecList *l, char **error) {
        return spec_parse(yaml, strlen(yaml), l, error);
}

static void parse_ok(const char *yaml, SpecList *l) {
        _cleanup_free_ char *error = NULL;
        int r = parse(yaml, l, &error);

        if (r < 0)
                print_error("unexpected error %d: %s\n", r, error ?: "(none)");
        assert_int_equal(r, 0);
        assert_null(error);
}

/* Refused with r, and the message holds want (the name, key and line). */
static void parse_bad(const char *yaml, int r_want, const char *want) {
        _cleanup_free_ char *error = NULL;
        SpecList l = {};
        int r = parse(yaml, &l, &error);

        if (r >= 0 || !error || !strstr(error, want))
                print_error("got %d \"%s\", wanted %d \"%s\"\n", r, error ?: "(none)", r_want, want);
        assert_int_equal(r, r_want);
        assert_non_null(error);
        assert_non_null(strstr(error, want));
        assert_int_equal(l.n, 0);
}

static void test_docs_examples(void **state) {
        SpecList l = {};
        Castle__OsdSpec *s;

        /* The simplest: every available device of every host. */
        parse_ok("service_type: osd\n"
                 "service_id: default_drive_group\n"
                 "placement:\n"
                 "  host_pattern: '*'\n"
                 "data_devices:\n"
                 "  all: true\n",
                 &l);
        assert_int_equal(l.n, 1);
        s = l.specs[0];
        assert_string_equal(s->service_id, "default_drive_group");
        assert_true(s->placement_all);
        assert_string_equal(s->host_pattern, "*");
        assert_true(s->data_devices->all);
        assert_null(s->db_devices);
        assert_false(s->filter_logic_or);
        spec_list_done(&l);

        /* HDDs for data, SSDs for DB, under spec: as cephadm exports it. */
        parse_ok("service_type: osd\n"
                 "service_id: osd_spec_default\n"
                 "placement:\n"
                 "  host_pattern: '*'\n"
                 "spec:\n"
                 "  data_devices:\n"
                 "    rotational: 1\n"
                 "  db_devices:\n"
                 "    rotational: 0\n",
                 &l);
        s = l.specs[0];
        assert_int_equal(s->data_devices->rotational, CASTLE__DEVICE_FILTER__TRI__YES);
        assert_int_equal(s->db_devices->rotational, CASTLE__DEVICE_FILTER__TRI__NO);
        spec_list_done(&l);

        /* Model, size, limit, vendor; two specs in one stream, OR logic. */
        parse_ok("service_type: osd\n"
                 "service_id: osd_spec_hdd\n"
                 "placement:\n"
                 "  host_pattern: '*'\n"
                 "spec:\n"
                 "  data_devices:\n"
                 "    rotational: 1\n"
                 "  db_devices:\n"
                 "    model: MC-55-44-XZ\n"
                 "    limit: 2\n"
                 "---\n"
                 "service_type: osd\n"
                 "service_id: osd_spec_ssd\n"
                 "placement:\n"
                 "  host_pattern: '*'\n"
                 "spec:\n"
                 "  data_devices:\n"
                 "    model: MC-55-44-XZ\n"
                 "    size: '10G:40G'\n"
                 "  db_devices:\n"
                 "    vendor: VendorC\n"
                 "  filter_logic: or\n",
                 &l);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.specs[0]->db_devices->model, "MC-55-44-XZ");
        assert_int_equal(l.specs[0]->db_devices->limit, 2);
        assert_string_equal(l.specs[1]->data_devices->size, "10G:40G");
        assert_string_equal(l.specs[1]->db_devices->vendor, "VendorC");
        assert_true(l.specs[1]->filter_logic_or);
        /* each spec keeps its own document */
        assert_non_null(strstr(l.specs[0]->yaml, "osd_spec_hdd"));
        assert_null(strstr(l.specs[0]->yaml, "osd_spec_ssd"));
        assert_non_null(strstr(l.specs[1]->yaml, "service_id: osd_spec_ssd\n"));
        assert_null(strstr(l.specs[1]->yaml, "osd_spec_hdd"));
        assert_non_null(strstr(l.specs[1]->yaml, "filter_logic: or\n"));
        spec_list_done(&l);

        /* Explicit hosts and paths, the whole set of supported keys at the top level. */
        parse_ok("service_type: osd\n"
                 "service_id: osd_using_paths\n"
                 "placement:\n"
                 "  hosts:\n"
                 "    - node01\n"
                 "    - node02:10.0.0.0/8=osd-a\n"
                 "data_devices:\n"
                 "  paths:\n"
                 "    - /dev/sdb\n"
                 "    - path: /dev/sdc\n"
                 "db_devices:\n"
                 "  paths:\n"
                 "    - /dev/sdd\n"
                 "wal_devices:\n"
                 "  paths:\n"
                 "    - /dev/sde\n"
                 "osds_per_device: 2\n"
                 "db_slots: 4\n"
                 "wal_slots: 4\n"
                 "block_db_size: 10G\n"
                 "block_wal_size: 1073741824\n"
                 "encrypted: true\n"
                 "crush_device_class: ssd\n"
                 "method: lvm\n"
                 "objectstore: bluestore\n"
                 "unmanaged: false\n",
                 &l);
        s = l.specs[0];
        assert_int_equal(s->n_hosts, 2);
        assert_string_equal(s->hosts[0], "node01");
        assert_string_equal(s->hosts[1], "node02");
        assert_false(s->placement_all);
        assert_int_equal(s->data_devices->n_paths, 2);
        assert_string_equal(s->data_devices->paths[1], "/dev/sdc");
        assert_string_equal(s->wal_devices->paths[0], "/dev/sde");
        assert_int_equal(s->osds_per_device, 2);
        assert_int_equal(s->db_slots, 4);
        assert_int_equal(s->block_db_size, 10ull << 30);
        assert_int_equal(s->block_wal_size, 1ull << 30);
        assert_true(s->encrypted);
        assert_string_equal(s->crush_device_class, "ssd");
        assert_string_equal(s->method, "lvm");
        spec_list_done(&l);

        /* Label placement, pre-Octopus host_pattern at the top, raw, quoted "true" as vendors'
         * examples write it, and an empty document at the end. */
        parse_ok("service_type: osd\n"
                 "service_id: all-available-devices\n"
                 "encrypted: \"true\"\n"
                 "method: raw\n"
                 "host_pattern: 'ceph-*'\n"
                 "data_devices:\n"
                 "  all: \"true\"\n"
                 "---\n"
                 "service_type: osd\n"
                 "service_id: labelled\n"
                 "service_name: osd.labelled\n"
                 "placement:\n"
                 "  label: osd_host\n"
                 "data_devices:\n"
                 "  size: ':2T'\n"
                 "block_db_size: '1.5g'\n"
                 "---\n",
                 &l);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.specs[0]->host_pattern, "ceph-*");
        assert_true(l.specs[0]->encrypted);
        assert_true(l.specs[0]->data_devices->all);
        assert_string_equal(l.specs[1]->label, "osd_host");
        assert_int_equal(l.specs[1]->block_db_size, 3ull << 29);
        spec_list_done(&l);
        (void) state;
}

static void test_sizes(void **state) {
        static const char *const good[] = { "10G", "10.5G", "10GB", "10G:", ":2T", "10G:40G", "500MB:1TB", "1K" };
        static const char *const bad[] = { "10g", "10", "G", "10X", "10G:40", "10G40G", "10G:40G:", "1.5G:",
                                           "10 G", ":", "10P", "-1G" };
        char buf[256];

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                SpecList l = {};
                snprintf(buf, sizeof buf,
                         "service_type: osd\nservice_id: s\nplacement:\n  host_pattern: '*'\n"
                         "data_devices:\n  size: '%s'\n", good[i]);
                parse_ok(buf, &l);
                assert_string_equal(l.specs[0]->data_devices->size, good[i]);
                spec_list_done(&l);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(buf, sizeof buf,
                         "service_type: osd\nservice_id: s\nplacement:\n  host_pattern: '*'\n"
                         "data_devices:\n  size: '%s'\n", bad[i]);
                parse_bad(buf, -EINVAL, "spec s: data_devices.size (line 6): Couldn't parse");
        }
        parse_bad("service_type: osd\nservice_id: s\nplacement:\n  host_pattern: '*'\n"
                  "data_devices:\n  all: true\nblock_db_size: 10Q\n",
                  -EINVAL, "spec s: block_db_size (line 7): '10Q' is not a size");
        parse_bad("service_type: osd\nservice_id: s\nplacement:\n  host_pattern: '*'\n"
                  "data_devices:\n  all: true\nblock_wal_size: [1]\n",
                  -EINVAL, "spec s: block_wal_size (line 7): must be of type int or string");
        (void) state;
}

#define HEAD "service_type: osd\nservice_id: bad\nplacement:\n  host_pattern: '*'\n"

static void test_refused(void **state) {
        /* malformed YAML: libyaml's problem and line */
        parse_bad(HEAD "data_devices:\n  all: true\n  model: [x\n", -EINVAL, "spec <unnamed>: YAML (line 8)");
        parse_bad("service_id: a\n  b: c\n", -EINVAL, "spec <unnamed>: YAML (line 2): mapping values are not allowed");
        /* unknown keys, at each level */
        parse_bad(HEAD "data_devices:\n  all: true\nbogus: 1\n", -EINVAL,
                  "spec bad: bogus (line 7): is not a key of cephadm's OSD spec");
        parse_bad(HEAD "spec:\n  data_devices:\n    all: true\n  bogus: 1\n", -EINVAL,
                  "spec bad: bogus (line 8): Feature `bogus` is not supported");
        parse_bad(HEAD "data_devices:\n  all: true\n  serial: X\n", -EINVAL,
                  "spec bad: data_devices.serial (line 7): Filtering for `serial` is not supported");
        parse_bad(HEAD "  region: x\ndata_devices:\n  all: true\n", -EINVAL,
                  "spec bad: placement.region (line 5): is not a key of a placement");
        /* unsupported keys, by name */
        parse_bad(HEAD "data_devices:\n  all: true\njournal_devices:\n  rotational: 1\n", -EINVAL,
                  "spec bad: journal_devices (line 7): is FileStore's");
        parse_bad(HEAD "spec:\n  data_devices:\n    all: true\n  osd_id_claims:\n    host1: ['1']\n", -EINVAL,
                  "spec bad: osd_id_claims (line 8): is not supported");
        parse_bad(HEAD "data_devices:\n  all: true\nextra_container_args: [a]\n", -EINVAL,
                  "spec bad: extra_container_args (line 7)");
        parse_bad(HEAD "data_devices:\n  all: true\ndata_allocate_fraction: 0.5\n", -EINVAL,
                  "spec bad: data_allocate_fraction (line 7)");
        parse_bad(HEAD "data_devices:\n  all: true\npreview_only: true\n", -EINVAL, "spec bad: preview_only (line 7)");
        parse_bad(HEAD "  count: 3\ndata_devices:\n  all: true\n", -EINVAL, "spec bad: placement.count (line 5)");
        parse_bad(HEAD "data_devices:\n  all: true\nobjectstore: filestore\n", -EINVAL,
                  "spec bad: objectstore (line 7): filestore is not supported");
        /* wrong types and values */
        parse_bad(HEAD "data_devices: /dev/sdb\n", -EINVAL, "spec bad: data_devices (line 5): must be a mapping");
        parse_bad(HEAD "data_devices:\n  paths: /dev/sdb\n", -EINVAL, "spec bad: data_devices.paths (line 6): must be a list");
        parse_bad(HEAD "data_devices:\n  all: maybe\n", -EINVAL, "spec bad: data_devices.all (line 6): must be true or false");
        parse_bad(HEAD "data_devices:\n  all: 'false'\n", -EINVAL, "spec bad: data_devices.all (line 6): is the string 'false'");
        parse_bad(HEAD "data_devices:\n  rotational: 2\n", -EINVAL, "spec bad: data_devices.rotational (line 6)");
        parse_bad(HEAD "data_devices:\n  all: true\n  limit: -1\n", -EINVAL, "spec bad: data_devices.limit (line 7): must be a whole number");
        parse_bad(HEAD "data_devices:\n  all: true\nosds_per_device: 0\n", -EINVAL, "spec bad: osds_per_device (line 7): must be between 1 and 64");
        parse_bad(HEAD "data_devices:\n  all: true\nfilter_logic: XOR\n", -EINVAL, "spec bad: filter_logic (line 7): filter_logic must be either <AND> or <OR>");
        parse_bad(HEAD "data_devices:\n  all: true\nmethod: zfs\n", -EINVAL, "spec bad: method (line 7): method must be one of None, lvm, raw");
        parse_bad("service_type: mon\nservice_id: m\nplacement:\n  host_pattern: '*'\n", -EINVAL,
                  "spec m: service_type (line 1): is 'mon'");
        parse_bad("- a\n- b\n", -EINVAL, "spec <unnamed>: YAML (line 1): a spec must be a mapping");
        /* names */
        parse_bad("service_type: osd\nplacement:\n  host_pattern: '*'\n", -EINVAL,
                  "spec <unnamed>: service_id (line 1): is required");
        parse_bad("service_type: osd\nservice_id: a/b\n", -EINVAL, "spec <unnamed>: service_id (line 2): 'a/b' is not a spec name");
        parse_bad(HEAD "data_devices:\n  all: true\n---\n" HEAD "data_devices:\n  all: true\n", -EINVAL,
                  "spec bad: service_id (line 9): is given to two specs of the stream");
        /* cephadm's own validation */
        parse_bad(HEAD "db_devices:\n  rotational: 0\n", -EINVAL, "spec bad: data_devices (line 1): `data_devices` element is required.");
        parse_bad(HEAD "data_devices: {}\n", -EINVAL, "spec bad: data_devices (line 1): `data_devices` element is required.");
        parse_bad("service_type: osd\nservice_id: bad\ndata_devices:\n  all: true\n", -EINVAL,
                  "spec bad: placement (line 1): `placement` required");
        parse_bad("service_type: osd\nservice_id: bad\nplacement: {}\ndata_devices:\n  all: true\n", -EINVAL,
                  "spec bad: placement (line 3): `placement` required");
        parse_bad(HEAD "data_devices:\n  paths: [/dev/sdb]\n  model: X\n", -EINVAL,
                  "spec bad: data_devices (line 6): device selection: `paths` and other parameters are mutually exclusive");
        parse_bad(HEAD "data_devices:\n  all: true\n  size: 10G\n", -EINVAL,
                  "spec bad: data_devices (line 6): device selection: `all` and other parameters are mutually exclusive");
        parse_bad(HEAD "data_devices:\n  limit: 2\n", -EINVAL, "spec bad: data_devices (line 6): device selection cannot be empty");
        parse_bad(HEAD "data_devices:\n  rotational: 1\ndb_devices:\n  all: true\n", -EINVAL,
                  "spec bad: db_devices (line 8): `all` is only allowed for data_devices");
        parse_bad("service_type: osd\nservice_id: bad\nplacement:\n  hosts: [a]\n  label: x\ndata_devices:\n  all: true\n",
                  -EINVAL, "spec bad: placement (line 4): Host and label are mutually exclusive");
        parse_bad(HEAD "data_devices:\n  all: true\nspec:\n  encrypted: true\nencrypted: false\n", -EINVAL,
                  "spec bad: encrypted (line 9): is given twice");
        parse_bad(HEAD "data_devices:\n  all: true\ndata_devices:\n  all: true\n", -EINVAL,
                  "spec bad: data_devices (line 7): is given twice");
        parse_bad(HEAD "host_pattern: x\ndata_devices:\n  all: true\n", -EINVAL, "spec bad: host_pattern (line 5)");
        (void) state;
}

static void test_bounds(void **state) {
        _cleanup_free_ char *big = NULL, *many = NULL, *deep = NULL;
        size_t n = SPEC_YAML_MAX + 1;
        char *p;

        /* aliases and anchors: refused before anything is built (billion laughs) */
        parse_bad("a: &x [1, 2]\nb: [*x, *x]\n", -EINVAL, "spec <unnamed>: YAML (line 1): anchors (&x) are not supported");
        parse_bad("service_id: a\nb: *x\n", -EINVAL, "spec <unnamed>: YAML (line 2)");
        parse_bad("service_id: !!str a\n", -EINVAL, "spec <unnamed>: YAML (line 1): tags");

        /* over-size stream */
        big = malloc(n + 1);
        assert_non_null(big);
        memset(big, '#', n);
        big[n] = 0;
        parse_bad(big, -E2BIG, "spec <unnamed>: YAML: the stream is 262145 bytes");

        /* too many documents */
        many = malloc((SPEC_DOCUMENTS_MAX + 1) * 16 + 1);
        assert_non_null(many);
        p = many;
        for (unsigned i = 0; i <= SPEC_DOCUMENTS_MAX; i++)
                p += sprintf(p, "---\na: 1\n");
        parse_bad(many, -E2BIG, "more than 64 documents");

        /* nesting */
        deep = malloc(2 * 40 + 1);
        assert_non_null(deep);
        memset(deep, '[', 40);
        memset(deep + 40, ']', 40);
        deep[80] = 0;
        parse_bad(deep, -E2BIG, "nested deeper than");

        /* a mapping too wide to be a spec (the duplicate check is quadratic) */
        {
                _cleanup_free_ char *wide = malloc(65 * 16 + 64);
                char *w = wide;
                assert_non_null(wide);
                w += sprintf(w, "service_id: w\n");
                for (unsigned i = 0; i < 64; i++)
                        w += sprintf(w, "k%u: 1\n", i);
                parse_bad(wide, -EINVAL, "spec w: YAML (line 1): a mapping of more than 64 keys is not a spec");
        }
        {
                _cleanup_free_ char *error = NULL;
                SpecList l = {};
                assert_int_equal(spec_parse(NULL, 0, &l, &error), -EINVAL);
                assert_non_null(strstr(error, "the stream holds no spec"));
        }

        /* nothing at all */
        parse_bad("", -EINVAL, "the stream holds no spec");
        parse_bad("---\n...\n", -EINVAL, "the stream holds no spec");
        /* an embedded NUL */
        {
                static const char nul[] = "service_type: osd\nservice_id: a\0b\n";
                _cleanup_free_ char *error = NULL;
                SpecList l = {};
                assert_int_equal(spec_parse(nul, sizeof nul - 1, &l, &error), -EINVAL);
                assert_non_null(error);
        }
        (void) state;
}

/* A parsed spec sent to an agent (Command.specs) and an apply sent to the coordinator keep
 * their YAML whole through the codec's walk; over-long lists and documents are refused. */
static int command_of(Castle__OsdSpec *spec, Castle__Envelope **ret) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__SpecSet set = CASTLE__SPEC_SET__INIT;
        Castle__OsdSpec *specs[] = { spec };
        _cleanup_free_ uint8_t *b = NULL;
        size_t n;

        e.protocol_version = CASTLE_PROTOCOL_VERSION;
        e.body_case = CASTLE__ENVELOPE__BODY_COMMAND;
        e.command = &c;
        c.kind_case = CASTLE__COMMAND__KIND_SPECS;
        c.specs = &set;
        set.specs = specs;
        set.n_specs = 1;
        assert_int_equal(codec_pack(&e.base, &b, &n), 0);
        return codec_envelope_unpack(b, n, ret);
}

static void test_codec(void **state) {
        static const char yaml[] = "service_type: osd\nservice_id: wire\nplacement:\n  hosts: [a, b]\n"
                                   "data_devices:\n  paths:\n  - /dev/sdb\n";
        Castle__QueryRequest q = CASTLE__QUERY_REQUEST__INIT, *qback = NULL;
        Castle__SpecApply apply = CASTLE__SPEC_APPLY__INIT;
        _cleanup_free_ char *big = NULL, *error = NULL;
        _cleanup_free_ uint8_t *b = NULL;
        Castle__Envelope *back = NULL;
        SpecList l = {};
        char **hosts, *saved;
        size_t n;

        assert_int_equal(spec_parse(yaml, strlen(yaml), &l, &error), 0);
        assert_int_equal(command_of(l.specs[0], &back), 0);
        assert_string_equal(back->command->specs->specs[0]->yaml, yaml);
        assert_int_equal(back->command->specs->specs[0]->n_hosts, 2);
        castle__envelope__free_unpacked(back, NULL);

        /* past the bound of a spec's hosts */
        hosts = calloc(CODEC_MAX_SPEC_LIST + 1, sizeof(char *));
        assert_non_null(hosts);
        for (size_t i = 0; i <= CODEC_MAX_SPEC_LIST; i++)
                hosts[i] = (char *) "h";
        free(l.specs[0]->hosts[0]);
        free(l.specs[0]->hosts[1]);
        free(l.specs[0]->hosts);
        l.specs[0]->hosts = hosts;
        l.specs[0]->n_hosts = CODEC_MAX_SPEC_LIST;
        assert_int_equal(command_of(l.specs[0], &back), 0);
        castle__envelope__free_unpacked(back, NULL);
        l.specs[0]->n_hosts = CODEC_MAX_SPEC_LIST + 1;
        assert_int_equal(command_of(l.specs[0], &back), -E2BIG);
        l.specs[0]->hosts = NULL;
        l.specs[0]->n_hosts = 0;
        free(hosts);

        /* a document of the most an apply may send passes whole; one byte more is refused */
        big = malloc(SPEC_YAML_MAX + 2);
        assert_non_null(big);
        for (size_t i = 0; i < SPEC_YAML_MAX; i++)
                big[i] = i % 64 == 63 ? '\n' : '#';
        big[SPEC_YAML_MAX] = 0;
        saved = l.specs[0]->yaml;
        l.specs[0]->yaml = big;
        assert_int_equal(command_of(l.specs[0], &back), 0);
        assert_string_equal(back->command->specs->specs[0]->yaml, big);
        castle__envelope__free_unpacked(back, NULL);
        big[SPEC_YAML_MAX] = '#';
        big[SPEC_YAML_MAX + 1] = 0;
        assert_int_equal(command_of(l.specs[0], &back), -E2BIG);
        l.specs[0]->yaml = saved;

        /* castlectl's apply: the text arrives as written */
        q.protocol_version = CASTLE_PROTOCOL_VERSION;
        q.kind_case = CASTLE__QUERY_REQUEST__KIND_APPLY;
        q.apply = &apply;
        apply.yaml = (char *) yaml;
        assert_int_equal(codec_pack(&q.base, &b, &n), 0);
        assert_int_equal(codec_query_request_unpack(b, n, &qback), 0);
        assert_string_equal(qback->apply->yaml, yaml);
        castle__query_request__free_unpacked(qback, NULL);

        spec_list_done(&l);
        (void) state;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_docs_examples),
                cmocka_unit_test(test_sizes),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_codec),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
