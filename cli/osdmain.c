/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl-osd: the castlectl commands that write to disks and talk to the monitors (osd,
 * zap). castlectl runs it with its own arguments, so that the inventory never loads
 * librados. */
#include "cli/commands.h"
#include "common/macro.h"

int main(int argc, char *argv[]) {
        static const Command commands[] = {
                { "osd", NULL, cmd_osd },
                { "zap", NULL, cmd_zap },
        };

        return command_helper_main("castlectl-osd", commands, ELEMENTSOF(commands), argc, argv);
}
