/* hist.c — see hist.h. */
#include "hist.h"

#include <string.h>

#include "common/common.h"

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
}

unsigned hist_index(uint64_t v)
{
    if (v > HIST_MAX_US)
        v = HIST_MAX_US;
    if (v < 128)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - 6;                          /* keeps 7 significant bits: 64..127 */
    unsigned idx = 128 + (shift - 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
    DASSERT(idx < HIST_BUCKETS);
    return idx;
}

void hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi)
{
    ASSERT(idx < HIST_BUCKETS);
    if (idx < 128) {
        *lo = *hi = idx;
        return;
    }
    unsigned shift = (idx - 128) / HIST_SUB + 1;
    uint64_t sub = (idx - 128) % HIST_SUB + HIST_SUB;
    *lo = sub << shift;
    *hi = ((sub + 1) << shift) - 1;
}

void hist_record(struct hist *h, uint64_t v)
{
    if (v > HIST_MAX_US)
        h->clamped++;
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum_us += (double)v;
    if (v < h->min_us)
        h->min_us = v;
    if (v > h->max_us)
        h->max_us = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->clamped += src->clamped;
    dst->sum_us += src->sum_us;
    dst->min_us = SC_MIN(dst->min_us, src->min_us);
    dst->max_us = SC_MAX(dst->max_us, src->max_us);
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)((p / 100.0) * (double)h->total + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank >= h->total)
        return h->max_us; /* the top rank is the exact max, not a bucket midpoint */
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            hist_bucket_range(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            return SC_MAX(SC_MIN(mid, h->max_us), h->min_us);
        }
    }
    return h->max_us;
}

double hist_mean(const struct hist *h)
{
    return h->total ? h->sum_us / (double)h->total : 0.0;
}
