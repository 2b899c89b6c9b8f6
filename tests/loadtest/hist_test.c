/* hist_test.c — the latency histogram: bucket bounds are contiguous, every value's bucket
 * midpoint is within 1% of it over 1 µs .. 60 s, percentiles of known distributions. */
#include "loadtest/hist.h"

#include <math.h>

#include "test.h"

static struct hist h;

static void test_buckets_contiguous(void)
{
    uint64_t prev_hi = 0;
    for (unsigned i = 1; i < HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        hist_bucket_range(i, &lo, &hi);
        if (lo != prev_hi + 1 || hi < lo) {
            CHECK(lo == prev_hi + 1 && hi >= lo);
            fprintf(stderr, "bucket %u: [%llu, %llu] after %llu\n", i, (unsigned long long)lo,
                    (unsigned long long)hi, (unsigned long long)prev_hi);
            return;
        }
        prev_hi = hi;
    }
    CHECK(prev_hi >= HIST_MAX_US);
}

static void test_relative_error(void)
{
    double worst = 0;
    /* Every value up to 4096 µs, then a geometric sweep to 60 s. */
    for (uint64_t v = 1; v <= HIST_MAX_US; v = v < 4096 ? v + 1 : v + v / 997) {
        unsigned idx = hist_index(v);
        uint64_t lo, hi;
        hist_bucket_range(idx, &lo, &hi);
        CHECK(v >= lo && v <= hi);
        if (!(v >= lo && v <= hi))
            return;
        double mid = (double)lo + (double)(hi - lo) / 2.0;
        worst = fmax(worst, fabs(mid - (double)v) / (double)v);
    }
    CHECK(worst < 0.01);
    fprintf(stderr, "worst relative error %.4f%%\n", worst * 100);
}

static void test_percentiles_uniform(void)
{
    hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(&h, v); /* 1 µs .. 100 ms uniform */
    CHECK_EQ_INT(h.total, 100000);
    double p50 = (double)hist_percentile(&h, 50), p99 = (double)hist_percentile(&h, 99);
    double p999 = (double)hist_percentile(&h, 99.9);
    CHECK(fabs(p50 - 50000) / 50000 < 0.01);
    CHECK(fabs(p99 - 99000) / 99000 < 0.01);
    CHECK(fabs(p999 - 99900) / 99900 < 0.01);
    CHECK(hist_percentile(&h, 100) == 100000);
    CHECK(p50 <= p99 && p99 <= p999);
    CHECK(fabs(hist_mean(&h) - 50000.5) < 1);
}

static void test_clamp_and_merge(void)
{
    struct hist a, b;
    hist_init(&a);
    hist_init(&b);
    CHECK_EQ_INT(hist_percentile(&a, 50), 0);
    hist_record(&a, 5);
    hist_record(&b, HIST_MAX_US * 10); /* above range: clamped, max still exact */
    hist_merge(&a, &b);
    CHECK_EQ_INT(a.total, 2);
    CHECK_EQ_INT(a.clamped, 1);
    CHECK_EQ_INT(a.max_us, HIST_MAX_US * 10);
    CHECK_EQ_INT(a.min_us, 5);
    CHECK_EQ_INT(hist_percentile(&a, 50), 5);
}

int main(void)
{
    TEST_RUN(test_buckets_contiguous);
    TEST_RUN(test_relative_error);
    TEST_RUN(test_percentiles_uniform);
    TEST_RUN(test_clamp_and_merge);
    TEST_EXIT();
}
