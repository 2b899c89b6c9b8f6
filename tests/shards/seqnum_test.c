#include <errno.h>
#include <time.h>

#include "shards/seqnum.h"
#include "tests/test.h"

static void test_golden(void)
{
    char out[SEQNUM_BUF];
    struct seqnum_fields f = {1700000000, 1, 5, 1700000100};
    CHECK_EQ_INT(seqnum_encode(out, &f), 56);
    CHECK_EQ_STR(out, "49646437577130777162115407028973509772956158055602454546");
    struct seqnum_fields z = {0, 0, 0, 0};
    seqnum_encode(out, &z); /* the smallest: 2^185 + 2 */
    CHECK_EQ_STR(out, "49039857307708443467467104868809893875799651909875269634");
    struct seqnum_fields m = {SEQNUM_SECS_MAX, UINT32_MAX, UINT64_MAX, SEQNUM_SECS_MAX};
    seqnum_encode(out, &m); /* the largest, below 3 * 2^184 */
    CHECK_EQ_STR(out, "73559785961562665201200657303213636610246346105283411954");
    CHECK_EQ_INT(strlen(out), 56);
}

static void test_round_trip_random(void)
{
    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "seqnum round trip seed %u\n", seed);
    srand(seed);
    char out[SEQNUM_BUF];
    char prev[SEQNUM_BUF] = "0";
    for (int i = 0; i < 20000; i++) {
        struct seqnum_fields f = {
            .shard_secs = ((uint64_t)rand() << 8 ^ (uint64_t)rand()) & SEQNUM_SECS_MAX,
            .shard_index = (uint32_t)rand(),
            .counter = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 2) ^ (uint64_t)rand(),
            .record_secs = ((uint64_t)rand() << 6 ^ (uint64_t)rand()) & SEQNUM_SECS_MAX,
        };
        CHECK_EQ_INT(seqnum_encode(out, &f), 56);
        struct seqnum_fields g;
        CHECK_EQ_INT(seqnum_parse(out, strlen(out), &g), 0);
        CHECK(g.shard_secs == f.shard_secs && g.shard_index == f.shard_index &&
              g.counter == f.counter && g.record_secs == f.record_secs);
        if (test_failures)
            return;
    }
    /* Strictly increasing along one shard as the counter grows, with non-decreasing secs. */
    struct seqnum_fields s = {1700000000, 7, 0, 1700000000};
    for (uint64_t c = 0; c < 5000; c++) {
        s.counter = c * 977;
        s.record_secs += (uint64_t)(rand() % 2);
        seqnum_encode(out, &s);
        CHECK(seqnum_compare(prev, strlen(prev), out, strlen(out)) < 0);
        memcpy(prev, out, sizeof(out));
    }
}

static void test_parse_errors(void)
{
    struct seqnum_fields f;
    CHECK_EQ_INT(seqnum_parse("", 0, &f), -EINVAL);
    CHECK_EQ_INT(seqnum_parse("012", 3, &f), -EINVAL);
    CHECK_EQ_INT(seqnum_parse("12a", 3, &f), -EINVAL);
    CHECK_EQ_INT(seqnum_parse("-1", 2, &f), -EINVAL);
    char big[131];
    memset(big, '9', 130);
    CHECK_EQ_INT(seqnum_parse(big, 130, &f), -EINVAL);
    CHECK_EQ_INT(seqnum_parse(big, 129, &f), -ERANGE);
    CHECK_EQ_INT(seqnum_parse("0", 1, &f), -ERANGE);
    CHECK_EQ_INT(seqnum_parse("12345", 5, &f), -ERANGE);
    /* 56 digits but 2^185 + 1 (tail nibble 1) and 2^185 - 1 (below range). */
    const char *t1 = "49039857307708443467467104868809893875799651909875269633";
    CHECK_EQ_INT(seqnum_parse(t1, 56, &f), -ERANGE);
    const char *below = "49039857307708443467467104868809893875799651909875269631";
    CHECK_EQ_INT(seqnum_parse(below, 56, &f), -ERANGE);
    /* 3 * 2^184 (first value above the range). */
    const char *above = "73559785961562665201200657303214840813699477864812904448";
    CHECK_EQ_INT(seqnum_parse(above, 56, &f), -ERANGE);
    /* A real AWS number from the protocol doc parses. */
    const char *aws = "49590338271490256608559692538361571095921575989136588898";
    CHECK_EQ_INT(seqnum_parse(aws, 56, &f), 0);
}

static void test_positions(void)
{
    char out[SEQNUM_BUF];
    uint64_t pos = 99;
    struct seqnum_fields f = {1700000000, 3, 41, 1700000050};
    seqnum_encode(out, &f);
    CHECK_EQ_INT(seqnum_position(out, 56, 1700000000, 3, SEQNUM_AT, &pos), 0);
    CHECK_EQ_INT(pos, 41);
    CHECK_EQ_INT(seqnum_position(out, 56, 1700000000, 3, SEQNUM_AFTER, &pos), 0);
    CHECK_EQ_INT(pos, 42);
    /* Foreign shard: other index, or same index of another shard incarnation. */
    CHECK_EQ_INT(seqnum_position(out, 56, 1700000000, 4, SEQNUM_AT, &pos), -EXDEV);
    CHECK_EQ_INT(seqnum_position(out, 56, 1700000001, 3, SEQNUM_AT, &pos), -EXDEV);
    CHECK_EQ_INT(seqnum_position("x", 1, 1700000000, 3, SEQNUM_AT, &pos), -EINVAL);
    CHECK_EQ_INT(seqnum_position("7", 1, 1700000000, 3, SEQNUM_AT, &pos), -ERANGE);
    /* StartingSequenceNumber (counter 0) -> AT 0, AFTER 1. */
    struct seqnum_fields st = {1700000000, 3, 0, 1700000000};
    seqnum_encode(out, &st);
    CHECK_EQ_INT(seqnum_position(out, 56, 1700000000, 3, SEQNUM_AT, &pos), 0);
    CHECK_EQ_INT(pos, 0);
    CHECK_EQ_INT(seqnum_position(out, 56, 1700000000, 3, SEQNUM_AFTER, &pos), 0);
    CHECK_EQ_INT(pos, 1);
    /* A number between records 10 and 11 (record 10's counter, a later second): AFTER -> 11. */
    struct seqnum_fields r10 = {1700000000, 3, 10, 1700000100}, mid = r10, r11 = r10;
    mid.record_secs += 1;
    r11.counter = 11;
    r11.record_secs += 2;
    char a[SEQNUM_BUF], m[SEQNUM_BUF], b[SEQNUM_BUF];
    seqnum_encode(a, &r10);
    seqnum_encode(m, &mid);
    seqnum_encode(b, &r11);
    CHECK(seqnum_compare(a, 56, m, 56) < 0 && seqnum_compare(m, 56, b, 56) < 0);
    CHECK_EQ_INT(seqnum_position(m, 56, 1700000000, 3, SEQNUM_AFTER, &pos), 0);
    CHECK_EQ_INT(pos, 11);
    CHECK(seqnum_compare("9", 1, "10", 2) < 0);
    CHECK(seqnum_compare("10", 2, "10", 2) == 0);
}

int main(void)
{
    TEST_RUN(test_golden);
    TEST_RUN(test_round_trip_random);
    TEST_RUN(test_parse_errors);
    TEST_RUN(test_positions);
    TEST_EXIT();
}
