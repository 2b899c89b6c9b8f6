/* seqnum.h — Kinesis sequence numbers: 56-digit decimal strings (kinesis-protocol.md §4).
 *
 * Layout (kinesalite's reading of AWS "v2" numbers), 47 hex digits printed in decimal:
 *   `2` · 9 hex shard-creation epoch-secs · 1 hex (shard_index & 0xF) · 16 hex per-shard counter ·
 *   `00` · 9 hex record epoch-secs · 8 hex shard index · `2`
 * so every value lies in [2^185, 3·2^184) and always prints with exactly 56 digits.
 *
 * Positions. Above shards/, a place in a shard is its per-shard counter ("position"); the first
 * record has position 0, the shard's end position is the next counter to assign. A number maps to a
 * position by its counter field alone; its record-secs field is informational (it is the record's
 * arrival second, which never decreases along a shard, so value order == counter order for every
 * number we hand out). Precisely:
 *   AT_SEQUENCE_NUMBER n     -> first record with counter >= counter(n)
 *   AFTER_SEQUENCE_NUMBER n  -> first record with counter >= counter(n) + 1
 * This holds for numbers that are not records too: StartingSequenceNumber (counter 0, record
 * secs = shard secs), a ContinuationSequenceNumber (we emit the last delivered record's number), or
 * any fabricated same-shard number (resolved by its counter).
 *
 * Pure functions, any thread. */
#ifndef SC_SEQNUM_H
#define SC_SEQNUM_H

#include <stddef.h>
#include <stdint.h>

#define SEQNUM_DIGITS 56
#define SEQNUM_BUF (SEQNUM_DIGITS + 1) /* with the terminating NUL */
#define SEQNUM_SECS_MAX ((uint64_t)0xFFFFFFFFF)/* 9 hex digits of epoch seconds */

struct seqnum_fields {
    uint64_t shard_secs;   /* shard creation, epoch seconds (<= SEQNUM_SECS_MAX) */
    uint32_t shard_index;  /* the N of shardId-00000000000N */
    uint64_t counter;      /* per-shard position */
    uint64_t record_secs;  /* record arrival, epoch seconds (<= SEQNUM_SECS_MAX) */
};

enum seqnum_pos_mode { SEQNUM_AT, SEQNUM_AFTER };

/* Writes the 56 digits plus NUL into out. Asserts shard_secs/record_secs <= SEQNUM_SECS_MAX.
 * Returns SEQNUM_DIGITS. Cheap (three 64-bit limb divisions per 19 digits): safe per record. */
size_t seqnum_encode(char out[SEQNUM_BUF], const struct seqnum_fields *f);

/* Parses s[0..len) (not NUL-terminated needed).
 * Returns 0 and fills *out; -EINVAL when s does not match `0|([1-9]\d{0,128})` (malformed);
 * -ERANGE when s is a well-formed decimal but not a shardcast/AWS-layout number (wrong length,
 * out of [2^185, 3·2^184), or the fixed nibbles differ). */
int seqnum_parse(const char *s, size_t len, struct seqnum_fields *out);

/* Maps a client-supplied number to a position of the shard (shard_secs, shard_index) per the rule
 * above. Returns 0 and sets *position; -EINVAL malformed; -ERANGE not our layout; -EXDEV a valid
 * number of another shard (or another incarnation of a same-named stream). The server maps all
 * three to InvalidArgumentException with its own message. */
int seqnum_position(const char *s, size_t len, uint64_t shard_secs, uint32_t shard_index,
                    enum seqnum_pos_mode mode, uint64_t *position);

/* Three-way compare of two well-formed numbers as unsigned integers (BigInteger order, what KCL
 * does). Both must match the model pattern (asserted). Returns <0, 0, >0. */
int seqnum_compare(const char *a, size_t alen, const char *b, size_t blen);

#endif
