/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Commands found by name in a table: castlectl's own, the ones its helper programs run, and
 * the verbs of `castlectl osd`. */
#include <stdio.h>

#include "cli/commands.h"
#include "common/log.h"
#include "common/macro.h"

static const Command *command_find(const Command *commands, size_t n, const char *name) {
        for (size_t i = 0; name && i < n; i++)
                if (streq(name, commands[i].name))
                        return &commands[i];
        return NULL;
}

void command_list_print(FILE *f, const Command *commands, size_t n, int width) {
        for (size_t i = 0; i < n; i++)
                fprintf(f, "  %-*s %s\n", width, commands[i].name, commands[i].summary);
}

int command_dispatch(const char *program, const Command *commands, size_t n, void (*help)(FILE *f), int argc,
                     char *argv[]) {
        const char *sub = startswith(program, "castlectl ");
        const Command *c;

        if (argc < 2) {
                help(stderr);
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h")) {
                help(stdout);
                return 0;
        }
        c = command_find(commands, n, argv[1]);
        if (c)
                return c->run(argc - 1, argv + 1);
        log_error("Unknown command '%s%s%s'. Run '%s --help' for the list.", strempty(sub), sub ? " " : "",
                  argv[1], program);
        return EXIT_USAGE;
}

int command_helper_main(const char *program, const Command *commands, size_t n, int argc, char *argv[]) {
        const Command *c;

        log_parse_environment();
        c = argc >= 2 ? command_find(commands, n, argv[1]) : NULL;
        if (c)
                return c->run(argc - 1, argv + 1);
        fprintf(stderr, "%s runs ", program);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%s'castlectl %s'", i == 0 ? "" : i + 1 == n ? " and " : ", ",
                        commands[i].name);
        fprintf(stderr, "; use those.\n");
        return EXIT_USAGE;
}
