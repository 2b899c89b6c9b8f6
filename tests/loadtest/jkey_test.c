/* jkey_test.c — the load generator's key scanner: values found in compact and spaced JSON; a
 * key name inside a string value (quotes escaped) or used as a value never counts; integers
 * are digits only; an arrival timestamp is read backwards from the key that follows it. */
#include <string.h>

#include "loadtest/jkey.h"
#include "test.h"

static bool uint_of(const char *json, const char *key, uint64_t *v)
{
    return jkey_uint(json, json + strlen(json), key, v);
}

static void test_uint(void)
{
    uint64_t v = 99;
    CHECK(uint_of("{\"FailedRecordCount\":0,\"Records\":[]}", "FailedRecordCount", &v));
    CHECK_EQ_INT(v, 0);
    CHECK(uint_of("{ \"FailedRecordCount\" :\n 12 }", "FailedRecordCount", &v));
    CHECK_EQ_INT(v, 12);
    /* The key's text inside a string value comes with escaped quotes: not a key. */
    const char *inside = "{\"Records\":[{\"ErrorMessage\":\"\\\"FailedRecordCount\\\": 0\"}],"
                         "\"FailedRecordCount\":3}";
    CHECK(uint_of(inside, "FailedRecordCount", &v));
    CHECK_EQ_INT(v, 3);
    /* A value equal to the key name is followed by no colon: skipped. */
    CHECK(uint_of("{\"a\":\"MillisBehindLatest\",\"MillisBehindLatest\":7}", "MillisBehindLatest",
                  &v));
    CHECK_EQ_INT(v, 7);
    CHECK(!uint_of("{\"FailedRecordCount\":\"0\"}", "FailedRecordCount", &v));
    CHECK(!uint_of("{\"FailedRecordCount\":-1}", "FailedRecordCount", &v));
    CHECK(!uint_of("{\"Other\":1}", "FailedRecordCount", &v));
    CHECK(!uint_of("{\"FailedRecordCount\":", "FailedRecordCount", &v));
}

static void test_str(void)
{
    const char *j = "{\"ShardId\" : \"shardId-000000000001\", \"x\":\"ShardId\"}";
    size_t n = 0;
    const char *s = jkey_str(j, j + strlen(j), "ShardId", &n);
    CHECK(s != NULL);
    CHECK_EQ_INT(n, 20);
    CHECK(strncmp(s, "shardId-000000000001", n) == 0);
    CHECK(jkey_str(j, j + strlen(j), "x", &n) != NULL && n == 7);
    const char *num = "{\"a\":1}";
    CHECK(jkey_str(num, num + strlen(num), "a", &n) == NULL);
}

/* ms of `"ApproximateArrivalTimestamp":<n>,` ending right where text's "Data" key starts. */
static bool seconds_of(const char *text, int64_t *ms)
{
    const char *d = strstr(text, "\"Data\"");
    return d && jkey_seconds_before(text, d, "ApproximateArrivalTimestamp", ms);
}

static void test_seconds_before(void)
{
    int64_t ms = -1;
    CHECK(seconds_of("{\"ApproximateArrivalTimestamp\":1764124800.123,\"Data\":\"QQ==\"}", &ms));
    CHECK_EQ_INT(ms, 1764124800123);
    CHECK(seconds_of("{\"ApproximateArrivalTimestamp\":1764124800.1,\"Data\":\"\"}", &ms));
    CHECK_EQ_INT(ms, 1764124800100);
    CHECK(seconds_of("{\"ApproximateArrivalTimestamp\":1764124800,\"Data\":\"\"}", &ms));
    CHECK_EQ_INT(ms, 1764124800000);
    CHECK(seconds_of("{\"ApproximateArrivalTimestamp\":1.23456,\"Data\":\"\"}", &ms));
    CHECK_EQ_INT(ms, 1234); /* digits past the millisecond are dropped */
    /* The whole text is the key and value: lo is respected. */
    CHECK(seconds_of("\"ApproximateArrivalTimestamp\":2.5,\"Data\"", &ms));
    CHECK_EQ_INT(ms, 2500);
    /* Not exactly `"ApproximateArrivalTimestamp":<digits[.digits]>,` right before "Data". */
    static const char *const bad[] = {
        "{\"ApproximateArrivalTimestamp\" : 1.5 , \"Data\":\"\"}",
        "{\"ApproximateArrivalTimestamp\":1.5\"Data\":\"\"}",
        "{\"ApproximateArrivalTimestamp\":1.5.5,\"Data\":\"\"}",
        "{\"ApproximateArrivalTimestamp\":1e9,\"Data\":\"\"}",
        "{\"ApproximateArrivalTimestamp\":-1,\"Data\":\"\"}",
        "{\"ApproximateArrivalTimestamp\":\"1.5\",\"Data\":\"\"}",
        "{\"XApproximateArrivalTimestamp\":1.5,\"Data\":\"\"}",
        "{\"SequenceNumber\":\"1\",\"Data\":\"\"}",
        "{\"Data\":\"\"}",
        ",\"Data\"",
        "Timestamp\":1.5,\"Data\"",
        "{\"ApproximateArrivalTimestamp\":,\"Data\":\"\"}",
        "{\"ApproximateArrivalTimestamp\":.5,\"Data\":\"\"}",
    };
    ms = -1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!seconds_of(bad[i], &ms));
    CHECK_EQ_INT(ms, -1);
}

int main(void)
{
    TEST_RUN(test_uint);
    TEST_RUN(test_str);
    TEST_RUN(test_seconds_before);
    TEST_EXIT();
}
