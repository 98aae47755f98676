/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the libFuzzer targets share: the entry points, a NUL-terminated copy of the input for
 * the text parsers, and the record format of the targets that take several messages in one
 * input (fuzz-ingest, fuzz-query), so that a conversation (hello, snapshot, delta...) is one
 * reproducible input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Records in one input are separated by this; tests/fuzz/gen-seeds writes the same. */
#define FUZZ_RECORD_SEP "\n--\n"
#define FUZZ_RECORD_SEP_LEN 4

/* A record: its first byte says who sends it and how (see fuzz_record_sender()), the rest is
 * the payload frame. */
typedef struct FuzzRecord {
        uint8_t how;
        const uint8_t *payload;
        size_t size;
} FuzzRecord;

/* The next record of [*p, end); false when there is none left. */
static inline bool fuzz_next_record(const uint8_t **p, const uint8_t *end, FuzzRecord *ret) {
        const uint8_t *start = *p, *sep;

        if (start >= end)
                return false;
        sep = memmem(start, (size_t) (end - start), FUZZ_RECORD_SEP, FUZZ_RECORD_SEP_LEN);
        *p = sep ? sep + FUZZ_RECORD_SEP_LEN : end;
        if (!sep)
                sep = end;
        *ret = (FuzzRecord) { .how = sep > start ? start[0] : 0,
                              .payload = sep > start ? start + 1 : start,
                              .size = sep > start ? (size_t) (sep - start) - 1 : 0 };
        return true;
}

/* The low two bits pick the peer's routing id: three valid node ids and one that is not an id
 * (a blank), as a peer without a proper identity would have. */
static inline const char *fuzz_record_sender(uint8_t how) {
        static const char *const ids[] = { "node-1", "node-2", "node-3", "bad id" };
        return ids[how & 3];
}

/* Bit 7, in fuzz-ingest: the record is a client's request on the query endpoint (a command
 * whose job the agent's JobUpdates then answer), not an agent's message. */
static inline bool fuzz_record_to_query(uint8_t how) {
        return how & 0x80;
}

/* Bit 6, both: the message has a third, empty frame (a framing error). */
static inline bool fuzz_record_extra_frame(uint8_t how) {
        return how & 0x40;
}

/* Bits 2-5: seconds between this record and the one before, times eight (0 to 120 s), so
 * that nodes go stale and offline. */
static inline int64_t fuzz_record_delay_usec(uint8_t how) {
        return (int64_t) ((how >> 2) & 0xf) * 8 * 1000000;
}

/* A NUL-terminated copy of the input, for parsers of text. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* What must hold whatever the input; stderr, as logging is off (fuzz_quiet()). */
#define fuzz_require(expr)                                                                  \
        do {                                                                                \
                if (!(expr)) {                                                              \
                        fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                            \
                }                                                                           \
        } while (0)

/* Logging off: the daemons' warnings for every bad input would be most of the work done. Set
 * CASTLE_FUZZ_LOG=1 to see everything, debug included, while investigating an input. */
static inline void fuzz_quiet(void) {
        log_set_max_level(getenv("CASTLE_FUZZ_LOG") ? LOG_DEBUG : -1);
}
