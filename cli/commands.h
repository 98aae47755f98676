/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl commands. Each returns the process exit status. */
#pragma once

#define EXIT_USAGE 2

typedef struct Command {
        const char *name;
        const char *summary;
        int (*run)(int argc, char *argv[]);
} Command;

int cmd_inventory(int argc, char *argv[]);
int cmd_keygen(int argc, char *argv[]);
int cmd_cluster(int argc, char *argv[]);
int cmd_osd(int argc, char *argv[]);
int cmd_zap(int argc, char *argv[]);
