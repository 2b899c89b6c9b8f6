/* sigv4_test.c — SigV4 against the worked example of kinesis-protocol.md §3 (verified there
 * against botocore), plus the session-token variant's header list. */
#include "loadtest/sigv4.h"

#include <errno.h>

#include "test.h"

static const char *body = "{\"StreamName\":\"s1\"}";

static void test_body_hash(void)
{
    char hex[65];
    sigv4_sha256_hex(body, strlen(body), hex);
    CHECK_EQ_STR(hex, "c2131f50d9b3f7bad37fed9febfb22a482dcb65488c2da9075fecf7356fb07c0");
    sigv4_sha256_hex("", 0, hex);
    CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_worked_example(void)
{
    struct sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL,
                                "us-east-1"};
    struct sigv4_request req = {"localhost:4567",
                                "20240101T000000Z",
                                "application/x-amz-json-1.1",
                                "Kinesis_20131202.DescribeStreamSummary",
                                (const uint8_t *)body,
                                strlen(body)};
    char auth[512];
    int n = sigv4_authorization(&creds, &req, auth, sizeof(auth));
    CHECK(n > 0);
    CHECK_EQ_STR(auth,
                 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/"
                 "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                 "Signature=d68a6574fbb7a8aa95a362cfa41a85e022f28df77937588c381f779ea21510b8");
    CHECK_EQ_INT(sigv4_authorization(&creds, &req, auth, 20), -ENOSPC);
}

static void test_session_token_signed(void)
{
    struct sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "tok",
                                "eu-west-1"};
    struct sigv4_request req = {
        "kinesis.eu-west-1.amazonaws.com", "20240101T000000Z",    "application/x-amz-json-1.1",
        "Kinesis_20131202.ListStreams",    (const uint8_t *)"{}", 2};
    char auth[512];
    CHECK(sigv4_authorization(&creds, &req, auth, sizeof(auth)) > 0);
    CHECK(strstr(auth, "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;"
                       "x-amz-target,") != NULL);
    CHECK(strstr(auth, "/20240101/eu-west-1/kinesis/aws4_request") != NULL);
}

static void test_date_format(void)
{
    char d[17];
    sigv4_format_date(1704067200, d); /* 2024-01-01T00:00:00Z */
    CHECK_EQ_STR(d, "20240101T000000Z");
}

int main(void)
{
    TEST_RUN(test_body_hash);
    TEST_RUN(test_worked_example);
    TEST_RUN(test_session_token_signed);
    TEST_RUN(test_date_format);
    TEST_EXIT();
}
