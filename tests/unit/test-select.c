/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spec/select.c: placement, each filter of cephadm's DriveSelection, its size grammar and
 * rounding, limit with existing daemons, OR logic, paths, and the per-node plan (lvm and raw
 * layouts, existing OSDs, errors, skipped devices with their reasons). The oracle test
 * (tests/oracle) compares the selection with Ceph's own Python over many more cases. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/select.h"

#define GIB (1024ull * 1024 * 1024)
#define MAXDEV 16

/* Messages built on the stack and in static arrays: never freed by protobuf-c. */
typedef struct Node {
        Castle__Device dev[MAXDEV];
        Castle__Device *ptr[MAXDEV];
        Castle__Reason reason[MAXDEV], *reasons[MAXDEV][1];
        Castle__LvmFacts lvm[MAXDEV];
        Castle__LogicalVolume lv[MAXDEV], *lvs[MAXDEV][1];
        Castle__LogicalVolume__Tag tag[MAXDEV][4], *tags[MAXDEV][4];
        Castle__CephFacts ceph[MAXDEV], *cephs[MAXDEV][1];
        char path[MAXDEV][32], id[MAXDEV][32];
        size_t n;
} Node;

static Castle__Device *add(Node *node, const char *kname, uint64_t size, bool rot, const char *model,
                           const char *vendor) {
        size_t i = node->n++;
        Castle__Device *d = &node->dev[i];

        castle__device__init(d);
        snprintf(node->path[i], sizeof node->path[i], "/dev/%s", kname);
        snprintf(node->id[i], sizeof node->id[i], "id-%s", kname);
        d->kname = (char *) kname;
        d->path = node->path[i];
        d->stable_id = node->id[i];
        d->size = size;
        d->rotational = rot;
        d->model = (char *) model;
        d->vendor = (char *) vendor;
        d->available = true;
        node->ptr[i] = d;
        return d;
}

static void unavailable(Node *node, Castle__Device *d, const char *why) {
        size_t i = (size_t) (d - node->dev);

        d->available = false;
        castle__reason__init(&node->reason[i]);
        node->reason[i].message = (char *) why;
        node->reasons[i][0] = &node->reason[i];
        d->reasons = node->reasons[i];
        d->n_reasons = 1;
}

/* An LVM OSD on d (unavailable, a ceph device), made by spec `affinity` (NULL: no tag) */
static void lvm_osd(Node *node, Castle__Device *d, int osd_id, const char *affinity) {
        size_t i = (size_t) (d - node->dev);
        static char ids[MAXDEV][8], fsids[MAXDEV][16];
        const char *kv[][2] = { { "ceph.osd_id", ids[i] },
                                { "ceph.osd_fsid", fsids[i] },
                                { "ceph.type", "block" },
                                { "ceph.osdspec_affinity", affinity } };
        size_t n = affinity ? 4 : 3;

        unavailable(node, d, "LVM detected");
        snprintf(ids[i], sizeof ids[i], "%d", osd_id);
        snprintf(fsids[i], sizeof fsids[i], "fsid-%d", osd_id);
        for (size_t t = 0; t < n; t++) {
                castle__logical_volume__tag__init(&node->tag[i][t]);
                node->tag[i][t].key = (char *) kv[t][0];
                node->tag[i][t].value = (char *) kv[t][1];
                node->tags[i][t] = &node->tag[i][t];
        }
        castle__logical_volume__init(&node->lv[i]);
        node->lv[i].name = (char *) "osd-block";
        node->lv[i].tags = node->tags[i];
        node->lv[i].n_tags = n;
        node->lvs[i][0] = &node->lv[i];
        castle__lvm_facts__init(&node->lvm[i]);
        node->lvm[i].vg_name = (char *) "ceph-vg";
        node->lvm[i].lvs = node->lvs[i];
        node->lvm[i].n_lvs = 1;
        d->lvm = &node->lvm[i];
        castle__ceph_facts__init(&node->ceph[i]);
        node->ceph[i].type = (char *) "block";
        node->ceph[i].osd_uuid = fsids[i];
        node->ceph[i].osd_id = osd_id;
        node->cephs[i][0] = &node->ceph[i];
        d->ceph = node->cephs[i];
        d->n_ceph = 1;
}

typedef struct Spec {
        Castle__OsdSpec s;
        Castle__DeviceSelection data, db, wal;
} Spec;

static void spec_init(Spec *sp, const char *name) {
        castle__osd_spec__init(&sp->s);
        castle__device_selection__init(&sp->data);
        castle__device_selection__init(&sp->db);
        castle__device_selection__init(&sp->wal);
        sp->s.service_id = (char *) name;
        sp->s.placement_all = true;
        sp->s.data_devices = &sp->data;
}

/* The selection's paths, "data|db|wal", each space-separated; or "ERR:<errno>" */
static char *selected(const Spec *sp, Node *node, unsigned existing) {
        SpecSelection sel = {};
        char *error = NULL, *buf = calloc(1, 1024);
        int r = spec_select(&sp->s, node->ptr, node->n, existing, &sel, &error);

        assert_non_null(buf);
        if (r < 0) {
                snprintf(buf, 1024, "ERR:%d", -r);
                assert_non_null(error);
                free(error);
                return buf;
        }
        for (size_t i = 0; i < sel.n_data; i++)
                strcat(strcat(buf, i ? " " : ""), sel.data[i]->path + 5);
        strcat(buf, "|");
        for (size_t i = 0; i < sel.n_db; i++)
                strcat(strcat(buf, i ? " " : ""), sel.db[i]->path + 5);
        strcat(buf, "|");
        for (size_t i = 0; i < sel.n_wal; i++)
                strcat(strcat(buf, i ? " " : ""), sel.wal[i]->path + 5);
        spec_selection_done(&sel);
        return buf;
}

#define assert_selects(sp, node, existing, want)                      \
        do {                                                          \
                char *_got = selected(sp, node, existing);            \
                assert_string_equal(_got, want);                      \
                free(_got);                                           \
        } while (0)

static void test_placement(void **state) {
        Spec sp;
        char *labels[] = { (char *) "osd", (char *) "fast", NULL };
        char *hosts[] = { (char *) "node1", (char *) "node3" };

        spec_init(&sp, "a");
        assert_true(spec_places(&sp.s, "anything", NULL));
        sp.s.placement_all = false;
        assert_true(spec_places(&sp.s, "anything", NULL)); /* an empty placement: every host */
        sp.s.hosts = hosts;
        sp.s.n_hosts = 2;
        assert_true(spec_places(&sp.s, "node3", NULL));
        assert_false(spec_places(&sp.s, "node2", labels));
        sp.s.n_hosts = 0;
        sp.s.label = (char *) "fast";
        assert_true(spec_places(&sp.s, "x", labels));
        assert_false(spec_places(&sp.s, "x", NULL));
        sp.s.label = (char *) "";
        sp.s.host_pattern = (char *) "node[12]*";
        assert_true(spec_places(&sp.s, "node1.example", NULL));
        assert_false(spec_places(&sp.s, "node3", NULL));
        /* Python's fnmatch: a backslash is an ordinary character, '*' crosses '/' and dots */
        sp.s.host_pattern = (char *) "a\\*";
        assert_true(spec_places(&sp.s, "a\\x", NULL));
        assert_false(spec_places(&sp.s, "a*", NULL));
        sp.s.host_pattern = (char *) "*";
        assert_true(spec_places(&sp.s, ".hidden/x", NULL));
}

static void test_filters(void **state) {
        Node node = {};
        Spec sp;

        add(&node, "sdc", 4000 * GIB, true, "ST4000NM", "SEAGATE");
        add(&node, "sda", 960 * GIB, false, "MZ7LH960", "ATA");
        add(&node, "nvme0n1", 1600 * GIB, false, "SAMSUNG MZQL2", "");
        spec_init(&sp, "a");
        sp.data.all = true;
        assert_selects(&sp, &node, 0, "nvme0n1 sda sdc||"); /* in path order */
        sp.data.all = false;
        sp.data.model = (char *) "MZ";
        assert_selects(&sp, &node, 0, "nvme0n1 sda||");
        sp.data.model = (char *) "mz"; /* case-sensitive, as cephadm */
        assert_selects(&sp, &node, 0, "||");
        sp.data.model = (char *) "";
        sp.data.vendor = (char *) "ATA";
        assert_selects(&sp, &node, 0, "sda||");
        sp.data.vendor = (char *) "";
        sp.data.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        assert_selects(&sp, &node, 0, "sdc||");
        sp.data.rotational = CASTLE__DEVICE_FILTER__TRI__NO;
        assert_selects(&sp, &node, 0, "nvme0n1 sda||");
        /* AND: every filter; OR: any */
        sp.data.model = (char *) "ST4000";
        assert_selects(&sp, &node, 0, "||");
        sp.s.filter_logic_or = true;
        assert_selects(&sp, &node, 0, "nvme0n1 sda sdc||");
        /* data taken first, then WAL, then DB, each from what is left */
        sp.s.filter_logic_or = false;
        sp.data.model = (char *) "";
        sp.data.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        sp.s.db_devices = &sp.db;
        sp.db.rotational = CASTLE__DEVICE_FILTER__TRI__NO;
        sp.s.wal_devices = &sp.wal;
        sp.wal.vendor = (char *) "ATA";
        assert_selects(&sp, &node, 0, "sdc|nvme0n1|sda");
        /* without data_devices nothing is selected */
        sp.s.data_devices = NULL;
        assert_selects(&sp, &node, 0, "||");
}

static const char *size_case(uint64_t bytes, const char *filter) {
        Node node = {};
        Spec sp;
        char *got;
        static char buf[64];

        add(&node, "sda", bytes, true, "M", "V");
        spec_init(&sp, "a");
        sp.data.size = (char *) filter;
        got = selected(&sp, &node, 0);
        snprintf(buf, sizeof buf, "%s", streq(got, "sda||") ? "yes" : streq(got, "||") ? "no" : got);
        free(got);
        return buf;
}

static void test_size(void **state) {
        /* 10 GiB is "10.00 GB" for ceph-volume, read back as 10e9 bytes */
        assert_string_equal(size_case(10 * GIB, "10G"), "yes");
        assert_string_equal(size_case(10 * GIB, "10GB"), "yes");
        assert_string_equal(size_case(10 * GIB + 1, "10G"), "yes"); /* rounds to 10.00 */
        assert_string_equal(size_case(10 * GIB + GIB / 100, "10G"), "no"); /* 10.01 GB */
        assert_string_equal(size_case(10 * GIB, "10.00G"), "yes");
        assert_string_equal(size_case(10 * GIB, "10G:"), "yes");
        assert_string_equal(size_case(10 * GIB, "11G:"), "no");
        assert_string_equal(size_case(10 * GIB, ":10G"), "yes");
        assert_string_equal(size_case(10 * GIB, ":9G"), "no");
        assert_string_equal(size_case(10 * GIB, "9G:11G"), "yes");
        assert_string_equal(size_case(10 * GIB, "10G:10G"), "yes");
        assert_string_equal(size_case(10 * GIB, "11G:20G"), "no");
        /* 1 GiB less a byte is "1024.00 MB" = 1.024e9: bigger than 1G, the same as 1 GiB's "1.00 GB"
         * is not */
        assert_string_equal(size_case(GIB - 1, "1G:"), "yes");
        assert_string_equal(size_case(GIB - 1, "1024M"), "yes");
        assert_string_equal(size_case(GIB, "1024M"), "no");
        assert_string_equal(size_case(GIB - 10 * 1024 * 1024, "1014M"), "yes"); /* 1014.00 MB */
        /* 4 TiB is "4.00 TB" = 4e12: below 4000G + 1 */
        assert_string_equal(size_case(4096 * GIB, ":4000G"), "yes");
        assert_string_equal(size_case(4096 * GIB, "4001G:"), "no");
        /* the grammar: units K M G T with an optional B, upper case; exact values may have a
         * decimal point, bounds may not */
        assert_string_equal(size_case(GIB, "1g"), "ERR:22");
        assert_string_equal(size_case(GIB, "1P"), "ERR:22");
        assert_string_equal(size_case(GIB, "1XB"), "ERR:22");
        assert_string_equal(size_case(GIB, "1.5G:"), "ERR:22");
        assert_string_equal(size_case(GIB, "G"), "ERR:22");
        assert_string_equal(size_case(GIB, "1KB:2TB"), "yes");
        /* castle compares what cephadm cannot: human sizes in PB (from 1 PiB) and B (below
         * 1 KiB) with decimal factors (docs/specs.md) */
        assert_string_equal(size_case(1024 * 1024 * GIB, "1000T:"), "yes");
        assert_string_equal(size_case(1024 * 1024 * GIB, ":999T"), "no");
        assert_string_equal(size_case(1000, ":1K"), "yes");
}

static void test_size_error_lazy(void **state) {
        Node node = {};
        Spec sp;

        /* cephadm fails on a bad size only when a device reaches the filter */
        add(&node, "sda", GIB, true, "M", "V")->available = false;
        spec_init(&sp, "a");
        sp.data.size = (char *) "10X";
        assert_selects(&sp, &node, 0, "||");
        node.dev[0].available = true;
        assert_selects(&sp, &node, 0, "ERR:22");
}

static void test_limit(void **state) {
        Node node = {};
        Spec sp;

        add(&node, "sda", 10 * GIB, true, "HDD", "V");
        add(&node, "sdb", 10 * GIB, false, "SSD", "V");
        add(&node, "sdc", 10 * GIB, true, "HDD", "V");
        add(&node, "sdd", 10 * GIB, true, "HDD", "V");
        spec_init(&sp, "a");
        sp.data.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        sp.data.limit = 2;
        assert_selects(&sp, &node, 0, "sda sdc||");
        /* existing daemons count against the limit */
        assert_selects(&sp, &node, 1, "sda||");
        assert_selects(&sp, &node, 2, "||");
        /* the limit is checked before the filters, and stops the walk */
        sp.data.limit = 1;
        sp.s.db_devices = &sp.db;
        sp.db.all = false;
        sp.db.limit = 1;
        sp.db.model = (char *) "HDD";
        assert_selects(&sp, &node, 0, "sda|sdc|");
        assert_selects(&sp, &node, 1, "||");
}

static void test_paths(void **state) {
        Node node = {};
        Spec sp;
        char *paths[] = { (char *) "/dev/sdb", (char *) "/dev/sda" };
        char *bad[] = { (char *) "/dev/sdz" };

        add(&node, "sda", 10 * GIB, true, "HDD", "V");
        add(&node, "sdb", 10 * GIB, true, "HDD", "V")->available = false;
        spec_init(&sp, "a");
        sp.data.paths = paths;
        sp.data.n_paths = 2;
        /* as written: not sorted, not checked, and left for the next role */
        sp.s.db_devices = &sp.db;
        sp.db.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        assert_selects(&sp, &node, 0, "sdb sda|sda|");
        /* a path not on the node is an error (cephadm would hand it to ceph-volume) */
        sp.data.paths = bad;
        sp.data.n_paths = 1;
        assert_selects(&sp, &node, 0, "ERR:19");
}

static void test_ceph_devices(void **state) {
        Node node = {};
        Spec sp;

        lvm_osd(&node, add(&node, "sda", 10 * GIB, true, "HDD", "V"), 3, "a");
        lvm_osd(&node, add(&node, "sdb", 10 * GIB, true, "HDD", "V"), 4, "other");
        lvm_osd(&node, add(&node, "sdc", 10 * GIB, true, "HDD", "V"), 5, NULL);
        unavailable(&node, add(&node, "sdd", 10 * GIB, true, "HDD", "V"), "Has a FileSystem");
        add(&node, "sde", 10 * GIB, true, "HDD", "V");
        spec_init(&sp, "a");
        sp.data.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        /* unavailable ceph devices still count unless another spec made them; other
         * unavailable devices are never looked at */
        assert_selects(&sp, &node, 0, "sda sdc sde||");
}

static Castle__NodePlan *plan(const Spec *sp, Node *node) {
        Castle__NodePlan *p = NULL;

        assert_int_equal(spec_plan_node(&sp->s, "n1", "host1", NULL, node->ptr, node->n, &p), 0);
        assert_non_null(p);
        return p;
}

static const char *skip_reason(const Castle__NodePlan *p, const char *path) {
        for (size_t i = 0; i < p->n_skipped; i++)
                if (streq(p->skipped[i]->device, path))
                        return p->skipped[i]->n_reasons > 0 ? p->skipped[i]->reasons[0] : "";
        return NULL;
}

static void test_plan_lvm(void **state) {
        Node node = {};
        Spec sp;
        Castle__NodePlan *p;

        lvm_osd(&node, add(&node, "sda", 4000 * GIB, true, "HDD", "V"), 7, "a");
        add(&node, "sdb", 4000 * GIB, true, "HDD", "V");
        add(&node, "sdc", 4000 * GIB, true, "HDD", "V");
        add(&node, "nvme0n1", 300 * GIB, false, "NVME", "V");
        add(&node, "sdd", 900 * GIB, false, "MZ7", "V");
        unavailable(&node, add(&node, "sde", 4000 * GIB, true, "HDD", "V"), "Has a FileSystem");
        spec_init(&sp, "a");
        sp.data.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        sp.s.db_devices = &sp.db;
        sp.db.model = (char *) "NVME";
        sp.s.osds_per_device = 2;
        sp.s.encrypted = true;
        sp.s.crush_device_class = (char *) "hdd";

        p = plan(&sp, &node);
        assert_true(p->placed);
        assert_string_equal(p->error, "");
        assert_int_equal(p->n_osds, 6);
        /* sda's first slot exists (osd.7); six OSDs share nvme0n1's six slots */
        assert_true(p->osds[0]->exists);
        assert_int_equal(p->osds[0]->osd_id, 7);
        assert_false(p->osds[1]->exists);
        assert_int_equal(p->osds[1]->osd_id, -1);
        for (size_t i = 0; i < 6; i++) {
                assert_string_equal(p->osds[i]->db, "/dev/nvme0n1");
                assert_int_equal(p->osds[i]->db_size, 300 * GIB / 6);
                assert_int_equal(p->osds[i]->data_size, 2000 * GIB);
                assert_true(p->osds[i]->encrypted);
        }
        assert_string_equal(skip_reason(p, "/dev/sdd"), "not rotational");
        assert_string_equal(skip_reason(p, "/dev/sde"), "Has a FileSystem");
        assert_null(skip_reason(p, "/dev/nvme0n1")); /* taken as a DB device */
        assert_non_null(p->create);
        assert_true(p->create->lvm);
        assert_true(p->create->dmcrypt);
        assert_int_equal(p->create->osds_per_device, 2);
        assert_string_equal(p->create->device_id, "id-sda");
        assert_int_equal(p->create->n_data_devices, 2);
        assert_int_equal(p->create->n_db_devices, 1);
        assert_string_equal(p->create->db_devices[0], "id-nvme0n1");
        assert_string_equal(p->create->spec, "a");
        assert_string_equal(p->create->crush_device_class, "hdd");
        spec_node_plan_free(p);

        /* block_db_size must fit a slot: 300 GiB / 6 = 50 GiB */
        sp.s.block_db_size = 51 * GIB;
        p = plan(&sp, &node);
        assert_string_not_equal(p->error, "");
        assert_int_equal(p->n_osds, 0);
        assert_null(p->create);
        spec_node_plan_free(p);
        sp.s.block_db_size = 50 * GIB;
        p = plan(&sp, &node);
        assert_string_equal(p->error, "");
        assert_int_equal(p->osds[5]->db_size, 50 * GIB);
        spec_node_plan_free(p);

        /* db_slots fewer than the OSDs */
        sp.s.block_db_size = 0;
        sp.s.db_slots = 4;
        p = plan(&sp, &node);
        assert_string_not_equal(p->error, "");
        spec_node_plan_free(p);
}

static void test_plan_raw(void **state) {
        Node node = {};
        Spec sp;
        Castle__NodePlan *p;

        add(&node, "sda", 100 * GIB, true, "HDD", "V");
        add(&node, "sdb", 100 * GIB, true, "HDD", "V");
        add(&node, "sdc", 100 * GIB, true, "HDD", "V");
        add(&node, "nvme0n1", 10 * GIB, false, "NVME", "V");
        spec_init(&sp, "r");
        sp.s.method = (char *) "raw";
        sp.data.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        sp.data.limit = 2;
        p = plan(&sp, &node);
        assert_int_equal(p->n_osds, 2);
        assert_false(p->create->lvm);
        assert_string_equal(p->create->device_id, "id-sda");
        assert_int_equal(p->create->n_data_devices, 1);
        assert_string_equal(skip_reason(p, "/dev/sdc"), "limit 2 reached");
        assert_string_equal(skip_reason(p, "/dev/nvme0n1"), "not rotational");
        spec_node_plan_free(p);

        /* raw pairs data and DB devices one to one */
        sp.s.db_devices = &sp.db;
        sp.db.model = (char *) "NVME";
        p = plan(&sp, &node);
        assert_string_not_equal(p->error, "");
        assert_null(p->create);
        spec_node_plan_free(p);
        sp.data.limit = 1;
        p = plan(&sp, &node);
        assert_string_equal(p->error, "");
        assert_string_equal(p->osds[0]->db, "/dev/nvme0n1");
        assert_int_equal(p->osds[0]->db_size, 10 * GIB);
        assert_string_equal(p->create->db_devices[0], "id-nvme0n1");
        spec_node_plan_free(p);

        sp.s.osds_per_device = 2;
        p = plan(&sp, &node);
        assert_string_not_equal(p->error, "");
        spec_node_plan_free(p);
}

static void test_plan_reasons(void **state) {
        Node node = {};
        Spec sp;
        Castle__NodePlan *p;

        add(&node, "sda", 10 * GIB, true, "ST4000", "SEAGATE");
        lvm_osd(&node, add(&node, "sdb", 10 * GIB, true, "MZ7", "V"), 1, "other");
        spec_init(&sp, "a");
        sp.data.model = (char *) "MZ7";
        p = plan(&sp, &node);
        assert_string_equal(skip_reason(p, "/dev/sda"), "model does not match 'MZ7'");
        assert_string_equal(skip_reason(p, "/dev/sdb"), "used by spec other");
        assert_null(p->create);
        spec_node_plan_free(p);

        sp.data.model = (char *) "";
        sp.data.size = (char *) "20G:";
        p = plan(&sp, &node);
        assert_string_equal(skip_reason(p, "/dev/sda"), "size 10.00 GB is not in 20G:");
        spec_node_plan_free(p);

        /* every existing OSD: nothing left to make */
        lvm_osd(&node, &node.dev[0], 2, "a");
        sp.data.size = (char *) "";
        sp.data.all = true;
        p = plan(&sp, &node);
        assert_int_equal(p->n_osds, 1);
        assert_true(p->osds[0]->exists);
        assert_null(p->create);
        spec_node_plan_free(p);

        /* not placed: one entry without a device says so */
        sp.s.placement_all = false;
        sp.s.host_pattern = (char *) "other*";
        p = plan(&sp, &node);
        assert_false(p->placed);
        assert_int_equal(p->n_skipped, 1);
        assert_string_equal(p->skipped[0]->device, "");
        assert_string_equal(p->skipped[0]->reasons[0], "not placed on this host");
        spec_node_plan_free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_placement),
                cmocka_unit_test(test_filters),
                cmocka_unit_test(test_size),
                cmocka_unit_test(test_size_error_lazy),
                cmocka_unit_test(test_limit),
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_ceph_devices),
                cmocka_unit_test(test_plan_lvm),
                cmocka_unit_test(test_plan_raw),
                cmocka_unit_test(test_plan_reasons),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
