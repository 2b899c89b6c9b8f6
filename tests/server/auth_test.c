/* SigV4 verification (server/auth.c) against signatures made by real signers: the worked example
 * of kinesis-protocol §3, and vectors produced once by botocore 1.29 (SigV4Auth, SigV4QueryAuth)
 * and @smithy/signature-v4 (the JS SDK v3 signer) for AKIDEXAMPLE at 2024-01-01T00:00:00Z.
 * Vectors without a client (Date header only, UNSIGNED-PAYLOAD) were computed with Python's
 * hashlib/hmac following the SigV4 spec. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/common.h"
#include "server/auth.h"
#include "server/canonical.h"
#include "server/creds.h"
#include "server/http.h"
#include "tests/test.h"

#define T0 1704067200 /* 20240101T000000Z */
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define BODY "{\"StreamName\":\"s1\"}"
#define CT "application/x-amz-json-1.1"
#define TARGET "Kinesis_20131202.DescribeStreamSummary"
#define SCOPE "AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request"
#define MISMATCH                                                                                   \
    "The request signature we calculated does not match the signature you provided. Check your "   \
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
#define INVALID_TOKEN "The security token included in the request is invalid."

/* The worked example's Authorization (botocore gives the same). */
#define WORKED_AUTH                                                                                \
    "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=content-type;host;x-amz-date;"           \
    "x-amz-target, Signature=d68a6574fbb7a8aa95a362cfa41a85e022f28df77937588c381f779ea21510b8"

static struct creds *keys, *keys_token, *keys_other_secret;

struct rb {
    struct http_request req;
    struct http_header h[16];
    char body[256];
};

static void rb_init(struct rb *b, const char *path, const char *body)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->body, sizeof(b->body), "%s", body);
    b->req.method = "POST";
    b->req.path = path;
    b->req.authority = "localhost:4567";
    b->req.headers = b->h;
    b->req.body = (const uint8_t *)b->body;
    b->req.body_len = strlen(b->body);
    b->req.http_version = 11;
}

static void rb_add(struct rb *b, const char *name, const char *value)
{
    ASSERT(b->req.header_count < 16);
    b->h[b->req.header_count++] = (struct http_header){name, value, strlen(name), strlen(value)};
}

/* The worked example as botocore sends it over HTTP/1.1. */
static void rb_worked(struct rb *b, const char *auth)
{
    rb_init(b, "/", BODY);
    rb_add(b, "host", "localhost:4567");
    rb_add(b, "content-type", CT);
    rb_add(b, "x-amz-target", TARGET);
    rb_add(b, "x-amz-date", "20240101T000000Z");
    if (auth != NULL)
        rb_add(b, "authorization", auth);
}

static char msg[1024];

/* canonical_request() into a string. */
static int canon_of(const struct rb *b, const char *signed_headers, const char *payload_hash,
                    bool query_auth, char *out, size_t cap)
{
    struct canonical_query q;
    ASSERT(canonical_query_parse(b->req.path, &q) == 0);
    size_t n = canonical_request(&b->req, &q, query_auth, signed_headers, strlen(signed_headers),
                                 payload_hash, NULL, out, cap);
    canonical_query_dispose(&q);
    return (int)n;
}

static enum auth_result verify_at(const struct creds *k, const struct rb *b, int64_t now)
{
    return auth_verify(k, "us-east-1", &b->req, now, msg, sizeof(msg));
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void test_worked_example(void)
{
    struct rb b;
    rb_worked(&b, WORKED_AUTH);
    char canon[1024];
    int n = canon_of(&b, "content-type;host;x-amz-date;x-amz-target",
                     "c2131f50d9b3f7bad37fed9febfb22a482dcb65488c2da9075fecf7356fb07c0", false,
                     canon, sizeof(canon));
    CHECK_EQ_STR(canon, "POST\n/\n\n"
                        "content-type:application/x-amz-json-1.1\n"
                        "host:localhost:4567\n"
                        "x-amz-date:20240101T000000Z\n"
                        "x-amz-target:Kinesis_20131202.DescribeStreamSummary\n"
                        "\n"
                        "content-type;host;x-amz-date;x-amz-target\n"
                        "c2131f50d9b3f7bad37fed9febfb22a482dcb65488c2da9075fecf7356fb07c0");
    uint8_t md[32], key[32];
    unsigned int md_len = 0;
    char h[65];
    CHECK(n > 0 && EVP_Digest(canon, (size_t)n, md, &md_len, EVP_sha256(), NULL) == 1);
    hex(md, 32, h);
    CHECK_EQ_STR(h, "c1de40bb8e5b8880fa3f19115c1b7376862f8511f6d6d1db953971238e298b74");
    auth_signing_key(SECRET, "20240101", "us-east-1", key);
    hex(key, 32, h);
    CHECK_EQ_STR(h, "df70466f7d35cb3a4855561d48ea5738761b109cc5d42c89fe2dd053d0de3165");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);

    /* HTTP/2 without a Host header: "host" is the :authority pseudo-header. */
    rb_init(&b, "/", BODY);
    b.req.http_version = 20;
    rb_add(&b, "content-type", CT);
    rb_add(&b, "x-amz-target", TARGET);
    rb_add(&b, "x-amz-date", "20240101T000000Z");
    rb_add(&b, "authorization", WORKED_AUTH);
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);
    /* A Host header wins over :authority (Netty turns Host into :authority, others send both). */
    rb_add(&b, "host", "elsewhere:1");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, MISMATCH);
}

/* @smithy/signature-v4 over HTTP/2: signs ":authority" and x-amz-content-sha256. */
#define JS_AUTH                                                                                    \
    "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=:authority;content-type;"                \
    "x-amz-content-sha256;x-amz-date;x-amz-target, "                                               \
    "Signature=36d4421879bcf929b044324ca73966c5649d1df81c40df8764e366c8da34d7e8"
#define BODY_SHA "c2131f50d9b3f7bad37fed9febfb22a482dcb65488c2da9075fecf7356fb07c0"

static void rb_js(struct rb *b, const char *body, const char *content_sha)
{
    rb_init(b, "/", body);
    b->req.http_version = 20;
    rb_add(b, "content-type", CT);
    rb_add(b, "x-amz-target", TARGET);
    rb_add(b, "x-amz-date", "20240101T000000Z");
    rb_add(b, "x-amz-content-sha256", content_sha);
    rb_add(b, "authorization", JS_AUTH);
}

static void test_js_authority_and_content_sha(void)
{
    struct rb b;
    rb_js(&b, BODY, BODY_SHA);
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);
    /* The body changed after signing, its signed hash did not. */
    rb_js(&b, "{\"StreamName\":\"s2\"}", BODY_SHA);
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, "The provided 'x-amz-content-sha256' header does not match what was "
                      "computed.");
    /* ... and with the header changed to match the new body, the signature breaks. */
    rb_js(&b, "{\"StreamName\":\"s2\"}",
          "b1b4f9e3a3e5e5d7a1f3f52a6f4eb6be0c0e4a9fcd0d8c1b1e1bd0ea4b1c1a2b");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, MISMATCH);
}

/* Spec-computed: x-amz-content-sha256: UNSIGNED-PAYLOAD, signed; the body is not covered. */
static void test_unsigned_payload(void)
{
    struct rb b;
    rb_worked(&b, "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=content-type;host;"
                  "x-amz-content-sha256;x-amz-date;x-amz-target, Signature=62e137727c961b4c7f74a"
                  "d09081efdc3611d35f3dab664420a1c15dba13734bc");
    rb_add(&b, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);
    snprintf(b.body, sizeof(b.body), "{}");
    b.req.body_len = 2;
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);
}

/* botocore: "X-Spaces:   a   b \t c  " and X-Multi sent twice ("1", " 2   3 "). */
#define WS_AUTH                                                                                    \
    "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=content-type;host;x-amz-date;"           \
    "x-amz-target;x-multi;x-spaces, "                                                              \
    "Signature=4976f2fc98bb323bc163d5f0277875d4242c39e3645e8c7c201363608b985747"

static void rb_ws(struct rb *b, const char *spaces, const char *m1, const char *m2)
{
    rb_worked(b, WS_AUTH);
    rb_add(b, "x-multi", m1);
    rb_add(b, "x-spaces", spaces);
    rb_add(b, "x-multi", m2);
}

static void test_whitespace_and_multi_value(void)
{
    struct rb b;
    rb_ws(&b, "  a   b \t c  ", "1", " 2   3 ");
    char canon[1024];
    canon_of(&b, "x-multi;x-spaces", "-", false, canon, sizeof(canon));
    CHECK_EQ_STR(canon, "POST\n/\n\nx-multi:1,2 3\nx-spaces:a b c\n\nx-multi;x-spaces\n-");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);
    rb_ws(&b, "a b c", "1", "2 3"); /* what a proxy that trims would forward */
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);
    rb_ws(&b, "a bc", "1", "2 3");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
    rb_ws(&b, "a b c", "2 3", "1"); /* values keep their arrival order */
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, MISMATCH);
}

static void test_authorization_spacing(void)
{
    struct rb b;
    rb_worked(&b, "AWS4-HMAC-SHA256   Credential=" SCOPE ",SignedHeaders=content-type;host;"
                  "x-amz-date;x-amz-target ,  Signature=d68a6574fbb7a8aa95a362cfa41a85e022f28df7"
                  "7937588c381f779ea21510b8");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);
}

static void test_clock_skew(void)
{
    struct rb b;
    rb_worked(&b, WORKED_AUTH);
    CHECK_EQ_INT(verify_at(keys, &b, T0 + 300), AUTH_OK);
    CHECK_EQ_INT(verify_at(keys, &b, T0 - 300), AUTH_OK);
    CHECK_EQ_INT(verify_at(keys, &b, T0 + 301), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, "Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z "
                      "(20240101T000501Z - 5 min.)");
    CHECK_EQ_INT(verify_at(keys, &b, T0 - 301), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, "Signature not yet current: 20240101T000000Z is still later than "
                      "20231231T235959Z (20231231T235459Z + 5 min.)");
}

/* Date header only (RFC 1123): the string to sign carries it in ISO 8601 basic form. */
static void test_date_header(void)
{
    struct rb b;
    rb_init(&b, "/", BODY);
    rb_add(&b, "host", "localhost:4567");
    rb_add(&b, "content-type", CT);
    rb_add(&b, "x-amz-target", TARGET);
    rb_add(&b, "date", "Mon, 01 Jan 2024 00:00:00 GMT");
    rb_add(&b, "authorization",
           "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=content-"
           "type;date;host;x-amz-target, Signature=6842f9b1a6e42ab343253a0b5"
           "2692d0fc26ae604a1e2072b3b2f592d1c6a4d0d");
    CHECK_EQ_INT(verify_at(keys, &b, T0 + 10), AUTH_OK);
    CHECK_EQ_INT(verify_at(keys, &b, T0 + 400), AUTH_INVALID_SIGNATURE);
    CHECK(strncmp(msg, "Signature expired: 20240101T000000Z", 35) == 0);
}

static void expect_scope_error(const char *credential, const char *region, const char *want)
{
    char auth[512];
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=content-type;host;x-amz-date;"
             "x-amz-target, Signature=d68a6574fbb7a8aa95a362cfa41a85e022f28df77937588c381f779ea2"
             "1510b8",
             credential);
    struct rb b;
    rb_worked(&b, auth);
    CHECK_EQ_INT(auth_verify(keys, region, &b.req, T0, msg, sizeof(msg)), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, want);
}

/* botocore, region us-west-2. */
#define WEST_AUTH                                                                                  \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-west-2/kinesis/aws4_request, "            \
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "                                    \
    "Signature=1b3423106dcb9a1719fd71bd1478bdd66428cde94e99716902cbf27a7eb94d0d"

static void test_scope(void)
{
    expect_scope_error("AKIDEXAMPLE/20240102/us-east-1/kinesis/aws4_request", "us-east-1",
                       "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                       "of date from HTTP: '20240102' != '20240101', from '20240101T000000Z'.");
    expect_scope_error("AKIDEXAMPLE/20240101/us-east-1/dynamodb/aws4_request", "us-east-1",
                       "Credential should be scoped to correct service: 'kinesis'. ");
    expect_scope_error("AKIDEXAMPLE/20240101/us-east-1/kinesis/aws5_request", "us-east-1",
                       "Credential should be scoped with a valid terminator: 'aws4_request', "
                       "not 'aws5_request'. ");
    expect_scope_error("AKIDEXAMPLE/20240101/us-west-2/kinesis/aws4_request", "us-east-1",
                       "Credential should be scoped to a valid region, not 'us-west-2'. ");
    struct rb b;
    rb_worked(&b, WEST_AUTH);
    CHECK_EQ_INT(auth_verify(keys, NULL, &b.req, T0, msg, sizeof(msg)), AUTH_OK);
    CHECK_EQ_INT(auth_verify(keys, "us-west-2", &b.req, T0, msg, sizeof(msg)), AUTH_OK);
}

static void expect_incomplete(const char *auth, const char *date, const char *want_prefix)
{
    struct rb b;
    rb_init(&b, "/", BODY);
    rb_add(&b, "host", "localhost:4567");
    if (date != NULL)
        rb_add(&b, "x-amz-date", date);
    rb_add(&b, "authorization", auth);
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INCOMPLETE);
    if (strncmp(msg, want_prefix, strlen(want_prefix)) != 0) {
        test_failures++;
        fprintf(stderr, "incomplete: got \"%s\", want prefix \"%s\"\n", msg, want_prefix);
    }
}

static void test_incomplete(void)
{
    const char *d = "20240101T000000Z";
    expect_incomplete("AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host", d,
                      "Authorization header requires 'Signature' parameter. Authorization=");
    expect_incomplete("AWS4-HMAC-SHA256 Credential=abc", d,
                      "Authorization header requires 'Signature' parameter. Authorization header "
                      "requires 'SignedHeaders' parameter. ");
    expect_incomplete("AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Signature=00",
                      NULL,
                      "Authorization header requires existence of either a 'X-Amz-Date' or a "
                      "'Date' header. ");
    expect_incomplete("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1, "
                      "SignedHeaders=host, Signature=00",
                      d,
                      "Credential must have exactly 5 slash-delimited elements, e.g. "
                      "keyid/date/region/service/term, got 'AKIDEXAMPLE/20240101/us-east-1'");
    expect_incomplete("AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Signature=00",
                      "2024-01-01T00:00:00Z", "Date must be in ISO-8601 'basic format'. Got '");
    expect_incomplete("AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Signature=00",
                      "20230229T000000Z", "Date must be in ISO-8601 'basic format'. Got '");
    expect_incomplete("AWS4-HMAC-SHA512 Credential=" SCOPE ", SignedHeaders=host, Signature=00", d,
                      "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.");
    expect_incomplete("AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=x-amz-date, "
                      "Signature=00",
                      d, "'Host' or ':authority' must be a 'SignedHeader' in the AWS");
    /* The names must be the parameters, not substrings of other words. */
    expect_incomplete("AWS4-HMAC-SHA256 XCredential=" SCOPE ", SignedHeaders=host, Signature=00", d,
                      "Authorization header requires 'Credential' parameter.");
}

static void test_keys_and_tokens(void)
{
    struct rb b;
    rb_worked(&b, "AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN/20240101/us-east-1/kinesis/"
                  "aws4_request, SignedHeaders=host, Signature=00");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_UNRECOGNIZED_CLIENT);
    CHECK_EQ_STR(msg, INVALID_TOKEN);
    rb_worked(&b, WORKED_AUTH);
    CHECK_EQ_INT(verify_at(keys_other_secret, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, MISMATCH);

    /* botocore with session token "TOKEN/abc+def==" (signed). */
    const char *tok_auth =
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=content-type;host;x-amz-date;"
        "x-amz-security-token;x-amz-target, "
        "Signature=bc5fb3791fd0cdf2aa2ae410c32a74d744995a1fcd2c59de5aa319368167458b";
    rb_worked(&b, tok_auth);
    rb_add(&b, "x-amz-security-token", "TOKEN/abc+def==");
    CHECK_EQ_INT(verify_at(keys_token, &b, T0), AUTH_OK);
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_UNRECOGNIZED_CLIENT); /* key has no token */
    CHECK_EQ_STR(msg, INVALID_TOKEN);
    rb_worked(&b, tok_auth);
    rb_add(&b, "x-amz-security-token", "TOKEN/abc+deg==");
    CHECK_EQ_INT(verify_at(keys_token, &b, T0), AUTH_UNRECOGNIZED_CLIENT);
    rb_worked(&b, WORKED_AUTH); /* no token at all */
    CHECK_EQ_INT(verify_at(keys_token, &b, T0), AUTH_UNRECOGNIZED_CLIENT);
    CHECK_EQ_STR(msg, INVALID_TOKEN);
}

static void test_body_altered(void)
{
    struct rb b;
    rb_worked(&b, WORKED_AUTH);
    b.body[14] = 't'; /* "s1" -> "t1" */
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, MISMATCH);
    rb_worked(&b, WORKED_AUTH);
    rb_add(&b, "x-amz-target", "Kinesis_20131202.DeleteStream"); /* a second value, unsigned? */
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
}

/* botocore SigV4QueryAuth, X-Amz-Expires 600 (it moves the body into the query). */
#define PRESIGNED                                                                                  \
    "/?StreamName=s1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240101%2F"  \
    "us-east-1%2Fkinesis%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=600&X-Amz-"      \
    "SignedHeaders=content-type%3Bhost%3Bx-amz-target&X-Amz-Signature=4f9b9073863be1e7cc09fedcf5"  \
    "dcd252f06022628c050a1faee7be36a0ecc1f0"
#define PRESIGNED_TOKEN                                                                            \
    "/?StreamName=s1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240101%2F"  \
    "us-east-1%2Fkinesis%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=600&X-Amz-"      \
    "SignedHeaders=content-type%3Bhost%3Bx-amz-target&X-Amz-Security-Token=TOKEN%2Fabc%2Bdef%3D%"  \
    "3D&X-Amz-Signature=68298abe64516053a0c3e6e9a136907ea0b0db9dd47e342aac9dceff92fdd370"

static void rb_presigned(struct rb *b, const char *path)
{
    rb_init(b, path, "");
    rb_add(b, "host", "localhost:4567");
    rb_add(b, "content-type", CT);
    rb_add(b, "x-amz-target", TARGET);
}

static void test_query_auth(void)
{
    struct rb b;
    rb_presigned(&b, PRESIGNED);
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_OK);
    CHECK_EQ_INT(verify_at(keys, &b, T0 + 600), AUTH_OK);
    CHECK_EQ_INT(verify_at(keys, &b, T0 + 601), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, "Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z "
                      "(20240101T001001Z - 600 sec.)");
    CHECK_EQ_INT(verify_at(keys, &b, T0 - 301), AUTH_INVALID_SIGNATURE);
    CHECK(strncmp(msg, "Signature not yet current:", 26) == 0);
    CHECK_EQ_INT(verify_at(keys_token, &b, T0), AUTH_UNRECOGNIZED_CLIENT);
    rb_presigned(&b, PRESIGNED_TOKEN);
    CHECK_EQ_INT(verify_at(keys_token, &b, T0), AUTH_OK);

    char canon[1024];
    rb_presigned(&b, PRESIGNED);
    canon_of(&b, "host", "-", true, canon, sizeof(canon));
    CHECK_EQ_STR(canon,
                 "POST\n/\nStreamName=s1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
                 "AKIDEXAMPLE%2F20240101%2Fus-east-1%2Fkinesis%2Faws4_request&X-Amz-Date="
                 "20240101T000000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=content-type%3Bhost%"
                 "3Bx-amz-target\nhost:localhost:4567\n\nhost\n-");

    rb_presigned(&b, PRESIGNED "&StreamName=s2"); /* a parameter added after signing */
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, MISMATCH);
    rb_presigned(&b, PRESIGNED);
    rb_add(&b, "authorization", WORKED_AUTH);
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_STR(msg, "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' "
                      "as HTTP header.");
    rb_presigned(&b, "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240101T000000Z");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_INCOMPLETE);
    CHECK_EQ_STR(msg, "AWS query-string parameters must include 'X-Amz-Credential'. AWS "
                      "query-string parameters must include 'X-Amz-SignedHeaders'. AWS "
                      "query-string parameters must include 'X-Amz-Signature'. Re-examine the "
                      "query-string parameters.");
    rb_presigned(&b, "/");
    CHECK_EQ_INT(verify_at(keys, &b, T0), AUTH_MISSING);
    CHECK_EQ_STR(msg, "Missing Authentication Token");
}

static void test_canonical_uri_and_query(void)
{
    struct rb b;
    rb_init(&b, "/a/./b/../c//d%20e/?b=2&a=1&a=0&c=%7e&d=x+y&flag&e=%2F", "");
    char canon[512];
    canon_of(&b, "", "-", false, canon, sizeof(canon));
    CHECK_EQ_STR(canon, "POST\n/a/c/d%2520e/\na=0&a=1&b=2&c=~&d=x%2By&e=%2F&flag=\n\n\n-");
    rb_init(&b, "", "");
    canon_of(&b, "", "-", false, canon, sizeof(canon));
    CHECK_EQ_STR(canon, "POST\n/\n\n\n\n-");
    rb_init(&b, "/../..", "");
    canon_of(&b, "", "-", false, canon, sizeof(canon));
    CHECK_EQ_STR(canon, "POST\n/\n\n\n\n-");
}

static struct creds *parse(const char *text);

static void test_signing_key_cache(void)
{
    /* Fresh tables: their keys cannot be in this thread's cache yet. */
    struct creds *fresh = parse("AKIDEXAMPLE " SECRET "\n");
    struct creds *fresh_wrong = parse("AKIDEXAMPLE wrong-secret\n");
    struct rb b;
    rb_worked(&b, WORKED_AUTH);
    uint64_t before = auth_key_derivations();
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(verify_at(fresh, &b, T0), AUTH_OK);
    CHECK_EQ_INT(auth_key_derivations(), before + 1);
    /* Same key id text, other secret: another table's key is another cache entry. */
    CHECK_EQ_INT(verify_at(fresh_wrong, &b, T0), AUTH_INVALID_SIGNATURE);
    CHECK_EQ_INT(auth_key_derivations(), before + 2);
    rb_worked(&b, WEST_AUTH); /* another region, another key */
    CHECK_EQ_INT(auth_verify(fresh, NULL, &b.req, T0, msg, sizeof(msg)), AUTH_OK);
    CHECK_EQ_INT(auth_key_derivations(), before + 3);
    rb_worked(&b, WORKED_AUTH);
    CHECK_EQ_INT(verify_at(fresh, &b, T0), AUTH_OK);
    CHECK_EQ_INT(auth_key_derivations(), before + 3);
    creds_free(fresh);
    creds_free(fresh_wrong);
}

/* Without auth_configure: presence only, any signature passes (today's behaviour). */
static void test_default_mode(void)
{
    struct rb b;
    rb_worked(&b, "AWS4-HMAC-SHA256 Credential=ANY/20200101/mars-1/kinesis/aws4_request, "
                  "SignedHeaders=host;x-amz-date, Signature=0000");
    CHECK_EQ_INT(auth_check(&b.req, msg, sizeof(msg)), AUTH_OK);
    rb_worked(&b, NULL);
    CHECK_EQ_INT(auth_check(&b.req, msg, sizeof(msg)), AUTH_MISSING);
    CHECK_EQ_STR(auth_result_type(AUTH_MISSING), "MissingAuthenticationTokenException");
    rb_presigned(&b, "/?X-Amz-Algorithm=AWS4-HMAC-SHA256");
    CHECK_EQ_INT(auth_check(&b.req, msg, sizeof(msg)), AUTH_OK);
    auth_configure(keys, "us-east-1");
    rb_worked(&b, WORKED_AUTH);
    CHECK_EQ_INT(auth_check(&b.req, msg, sizeof(msg)), AUTH_INVALID_SIGNATURE); /* now is 2024+ */
    CHECK(strncmp(msg, "Signature expired: 20240101T000000Z", 35) == 0);
    auth_configure(NULL, NULL);
    CHECK_EQ_STR(auth_result_type(AUTH_INCOMPLETE), "IncompleteSignatureException");
    CHECK_EQ_STR(auth_result_type(AUTH_INVALID_SIGNATURE), "InvalidSignatureException");
    CHECK_EQ_STR(auth_result_type(AUTH_UNRECOGNIZED_CLIENT), "UnrecognizedClientException");
}

static struct creds *parse(const char *text)
{
    struct creds *c = NULL;
    char err[256];
    ASSERT(creds_parse(text, strlen(text), "test", &c, err, sizeof(err)) == 0);
    return c;
}

int main(void)
{
    keys = parse("AKIDEXAMPLE " SECRET "\nAKIDOTHER other\n");
    keys_token = parse("AKIDEXAMPLE " SECRET " TOKEN/abc+def==\n");
    keys_other_secret = parse("AKIDEXAMPLE wrong-secret\n");
    TEST_RUN(test_worked_example);
    TEST_RUN(test_js_authority_and_content_sha);
    TEST_RUN(test_unsigned_payload);
    TEST_RUN(test_whitespace_and_multi_value);
    TEST_RUN(test_authorization_spacing);
    TEST_RUN(test_clock_skew);
    TEST_RUN(test_date_header);
    TEST_RUN(test_scope);
    TEST_RUN(test_incomplete);
    TEST_RUN(test_keys_and_tokens);
    TEST_RUN(test_body_altered);
    TEST_RUN(test_query_auth);
    TEST_RUN(test_canonical_uri_and_query);
    TEST_RUN(test_signing_key_cache);
    TEST_RUN(test_default_mode);
    creds_free(keys);
    creds_free(keys_token);
    creds_free(keys_other_secret);
    TEST_EXIT();
}
