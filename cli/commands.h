/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl commands. Each returns the process exit status. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#define EXIT_USAGE 2
/* castlectl cluster: the coordinator refused the request for the client key's role. */
#define EXIT_PERMISSION 4

typedef struct Command {
        const char *name;
        const char *summary;
        int (*run)(int argc, char *argv[]);
} Command;

/* The commands and their summaries, one a line, the names padded to width, as a help text
 * lists them. */
void command_list_print(FILE *f, const Command *commands, size_t n, int width);
/* Runs the command argv[1] names (program is "castlectl" or "castlectl COMMAND"). Without
 * one, help goes to stderr (exit status 2); with --help or -h, to stdout (exit status 0); a
 * name none of the commands has is a usage error. */
int command_dispatch(const char *program, const Command *commands, size_t n, void (*help)(FILE *f), int argc,
                     char *argv[]);
/* main() of a helper program that castlectl runs with its own arguments: reads the log level
 * from the environment, runs the command argv[1] names, else says which commands the
 * program runs (exit status 2). */
int command_helper_main(const char *program, const Command *commands, size_t n, int argc, char *argv[]);

int cmd_inventory(int argc, char *argv[]);
int cmd_keygen(int argc, char *argv[]);
int cmd_cluster(int argc, char *argv[]);
int cmd_osd(int argc, char *argv[]);
int cmd_zap(int argc, char *argv[]);
