/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Commands found by name in a table: castlectl's own, the ones its helper programs run, and
 * the verbs of `castlectl osd`. */
#include <stdio.h>

#include "cli/commands.h"
#include "common/macro.h"

const Command *command_find(const Command *commands, size_t n, const char *name) {
        for (size_t i = 0; name && i < n; i++)
                if (streq(name, commands[i].name))
                        return &commands[i];
        return NULL;
}

int command_helper_main(const char *program, const Command *commands, size_t n, int argc, char *argv[]) {
        const Command *c = argc >= 2 ? command_find(commands, n, argv[1]) : NULL;

        if (c)
                return c->run(argc - 1, argv + 1);
        fprintf(stderr, "%s runs ", program);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%s'castlectl %s'", i == 0 ? "" : i + 1 == n ? " and " : ", ", commands[i].name);
        fprintf(stderr, "; use those.\n");
        return EXIT_USAGE;
}
