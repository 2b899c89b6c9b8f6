/* Drives the real API layer (server/api*.c over the real registry) through the transport
 * boundary of server/http.h: this file plays the transport, handing requests in and capturing
 * responses, so every check here is the exact bytes a client would get. */
#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "server/api.h"
#include "server/config.h"
#include "server/http.h"
#include "server/worker.h"
#include "tests/test.h"

struct http_exchange {
    struct http_request req;
    struct http_header hdrs[8];
    int status;
    char body[65536];
    size_t body_len;
    char ctype[64], etype[64], rid[64];
    int responses;
};

const struct http_request *http_exchange_request(const struct http_exchange *x)
{
    return &x->req;
}

void http_exchange_respond(struct http_exchange *x, int status, const struct http_header *hdrs,
                           size_t nhdrs, struct evbuffer *body)
{
    x->responses++;
    x->status = status;
    for (size_t i = 0; i < nhdrs; i++) {
        if (strcmp(hdrs[i].name, "content-type") == 0)
            snprintf(x->ctype, sizeof(x->ctype), "%s", hdrs[i].value);
        if (strcmp(hdrs[i].name, "x-amzn-errortype") == 0)
            snprintf(x->etype, sizeof(x->etype), "%s", hdrs[i].value);
        if (strcmp(hdrs[i].name, "x-amzn-requestid") == 0)
            snprintf(x->rid, sizeof(x->rid), "%s", hdrs[i].value);
    }
    size_t n = body ? evbuffer_get_length(body) : 0;
    if (n >= sizeof(x->body))
        n = sizeof(x->body) - 1;
    if (n)
        evbuffer_remove(body, x->body, n);
    x->body[n] = '\0';
    x->body_len = n;
}

/* The rest of the transport boundary that the API layer links against. This binary drives only
 * unary operations (SubscribeToShard is covered end to end by the integration tests), so the
 * stream and worker entry points must never be reached: each one fails the test loudly. */
static void unreachable(const char *fn)
{
    fprintf(stderr, "api_test: %s called; streams are not driven by this test\n", fn);
    _exit(1);
}

int http_exchange_stream(struct http_exchange *x, int status, const struct http_header *hdrs,
                         size_t nhdrs, const struct http_stream_ops *ops, void *arg)
{
    (void)x, (void)status, (void)hdrs, (void)nhdrs, (void)ops, (void)arg;
    unreachable(__func__);
    return -1;
}

void http_exchange_resume(struct http_exchange *x)
{
    (void)x;
    unreachable(__func__);
}

struct worker *http_exchange_worker(const struct http_exchange *x)
{
    (void)x;
    unreachable(__func__);
    return NULL;
}

int worker_post(struct worker *w, void (*fn)(void *), void *arg)
{
    (void)w, (void)fn, (void)arg;
    unreachable(__func__);
    return -1;
}

struct event_base *worker_base(struct worker *w)
{
    (void)w;
    unreachable(__func__);
    return NULL;
}

#define AUTH                                                                                       \
    "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/kinesis/aws4_request, "                     \
    "SignedHeaders=host;x-amz-date, Signature=00"

static struct http_exchange X;

static struct http_exchange *raw(const char *method, const char *ctype, const char *target,
                                 const char *auth, const char *body)
{
    memset(&X, 0, sizeof(X));
    size_t n = 0;
    static char tgt[128];
    if (ctype)
        X.hdrs[n++] = (struct http_header){"content-type", ctype, 12, strlen(ctype)};
    if (target) {
        snprintf(tgt, sizeof(tgt), "Kinesis_20131202.%s", target);
        X.hdrs[n++] = (struct http_header){"x-amz-target", tgt, 12, strlen(tgt)};
    }
    if (auth) {
        X.hdrs[n++] = (struct http_header){"authorization", auth, 13, strlen(auth)};
        X.hdrs[n++] = (struct http_header){"x-amz-date", "20240101T000000Z", 10, 16};
    }
    X.req.method = method;
    X.req.path = strcmp(method, "GET") == 0 ? "/health" : "/";
    X.req.authority = "localhost";
    X.req.headers = X.hdrs;
    X.req.header_count = n;
    X.req.body = (const uint8_t *)body;
    X.req.body_len = strlen(body);
    X.req.http_version = 11;
    api_handle(&X);
    return &X;
}

static json_t *out; /* last parsed body */

static int call(const char *op, const char *body)
{
    raw("POST", "application/x-amz-json-1.1", op, AUTH, body);
    json_decref(out);
    out = X.body[0] ? json_loads(X.body, 0, NULL) : NULL;
    if (X.responses != 1)
        return -1;
    return X.status;
}

static const char *err_type(void)
{
    return json_string_value(json_object_get(out, "__type"));
}

static const char *err_msg(void)
{
    return json_string_value(json_object_get(out, "message"));
}

static const char *path_str(const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(out, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

static void test_gate(void)
{
    raw("GET", NULL, NULL, NULL, "");
    CHECK_EQ_INT(X.status, 200);
    CHECK_EQ_STR(X.body, "ok\n");
    raw("POST", "application/x-amz-json-1.1", "Nope", AUTH, "{}");
    CHECK_EQ_INT(X.status, 400);
    CHECK_EQ_STR(X.etype, "UnknownOperationException");
    CHECK(strstr(X.body, "\"__type\":\"UnknownOperationException\"") != NULL);
    /* Every model operation has a handler now: this one validates its input. */
    raw("POST", "application/x-amz-json-1.1", "UpdateStreamWarmThroughput", AUTH, "{}");
    CHECK_EQ_STR(X.etype, "ValidationException");
    raw("POST", "text/plain", "ListStreams", AUTH, "{}");
    CHECK_EQ_STR(X.etype, "UnknownOperationException");
    raw("POST", NULL, "ListStreams", AUTH, "{}");
    CHECK_EQ_STR(X.etype, "UnknownOperationException");
    /* CBOR: "{}" is no CBOR item (0x7b announces an 8-byte length); the error is CBOR too. */
    raw("POST", "application/x-amz-cbor-1.1", "ListStreams", AUTH, "{}");
    CHECK_EQ_STR(X.etype, "SerializationException");
    CHECK_EQ_STR(X.ctype, "application/x-amz-cbor-1.1");
    static const char ser[] = "\xa2\x66__type\x76SerializationException\x67message";
    CHECK(X.body_len > sizeof(ser) && memcmp(X.body, ser, sizeof(ser) - 1) == 0);
    CHECK(strstr(X.body, "Invalid CBOR request body: truncated at byte 0") != NULL);
    raw("POST", "application/x-amz-cbor-1.1", "Nope", AUTH, "\xa0");
    CHECK_EQ_STR(X.etype, "UnknownOperationException");
    CHECK(X.body_len == 35 &&
          memcmp(X.body, "\xa1\x66__type\x78\x19UnknownOperationException", 35) == 0);
    /* An empty CBOR map is an empty request; the answer is a CBOR map. */
    raw("POST", "application/x-amz-cbor-1.1", "ListStreams", AUTH, "\xa0");
    CHECK_EQ_INT(X.status, 200);
    CHECK_EQ_STR(X.ctype, "application/x-amz-cbor-1.1");
    CHECK(X.body_len > 13 && memcmp(X.body, "\xa3\x6bStreamNames", 13) == 0);
    raw("POST", "application/x-amz-json-1.1", "ListStreams", NULL, "{}");
    CHECK_EQ_STR(X.etype, "MissingAuthenticationTokenException");
    CHECK(strstr(X.body, "Missing Authentication Token") != NULL);
    raw("POST", "application/x-amz-json-1.1", "ListStreams", "AWS4-HMAC-SHA256 Credential=a/b",
        "{}");
    CHECK_EQ_STR(X.etype, "IncompleteSignatureException");
    CHECK(strstr(X.body, "requires 'Signature' parameter") != NULL);
    raw("POST", "application/x-amz-json-1.1", "ListStreams", AUTH, "{nope");
    CHECK_EQ_STR(X.etype, "SerializationException");
    raw("POST", "application/x-amz-json-1.1", "ListStreams", AUTH, "[1]");
    CHECK_EQ_STR(X.etype, "SerializationException");
    raw("POST", "application/json", "ListStreams", AUTH, "{}");
    CHECK_EQ_INT(X.status, 200);
    CHECK_EQ_STR(X.ctype, "application/json");
    CHECK_EQ_INT(strlen(X.rid), 36);
    CHECK(X.rid[14] == '4');
}

static void test_validation(void)
{
    CHECK_EQ_INT(call("CreateStream", "{\"StreamName\":\"a b\",\"ShardCount\":0}"), 400);
    CHECK_EQ_STR(err_type(), "ValidationException");
    CHECK_EQ_STR(err_msg(),
                 "2 validation errors detected: Value 'a b' at 'streamName' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
                 "Value '0' at 'shardCount' failed to satisfy constraint: Member must have value "
                 "greater than or equal to 1");
    CHECK_EQ_INT(call("CreateStream", "{\"ShardCount\":1}"), 400);
    CHECK_EQ_STR(err_msg(), "1 validation error detected: Value null at 'streamName' failed to "
                            "satisfy constraint: Member must not be null");
    CHECK_EQ_INT(call("CreateStream", "{\"StreamName\":5,\"ShardCount\":1}"), 400);
    CHECK_EQ_STR(err_type(), "SerializationException");
    CHECK_EQ_INT(call("CreateStream", "{\"StreamName\":\"x\",\"ShardCount\":\"1\"}"), 400);
    CHECK_EQ_STR(err_type(), "SerializationException");
    CHECK_EQ_INT(call("CreateStream", "{\"StreamName\":\"x\",\"StreamModeDetails\":"
                                      "{\"StreamMode\":\"FAST\"},\"ShardCount\":1}"),
                 400);
    CHECK_EQ_STR(err_msg(), "1 validation error detected: Value 'FAST' at "
                            "'streamModeDetails.streamMode' failed to satisfy constraint: Member "
                            "must satisfy enum value set: [PROVISIONED, ON_DEMAND]");
    CHECK_EQ_INT(call("DescribeStream", "{\"StreamName\":\"nope\"}"), 400);
    CHECK_EQ_STR(err_type(), "ResourceNotFoundException");
    CHECK_EQ_STR(err_msg(), "Stream nope under account 000000000000 not found.");
    CHECK_EQ_INT(call("DescribeStream", "{}"), 400);
    CHECK_EQ_STR(err_type(), "InvalidArgumentException");
}

static void test_streams(void)
{
    CHECK_EQ_INT(call("CreateStream", "{\"StreamName\":\"s3\",\"ShardCount\":3,"
                                      "\"Tags\":{\"b\":\"2\",\"a\":\"1\"}}"),
                 200);
    CHECK_EQ_STR(X.body, "");
    CHECK_EQ_INT(call("CreateStream", "{\"StreamName\":\"s3\",\"ShardCount\":3}"), 400);
    CHECK_EQ_STR(err_type(), "ResourceInUseException");
    CHECK_EQ_STR(err_msg(), "Stream s3 under account 000000000000 already exists.");
    CHECK_EQ_INT(call("DescribeStream", "{\"StreamName\":\"s3\"}"), 200);
    CHECK_EQ_STR(path_str("StreamDescription", "StreamStatus", NULL), "CREATING");
    clock_advance_ms(1000);
    CHECK_EQ_INT(call("DescribeStream", "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:"
                                        "000000000000:stream/s3\",\"Limit\":2}"),
                 200);
    json_t *d = json_object_get(out, "StreamDescription");
    CHECK_EQ_STR(json_string_value(json_object_get(d, "StreamStatus")), "ACTIVE");
    CHECK_EQ_STR(json_string_value(json_object_get(d, "StreamARN")),
                 "arn:aws:kinesis:us-east-1:000000000000:stream/s3");
    CHECK(json_is_true(json_object_get(d, "HasMoreShards")));
    json_t *sh = json_object_get(d, "Shards");
    CHECK_EQ_INT(json_array_size(sh), 2);
    json_t *s1 = json_array_get(sh, 1);
    CHECK_EQ_STR(json_string_value(json_object_get(s1, "ShardId")), "shardId-000000000001");
    CHECK_EQ_STR(
        json_string_value(json_object_get(json_object_get(s1, "HashKeyRange"), "EndingHashKey")),
        "226854911280625642308916404954512140969");
    const char *seq = json_string_value(
        json_object_get(json_object_get(s1, "SequenceNumberRange"), "StartingSequenceNumber"));
    CHECK(seq != NULL && strlen(seq) == 56);
    CHECK(json_object_get(s1, "ParentShardId") == NULL);
    CHECK(strstr(X.body, "\"EnhancedMonitoring\":[{\"ShardLevelMetrics\":[]}]") != NULL);
    CHECK(strstr(X.body, "null") == NULL);
    CHECK(strstr(X.body, "e+") == NULL);
    CHECK_EQ_INT(call("DescribeStream", "{\"StreamName\":\"s3\",\"ExclusiveStartShardId\":"
                                        "\"shardId-1\"}"),
                 200);
    d = json_object_get(out, "StreamDescription");
    CHECK_EQ_INT(json_array_size(json_object_get(d, "Shards")), 1);
    CHECK(json_is_false(json_object_get(d, "HasMoreShards")));

    CHECK_EQ_INT(call("DescribeStreamSummary", "{\"StreamName\":\"s3\"}"), 200);
    CHECK(strstr(X.body, "StreamId") == NULL);
    d = json_object_get(out, "StreamDescriptionSummary");
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "OpenShardCount")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "ConsumerCount")), 0);

    CHECK_EQ_INT(call("CreateStream", "{\"StreamName\":\"s1\",\"ShardCount\":1}"), 200);
    CHECK_EQ_INT(call("CreateStream", "{\"StreamName\":\"od\",\"StreamModeDetails\":"
                                      "{\"StreamMode\":\"ON_DEMAND\"}}"),
                 200);
    CHECK_EQ_INT(call("ListStreams", "{\"Limit\":2}"), 200);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(out, "StreamNames"), 0)), "od");
    CHECK(json_is_true(json_object_get(out, "HasMoreStreams")));
    char body[1024];
    snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", path_str("NextToken", NULL, NULL));
    CHECK_EQ_INT(call("ListStreams", body), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "StreamNames")), 1);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(out, "StreamNames"), 0)), "s3");
    CHECK(json_object_get(out, "NextToken") == NULL);
    CHECK_EQ_INT(call("DescribeLimits", "{}"), 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(out, "OpenShardCount")), 8);
    CHECK_EQ_INT(json_integer_value(json_object_get(out, "OnDemandStreamCount")), 1);
}

static void test_list_shards(void)
{
    CHECK_EQ_INT(call("ListShards", "{\"StreamName\":\"s3\",\"MaxResults\":2}"), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "Shards")), 2);
    const char *tok = path_str("NextToken", NULL, NULL);
    CHECK(tok != NULL);
    char body[1024], edited[1000];
    snprintf(body, sizeof(body), "{\"StreamName\":\"s3\",\"NextToken\":\"%s\"}", tok);
    snprintf(edited, sizeof(edited), "%s", tok);
    char body2[1024];
    snprintf(body2, sizeof(body2), "{\"StreamName\":\"s1\",\"NextToken\":\"%s\"}", tok);
    char body3[1024];
    snprintf(body3, sizeof(body3), "{\"ExclusiveStartShardId\":\"1\",\"NextToken\":\"%s\"}", tok);
    CHECK_EQ_INT(call("ListShards", body), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "Shards")), 1);
    CHECK(json_object_get(out, "NextToken") == NULL);
    CHECK_EQ_INT(call("ListShards", body2), 400);
    CHECK_EQ_STR(err_type(), "InvalidArgumentException");
    CHECK_EQ_INT(call("ListShards", body3), 400);
    CHECK_EQ_STR(err_type(), "InvalidArgumentException");
    /* Tokens are authenticated: one written by hand in the token's own layout (with a MAC of
     * zeros), or a real one with one character changed, is refused. */
    char raw[160] = {0}, forged[256], body4[1024];
    int rn = snprintf(raw, sizeof(raw), "shards\ns3\n-1:0:0\n%lld", (long long)clock_now_ms());
    EVP_EncodeBlock((unsigned char *)forged, (const unsigned char *)raw, rn + 32);
    snprintf(body4, sizeof(body4), "{\"NextToken\":\"%s\"}", forged);
    CHECK_EQ_INT(call("ListShards", body4), 400);
    CHECK_EQ_STR(err_type(), "InvalidArgumentException");
    edited[strlen(edited) / 2] = edited[strlen(edited) / 2] == 'A' ? 'B' : 'A';
    snprintf(body4, sizeof(body4), "{\"NextToken\":\"%s\"}", edited);
    CHECK_EQ_INT(call("ListShards", body4), 400);
    CHECK_EQ_STR(err_type(), "InvalidArgumentException");
    CHECK_EQ_INT(call("ListShards", "{}"), 400);
    CHECK_EQ_STR(err_type(), "InvalidArgumentException");
    CHECK_EQ_INT(call("ListShards", "{\"StreamName\":\"s3\",\"ShardFilter\":{\"Type\":"
                                    "\"AFTER_SHARD_ID\",\"ShardId\":\"shardId-000000000000\"}}"),
                 200);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "Shards")), 2);
    clock_advance_ms(301000);
    CHECK_EQ_INT(call("ListShards", body), 400);
    CHECK_EQ_STR(err_type(), "ExpiredNextTokenException");
}

static void test_tags_retention(void)
{
    CHECK_EQ_INT(call("ListTagsForStream", "{\"StreamName\":\"s3\",\"Limit\":1}"), 200);
    CHECK_EQ_STR(X.body, "{\"Tags\":[{\"Key\":\"a\",\"Value\":\"1\"}],\"HasMoreTags\":true}");
    CHECK_EQ_INT(
        call("ListTagsForStream", "{\"StreamName\":\"s3\",\"ExclusiveStartTagKey\":\"a\"}"), 200);
    CHECK_EQ_STR(X.body, "{\"Tags\":[{\"Key\":\"b\",\"Value\":\"2\"}],\"HasMoreTags\":false}");
    CHECK_EQ_INT(
        call("AddTagsToStream", "{\"StreamName\":\"s3\",\"Tags\":{\"c\":\"3\",\"a\":\"9\"}}"), 200);
    CHECK_EQ_INT(call("AddTagsToStream", "{\"StreamName\":\"s3\",\"Tags\":{\"c%\":\"3\"}}"), 400);
    CHECK_EQ_STR(err_type(), "InvalidArgumentException");
    CHECK_EQ_INT(call("RemoveTagsFromStream", "{\"StreamName\":\"s3\",\"TagKeys\":[\"b\"]}"), 200);
    CHECK_EQ_INT(call("ListTagsForStream", "{\"StreamName\":\"s3\"}"), 200);
    CHECK_EQ_STR(X.body, "{\"Tags\":[{\"Key\":\"a\",\"Value\":\"9\"},{\"Key\":\"c\",\"Value\":"
                         "\"3\"}],\"HasMoreTags\":false}");
    CHECK_EQ_INT(call("IncreaseStreamRetentionPeriod",
                      "{\"StreamName\":\"s3\",\"RetentionPeriodHours\":48}"),
                 200);
    CHECK_EQ_INT(call("IncreaseStreamRetentionPeriod",
                      "{\"StreamName\":\"s3\",\"RetentionPeriodHours\":30}"),
                 400);
    CHECK_EQ_STR(err_msg(), "Requested retention period (30 hours) for stream s3 can not be "
                            "shorter than existing retention period (48 hours). Use "
                            "DecreaseRetentionPeriod API.");
    CHECK_EQ_INT(call("DecreaseStreamRetentionPeriod",
                      "{\"StreamName\":\"s3\",\"RetentionPeriodHours\":10}"),
                 400);
    CHECK_EQ_STR(err_msg(), "Minimum allowed retention period is 24 hours. Requested retention "
                            "period (10 hours) is too short.");
    CHECK_EQ_INT(call("EnableEnhancedMonitoring",
                      "{\"StreamName\":\"s3\",\"ShardLevelMetrics\":[\"IncomingBytes\"]}"),
                 200);
    CHECK_EQ_STR(
        json_string_value(json_array_get(json_object_get(out, "DesiredShardLevelMetrics"), 0)),
        "IncomingBytes");
    CHECK_EQ_INT(call("StartStreamEncryption", "{\"StreamName\":\"s3\",\"EncryptionType\":\"KMS\","
                                               "\"KeyId\":\"alias/k\"}"),
                 200);
    CHECK_EQ_INT(call("DescribeStreamSummary", "{\"StreamName\":\"s3\"}"), 200);
    CHECK_EQ_STR(path_str("StreamDescriptionSummary", "StreamStatus", NULL), "UPDATING");
    CHECK_EQ_STR(path_str("StreamDescriptionSummary", "KeyId", NULL), "alias/k");
    clock_advance_ms(1000);
}

static void test_reshard_consumers(void)
{
    CHECK_EQ_INT(call("SplitShard",
                      "{\"StreamName\":\"s1\",\"ShardToSplit\":\"shardId-000000000000\","
                      "\"NewStartingHashKey\":\"1\"}"),
                 400);
    CHECK_EQ_STR(err_msg(), "NewStartingHashKey 1 used in SplitShard() on shard "
                            "shardId-000000000000 in stream s1 under account 000000000000 is not "
                            "both greater than one plus the shard's StartingHashKey 0 and less "
                            "than the shard's EndingHashKey "
                            "340282366920938463463374607431768211455.");
    CHECK_EQ_INT(call("SplitShard", "{\"StreamName\":\"s1\",\"ShardToSplit\":\"0\","
                                    "\"NewStartingHashKey\":\"1000\"}"),
                 200);
    clock_advance_ms(1000);
    CHECK_EQ_INT(call("ListShards", "{\"StreamName\":\"s1\"}"), 200);
    json_t *sh = json_object_get(out, "Shards");
    CHECK_EQ_INT(json_array_size(sh), 3);
    CHECK(json_object_get(json_object_get(json_array_get(sh, 0), "SequenceNumberRange"),
                          "EndingSequenceNumber") != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(sh, 2), "ParentShardId")),
                 "shardId-000000000000");
    CHECK_EQ_INT(
        call("ListShards", "{\"StreamName\":\"s1\",\"ShardFilter\":{\"Type\":\"AT_LATEST\"}}"),
        200);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "Shards")), 2);
    CHECK_EQ_INT(call("MergeShards",
                      "{\"StreamName\":\"s1\",\"ShardToMerge\":\"shardId-000000000001\","
                      "\"AdjacentShardToMerge\":\"shardId-000000000002\"}"),
                 200);
    clock_advance_ms(1000);

    const char *arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s1";
    char body[512];
    snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"ConsumerName\":\"c1\"}", arn);
    CHECK_EQ_INT(call("RegisterStreamConsumer", body), 200);
    CHECK_EQ_STR(path_str("Consumer", "ConsumerStatus", NULL), "CREATING");
    char carn[256];
    snprintf(carn, sizeof(carn), "%s", path_str("Consumer", "ConsumerARN", NULL));
    CHECK(strncmp(carn, "arn:aws:kinesis:us-east-1:000000000000:stream/s1/consumer/c1:", 61) == 0);
    CHECK_EQ_INT(call("RegisterStreamConsumer", body), 400);
    CHECK_EQ_STR(err_type(), "ResourceInUseException");
    clock_advance_ms(1000);
    snprintf(body, sizeof(body), "{\"ConsumerARN\":\"%s\"}", carn);
    CHECK_EQ_INT(call("DescribeStreamConsumer", body), 200);
    CHECK_EQ_STR(path_str("ConsumerDescription", "ConsumerStatus", NULL), "ACTIVE");
    CHECK_EQ_STR(path_str("ConsumerDescription", "StreamARN", NULL), arn);
    snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\"}", arn);
    CHECK_EQ_INT(call("ListStreamConsumers", body), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "Consumers")), 1);
    CHECK_EQ_INT(call("DeleteStream", "{\"StreamName\":\"s1\"}"), 400);
    CHECK_EQ_STR(err_type(), "ResourceInUseException");
    snprintf(body, sizeof(body), "{\"ConsumerARN\":\"%s\"}", carn);
    CHECK_EQ_INT(call("DeregisterStreamConsumer", body), 200);
    clock_advance_ms(1000);
    CHECK_EQ_INT(call("DescribeStreamConsumer", body), 400);
    CHECK_EQ_STR(err_type(), "ResourceNotFoundException");
    CHECK_EQ_INT(call("DeleteStream", "{\"StreamName\":\"s1\"}"), 200);
    CHECK_EQ_INT(call("DescribeStream", "{\"StreamName\":\"s1\"}"), 200);
    CHECK_EQ_STR(path_str("StreamDescription", "StreamStatus", NULL), "DELETING");
    clock_advance_ms(1000);
    CHECK_EQ_INT(call("DescribeStream", "{\"StreamName\":\"s1\"}"), 400);
}

int main(void)
{
    char dir[] = "/tmp/sc-api-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    /* Call rates off: these tests make control-plane calls far faster than AWS's 5 - 20 per
     * second (the rates are tested against the server, tests/integration/api_errors_test.py). */
    char a0[] = "shardcastd", a1[] = "--data-dir", a3[] = "--limits", a4[] = "off";
    char *argv[] = {a0, a1, dir, a3, a4, NULL};
    static struct config cfg;
    if (config_parse(&cfg, 5, argv) != 0)
        return 1;
    CHECK_EQ_INT(api_init(&cfg), 0);
    TEST_RUN(test_gate);
    TEST_RUN(test_validation);
    TEST_RUN(test_streams);
    TEST_RUN(test_list_shards);
    TEST_RUN(test_tags_retention);
    TEST_RUN(test_reshard_consumers);
    api_shutdown();
    /* Restart on the same data dir: the streams come back identical. */
    CHECK_EQ_INT(api_init(&cfg), 0);
    CHECK_EQ_INT(call("ListTagsForStream", "{\"StreamName\":\"s3\"}"), 200);
    CHECK_EQ_STR(X.body, "{\"Tags\":[{\"Key\":\"a\",\"Value\":\"9\"},{\"Key\":\"c\",\"Value\":"
                         "\"3\"}],\"HasMoreTags\":false}");
    CHECK_EQ_INT(call("DescribeStreamSummary", "{\"StreamName\":\"s3\"}"), 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(
                     json_object_get(out, "StreamDescriptionSummary"), "RetentionPeriodHours")),
                 48);
    api_shutdown();
    json_decref(out);
    CHECK_EQ_INT(test_rmrf(dir), 0);
    TEST_EXIT();
}
