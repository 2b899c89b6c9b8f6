/* crc32_test — crc32_update (folding fast path + zlib tail) must equal zlib's crc32 for every
 * length 0..4096, every start alignment 0..15, and when chained across arbitrary split points. */
#include "common/crc32.h"

#include <zlib.h>

#include "test.h"

static unsigned char buf[4096 + 64];

static void fill_random(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
}

static void test_every_length_and_alignment(void)
{
    int bad = 0;
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len <= 4096; len++) {
            uint32_t want = (uint32_t)crc32(0, buf + off, (uInt)len);
            if (crc32_update(0, buf + off, len) != want && bad++ < 5)
                fprintf(stderr, "mismatch off=%zu len=%zu\n", off, len);
            if (crc32_update_portable(0, buf + off, len) != want && bad++ < 5)
                fprintf(stderr, "portable mismatch off=%zu len=%zu\n", off, len);
        }
    CHECK_EQ_INT(bad, 0);
}

static void test_chained(void)
{
    int bad = 0;
    uint32_t want = (uint32_t)crc32(0, buf, 4096);
    for (size_t cut = 0; cut <= 4096; cut += 7) {
        uint32_t c = crc32_update(0, buf, cut);
        if (crc32_update(c, buf + cut, 4096 - cut) != want)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* A nonzero seed must flow into the folding path too. */
    CHECK_EQ_INT(crc32_update(0x12345678u, buf + 3, 1000),
                 (uint32_t)crc32(0x12345678u, buf + 3, 1000));
    CHECK_EQ_INT(crc32_update_portable(0x12345678u, buf + 3, 1000),
                 (uint32_t)crc32(0x12345678u, buf + 3, 1000));
}

/* crc32_concat == the CRC over the joined bytes and == zlib's crc32_combine, for every split of
 * a 4 KiB buffer (each length twice, so the per-length cache is hit too), and for lengths far
 * beyond the buffer against zlib. */
static void test_concat(void)
{
    int bad = 0;
    uint32_t whole = (uint32_t)crc32(0, buf, 4096);
    for (int round = 0; round < 2; round++)
        for (size_t cut = 0; cut <= 4096; cut++) {
            uint32_t a = crc32_update(0, buf, cut), b = crc32_update(0, buf + cut, 4096 - cut);
            if (crc32_concat(a, b, 4096 - cut) != whole && bad++ < 5)
                fprintf(stderr, "concat mismatch cut=%zu\n", cut);
        }
    static const uint64_t lens[] = {1, 63, 64, 65, 127, 1u << 20, (1ull << 32) + 5, 1ull << 40};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint32_t want = (uint32_t)crc32_combine64(0x12345678u, 0x9abcdef0u, (z_off64_t)lens[i]);
        if (crc32_concat(0x12345678u, 0x9abcdef0u, lens[i]) != want && bad++ < 10)
            fprintf(stderr, "concat mismatch len=%llu\n", (unsigned long long)lens[i]);
    }
    CHECK_EQ_INT(crc32_concat(0xdeadbeefu, 0, 0), 0xdeadbeefu);
    CHECK_EQ_INT(bad, 0);
}

/* Taking the last byte off a CRC gives zlib's CRC of the shorter prefix, for every length and
 * every value of that byte. */
static void test_unappend(void)
{
    int bad = 0;
    for (size_t n = 1; n <= 4096; n++) {
        uint32_t want = (uint32_t)crc32(0, buf, (uInt)(n - 1));
        if (crc32_unappend((uint32_t)crc32(0, buf, (uInt)n), buf[n - 1]) != want && bad++ < 5)
            fprintf(stderr, "unappend mismatch n=%zu\n", n);
    }
    for (unsigned v = 0; v < 256; v++) {
        unsigned char rec[3] = {'{', '}', (unsigned char)v};
        uint32_t want = (uint32_t)crc32(0, rec, 2);
        if (crc32_unappend((uint32_t)crc32(0, rec, 3), (uint8_t)v) != want && bad++ < 10)
            fprintf(stderr, "unappend mismatch byte=%u\n", v);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_known_vector(void)
{
    CHECK_EQ_INT(crc32_update(0, "123456789", 9), 0xcbf43926u);
    static char zeros[1024];
    CHECK_EQ_INT(crc32_update(0, zeros, sizeof(zeros)), (uint32_t)crc32(0, (void *)zeros, 1024));
}

int main(void)
{
    fill_random();
    TEST_RUN(test_every_length_and_alignment);
    TEST_RUN(test_chained);
    TEST_RUN(test_concat);
    TEST_RUN(test_unappend);
    TEST_RUN(test_known_vector);
    TEST_EXIT();
}
