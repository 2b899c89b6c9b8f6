/* shards_internal.h — what shards/ modules share and nothing outside shards/ may use: the
 * registry's records (registry.c, meta.c) and the sorted-by-name lookup (registry.c, shardtab.c). */
#ifndef SC_SHARDS_INTERNAL_H
#define SC_SHARDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "common/common.h"
#include "shards/registry.h"

struct reg_consumer_rec {
    struct reg_consumer c;
    int64_t status_ms; /* when the current status began */
};

/* The rolling-24 h quotas (registry_opts.limit_daily): per stream, when each kind of call last
 * succeeded, oldest first; the newest `cap` of a kind are all its quota needs. Persisted one
 * line each (`word <ms>`), whether the limit is on or not, so turning it on counts the past. */
enum reg_daily_kind { REG_DAILY_SCALE, REG_DAILY_ENC_START, REG_DAILY_ENC_STOP, REG_DAILY_KINDS };

static const struct {
    const char *word;
    uint32_t cap;
} reg_daily_kinds[REG_DAILY_KINDS] = {
    [REG_DAILY_SCALE] = {"scaled", REG_SCALINGS_PER_DAY},
    [REG_DAILY_ENC_START] = {"encstart", REG_ENCRYPTIONS_PER_DAY},
    [REG_DAILY_ENC_STOP] = {"encstop", REG_ENCRYPTIONS_PER_DAY},
};

#define REG_DAILY_MAX 25
STATIC_ASSERT(REG_SCALINGS_PER_DAY <= REG_DAILY_MAX && REG_ENCRYPTIONS_PER_DAY <= REG_DAILY_MAX,
              "every kind's history fits");

struct reg_daily {
    int64_t ms[REG_DAILY_MAX];
    uint32_t n;
};

/* A resource policy (PutResourcePolicy): the stream's own (consumer "") or a consumer's, which
 * names the registration it belongs to, so a name registered again does not inherit it. */
struct reg_policy {
    char consumer[REG_NAME_MAX + 1];
    int64_t consumer_created_ms;
    char *text; /* malloc'd, at most REG_POLICY_MAX bytes */
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
    struct reg_daily daily[REG_DAILY_KINDS];
    struct reg_policy *policies; /* at most 1 + nconsumers; registry.c prunes the orphans */
    size_t npolicies;
};

void reg_stream_free(struct reg_stream *s);

/* Binary search over n entries sorted by name (byte order); name_at(arr, i) is entry i's name.
 * Returns the entry's index with *found set, or the index where `name` would be inserted. */
static inline size_t shards_name_search(const void *arr, size_t n,
                                        const char *(*name_at)(const void *arr, size_t i),
                                        const char *name, bool *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name_at(arr, mid), name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

#endif
