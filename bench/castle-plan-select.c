/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The selection's own cost, next to bench/plan's figure for Ceph's Python DriveSelection:
 * spec_plan_node() (spec/select.c), the selection and plan the coordinator's preview runs per
 * node, over the fleet simulator's inventory (the devices bench/castle-fleet reports) with
 * bench/plan's spec, in one process: without the store, the network or castlectl. Not
 * installed.
 *   bench/castle-plan-select [NODES [DEVICES]] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/macro.h"
#include "spec/select.h"

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

int main(int argc, char *argv[]) {
        size_t nodes = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000,
               n = argc > 2 ? strtoul(argv[2], NULL, 10) : 24;
        Castle__DeviceSelection data = CASTLE__DEVICE_SELECTION__INIT;
        Castle__OsdSpec spec = CASTLE__OSD_SPEC__INIT;
        Castle__Device *devs = calloc(n, sizeof *devs), **ptrs = calloc(n, sizeof *ptrs);
        double *per = calloc(nodes ?: 1, sizeof *per), start, total;
        size_t osds = 0;

        if (!devs || !ptrs || !per || n > 26 * 26)
                return 1;
        /* bench/plan's spec: rotational, size 3T:, model ST4000 */
        spec.service_id = (char *) "fleet";
        spec.host_pattern = (char *) "*";
        spec.data_devices = &data;
        data.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        data.size = (char *) "3T:";
        data.model = (char *) "ST4000";
        for (size_t i = 0; i < n; i++) {
                char *kname = NULL, *path = NULL, *id = NULL;
                castle__device__init(&devs[i]);
                if (asprintf(&kname, "sd%c%c", 'a' + (int) (i / 26), 'a' + (int) (i % 26)) < 0 ||
                    asprintf(&path, "/dev/%s", kname) < 0 || asprintf(&id, "wwn-0x5000c500%08zx", i) < 0)
                        return 1;
                devs[i].kname = kname;
                devs[i].path = path;
                devs[i].stable_id = id;
                devs[i].size = UINT64_C(4000787030016);
                devs[i].rotational = true;
                devs[i].available = i % 3 == 0;
                devs[i].model = (char *) "ST4000NM0035-1V4107";
                devs[i].vendor = (char *) "SEAGATE";
                ptrs[i] = &devs[i];
        }
        start = now();
        for (size_t k = 0; k < nodes; k++) {
                Castle__NodePlan *p = NULL;
                char host[32];
                double t = now();

                snprintf(host, sizeof host, "sim-%06zu", k);
                if (spec_plan_node(&spec, host, host, NULL, ptrs, n, &p) < 0)
                        return 1;
                osds += p->n_osds;
                spec_node_plan_free(p);
                per[k] = now() - t;
        }
        total = now() - start;
        qsort(per, nodes, sizeof *per, cmp_double);
        printf("castle spec_plan_node: %zu nodes x %zu devices, %zu OSDs planned: %.3f s for the fleet, "
               "per node p50 %.3f ms p99 %.3f ms\n",
               nodes, n, osds, total, nodes ? per[nodes / 2] * 1e3 : 0,
               nodes ? per[nodes * 99 / 100] * 1e3 : 0);
        return 0;
}
