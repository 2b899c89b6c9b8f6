/* libFuzzer harness for sequence numbers (shards/seqnum.c): every StartingSequenceNumber,
 * ExclusiveStartSequenceNumber, SequenceNumberForOrdering and AT/AFTER_SEQUENCE_NUMBER a client
 * sends goes through seqnum_parse / seqnum_position / seqnum_compare.
 *
 * Input: byte 0 splits the rest into two numbers a and b. Properties: no crash / UB / read past
 * the end; a number that parses re-encodes to exactly its own 56 digits; seqnum_position agrees
 * with seqnum_parse (same errors, -EXDEV only for another shard, AFTER = AT + 1); for numbers
 * matching the model pattern, compare is antisymmetric and agrees with length-then-bytes order. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "shards/seqnum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The model pattern `0|([1-9]\d{0,128})`. */
static bool well_formed(const char *s, size_t n)
{
    if (n == 0 || n > 129 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void one(const char *s, size_t n)
{
    struct seqnum_fields f;
    int rc = seqnum_parse(s, n, &f);
    ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE);
    ASSERT((rc == -EINVAL) == !well_formed(s, n));
    uint64_t at, after;
    if (rc != 0) {
        ASSERT(seqnum_position(s, n, 0, 0, SEQNUM_AT, &at) == rc);
        return;
    }
    char again[SEQNUM_BUF];
    ASSERT(seqnum_encode(again, &f) == SEQNUM_DIGITS);
    ASSERT(n == SEQNUM_DIGITS && memcmp(again, s, n) == 0);
    ASSERT(seqnum_position(s, n, f.shard_secs, f.shard_index, SEQNUM_AT, &at) == 0);
    ASSERT(at == f.counter);
    int rc2 = seqnum_position(s, n, f.shard_secs, f.shard_index, SEQNUM_AFTER, &after);
    ASSERT(rc2 == 0 ? after == at + 1 : at == UINT64_MAX);
    ASSERT(seqnum_position(s, n, f.shard_secs + 1, f.shard_index, SEQNUM_AT, &at) == -EXDEV);
    ASSERT(seqnum_position(s, n, f.shard_secs, f.shard_index + 1, SEQNUM_AT, &at) == -EXDEV);
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = SC_MIN((size_t)data[0], size - 1);
    /* Separate exact-size copies, so a read past either end shows. */
    char *a = sc_malloc(split + 1), *b = sc_malloc(size - split);
    memcpy(a, data + 1, split);
    memcpy(b, data + 1 + split, size - 1 - split);
    size_t alen = split, blen = size - 1 - split;
    one(a, alen);
    one(b, blen);
    if (well_formed(a, alen) && well_formed(b, blen)) {
        int ab = sign(seqnum_compare(a, alen, b, blen));
        ASSERT(ab == -sign(seqnum_compare(b, blen, a, alen)));
        int want = alen != blen ? (alen < blen ? -1 : 1) : sign(memcmp(a, b, alen));
        ASSERT(ab == want);
        ASSERT(seqnum_compare(a, alen, a, alen) == 0);
    }
    free(a);
    free(b);
    return 0;
}
