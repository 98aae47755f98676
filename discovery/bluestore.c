/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BlueStore label parser (format: ceph src/os/bluestore/bluestore_types.cc,
 * bluestore_bdev_label_t::encode, and BlueStore::_write_bdev_label for the crc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "discovery/bluestore.h"

#define GIB (UINT64_C(1) << 30)
const uint64_t bluestore_label_offsets[5] = { 0, 1 * GIB, 10 * GIB, 100 * GIB, 1000 * GIB };

uint32_t bluestore_crc32c(uint32_t crc, const void *buf, size_t n) {
        static uint32_t table[256];
        const uint8_t *p = buf;

        if (!table[1])
                for (uint32_t i = 0; i < 256; i++) {
                        uint32_t c = i;
                        for (int k = 0; k < 8; k++)
                                c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
                        table[i] = c;
                }
        /* Ceph's crc32c has no pre/post inversion: the caller passes the seed (-1). */
        while (n--)
                crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return crc;
}

int bluestore_has_magic(const void *buf, size_t n) {
        return n >= BLUESTORE_MAGIC_LEN && memcmp(buf, BLUESTORE_MAGIC, BLUESTORE_MAGIC_LEN) == 0;
}

typedef struct Cursor {
        const uint8_t *p, *end;
} Cursor;

static int get_bytes(Cursor *c, void *out, size_t n) {
        if ((size_t) (c->end - c->p) < n)
                return -EBADMSG;
        if (out)
                memcpy(out, c->p, n);
        c->p += n;
        return 0;
}

static int get_u32(Cursor *c, uint32_t *v) {
        uint8_t b[4];
        int r = get_bytes(c, b, 4);

        if (r < 0)
                return r;
        *v = (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
        return 0;
}

static int get_u64(Cursor *c, uint64_t *v) {
        uint32_t lo, hi;
        int r;

        r = get_u32(c, &lo);
        if (r < 0)
                return r;
        r = get_u32(c, &hi);
        if (r < 0)
                return r;
        *v = (uint64_t) hi << 32 | lo;
        return 0;
}

/* A Ceph string: u32 length + bytes. Copies at most outlen-1 bytes; longer ones are skipped
 * but still consumed, so a hostile length cannot make us read out of bounds. */
static int get_string(Cursor *c, char *out, size_t outlen) {
        uint32_t len;
        int r;

        r = get_u32(c, &len);
        if (r < 0)
                return r;
        if ((size_t) (c->end - c->p) < len)
                return -EBADMSG;
        if (out) {
                size_t k = MIN((size_t) len, outlen - 1);
                memcpy(out, c->p, k);
                out[k] = 0;
        }
        c->p += len;
        return 0;
}

static void format_uuid(const uint8_t u[16], char out[37]) {
        snprintf(out, 37,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
                 u[13], u[14], u[15]);
}

static bool valid_text(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
                        return false;
        return true;
}

/* Decodes the binary part into l only if it decodes completely and its checksum matches. */
static int parse_binary(const uint8_t *buf, size_t n, BlueStoreLabel *ret) {
        BlueStoreLabel tmp = *ret, *l = &tmp;
        Cursor c = { buf + 60, buf + n };
        const uint8_t *struct_end;
        uint8_t v, compat, uuid[16];
        uint32_t len, nmeta, crc;
        uint64_t btime;
        int r;

        /* ENCODE_START: version, compat version, length of the struct that follows. */
        if ((r = get_bytes(&c, &v, 1)) < 0 || (r = get_bytes(&c, &compat, 1)) < 0 ||
            (r = get_u32(&c, &len)) < 0)
                return r;
        if (compat > 2 || len > (size_t) (c.end - c.p))
                return -EBADMSG;
        struct_end = c.p + len;
        c.end = struct_end;
        if ((r = get_bytes(&c, uuid, 16)) < 0 || (r = get_u64(&c, &l->size)) < 0 ||
            (r = get_u64(&c, &btime)) < 0 || (r = get_string(&c, l->description, sizeof l->description)) < 0 ||
            (r = get_u32(&c, &nmeta)) < 0)
                return r;
        if (nmeta > 256)
                return -EBADMSG;
        for (uint32_t i = 0; i < nmeta; i++) {
                char key[64], value[64];

                if ((r = get_string(&c, key, sizeof key)) < 0 || (r = get_string(&c, value, sizeof value)) < 0)
                        return r;
                if (streq(key, "ceph_fsid") && strlen(value) == 36 && valid_text(value))
                        memcpy(l->ceph_fsid, value, 37);
                else if (streq(key, "whoami")) {
                        char *end;
                        long id = strtol(value, &end, 10);
                        if (*value && !*end && id >= 0 && id < INT32_MAX)
                                l->osd_id = (int) id;
                } else if (streq(key, "type") && valid_text(value))
                        snprintf(l->type, sizeof l->type, "%s", value);
                else if (streq(key, "osdspec_affinity") && valid_text(value))
                        snprintf(l->osdspec_affinity, sizeof l->osdspec_affinity, "%s", value);
        }
        /* The crc32c covers everything from offset 0 to the end of the struct. */
        c = (Cursor) { struct_end, buf + n };
        if ((r = get_u32(&c, &crc)) < 0)
                return r;
        if (bluestore_crc32c(UINT32_MAX, buf, (size_t) (struct_end - buf)) != crc)
                return -EBADMSG;
        format_uuid(uuid, l->osd_uuid);
        l->crc_ok = 1;
        *ret = tmp;
        return 0;
}

int bluestore_label_parse(const void *buf, size_t n, BlueStoreLabel *ret) {
        BlueStoreLabel l = { .osd_id = -1 };
        const char *p = buf;

        if (!bluestore_has_magic(buf, n))
                return -ENODATA;
        /* The text header carries the osd uuid too; keep it even if the binary is damaged. */
        if (n >= 60 && p[59] == '\n') {
                memcpy(l.osd_uuid, p + 23, 36);
                l.osd_uuid[36] = 0;
                if (!valid_text(l.osd_uuid))
                        l.osd_uuid[0] = 0;
        }
        if (n >= 60)
                (void) parse_binary(buf, n, &l);
        if (!valid_text(l.description))
                l.description[0] = 0;
        *ret = l;
        return 0;
}
