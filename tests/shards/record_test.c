#include "shards/record.h"
#include "tests/test.h"

static const char SEQ[] = "49646437577130777162115407028973509772956158055602454546";

static void fmt(char *out, int64_t ms, const char *b64, const char *pk, size_t pklen)
{
    struct record_in r = {b64, strlen(b64), pk, pklen};
    char *buf = malloc(record_wire_max(&r));
    size_t n = record_format(buf, SEQ, ms, &r);
    memcpy(out, buf, n);
    out[n] = '\0';
    free(buf);
}

static void test_golden(void)
{
    char out[512];
    fmt(out, 1700000000123, "aGVsbG8=", "pk1", 3);
    CHECK_EQ_STR(out, "{\"SequenceNumber\":\"49646437577130777162115407028973509772956158055602454546"
                      "\",\"ApproximateArrivalTimestamp\":1700000000.123,\"Data\":\"aGVsbG8=\","
                      "\"PartitionKey\":\"pk1\"}");
    fmt(out, 5, "", "k", 1);
    CHECK(strstr(out, "\"ApproximateArrivalTimestamp\":0.005,\"Data\":\"\",") != NULL);
    fmt(out, 1700000000000, "", "k", 1);
    CHECK(strstr(out, ":1700000000.000,") != NULL);
    fmt(out, 99999999999990, "", "k", 1);
    CHECK(strstr(out, ":99999999999.990,") != NULL);
}

static void test_escaping(void)
{
    char out[512];
    const char pk[] = "a\"b\\c\n\t\x01\x1f\x7f/\xc3\xa9\xe2\x80\xa8";
    fmt(out, 1000, "QQ==", pk, sizeof(pk) - 1);
    CHECK(strstr(out, "\"PartitionKey\":\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\x7f/\xc3\xa9\xe2\x80\xa8\"}") !=
          NULL);
    CHECK_EQ_INT(record_escaped_len(pk, sizeof(pk) - 1), sizeof(pk) - 1 + 1 + 1 + 1 + 1 + 5 + 5);
    const char ctl[] = "\b\f\r";
    fmt(out, 1000, "QQ==", ctl, 3);
    CHECK(strstr(out, "\"PartitionKey\":\"\\b\\f\\r\"}") != NULL);
}

int main(void)
{
    TEST_RUN(test_golden);
    TEST_RUN(test_escaping);
    TEST_EXIT();
}
