#include "common/tbucket.h"

#include "common/common.h"

#define NS_PER_S UINT64_C(1000000000)

static void refill(struct tbucket *tb, uint64_t now_ns)
{
    if (now_ns <= tb->stamp_ns)
        return;
    uint64_t dt = now_ns - tb->stamp_ns;
    tb->stamp_ns = now_ns;
    if (dt > 3600 * NS_PER_S) /* long idle: bucket is full anyway, avoid overflow */
        dt = 3600 * NS_PER_S;
    unsigned __int128 scaled = (unsigned __int128)dt * tb->rate_per_s + tb->frac;
    uint64_t add = (uint64_t)(scaled / NS_PER_S);
    tb->frac = (uint64_t)(scaled % NS_PER_S);
    int64_t t = tb->tokens + (int64_t)SC_MIN(add, (uint64_t)INT64_MAX / 2);
    if (t >= (int64_t)tb->burst) {
        t = (int64_t)tb->burst;
        tb->frac = 0;
    }
    tb->tokens = t;
}

void tbucket_init(struct tbucket *tb, uint64_t rate_per_s, uint64_t burst, uint64_t now_ns)
{
    ASSERT(burst <= (uint64_t)INT64_MAX / 2);
    tb->rate_per_s = rate_per_s;
    tb->burst = burst;
    tb->tokens = (int64_t)burst;
    tb->stamp_ns = now_ns;
    tb->frac = 0;
}

void tbucket_set_burst(struct tbucket *tb, uint64_t burst, uint64_t now_ns)
{
    ASSERT(burst <= (uint64_t)INT64_MAX / 2);
    refill(tb, now_ns);
    bool full = tb->tokens >= (int64_t)tb->burst;
    tb->burst = burst;
    if (full || tb->tokens > (int64_t)burst) {
        tb->tokens = (int64_t)burst;
        tb->frac = 0;
    }
}

bool tbucket_take(struct tbucket *tb, uint64_t n, uint64_t now_ns)
{
    if (tb->rate_per_s == 0)
        return true;
    refill(tb, now_ns);
    if (tb->tokens < (int64_t)n)
        return false;
    tb->tokens -= (int64_t)n;
    return true;
}

uint64_t tbucket_take_upto(struct tbucket *tb, uint64_t n, uint64_t now_ns)
{
    if (tb->rate_per_s == 0)
        return n;
    refill(tb, now_ns);
    if (tb->tokens <= 0)
        return 0;
    uint64_t got = SC_MIN(n, (uint64_t)tb->tokens);
    tb->tokens -= (int64_t)got;
    return got;
}

void tbucket_charge(struct tbucket *tb, uint64_t n, uint64_t now_ns)
{
    if (tb->rate_per_s == 0)
        return;
    refill(tb, now_ns);
    tb->tokens -= (int64_t)SC_MIN(n, (uint64_t)INT64_MAX / 4);
}

uint64_t tbucket_available(struct tbucket *tb, uint64_t now_ns)
{
    if (tb->rate_per_s == 0)
        return UINT64_MAX;
    refill(tb, now_ns);
    return tb->tokens > 0 ? (uint64_t)tb->tokens : 0;
}

uint64_t tbucket_wait_ns(struct tbucket *tb, uint64_t n, uint64_t now_ns)
{
    if (tb->rate_per_s == 0)
        return 0;
    refill(tb, now_ns);
    if (n > tb->burst)
        n = tb->burst;
    if (tb->tokens >= (int64_t)n)
        return 0;
    uint64_t missing = (uint64_t)((int64_t)n - tb->tokens);
    unsigned __int128 need = (unsigned __int128)missing * NS_PER_S;
    need = need > tb->frac ? need - tb->frac : 0;
    return (uint64_t)((need + tb->rate_per_s - 1) / tb->rate_per_s);
}
