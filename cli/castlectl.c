/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl: the operator's command line. Each command lives in its own file; this one only
 * dispatches and prints the overall help. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/log.h"


/* Commands with heavy libraries live in helpers: next to this binary (a build tree), else in
 * LIBEXECDIR. */
static int run_helper(const char *helper, char *argv[]) {
        char self[PATH_MAX], path[PATH_MAX + 32];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

        if (n > 0) {
                self[n] = 0;
                snprintf(path, sizeof path, "%s/%s", dirname(self), helper);
                if (access(path, X_OK) == 0)
                        execv(path, argv - 1);
        }
        snprintf(path, sizeof path, "%s/%s", LIBEXECDIR, helper);
        execv(path, argv - 1);
        log_error_errno(errno, "Cannot run %s: %m", path);
        return 1;
}

/* ZeroMQ: castlectl-net */
static int cmd_net(int argc, char *argv[]) {
        return run_helper("castlectl-net", argv);
}

/* librados: castlectl-osd */
static int cmd_osd_helper(int argc, char *argv[]) {
        return run_helper("castlectl-osd", argv);
}

static const Command commands[] = {
        { "inventory", "List this node's block devices and whether each is safe to use", cmd_inventory },
        { "cluster", "Ask the coordinator about every node's devices (nodes, devices, watch)", cmd_net },
        { "keygen", "Write a CURVE key pair for the coordinator, an agent or a client", cmd_net },
        { "osd", "OSDs on this node: prepare, batch, activate, list", cmd_osd_helper },
        { "zap", "Destroy what is on a device so it can be used again", cmd_osd_helper },
};

static void help(FILE *f) {
        fprintf(f,
                "Usage: castlectl [--version] [--help] COMMAND [ARGS...]\n"
                "\n"
                "castle's command line: the disks of this node and of the cluster, and Ceph OSDs on them.\n"
                "\n"
                "Commands:\n");
        command_list_print(f, commands, ELEMENTSOF(commands), 12);
        fprintf(f,
                "\n"
                "Run 'castlectl COMMAND --help' for the options of a command.\n"
                "\n"
                "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n"
                "Environment: CASTLE_LOG_LEVEL=debug|info|notice|warning|err sets the log level.\n");
}

int main(int argc, char *argv[]) {
        /* The probe workers would each get a malloc arena of their own; one is plenty for
         * a scan, and keeps the peak RSS down. */
        mallopt(M_ARENA_MAX, 1);
        log_parse_environment();

        if (argc >= 2 && streq(argv[1], "help")) {
                help(stdout);
                return 0;
        }
        if (argc >= 2 && (streq(argv[1], "--version") || streq(argv[1], "-V"))) {
                printf("castlectl %s\n", PACKAGE_VERSION);
                return 0;
        }
        return command_dispatch("castlectl", commands, ELEMENTSOF(commands), help, argc, argv);
}
