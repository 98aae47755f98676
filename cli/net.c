/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl-net: the castlectl commands that talk ZeroMQ (cluster, keygen). castlectl runs it
 * with its own arguments, so that the inventory never loads libzmq and its dependencies. */
#include <stdio.h>

#include "cli/commands.h"
#include "common/log.h"

int main(int argc, char *argv[]) {
        log_parse_environment();
        if (argc >= 2 && streq(argv[1], "cluster"))
                return cmd_cluster(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "keygen"))
                return cmd_keygen(argc - 1, argv + 1);
        fprintf(stderr, "castlectl-net runs 'castlectl cluster' and 'castlectl keygen'; use those.\n");
        return EXIT_USAGE;
}
