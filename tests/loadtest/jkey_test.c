/* jkey_test.c — the load generator's key scanner: values found in compact and spaced JSON; a
 * key name inside a string value (quotes escaped) or used as a value never counts; integers
 * are digits only. */
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

int main(void)
{
    TEST_RUN(test_uint);
    TEST_RUN(test_str);
    TEST_EXIT();
}
