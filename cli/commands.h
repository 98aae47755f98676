/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl commands. Each returns the process exit status. */
#pragma once

#include <stddef.h>

#define EXIT_USAGE 2

typedef struct Command {
        const char *name;
        const char *summary;
        int (*run)(int argc, char *argv[]);
} Command;

/* The command called name, NULL if none is. */
const Command *command_find(const Command *commands, size_t n, const char *name);
/* main() of a helper program that castlectl runs with its own arguments: runs the command
 * argv[1] names, else says which commands the program runs (exit status 2). */
int command_helper_main(const char *program, const Command *commands, size_t n, int argc, char *argv[]);

int cmd_inventory(int argc, char *argv[]);
int cmd_keygen(int argc, char *argv[]);
int cmd_cluster(int argc, char *argv[]);
int cmd_osd(int argc, char *argv[]);
int cmd_zap(int argc, char *argv[]);
