/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drives the intent store's Ceph backend (coordinator/intent-ceph.c) directly, for
 * tests/integration/test-intent-ceph.sh: one process, one backend, commands read from stdin so
 * that a test can stop and restart the monitor between two of them. Every command answers with
 * exactly one final line ("write ...", "follow ..."), so a script can read up to it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/timeutil.h"
#include "coordinator/intent-ceph.h"

static const char *out_dir;

static void help(void) {
        printf("castle-intent-ceph --conf FILE --name NAME --keyring FILE --writer NAME [OPTIONS]\n\n"
               "Drives the intent store's Ceph backend (the monitors' config-key store) directly.\n"
               "Reads commands from standard input, one a line:\n"
               "  put KEY TEXT        stores TEXT under KEY (one write call)\n"
               "  putfile KEY FILE    stores FILE's bytes under KEY\n"
               "  putmany KEY N       stores KEY-0 .. KEY-(N-1) in one write call\n"
               "  rm KEY              removes KEY\n"
               "  follow              prints \"add KEY SIZE\" or \"del KEY\" for every pair not seen yet\n"
               "Each command ends with one line: \"write R MS\" or \"follow R N MS\", R the result\n"
               "(0 or -errno), N how many pairs came, MS the milliseconds it took.\n\n"
               "Options:\n"
               "  --prefix PREFIX     castle's key prefix (default castle/)\n"
               "  --timeout MS        give up on a monitor command after MS milliseconds (default 5000)\n"
               "  --out DIR           follow writes each value into DIR/KEY ('/' as '_'), removes it on del\n"
               "  -h, --help          this text\n");
}

static char *out_path(const char *key) {
        char *p;

        if (asprintf(&p, "%s/%s", out_dir, key) < 0)
                return NULL;
        for (char *c = p + strlen(out_dir) + 1; *c; c++)
                if (*c == '/')
                        *c = '_';
        return p;
}

static int add(const char *key, const void *value, size_t size, void *u) {
        size_t *count = u;

        (*count)++;
        if (!value) {
                printf("del %s\n", key);
                if (out_dir) {
                        _cleanup_free_ char *p = out_path(key);
                        if (p)
                                (void) unlink(p);
                }
                return 0;
        }
        printf("add %s %zu\n", key, size);
        if (out_dir) {
                _cleanup_free_ char *p = out_path(key);
                FILE *f;

                if (!p)
                        return -ENOMEM;
                f = fopen(p, "we");
                if (!f)
                        return -errno;
                if (fwrite(value, 1, size, f) != size) {
                        fclose(f);
                        return -EIO;
                }
                if (fclose(f) != 0)
                        return -errno;
        }
        return 0;
}

static void report(const char *what, int r, uint64_t start) {
        printf("%s %d %" PRIu64 "%s%s\n", what, r, (now_usec() - start) / 1000, r < 0 ? " " : "",
               r < 0 ? strerror(-r) : "");
        fflush(stdout);
}

int main(int argc, char *argv[]) {
        static const struct option longopts[] = {
                { "conf", required_argument, NULL, 'c' },    { "name", required_argument, NULL, 'n' },
                { "keyring", required_argument, NULL, 'k' }, { "writer", required_argument, NULL, 'w' },
                { "prefix", required_argument, NULL, 'p' },  { "timeout", required_argument, NULL, 't' },
                { "out", required_argument, NULL, 'o' },     { "help", no_argument, NULL, 'h' },
                {},
        };
        IntentCephOptions o = { .prefix = "castle/", .timeout_usec = 5 * USEC_PER_SEC };
        IntentBackend b;
        char line[4096];
        int c, r;

        log_parse_environment();
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0)
                switch (c) {
                case 'c': o.conf = optarg; break;
                case 'n': o.name = optarg; break;
                case 'k': o.keyring = optarg; break;
                case 'w': o.writer = optarg; break;
                case 'p': o.prefix = optarg; break;
                case 't': o.timeout_usec = strtoull(optarg, NULL, 10) * 1000; break;
                case 'o': out_dir = optarg; break;
                case 'h': help(); return 0;
                default: return 2;
                }
        r = intent_ceph_backend(&o, &b);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the Ceph backend (--conf, --name, --keyring, --writer): %m"),
                       1;
        setvbuf(stdout, NULL, _IOLBF, 0);
        while (fgets(line, sizeof line, stdin)) {
                char *cmd, *key, *arg, *save = NULL;
                uint64_t start = now_usec();

                line[strcspn(line, "\n")] = 0;
                cmd = strtok_r(line, " ", &save);
                if (!cmd)
                        continue;
                key = strtok_r(NULL, " ", &save);
                arg = strtok_r(NULL, "", &save);
                if (streq(cmd, "follow")) {
                        size_t count = 0;
                        r = b.follow(b.data, add, &count);
                        printf("follow %d %zu %" PRIu64 "%s%s\n", r, count, (now_usec() - start) / 1000,
                               r < 0 ? " " : "", r < 0 ? strerror(-r) : "");
                        fflush(stdout);
                } else if (streq(cmd, "put") && key) {
                        const char *keys[] = { key };
                        const void *values[] = { arg ?: "" };
                        size_t sizes[] = { strlen(arg ?: "") };
                        report("write", b.write(b.data, keys, values, sizes, 1), start);
                } else if (streq(cmd, "putfile") && key && arg) {
                        _cleanup_free_ char *data = NULL;
                        size_t size;
                        r = read_full_file_at(AT_FDCWD, arg, 1024 * 1024, &data, &size);
                        if (r < 0) {
                                report("write", r, start);
                                continue;
                        }
                        const char *keys[] = { key };
                        const void *values[] = { data };
                        report("write", b.write(b.data, keys, values, &size, 1), start);
                } else if (streq(cmd, "putmany") && key && arg) {
                        /* One write call of N pairs KEY-0 .. KEY-(N-1), values "v0" ... */
                        size_t n = strtoul(arg, NULL, 10);
                        char **keys = calloc(n + 1, sizeof(char *)), **values = calloc(n + 1, sizeof(char *));
                        size_t *sizes = calloc(n + 1, sizeof(size_t));
                        r = keys && values && sizes ? 0 : -ENOMEM;
                        for (size_t i = 0; r == 0 && i < n; i++) {
                                if (asprintf(&keys[i], "%s-%zu", key, i) < 0 || asprintf(&values[i], "v%zu", i) < 0)
                                        r = -ENOMEM;
                                else
                                        sizes[i] = strlen(values[i]);
                        }
                        if (r == 0)
                                r = b.write(b.data, (const char *const *) keys, (const void *const *) values, sizes, n);
                        report("write", r, start);
                        for (size_t i = 0; keys && values && i < n; i++) {
                                free(keys[i]);
                                free(values[i]);
                        }
                        free(keys);
                        free(values);
                        free(sizes);
                } else if (streq(cmd, "rm") && key) {
                        const char *keys[] = { key };
                        const void *values[] = { NULL };
                        size_t sizes[] = { 0 };
                        report("write", b.write(b.data, keys, values, sizes, 1), start);
                } else
                        report("unknown", -EINVAL, start);
        }
        b.close(b.data);
        return 0;
}
