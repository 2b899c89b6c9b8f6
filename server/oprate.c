/* oprate.c — see oprate.h. */
#include "server/oprate.h"

#include <pthread.h>
#include <string.h>

#include "common/common.h"
#include "common/tbucket.h"

#define OPRATE_SLOTS 1024
#define OPRATE_PROBE 16
#define OPRATE_NAME_MAX 128 /* a stream name's longest valid length */
#define OPRATE_IDLE_NS 1000000000ull /* a bucket holds one second: idle this long, it is full */

/* The rates of the API reference ("This operation has a limit of N transactions per second per
 * account / per stream"), as botocore 1.29's model of Kinesis 2013-12-02 carries them, and the two
 * of On-demand Advantage (UpdateAccountSettings, UpdateStreamWarmThroughput: 5 per account, from
 * the current reference). Sorted by name. Not here: GetRecords and GetShardIterator (per shard, in shards/), SubscribeToShard (one
 * subscription per consumer and shard, server/api_subscribe.c), UpdateShardCount (10 per 24 h,
 * shards/registry.c), and operations the reference gives no rate. */
static const struct {
    const char *op;
    enum oprate_scope scope;
    unsigned per_s;
} rates[] = {
    {"AddTagsToStream", OPRATE_ACCOUNT, 5},
    {"CreateStream", OPRATE_ACCOUNT, 5},
    {"DeleteStream", OPRATE_ACCOUNT, 5},
    {"DeregisterStreamConsumer", OPRATE_STREAM, 5},
    {"DescribeLimits", OPRATE_ACCOUNT, 1},
    {"DescribeStream", OPRATE_ACCOUNT, 10},
    {"DescribeStreamConsumer", OPRATE_STREAM, 20},
    {"DescribeStreamSummary", OPRATE_ACCOUNT, 20},
    {"ListShards", OPRATE_STREAM, 1000},
    {"ListStreamConsumers", OPRATE_STREAM, 5},
    {"ListStreams", OPRATE_ACCOUNT, 5},
    {"ListTagsForStream", OPRATE_ACCOUNT, 5},
    {"MergeShards", OPRATE_ACCOUNT, 5},
    {"RegisterStreamConsumer", OPRATE_ACCOUNT, 5},
    {"RemoveTagsFromStream", OPRATE_ACCOUNT, 5},
    {"SplitShard", OPRATE_ACCOUNT, 5},
    {"UpdateAccountSettings", OPRATE_ACCOUNT, 5},
    {"UpdateStreamWarmThroughput", OPRATE_ACCOUNT, 5},
};
#define NRATES SC_ARRAY_LEN(rates)

struct stream_slot {
    char name[OPRATE_NAME_MAX + 1]; /* "" = never used */
    uint64_t last_ns;
    struct tbucket b[NRATES]; /* only the per-stream rows are used */
};

static struct {
    pthread_mutex_t lock;
    bool enforce;
    struct tbucket account[NRATES];
    struct stream_slot slots[OPRATE_SLOTS];
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int rate_index(const char *op)
{
    size_t lo = 0, hi = NRATES;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(op, rates[mid].op);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

static void buckets_fill(struct tbucket *b, uint64_t now_ns)
{
    for (size_t i = 0; i < NRATES; i++)
        tbucket_init(&b[i], rates[i].per_s, rates[i].per_s, now_ns);
}

void oprate_init(bool enforce)
{
    pthread_mutex_lock(&g.lock);
    g.enforce = enforce;
    buckets_fill(g.account, 0);
    for (size_t i = 0; i < OPRATE_SLOTS; i++)
        g.slots[i].name[0] = '\0';
    pthread_mutex_unlock(&g.lock);
}

enum oprate_scope oprate_scope_of(const char *op)
{
    int i = rate_index(op);
    return i < 0 ? OPRATE_NONE : rates[i].scope;
}

/* FNV-1a, its high bits folded down: names differing in a last digit ("s1", "s2") otherwise
 * land in neighbouring slots and fill a probe run. */
static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return (h ^ (h >> 16)) * 2654435761u >> 8;
}

/* The stream's buckets, claiming a slot when it has none; NULL when its probe run is busy. Lock
 * held. */
static struct tbucket *stream_buckets(const char *name, size_t n, uint64_t now_ns)
{
    uint32_t h = name_hash(name, n);
    struct stream_slot *free_slot = NULL;
    for (unsigned k = 0; k < OPRATE_PROBE; k++) {
        struct stream_slot *s = &g.slots[(h + k) % OPRATE_SLOTS];
        if (strcmp(s->name, name) == 0) {
            s->last_ns = SC_MAX(s->last_ns, now_ns);
            return s->b;
        }
        /* now_ns was read before the lock: another worker may have stamped a later time. */
        bool idle = s->name[0] == '\0' ||
                    (now_ns > s->last_ns && now_ns - s->last_ns >= OPRATE_IDLE_NS);
        if (free_slot == NULL && idle)
            free_slot = s;
    }
    if (free_slot == NULL)
        return NULL;
    memcpy(free_slot->name, name, n + 1);
    free_slot->last_ns = now_ns;
    buckets_fill(free_slot->b, now_ns);
    return free_slot->b;
}

bool oprate_admit(const char *op, const char *stream, uint64_t now_ns)
{
    int i = rate_index(op);
    if (i < 0)
        return true;
    pthread_mutex_lock(&g.lock);
    bool ok = true;
    if (g.enforce && rates[i].scope == OPRATE_ACCOUNT) {
        ok = tbucket_take(&g.account[i], 1, now_ns);
    } else if (g.enforce && stream != NULL) {
        size_t n = strnlen(stream, OPRATE_NAME_MAX + 1);
        struct tbucket *b = n >= 1 && n <= OPRATE_NAME_MAX ? stream_buckets(stream, n, now_ns)
                                                            : NULL;
        ok = b == NULL || tbucket_take(&b[i], 1, now_ns);
    }
    pthread_mutex_unlock(&g.lock);
    return ok;
}
