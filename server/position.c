/* position.c — sequence number -> shardlog position (position.h). */
#include "server/position.h"

#include <errno.h>
#include <string.h>

#include "shards/registry.h"
#include "shards/seqnum.h"

int position_from_seq(const char *seq, const struct reg_shard *sh, bool after, uint64_t *pos)
{
    uint64_t secs = (uint64_t)(sh->created_ms / 1000);
    size_t len = strlen(seq);
    int rc = seqnum_position(seq, len, secs, sh->index, after ? SEQNUM_AFTER : SEQNUM_AT, pos);
    if (rc == -ERANGE && after) {
        /* A subscription that has delivered nothing continues "after position -1": the pipe
         * encodes that as counter 2^64-1 of this shard incarnation. */
        struct seqnum_fields f;
        if (seqnum_parse(seq, len, &f) == 0 && f.counter == UINT64_MAX &&
            f.shard_index == sh->index && f.shard_secs == (secs & SEQNUM_SECS_MAX)) {
            *pos = 0;
            return 0;
        }
    }
    return rc;
}
