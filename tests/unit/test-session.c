/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's session with a coordinator (agent/session.c), driven through an inproc socket
 * pair: one end is the agent's link, the test plays the coordinator on the other; a second pair
 * and session play a second coordinator, with the command table both share. Also the
 * coordinator list of the agent's configuration (agent/config.c). */
#include "tests/unit/testutil.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/report.h"
#include "agent/session.h"
#include "common/strv.h"
#include "proto/codec.h"
#include "proto/link.h"

#define GENERATION 1000

typedef struct Fixture {
        zsock_t *agent, *coordinator;
        Session *session;
        /* the second coordinator, for the tests that ask for it */
        zsock_t *agent2, *coordinator2;
        Session *session2;
        CommandTable *commands;
        unsigned rescans, spec_sets, creates;
        int64_t revision;
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

static void on_specs(const Castle__SpecSet *set, void *userdata) {
        Fixture *f = userdata;

        f->spec_sets++;
        f->revision = set->revision;
}

/* As castle-agent does: a job update is recorded and goes to every coordinator. */
static void on_job_update(const Castle__JobUpdate *u, void *userdata) {
        Fixture *f = userdata;

        f->job_updates++;
        assert_int_equal(command_table_update(f->commands, u), 0);
        session_send_job_update(f->session, u);
        if (f->session2)
                session_send_job_update(f->session2, u);
}

static void on_repeat(const Castle__JobUpdate *latest, void *userdata) {
        Fixture *f = userdata;

        session_send_job_update(f->session, latest);
        if (f->session2)
                session_send_job_update(f->session2, latest);
}

static const SessionHandlers handlers = {
        .rescan = on_rescan,
        .osd_create = on_osd_create,
        .specs = on_specs,
        .job_update = on_job_update,
        .repeat = on_repeat,
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
        assert_int_equal(command_table_new(16, &f->commands), 0);
        assert_int_equal(session_new("node-1", "host-1", "tcp://c1:7100", GENERATION, NULL, &handlers, f,
                                     &f->session),
                         0);
        session_set_commands(f->session, f->commands);
        *state = f;
        return 0;
}

/* A second coordinator: its own pair and session, the same command table. */
static int setup2(void **state) {
        static unsigned n;
        Fixture *f;
        char endpoint[64];

        setup(state);
        f = *state;
        snprintf(endpoint, sizeof endpoint, "inproc://test-session2-%u", n++);
        f->coordinator2 = zsock_new(ZMQ_PAIR);
        f->agent2 = zsock_new(ZMQ_PAIR);
        assert_non_null(f->coordinator2);
        assert_non_null(f->agent2);
        assert_int_equal(zsock_bind(f->coordinator2, "%s", endpoint), 0);
        assert_int_equal(zsock_connect(f->agent2, "%s", endpoint), 0);
        assert_int_equal(session_new("node-1", "host-1", "tcp://c2:7100", GENERATION + 7, NULL, &handlers, f,
                                     &f->session2),
                         0);
        session_set_commands(f->session2, f->commands);
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        session_free(f->session);
        session_free(f->session2);
        command_table_free(f->commands);
        zsock_destroy(&f->agent);
        zsock_destroy(&f->coordinator);
        zsock_destroy(&f->agent2);
        zsock_destroy(&f->coordinator2);
        free(f);
        return 0;
}

/* What a coordinator end receives next: one valid envelope of this kind (to free). */
static Castle__Envelope *expect_on(zsock_t *coordinator, Castle__Envelope__BodyCase body) {
        Castle__Envelope *e = NULL;
        zframe_t *frame;

        zsock_set_rcvtimeo(coordinator, 2000);
        frame = zframe_recv(coordinator);
        assert_non_null(frame);
        assert_int_equal(codec_envelope_unpack(zframe_data(frame), zframe_size(frame), &e), 0);
        zframe_destroy(&frame);
        assert_int_equal(e->protocol_version, CASTLE_PROTOCOL_VERSION);
        assert_int_equal(e->body_case, body);
        return e;
}

static Castle__Envelope *expect(Fixture *f, Castle__Envelope__BodyCase body) {
        return expect_on(f->coordinator, body);
}

static void expect_nothing_on(zsock_t *coordinator) {
        zframe_t *frame;

        zsock_set_rcvtimeo(coordinator, 50);
        frame = zframe_recv(coordinator);
        assert_null(frame);
}

static void expect_nothing(Fixture *f) {
        expect_nothing_on(f->coordinator);
}

/* A coordinator sends e; its session reads and handles it. */
static void from(zsock_t *coordinator, Session *session, Castle__Envelope *e) {
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        assert_int_equal(link_send(coordinator, NULL, &e->base), 0);
        session_receive(session);
}

static void from_coordinator(Fixture *f, Castle__Envelope *e) {
        from(f->coordinator, f->session, e);
}

static void send_command_to(zsock_t *coordinator, Session *session, Castle__Command *c) {
        Castle__Envelope e = CASTLE__ENVELOPE__INIT;

        e.body_case = CASTLE__ENVELOPE__BODY_COMMAND;
        e.command = c;
        from(coordinator, session, &e);
}

static void send_command(Fixture *f, Castle__Command *c) {
        send_command_to(f->coordinator, f->session, c);
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
        assert_int_equal(e->hello->n_labels, 0);
        castle__envelope__free_unpacked(e, NULL);

        /* The node's labels go in every Hello. */
        assert_int_equal(session_set_labels(f->session, (char *[]) { (char *) "osd", (char *) "rack-1", NULL }), 0);
        session_attach(f->session, f->agent);
        e = expect(f, CASTLE__ENVELOPE__BODY_HELLO);
        assert_int_equal(e->hello->n_labels, 2);
        assert_string_equal(e->hello->labels[0], "osd");
        assert_string_equal(e->hello->labels[1], "rack-1");
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
        assert_int_equal(f->creates + f->spec_sets + f->job_updates, 0);
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

/* A SpecSet goes to its handler; a Policy (deprecated: an older coordinator's) is ignored. */
static void test_specs_command(void **state) {
        Fixture *f = *state;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__SpecSet set = CASTLE__SPEC_SET__INIT;
        Castle__Policy p = CASTLE__POLICY__INIT;

        connect_session(f);
        c.command_id = 12;
        c.kind_case = CASTLE__COMMAND__KIND_SPECS;
        c.specs = &set;
        set.revision = 77;
        send_command(f, &c);
        assert_int_equal(f->spec_sets, 1);
        assert_int_equal(f->revision, 77);
        expect_nothing(f);

        c.command_id = 13;
        c.kind_case = CASTLE__COMMAND__KIND_POLICY;
        c.policy = &p;
        p.auto_prepare = true;
        send_command(f, &c);
        assert_int_equal(f->spec_sets + f->creates + f->rescans, 1);
        expect_nothing(f);
}

static void test_job_updates(void **state) {
        Fixture *f = *state;
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
        Castle__Envelope *e;

        connect_session(f);
        /* Id 0 is nobody's: not sent. */
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

/* ---- commands run once, whichever coordinator forwards them ---- */

static Castle__Command osd_create_command(uint64_t id, Castle__OsdCreate *oc) {
        Castle__Command c = CASTLE__COMMAND__INIT;

        castle__osd_create__init(oc);
        oc->device_id = (char *) "wwn-0x5000c500a1b2c3d4";
        c.command_id = id;
        c.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        c.osd_create = oc;
        return c;
}

/* A job's update, as the job runner hands it to the agent. */
static void job_progress(Fixture *f, uint64_t id, const char *step, bool done) {
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

        u.command_id = id;
        u.step = (char *) step;
        u.done = done;
        u.osd_id = done ? 3 : -1;
        on_job_update(&u, f);
}

static void expect_update_on(zsock_t *coordinator, uint64_t id, const char *step, bool done) {
        Castle__Envelope *e = expect_on(coordinator, CASTLE__ENVELOPE__BODY_JOB_UPDATE);

        assert_int_equal(e->job_update->command_id, id);
        assert_string_equal(e->job_update->step, step);
        assert_int_equal(e->job_update->done, done);
        castle__envelope__free_unpacked(e, NULL);
}

static void test_repeat_while_running(void **state) {
        Fixture *f = *state;
        Castle__OsdCreate oc;
        Castle__Command c = osd_create_command(21, &oc);

        connect_session(f);
        send_command(f, &c);
        assert_int_equal(f->creates, 1);
        assert_int_equal(command_table_running(f->commands), 1);

        /* Again before any progress: not run, and there is nothing to tell yet. */
        send_command(f, &c);
        assert_int_equal(f->creates, 1);
        expect_nothing(f);

        job_progress(f, 21, "mkfs", false);
        expect_update_on(f->coordinator, 21, "mkfs", false);
        /* Again: not run, the latest progress goes out again. */
        send_command(f, &c);
        assert_int_equal(f->creates, 1);
        expect_update_on(f->coordinator, 21, "mkfs", false);
        expect_nothing(f);
}

static void test_repeat_after_done(void **state) {
        Fixture *f = *state;
        Castle__OsdCreate oc;
        Castle__Command c = osd_create_command(22, &oc);
        Castle__Envelope *e;

        connect_session(f);
        send_command(f, &c);
        job_progress(f, 22, "mkfs", false);
        job_progress(f, 22, "done", true);
        expect_update_on(f->coordinator, 22, "mkfs", false);
        expect_update_on(f->coordinator, 22, "done", true);
        assert_int_equal(command_table_running(f->commands), 0);
        assert_int_equal(command_table_finished(f->commands), 1);

        send_command(f, &c);
        assert_int_equal(f->creates, 1);
        e = expect(f, CASTLE__ENVELOPE__BODY_JOB_UPDATE);
        assert_int_equal(e->job_update->command_id, 22);
        assert_true(e->job_update->done);
        assert_int_equal(e->job_update->osd_id, 3);
        castle__envelope__free_unpacked(e, NULL);
        expect_nothing(f);

        /* A refusal is the command's end too: a repeat gets the refusal, not a run. */
        f->create_result = -EBUSY;
        c.command_id = 23;
        send_command(f, &c);
        expect_update_on(f->coordinator, 23, "done", true);
        f->create_result = 0;
        send_command(f, &c);
        assert_int_equal(f->creates, 2);
        e = expect(f, CASTLE__ENVELOPE__BODY_JOB_UPDATE);
        assert_string_equal(e->job_update->error, "too many jobs queued on the node");
        castle__envelope__free_unpacked(e, NULL);
}

static void test_repeat_rescan_specs_and_id_zero(void **state) {
        Fixture *f = *state;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__Rescan rescan = CASTLE__RESCAN__INIT;
        Castle__SpecSet set = CASTLE__SPEC_SET__INIT;

        connect_session(f);
        c.command_id = 31;
        c.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        c.rescan = &rescan;
        send_command(f, &c);
        send_command(f, &c);
        assert_int_equal(f->rescans, 1);
        assert_int_equal(command_table_running(f->commands), 0);

        c.command_id = 32;
        c.kind_case = CASTLE__COMMAND__KIND_SPECS;
        c.specs = &set;
        send_command(f, &c);
        send_command(f, &c);
        assert_int_equal(f->spec_sets, 1);
        expect_nothing(f); /* nothing to report for either */

        /* Id 0 is nobody's choice: every one runs (a coordinator of before client-chosen ids). */
        c.command_id = 0;
        send_command(f, &c);
        send_command(f, &c);
        assert_int_equal(f->spec_sets, 3);
}

static void test_eviction(void **state) {
        Fixture *f = *state;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__Rescan rescan = CASTLE__RESCAN__INIT;

        connect_session(f);
        c.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        c.rescan = &rescan;
        /* The table remembers 16 finished commands: the 17th evicts the first. */
        for (uint64_t id = 100; id < 117; id++) {
                c.command_id = id;
                send_command(f, &c);
        }
        assert_int_equal(f->rescans, 17);
        assert_int_equal(command_table_finished(f->commands), 16);
        c.command_id = 116; /* still known */
        send_command(f, &c);
        assert_int_equal(f->rescans, 17);
        c.command_id = 101;
        send_command(f, &c);
        assert_int_equal(f->rescans, 17);
        c.command_id = 100; /* forgotten: runs again (and evicts 101) */
        send_command(f, &c);
        assert_int_equal(f->rescans, 18);
        c.command_id = 101;
        send_command(f, &c);
        assert_int_equal(f->rescans, 19);
}

static void test_table_bounds(void **state) {
        CommandTable *t = NULL;
        const Castle__JobUpdate *latest;
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

        assert_int_equal(command_table_new(1, &t), 0);
        for (uint64_t id = 1; id <= COMMAND_TABLE_MAX_RUNNING; id++)
                assert_int_equal(command_table_begin(t, id, &latest), 0);
        assert_int_equal(command_table_begin(t, 5000, &latest), -EBUSY);
        assert_int_equal(command_table_begin(t, 7, &latest), 1);
        assert_null(latest);
        /* the end of one makes room; with a ring of one, the next end evicts it */
        u.command_id = 7;
        u.step = (char *) "done";
        u.done = true;
        assert_int_equal(command_table_update(t, &u), 0);
        assert_int_equal(command_table_running(t), COMMAND_TABLE_MAX_RUNNING - 1);
        assert_int_equal(command_table_begin(t, 7, &latest), 1);
        assert_non_null(latest);
        assert_true(latest->done);
        assert_int_equal(command_table_begin(t, 5000, &latest), 0);
        command_table_finish(t, 8);
        assert_int_equal(command_table_finished(t), 1);
        assert_int_equal(command_table_begin(t, 7, &latest), 0);
        /* a late update of an unknown command is kept, and its end too */
        u.command_id = 9000;
        command_table_clear(t);
        assert_int_equal(command_table_update(t, &u), 0);
        assert_int_equal(command_table_begin(t, 9000, &latest), 1);
        assert_true(latest->done);
        command_table_free(t);
}

/* ---- several coordinators ---- */

static void test_two_coordinators(void **state) {
        Fixture *f = *state;
        Castle__OsdCreate oc;
        Castle__Command c = osd_create_command(41, &oc);
        Castle__Envelope *e;
        Report *r;

        session_attach(f->session, f->agent);
        session_attach(f->session2, f->agent2);
        castle__envelope__free_unpacked(expect_on(f->coordinator, CASTLE__ENVELOPE__BODY_HELLO), NULL);
        e = expect_on(f->coordinator2, CASTLE__ENVELOPE__BODY_HELLO);
        assert_int_equal(e->hello->generation, GENERATION + 7);
        castle__envelope__free_unpacked(e, NULL);

        /* One report, shared: each session diffs it against its own coordinator's picture. */
        r = REPORT1("sda", 1);
        session_report(f->session, report_ref(r));
        session_report(f->session2, r);
        r = REPORT2("sda", 1, "sdb", 2);
        session_report(f->session, report_ref(r));
        session_report(f->session2, r);
        e = expect_on(f->coordinator, CASTLE__ENVELOPE__BODY_DELTA);
        assert_int_equal(e->delta->generation, GENERATION + 1);
        assert_int_equal(e->delta->n_changed, 1);
        castle__envelope__free_unpacked(e, NULL);
        e = expect_on(f->coordinator2, CASTLE__ENVELOPE__BODY_DELTA);
        assert_int_equal(e->delta->generation, GENERATION + 8);
        assert_string_equal(e->delta->changed[0]->kname, "sdb");
        castle__envelope__free_unpacked(e, NULL);

        /* Second coordinator is gone: the first one still hears everything. */
        session_attach(f->session2, NULL);
        r = REPORT1("sdb", 2);
        session_report(f->session, report_ref(r));
        session_report(f->session2, r);
        e = expect_on(f->coordinator, CASTLE__ENVELOPE__BODY_DELTA);
        assert_int_equal(e->delta->n_removed, 1);
        castle__envelope__free_unpacked(e, NULL);
        /* Back: its Hello says a generation it never saw (the delta it missed still counted),
         * so it asks for a snapshot. */
        session_attach(f->session2, f->agent2);
        e = expect_on(f->coordinator2, CASTLE__ENVELOPE__BODY_HELLO);
        assert_int_equal(e->hello->generation, GENERATION + 9);
        castle__envelope__free_unpacked(e, NULL);
        expect_nothing_on(f->coordinator2);

        /* A command through the first, the same id through the second: run once; updates and the
         * repeat's answer go to both. */
        send_command_to(f->coordinator, f->session, &c);
        job_progress(f, 41, "mkfs", false);
        expect_update_on(f->coordinator, 41, "mkfs", false);
        expect_update_on(f->coordinator2, 41, "mkfs", false);
        send_command_to(f->coordinator2, f->session2, &c);
        assert_int_equal(f->creates, 1);
        expect_update_on(f->coordinator, 41, "mkfs", false);
        expect_update_on(f->coordinator2, 41, "mkfs", false);
        job_progress(f, 41, "done", true);
        expect_update_on(f->coordinator, 41, "done", true);
        expect_update_on(f->coordinator2, 41, "done", true);
        send_command_to(f->coordinator2, f->session2, &c);
        assert_int_equal(f->creates, 1);
        expect_update_on(f->coordinator, 41, "done", true);
        expect_update_on(f->coordinator2, 41, "done", true);
        expect_nothing_on(f->coordinator);
        expect_nothing_on(f->coordinator2);
}

/* ---- the coordinator list of the configuration ---- */

static int load_config(const char *text, AgentConfig *ret) {
        char path[] = "/tmp/test-session-conf-XXXXXX";
        _cleanup_free_ char *arg = NULL;
        DaemonArgs args = {};
        int fd = mkstemp(path), r;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        assert_true(asprintf(&arg, "--config=%s", path) > 0);
        assert_int_equal(agent_config_parse_args(2, (char *[]) { (char *) "castle-agent", arg, NULL }, &args), 0);
        r = agent_config_load(&args, ret);
        daemon_args_done(&args);
        unlink(path);
        return r;
}

static void test_coordinator_list(void **state) {
        AgentConfig c;

        /* the default: one, with one key */
        assert_int_equal(load_config("[agent]\n", &c), 0);
        assert_int_equal(strv_length(c.coordinator), 1);
        assert_string_equal(c.coordinator[0], "tcp://127.0.0.1:7100");
        assert_string_equal(agent_config_coordinator_key(&c, 0), "/etc/castle/keys/coordinator.key");
        assert_int_equal(c.recent_commands, 1024);
        agent_config_done(&c);

        /* three with one key for all */
        assert_int_equal(load_config("[agent]\ncoordinator = tcp://a:1, tcp://b:2,tcp://c:3\n", &c), 0);
        assert_int_equal(strv_length(c.coordinator), 3);
        assert_string_equal(c.coordinator[2], "tcp://c:3");
        assert_string_equal(agent_config_coordinator_key(&c, 2), "/etc/castle/keys/coordinator.key");
        agent_config_done(&c);

        /* one key each, in order */
        assert_int_equal(load_config("[agent]\ncoordinator = tcp://a:1,tcp://b:2\ncoordinator-key = /k/a,/k/b\n", &c),
                         0);
        assert_string_equal(agent_config_coordinator_key(&c, 0), "/k/a");
        assert_string_equal(agent_config_coordinator_key(&c, 1), "/k/b");
        agent_config_done(&c);

        /* counts that do not go together, an endpoint twice, none at all */
        assert_int_equal(load_config("[agent]\ncoordinator = tcp://a:1,tcp://b:2,tcp://c:3\n"
                                     "coordinator-key = /k/a,/k/b\n",
                                     &c),
                         -EINVAL);
        assert_int_equal(load_config("[agent]\ncoordinator = tcp://a:1,tcp://a:1\n", &c), -EINVAL);
        assert_int_equal(load_config("[agent]\ncoordinator = ,\n", &c), -EINVAL);
        /* without CURVE the keys are not read: their count does not matter */
        assert_int_equal(load_config("[agent]\ninsecure = yes\ncoordinator = tcp://a:1,tcp://b:2,tcp://c:3\n"
                                     "coordinator-key = /k/a,/k/b\n",
                                     &c),
                         0);
        agent_config_done(&c);
}

/* labels, spec-settle, and the options OSD specs replaced. */
static void test_labels_and_specs_options(void **state) {
        AgentConfig c;

        assert_int_equal(load_config("[agent]\nlabels = osd, rack-1\n[osd]\nspec-settle = 5s\n", &c), 0);
        assert_int_equal(strv_length(c.labels), 2);
        assert_string_equal(c.labels[1], "rack-1");
        assert_int_equal(c.spec_settle, 5 * 1000000);
        agent_config_done(&c);
        assert_int_equal(load_config("[agent]\n", &c), 0);
        assert_int_equal(c.spec_settle, 60 * 1000000);
        assert_true(strv_isempty(c.labels));
        agent_config_done(&c);

        assert_int_equal(load_config("[agent]\nlabels = osd, osd\n", &c), -EINVAL);
        assert_int_equal(load_config("[agent]\nlabels = a\x01\n", &c), -EINVAL);
        assert_int_equal(load_config("[osd]\nspec-settle = 0\n", &c), -EINVAL);
        assert_int_equal(load_config("[osd]\nauto-prepare = yes\n", &c), -EINVAL);
        assert_int_equal(load_config("[osd]\nauto-prepare-filter = ^sd\n", &c), -EINVAL);
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
                cmocka_unit_test_setup_teardown(test_specs_command, setup, teardown),
                cmocka_unit_test_setup_teardown(test_job_updates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_repeat_while_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_repeat_after_done, setup, teardown),
                cmocka_unit_test_setup_teardown(test_repeat_rescan_specs_and_id_zero, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
                cmocka_unit_test(test_table_bounds),
                cmocka_unit_test_setup_teardown(test_two_coordinators, setup2, teardown),
                cmocka_unit_test(test_coordinator_list),
                cmocka_unit_test(test_labels_and_specs_options),
        };

        zsys_handler_set(NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
