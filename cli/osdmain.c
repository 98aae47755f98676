/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl-osd: the castlectl commands that write to disks and talk to the monitors (osd,
 * zap). castlectl runs it with its own arguments, so that the inventory never loads
 * librados. */
#include <stdio.h>

#include "cli/commands.h"
#include "common/log.h"

int main(int argc, char *argv[]) {
        log_parse_environment();
        if (argc >= 2 && streq(argv[1], "osd"))
                return cmd_osd(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "zap"))
                return cmd_zap(argc - 1, argv + 1);
        fprintf(stderr, "castlectl-osd runs 'castlectl osd' and 'castlectl zap'; use those.\n");
        return EXIT_USAGE;
}
