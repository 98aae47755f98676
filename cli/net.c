/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl-net: the castlectl commands that talk ZeroMQ (cluster, keygen). castlectl runs it
 * with its own arguments, so that the inventory never loads libzmq and its dependencies. */
#include "cli/commands.h"
#include "common/macro.h"

int main(int argc, char *argv[]) {
        static const Command commands[] = {
                { "cluster", NULL, cmd_cluster },
                { "keygen", NULL, cmd_keygen },
        };

        return command_helper_main("castlectl-net", commands, ELEMENTSOF(commands), argc, argv);
}
