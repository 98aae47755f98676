/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* castlectl inventory: one scan of this node, selected and filtered, in a table or JSON. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/format.h"
#include "common/conf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/retry.h"
#include "common/size.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "discovery/devscan.h"
#include "discovery/filter.h"
#include "discovery/health.h"

static void help(FILE *f) {
        fprintf(f,
"Usage: castlectl inventory [OPTIONS] [DEVICE...]\n"
"\n"
"List this node's block devices, what they hold, and whether each is available for a\n"
"Ceph OSD. A device is available only if nothing speaks against it; every reason that\n"
"does is listed. The scan only reads: it never writes to any device.\n"
"\n"
"DEVICE limits the report to those devices: a /dev path, any /dev/disk link, a kernel\n"
"name or a stable id. A DEVICE that does not exist is an error.\n"
"\n"
"Output:\n"
"  -f, --format=FORMAT     table (default), json (castle's full record), or ceph-volume\n"
"                          (the layout of `ceph-volume inventory --format json`)\n"
"  -n, --no-headings       table without the heading line\n"
"\n"
"Selection (without DEVICE: whole disks and multipath devices):\n"
"  -a, --all               also partitions, LVM, dm-crypt and other dm devices, md, ROMs\n"
"      --allow-loop        list loop devices and accept them as available (tests, demos),\n"
"                          like CEPH_VOLUME_ALLOW_LOOP_DEVICES\n"
"      --filter=REGEX      kernel name matches REGEX (POSIX extended), e.g. '^sd[b-d]$'\n"
"      --path-filter=REGEX /dev path or any /dev link matches REGEX,\n"
"                          e.g. '^/dev/disk/by-path/pci-0000:03:00.0'\n"
"      --min-size=SIZE     at least SIZE (bytes, or with K, M, G, T, P: powers of 1024)\n"
"      --max-size=SIZE     at most SIZE\n"
"      --rotational=yes|no spinning disks only, or solid-state only\n"
"      --model=PATTERN     model matches PATTERN: a glob if it has * ? [, else a\n"
"                          case-insensitive substring\n"
"      --vendor=PATTERN    vendor matches PATTERN, as for --model\n"
"      --transport=NAME    nvme, sata, sas, scsi, virtio, usb, mmc, ata, virtual\n"
"      --available         available devices only\n"
"      --limit=N           at most N devices (after all other filters)\n"
"\n"
"Scan:\n"
"      --sysroot=DIR       read a captured tree instead of this machine: DIR/sys,\n"
"                          DIR/run/udev/data, DIR/proc, DIR/dev/disk, DIR/lvm-fullreport.json\n"
"                          (see tests/data/capture)\n"
"      --probe-timeout=SEC give up on a device that does not answer within SEC seconds\n"
"                          (default %d); it is reported as \"Could not be probed\"\n"
"      --udev-timeout=SEC  wait up to SEC seconds for udev to finish with devices that\n"
"                          were attached a moment ago (default %d)\n"
"      --health            also read each disk's health now (NVMe's SMART / health log,\n"
"                          smartctl for ATA and SCSI disks): a HEALTH column, the metrics\n"
"                          in JSON, and a disk whose health is failing is not available\n"
"      --health-timeout=SEC give up on a disk's health read after SEC seconds (default %d)\n"
"  -v, --verbose           debug messages on stderr\n"
"  -h, --help              this text\n"
"\n"
"Exit status: 0 on success, 1 if the scan failed or a DEVICE was not found, 2 on a usage\n"
"error. Run as root: without it devices cannot be opened and none is available.\n",
                (int) (SCAN_DEFAULT_PROBE_TIMEOUT_USEC / USEC_PER_SEC),
                (int) (SCAN_DEFAULT_UDEV_TIMEOUT_USEC / USEC_PER_SEC),
                (int) (HEALTH_DEFAULT_TIMEOUT_USEC / USEC_PER_SEC));
}

enum {
        ARG_ALLOW_LOOP = 0x100,
        ARG_FILTER,
        ARG_PATH_FILTER,
        ARG_MIN_SIZE,
        ARG_MAX_SIZE,
        ARG_ROTATIONAL,
        ARG_MODEL,
        ARG_VENDOR,
        ARG_TRANSPORT,
        ARG_LIMIT,
        ARG_AVAILABLE,
        ARG_SYSROOT,
        ARG_PROBE_TIMEOUT,
        ARG_UDEV_TIMEOUT,
        ARG_HEALTH,
        ARG_HEALTH_TIMEOUT,
};

typedef struct Args {
        OutputFormat format;
        bool headings, all, available_only, health;
        uint64_t health_timeout_usec;
        ScanOptions scan;
        Filter filter;
        char **devices;
} Args;

static int parse_args(int argc, char *argv[], Args *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "format", required_argument, NULL, 'f' },
                { "no-headings", no_argument, NULL, 'n' },
                { "all", no_argument, NULL, 'a' },
                { "verbose", no_argument, NULL, 'v' },
                { "allow-loop", no_argument, NULL, ARG_ALLOW_LOOP },
                { "filter", required_argument, NULL, ARG_FILTER },
                { "path-filter", required_argument, NULL, ARG_PATH_FILTER },
                { "min-size", required_argument, NULL, ARG_MIN_SIZE },
                { "max-size", required_argument, NULL, ARG_MAX_SIZE },
                { "rotational", required_argument, NULL, ARG_ROTATIONAL },
                { "model", required_argument, NULL, ARG_MODEL },
                { "vendor", required_argument, NULL, ARG_VENDOR },
                { "transport", required_argument, NULL, ARG_TRANSPORT },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "available", no_argument, NULL, ARG_AVAILABLE },
                { "sysroot", required_argument, NULL, ARG_SYSROOT },
                { "probe-timeout", required_argument, NULL, ARG_PROBE_TIMEOUT },
                { "udev-timeout", required_argument, NULL, ARG_UDEV_TIMEOUT },
                { "health", no_argument, NULL, ARG_HEALTH },
                { "health-timeout", required_argument, NULL, ARG_HEALTH_TIMEOUT },
                {}
        };
        _cleanup_free_ char *err = NULL;
        uint64_t v;
        bool yes;
        int c, r;

        while ((c = getopt_long(argc, argv, "hf:nav", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case 'f':
                        a->format = output_format_from_string(optarg);
                        if (a->format == _OUTPUT_FORMAT_MAX)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown --format '%s': use table, json or ceph-volume.",
                                                       optarg);
                        break;
                case 'n':
                        a->headings = false;
                        break;
                case 'a':
                        a->all = true;
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case ARG_ALLOW_LOOP:
                        a->scan.allow_loop = true;
                        break;
                case ARG_FILTER:
                case ARG_PATH_FILTER:
                        r = c == ARG_FILTER ? filter_set_name_regex(&a->filter, optarg, &err)
                                            : filter_set_path_regex(&a->filter, optarg, &err);
                        if (r < 0)
                                return log_error_errno(r, "--%s: %s", c == ARG_FILTER ? "filter" : "path-filter",
                                                       err ?: "invalid");
                        break;
                case ARG_MIN_SIZE:
                case ARG_MAX_SIZE:
                        if (parse_size(optarg, &v) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid size '%s': use a number of bytes, "
                                                               "or a number with K, M, G, T or P.", optarg);
                        if (c == ARG_MIN_SIZE)
                                a->filter.min_size = v;
                        else
                                a->filter.max_size = v;
                        break;
                case ARG_ROTATIONAL:
                        if (conf_parse_bool(optarg, &yes) >= 0)
                                a->filter.rotational = yes;
                        else
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--rotational takes yes or no, not '%s'.", optarg);
                        break;
                case ARG_MODEL:
                case ARG_VENDOR:
                        r = c == ARG_MODEL ? filter_set_model(&a->filter, optarg)
                                           : filter_set_vendor(&a->filter, optarg);
                        if (r < 0)
                                return log_error_errno(r, "Out of memory.");
                        break;
                case ARG_TRANSPORT:
                        a->filter.transport = (int) transport_from_string(optarg);
                        if (a->filter.transport == _TRANSPORT_MAX)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown --transport '%s'.", optarg);
                        break;
                case ARG_LIMIT:
                        if (safe_atou64(optarg, &v) < 0 || v == 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--limit takes a positive number, not '%s'.", optarg);
                        a->filter.limit = (size_t) v;
                        break;
                case ARG_AVAILABLE:
                        a->available_only = true;
                        break;
                case ARG_SYSROOT:
                        a->scan.sysroot = optarg;
                        break;
                case ARG_HEALTH:
                        a->health = true;
                        break;
                case ARG_PROBE_TIMEOUT:
                case ARG_UDEV_TIMEOUT:
                case ARG_HEALTH_TIMEOUT:
                        if (conf_parse_duration(optarg, &v) < 0 || v == 0 || v > USEC_PER_HOUR)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid timeout '%s': seconds, above 0 and at most 3600.",
                                                       optarg);
                        if (c == ARG_HEALTH_TIMEOUT)
                                a->health_timeout_usec = v;
                        else if (c == ARG_PROBE_TIMEOUT)
                                a->scan.probe_timeout_usec = v;
                        else
                                a->scan.udev_timeout_usec = v;
                        break;
                default:
                        return -EINVAL;
                }
        for (int i = optind; i < argc; i++)
                if (strv_extend(&a->devices, argv[i]) < 0)
                        return log_oom();
        return 1;
}

/* Finds the device a command-line argument names. */
static Device *resolve(const ScanResult *scan, const char *arg, bool live, int *ret_error) {
        const DeviceList *l = scan->devices;
        struct stat st;

        *ret_error = 0;
        if (arg[0] == '/' && live) {
                if (stat(arg, &st) < 0) {
                        *ret_error = -errno;
                        return NULL;
                }
                if (!S_ISBLK(st.st_mode)) {
                        *ret_error = -ENOTBLK;
                        return NULL;
                }
                return device_list_find_devnum(l, st.st_rdev);
        }
        for (size_t i = 0; i < l->n; i++) {
                Device *d = l->items[i];
                if (streq(d->kname, arg) || streq_ptr(d->path, arg) || streq_ptr(d->stable_id, arg) ||
                    strv_contains(d->links, arg))
                        return d;
        }
        return NULL;
}

static int select_devices(const ScanResult *scan, const Args *a, Device ***ret, size_t *ret_n) {
        const DeviceList *l = scan->devices;
        _cleanup_free_ Device **sel = calloc(MAX(l->n, strv_length(a->devices)) + 1, sizeof(Device *));
        size_t n = 0;
        int r = 0;

        if (!sel)
                return -ENOMEM;
        if (a->devices) {
                STRV_FOREACH(arg, a->devices) {
                        int e;
                        Device *d = resolve(scan, *arg, !a->scan.sysroot, &e);
                        if (!d) {
                                if (e == -ENOTBLK)
                                        log_error("%s: not a block device.", *arg);
                                else if (e < 0)
                                        log_error_errno(e, "%s: %m", *arg);
                                else
                                        log_error("%s: no such block device.", *arg);
                                r = -ENODEV;
                                continue;
                        }
                        if (filter_match(&a->filter, d) && (!a->available_only || d->available))
                                sel[n++] = d;
                }
                if (r < 0)
                        return r;
        } else
                for (size_t i = 0; i < l->n; i++) {
                        Device *d = l->items[i];
                        if (filter_listed_by_default(d, a->all, a->scan.allow_loop) && filter_match(&a->filter, d) &&
                            (!a->available_only || d->available))
                                sel[n++] = d;
                }
        if (a->filter.limit && n > a->filter.limit)
                n = a->filter.limit;
        *ret = TAKE_PTR(sel);
        *ret_n = n;
        return 0;
}

static int inventory(int argc, char *argv[]) {
        _cleanup_(scan_result_freep) ScanResult *scan = NULL;
        _cleanup_free_ Device **sel = NULL;
        Args a = { .headings = true };
        size_t n = 0;
        int r;

        filter_init(&a.filter);
        r = parse_args(argc, argv, &a);
        if (r <= 0) {
                filter_done(&a.filter);
                strv_free(a.devices);
                return r < 0 ? EXIT_USAGE : 0;
        }

        if (!a.scan.sysroot && geteuid() != 0)
                log_warning("Not running as root: devices cannot be opened, so none can be called available.");

        r = devscan_run(&a.scan, &scan);
        if (r < 0) {
                if (a.scan.sysroot && r == -ENOTDIR)
                        log_error("%s is not a captured tree: it has no sys/class/block.", a.scan.sysroot);
                else
                        log_error_errno(r, "Failed to scan block devices: %m");
                r = 1;
                goto finish;
        }
        if (scan->warning)
                log_warning("%s", scan->warning);
        if (scan->lvm_status && startswith(scan->lvm_status, "failed"))
                log_warning("LVM report %s; LVM facts are missing.", scan->lvm_status);

        if (a.health) {
                r = health_read_disks(scan->devices, NULL, 0, a.scan.sysroot, a.health_timeout_usec);
                if (r < 0) {
                        log_oom();
                        r = 1;
                        goto finish;
                }
        }

        r = select_devices(scan, &a, &sel, &n);
        if (r < 0) {
                r = 1;
                goto finish;
        }
        switch (a.format) {
        case OUTPUT_JSON:
                r = format_json(stdout, scan, sel, n, a.scan.sysroot);
                break;
        case OUTPUT_CEPH_VOLUME:
                r = format_ceph_volume(stdout, scan, sel, n);
                break;
        default:
                r = format_table(stdout, scan, sel, n, a.headings);
        }
        if (r >= 0 && fflush(stdout) != 0)
                r = -errno;
        if (r < 0)
                log_error_errno(r, "Failed to write the inventory: %m");
        r = r < 0 ? 1 : 0;
finish:
        filter_done(&a.filter);
        strv_free(a.devices);
        return r;
}

/* A probe thread the deadline gave up on may be stuck in the kernel for good: on a hung disk,
 * lseek() waits for another reader's I/O and not even SIGKILL ends it, and a process cannot
 * finish exiting while one of its threads is stuck. So the scan runs in a child: it hands its
 * exit status over as soon as the report is out and closes its output; the parent reaps it
 * if it ends promptly (always, but on a hung disk) and otherwise returns without it. */
#define INVENTORY_REAP_WAIT_USEC (2 * USEC_PER_SEC)
#define INVENTORY_REAP_POLL_USEC (10 * USEC_PER_MSEC)

int cmd_inventory(int argc, char *argv[]) {
        int pipefd[2], status;
        unsigned char code = 1;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return inventory(argc, argv);
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                safe_close(pipefd[0]);
                safe_close(pipefd[1]);
                return inventory(argc, argv);
        }
        if (pid == 0) {
                int nul;

                safe_close(pipefd[0]);
                code = (unsigned char) inventory(argc, argv);
                fflush(stdout);
                fflush(stderr);
                (void) !write(pipefd[1], &code, 1);
                nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (nul >= 0) {
                        (void) dup2(nul, STDOUT_FILENO);
                        (void) dup2(nul, STDERR_FILENO);
                }
                _exit(code);
        }
        safe_close(pipefd[1]);
        if (read(pipefd[0], &code, 1) != 1) {
                /* it died before it could say: its own exit status tells */
                safe_close(pipefd[0]);
                if (waitpid(pid, &status, 0) == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                return 1;
        }
        safe_close(pipefd[0]);
        Retry t = RETRY(.timeout_usec = INVENTORY_REAP_WAIT_USEC, .interval_usec = INVENTORY_REAP_POLL_USEC);
        do
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return code;
        while (retry_wait(&t));
        log_warning("A probe is still stuck in the kernel on a device that does not answer; leaving it behind.");
        return code;
}
