/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the protobuf seeds of tests/fuzz/corpus: one valid message of every kind for
 * fuzz-codec (each Envelope body, each QueryRequest kind, each QueryReply part), client
 * requests for fuzz-query, and agents' conversations for fuzz-ingest (records as
 * tests/fuzz/fuzz.h reads them). The seeds are checked in; run this again when castle.proto
 * changes:  tests/fuzz/gen-seeds CORPUS-DIR  (scripts/fuzz --seeds does). */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "proto/codec.h"
#include "tests/fuzz/fuzz.h"

static const char *corpus;

static void write_file(const char *target, const char *name, const uint8_t *data, size_t size) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", corpus, target);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                perror(path);
                exit(EXIT_FAILURE);
        }
        snprintf(path, sizeof path, "%s/%s/%s", corpus, target, name);
        f = fopen(path, "we");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
                perror(path);
                exit(EXIT_FAILURE);
        }
}

static void write_message(const char *target, const char *name, const ProtobufCMessage *m) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;

        fuzz_require(codec_pack(m, &buf, &n) >= 0);
        write_file(target, name, buf, n);
}

/* A conversation: records of (how, message), written as fuzz.h splits them. */
typedef struct Conversation {
        uint8_t *buf;
        size_t size;
} Conversation;

static void say(Conversation *c, uint8_t how, const ProtobufCMessage *m) {
        _cleanup_free_ uint8_t *msg = NULL;
        size_t n;

        fuzz_require(codec_pack(m, &msg, &n) >= 0);
        fuzz_require(!memmem(msg, n, FUZZ_RECORD_SEP, FUZZ_RECORD_SEP_LEN));
        c->buf = realloc(c->buf, c->size + FUZZ_RECORD_SEP_LEN + 1 + n);
        fuzz_require(c->buf);
        if (c->size > 0) {
                memcpy(c->buf + c->size, FUZZ_RECORD_SEP, FUZZ_RECORD_SEP_LEN);
                c->size += FUZZ_RECORD_SEP_LEN;
        }
        c->buf[c->size++] = how;
        memcpy(c->buf + c->size, msg, n);
        c->size += n;
}

static void write_conversation(const char *target, const char *name, Conversation *c) {
        write_file(target, name, c->buf, c->size);
        free(c->buf);
        *c = (Conversation) {};
}

/* how: sender (0-2 a node, 3 a bad id), seconds/8 since the record before, query endpoint. */
#define HOW(sender, delay8, to_query) ((uint8_t) ((sender) | (delay8) << 2 | ((to_query) ? 0x80 : 0)))

/* Every field a scan fills, on one device. */
static Castle__Device *rich_device(Castle__Device *d, const char *kname, const char *stable_id) {
        static char *links[] = { "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1" };
        static char *parts[] = { "sdb1" }, *holders[] = { "dm-0" }, *slaves[] = { "sdz" };
        static char *mounts[] = { "/var/lib/ceph/osd/ceph-4" };
        static uint64_t offsets[] = { 0, 1073741824 };
        static Castle__Signature sig = CASTLE__SIGNATURE__INIT, *sigs[] = { &sig };
        static Castle__Reason reason = CASTLE__REASON__INIT, *reasons[] = { &reason };
        static Castle__CephFacts ceph = CASTLE__CEPH_FACTS__INIT, *cephs[] = { &ceph };
        static Castle__LogicalVolume__Tag tag = CASTLE__LOGICAL_VOLUME__TAG__INIT, *tags[] = { &tag };
        static Castle__LogicalVolume lv = CASTLE__LOGICAL_VOLUME__INIT, *lvs[] = { &lv };
        static Castle__LvmFacts lvm = CASTLE__LVM_FACTS__INIT;
        static Castle__QueueFacts queue = CASTLE__QUEUE_FACTS__INIT;

        sig.type = "LVM2_member";
        sig.usage = "raid";
        sig.uuid = "v3ZsV9-178f-Mu01-qZun-PfwG-JlGb-MLX6o6";
        sig.version = "LVM2 001";
        reason.code = CASTLE__REASON__CODE__LVM_DETECTED;
        reason.message = "Has LVM";
        ceph.source = "lvm-tags";
        ceph.osd_uuid = "9d6c0c1e-0000-4000-8000-000000000001";
        ceph.osd_id = 4;
        ceph.cluster_fsid = "0f2e0c1e-0000-4000-8000-000000000002";
        ceph.type = "block";
        ceph.lv_path = "/dev/ceph-5c3a/osd-block-9d6c";
        tag.key = "ceph.osd_id";
        tag.value = "4";
        lv.name = "osd-block-9d6c";
        lv.vg_name = "ceph-5c3a";
        lv.path = "/dev/ceph-5c3a/osd-block-9d6c";
        lv.uuid = "LVU-1";
        lv.size = 10733223936;
        lv.tags = tags;
        lv.n_tags = ELEMENTSOF(tags);
        lvm.pv_uuid = "PVU-1";
        lvm.vg_name = "ceph-5c3a";
        lvm.vg_uuid = "VGU-1";
        lvm.vg_extent_count = 2559;
        lvm.lvs = lvs;
        lvm.n_lvs = ELEMENTSOF(lvs);
        queue.nr_requests = 64;
        queue.scheduler = "mq-deadline";
        queue.optimal_io_size = 4096;

        castle__device__init(d);
        d->stable_id = (char *) stable_id;
        d->kname = (char *) kname;
        d->path = "/dev/sdb";
        d->links = links;
        d->n_links = ELEMENTSOF(links);
        d->major = 8;
        d->minor = 16;
        d->type = CASTLE__DEVICE__TYPE__DISK;
        d->transport = CASTLE__DEVICE__TRANSPORT__SATA;
        d->size = 4000787030016;
        d->rotational = true;
        d->logical_sector_size = 512;
        d->physical_sector_size = 4096;
        d->vendor = "ATA";
        d->model = "ST4000NM0035";
        d->serial = "ZC1B2C3D";
        d->wwn = "0x5000c500a1b2c3d4";
        d->id_bus = "ata";
        d->device_id = "ST4000NM0035_ZC1B2C3D";
        d->partition_table = "gpt";
        d->partition_table_uuid = "6f1a2b3c-0000-4000-8000-000000000003";
        d->partitions = parts;
        d->n_partitions = ELEMENTSOF(parts);
        d->holders = holders;
        d->n_holders = ELEMENTSOF(holders);
        d->slaves = slaves;
        d->n_slaves = ELEMENTSOF(slaves);
        d->mountpoints = mounts;
        d->n_mountpoints = ELEMENTSOF(mounts);
        d->signatures = sigs;
        d->n_signatures = ELEMENTSOF(sigs);
        d->bluestore_label_offsets = offsets;
        d->n_bluestore_label_offsets = ELEMENTSOF(offsets);
        d->lvm = &lvm;
        d->ceph = cephs;
        d->n_ceph = ELEMENTSOF(cephs);
        d->queue = &queue;
        d->reasons = reasons;
        d->n_reasons = ELEMENTSOF(reasons);
        d->revision = "SN04";
        d->id_serial = "ST4000NM0035_ZC1B2C3D";
        return d;
}

static Castle__Device *plain_device(Castle__Device *d, const char *kname, const char *stable_id) {
        castle__device__init(d);
        d->kname = (char *) kname;
        d->stable_id = (char *) stable_id;
        d->type = CASTLE__DEVICE__TYPE__DISK;
        d->transport = CASTLE__DEVICE__TRANSPORT__NVME;
        d->size = 1000204886016;
        d->model = "Samsung SSD 970";
        d->available = true;
        return d;
}

/* The Envelope bodies, by name; e must have been initialised. */
static Castle__Envelope *envelope(Castle__Envelope *e, uint64_t message_id) {
        castle__envelope__init(e);
        e->protocol_version = CASTLE_PROTOCOL_VERSION;
        e->message_id = message_id;
        return e;
}

static Castle__Hello hello_msg(const char *node_id, uint64_t generation) {
        Castle__Hello h = CASTLE__HELLO__INIT;

        h.node_id = (char *) node_id;
        h.hostname = "storage-1.example.org";
        h.agent_version = "0.1.0";
        h.protocol_version = CASTLE_PROTOCOL_VERSION;
        h.generation = generation;
        return h;
}

static void codec_seeds(void) {
        Castle__Envelope e;
        Castle__Device d1, d2, *devs[2];
        Castle__Hello h = hello_msg("node-1", 0);
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Delta delta = CASTLE__DELTA__INIT;
        Castle__Heartbeat hb = CASTLE__HEARTBEAT__INIT;
        Castle__Ack ack = CASTLE__ACK__INIT;
        Castle__Resync rs = CASTLE__RESYNC__INIT;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__Rescan rescan = CASTLE__RESCAN__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        Castle__Policy pol = CASTLE__POLICY__INIT;
        Castle__JobUpdate ju = CASTLE__JOB_UPDATE__INIT;
        static char *removed[] = { "wwn-0x5000c500deadbeef", "kname:sdq" };

        devs[0] = rich_device(&d1, "sdb", "wwn-0x5000c500a1b2c3d4");
        devs[1] = plain_device(&d2, "nvme0n1", "nvme-eui.0025388b91b2c3d4");

        envelope(&e, 1)->body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h;
        write_message("codec", "envelope-hello", &e.base);

        s.generation = 1;
        s.devices = devs;
        s.n_devices = 2;
        envelope(&e, 2)->body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        write_message("codec", "envelope-snapshot", &e.base);

        delta.generation = 2;
        delta.changed = devs + 1;
        delta.n_changed = 1;
        delta.removed = removed;
        delta.n_removed = ELEMENTSOF(removed);
        envelope(&e, 3)->body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &delta;
        write_message("codec", "envelope-delta", &e.base);

        hb.generation = 2;
        hb.devices = 2;
        envelope(&e, 4)->body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &hb;
        write_message("codec", "envelope-heartbeat", &e.base);

        ack.message_id = 4;
        ack.generation = 2;
        envelope(&e, 5)->body_case = CASTLE__ENVELOPE__BODY_ACK;
        e.ack = &ack;
        write_message("codec", "envelope-ack", &e.base);

        rs.reason = "generation gap";
        envelope(&e, 6)->body_case = CASTLE__ENVELOPE__BODY_RESYNC;
        e.resync = &rs;
        write_message("codec", "envelope-resync", &e.base);

        cmd.command_id = 7;
        cmd.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        cmd.rescan = &rescan;
        envelope(&e, 7)->body_case = CASTLE__ENVELOPE__BODY_COMMAND;
        e.command = &cmd;
        write_message("codec", "envelope-command-rescan", &e.base);

        oc.device_id = "wwn-0x5000c500a1b2c3d4";
        oc.dry_run = true;
        oc.crush_device_class = "hdd";
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        write_message("codec", "envelope-command-osd-create", &e.base);

        pol.auto_prepare = true;
        pol.name_filter = "^sd[b-z]$";
        pol.path_filter = "^/dev/disk/by-id/wwn-";
        pol.crush_device_class = "ssd";
        cmd.kind_case = CASTLE__COMMAND__KIND_POLICY;
        cmd.policy = &pol;
        write_message("codec", "envelope-command-policy", &e.base);

        ju.command_id = 7;
        ju.step = "mkfs";
        ju.percent = 100;
        ju.done = true;
        ju.message = "OSD 4 prepared";
        ju.osd_id = 4;
        ju.device = "/dev/sdb";
        ju.osd_uuid = "9d6c0c1e-0000-4000-8000-000000000001";
        ju.already_prepared = true;
        envelope(&e, 8)->body_case = CASTLE__ENVELOPE__BODY_JOB_UPDATE;
        e.job_update = &ju;
        write_message("codec", "envelope-job-update", &e.base);
        ju.error = "ceph-osd --mkfs failed: exit status 1";
        ju.osd_id = -1;
        write_message("codec", "envelope-job-update-error", &e.base);
}

static Castle__QueryRequest *request(Castle__QueryRequest *q, uint64_t request_id) {
        castle__query_request__init(q);
        q->protocol_version = CASTLE_PROTOCOL_VERSION;
        q->request_id = request_id;
        return q;
}

/* The requests castlectl cluster sends, each to fn (a file, or a record of a conversation). */
static void each_request(void (*fn)(const char *name, const ProtobufCMessage *m, void *userdata), void *userdata) {
        Castle__QueryRequest q;
        Castle__ListNodes ln = CASTLE__LIST_NODES__INIT;
        Castle__DeviceFilter f = CASTLE__DEVICE_FILTER__INIT;
        Castle__Watch w = CASTLE__WATCH__INIT;
        Castle__NodeCommand nc = CASTLE__NODE_COMMAND__INIT;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__Rescan rescan = CASTLE__RESCAN__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        Castle__Policy pol = CASTLE__POLICY__INIT;

        request(&q, 1)->kind_case = CASTLE__QUERY_REQUEST__KIND_NODES;
        q.nodes = &ln;
        fn("request-nodes", &q.base, userdata);

        request(&q, 2)->kind_case = CASTLE__QUERY_REQUEST__KIND_DEVICES;
        q.devices = &f;
        fn("request-devices", &q.base, userdata);
        f.node_id = "node-1";
        f.available = CASTLE__DEVICE_FILTER__TRI__YES;
        f.rotational = CASTLE__DEVICE_FILTER__TRI__NO;
        f.min_size = 1 << 30;
        f.max_size = UINT64_C(1) << 42;
        f.transport = "nvme";
        f.model = "samsung";
        f.limit = 3;
        fn("request-devices-filter", &q.base, userdata);
        castle__device_filter__init(&f);
        f.stable_id = "wwn-0x5000c500node-1-1";
        f.available = CASTLE__DEVICE_FILTER__TRI__NO;
        f.rotational = CASTLE__DEVICE_FILTER__TRI__YES;
        fn("request-devices-stable-id", &q.base, userdata);

        request(&q, 3)->kind_case = CASTLE__QUERY_REQUEST__KIND_WATCH;
        q.watch = &w;
        fn("request-watch", &q.base, userdata);

        nc.node_id = "node-1";
        nc.command = &cmd;
        request(&q, 4)->kind_case = CASTLE__QUERY_REQUEST__KIND_COMMAND;
        q.command = &nc;
        cmd.kind_case = CASTLE__COMMAND__KIND_RESCAN;
        cmd.rescan = &rescan;
        fn("request-command-rescan", &q.base, userdata);
        oc.device_id = "wwn-0x5000c500a1b2c3d4";
        oc.crush_device_class = "hdd";
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        fn("request-command-osd-create", &q.base, userdata);
        pol.auto_prepare = true;
        pol.name_filter = "^sd[b-z]$";
        pol.path_filter = "^/dev/disk/by-id/";
        cmd.kind_case = CASTLE__COMMAND__KIND_POLICY;
        cmd.policy = &pol;
        fn("request-command-policy", &q.base, userdata);
}

static void request_file(const char *name, const ProtobufCMessage *m, void *userdata) {
        write_message("codec", name, m);
}

static void request_record(const char *name, const ProtobufCMessage *m, void *userdata) {
        say(userdata, HOW(0, 0, true), m);
}

/* One request as the one record of a fuzz-query input. */
static void request_alone(const char *name, const ProtobufCMessage *m, void *userdata) {
        Conversation c = {};

        say(&c, HOW(0, 0, true), m);
        write_conversation("query", name, &c);
}

static void reply_seeds(void) {
        Castle__QueryReply r = CASTLE__QUERY_REPLY__INIT;
        Castle__NodeInfo ni = CASTLE__NODE_INFO__INIT, *nis[] = { &ni };
        Castle__ClusterDevice cd = CASTLE__CLUSTER_DEVICE__INIT, *cds[] = { &cd };
        Castle__WatchEvent ev = CASTLE__WATCH_EVENT__INIT;
        Castle__JobUpdate ju = CASTLE__JOB_UPDATE__INIT;
        Castle__Device d;

        ni.node_id = "node-1";
        ni.hostname = "storage-1";
        ni.agent_version = "0.1.0";
        ni.state = "online";
        ni.state_since_usec = 1700000000000000;
        ni.last_seen_usec = 1700000005000000;
        ni.generation = 3;
        ni.devices = 12;
        r.request_id = 1;
        r.nodes = nis;
        r.n_nodes = 1;
        r.last = true;
        write_message("codec", "reply-nodes", &r.base);

        castle__query_reply__init(&r);
        cd.node_id = "node-1";
        cd.device = rich_device(&d, "sdb", "wwn-0x5000c500a1b2c3d4");
        r.request_id = 2;
        r.devices = cds;
        r.n_devices = 1;
        r.last = true;
        write_message("codec", "reply-devices", &r.base);

        castle__query_reply__init(&r);
        ev.node_id = "node-1";
        ev.changed = &d;
        r.event = &ev;
        write_message("codec", "reply-event-changed", &r.base);
        ev.changed = NULL;
        ev.removed = "kname:sdq";
        write_message("codec", "reply-event-removed", &r.base);
        ev.removed = NULL;
        ev.node = &ni;
        write_message("codec", "reply-event-node", &r.base);

        castle__query_reply__init(&r);
        ju.command_id = 1;
        ju.step = "activate";
        ju.percent = 90;
        ju.message = "starting ceph-osd@4";
        r.request_id = 4;
        r.job = &ju;
        write_message("codec", "reply-job", &r.base);

        castle__query_reply__init(&r);
        r.request_id = 5;
        r.error = "node node-9 is not connected";
        r.last = true;
        write_message("codec", "reply-error", &r.base);
}

static void ingest_seeds(void) {
        Conversation c = {};
        Castle__Envelope e;
        Castle__Hello h1 = hello_msg("node-1", 0), h2 = hello_msg("node-2", 0), h1again = hello_msg("node-1", 2);
        Castle__Device d1, d2, d3, *devs[] = { rich_device(&d1, "sdb", "wwn-0x5000c500a1b2c3d4"),
                                               plain_device(&d2, "nvme0n1", "nvme-eui.0025388b91b2c3d4"),
                                               plain_device(&d3, "sdc", "") };
        Castle__Snapshot s = CASTLE__SNAPSHOT__INIT;
        Castle__Delta delta = CASTLE__DELTA__INIT;
        Castle__Heartbeat hb = CASTLE__HEARTBEAT__INIT;
        Castle__JobUpdate ju = CASTLE__JOB_UPDATE__INIT;
        Castle__QueryRequest q;
        Castle__NodeCommand nc = CASTLE__NODE_COMMAND__INIT;
        Castle__Command cmd = CASTLE__COMMAND__INIT;
        Castle__OsdCreate oc = CASTLE__OSD_CREATE__INIT;
        static char *removed[] = { "kname:sdc" };

        /* hello, snapshot, delta, heartbeat, and liveness: stale, offline, back. */
        envelope(&e, 1)->body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h1;
        say(&c, HOW(0, 0, false), &e.base);
        s.generation = 1;
        s.devices = devs;
        s.n_devices = ELEMENTSOF(devs);
        envelope(&e, 2)->body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        say(&c, HOW(0, 0, false), &e.base);
        delta.generation = 2;
        delta.changed = devs;
        delta.n_changed = 1;
        delta.removed = removed;
        delta.n_removed = 1;
        envelope(&e, 3)->body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &delta;
        say(&c, HOW(0, 1, false), &e.base);
        hb.generation = 2;
        hb.devices = 2;
        envelope(&e, 4)->body_case = CASTLE__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &hb;
        say(&c, HOW(0, 2, false), &e.base);
        say(&c, HOW(0, 15, false), &e.base);
        envelope(&e, 5)->body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h1again;
        say(&c, HOW(0, 15, false), &e.base);
        write_conversation("ingest", "conversation", &c);

        /* Two nodes; a generation gap; a delta from a node nobody knows. */
        envelope(&e, 1)->body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h1;
        say(&c, HOW(0, 0, false), &e.base);
        e.hello = &h2;
        say(&c, HOW(1, 0, false), &e.base);
        envelope(&e, 2)->body_case = CASTLE__ENVELOPE__BODY_SNAPSHOT;
        e.snapshot = &s;
        say(&c, HOW(0, 0, false), &e.base);
        say(&c, HOW(1, 0, false), &e.base);
        delta.generation = 3;
        envelope(&e, 3)->body_case = CASTLE__ENVELOPE__BODY_DELTA;
        e.delta = &delta;
        say(&c, HOW(1, 0, false), &e.base);
        say(&c, HOW(2, 0, false), &e.base);
        say(&c, HOW(3, 0, false), &e.base);
        write_conversation("ingest", "two-nodes-gap", &c);

        /* A client's command to node-1 and the job's updates from it. */
        envelope(&e, 1)->body_case = CASTLE__ENVELOPE__BODY_HELLO;
        e.hello = &h1;
        say(&c, HOW(0, 0, false), &e.base);
        oc.device_id = "wwn-0x5000c500a1b2c3d4";
        cmd.kind_case = CASTLE__COMMAND__KIND_OSD_CREATE;
        cmd.osd_create = &oc;
        nc.node_id = "node-1";
        nc.command = &cmd;
        request(&q, 9)->kind_case = CASTLE__QUERY_REQUEST__KIND_COMMAND;
        q.command = &nc;
        say(&c, HOW(1, 0, true), &q.base);
        ju.command_id = 1;
        ju.step = "mkfs";
        ju.percent = 50;
        envelope(&e, 2)->body_case = CASTLE__ENVELOPE__BODY_JOB_UPDATE;
        e.job_update = &ju;
        say(&c, HOW(0, 0, false), &e.base);
        ju.percent = 100;
        ju.done = true;
        ju.osd_id = 4;
        say(&c, HOW(0, 0, false), &e.base);
        write_conversation("ingest", "command-job", &c);

        /* The client's requests, alone (they reach ingest's watchers and jobs too). */
        each_request(request_record, &c);
        write_conversation("ingest", "requests", &c);
}

static void query_seeds(void) {
        Conversation c = {};

        each_request(request_alone, NULL);
        each_request(request_record, &c);
        write_conversation("query", "all-requests", &c);
}

int main(int argc, char *argv[]) {
        if (argc != 2) {
                fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
                return EXIT_FAILURE;
        }
        corpus = argv[1];
        codec_seeds();
        each_request(request_file, NULL);
        reply_seeds();
        ingest_seeds();
        query_seeds();
        return EXIT_SUCCESS;
}
