/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire format, and nothing else: pack, unpack and validate castle's messages, and any
 * message to JSON by walking its schema, so the JSON castle prints and the messages it sends
 * always carry the same fields. Uses protobuf-c, json-c and common/ only (the daemons' shared
 * leaf); device records become messages in proto/devproto.h. */
#pragma once

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "proto/castle.pb-c.h"

#define CASTLE_PROTOCOL_VERSION 1

/* Bounds on what a peer may send. The transport's ZMQ_MAXMSGSIZE caps a frame's bytes (16 MiB
 * from agents, 1 MiB from clients); these cap what a frame may cost once decoded, and are
 * checked before anything else looks at a message. Each is many times what a real host has,
 * so that no honest report meets one, and small enough that the worst message is cheap.
 *
 * Decoding budget: protobuf-c allocates as it decodes, before any count can be checked, and an
 * empty element costs two bytes on the wire but a whole struct in memory (an empty Device is
 * two bytes and ~450 allocated). So every unpack of a peer's bytes runs on an allocator that
 * refuses to hand out more than FACTOR * frame + BASE bytes in all (malloc's own overhead
 * counted), and the message is refused with -EMSGSIZE. A real snapshot takes about 4 times its
 * frame (4.0 for the trees captured in tests/data); 8 leaves room for reports of more, shorter
 * strings. BASE covers the fixed cost of
 * CODEC_MAX_DEVICES nearly empty devices (~3.5 MiB with an empty queue, LVM and three reasons
 * each), which a frame of 90 KiB can legitimately carry.
 * The worst a 16 MiB agent frame can now cost is 136 MiB, briefly, instead of 3.8 GiB.
 *
 * Before that, the wire bytes are walked once without allocating, and a message with a list
 * over its bound (below), too many unknown fields or a singular field written many times is
 * refused with -E2BIG, and one whose structs, strings and arrays alone would pass the budget
 * with -EMSGSIZE, at the cost of reading it: a flood of hostile messages then costs the
 * coordinator little more than receiving them. */
#define CODEC_DECODE_BUDGET_FACTOR 8
#define CODEC_DECODE_BUDGET_BASE (8u << 20)

/* Devices in one Snapshot, changed and removed in one Delta, in one reply part: a host with
 * thousands of LUNs through multipath still counts in the low thousands. */
#define CODEC_MAX_DEVICES 4096
/* Node ids, device keys and kernel names: printable ASCII, no blanks. */
#define CODEC_MAX_ID_LEN 255
/* Data, DB or WAL devices one OsdCreate may name, each (the agent takes fewer). */
#define CODEC_MAX_COMMAND_DEVICES 256
/* Hello.hostname: a DNS name (Kubernetes' node name may be a whole FQDN). */
#define CODEC_MAX_HOSTNAME_LEN 253
/* Any other string is text, cut to this length on ingest (PATH_MAX: the longest a path is). */
#define CODEC_MAX_TEXT_LEN 4096
/* /dev links of one device: udev makes tens (by-id in several spellings, by-path, by-uuid,
 * by-partuuid, by-label, by-diskseq, dm names); 256 is ten times a multipath member's. */
#define CODEC_MAX_LINKS 256
/* Partitions, holders, slaves of one device: the kernel allows 256 partitions per disk; a PV
 * holds one dm device per LV it carries; an md array has at most ~2,000 members in theory. */
#define CODEC_MAX_RELATIVES 1024
/* Mount points of one device: bind mounts count, and a Kubernetes node mounts its root
 * filesystem into every container a few times (110 pods * containers * 3 is thousands). */
#define CODEC_MAX_MOUNTPOINTS 16384
/* Signatures libblkid reports on one device: one or two; 64 for every backup copy there is. */
#define CODEC_MAX_SIGNATURES 64
/* BlueStore label copies: at 0 and at 1, 10, 100 and 1000 GiB. */
#define CODEC_MAX_LABEL_OFFSETS 16
/* LVs on one PV, and Ceph facts of one device (one per LV on a shared DB/WAL device). */
#define CODEC_MAX_LVS 1024
/* Tags of one LV: ceph-volume sets about twenty. */
#define CODEC_MAX_LV_TAGS 256
/* Reasons a device is not available: there are 25 codes, each given once. */
#define CODEC_MAX_REASONS 64
/* Audit records in one AuditBatch (an intent value of at most 44 KiB: records are tens of
 * bytes at the least) and in one reply part. */
#define CODEC_MAX_AUDIT_RECORDS 4096
/* Nodes in one ListNodes reply. */
#define CODEC_MAX_NODES 65536
/* OSD specs (spec/): specs in one SpecSet or reply, a spec's placement.hosts and a selection's
 * paths (spec.c refuses longer lists at apply: 1,024), the plans of one reply (one per node
 * and spec: a whole fleet's preview is sent in parts of at most this many), a plan's OSDs (a
 * node's devices times osds_per_device, and the ids to reuse in an OsdCreate), its skipped
 * devices and an OsdCreate's data/DB/WAL devices (a node's devices), a node's labels. */
#define CODEC_MAX_SPECS 1024
#define CODEC_MAX_SPEC_LIST 1024
#define CODEC_MAX_PLANS CODEC_MAX_NODES
#define CODEC_MAX_PLANNED_OSDS (4 * CODEC_MAX_DEVICES)
#define CODEC_MAX_LABELS 64
/* A YAML document (SpecApply.yaml, OsdSpec.yaml): kept as written, line breaks and tabs
 * included (other control characters become '?'); one longer is refused, not cut. Equal to
 * SPEC_YAML_MAX (spec/spec.h), the most one apply may send. */
#define CODEC_MAX_DOCUMENT_LEN (256u * 1024u)
/* Any other repeated field (none today: new fields get a bound of their own here). */
#define CODEC_MAX_REPEATED 1024
/* Fields of one message this program does not know (a newer peer's): dropped, but counted. */
#define CODEC_MAX_UNKNOWN_FIELDS 64
/* Occurrences of one singular field in one message: an encoder writes it once. */
#define CODEC_MAX_SINGULAR_REPEATS 4
/* Messages within messages: castle.proto nests five deep (Envelope, Snapshot, Device,
 * LvmFacts, LogicalVolume, Tag). */
#define CODEC_MAX_DEPTH 8

/* Decoding on this thread so far, from the budgeted allocator's own accounting. */
typedef struct CodecDecodeStats {
        uint64_t decoded;       /* frames looked at (whether or not they were then refused) */
        uint64_t over_budget;   /* frames refused because decoding them needed more memory */
        size_t last_budget;     /* the last frame's budget, bytes */
        size_t last_allocated;  /* what decoding it allocated in all (malloc overhead included) */
        size_t max_allocated;   /* the most any one frame allocated */
} CodecDecodeStats;
void codec_decode_stats(CodecDecodeStats *ret);
/* The bytes a frame of this size may allocate as it is decoded. */
size_t codec_decode_budget(size_t frame_size);
/* protobuf-c's unpack on the budgeted allocator alone, without counting the bytes first and
 * without validation: for tests and fuzzers of the allocator. -EMSGSIZE past limit. */
int codec_unpack_on_budget(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size, size_t limit,
                           ProtobufCMessage **ret);

/* Packs a message into a malloc'd buffer. */
int codec_pack(const ProtobufCMessage *m, uint8_t **ret, size_t *ret_size);
/* Unpacks and validates an Envelope from an untrusted peer: -EBADMSG if it does not decode
 * or has no body, -EMSGSIZE if decoding it needs more memory than its budget, -EPROTO for
 * another protocol version, -E2BIG for a repeated field over its bound (or too many unknown
 * fields, or a singular field written over and over), -EINVAL for ids that
 * are empty, too long or not printable, or a hostname that is not a host name.
 *
 * What passes is clean text: unknown fields (a newer peer's) are dropped; every string that
 * is not an id is made printable in place (tab, newline and the like become a space, any
 * other control character and every byte that is not UTF-8 a '?') and cut to
 * CODEC_MAX_TEXT_LEN. A device's model or label is data from a disk: refusing the whole
 * report for it would let one disk hide a node.
 *
 * The budgeted allocator hands out plain malloc() blocks, so what every codec_*_unpack()
 * returns is freed with free_unpacked(m, NULL), like any message. */
int codec_envelope_unpack(const uint8_t *data, size_t size, Castle__Envelope **ret);
/* A Command is well formed: a known kind, and arguments that are safe to hand to a helper. */
int codec_validate_command(const Castle__Command *c);
/* The same budget, bounds and cleaning for the query endpoint's requests and replies. */
int codec_query_request_unpack(const uint8_t *data, size_t size, Castle__QueryRequest **ret);
int codec_query_reply_unpack(const uint8_t *data, size_t size, Castle__QueryReply **ret);
/* An AuditBatch read back from the intent store (which other coordinators write too): the
 * same budget, bounds and cleaning. */
int codec_audit_batch_unpack(const uint8_t *data, size_t size, Castle__AuditBatch **ret);
/* What a codec_*_unpack() error means, in words, for a log line. */
const char *codec_strerror(int error);
/* True for 1..CODEC_MAX_ID_LEN printable ASCII characters, no blanks. */
bool codec_valid_id(const char *s);
/* True for a host name: dot-separated labels of 1..63 letters, digits, '-' (not first or
 * last) and '_', CODEC_MAX_HOSTNAME_LEN in all; or the empty string (a host that has none). */
bool codec_valid_hostname(const char *s);

/* Every field of m, defaults included, under its proto name. Enums print in lower case
 * without their own prefix. Returns NULL on allocation failure. */
json_object *codec_message_to_json(const ProtobufCMessage *m);
/* The lower-case JSON name of an enum value ("TRANSPORT_UNKNOWN" -> "unknown"). */
char *codec_enum_json_name(const ProtobufCEnumDescriptor *e, int value);

/* The name in castle.proto of the oneof member a *_case value selects ("hello", "job_update",
 * "osd_create"); NULL for NOT_SET or a number d does not have. */
const char *codec_oneof_name(const ProtobufCMessageDescriptor *d, int field_case);
