/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl osd: the dispatcher of the verbs that prepare, start and list this node's OSDs,
 * each in its own osd-VERB.c (castlectl zap is zap.c). They run in castlectl-osd, which
 * links librados. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/osd-util.h"
#include "common/macro.h"

static const Command verbs[] = {
        { "prepare", "make a device a BlueStore OSD and start it", osdcli_prepare },
        { "batch", "LVM OSDs on many devices, block.db on the fast ones (ceph-volume lvm batch)",
          osdcli_batch },
        { "activate", "start this node's OSDs (at boot, or as a pod's entrypoint)", osdcli_activate },
        { "run", "one OSD in the foreground, for its supervisor (systemd, Kubernetes)", osdcli_run },
        { "list", "every OSD on this node, castle's and ceph-volume's", osdcli_list },
        { "rm", "remove OSDs: out, drain, stop, purge or destroy (--replace), zap", osdcli_rm },
};

static void help_osd(FILE *f) {
        fprintf(f,
"Usage: castlectl osd COMMAND [OPTIONS]\n"
"\n"
"OSDs on this node.\n"
"\n"
"Commands:\n");
        command_list_print(f, verbs, ELEMENTSOF(verbs), 11);
        fprintf(f,
"\n"
"Run 'castlectl osd COMMAND --help' for the options of a command.\n");
}

int cmd_osd(int argc, char *argv[]) {
        return command_dispatch("castlectl osd", verbs, ELEMENTSOF(verbs), help_osd, argc, argv);
}
