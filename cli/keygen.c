/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl keygen: CURVE key pairs for the coordinator, agents and clients. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/log.h"
#include "proto/keys.h"

static void help(FILE *f) {
        fprintf(f,
"Usage: castlectl keygen [--dir DIR] NAME\n"
"\n"
"Writes a CURVE key pair: DIR/NAME.key (the public key, to hand out) and\n"
"DIR/NAME.key_secret (the key pair, mode 0600, stays on this machine). Existing files are\n"
"never overwritten.\n"
"\n"
"  -d, --dir=DIR   where to write (default: the current directory)\n"
"  -h, --help      this text\n"
"\n"
"Then:\n"
"  coordinator:  key = DIR/coordinator.key in coordinator.conf; give coordinator.key to\n"
"                agents and clients\n"
"  agent:        key = DIR/NAME.key in agent.conf; copy NAME.key into the coordinator's\n"
"                agent-keys directory (default /etc/castle/agents.d)\n"
"  castlectl:    --key DIR/NAME.key; copy NAME.key into the coordinator's query-keys\n"
"                directory (default /etc/castle/clients.d)\n");
}

int cmd_keygen(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "dir", required_argument, NULL, 'd' },
                {}
        };
        const char *dir = ".";
        char pub[KEY_TEXT_LEN + 1];
        _cleanup_free_ char *path = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "hd:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case 'd':
                        dir = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind + 1 != argc) {
                log_error("keygen takes one NAME. Run 'castlectl keygen --help'.");
                return EXIT_USAGE;
        }
        if (strchr(argv[optind], '/') || isempty(argv[optind])) {
                log_error("NAME is a file name, not a path: use --dir for the directory.");
                return EXIT_USAGE;
        }
        if (asprintf(&path, "%s/%s.key", dir, argv[optind]) < 0)
                return 1;
        r = keys_generate(path, argv[optind], pub);
        if (r == -EEXIST) {
                log_error("%s or %s_secret exists already; not overwriting a key.", path, path);
                return 1;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to write %s: %m", path);
                return 1;
        }
        printf("%s\t%s\n%s_secret\t(secret, mode 0600)\npublic key: %s\n", path, "(public)", path, pub);
        return 0;
}
