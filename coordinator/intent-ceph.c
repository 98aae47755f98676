/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The intent store's backend in the Ceph monitors' config-key store (intent-ceph.h): librados
 * monitor commands as the coordinators' own cephx user, which may touch castle's key prefix
 * and nothing else. It runs on the intent worker thread only, so it needs no lock.
 *
 * Layout under the prefix P ("castle/"):
 *   P<key>            one pair: base64 of the value's bytes (config-key dump returns strings)
 *   P"head/"<writer>  each coordinator's head: {"seq": N, "recent": [{"seq": N, "keys": [...]},
 *                     {"seq": N-1, ...}, ...]}: the keys each of its latest write calls stored,
 *                     newest first, as many as fit in HEAD_MAX bytes
 * Keys under "head/" are the backend's own: a caller's key may not start with it.
 *
 * Writing: a write call stores its pairs (`config-key set` with the value as input, `config-key
 * rm` for a removal), then its head with the sequence one higher: n + 1 monitor commits for n
 * pairs, so the caller batches many records into one value. A key joins the next head before
 * it is sent and leaves it only once a head that names it is stored, so a key whose write
 * failed half-way is announced by the next call that gets through. After a failure the head is
 * read back from the monitors before the next write: a head whose commit was lost in a timeout
 * may still have been stored, and a sequence number must never name two different sets of keys.
 *
 * Following, without `config-key ls` (cephx prefix caps cannot allow it: it has no key
 * argument) and without fetching the whole, ever-growing trail every 2 s:
 * - the first call dumps P (`config-key dump P`, one consistent snapshot of the monitor's store):
 *   every pair, and every writer's head, whose sequence becomes this follower's cursor for it;
 * - later calls dump P"head/" only (one small value per coordinator); for every writer whose
 *   sequence moved, the head's recent list names the keys of each write call since the cursor,
 *   and only those are fetched (`config-key get`; ENOENT: the key was removed). A writer that
 *   wrote more than its head remembers since the last look (a follower away for long), a head
 *   that went backwards (it was removed and its writer started over) or one that cannot be read
 *   makes the next call dump P again, as the first one did. A full dump cannot see removals.
 * A follower's cursor for its own writer follows its own writes, so it fetches nothing back.
 *
 * The connection is made at the first call, not at start, so a coordinator starts and serves
 * queries while the monitors are away; connect and every command give up after timeout_usec
 * (client_mount_timeout, rados_mon_op_timeout) with -ETIMEDOUT; any error other than the
 * monitors' own answer (EACCES, ENOENT, EFBIG, EINVAL ...) drops the connection, and the next
 * call makes a new one. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/strv.h"
#include "coordinator/intent-ceph.h"

#define HEAD_DIR "head/"
/* A head stays far below the monitors' 64 KiB; older write calls drop out of it. */
#define HEAD_MAX (32 * 1024)
#define WRITER_MAX 64
/* Keys stored but not yet named by a stored head: beyond this many, the oldest are forgotten
 * and followers find them at their next full dump only. */
#define UNANNOUNCED_MAX 4096
#define FOLLOW_WRITERS_MAX 1024

typedef struct HeadEntry {
        uint64_t seq;
        char **keys;
} HeadEntry;

typedef struct Cursor {
        char *writer;
        uint64_t seq;
} Cursor;

typedef struct CephBackend {
        char *conf, *name, *keyring, *prefix, *writer;
        uint64_t timeout_usec;
        rados_t rados;
        bool connected;
        bool failing;           /* the last connect or command failed: log the recovery */

        /* Writing: our head as the monitors hold it, once read. */
        bool head_loaded;
        uint64_t seq;
        HeadEntry *recent;
        size_t n_recent;
        char **unannounced;

        /* Following. */
        bool synced;
        bool resync;
        Cursor *cursors;
        size_t n_cursors;
} CephBackend;

static char *base64_text(const uint8_t *in, size_t n, size_t *ret_len) {
        char *out = malloc(base64_encoded_len(n) + 1);

        if (!out)
                return NULL;
        base64_encode(in, n, out);
        *ret_len = base64_encoded_len(n);
        return out;
}

static void head_entries_free(HeadEntry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++)
                strv_free(e[i].keys);
        free(e);
}

static void disconnect(CephBackend *b) {
        if (b->connected) {
                rados_shutdown(b->rados);
                b->connected = false;
        }
        /* Whatever the last command did, the monitors may hold more than we know. */
        b->head_loaded = false;
}

/* Errors that are the monitors' answer, not a lost connection. */
static bool answered(int r) {
        switch (-r) {
        case EACCES: case EPERM: case ENOENT: case EINVAL: case EFBIG: case ENOSPC: case EEXIST: case EBADMSG:
        case ENOMEM: case E2BIG:
                return true;
        default:
                return false;
        }
}

static int ceph_connect(CephBackend *b) {
        char timeout[32];
        int r;

        if (b->connected)
                return 0;
        r = rados_create2(&b->rados, "ceph", b->name, 0);
        if (r < 0)
                return log_warning_errno(r, "Cannot create a RADOS handle for %s: %m", b->name);
        r = rados_conf_read_file(b->rados, b->conf);
        if (r < 0) {
                log_warning_errno(r, "Cannot read the Ceph configuration %s: %m", b->conf);
                goto fail;
        }
        r = rados_conf_set(b->rados, "keyring", b->keyring);
        if (r < 0)
                goto fail;
        snprintf(timeout, sizeof timeout, "%" PRIu64, MAX((b->timeout_usec + 999999) / 1000000, UINT64_C(1)));
        (void) rados_conf_set(b->rados, "client_mount_timeout", timeout);
        (void) rados_conf_set(b->rados, "rados_mon_op_timeout", timeout);
        /* Keep librados' own log out of the coordinator's output and /var/log. */
        (void) rados_conf_set(b->rados, "log_to_stderr", "false");
        (void) rados_conf_set(b->rados, "err_to_stderr", "false");
        (void) rados_conf_set(b->rados, "log_file", "");
        r = rados_connect(b->rados);
        if (r < 0) {
                if (!b->failing)
                        log_warning_errno(r, "Cannot reach the Ceph monitors (%s) as %s with keyring %s: %m",
                                          b->conf, b->name, b->keyring);
                else
                        log_debug_errno(r, "Still cannot reach the Ceph monitors: %m");
                goto fail;
        }
        b->connected = true;
        b->head_loaded = false;
        if (b->failing)
                log_info("Reached the Ceph monitors again as %s.", b->name);
        else
                log_debug("Connected to the Ceph monitors as %s.", b->name);
        b->failing = false;
        return 0;
fail:
        rados_shutdown(b->rados);
        b->failing = true;
        return r;
}

/* One monitor command; *ret (if asked) is the output, NUL-terminated. */
static int command(CephBackend *b, const char *verb, const char *key, const char *in, size_t in_len, char **ret,
                   size_t *ret_len) {
        _cleanup_free_ char *full = NULL;
        json_object *o;
        const char *cmds[1];
        char *outbuf = NULL, *outs = NULL;
        size_t outbuf_len = 0, outs_len = 0;
        int r;

        r = ceph_connect(b);
        if (r < 0)
                return r;
        if (asprintf(&full, "%s%s", b->prefix, key) < 0)
                return -ENOMEM;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "prefix", json_object_new_string(verb));
        json_object_object_add(o, "key", json_object_new_string(full));
        cmds[0] = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        log_debug("mon command %s (%zu bytes in)", cmds[0], in_len);
        r = rados_mon_command(b->rados, cmds, 1, in, in_len, &outbuf, &outbuf_len, &outs, &outs_len);
        json_object_put(o);
        if (r < 0) {
                log_debug_errno(r, "%s %s: %m (%.*s)", verb, full, (int) MIN(outs_len, (size_t) 512), strempty(outs));
                if (!answered(r)) {
                        if (!b->failing)
                                log_warning_errno(r, "The Ceph monitors did not answer %s %s: %m", verb, full);
                        b->failing = true;
                        disconnect(b);
                }
        } else if (ret) {
                char *s = malloc(outbuf_len + 1);
                if (!s)
                        r = -ENOMEM;
                else {
                        if (outbuf_len > 0)
                                memcpy(s, outbuf, outbuf_len);
                        s[outbuf_len] = 0;
                        *ret = s;
                        if (ret_len)
                                *ret_len = outbuf_len;
                }
        }
        rados_buffer_free(outbuf);
        rados_buffer_free(outs);
        return r < 0 ? r : 0;
}

static bool key_valid(const char *key) {
        size_t n = strlen(key);

        if (n == 0 || n > INTENT_MAX_KEY || strncmp(key, HEAD_DIR, strlen(HEAD_DIR)) == 0)
                return false;
        for (const char *p = key; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static bool writer_valid(const char *w) {
        size_t n = w ? strlen(w) : 0;

        if (n == 0 || n > WRITER_MAX)
                return false;
        for (const char *p = w; *p; p++)
                if ((unsigned char) *p <= 0x20 || *p == 0x7f || *p == '/')
                        return false;
        return true;
}

/* A head's JSON: {"seq": N, "recent": [{"seq": N, "keys": [...]}, ...]}. Untrusted: every
 * field is checked, an entry's keys must be valid keys. */
static int head_parse(const char *text, uint64_t *ret_seq, HeadEntry **ret_recent, size_t *ret_n) {
        json_object *root, *seq, *recent;
        HeadEntry *entries = NULL;
        size_t n = 0, count;
        int r = -EBADMSG;

        root = json_tokener_parse(text);
        if (!root || !json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "seq", &seq) || !json_object_is_type(seq, json_type_int) ||
            json_object_get_int64(seq) < 0)
                goto out;
        if (!json_object_object_get_ex(root, "recent", &recent) || !json_object_is_type(recent, json_type_array))
                goto out;
        count = json_object_array_length(recent);
        entries = calloc(count ?: 1, sizeof *entries);
        if (!entries) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < count; i++) {
                json_object *e = json_object_array_get_idx(recent, i), *s, *keys;
                HeadEntry *h = &entries[n];

                if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, "seq", &s) ||
                    !json_object_is_type(s, json_type_int) || json_object_get_int64(s) < 0 ||
                    !json_object_object_get_ex(e, "keys", &keys) || !json_object_is_type(keys, json_type_array))
                        goto out;
                h->seq = (uint64_t) json_object_get_int64(s);
                n++;
                for (size_t k = 0; k < json_object_array_length(keys); k++) {
                        json_object *key = json_object_array_get_idx(keys, k);
                        if (!json_object_is_type(key, json_type_string) || !key_valid(json_object_get_string(key)))
                                goto out;
                        r = strv_extend(&h->keys, json_object_get_string(key));
                        if (r < 0)
                                goto out;
                        r = -EBADMSG;
                }
        }
        *ret_seq = (uint64_t) json_object_get_int64(seq);
        if (ret_recent) {
                *ret_recent = TAKE_PTR(entries);
                *ret_n = n;
                n = 0;
        }
        r = 0;
out:
        head_entries_free(entries, n);
        json_object_put(root);
        return r;
}

/* Our head after this call: entry seq with keys, then as many older ones as fit. */
static char *head_format(uint64_t seq, char **keys, const HeadEntry *old, size_t n_old, size_t *ret_kept) {
        json_object *root = json_object_new_object(), *recent = json_object_new_array();
        char *text = NULL;
        size_t size = 64, kept = 0;

        if (!root || !recent)
                goto out;
        json_object_object_add(root, "seq", json_object_new_int64((int64_t) seq));
        json_object_object_add(root, "recent", recent);
        for (size_t i = 0; i <= n_old; i++) {
                json_object *e = json_object_new_object(), *k = json_object_new_array();
                char **l = i == 0 ? keys : old[i - 1].keys;
                size_t esize = 32;

                if (!e || !k) {
                        json_object_put(e);
                        json_object_put(k);
                        goto out;
                }
                STRV_FOREACH(p, l) {
                        json_object_array_add(k, json_object_new_string(*p));
                        esize += strlen(*p) + 4;
                }
                json_object_object_add(e, "seq", json_object_new_int64((int64_t) (i == 0 ? seq : old[i - 1].seq)));
                json_object_object_add(e, "keys", k);
                /* The newest entry always goes in, even when alone it is too large: then
                 * followers that see a gap dump everything. */
                if (i > 0 && size + esize > HEAD_MAX) {
                        json_object_put(e);
                        break;
                }
                if (i == 0 && esize > HEAD_MAX) {
                        /* Too many keys to name: an empty entry, which followers cannot use
                         * (the seq check finds it incomplete and they dump everything). */
                        json_object_put(e);
                        break;
                }
                json_object_array_add(recent, e);
                size += esize;
                kept = i;
        }
        text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        *ret_kept = kept;
out:
        json_object_put(root);
        if (!root)
                json_object_put(recent);
        return text;
}

static int head_load(CephBackend *b) {
        _cleanup_free_ char *key = NULL, *text = NULL;
        HeadEntry *recent = NULL;
        size_t n = 0;
        uint64_t seq;
        int r;

        if (b->head_loaded)
                return 0;
        if (asprintf(&key, HEAD_DIR "%s", b->writer) < 0)
                return -ENOMEM;
        r = command(b, "config-key get", key, NULL, 0, &text, NULL);
        if (r == -ENOENT) {
                seq = 0;
        } else if (r < 0)
                return r;
        else {
                r = head_parse(text, &seq, &recent, &n);
                if (r < 0)
                        return log_warning_errno(r, "The Ceph monitors hold a head for %s%s that is not one: %m",
                                                 b->prefix, key);
        }
        head_entries_free(b->recent, b->n_recent);
        b->recent = recent;
        b->n_recent = n;
        b->seq = seq;
        b->head_loaded = true;
        return 0;
}

static Cursor *cursor_find(CephBackend *b, const char *writer) {
        for (size_t i = 0; i < b->n_cursors; i++)
                if (streq(b->cursors[i].writer, writer))
                        return &b->cursors[i];
        return NULL;
}

static int cursor_set(CephBackend *b, const char *writer, uint64_t seq) {
        Cursor *c = cursor_find(b, writer), *n;

        if (c) {
                c->seq = seq;
                return 0;
        }
        if (b->n_cursors >= FOLLOW_WRITERS_MAX)
                return -E2BIG;
        n = realloc(b->cursors, (b->n_cursors + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        b->cursors = n;
        n[b->n_cursors].writer = strdup(writer);
        if (!n[b->n_cursors].writer)
                return -ENOMEM;
        n[b->n_cursors++].seq = seq;
        return 0;
}

static int ceph_write(void *data, const char *const *keys, const void *const *values, const size_t *sizes,
                      size_t n) {
        CephBackend *b = data;
        _cleanup_free_ char *head_key = NULL, *head = NULL;
        Cursor *self;
        size_t kept;
        int r;

        for (size_t i = 0; i < n; i++) {
                if (!key_valid(keys[i]))
                        return log_debug_errno(SYNTHETIC_ERRNO(EINVAL), "Intent key '%s' is not valid here.", keys[i]);
                if (values[i] && sizes[i] > INTENT_MAX_VALUE)
                        return log_debug_errno(SYNTHETIC_ERRNO(EFBIG), "Intent value of %s is %zu bytes, over %d.",
                                               keys[i], sizes[i], INTENT_MAX_VALUE);
        }
        if (n == 0 && strv_isempty(b->unannounced))
                return 0;
        r = head_load(b);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                /* Named by the next head before it is sent: a set that times out may still
                 * have been stored. */
                if (!strv_contains(b->unannounced, keys[i])) {
                        if (strv_length(b->unannounced) >= UNANNOUNCED_MAX) {
                                free(b->unannounced[0]);
                                memmove(b->unannounced, b->unannounced + 1,
                                        strv_length(b->unannounced) * sizeof(char *));
                        }
                        r = strv_extend(&b->unannounced, keys[i]);
                        if (r < 0)
                                return r;
                }
                if (values[i]) {
                        _cleanup_free_ char *text = NULL;
                        size_t len;

                        text = base64_text(values[i], sizes[i], &len);
                        if (!text)
                                return -ENOMEM;
                        r = command(b, "config-key set", keys[i], text, len, NULL, NULL);
                } else {
                        r = command(b, "config-key rm", keys[i], NULL, 0, NULL, NULL);
                        if (r == -ENOENT)
                                r = 0;
                }
                if (r < 0)
                        return r;
        }

        head = head_format(b->seq + 1, b->unannounced, b->recent, b->n_recent, &kept);
        if (!head || asprintf(&head_key, HEAD_DIR "%s", b->writer) < 0)
                return -ENOMEM;
        r = command(b, "config-key set", head_key, head, strlen(head), NULL, NULL);
        if (r < 0) {
                b->head_loaded = false;
                return r;
        }
        /* The monitors hold the new head: it is ours now. */
        {
                HeadEntry *recent = calloc(kept + 1, sizeof *recent);
                if (!recent) {
                        b->head_loaded = false;
                        return -ENOMEM;
                }
                recent[0] = (HeadEntry) { .seq = b->seq + 1, .keys = TAKE_PTR(b->unannounced) };
                for (size_t i = 0; i < kept && i < b->n_recent; i++) {
                        recent[i + 1] = b->recent[i];
                        b->recent[i].keys = NULL;
                }
                head_entries_free(b->recent, b->n_recent);
                b->recent = recent;
                b->n_recent = kept + 1;
        }
        b->seq++;
        /* A follower that had seen all our earlier writes has seen this one too. */
        self = cursor_find(b, b->writer);
        if (b->synced && (self ? self->seq : 0) + 1 == b->seq)
                (void) cursor_set(b, b->writer, b->seq);
        return 0;
}

typedef int (*AddFn)(const char *key, const void *value, size_t size, void *u);

static int deliver(const char *key, const char *text, size_t len, AddFn add, void *u) {
        _cleanup_free_ uint8_t *value = NULL;
        size_t size;
        int r;

        r = base64_decode(text, len, &value, &size);
        if (r < 0) {
                /* Not ours (someone set it by hand): skip it rather than stop following. */
                log_warning_errno(r, "Ignoring intent key %s: its value is not base64.", key);
                return 0;
        }
        return add(key, value ?: (const uint8_t *) "", size, u);
}

/* `config-key dump` of prefix+sub, parsed. */
static int dump(CephBackend *b, const char *sub, json_object **ret) {
        _cleanup_free_ char *out = NULL;
        json_object *o;
        int r;

        r = command(b, "config-key dump", sub, NULL, 0, &out, NULL);
        if (r < 0)
                return r;
        o = json_tokener_parse(out);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return log_debug_errno(SYNTHETIC_ERRNO(EBADMSG), "config-key dump %s%s: not a JSON object",
                                       b->prefix, sub);
        }
        *ret = o;
        return 0;
}

static int follow_full(CephBackend *b, AddFn add, void *u) {
        json_object *all = NULL;
        size_t plen = strlen(b->prefix), hlen = strlen(HEAD_DIR);
        int r;

        r = dump(b, "", &all);
        if (r < 0)
                return r;
        /* Cursors first: a failing add stops us before they move, and the next call dumps again. */
        for (size_t i = 0; i < b->n_cursors; i++)
                free(b->cursors[i].writer);
        b->n_cursors = 0;
        json_object_object_foreach(all, k, v) {
                const char *rel = k + plen;

                if (strncmp(k, b->prefix, plen) != 0 || !json_object_is_type(v, json_type_string))
                        continue;
                if (strncmp(rel, HEAD_DIR, hlen) == 0) {
                        uint64_t seq;

                        if (!writer_valid(rel + hlen) || head_parse(json_object_get_string(v), &seq, NULL, NULL) < 0) {
                                log_warning("Ignoring %s in the Ceph monitors: not a castle head.", k);
                                continue;
                        }
                        r = cursor_set(b, rel + hlen, seq);
                        if (r < 0)
                                goto out;
                        continue;
                }
                if (!key_valid(rel))
                        continue;
                r = deliver(rel, json_object_get_string(v), json_object_get_string_len(v), add, u);
                if (r < 0)
                        goto out;
        }
        b->synced = true;
        b->resync = false;
        r = 0;
out:
        if (r < 0)
                b->synced = false;
        json_object_put(all);
        return r;
}

/* The keys of writer's write calls after cursor up to seq, if its head still names them all. */
static bool head_covers(const HeadEntry *recent, size_t n, uint64_t cursor, uint64_t seq) {
        for (uint64_t s = cursor + 1; s <= seq; s++) {
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                        found = recent[i].seq == s;
                if (!found)
                        return false;
        }
        return true;
}

static int follow_writer(CephBackend *b, const char *writer, uint64_t seq, const HeadEntry *recent, size_t n,
                         AddFn add, void *u) {
        _cleanup_strv_free_ char **keys = NULL;
        Cursor *c = cursor_find(b, writer);
        uint64_t from = c ? c->seq : 0;
        int r;

        if (seq == from)
                return 0;
        if (seq < from || !head_covers(recent, n, from, seq)) {
                log_debug("Intent writer %s moved from %" PRIu64 " to %" PRIu64 " beyond its head: dumping all.",
                          writer, from, seq);
                b->resync = true;
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                if (recent[i].seq > from && recent[i].seq <= seq)
                        STRV_FOREACH(k, recent[i].keys) {
                                r = strv_extend_unique(&keys, *k);
                                if (r < 0)
                                        return r;
                        }
        STRV_FOREACH(k, keys) {
                _cleanup_free_ char *text = NULL;
                size_t len;

                r = command(b, "config-key get", *k, NULL, 0, &text, &len);
                if (r == -ENOENT)
                        r = add(*k, NULL, 0, u);
                else if (r >= 0)
                        r = deliver(*k, text, len, add, u);
                if (r < 0)
                        return r;
        }
        return cursor_set(b, writer, seq);
}

static int ceph_follow(void *data, AddFn add, void *u) {
        CephBackend *b = data;
        json_object *heads = NULL;
        size_t plen = strlen(b->prefix), hlen = strlen(HEAD_DIR);
        int r = 0;

        if (!b->synced || b->resync)
                return follow_full(b, add, u);
        r = dump(b, HEAD_DIR, &heads);
        if (r < 0)
                return r;
        json_object_object_foreach(heads, k, v) {
                HeadEntry *recent = NULL;
                size_t n = 0;
                uint64_t seq;
                const char *writer = k + plen + hlen;

                if (strncmp(k, b->prefix, plen) != 0 || strncmp(k + plen, HEAD_DIR, hlen) != 0 ||
                    !writer_valid(writer) || !json_object_is_type(v, json_type_string) ||
                    head_parse(json_object_get_string(v), &seq, &recent, &n) < 0)
                        continue;       /* follow_full() said so once */
                r = follow_writer(b, writer, seq, recent, n, add, u);
                head_entries_free(recent, n);
                if (r < 0)
                        break;
        }
        json_object_put(heads);
        if (r >= 0 && b->resync)
                r = follow_full(b, add, u);
        return r;
}

static void ceph_close(void *data) {
        CephBackend *b = data;

        if (!b)
                return;
        disconnect(b);
        head_entries_free(b->recent, b->n_recent);
        strv_free(b->unannounced);
        for (size_t i = 0; i < b->n_cursors; i++)
                free(b->cursors[i].writer);
        free(b->cursors);
        free(b->conf);
        free(b->name);
        free(b->keyring);
        free(b->prefix);
        free(b->writer);
        free(b);
}

int intent_ceph_backend(const IntentCephOptions *o, IntentBackend *ret) {
        CephBackend *b;

        assert(o);
        assert(ret);
        if (isempty(o->conf) || isempty(o->name) || isempty(o->keyring) || isempty(o->prefix))
                return -EINVAL;
        if (!writer_valid(o->writer))
                return -EINVAL;
        if (strlen(o->prefix) + strlen(HEAD_DIR) + WRITER_MAX > 256 || strlen(o->prefix) + INTENT_MAX_KEY > 1024)
                return -EINVAL;
        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->conf = strdup(o->conf);
        b->name = strdup(o->name);
        b->keyring = strdup(o->keyring);
        b->prefix = strdup(o->prefix);
        b->writer = strdup(o->writer);
        b->timeout_usec = o->timeout_usec ?: 5 * UINT64_C(1000000);
        if (!b->conf || !b->name || !b->keyring || !b->prefix || !b->writer) {
                ceph_close(b);
                return -ENOMEM;
        }
        *ret = (IntentBackend) {
                .data = b,
                .name = "ceph monitors",
                .write = ceph_write,
                .follow = ceph_follow,
                .close = ceph_close,
        };
        return 0;
}
