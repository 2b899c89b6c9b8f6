#include "server/arn.h"

#include <errno.h>

#include "tests/test.h"

static void test_stream(void)
{
    char buf[ARN_MAX + 1], name[129], region[64], account[16];
    CHECK_EQ_STR(arn_stream(buf, sizeof(buf), "us-east-1", "123456789012", "s1"),
                 "arn:aws:kinesis:us-east-1:123456789012:stream/s1");
    CHECK_EQ_INT(arn_parse_stream(buf, name, region, account), 0);
    CHECK_EQ_STR(name, "s1");
    CHECK_EQ_STR(region, "us-east-1");
    CHECK_EQ_STR(account, "123456789012");
    CHECK_EQ_INT(arn_parse_stream("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b-c_d", name,
                                  region, account),
                 0);
    CHECK_EQ_STR(name, "a.b-c_d");
    CHECK_EQ_INT(
        arn_parse_stream("arn:aws:kinesis:us-east-1:12345678901:stream/s", name, region, account),
        -EINVAL); /* 11-digit account */
    CHECK_EQ_INT(
        arn_parse_stream("arn:aws:sqs:us-east-1:123456789012:stream/s", name, region, account),
        -EINVAL);
    CHECK_EQ_INT(
        arn_parse_stream("arn:aws:kinesis:us-east-1:123456789012:stream/", name, region, account),
        -EINVAL);
    CHECK_EQ_INT(arn_parse_stream("arn:aws:kinesis:us-east-1:123456789012:stream/a b", name, region,
                                  account),
                 -EINVAL);
    CHECK_EQ_INT(
        arn_parse_stream("arn:aws:kinesis:us-east-1:123456789012:table/s", name, region, account),
        -EINVAL);
    CHECK_EQ_INT(arn_parse_stream("", name, region, account), -EINVAL);
}

static void test_consumer(void)
{
    char buf[ARN_MAX + 1], s[129], c[129], region[64], account[16];
    int64_t t = 0;
    CHECK_EQ_STR(
        arn_consumer(buf, sizeof(buf), "us-east-1", "123456789012", "s1", "c1", 1700000000),
        "arn:aws:kinesis:us-east-1:123456789012:stream/s1/consumer/c1:1700000000");
    CHECK_EQ_INT(arn_parse_consumer(buf, s, c, &t, region, account), 0);
    CHECK_EQ_STR(s, "s1");
    CHECK_EQ_STR(c, "c1");
    CHECK_EQ_INT(t, 1700000000);
    CHECK_EQ_INT(arn_parse_consumer("arn:aws:kinesis:us-east-1:123456789012:stream/s1/consumer/"
                                    "c1",
                                    s, c, &t, region, account),
                 -EINVAL);
    CHECK_EQ_INT(arn_parse_consumer("arn:aws:kinesis:us-east-1:123456789012:stream/s1/consumer/"
                                    "c1:12a",
                                    s, c, &t, region, account),
                 -EINVAL);
    CHECK_EQ_INT(arn_parse_consumer("arn:aws:kinesis:us-east-1:123456789012:stream/s1", s, c, &t,
                                    region, account),
                 -EINVAL);
}

int main(void)
{
    TEST_RUN(test_stream);
    TEST_RUN(test_consumer);
    TEST_EXIT();
}
