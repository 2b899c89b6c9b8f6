/* position.h — client sequence numbers -> shardlog positions, the one rule shared by
 * GetShardIterator (api_get.c) and SubscribeToShard (api_subscribe.c).
 *
 * Thread rule: pure; any thread. */
#ifndef SC_POSITION_H
#define SC_POSITION_H

#include <stdbool.h>
#include <stdint.h>

struct reg_shard;

/* AT_SEQUENCE_NUMBER (after false) / AFTER_SEQUENCE_NUMBER (after true) of seq (NUL-terminated,
 * model pattern already checked) in shard sh -> *pos, the position of the first record to
 * return. Besides record numbers it accepts the ContinuationSequenceNumber a subscription sends
 * before any record: position 0 - 1 wrapped, i.e. counter 2^64-1, whose AFTER is position 0.
 * Returns 0, or seqnum_position's errors (-EXDEV: another shard or incarnation; -ERANGE,
 * -EINVAL: not a number this shard could have issued). */
int position_from_seq(const char *seq, const struct reg_shard *sh, bool after, uint64_t *pos);

#endif
