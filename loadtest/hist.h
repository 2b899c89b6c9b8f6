/* hist.h — HDR-style log-linear latency histogram, 1 µs .. 60 s, relative error < 1%.
 *
 * Values below 128 µs get exact buckets; above, each power of two is split into 64 linear
 * sub-buckets, so a bucket is at most 1/64 of its lower bound wide and its midpoint is within
 * 0.8% of any value in it (the HdrHistogram scheme, with 2 significant digits). Values above the
 * range are clamped into the top bucket and counted in `clamped`; the exact max is kept.
 * Plain data, no allocation; not thread-safe. */
#ifndef LT_HIST_H
#define LT_HIST_H

#include <stdint.h>

#define HIST_MAX_US 60000000ull
#define HIST_SUB 64
#define HIST_BUCKETS (128 + 20 * HIST_SUB)

struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t clamped;
    uint64_t min_us;
    uint64_t max_us;
    double sum_us;
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t value_us);
/* Adds every count of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at percentile p (0..100], as the bucket midpoint clamped to [min,max] (the exact
 * max for the top rank); 0 if empty. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
/* Bucket index of a value and the [lo, hi] range of a bucket, for plots and tests. */
unsigned hist_index(uint64_t value_us);
void hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi);

#endif
