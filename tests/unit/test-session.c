/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's session with the coordinator (agent/session.c), driven through an inproc socket
 * pair: one end is the agent's link, the test plays the coordinator on the other. */
#include "tests/unit/testutil.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/report.h"
#include "agent/session.h"
#include "proto/codec.h"
#include "proto/link.h"

#define GENERATION 1000

typedef struct Fixture {
        zsock_t *agent, *coordinator;
        Session *session;
        unsigned rescans, policies, creates;
        int create_result;
        uint64_t created;
        unsigned job_updates;
} Fixture;

static void on_rescan(void *userdata) {
        Fixture *f = userdata;

        f->rescans++;
}

static int on_osd_create(uint64_t command_id, const Castle__OsdCreate *c, void *userdata) {
        Fixture *f = userdata;

        f->creates++;
        f->created = command_id;
        return f->create_result;
}

static void on_policy(const Castle__Policy *p, void *userdata) {
        Fixture *f = userdata;

        f->policies++;
}

/* As castle-agent does: the session's own job updates go back through it. */
static void on_job_update(const Castle__JobUpdate *u, void *userdata) {
        Fixture *f = userdata;

        f->job_updates++;
        session_send_job_update(f->session, u);
}

static const SessionHandlers handlers = {
        .rescan = on_rescan,
        .osd_create = on_osd_create,
        .policy = on_policy,
        .job_update = on_job_update,
};

static int setup(void **state) {
        static unsigned n;
        Fixture *f = calloc(1, sizeof *f);
        char endpoint[64];

        assert_non_null(f);
        snprintf(endpoint, sizeof endpoint, "inproc://test-session-%u", n++);
        f->coordinator = zsock_new(ZMQ_PAIR);
        f->agent = zsock_new(ZMQ_PAIR);
        assert_non_null(f->coordinator);
        assert_non_null(f->agent);
        assert_int_equal(zsock_bind(f->coordinator, "%s", endpoint), 0);
        assert_int_equal(zsock_connect(f->agent, "%s", endpoint), 0);
        zsock_set_rcvtimeo(f->agent, 2000);
        assert_int_equal(session_new("node-1", "host-1", GENERATION, NULL, &handlers, f, &f->session), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        session_free(f->session);
        zsock_destroy(&f->agent);
        zsock_destroy(&f->coordinator);
        free(f);
        return 0;
}

/* What the coordinator end receives next: one valid envelope of this kind (to free). */
static Castle__Envelope *expect(Fixture *f, Castle__Envelope__BodyCase body) {
        Castle__Envelope *e = NULL;
        zframe_t *frame;

        zsock_set_rcvtimeo(f->coordinator, 2000);
        frame = zframe_recv(f->coordinator);
        assert_non_null(frame);
        assert_int_equal(codec_envelope_unpack(zframe_data(frame), zframe_size(frame), &e), 0);
        zframe_destroy(&frame);
        assert_int_equal(e->protocol_version, CASTLE_PROTOCOL_VERSION);
        assert_int_equal(e->body_case, body);
        return e;
}

static void expect_nothing(Fixture *f) {
        zframe_t *frame;

        zsock_set_rcvtimeo(f->coordinator, 50);
        frame = zframe_recv(f->coordinator);
        assert_null(frame);
}

/* The coordinator sends e; the session reads and handles it. */
static void from_coordinator(Fixture *f, Castle__Envelope *e) {
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        assert_int_equal(link_send(f->coordinator, NULL, &e->base), 0);
        session_receive(f->session);
}

static void send_command(Fixture *f, Castle__Command *c) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;

        e.body_case = CASTLE__ENVELOPE__BODY_COMMAND;
        e.command = c;
        from_coordinator(f, &e);
}

static void connect_session(Fixture *f) {
        Castle__Envelope *e;

        session_attach(f->session, f->agent);
        e = expect(f, CASTLE__ENVELOPE__BODY_HELLO);
        castle__envelope__free_unpacked(e, NULL);
}

#define REPORT1(k, size) make_report((const char *[]) { k, NULL }, (uint64_t[]) { size })
#define REPORT2(k1, size1, k2, size2) \
        make_report((const char *[]) { k1, k2, NULL }, (uint64_t[]) { size1, size2 })

/* A report of devices with these knames (also their keys); size tells versions of a device
 * apart. */
static Report *make_report(const char *const *knames, const uint64_t *sizes) {
        Report *r = calloc(1, sizeof *r);
        size_t n = 0;

        assert_non_null(r);
        while (knames[n])
                n++;
        r->entries = calloc(n ?: 1, sizeof(ReportEntry));
        assert_non_null(r->entries);
        for (size_t i = 0; i < n; i++) {
                ReportEntry *e = &r->entries[i];

                e->msg = malloc(sizeof *e->msg);
                assert_non_null(e->msg);
                castle__device__init(e->msg);
                e->msg->kname = strdup(knames[i]);
                e->msg->size = sizes[i];
                e->key = strdup(knames[i]);
                assert_int_equal(codec_pack(&e->msg->base, &e->packed, &e->size), 0);
                r->n++;
        }
        return r;
}

static void test_hello_on_connect(void **state) {
        Fixture *f = *state;
        Castle__Envelope *e;

        session_heartbeat(f->session); /* not connected, and nothing to tell: nothing happens */
        session_attach(f->session, f->agent);
        e = expect(f, CASTLE__ENVELOPE__BODY_HELLO);
        assert_string_equal(e->hello->node_id, "node-1");
        assert_string_equal(e->hello->hostname, "host-1");
        assert_string_equal(e->hello->agent_version, PACKAGE_VERSION);
        assert_int_equal(e->hello->protocol_version, CASTLE_PROTOCOL_VERSION);
        assert_int_equal(e->hello->generation, GENERATION);
        assert_int_equal(e->message_id, 1);
        castle__envelope__free_unpacked(e, NULL);
        expect_nothing(f);

        /* Detached, nothing goes out; attached again, Hello again, with the next message id. */
        session_attach(f->session, NULL);
        session_report(f->session, REPORT1("sda", 1));
        session_heartbeat(f->session);
        session_attach(f->session, f->agent);
        e = expect(f, CASTLE__ENVELOPE__BODY_HELLO);
        assert_int_equal(e->message_id, 2);
        castle__envelope__free_unpacked(e, NULL);
}

static void test_snapshot_after_resync(void **state) {
        Fixture *f = *state;
        Castle__Envelope resync = CASTLE__ENVELOPE__INIT, *e;
        Castle__Resync rs = CASTLE__RESYNC__INIT;

        connect_session(f);
        resync.body_case = CASTLE__ENVELOPE__BODY_RESYNC;
        resync.resync = &rs;
        rs.reason = (char *) "unknown generation";

        /* Before the first scan there is nothing to send: the snapshot follows that scan. */
        from_coordinator(f, &resync);
        expect_nothing(f);
        assert_true(session_last_contact(f->session) > 0);
        session_report(f->session, REPORT2("sda", 1, "sdb", 2));
        e = expect(f, CASTLE__ENVELOPE__BODY_SNAPSHOT);
        assert_int_equal(e->snapshot->generation, GENERATION);
        assert_int_equal(e->snapshot->n_devices, 2);
        assert_string_equal(e->snapshot->devices[0]->kname, "sda");
        assert_string_equal(e->snapshot->devices[1]->kname, "sdb");
        castle__envelope__free_unpacked(e, NULL);

        /* Asked again: the same picture at once. */
        from_coordinator(f, &resync);
        e = expect(f, CASTLE__ENVELOPE__BODY_SNAPSHOT);
        assert_int_equal(e->snapshot->generation, GENERATION);
        assert_int_equal(e->snapshot->n_devices, 2);
        castle__envelope__free_unpacked(e, NULL);
        expect_nothing(f);
}

static void test_delta_generation(void **state) {
        Fixture *f = *state;
        Castle__Envelope *e;

        connect_session(f);
        /* The first report is kept, not sent: the coordinator asks for it after Hello. */
        session_report(f->session, REPORT2("sda", 1, "sdb", 2));
        expect_nothing(f);
        assert_non_null(session_current_report(f->session));

        /* An unchanged picture sends nothing and keeps the generation. */
        session_report(f->session, REPORT2("sda", 1, "sdb", 2));
        expect_nothing(f);
        assert_int_equal(session_generation(f->session), GENERATION);

        /* sda changed, sdb went, sdc came. */
        session_report(f->session, REPORT2("sda", 10, "sdc", 3));
        e = expect(f, CASTLE__ENVELOPE__BODY_DELTA);
        assert_int_equal(e->delta->generation, GENERATION + 1);
        assert_int_equal(e->delta->n_changed, 2);
        assert_string_equal(e->delta->changed[0]->kname, "sda");
        assert_int_equal(e->delta->changed[0]->size, 10);
        assert_string_equal(e->delta->changed[1]->kname, "sdc");
        assert_int_equal(e->delta->n_removed, 1);
        assert_string_equal(e->delta->removed[0], "sdb");
        castle__envelope__free_unpacked(e, NULL);
        assert_int_equal(session_generation(f->session), GENERATION + 1);

        session_report(f->session, make_report((const char *[]) { NULL }, NULL));
        e = expect(f, CASTLE__ENVELOPE__BODY_DELTA);
        assert_int_equal(e->delta->generation, GENERATION + 2);
        assert_int_equal(e->delta->n_removed, 2);
        castle__envelope__free_unpacked(e, NULL);
}

static void test_heartbeat_generation(void **state) {
        Fixture *f = *state;
        Castle__Envelope *e;

        connect_session(f);
        session_heartbeat(f->session); /* no report yet: no heartbeat */
        expect_nothing(f);

        session_report(f->session, REPORT2("sda", 1, "sdb", 2));
        session_heartbeat(f->session);
        e = expect(f, CASTLE__ENVELOPE__BODY_HEARTBEAT);
        assert_int_equal(e->heartbeat->generation, GENERATION);
        assert_int_equal(e->heartbeat->devices, 2);
        castle__envelope__free_unpacked(e, NULL);

        session_report(f->session, REPORT1("sda", 1));
        castle__envelope__free_unpacked(expect(f, CASTLE__ENVELOPE__BODY_DELTA), NULL);
        session_heartbeat(f->session);
        e = expect(f, CASTLE__ENVELOPE__BODY_HEARTBEAT);
        assert_int_equal(e->heartbeat->generation, GENERATION + 1);
        assert_int_equal(e->heartbeat->devices, 1);
        castle__envelope__free_unpacked(e, NULL);
}

static void test_restart_sends_whole(void **state) {
        Fixture *f = *state;
        Castle__Envelope *e;

        connect_session(f);
        session_report(f->session, REPORT1("sda", 1));
        expect_nothing(f);
        /* A reload: the next picture goes out whole, in the same generation. */
        session_restart(f->session);
        assert_null(session_current_report(f->session));
        session_report(f->session, REPORT1("sdb", 2));
        e = expect(f, CASTLE__ENVELOPE__BODY_SNAPSHOT);
        assert_int_equal(e->snapshot->generation, GENERATION);
        assert_int_equal(e->snapshot->n_devices, 1);
        assert_string_equal(e->snapshot->devices[0]->kname, "sdb");
        castle__envelope__free_unpacked(e, NULL);
}

static void test_rescan_command(void **state) {
        Fixture *f = *state;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__Rescan rescan = CASTLE__RESCAN__INIT;
        Castle__Envelope ack = CASTLE__ENVELOPE__INIT;
        Castle__Ack a = CASTLE__ACK__INIT;

        connect_session(f);
        ack.body_case = CASTLE__ENVELOPE__BODY_ACK;
        ack.ack = &a;
        from_coordinator(f, &ack);
        assert_int_equal(f->rescans, 0);

        c.command_id = 5;
        c.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        c.rescan = &rescan;
        send_command(f, &c);
        assert_int_equal(f->rescans, 1);
        assert_int_equal(f->creates + f->policies + f->job_updates, 0);
        expect_nothing(f); /* the scan it leads to answers, as a Delta */
}

static void test_osd_create(void **state) {
        Fixture *f = *state;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        Castle__Envelope *e;

        connect_session(f);
        c.command_id = 7;
        c.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        c.osd_create = &oc;
        oc.device_id = (char *) "wwn-0x5000c500a1b2c3d4";

        /* Queued: the job's own updates answer later. */
        send_command(f, &c);
        assert_int_equal(f->creates, 1);
        assert_int_equal(f->created, 7);
        expect_nothing(f);

        /* The node's queue is full: refused at once with a JobUpdate that says why. */
        f->create_result = -EBUSY;
        c.command_id = 8;
        send_command(f, &c);
        assert_int_equal(f->job_updates, 1);
        e = expect(f, CASTLE__ENVELOPE__BODY_JOB_UPDATE);
        assert_int_equal(e->job_update->command_id, 8);
        assert_true(e->job_update->done);
        assert_string_equal(e->job_update->step, "done");
        assert_string_equal(e->job_update->error, "too many jobs queued on the node");
        assert_int_equal(e->job_update->osd_id, -1);
        castle__envelope__free_unpacked(e, NULL);

        f->create_result = -ENOMEM;
        c.command_id = 9;
        send_command(f, &c);
        e = expect(f, CASTLE__ENVELOPE__BODY_JOB_UPDATE);
        assert_int_equal(e->job_update->command_id, 9);
        assert_string_equal(e->job_update->error, "out of memory");
        castle__envelope__free_unpacked(e, NULL);
}

static void test_invalid_command_dropped(void **state) {
        Fixture *f = *state;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;

        connect_session(f);
        /* A device id that would become an option of the helper: the message does not
         * decode as valid, so it is dropped whole (logged), and nothing answers it. */
        c.command_id = 11;
        c.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        c.osd_create = &oc;
        oc.device_id = (char *) "--osd-root=/";
        send_command(f, &c);
        assert_int_equal(f->creates, 0);
        assert_int_equal(f->job_updates, 0);
        assert_int_equal(session_last_contact(f->session), 0);
        expect_nothing(f);

        /* Nor does a frame that is not an envelope at all. */
        assert_int_equal(zstr_send(f->coordinator, "not protobuf"), 0);
        session_receive(f->session);
        assert_int_equal(session_last_contact(f->session), 0);
        expect_nothing(f);
}

static void test_policy_command(void **state) {
        Fixture *f = *state;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__Policy p = CASTLE__POLICY__INIT;

        connect_session(f);
        c.command_id = 12;
        c.kind_case = CASTLE__COMMAND__KIND_POLICY;
        c.policy = &p;
        p.auto_prepare = true;
        send_command(f, &c);
        assert_int_equal(f->policies, 1);
        expect_nothing(f);
}

static void test_job_updates(void **state) {
        Fixture *f = *state;
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
        Castle__Envelope *e;

        connect_session(f);
        /* The node's own policy jobs: nobody at the coordinator waits for them. */
        u.command_id = 0;
        u.step = (char *) "mkfs";
        session_send_job_update(f->session, &u);
        expect_nothing(f);

        u.command_id = 3;
        u.percent = 40;
        session_send_job_update(f->session, &u);
        e = expect(f, CASTLE__ENVELOPE__BODY_JOB_UPDATE);
        assert_int_equal(e->job_update->command_id, 3);
        assert_string_equal(e->job_update->step, "mkfs");
        assert_int_equal(e->job_update->percent, 40);
        castle__envelope__free_unpacked(e, NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_hello_on_connect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_after_resync, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delta_generation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_heartbeat_generation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_sends_whole, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rescan_command, setup, teardown),
                cmocka_unit_test_setup_teardown(test_osd_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_command_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_policy_command, setup, teardown),
                cmocka_unit_test_setup_teardown(test_job_updates, setup, teardown),
        };

        zsys_handler_set(NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
