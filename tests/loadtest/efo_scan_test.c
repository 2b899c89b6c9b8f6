/* efo_scan_test.c — the SubscribeToShardEvent scanner that replaces a JSON parse on the
 * enhanced path: records, continuation, MillisBehindLatest and the end of a shard are found
 * in compact and spaced JSON, in any key order, and a key-like text inside a value (escaped,
 * or a value that equals a key name) never counts. */
#include <openssl/evp.h>

#include "loadtest/run.h"
#include "test.h"

#define RECORD_SIZE 30

static struct run r;
static struct lt_consumer c;
static struct lt_pipe p;
static uint8_t seen[16];

static void reset(void)
{
    memset(&r, 0, sizeof(r));
    memset(&c, 0, sizeof(c));
    memset(&p, 0, sizeof(p));
    memset(seen, 0, sizeof(seen));
    r.cfg.record_size = RECORD_SIZE;
    r.id_cap = 100;
    r.measure_start_ns = 1000;
    c.run = &r;
    c.path = LT_PATH_EFO;
    c.seen = seen;
    hist_init(&c.hist);
    hist_init(&c.leg_in);
    hist_init(&c.leg_out);
    p.c = &c;
}

/* Base64 Data of our record id sent at sent_ns (magic "SCLT" unless other). */
static void data_b64(uint64_t id, int64_t sent_ns, bool other, char *out)
{
    uint8_t pl[RECORD_SIZE];
    memset(pl, 'x', sizeof(pl));
    memcpy(pl, other ? "XXXX" : LT_MAGIC, 4);
    for (int i = 0; i < 8; i++) {
        pl[4 + i] = (uint8_t)((uint64_t)sent_ns >> (56 - 8 * i));
        pl[12 + i] = (uint8_t)(id >> (56 - 8 * i));
    }
    EVP_EncodeBlock((unsigned char *)out, pl, RECORD_SIZE);
}

static void scan(const char *json)
{
    efo_scan_event(&p, json, strlen(json), 2000000);
}

static void test_compact(void)
{
    reset();
    char a[64], b[64], json[512];
    data_b64(1, 5000, false, a);
    data_b64(2, 6000, false, b);
    snprintf(json, sizeof(json),
             "{\"Records\":[{\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":1.5,"
             "\"Data\":\"%s\",\"PartitionKey\":\"1\"},{\"SequenceNumber\":\"2\",\"Data\":\"%s\","
             "\"PartitionKey\":\"2\"}],\"ContinuationSequenceNumber\":\"49\","
             "\"MillisBehindLatest\":7,\"ChildShards\":[]}",
             a, b);
    scan(json);
    CHECK_EQ_INT(c.received, 2);
    CHECK_EQ_INT(p.records, 2);
    CHECK_EQ_INT(p.bytes, 2 * RECORD_SIZE);
    CHECK_EQ_STR(p.continuation, "49");
    CHECK_EQ_INT(r.stats[LT_PATH_EFO].millis_behind_max, 7);
    CHECK(!p.ended);
    CHECK_EQ_INT(c.hist.total, 2);
    CHECK_EQ_INT(c.hist.max_us, (2000000 - 5000) / 1000);
    /* Only the first record carries an arrival stamp (1.5 s, after the reception at 2 ms:
     * a clock skew, counted as 0 on the far side). */
    CHECK_EQ_INT(c.leg_in.total, 1);
    CHECK_EQ_INT(c.leg_in.max_us, (1500000000 - 5000) / 1000);
    CHECK_EQ_INT(c.leg_out.total, 1);
    CHECK_EQ_INT(c.leg_out.max_us, 0);
    /* The same record again is a duplicate, not a delivery. */
    scan(json);
    CHECK_EQ_INT(c.received, 2);
    CHECK_EQ_INT(c.duplicates, 2);
    CHECK_EQ_INT(p.records, 2);
}

static void test_spaced_reordered_and_tricky_values(void)
{
    reset();
    char a[64], json[512];
    data_b64(3, 5000, false, a);
    /* Key order differs, whitespace everywhere, a partition key holding an escaped
     * "Data":"..." and another equal to the key name "Data". */
    snprintf(json, sizeof(json),
             "{ \"ContinuationSequenceNumber\" : \"50\",\n  \"MillisBehindLatest\" : 12 ,"
             "\"Records\" : [ { \"PartitionKey\" : \"a\\\"Data\\\":\\\"QUJD\" ,"
             "\"Data\" :\t\"%s\" }, { \"PartitionKey\": \"Data\", \"SequenceNumber\": \"9\" } ],"
             " \"ChildShards\" : [ ] }",
             a);
    scan(json);
    CHECK_EQ_INT(c.received, 1);
    CHECK_EQ_INT(p.records, 1);
    CHECK_EQ_STR(p.continuation, "50");
    CHECK_EQ_INT(r.stats[LT_PATH_EFO].millis_behind_last, 12);
    CHECK(!p.ended);
}

/* The delay split at the server's arrival stamp, as shardcastd lays out a record. */
static void test_legs(void)
{
    reset();
    char a[64], json[512];
    int64_t sent = 1764124800100000000; /* ns */
    r.measure_start_ns = sent - 1;
    data_b64(7, sent, false, a);
    snprintf(json, sizeof(json),
             "{\"ContinuationSequenceNumber\":\"52\",\"MillisBehindLatest\":0,\"Records\":["
             "{\"SequenceNumber\":\"7\",\"ApproximateArrivalTimestamp\":1764124800.103,"
             "\"Data\":\"%s\",\"PartitionKey\":\"k\"}]}",
             a);
    efo_scan_event(&p, json, strlen(json), sent + 10000000); /* received 10 ms after sending */
    CHECK_EQ_INT(c.received, 1);
    CHECK_EQ_INT(c.hist.max_us, 10000);
    CHECK_EQ_INT(c.leg_in.total, 1);
    CHECK_EQ_INT(c.leg_in.max_us, 3000);
    CHECK_EQ_INT(c.leg_out.max_us, 7000);
}

static void test_not_ours_and_warmup(void)
{
    reset();
    char a[64], b[64], json[512];
    data_b64(4, 5000, true, a); /* another producer's record */
    data_b64(5, 500, false, b); /* ours, sent during warm-up */
    snprintf(json, sizeof(json),
             "{\"Records\":[{\"Data\":\"%s\"},{\"Data\":\"%s\"},{\"Data\":\"QUJD\"}],"
             "\"ContinuationSequenceNumber\":\"51\",\"MillisBehindLatest\":0}",
             a, b);
    scan(json);
    CHECK_EQ_INT(c.received, 0);
    CHECK_EQ_INT(p.records, 0);
    CHECK_EQ_INT(p.bytes, 0);
    CHECK_EQ_STR(p.continuation, "51");
}

static void test_end_of_shard(void)
{
    reset();
    scan("{\"Records\":[],\"MillisBehindLatest\":0,\"ChildShards\":[{\"ShardId\":"
         "\"shardId-000000000002\",\"ParentShards\":[\"shardId-000000000000\"]}]}");
    CHECK(p.ended);
    CHECK_EQ_STR(p.continuation, "");
}

static void test_truncated(void)
{
    reset();
    char a[64], json[256];
    data_b64(6, 5000, false, a);
    snprintf(json, sizeof(json), "{\"Records\":[{\"Data\":\"%.*s", 20, a);
    scan(json); /* no closing quote: nothing counted, nothing read past the end */
    scan("{\"ContinuationSequenceNumber\":\"12");
    scan("{\"MillisBehindLatest\":");
    CHECK_EQ_INT(c.received, 0);
    CHECK_EQ_STR(p.continuation, "");
    CHECK_EQ_INT(r.stats[LT_PATH_EFO].millis_behind_max, 0);
}

int main(void)
{
    TEST_RUN(test_compact);
    TEST_RUN(test_spaced_reordered_and_tricky_values);
    TEST_RUN(test_legs);
    TEST_RUN(test_not_ours_and_warmup);
    TEST_RUN(test_end_of_shard);
    TEST_RUN(test_truncated);
    TEST_EXIT();
}
