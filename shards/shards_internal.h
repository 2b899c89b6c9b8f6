/* shards_internal.h — registry records shared by shards/registry.c and shards/meta.c only. */
#ifndef SC_SHARDS_INTERNAL_H
#define SC_SHARDS_INTERNAL_H

#include "shards/registry.h"

struct reg_consumer_rec {
    struct reg_consumer c;
    int64_t status_ms; /* when the current status began */
};

/* One stream as the registry holds it (under the registry mutex) and meta persists it.
 * info.shard_count/open_shard_count/consumer_count are derived, recomputed after changes. */
struct reg_stream {
    struct reg_stream_info info;
    int64_t status_ms; /* when the current status began; transitions are computed from it */
    uint32_t next_index;
    struct reg_shard *shards; /* by index: shards[i].index == i */
    size_t nshards, cap_shards;
    struct reg_consumer_rec *consumers; /* sorted by name */
    size_t nconsumers, cap_consumers;
    struct shardlog **logs; /* storage's logs, parallel to shards; not persisted here. TODO */
};

void reg_stream_free(struct reg_stream *s);

#endif
