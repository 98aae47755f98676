/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration parser (common/conf.c) with both daemons' option tables: every input is
 * read as /etc/castle/agent.conf and as /etc/castle/coordinator.conf, from the defaults as the
 * daemons start, and what was read is printed back as --check-config --dump would. */
#include <stdio.h>

#include "agent/config.h"
#include "tests/fuzz/fuzz.h"

/* The coordinator's table is a static of its main.c, where the daemon defines it next to the
 * config struct it fills; that file is compiled into this target, its main() renamed. */
int castle_coordinator_main(int argc, char *argv[]);
#define main castle_coordinator_main
#include "coordinator/main.c"
#undef main

static FILE *devnull;

static void parse(const ConfOption *table, size_t n, const char *path, const char *text, void *values) {
        fuzz_require(conf_set_defaults(table, n, values) >= 0);
        if (conf_parse_text(table, n, path, text, values, devnull) >= 0)
                conf_print_values(table, n, values, devnull);
        conf_free_values(table, n, values);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_quiet();
        devnull = fopen("/dev/null", "we");
        fuzz_require(devnull);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        AgentConfig a = {};
        CoordinatorConfig c = {};

        parse(agent_config_options, agent_config_n_options, AGENT_CONFIG_DEFAULT_PATH, text, &a);
        parse(options, ELEMENTSOF(options), DEFAULT_CONFIG, text, &c);
        return 0;
}
