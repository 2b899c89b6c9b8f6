/* Unit tests for common/: CRC32 vectors, token bucket arithmetic, refbuf counting. */
#include "common/crc32.h"
#include "common/refbuf.h"
#include "common/tbucket.h"
#include "test.h"

#define NS UINT64_C(1000000000)

static void test_crc32(void)
{
    /* The event-stream empty message (kinesis-protocol.md §6.4): prelude CRC 0x05c248eb. */
    static const uint8_t prelude[8] = {0, 0, 0, 0x10, 0, 0, 0, 0};
    CHECK_EQ_INT(crc32_update(0, prelude, 8), 0x05c248eb);
    CHECK_EQ_INT(crc32_update(0, "123456789", 9), 0xcbf43926);
    uint32_t part = crc32_update(0, "12345", 5);
    CHECK_EQ_INT(crc32_update(part, "6789", 4), 0xcbf43926);
}

static void test_tbucket(void)
{
    struct tbucket tb;
    tbucket_init(&tb, 1000, 1000, 0);
    CHECK(tbucket_take(&tb, 1000, 0));
    CHECK(!tbucket_take(&tb, 1, 0));
    CHECK_EQ_INT(tbucket_wait_ns(&tb, 1, 0), 1000000); /* 1 token at 1000/s = 1 ms */
    CHECK(tbucket_take(&tb, 500, NS / 2));
    CHECK(!tbucket_take(&tb, 1, NS / 2));
    /* Refill never exceeds the burst. */
    CHECK_EQ_INT(tbucket_available(&tb, 100 * NS), 1000);
    /* Debt must be repaid before tokens show again. */
    tbucket_charge(&tb, 3000, 100 * NS);
    CHECK_EQ_INT(tbucket_available(&tb, 100 * NS), 0);
    CHECK_EQ_INT(tbucket_wait_ns(&tb, 1, 100 * NS), 2001000000);
    CHECK_EQ_INT(tbucket_available(&tb, 103 * NS), 1000);
    /* Sub-token remainders accumulate: 3 tokens/s, 10 steps of 100 ms give 3 tokens. */
    tbucket_init(&tb, 3, 3, 0);
    CHECK(tbucket_take(&tb, 3, 0));
    for (int i = 1; i <= 10; i++)
        (void)tbucket_available(&tb, (uint64_t)i * (NS / 10));
    CHECK_EQ_INT(tbucket_available(&tb, NS), 3);
    /* Unlimited. */
    tbucket_init(&tb, 0, 0, 0);
    CHECK(tbucket_take(&tb, 1u << 30, 0));
    CHECK_EQ_INT(tbucket_take_upto(&tb, 77, 0), 77);
}

static void test_refbuf(void)
{
    struct refbuf *b = refbuf_from("abc", 3);
    CHECK_EQ_INT(b->len, 3);
    refbuf_incref(b);
    CHECK_EQ_INT(atomic_load(&b->refs), 2);
    refbuf_evbuffer_cleanup(b->data, b->len, b);
    CHECK_EQ_INT(atomic_load(&b->refs), 1);
    refbuf_decref(b); /* frees; ASan reports if it did not */
}

int main(void)
{
    TEST_RUN(test_crc32);
    TEST_RUN(test_tbucket);
    TEST_RUN(test_refbuf);
    TEST_EXIT();
}
