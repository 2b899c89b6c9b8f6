/* Unit tests for subscribe/eventstream.c: the golden frames of kinesis-protocol.md §6.4/§6.5
 * byte for byte, round trips of every header type, every truncation and split point, single bit
 * flips, crafted malformed messages with valid CRCs, and seeded random messages
 * (EVENTSTREAM_SEED=<n> replays a run). */
#include "subscribe/eventstream.h"

#include <time.h>

#include "common/common.h"
#include "common/crc32.h"
#include "common/refbuf.h"
#include "test.h"

/* Hex text (spaces ignored) into dst; returns bytes. */
static size_t unhex(uint8_t *dst, const char *hex)
{
    size_t n = 0;
    int hi = -1;
    for (; *hex; hex++) {
        int v;
        if (*hex >= '0' && *hex <= '9')
            v = *hex - '0';
        else if (*hex >= 'a' && *hex <= 'f')
            v = *hex - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            dst[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool header_is(const struct eventstream_message *m, const char *name, const char *value)
{
    struct eventstream_header h;
    if (!eventstream_message_header(m, name, &h) || h.type != EVENTSTREAM_STRING)
        return false;
    return h.v.bytes.len == strlen(value) && memcmp(h.v.bytes.ptr, value, h.v.bytes.len) == 0;
}

static void test_golden_empty(void)
{
    uint8_t want[16];
    CHECK_EQ_INT(unhex(want, "00000010 00000000 05c248eb 7d98c8ff"), 16);
    struct refbuf *b;
    CHECK_EQ_INT(eventstream_encode(NULL, 0, NULL, 0, &b), 0);
    CHECK_EQ_INT(b->len, 16);
    CHECK(memcmp(b->data, want, 16) == 0);
    struct eventstream_message m;
    CHECK_EQ_INT(eventstream_parse(want, 16, 0, &m), 0);
    CHECK_EQ_INT(m.header_count, 0);
    CHECK_EQ_INT(m.payload_len, 0);
    refbuf_decref(b);
}

static void test_golden_initial_response(void)
{
    uint8_t want[128];
    size_t n = unhex(want, "00000068 00000056 4e681724"
                           "0d 3a6d6573736167652d74797065 07 0005 6576656e74"
                           "0b 3a6576656e742d74797065 07 0010 696e697469616c2d726573706f6e7365"
                           "0d 3a636f6e74656e742d74797065 07 0010 6170706c69636174696f6e2f6a736f6e"
                           "7b7d fe942c1d");
    CHECK_EQ_INT(n, 104);
    struct refbuf *b;
    CHECK_EQ_INT(eventstream_encode_initial_response(EVENTSTREAM_CODEC_JSON, &b), 0);
    CHECK_EQ_INT(b->len, 104);
    CHECK(memcmp(b->data, want, 104) == 0);
    refbuf_decref(b);
    struct eventstream_message m;
    CHECK_EQ_INT(eventstream_parse(want, n, 0, &m), 0);
    CHECK_EQ_INT(m.header_count, 3);
    CHECK(header_is(&m, ":event-type", "initial-response"));
    CHECK_EQ_INT(m.payload_len, 2);
    /* CBOR: same headers but the content type, payload A0. */
    CHECK_EQ_INT(eventstream_encode_initial_response(EVENTSTREAM_CODEC_CBOR, &b), 0);
    CHECK_EQ_INT(eventstream_parse(b->data, b->len, 0, &m), 0);
    CHECK(header_is(&m, ":content-type", "application/x-amz-cbor-1.1"));
    CHECK(m.payload_len == 1 && m.payload[0] == 0xa0);
    refbuf_decref(b);
}

static const char EVENT_PAYLOAD[] =
    "{\"ContinuationSequenceNumber\":\"49590338271490256608559692538361571095921575989136588898\","
    "\"MillisBehindLatest\":0,\"Records\":[{\"ApproximateArrivalTimestamp\":1700000000.123,"
    "\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"pk1\",\"SequenceNumber\":"
    "\"49590338271490256608559692538361571095921575989136588898\"}]}";

static void test_golden_subscribe_event(void)
{
    CHECK_EQ_INT(strlen(EVENT_PAYLOAD), 286);
    uint8_t head[128], end[16];
    size_t hn = unhex(head, "000001890000005bee3156530d3a6d6573736167652d74797065070005657665"
                            "6e740b3a6576656e742d74797065070015537562736372696265546f53686172"
                            "644576656e740d3a636f6e74656e742d747970650700106170706c6963617469"
                            "6f6e2f6a736f6e7b22436f6e74696e756174696f6e53657175656e63654e756d");
    size_t en = unhex(end, "38227d5d7dac1b2909");
    struct refbuf *b;
    CHECK_EQ_INT(eventstream_encode_event("SubscribeToShardEvent", EVENTSTREAM_CODEC_JSON,
                                          EVENT_PAYLOAD, 286, &b),
                 0);
    CHECK_EQ_INT(b->len, 393);
    CHECK_EQ_INT(be32(b->data + 4), 91);
    CHECK_EQ_INT(be32(b->data + 8), 0xee315653);
    CHECK_EQ_INT(be32(b->data + 389), 0xac1b2909);
    CHECK(memcmp(b->data, head, hn) == 0);
    CHECK(memcmp(b->data + 393 - en, end, en) == 0);
    CHECK(memcmp(b->data + 12 + 91, EVENT_PAYLOAD, 286) == 0);
    refbuf_decref(b);
}

static void test_golden_exception_and_error(void)
{
    struct refbuf *b;
    CHECK_EQ_INT(
        eventstream_encode_exception("ResourceInUseException", EVENTSTREAM_CODEC_JSON, "x", &b), 0);
    CHECK_EQ_INT(b->len, 131);
    CHECK_EQ_INT(be32(b->data), 131);
    CHECK_EQ_INT(be32(b->data + 4), 100);
    CHECK_EQ_INT(be32(b->data + 8), 0xd9bbb06a);
    CHECK_EQ_INT(be32(b->data + 127), 0xe1ecdf10);
    struct eventstream_message m;
    CHECK_EQ_INT(eventstream_parse(b->data, b->len, 0, &m), 0);
    CHECK(header_is(&m, ":message-type", "exception"));
    CHECK(header_is(&m, ":exception-type", "ResourceInUseException"));
    CHECK(m.payload_len == 15 && memcmp(m.payload, "{\"message\":\"x\"}", 15) == 0);
    refbuf_decref(b);

    /* JSON escaping of quotes, backslashes and control characters. */
    CHECK_EQ_INT(eventstream_encode_exception("InternalFailureException", EVENTSTREAM_CODEC_JSON,
                                              "a\"b\\c\nd\x01", &b),
                 0);
    CHECK_EQ_INT(eventstream_parse(b->data, b->len, 0, &m), 0);
    static const char esc[] = "{\"message\":\"a\\\"b\\\\c\\u000ad\\u0001\"}";
    CHECK(m.payload_len == strlen(esc) && memcmp(m.payload, esc, m.payload_len) == 0);
    refbuf_decref(b);

    /* CBOR: {"message": "x"} = a1 67 "message" 61 "x". */
    CHECK_EQ_INT(
        eventstream_encode_exception("ResourceNotFoundException", EVENTSTREAM_CODEC_CBOR, "x", &b),
        0);
    CHECK_EQ_INT(eventstream_parse(b->data, b->len, 0, &m), 0);
    static const uint8_t cbor[] = {0xa1, 0x67, 'm', 'e', 's', 's', 'a', 'g', 'e', 0x61, 'x'};
    CHECK(m.payload_len == sizeof(cbor) && memcmp(m.payload, cbor, sizeof(cbor)) == 0);
    refbuf_decref(b);

    CHECK_EQ_INT(eventstream_encode_error("InternalError", "boom", &b), 0);
    CHECK_EQ_INT(eventstream_parse(b->data, b->len, 0, &m), 0);
    CHECK(header_is(&m, ":message-type", "error"));
    CHECK(header_is(&m, ":error-code", "InternalError"));
    CHECK(header_is(&m, ":error-message", "boom"));
    CHECK_EQ_INT(m.payload_len, 0);
    refbuf_decref(b);
}

static void test_all_types_round_trip(void)
{
    static const uint8_t blob[] = {0, 1, 2, 0xff};
    struct eventstream_header h[10] = {
        {.name = "t", .name_len = 1, .type = EVENTSTREAM_TRUE},
        {.name = "f", .name_len = 1, .type = EVENTSTREAM_FALSE},
        {.name = "byte", .name_len = 4, .type = EVENTSTREAM_BYTE, .v.i = -5},
        {.name = "short", .name_len = 5, .type = EVENTSTREAM_SHORT, .v.i = -30000},
        {.name = "int", .name_len = 3, .type = EVENTSTREAM_INT, .v.i = -2000000000},
        {.name = "long", .name_len = 4, .type = EVENTSTREAM_LONG, .v.i = INT64_MIN + 7},
        {.name = "bytes",
         .name_len = 5,
         .type = EVENTSTREAM_BYTES,
         .v.bytes = {.ptr = blob, .len = sizeof(blob)}},
        {.name = "str",
         .name_len = 3,
         .type = EVENTSTREAM_STRING,
         .v.bytes = {.ptr = (const uint8_t *)"h\xc3\xa9llo", .len = 6}},
        {.name = "ts", .name_len = 2, .type = EVENTSTREAM_TIMESTAMP, .v.i = 1700000000123},
        {.name = "uuid",
         .name_len = 4,
         .type = EVENTSTREAM_UUID,
         .v.uuid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
    };
    struct refbuf *b;
    CHECK_EQ_INT(eventstream_encode(h, 10, "pay", 3, &b), 0);
    struct eventstream_message m;
    CHECK_EQ_INT(eventstream_parse(b->data, b->len, 0, &m), 0);
    CHECK_EQ_INT(m.header_count, 10);
    size_t cursor = 0, i = 0;
    struct eventstream_header got;
    while (eventstream_header_next(&m, &cursor, &got) && i < 10) {
        CHECK(got.name_len == h[i].name_len && memcmp(got.name, h[i].name, got.name_len) == 0);
        CHECK_EQ_INT(got.type, h[i].type);
        if (h[i].type == EVENTSTREAM_BYTES || h[i].type == EVENTSTREAM_STRING)
            CHECK(got.v.bytes.len == h[i].v.bytes.len &&
                  memcmp(got.v.bytes.ptr, h[i].v.bytes.ptr, got.v.bytes.len) == 0);
        else if (h[i].type == EVENTSTREAM_UUID)
            CHECK(memcmp(got.v.uuid, h[i].v.uuid, 16) == 0);
        else if (h[i].type != EVENTSTREAM_TRUE && h[i].type != EVENTSTREAM_FALSE)
            CHECK_EQ_INT(got.v.i, h[i].v.i);
        i++;
    }
    CHECK_EQ_INT(i, 10);
    CHECK(m.payload_len == 3 && memcmp(m.payload, "pay", 3) == 0);
    refbuf_decref(b);

    /* Encoder refusals. */
    struct eventstream_header bad = {.name = "", .name_len = 0, .type = EVENTSTREAM_TRUE};
    CHECK_EQ_INT(eventstream_encode(&bad, 1, NULL, 0, &b), EVENTSTREAM_ERR_HEADER_NAME);
    bad = (struct eventstream_header){.name = "x", .name_len = 1, .type = EVENTSTREAM_STRING};
    bad.v.bytes.len = EVENTSTREAM_VALUE_MAX + 1;
    CHECK_EQ_INT(eventstream_encode(&bad, 1, NULL, 0, &b), EVENTSTREAM_ERR_VALUE_TOO_LONG);
    bad = (struct eventstream_header){.name = "x", .name_len = 1, .type = 10};
    CHECK_EQ_INT(eventstream_encode(&bad, 1, NULL, 0, &b), EVENTSTREAM_ERR_HEADER_TYPE);
    CHECK_EQ_INT(eventstream_encode(NULL, 0, "", EVENTSTREAM_MAX_LEN - 15, &b),
                 EVENTSTREAM_ERR_TOO_LONG);
}

/* A message with the given raw header bytes and payload, valid CRCs, and the prelude lengths
 * optionally overridden (0 = true value). Returns its length in dst. */
static size_t craft(uint8_t *dst, const uint8_t *hdrs, size_t hlen, const char *payload,
                    uint32_t total_override, uint32_t hlen_override)
{
    size_t plen = strlen(payload), total = 16 + hlen + plen;
    uint32_t t = total_override ? total_override : (uint32_t)total;
    uint32_t h = hlen_override ? hlen_override : (uint32_t)hlen;
    eventstream_put_prelude(dst, t, h);
    if (hlen > 0)
        memcpy(dst + 12, hdrs, hlen);
    memcpy(dst + 12 + hlen, payload, plen);
    uint32_t crc = crc32_update(0, dst, total - 4);
    uint8_t *c = dst + total - 4;
    c[0] = (uint8_t)(crc >> 24);
    c[1] = (uint8_t)(crc >> 16);
    c[2] = (uint8_t)(crc >> 8);
    c[3] = (uint8_t)crc;
    return total;
}

static void test_malformed(void)
{
    uint8_t buf[512], hdr[64];
    struct eventstream_message m;
    size_t hl, n;

    hl = unhex(hdr, "01 61 0a"); /* type 10 */
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADER_TYPE);
    hl = unhex(hdr, "01 61 ff");
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADER_TYPE);
    hl = unhex(hdr, "00 00"); /* empty name */
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADER_NAME);
    hl = unhex(hdr, "05 6162"); /* name runs out */
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADER_TRUNCATED);
    hl = unhex(hdr, "01 61 07 0005 6162"); /* string runs out */
    n = craft(buf, hdr, hl, "xyz", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADER_TRUNCATED);
    hl = unhex(hdr, "01 61 07 00"); /* string length cut */
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADER_TRUNCATED);
    hl = unhex(hdr, "01 61 05 000000"); /* long cut */
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADER_TRUNCATED);
    hl = unhex(hdr, "01 61 09 00010203"); /* uuid cut */
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADER_TRUNCATED);
    hl = unhex(hdr, "02 6162 00 01 62 01 02 6162 02 07"); /* "ab" twice */
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_DUPLICATE_HEADER);
    hl = unhex(hdr, "02 6162 00 02 6163 00"); /* "ab", "ac": fine */
    n = craft(buf, hdr, hl, "", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), 0);
    CHECK_EQ_INT(m.header_count, 2);

    /* Prelude lengths that lie, with a correct prelude CRC. */
    n = craft(buf, NULL, 0, "abc", 15, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_TOTAL_LEN);
    n = craft(buf, NULL, 0, "abc", 0, 4); /* headers longer than the message allows */
    CHECK_EQ_INT(eventstream_parse(buf, n, 0, &m), EVENTSTREAM_ERR_HEADERS_LEN);
    n = craft(buf, NULL, 0, "abc", 0, 0);
    CHECK_EQ_INT(eventstream_parse(buf, n, 18, &m), EVENTSTREAM_ERR_TOO_LONG);
    CHECK_EQ_INT(eventstream_parse(buf, n - 1, 0, &m), EVENTSTREAM_ERR_TOTAL_LEN);
    eventstream_put_prelude(buf, EVENTSTREAM_MAX_LEN + 1, 0);
    CHECK_EQ_INT(eventstream_parse(buf, 16, 0, &m), EVENTSTREAM_ERR_TOO_LONG);
    eventstream_put_prelude(buf, EVENTSTREAM_MAX_LEN, EVENTSTREAM_HEADERS_MAX + 1);
    CHECK_EQ_INT(eventstream_parse(buf, 16, 0, &m), EVENTSTREAM_ERR_HEADERS_LEN);

    /* The incremental decoder reports the same codes and keeps them. */
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 0);
    size_t used;
    eventstream_put_prelude(buf, EVENTSTREAM_MAX_LEN + 1, 0);
    CHECK_EQ_INT(eventstream_decoder_next(&d, buf, 5, &used, &m), 0);
    CHECK_EQ_INT(eventstream_decoder_next(&d, buf + 5, 7, &used, &m), EVENTSTREAM_ERR_TOO_LONG);
    CHECK_EQ_INT(eventstream_decoder_next(&d, buf, 16, &used, &m), EVENTSTREAM_ERR_TOO_LONG);
    CHECK(!eventstream_decoder_idle(&d));
    eventstream_decoder_dispose(&d);
    CHECK_EQ_STR(eventstream_strerror(EVENTSTREAM_ERR_DUPLICATE_HEADER), "duplicate_header");
}

/* Big header block: many unique names go through the heap-backed duplicate check. */
static void test_many_headers(void)
{
    enum { N = 3000 };
    struct eventstream_header *h = sc_calloc(N, sizeof(*h));
    char *names = sc_malloc(N * 8);
    for (size_t i = 0; i < N; i++) {
        int len = snprintf(names + i * 8, 8, "h%zu", i);
        h[i] = (struct eventstream_header){
            .name = names + i * 8, .name_len = (size_t)len, .type = EVENTSTREAM_TRUE};
    }
    struct refbuf *b;
    CHECK_EQ_INT(eventstream_encode(h, N, NULL, 0, &b), 0);
    struct eventstream_message m;
    CHECK_EQ_INT(eventstream_parse(b->data, b->len, 0, &m), 0);
    CHECK_EQ_INT(m.header_count, N);
    refbuf_decref(b);
    h[N - 1].name = h[17].name; /* a late duplicate */
    h[N - 1].name_len = h[17].name_len;
    CHECK_EQ_INT(eventstream_encode(h, N, NULL, 0, &b), 0);
    CHECK_EQ_INT(eventstream_parse(b->data, b->len, 0, &m), EVENTSTREAM_ERR_DUPLICATE_HEADER);
    refbuf_decref(b);
    free(names);
    free(h);
}

static struct refbuf *golden_event(void)
{
    struct refbuf *b;
    ASSERT(eventstream_encode_event("SubscribeToShardEvent", EVENTSTREAM_CODEC_JSON, EVENT_PAYLOAD,
                                    286, &b) == 0);
    return b;
}

static void test_truncation_and_splits(void)
{
    struct refbuf *b = golden_event();
    struct eventstream_message m;
    for (size_t cut = 0; cut < b->len; cut++) {
        CHECK(eventstream_parse(b->data, cut, 0, &m) < 0);
        /* The decoder waits for more at every cut, then completes with the rest. */
        struct eventstream_decoder d;
        eventstream_decoder_init(&d, 0);
        size_t used;
        CHECK_EQ_INT(eventstream_decoder_next(&d, b->data, cut, &used, &m), 0);
        CHECK_EQ_INT(used, cut);
        CHECK(eventstream_decoder_idle(&d) == (cut == 0));
        CHECK_EQ_INT(eventstream_decoder_next(&d, b->data + cut, b->len - cut, &used, &m), 1);
        CHECK_EQ_INT(used, b->len - cut);
        CHECK(m.payload_len == 286 && memcmp(m.payload, EVENT_PAYLOAD, 286) == 0);
        CHECK_EQ_INT(eventstream_decoder_next(&d, NULL, 0, &used, &m), 0);
        CHECK(eventstream_decoder_idle(&d));
        eventstream_decoder_dispose(&d);
    }
    /* Byte at a time, three messages back to back. */
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 0);
    int got = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < b->len; i++) {
            size_t used;
            int rc = eventstream_decoder_next(&d, b->data + i, 1, &used, &m);
            CHECK_EQ_INT(used, 1);
            CHECK_EQ_INT(rc, i + 1 == b->len ? 1 : 0);
            got += rc == 1 && m.payload_len == 286;
        }
    }
    CHECK_EQ_INT(got, 3);
    eventstream_decoder_dispose(&d);
    refbuf_decref(b);
}

static void test_bit_flips(void)
{
    struct refbuf *b = golden_event();
    uint8_t *copy = sc_malloc(b->len);
    int detected = 0, total = 0;
    for (size_t bit = 0; bit < b->len * 8; bit++) {
        memcpy(copy, b->data, b->len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        struct eventstream_message m;
        struct eventstream_decoder d;
        eventstream_decoder_init(&d, 0);
        size_t used;
        int rc = eventstream_decoder_next(&d, copy, b->len, &used, &m);
        if (rc == 0) /* a flipped length asks for more bytes: still never a message */
            rc = eventstream_parse(copy, b->len, 0, &m);
        detected += rc < 0;
        total++;
        eventstream_decoder_dispose(&d);
    }
    CHECK_EQ_INT(detected, total);
    free(copy);
    refbuf_decref(b);
}

static uint32_t rnd(void)
{
    return (uint32_t)(test_rng() >> 11);
}

static void test_random_messages(void)
{
    test_seed("random messages", "EVENTSTREAM_SEED");
    enum { MSGS = 300 };
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 0);
    for (int k = 0; k < MSGS; k++) {
        struct eventstream_header h[12];
        char names[12][8];
        uint8_t vals[12][64];
        size_t nh = rnd() % 12;
        for (size_t i = 0; i < nh; i++) {
            snprintf(names[i], sizeof(names[i]), "n%zu", i);
            h[i] = (struct eventstream_header){.name = names[i],
                                               .name_len = strlen(names[i]),
                                               .type = (enum eventstream_type)(rnd() % 10)};
            for (size_t j = 0; j < sizeof(vals[i]); j++)
                vals[i][j] = (uint8_t)rnd();
            if (h[i].type == EVENTSTREAM_BYTES || h[i].type == EVENTSTREAM_STRING)
                h[i].v.bytes = (typeof(h[i].v.bytes)){.ptr = vals[i], .len = rnd() % 64};
            else if (h[i].type == EVENTSTREAM_UUID)
                memcpy(h[i].v.uuid, vals[i], 16);
            else
                h[i].v.i = (int64_t)((uint64_t)rnd() << 32 | rnd());
        }
        size_t plen = rnd() % 3 == 0 ? rnd() % 70000 : rnd() % 100;
        uint8_t *payload = sc_malloc(plen + 1);
        for (size_t j = 0; j < plen; j++)
            payload[j] = (uint8_t)rnd();
        struct refbuf *b;
        CHECK_EQ_INT(eventstream_encode(h, nh, payload, plen, &b), 0);
        /* Feed in random slices; exactly one message must come out, equal to what went in. */
        size_t off = 0;
        int msgs = 0;
        while (off < b->len) {
            size_t slice = SC_MIN(b->len - off, (size_t)(1 + rnd() % 5000)), used;
            struct eventstream_message m;
            int rc = eventstream_decoder_next(&d, b->data + off, slice, &used, &m);
            CHECK(rc >= 0);
            if (rc < 0)
                break;
            off += used;
            if (rc == 1) {
                msgs++;
                CHECK_EQ_INT(m.header_count, nh);
                CHECK(m.payload_len == plen && memcmp(m.payload, payload, plen) == 0);
                CHECK(m.headers_len == b->len - 16 - plen &&
                      memcmp(m.headers, b->data + 12, m.headers_len) == 0);
            }
        }
        CHECK_EQ_INT(msgs, 1);
        refbuf_decref(b);
        free(payload);
    }
    CHECK(eventstream_decoder_idle(&d));
    eventstream_decoder_dispose(&d);
}

int main(void)
{
    TEST_RUN(test_golden_empty);
    TEST_RUN(test_golden_initial_response);
    TEST_RUN(test_golden_subscribe_event);
    TEST_RUN(test_golden_exception_and_error);
    TEST_RUN(test_all_types_round_trip);
    TEST_RUN(test_malformed);
    TEST_RUN(test_many_headers);
    TEST_RUN(test_truncation_and_splits);
    TEST_RUN(test_bit_flips);
    TEST_RUN(test_random_messages);
    TEST_EXIT();
}
