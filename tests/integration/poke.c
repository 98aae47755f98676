/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A hostile agent for the integration tests: connects to the coordinator with a real,
 * allowlisted key and sends what a broken or malicious peer might (garbage bytes, a truncated
 * protobuf, a wrong protocol version, an oversized message, a Hello for a node id of its
 * choosing). Not installed.
 * `castle-poke coordinator ENDPOINT ID rescan|DEVICE-ID` plays a coordinator instead (no CURVE):
 * it waits for an agent, sends it command ID (a rescan, or a dry-run OSD create on DEVICE-ID),
 * and prints the job updates of that command it hears until the last one, so that a test can
 * send one command id through two of them (test-agent-ha.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/link.h"

static int play_coordinator(const char *endpoint, const char *id_text, const char *what) {
        Castle__Envelope cmd = CASTLE__ENVELOPE__INIT;
        Castle__Command c = CASTLE__COMMAND__INIT;
        Castle__Rescan rescan = CASTLE__RESCAN__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        int64_t deadline = zclock_mono() + 60000, quiet_until = 0;
        zsock_t *s = NULL;
        bool sent = false;
        int r = 1;

        c.command_id = strtoull(id_text, NULL, 10);
        if (streq(what, "rescan")) {
                c.kind_case = CASTLE__COMMAND__KIND_RESCAN;
                c.rescan = &rescan;
        } else {
                c.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
                c.osd_create = &oc;
                oc.device_id = (char *) what;
                oc.dry_run = true;
        }
        cmd.protocol_version = CASTLE_PROTOCOL_VERSION;
        cmd.body_case = CASTLE__ENVELOPE__BODY_COMMAND;
        cmd.command = &c;
        if (link_bind(endpoint, &(LinkOptions) { .insecure = true }, &s) < 0) {
                fprintf(stderr, "poke: cannot bind %s\n", endpoint);
                return 1;
        }
        zsock_set_rcvtimeo(s, 200);
        while (zclock_mono() < deadline && (!quiet_until || zclock_mono() < quiet_until)) {
                zmsg_t *m = zmsg_recv(s);
                zframe_t *from, *body;
                Castle__Envelope *e = NULL;

                if (!m)
                        continue;
                from = zmsg_pop(m);
                body = zmsg_pop(m);
                if (from && body && codec_envelope_unpack(zframe_data(body), zframe_size(body), &e) == 0) {
                        if (!sent) {
                                /* the agent is there: its first message (a heartbeat) named it */
                                sent = link_send(s, from, &cmd.base) == 0;
                                printf("sent %" PRIu64 "\n", c.command_id);
                                if (c.kind_case == CASTLE__COMMAND__KIND_RESCAN)
                                        quiet_until = zclock_mono() + 2000; /* nothing comes back */
                        } else if (e->body_case == CASTLE__ENVELOPE__BODY_JOB_UPDATE &&
                                   e->job_update->command_id == c.command_id) {
                                printf("job_update %" PRIu64 " %s%s\n", c.command_id, strempty(e->job_update->step),
                                       e->job_update->done ? " done" : "");
                                if (e->job_update->done)
                                        quiet_until = zclock_mono() + 1000; /* a repeat would follow */
                        }
                        fflush(stdout);
                        castle__envelope__free_unpacked(e, NULL);
                }
                zframe_destroy(&from);
                zframe_destroy(&body);
                zmsg_destroy(&m);
        }
        r = sent ? 0 : 1;
        if (!sent)
                fprintf(stderr, "poke: no agent came to %s\n", endpoint);
        zsock_destroy(&s);
        return r;
}

int main(int argc, char *argv[]) {
        char server[KEY_TEXT_LEN + 1];
        zcert_t *cert = NULL;
        zsock_t *s = NULL;
        const char *what;
        int r;

        if (argc == 5 && streq(argv[1], "coordinator"))
                return play_coordinator(argv[2], argv[3], argv[4]);
        if (argc != 5 && !(argc == 6 && streq(argv[4], "hello"))) {
                fprintf(stderr, "usage: poke ENDPOINT KEY SERVER-KEY garbage|truncated|version|huge|hello NODE-ID\n");
                return 2;
        }
        what = argv[4];
        const char *node = argc == 6 ? argv[5] : "poke";
        if (keys_load_pair(argv[2], &cert) < 0 || keys_load_public(argv[3], server) < 0) {
                fprintf(stderr, "poke: cannot load keys\n");
                return 1;
        }
        r = link_connect(argv[1], &(LinkOptions) { .cert = cert, .server_public = server, .identity = node }, &s);
        if (r < 0)
                return 1;
        zsock_set_sndtimeo(s, 5000);
        if (streq(what, "garbage")) {
                zstr_send(s, "\xff\xfe this is not a protobuf \x01\x02\x03");
        } else if (streq(what, "truncated") || streq(what, "version") || streq(what, "hello")) {
                Castle__Envelope e = CASTLE__ENVELOPE__INIT;
                Castle__Hello h = CASTLE__HELLO__INIT;
                uint8_t *buf;
                size_t n;

                h.node_id = (char *) node;
                h.hostname = (char *) (streq(what, "hello") ? "poke"
                                       : "a hostname long enough to be cut in the middle of the message");
                h.agent_version = (char *) "poke";
                e.protocol_version = streq(what, "version") ? 99 : CASTLE_PROTOCOL_VERSION;
                e.body_case = CASTLE__ENVELOPE__BODY_HELLO;
                e.hello = &h;
                if (codec_pack(&e.base, &buf, &n) < 0)
                        return 1;
                zsock_send(s, "b", buf, streq(what, "truncated") ? n / 2 : n);
                free(buf);
        } else if (streq(what, "huge")) {
                size_t n = 100 * 1024 * 1024;
                uint8_t *buf = calloc(1, n);
                if (!buf)
                        return 1;
                zsock_send(s, "b", buf, n);
                free(buf);
        } else {
                fprintf(stderr, "poke: unknown '%s'\n", what);
                return 2;
        }
        zclock_sleep(500); /* let it go out before the socket closes */
        zsock_destroy(&s);
        zcert_destroy(&cert);
        return 0;
}
