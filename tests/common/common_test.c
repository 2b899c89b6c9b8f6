/* Unit tests for common/: CRC32 vectors, token bucket arithmetic, refbuf counting, UTF-8 cuts. */
#include "common/base64.h"
#include "common/crc32.h"
#include "common/refbuf.h"
#include "common/tbucket.h"
#include "common/utf8.h"
#include "test.h"

#include <string.h>

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
    /* A raised burst fills at the rate; a lowered one caps what is held at once. */
    tbucket_init(&tb, 1000, 1000, 0);
    tbucket_set_burst(&tb, 10000, 0); /* full stays full */
    CHECK_EQ_INT(tbucket_available(&tb, 0), 10000);
    CHECK(tbucket_take(&tb, 9500, 0));
    tbucket_set_burst(&tb, 20000, 0); /* in use: the room fills at the rate */
    CHECK_EQ_INT(tbucket_available(&tb, 0), 500);
    CHECK_EQ_INT(tbucket_available(&tb, 5 * NS), 5500);
    CHECK_EQ_INT(tbucket_available(&tb, 60 * NS), 20000);
    tbucket_set_burst(&tb, 2000, 60 * NS);
    CHECK_EQ_INT(tbucket_available(&tb, 60 * NS), 2000);
    CHECK_EQ_INT(tbucket_available(&tb, 61 * NS), 2000);
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

/* Error messages quote client text, cut to fixed buffers or not UTF-8 at all (header bytes):
 * jansson refused such a message and the answer lost its "message" member. */
static void test_utf8_cut_scrub(void)
{
    const char *e = "ab\xc3\xa9";                          /* "abé" */
    CHECK_EQ_INT(utf8_cut_len(e, 4), 4);                   /* whole */
    CHECK_EQ_INT(utf8_cut_len(e, 3), 2);                   /* cut inside é */
    CHECK_EQ_INT(utf8_cut_len("a\xf0\x9f\x98\x80", 4), 1); /* 3 of U+1F600's 4 bytes */
    CHECK_EQ_INT(utf8_cut_len("a\xf0\x9f\x98\x80", 5), 5);
    CHECK_EQ_INT(utf8_cut_len("\x80\x80\x80\x80", 4), 4); /* not UTF-8: left to scrub */
    CHECK_EQ_INT(utf8_cut_len("", 0), 0);
    char out[64];
    CHECK_EQ_INT(utf8_scrub(out, "a\xe9\x62", 3), 5); /* "a", Latin-1 é, "b" */
    CHECK_EQ_STR(out, "a\xef\xbf\xbd\x62");
    CHECK_EQ_INT(utf8_scrub(out, e, 4), 4);
    CHECK_EQ_STR(out, e);
    CHECK_EQ_INT(utf8_scrub(out, "\xed\xa0\x80", 3), 9); /* a surrogate: three bad bytes */
}

/* base64_check and base64_decode accept exactly the same strings (PutRecord(s) checks Data with
 * one, the CBOR transcoder decodes it with the other): RFC 4648 §10 vectors, then refusals at
 * every place, on both sides of the 16-character SIMD step. */
static void test_base64(void)
{
    static const char *const vec[][2] = {{"", ""},
                                         {"Zg==", "f"},
                                         {"Zm8=", "fo"},
                                         {"Zm9v", "foo"},
                                         {"Zm9vYg==", "foob"},
                                         {"Zm9vYmE=", "fooba"},
                                         {"Zm9vYmFy", "foobar"}};
    uint8_t out[64];
    size_t dec;
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        size_t n = strlen(vec[i][0]);
        CHECK(base64_check(vec[i][0], n, &dec));
        CHECK_EQ_INT(dec, strlen(vec[i][1]));
        CHECK_EQ_INT(base64_decoded_len(vec[i][0], n), strlen(vec[i][1]));
        long got = base64_decode(out, (const uint8_t *)vec[i][0], n);
        CHECK_EQ_INT(got, (long)strlen(vec[i][1]));
        CHECK(got >= 0 && memcmp(out, vec[i][1], (size_t)got) == 0);
    }
    char text[41];
    memcpy(text, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY=", 41); /* 40 characters */
    CHECK(base64_check(text, 40, &dec) && dec == 29);
    for (size_t at = 0; at < 40; at++) {
        static const char bad[] = {'-', '_', ' ', '=', '\x80', '\0', '.'};
        for (size_t b = 0; b < sizeof(bad); b++) {
            char t[41];
            memcpy(t, text, 41);
            if (t[at] == bad[b])
                continue;
            t[at] = bad[b];
            bool ok = base64_check(t, 40, &dec);
            CHECK_EQ_INT(ok, base64_decode(out, (const uint8_t *)t, 40) >= 0);
            /* only a second '=' right before the last one makes a valid string here */
            CHECK_EQ_INT(ok, at == 38 && bad[b] == '=');
        }
    }
    CHECK(!base64_check(text, 39, &dec) && base64_decode(out, (const uint8_t *)text, 39) < 0);
}

int main(void)
{
    TEST_RUN(test_crc32);
    TEST_RUN(test_base64);
    TEST_RUN(test_utf8_cut_scrub);
    TEST_RUN(test_tbucket);
    TEST_RUN(test_refbuf);
    TEST_EXIT();
}
