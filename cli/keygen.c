/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl keygen: CURVE key pairs for the coordinator, agents and clients. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/log.h"
#include "proto/codec.h"
#include "proto/keys.h"

static void help(FILE *f) {
        fprintf(f,
"Usage: castlectl keygen [--dir DIR] [--node NODE] NAME\n"
"\n"
"Writes a CURVE key pair: DIR/NAME.key (the public key, to hand out) and\n"
"DIR/NAME.key_secret (the key pair, mode 0600, stays on this machine). Existing files are\n"
"never overwritten.\n"
"\n"
"  -d, --dir=DIR   where to write (default: the current directory)\n"
"      --node=NODE an agent's key: bind it to the node id NODE (metadata `node = NODE` in\n"
"                  both files); the coordinator drops what the key sends for any other node.\n"
"                  Without it, the key's first Hello binds it to the node it names;\n"
"                  --node='*' lets the key speak for any node (simulators, tests)\n"
"  -h, --help      this text\n"
"\n"
"Then:\n"
"  coordinator:  key = DIR/coordinator.key in coordinator.conf; give coordinator.key to\n"
"                agents and clients\n"
"  agent:        key = DIR/NAME.key in agent.conf; copy NAME.key into the coordinator's\n"
"                agent-keys directory (default /etc/castle/agents.d)\n"
"  castlectl:    --key DIR/NAME.key; copy NAME.key into the coordinator's query-keys\n"
"                directory: query-keys (default /etc/castle/clients.d) for the operator role,\n"
"                viewer-keys (/etc/castle/viewers.d) for viewer, admin-keys\n"
"                (/etc/castle/admins.d) for admin; the file's name is the key's name in\n"
"                the coordinator's errors, log and audit trail\n");
}

int cmd_keygen(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "dir", required_argument, NULL, 'd' },
                { "node", required_argument, NULL, 'N' },
                {}
        };
        const char *dir = ".", *node = NULL;
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
                case 'N':
                        if (!codec_valid_id(optarg)) {
                                log_error("--node takes a node id (the agent's node-id option, or its machine "
                                          "id): '%s' is not one.", optarg);
                                return EXIT_USAGE;
                        }
                        node = optarg;
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
        r = keys_generate_for_node(path, argv[optind], node, pub);
        if (r == -EEXIST) {
                log_error("%s or %s_secret exists already; not overwriting a key.", path, path);
                return 1;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to write %s: %m", path);
                return 1;
        }
        printf("%s\t%s\n%s_secret\t(secret, mode 0600)\npublic key: %s\n", path, "(public)", path, pub);
        if (node)
                printf("bound to node: %s\n", node);
        return 0;
}
