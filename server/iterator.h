/* iterator.h — shard iterators (GetShardIterator / GetRecords): opaque, self-describing,
 * tamper-evident, expiring tokens (kinesis-protocol.md §4, §5).
 *
 * An iterator names one place in one incarnation of a shard: (stream name, shard index, shard
 * created_ms, position) plus the time it was issued. The server keeps no per-iterator state, so a
 * client may poll with any worker, after a restart, or hand the iterator to another process.
 *
 * Text form: standard base64 (with padding) of
 *   8-byte header 00 00 00 00 00 00 00 01 (like AWS's, so real-looking iterators start
 *   "AAAAAAAAAAE"), version byte, issued ms, shard created ms, shard index, position, name length,
 *   name, then HMAC-SHA256 over everything before it.
 * The HMAC key is 32 random bytes per data directory (DATA/meta/iterator.key, mode 0600, written
 * with write + fsync + rename), so iterators survive a restart and cannot be forged or edited.
 * The fields are authenticated, not encrypted: a client can read its own stream name and
 * position, which tells it nothing it could not learn from the API.
 *
 * Thread rule: pure functions plus iterator_key_load (file I/O); any thread. */
#ifndef SC_ITERATOR_H
#define SC_ITERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "shards/registry.h"

#define ITERATOR_KEY_BYTES 32
#define ITERATOR_MAC_BYTES 32 /* HMAC-SHA256 */
#define ITERATOR_TEXT_MAX 512       /* model: ShardIterator length 1..512 */
#define ITERATOR_LIFETIME_MS 300000 /* older -> ExpiredIteratorException */

struct iterator_key {
    uint8_t bytes[ITERATOR_KEY_BYTES];
};

struct iterator {
    char stream[REG_NAME_MAX + 1];
    uint32_t shard_index;
    int64_t shard_created_ms; /* the shard's incarnation: a re-created stream never matches */
    uint64_t position;        /* shardlog counter of the next record to return */
    int64_t issued_ms;        /* set by iterator_encode, read back by iterator_decode */
};

/* Loads the key of data directory `data_dir` from DATA/meta/iterator.key, creating it (and
 * DATA/meta) with fresh random bytes when absent. data_dir NULL or "" (memory-only servers,
 * tests): a random key that lives as long as the process. Returns 0, -EBADMSG when the file exists
 * with the wrong size (logged; not replaced, so a damaged disk is noticed), or -errno. */
int iterator_key_load(const char *data_dir, struct iterator_key *out);

/* HMAC-SHA256 of p[0..n) under the key: what makes iterators, and the pagination tokens of the
 * List* operations, impossible to forge or edit. */
void iterator_key_mac(const struct iterator_key *key, const void *p, size_t n,
                      uint8_t out[ITERATOR_MAC_BYTES]);

/* Strict standard base64: padding required and only the canonical text of some bytes accepted
 * (re-encoding gives the text back), so no two texts carry the same bytes and unused low bits
 * cannot be edited. Decodes text[0..len) (len <= ITERATOR_B64_MAX) into raw[0..cap); returns the
 * byte count, or -1. */
#define ITERATOR_B64_MAX 1024
int iterator_b64_decode(const char *text, size_t len, uint8_t *raw, size_t cap);

/* Encodes `it` (stream 1..REG_NAME_MAX chars) stamped with now_ms as its issue time (also stored
 * into it->issued_ms). Writes the NUL-terminated text into out and returns its length
 * (<= ITERATOR_TEXT_MAX). */
size_t iterator_encode(const struct iterator_key *key, struct iterator *it, int64_t now_ms,
                       char out[ITERATOR_TEXT_MAX + 1]);

/* Decodes and authenticates text[0..len). Returns 0 with *out filled;
 * KERR_INVALID_ARGUMENT when it is not an iterator made with this key (garbage, truncated,
 * edited, another data directory's); KERR_EXPIRED_ITERATOR when it is authentic but was issued
 * more than ITERATOR_LIFETIME_MS before now_ms (then *out is filled too, for the message). */
int iterator_decode(const struct iterator_key *key, const char *text, size_t len, int64_t now_ms,
                    struct iterator *out);

/* The ExpiredIteratorException message for an iterator issued at issued_ms, seen at now_ms
 * (kinesis-protocol.md §5; times like "Thu Jan 22 01:22:02 UTC 2015"). Returns buf. */
char *iterator_expired_message(char *buf, size_t cap, int64_t issued_ms, int64_t now_ms);

#endif
