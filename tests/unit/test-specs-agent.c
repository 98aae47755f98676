/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's reconciliation of its OSD specs (agent/specs.c) with fake time, a fake planner and
 * a fake job queue: a device is claimed only after it stayed unchanged for the settle time (any
 * change of its record or of its sectors written starts it over), one job per spec, a failed
 * job backs off, unmanaged specs never submit, a device that stops matching is left alone, and
 * the coordinators' set with the highest revision wins, merged with the spec-file's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/specs.h"
#include "common/macro.h"
#include "common/strv.h"

#define SEC UINT64_C(1000000)
#define SETTLE (60 * SEC)

/* ---- the fakes ---- */

typedef struct Fake {
        uint64_t ids[16];
        char *first_device[16];
        size_t n_submitted;
        int submit_result;
        uint64_t written[8];    /* by the device's number, loopN */
        bool written_unknown;
        AgentSpecs *refuse_at_once; /* submit ends the job with an error before it returns */
} Fake;

static Fake fake;

/* Takes every available device whose kname starts with the spec's data_devices.model (a stand
 * in for the real filters), on hosts the host_pattern names exactly ("" or "*": all). With
 * method lvm, as an LVM batch, the create names every matching device, those whose OSDs exist
 * (the unavailable ones) too. Unmanaged: the OSDs, no create (as spec_plan_node()). */
static int fake_plan(const Castle__OsdSpec *s, const char *node_id, const char *hostname, char *const *labels,
                     Castle__Device *const *devices, size_t n_devices, Castle__NodePlan **ret) {
        Castle__NodePlan *p = calloc(1, sizeof *p);
        const char *prefix = s->data_devices ? s->data_devices->model : "";
        char **ids = NULL;

        castle__node_plan__init(p);
        p->placed = isempty(s->host_pattern) || streq(s->host_pattern, "*") || streq(s->host_pattern, hostname) ||
                    (!isempty(s->label) && strv_contains(labels, s->label));
        bool lvm = streq_ptr(s->method, "lvm");

        p->osds = calloc(n_devices + 1, sizeof *p->osds);
        for (size_t i = 0; p->placed && i < n_devices; i++)
                if ((lvm || devices[i]->available) && startswith(devices[i]->kname, prefix)) {
                        Castle__PlannedOsd *o = calloc(1, sizeof *o);

                        castle__planned_osd__init(o);
                        o->data = devices[i]->path;
                        o->data_id = devices[i]->stable_id;
                        o->exists = !devices[i]->available;
                        p->osds[p->n_osds++] = o;
                        assert_int_equal(strv_extend(&ids, devices[i]->stable_id), 0);
                }
        if (ids && !s->unmanaged) {
                p->create = calloc(1, sizeof *p->create);
                castle__osd_create__init(p->create);
                p->create->device_id = strdup(ids[0]);
                p->create->n_data_devices = strv_length(ids) - 1;
                p->create->data_devices = strv_length(ids) > 1 ? strv_copy(ids + 1) : NULL;
                p->create->spec = strdup(s->service_id);
        }
        strv_free(ids);
        *ret = p;
        return 0;
}

static void fake_plan_free(Castle__NodePlan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_osds; i++)
                free(p->osds[i]);
        free(p->osds);
        if (p->create) {
                free(p->create->device_id);
                strv_free(p->create->data_devices);
                free(p->create->spec);
                free(p->create);
        }
        free(p);
}

static int fake_submit(uint64_t id, const Castle__OsdCreate *c, void *userdata) {
        if (fake.submit_result < 0)
                return fake.submit_result;
        assert_true(fake.n_submitted < ELEMENTSOF(fake.ids));
        fake.ids[fake.n_submitted] = id;
        fake.first_device[fake.n_submitted] = strdup(c->device_id);
        fake.n_submitted++;
        if (fake.refuse_at_once) {
                Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

                u.command_id = id;
                u.done = true;
                u.error = (char *) "the request does not pass the checks";
                agent_specs_job_update(fake.refuse_at_once, &u, 0);
        }
        return 0;
}

static int fake_written(const char *kname, uint64_t *ret, void *userdata) {
        const char *n = startswith(kname, "loop");

        if (fake.written_unknown || !n)
                return -EOPNOTSUPP;
        *ret = fake.written[atoi(n) % 8];
        return 0;
}

static const AgentSpecsOps ops = {
        .plan = fake_plan, .plan_free = fake_plan_free, .submit = fake_submit, .written = fake_written,
};

/* ---- devices and reports ---- */

typedef struct Dev {
        char kname[16], stable_id[32], path[32];
        bool available;
        char *part_table;
} Dev;

static Report *make_report(const Dev *devs, size_t n) {
        Report *r = calloc(1, sizeof *r);

        r->entries = calloc(n + 1, sizeof(ReportEntry));
        r->n = n;
        for (size_t i = 0; i < n; i++) {
                Castle__Device *d = calloc(1, sizeof *d);

                castle__device__init(d);
                d->kname = strdup(devs[i].kname);
                d->stable_id = strdup(devs[i].stable_id);
                d->path = strdup(devs[i].path);
                d->available = devs[i].available;
                d->partition_table = strdup(devs[i].part_table ?: "");
                r->entries[i].key = strdup(devs[i].stable_id);
                r->entries[i].msg = d;
                r->entries[i].size = castle__device__get_packed_size(d);
                r->entries[i].packed = malloc(r->entries[i].size + 1);
                castle__device__pack(d, r->entries[i].packed);
        }
        return r;
}

static void drop_report(Report *r) {
        for (size_t i = 0; i < r->n; i++) {
                Castle__Device *d = r->entries[i].msg;
                free(d->kname);
                free(d->stable_id);
                free(d->path);
                free(d->partition_table);
                free(d);
                free(r->entries[i].key);
                free(r->entries[i].packed);
        }
        free(r->entries);
        free(r);
}

static Dev dev(unsigned n, bool available) {
        Dev d = { .available = available };

        snprintf(d.kname, sizeof d.kname, "loop%u", n);
        snprintf(d.stable_id, sizeof d.stable_id, "id-loop%u", n);
        snprintf(d.path, sizeof d.path, "/dev/loop%u", n);
        return d;
}

static Castle__OsdSpec *make_spec(const char *name, const char *host_pattern, const char *prefix, bool unmanaged) {
        static Castle__DeviceSelection sel[8];
        static size_t n_sel;
        Castle__OsdSpec *s = calloc(1, sizeof *s);
        Castle__DeviceSelection *d = &sel[n_sel++ % ELEMENTSOF(sel)];

        castle__osd_spec__init(s);
        castle__device_selection__init(d);
        d->model = (char *) prefix;
        s->service_id = (char *) name;
        s->host_pattern = (char *) host_pattern;
        s->data_devices = d;
        s->unmanaged = unmanaged;
        return s;
}

static void set_remote(AgentSpecs *a, Castle__OsdSpec **specs, size_t n, int64_t revision, int expected) {
        Castle__SpecSet set = CASTLE__SPEC_SET__INIT;

        set.specs = specs;
        set.n_specs = n;
        set.revision = revision;
        assert_int_equal(agent_specs_set_remote(a, &set), expected);
}

static void done(AgentSpecs *a, uint64_t id, const char *error, uint64_t now) {
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

        u.command_id = id;
        u.done = true;
        u.error = (char *) error;
        u.osd_id = error ? -1 : 0;
        agent_specs_job_update(a, &u, now);
}

static int setup(void **state) {
        for (size_t i = 0; i < fake.n_submitted; i++)
                free(fake.first_device[i]);
        fake = (Fake) {};
        return 0;
}

static AgentSpecs *new_specs(void) {
        AgentSpecs *a = NULL;

        assert_int_equal(agent_specs_new(&ops, "node-a", "host-a", (char *[]) { "osd", NULL }, SETTLE, &a), 0);
        return a;
}

/* ---- the tests ---- */

static void test_settle_then_claim(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *spec = make_spec("s1", "host-a", "loop", false);
        Dev d[] = { dev(1, true) };
        Report *r = make_report(d, 1);
        AgentSpecsStats st;

        set_remote(a, &spec, 1, 10, 1);
        assert_int_equal(agent_specs_reconcile(a, 0), 0); /* no report yet: nothing, no timer */
        agent_specs_report(a, r);
        assert_int_equal(agent_specs_reconcile(a, 5 * SEC), 5 * SEC + SETTLE);
        agent_specs_stats(a, &st);
        assert_int_equal(st.specs, 1);
        assert_int_equal(st.settling, 1);
        assert_int_equal(agent_specs_reconcile(a, 5 * SEC + SETTLE - 1), 5 * SEC + SETTLE);
        assert_int_equal(fake.n_submitted, 0);
        assert_int_equal(agent_specs_reconcile(a, 5 * SEC + SETTLE), 0);
        assert_int_equal(fake.n_submitted, 1);
        assert_string_equal(fake.first_device[0], "id-loop1");
        assert_true(agent_specs_owns(fake.ids[0]));
        assert_true(fake.ids[0] >= AGENT_SPECS_COMMAND_BASE);

        /* one job per spec: while it runs, nothing more */
        agent_specs_reconcile(a, 200 * SEC);
        assert_int_equal(fake.n_submitted, 1);
        agent_specs_stats(a, &st);
        assert_int_equal(st.running, 1);

        /* done: the same report (the OSD not in it yet) does not start it again */
        done(a, fake.ids[0], NULL, 201 * SEC);
        agent_specs_reconcile(a, 400 * SEC);
        assert_int_equal(fake.n_submitted, 0 + 1);
        agent_specs_stats(a, &st);
        assert_int_equal(st.osds_made, 1);
        assert_int_equal(st.running, 0);

        /* the next report shows the device taken: nothing to do */
        drop_report(r);
        d[0].available = false;
        r = make_report(d, 1);
        agent_specs_report(a, r);
        assert_int_equal(agent_specs_reconcile(a, 500 * SEC), 0);
        assert_int_equal(fake.n_submitted, 1);

        agent_specs_free(a);
        drop_report(r);
        free(spec);
}

/* A partition table written during the settle time starts it over; so does a data write that
 * changes nothing in the record but the sectors written. */
static void test_change_restarts_settle(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *spec = make_spec("s1", "*", "loop", false);
        Dev d[] = { dev(2, true) };
        Report *r = make_report(d, 1), *r2;

        set_remote(a, &spec, 1, 1, 1);
        agent_specs_report(a, r);
        assert_int_equal(agent_specs_reconcile(a, 0), SETTLE);

        d[0].part_table = (char *) "gpt"; /* still available (say, an empty table), but changed */
        r2 = make_report(d, 1);
        agent_specs_report(a, r2);
        assert_int_equal(agent_specs_reconcile(a, 30 * SEC), 30 * SEC + SETTLE);
        assert_int_equal(agent_specs_reconcile(a, SETTLE), 30 * SEC + SETTLE);
        assert_int_equal(fake.n_submitted, 0);

        fake.written[2] = 2048; /* someone writes data: no signature, no uevent */
        assert_int_equal(agent_specs_reconcile(a, 80 * SEC), 80 * SEC + SETTLE);
        assert_int_equal(agent_specs_reconcile(a, 80 * SEC + SETTLE - 1), 80 * SEC + SETTLE);
        assert_int_equal(fake.n_submitted, 0);
        fake.written[2] = 4096; /* still writing when it would have settled */
        assert_int_equal(agent_specs_reconcile(a, 80 * SEC + SETTLE), 140 * SEC + SETTLE);
        assert_int_equal(fake.n_submitted, 0);
        assert_int_equal(agent_specs_reconcile(a, 140 * SEC + SETTLE), 0);
        assert_int_equal(fake.n_submitted, 1);

        agent_specs_free(a);
        drop_report(r);
        drop_report(r2);
        free(spec);
}

/* A device that stops being available (someone made a filesystem on it) is never claimed, and
 * when it comes back it settles again from the start. */
static void test_stops_matching(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *spec = make_spec("s1", "*", "loop", false);
        Dev d[] = { dev(3, true) };
        Report *r = make_report(d, 1), *r2, *r3;

        set_remote(a, &spec, 1, 1, 1);
        agent_specs_report(a, r);
        agent_specs_reconcile(a, 0);
        d[0].available = false;
        r2 = make_report(d, 1);
        agent_specs_report(a, r2);
        assert_int_equal(agent_specs_reconcile(a, 10 * SEC), 0);
        assert_int_equal(agent_specs_reconcile(a, 1000 * SEC), 0);
        assert_int_equal(fake.n_submitted, 0);

        d[0].available = true;
        r3 = make_report(d, 1);
        agent_specs_report(a, r3);
        assert_int_equal(agent_specs_reconcile(a, 2000 * SEC), 2000 * SEC + SETTLE);
        assert_int_equal(fake.n_submitted, 0);
        agent_specs_reconcile(a, 2000 * SEC + SETTLE);
        assert_int_equal(fake.n_submitted, 1);

        agent_specs_free(a);
        drop_report(r);
        drop_report(r2);
        drop_report(r3);
        free(spec);
}

static void test_unmanaged_and_unplaced(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *specs[] = { make_spec("preview", "*", "loop", true),
                                     make_spec("elsewhere", "host-b", "loop", false) };
        Dev d[] = { dev(1, true), dev(2, true) };
        Report *r = make_report(d, 2);

        set_remote(a, specs, 2, 1, 1);
        agent_specs_report(a, r);
        assert_int_equal(agent_specs_reconcile(a, 0), 0);
        assert_int_equal(agent_specs_reconcile(a, 100 * SETTLE), 0);
        assert_int_equal(fake.n_submitted, 0);

        agent_specs_free(a);
        drop_report(r);
        free(specs[0]);
        free(specs[1]);
}

static void test_failure_backs_off(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *spec = make_spec("s1", "*", "loop", false);
        Dev d[] = { dev(1, true) };
        Report *r = make_report(d, 1), *r2;
        AgentSpecsStats st;

        set_remote(a, &spec, 1, 1, 1);
        agent_specs_report(a, r);
        agent_specs_reconcile(a, 0);
        agent_specs_reconcile(a, SETTLE);
        assert_int_equal(fake.n_submitted, 1);
        done(a, fake.ids[0], "ceph-osd --mkfs failed", SETTLE + SEC);
        r2 = make_report(d, 1);
        agent_specs_report(a, r2);
        /* the device settled long ago, but the spec backs off */
        assert_int_equal(agent_specs_reconcile(a, SETTLE + 2 * SEC), SETTLE + SEC + AGENT_SPECS_RETRY_USEC);
        assert_int_equal(fake.n_submitted, 1);
        agent_specs_reconcile(a, SETTLE + SEC + AGENT_SPECS_RETRY_USEC);
        assert_int_equal(fake.n_submitted, 2);
        assert_true(fake.ids[1] != fake.ids[0]);
        agent_specs_stats(a, &st);
        assert_int_equal(st.jobs_failed, 1);
        assert_int_equal(st.osds_made, 0);

        /* a job the queue refuses backs off too */
        done(a, fake.ids[1], "again", 10 * AGENT_SPECS_RETRY_USEC);
        agent_specs_report(a, r);
        fake.submit_result = -EBUSY;
        agent_specs_reconcile(a, 12 * AGENT_SPECS_RETRY_USEC);
        fake.submit_result = 0;
        assert_int_equal(agent_specs_reconcile(a, 12 * AGENT_SPECS_RETRY_USEC + SEC),
                         13 * AGENT_SPECS_RETRY_USEC);
        assert_int_equal(fake.n_submitted, 2);

        agent_specs_free(a);
        drop_report(r);
        drop_report(r2);
        free(spec);
}

/* A job that ends inside submit (the agent refused its request at once) backs off, and does
 * not leave the spec waiting for an end that came already. */
static void test_refused_inside_submit(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *spec = make_spec("s1", "*", "loop", false);
        Dev d[] = { dev(1, true) };
        Report *r = make_report(d, 1);
        AgentSpecsStats st;

        set_remote(a, &spec, 1, 1, 1);
        agent_specs_report(a, r);
        agent_specs_reconcile(a, 0);
        fake.refuse_at_once = a;
        assert_int_equal(agent_specs_reconcile(a, SETTLE), AGENT_SPECS_RETRY_USEC);
        fake.refuse_at_once = NULL;
        assert_int_equal(fake.n_submitted, 1);
        agent_specs_stats(a, &st);
        assert_int_equal(st.running, 0);
        assert_int_equal(st.jobs_failed, 1);
        agent_specs_report(a, r);
        agent_specs_reconcile(a, AGENT_SPECS_RETRY_USEC);
        assert_int_equal(fake.n_submitted, 2);

        agent_specs_free(a);
        drop_report(r);
        free(spec);
}

/* Two specs never claim the same device at once: the second waits for the first's job. */
static void test_one_claim_per_device(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *specs[] = { make_spec("a", "*", "loop", false), make_spec("b", "*", "loop", false) };
        Dev d[] = { dev(1, true) };
        Report *r = make_report(d, 1);

        set_remote(a, specs, 2, 1, 1);
        agent_specs_report(a, r);
        agent_specs_reconcile(a, 0);
        agent_specs_reconcile(a, SETTLE);
        agent_specs_reconcile(a, 2 * SETTLE);
        assert_int_equal(fake.n_submitted, 1);

        agent_specs_free(a);
        drop_report(r);
        free(specs[0]);
        free(specs[1]);
}

static void test_revisions_and_spec_file(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *v1[] = { make_spec("one", "*", "loop1", false) };
        Castle__OsdSpec *v2[] = { make_spec("two", "*", "loop2", false) };
        Castle__OsdSpec *local[] = { make_spec("one", "*", "loop3", false), make_spec("mine", "*", "loop4", false) };
        Dev d[] = { dev(1, true), dev(2, true), dev(3, true), dev(4, true) };
        Report *r = make_report(d, 4);
        AgentSpecsStats st;

        /* a bad name, or two specs of one name: refused whole */
        Castle__OsdSpec *bad[] = { make_spec("two words", "*", "loop", false) };
        Castle__OsdSpec *twice[] = { v1[0], v1[0] };
        set_remote(a, bad, 1, 50, -EINVAL);
        set_remote(a, twice, 2, 50, -EINVAL);
        free(bad[0]);
        set_remote(a, v1, 1, 100, 1);
        set_remote(a, v2, 1, 200, 1);
        set_remote(a, v1, 1, 150, 0); /* an older coordinator's copy */
        set_remote(a, v1, 1, 200, 0);
        assert_int_equal(agent_specs_set_local(a, local, 2), 0);
        agent_specs_stats(a, &st);
        assert_int_equal(st.specs, 3); /* two, and the spec-file's one and mine */

        agent_specs_report(a, r);
        agent_specs_reconcile(a, 0);
        agent_specs_reconcile(a, SETTLE);
        assert_int_equal(fake.n_submitted, 3);
        /* loop1 (the old set's "one") is not claimed */
        for (size_t i = 0; i < fake.n_submitted; i++)
                assert_string_not_equal(fake.first_device[i], "id-loop1");

        /* a coordinator's name wins over the spec-file's */
        set_remote(a, local, 1, 300, 1);
        agent_specs_stats(a, &st);
        assert_int_equal(st.specs, 2);

        /* an empty set removes the coordinators' specs; the spec-file's stay */
        set_remote(a, NULL, 0, 400, 1);
        agent_specs_stats(a, &st);
        assert_int_equal(st.specs, 2);
        assert_int_equal(agent_specs_set_local(a, NULL, 0), 0);
        agent_specs_stats(a, &st);
        assert_int_equal(st.specs, 0);

        agent_specs_free(a);
        drop_report(r);
        free(v1[0]);
        free(v2[0]);
        free(local[0]);
        free(local[1]);
}

/* An LVM batch names every data device, those whose OSDs exist too (not available): they do not
 * hold the new one back, and only the new one settles. */
static void test_lvm_batch_with_existing(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *spec = make_spec("big", "*", "loop", false);
        Dev d[] = { dev(1, false), dev(2, true) };
        Report *r = make_report(d, 2);

        spec->method = (char *) "lvm";
        set_remote(a, &spec, 1, 1, 1);
        agent_specs_report(a, r);
        assert_int_equal(agent_specs_reconcile(a, 0), SETTLE);
        agent_specs_reconcile(a, SETTLE);
        assert_int_equal(fake.n_submitted, 1);
        assert_string_equal(fake.first_device[0], "id-loop1");

        agent_specs_free(a);
        drop_report(r);
        free(spec);
}

/* Without a sectors-written count (no sysfs: a captured tree), the record alone decides. */
static void test_written_unknown(void **state) {
        AgentSpecs *a = new_specs();
        Castle__OsdSpec *spec = make_spec("s1", "*", "loop", false);
        Dev d[] = { dev(5, true) };
        Report *r = make_report(d, 1);

        fake.written_unknown = true;
        set_remote(a, &spec, 1, 1, 1);
        agent_specs_report(a, r);
        agent_specs_reconcile(a, 0);
        agent_specs_reconcile(a, SETTLE);
        assert_int_equal(fake.n_submitted, 1);

        agent_specs_free(a);
        drop_report(r);
        free(spec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_settle_then_claim, setup),
                cmocka_unit_test_setup(test_change_restarts_settle, setup),
                cmocka_unit_test_setup(test_stops_matching, setup),
                cmocka_unit_test_setup(test_unmanaged_and_unplaced, setup),
                cmocka_unit_test_setup(test_failure_backs_off, setup),
                cmocka_unit_test_setup(test_one_claim_per_device, setup),
                cmocka_unit_test_setup(test_refused_inside_submit, setup),
                cmocka_unit_test_setup(test_revisions_and_spec_file, setup),
                cmocka_unit_test_setup(test_written_unknown, setup),
                cmocka_unit_test_setup(test_lvm_batch_with_existing, setup),
        };

        return cmocka_run_group_tests(tests, NULL, setup);
}
