/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A hostile agent for the integration tests: connects to the coordinator with a real,
 * allowlisted key and sends what a broken or malicious peer might (garbage bytes, a truncated
 * protobuf, a wrong protocol version, an oversized message, a Hello for a node id of its
 * choosing). Not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/link.h"

int main(int argc, char *argv[]) {
        char server[KEY_TEXT_LEN + 1];
        zcert_t *cert = NULL;
        zsock_t *s = NULL;
        const char *what;
        int r;

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
