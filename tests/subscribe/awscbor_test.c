/* Unit tests for subscribe/awscbor.c: golden bytes both ways (the protocol reference's tag-1
 * example, Jackson's indefinite-length containers, chunked strings, float16/32/64, every integer
 * width, base64 <-> byte strings), malformed and hostile input refused with the right code and
 * offset, the nesting limit, and seeded random round trips (AWSCBOR_SEED=<n> replays a run). */
#include "subscribe/awscbor.h"

#include <inttypes.h>
#include <stdbool.h>

#include "common/common.h"
#include "test.h"

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

/* ---- helpers ------------------------------------------------------------------------------- */

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "  %s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 64; i++)
        fprintf(stderr, " %02x", p[i]);
    fprintf(stderr, "%s\n", n > 64 ? " ..." : "");
}

/* CBOR -> JSON must give exactly `want`. */
static void json_is(int line, const uint8_t *in, size_t n, const char *want)
{
    char *out = NULL;
    size_t len = 0, off = 0;
    int rc = awscbor_to_json(in, n, &out, &len, &off);
    test_checks++;
    if (rc != 0 || len != strlen(want) || memcmp(out, want, len) != 0 || out[len] != '\0') {
        test_failures++;
        fprintf(stderr, "line %d: to_json rc %d (%s at %zu): got %s, want %s\n", line, rc,
                awscbor_strerror(rc), off, rc == 0 ? out : "-", want);
        hexdump("input", in, n);
    }
    free(out);
}
#define JSON_IS(want, ...) json_is(__LINE__, BYTES(__VA_ARGS__), want)

/* CBOR -> JSON must fail with err at offset `at`. */
static void cbor_bad(int line, const uint8_t *in, size_t n, int err, size_t at)
{
    char *out = NULL;
    size_t len = 0, off = SIZE_MAX;
    int rc = awscbor_to_json(in, n, &out, &len, &off);
    test_checks++;
    if (rc != err || off != at) {
        test_failures++;
        fprintf(stderr, "line %d: to_json rc %d (%s) at %zu, want %d (%s) at %zu\n", line, rc,
                awscbor_strerror(rc), off, err, awscbor_strerror(err), at);
        hexdump("input", in, n);
    }
    if (rc == 0)
        free(out);
}
#define CBOR_BAD(err, at, ...) cbor_bad(__LINE__, BYTES(__VA_ARGS__), err, at)

/* JSON -> CBOR must give exactly the bytes want[0..wn). */
static void cbor_is(int line, const char *json, const uint8_t *want, size_t wn)
{
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = awscbor_from_json(json, strlen(json), &out, &len);
    test_checks++;
    if (rc != 0 || len != wn || memcmp(out, want, wn) != 0) {
        test_failures++;
        fprintf(stderr, "line %d: from_json(%s) rc %d (%s)\n", line, json, rc,
                awscbor_strerror(rc));
        if (rc == 0)
            hexdump("got", out, len);
        hexdump("want", want, wn);
    }
    if (rc == 0)
        free(out);
}
#define CBOR_IS(json, ...) cbor_is(__LINE__, json, BYTES(__VA_ARGS__))

static void json_bad(int line, const char *json, int err)
{
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = awscbor_from_json(json, strlen(json), &out, &len);
    test_checks++;
    if (rc != err) {
        test_failures++;
        fprintf(stderr, "line %d: from_json(%s) rc %d (%s), want %d (%s)\n", line, json, rc,
                awscbor_strerror(rc), err, awscbor_strerror(err));
    }
    if (rc == 0)
        free(out);
}
#define JSON_BAD(json, err) json_bad(__LINE__, json, err)

/* ---- CBOR -> JSON -------------------------------------------------------------------------- */

static void test_timestamps_in(void)
{
    /* kinesis-protocol.md §1.5: Java's tag 1 + integer epoch millis. */
    JSON_IS("{\"Timestamp\":1700000000.123}", 0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm',
            'p', 0xc1, 0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b);
    /* Tag 1 decides wherever it is; whole seconds print as an integer. */
    JSON_IS("[1700000000.123,1700000000,0.001,0]", 0x84, 0xc1, 0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf,
            0xe5, 0x68, 0x7b, 0xc1, 0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0xc1,
            0x01, 0xc1, 0x00);
    /* Before 1970: -1500 ms. */
    JSON_IS("-1.500", 0xc1, 0x39, 0x05, 0xdb);
    /* A member named ...Timestamp holds millis even untagged (Java's reading of payloads). */
    JSON_IS("{\"StreamCreationTimestamp\":1700000000.500}", 0xa1, 0x77, 'S', 't', 'r', 'e', 'a',
            'm', 'C', 'r', 'e', 'a', 't', 'i', 'o', 'n', 'T', 'i', 'm', 'e', 's', 't', 'a', 'm',
            'p', 0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x69, 0xf4);
    /* ... but other members' integers stay integers. */
    JSON_IS("{\"Limit\":1700000000123}", 0xa1, 0x65, 'L', 'i', 'm', 'i', 't', 0x1b, 0x00, 0x00,
            0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b);
    /* The name test spans the chunks of an indefinite key: "Time" "stamp". */
    JSON_IS("{\"Timestamp\":2}", 0xa1, 0x7f, 0x64, 'T', 'i', 'm', 'e', 0x65, 's', 't', 'a', 'm',
            'p', 0xff, 0x19, 0x07, 0xd0);
    /* A float under tag 1 is millis too (the SDKs' unit), rounded to whole millis:
     * 1700000000123.0 and 1.5 ms. */
    JSON_IS("[1700000000.123,0.002]", 0x82, 0xc1, 0xfb, 0x42, 0x78, 0xbc, 0xfe, 0x56, 0x87, 0xb0,
            0x00, 0xc1, 0xf9, 0x3e, 0x00);
    /* Times stop where a Java long of millis does, both ways (awscbor_fuzz found the edge). */
    JSON_IS("[9223372036854775.807,-9223372036854775.808]", 0x82, 0xc1, 0x1b, 0x7f, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xc1, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff);
    CBOR_BAD(AWSCBOR_ERR_VALUE, 2, 0x81, 0xc1, 0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0);
    CBOR_BAD(AWSCBOR_ERR_VALUE, 2, 0x81, 0xc1, 0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0);
    CBOR_BAD(AWSCBOR_ERR_VALUE, 11, 0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xfb,
             0x43, 0xe0, 0, 0, 0, 0, 0, 0); /* 2^63 as a float */
    /* Tag 1 on a string keeps the string; unknown tags are skipped (2, 55799). */
    JSON_IS("[\"x\",\"AQ==\",5]", 0x83, 0xc1, 0x61, 'x', 0xc2, 0x41, 0x01, 0xd9, 0xd9, 0xf7, 0x05);
}

static void test_containers(void)
{
    /* Jackson's shape of a PutRecord: indefinite map, byte string Data. */
    JSON_IS("{\"StreamName\":\"s\",\"Data\":\"AAD/\",\"PartitionKey\":\"k\"}", 0xbf, 0x6a, 'S', 't',
            'r', 'e', 'a', 'm', 'N', 'a', 'm', 'e', 0x61, 's', 0x64, 'D', 'a', 't', 'a', 0x43, 0x00,
            0x00, 0xff, 0x6c, 'P', 'a', 'r', 't', 'i', 't', 'i', 'o', 'n', 'K', 'e', 'y', 0x61, 'k',
            0xff);
    /* Indefinite arrays and maps nested, empty ones of both kinds. */
    JSON_IS("[[],{},[1,[2]],{\"a\":[]}]", 0x9f, 0x9f, 0xff, 0xbf, 0xff, 0x82, 0x01, 0x9f, 0x02,
            0xff, 0xa1, 0x61, 'a', 0x80, 0xff);
    JSON_IS("{}", 0xa0);
    JSON_IS("[]", 0x80);
    /* Chunked text and bytes; a byte string split mid-triple still encodes as one base64. */
    JSON_IS("\"abc\"", 0x7f, 0x62, 'a', 'b', 0x61, 'c', 0xff);
    JSON_IS("\"\"", 0x7f, 0xff);
    JSON_IS("\"AAEC\"", 0x5f, 0x41, 0x00, 0x42, 0x01, 0x02, 0xff);
    JSON_IS("\"AAECAw==\"", 0x5f, 0x41, 0x00, 0x40, 0x43, 0x01, 0x02, 0x03, 0xff);
    /* 24+ members: the two-byte count. */
    uint8_t big[2 + 24];
    big[0] = 0x98;
    big[1] = 24;
    memset(big + 2, 0x07, 24);
    json_is(__LINE__, big, sizeof(big), "[7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7]");
}

static void test_scalars(void)
{
    JSON_IS("0", 0x00);
    JSON_IS("23", 0x17);
    JSON_IS("24", 0x18, 0x18);
    JSON_IS("255", 0x18, 0xff);
    JSON_IS("256", 0x19, 0x01, 0x00);
    JSON_IS("65535", 0x19, 0xff, 0xff);
    JSON_IS("65536", 0x1a, 0x00, 0x01, 0x00, 0x00);
    JSON_IS("4294967295", 0x1a, 0xff, 0xff, 0xff, 0xff);
    JSON_IS("4294967296", 0x1b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00);
    JSON_IS("18446744073709551615", 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    JSON_IS("-1", 0x20);
    JSON_IS("-24", 0x37);
    JSON_IS("-25", 0x38, 0x18);
    JSON_IS("-257", 0x39, 0x01, 0x00);
    JSON_IS("-65537", 0x3a, 0x00, 0x01, 0x00, 0x00);
    JSON_IS("-4294967297", 0x3b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00);
    JSON_IS("-18446744073709551616", 0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    /* float16 (normal, largest, smallest subnormal, negative, zero), float32, float64. */
    JSON_IS("1", 0xf9, 0x3c, 0x00);
    JSON_IS("1.5", 0xf9, 0x3e, 0x00);
    JSON_IS("65504", 0xf9, 0x7b, 0xff);
    JSON_IS("5.9604644775390625e-08", 0xf9, 0x00, 0x01);
    JSON_IS("6.103515625e-05", 0xf9, 0x04, 0x00);
    JSON_IS("-2", 0xf9, 0xc0, 0x00);
    JSON_IS("0", 0xf9, 0x00, 0x00);
    JSON_IS("100000", 0xfa, 0x47, 0xc3, 0x50, 0x00);
    JSON_IS("0.10000000149011612", 0xfa, 0x3d, 0xcc, 0xcc, 0xcd);
    JSON_IS("0.1", 0xfb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a);
    JSON_IS("1e+300", 0xfb, 0x7e, 0x37, 0xe4, 0x3c, 0x88, 0x00, 0x75, 0x9c);
    JSON_IS("[false,true,null,null]", 0x84, 0xf4, 0xf5, 0xf6, 0xf7);
    /* Byte strings of every padding; text escaped; UTF-8 through. */
    JSON_IS("[\"\",\"AA==\",\"AP8=\",\"AAEC\"]", 0x84, 0x40, 0x41, 0x00, 0x42, 0x00, 0xff, 0x43,
            0x00, 0x01, 0x02);
    JSON_IS("\"a\\\"\\\\\\u0001\\u001f\x7f\"", 0x66, 'a', '"', '\\', 0x01, 0x1f, 0x7f);
    JSON_IS("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 0x69, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0,
            0x9f, 0x98, 0x80);
}

static void test_malformed(void)
{
    char *out;
    size_t len, off = 99;
    CHECK_EQ_INT(awscbor_to_json((const uint8_t *)"", 0, &out, &len, &off), AWSCBOR_ERR_TRUNCATED);
    CHECK_EQ_INT(off, 0);
    CBOR_BAD(AWSCBOR_ERR_MALFORMED, 0, 0x1c);                   /* ai 28: reserved */
    CBOR_BAD(AWSCBOR_ERR_MALFORMED, 1, 0x81, 0x5e);             /* ai 30 */
    CBOR_BAD(AWSCBOR_ERR_MALFORMED, 0, 0xff);                   /* a break outside anything */
    CBOR_BAD(AWSCBOR_ERR_MALFORMED, 0, 0x1f);                   /* indefinite integer */
    CBOR_BAD(AWSCBOR_ERR_MALFORMED, 0, 0xdf, 0x00);             /* indefinite tag */
    CBOR_BAD(AWSCBOR_ERR_MALFORMED, 1, 0x7f, 0x41, 0x00, 0xff); /* byte chunk in text */
    CBOR_BAD(AWSCBOR_ERR_MALFORMED, 1, 0x5f, 0x5f, 0xff, 0xff); /* nested indefinite chunk */
    CBOR_BAD(AWSCBOR_ERR_MALFORMED, 0, 0xf8, 0x10);             /* simple < 32 in two bytes */
    CBOR_BAD(AWSCBOR_ERR_VALUE, 0, 0xf8, 0xff);                 /* simple 255: no JSON form */
    CBOR_BAD(AWSCBOR_ERR_VALUE, 0, 0xf0);                       /* simple 16 */
    CBOR_BAD(AWSCBOR_ERR_VALUE, 0, 0xf9, 0x7c, 0x00);           /* +infinity */
    CBOR_BAD(AWSCBOR_ERR_VALUE, 0, 0xf9, 0x7e, 0x00);           /* NaN */
    CBOR_BAD(AWSCBOR_ERR_VALUE, 1, 0xc1, 0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0); /* infinite time */
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 0, 0x62, 'a');        /* text shorter than its length */
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 0, 0x19, 0x01);       /* argument cut */
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 2, 0x9f, 0x01);       /* no break */
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 3, 0xa1, 0x61, 'a');  /* member without a value */
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 1, 0x7f, 0x61);       /* chunk cut */
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 3, 0x7f, 0x61, 'a');  /* chunked string without break */
    CBOR_BAD(AWSCBOR_ERR_KEY, 1, 0xbf, 0x01, 0x02, 0xff); /* integer key */
    CBOR_BAD(AWSCBOR_ERR_KEY, 1, 0xa1, 0x41, 'a', 0x02);  /* byte string key */
    CBOR_BAD(AWSCBOR_ERR_TRAILING, 1, 0x01, 0x02);
    CBOR_BAD(AWSCBOR_ERR_TRAILING, 1, 0xa0, 0xff);
    CBOR_BAD(AWSCBOR_ERR_UTF8, 1, 0x62, 0xc3, 0x28);                   /* bad continuation */
    CBOR_BAD(AWSCBOR_ERR_UTF8, 1, 0x63, 0xed, 0xa0, 0x80);             /* surrogate */
    CBOR_BAD(AWSCBOR_ERR_UTF8, 1, 0x62, 0xc0, 0x80);                   /* overlong */
    CBOR_BAD(AWSCBOR_ERR_UTF8, 1, 0x64, 0xf4, 0x90, 0x80, 0x80);       /* > U+10FFFF */
    CBOR_BAD(AWSCBOR_ERR_UTF8, 2, 0x7f, 0x61, 0xc3, 0x61, 0xa9, 0xff); /* split across chunks */
    /* Lengths and counts beyond the input are refused before anything is allocated or read. */
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 0, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 0, 0x7b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 0, 0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00);
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 0, 0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    CBOR_BAD(AWSCBOR_ERR_TRUNCATED, 0, 0xa2, 0x61, 'a', 0x01); /* 2 members need 4 bytes */
}

/* n nested arrays (definite or indefinite) or tags around a 0. */
static void nested(uint8_t lead, size_t n, bool closes, uint8_t **buf, size_t *len)
{
    *len = n + 1 + (closes ? n : 0);
    *buf = sc_malloc(*len);
    memset(*buf, lead, n);
    (*buf)[n] = 0x00;
    if (closes)
        memset(*buf + n + 1, 0xff, n);
}

static void test_depth(void)
{
    static const struct {
        uint8_t lead;
        bool closes;
    } kinds[] = {{0x81, false}, {0x9f, true}, {0xc6, false}};
    for (size_t k = 0; k < SC_ARRAY_LEN(kinds); k++) {
        uint8_t *buf;
        size_t len, jlen, off = 0;
        char *json;
        nested(kinds[k].lead, AWSCBOR_DEPTH_MAX - 1, kinds[k].closes, &buf, &len);
        CHECK_EQ_INT(awscbor_to_json(buf, len, &json, &jlen, &off), 0);
        free(json);
        free(buf);
        nested(kinds[k].lead, AWSCBOR_DEPTH_MAX, kinds[k].closes, &buf, &len);
        CHECK_EQ_INT(awscbor_to_json(buf, len, &json, &jlen, &off), AWSCBOR_ERR_DEPTH);
        CHECK_EQ_INT(off, AWSCBOR_DEPTH_MAX);
        free(buf);
    }
    /* JSON side: the same limit. */
    char deep[2 * AWSCBOR_DEPTH_MAX + 2];
    memset(deep, '[', AWSCBOR_DEPTH_MAX);
    memset(deep + AWSCBOR_DEPTH_MAX, ']', AWSCBOR_DEPTH_MAX);
    deep[2 * AWSCBOR_DEPTH_MAX] = '\0';
    uint8_t *cbor;
    size_t clen;
    CHECK_EQ_INT(awscbor_from_json(deep, strlen(deep), &cbor, &clen), 0);
    CHECK_EQ_INT(clen, AWSCBOR_DEPTH_MAX);
    free(cbor);
    memmove(deep + 1, deep, 2 * AWSCBOR_DEPTH_MAX);
    deep[0] = '[';
    deep[2 * AWSCBOR_DEPTH_MAX + 1] = ']';
    CHECK_EQ_INT(awscbor_from_json(deep, sizeof(deep), &cbor, &clen), AWSCBOR_ERR_DEPTH);
}

/* ---- JSON -> CBOR -------------------------------------------------------------------------- */

static void test_from_json(void)
{
    /* A record as stored (shards/record.h) -> Java's shapes: bytes and tag 1 + millis. */
    CBOR_IS("{\"ApproximateArrivalTimestamp\":1700000000.123,\"Data\":\"AAD/\"}", 0xa2, 0x78, 0x1b,
            'A', 'p', 'p', 'r', 'o', 'x', 'i', 'm', 'a', 't', 'e', 'A', 'r', 'r', 'i', 'v', 'a',
            'l', 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1, 0x1b, 0x00, 0x00, 0x01, 0x8b,
            0xcf, 0xe5, 0x68, 0x7b, 0x64, 'D', 'a', 't', 'a', 0x43, 0x00, 0x00, 0xff);
    /* Whole seconds, short fractions, more than 3 decimals rounded, exponents, negatives. */
    CBOR_IS("{\"Timestamp\":1700000000}", 0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p',
            0xc1, 0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00);
    CBOR_IS("[{\"xTimestamp\":0.5},{\"Timestamp\":1.0005},{\"Timestamp\":1.0004}]", 0x83, 0xa1,
            0x6a, 'x', 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1, 0x19, 0x01, 0xf4, 0xa1,
            0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1, 0x19, 0x03, 0xe9, 0xa1, 0x69,
            'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1, 0x19, 0x03, 0xe8);
    CBOR_IS("{\"Timestamp\":1.7e9}", 0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1,
            0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00);
    CBOR_IS("[{\"Timestamp\":9223372036854775.807},{\"Timestamp\":-9223372036854775.808}]", 0x82,
            0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1, 0x1b, 0x7f, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p',
            0xc1, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    /* Beyond a long of millis: a float, which the CBOR -> JSON side refuses in turn. */
    CBOR_IS("{\"Timestamp\":9223372036854775.808}", 0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a',
            'm', 'p', 0xc1, 0xfb, 0x43, 0xe0, 0, 0, 0, 0, 0, 0);
    CBOR_IS("{\"Timestamp\":-1.5}", 0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1,
            0x39, 0x05, 0xdb);
    /* Only Data is a blob, and only when it is base64; other strings stay text. */
    CBOR_IS("{\"Data\":\"abc\",\"Key\":\"AAAA\",\"Data\":\"\"}", 0xa3, 0x64, 'D', 'a', 't', 'a',
            0x63, 'a', 'b', 'c', 0x63, 'K', 'e', 'y', 0x64, 'A', 'A', 'A', 'A', 0x64, 'D', 'a', 't',
            'a', 0x40);
    CBOR_IS("{\"Records\":[{\"Data\":\"AQ==\"},{\"Data\":\"Ag\\/A\"}]}", 0xa1, 0x67, 'R', 'e', 'c',
            'o', 'r', 'd', 's', 0x82, 0xa1, 0x64, 'D', 'a', 't', 'a', 0x41, 0x01, 0xa1, 0x64, 'D',
            'a', 't', 'a', 0x43, 0x02, 0x0f, 0xc0);
    /* Almost base64 stays text, whole: '=' inside, three '=', a character outside the
     * alphabet in a full quad or in the padded one, a length that is not a multiple of 4. */
    CBOR_IS("[{\"Data\":\"QU=C\"},{\"Data\":\"Q===\"},{\"Data\":\"QU@D\"},{\"Data\":\"Q@==\"},"
            "{\"Data\":\"QUJDQ\"}]",
            0x85, 0xa1, 0x64, 'D', 'a', 't', 'a', 0x64, 'Q', 'U', '=', 'C', 0xa1, 0x64, 'D', 'a', 't',
            'a', 0x64, 'Q', '=', '=', '=', 0xa1, 0x64, 'D', 'a', 't', 'a', 0x64, 'Q', 'U', '@', 'D',
            0xa1, 0x64, 'D', 'a', 't', 'a', 0x64, 'Q', '@', '=', '=', 0xa1, 0x64, 'D', 'a', 't', 'a',
            0x65, 'Q', 'U', 'J', 'D', 'Q');
    /* One and two padding characters, and a long run (the table-driven quads). */
    CBOR_IS("[{\"Data\":\"QUI=\"},{\"Data\":\"QUJDREVGR0hJSktMTU5PUA==\"}]", 0x82, 0xa1, 0x64,
            'D', 'a', 't', 'a', 0x42, 'A', 'B', 0xa1, 0x64, 'D', 'a', 't', 'a', 0x50, 'A', 'B', 'C',
            'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P');
    /* Integers in their shortest head; beyond 64 bits and non-integers as float64. */
    CBOR_IS("[0,23,24,255,256,65535,65536,4294967295,4294967296]", 0x89, 0x00, 0x17, 0x18, 0x18,
            0x18, 0xff, 0x19, 0x01, 0x00, 0x19, 0xff, 0xff, 0x1a, 0x00, 0x01, 0x00, 0x00, 0x1a,
            0xff, 0xff, 0xff, 0xff, 0x1b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00);
    CBOR_IS("[18446744073709551615,-1,-24,-25,-0,-18446744073709551616]", 0x86, 0x1b, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x20, 0x37, 0x38, 0x18, 0x00, 0xfb, 0xc3, 0xf0,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
    CBOR_IS("[0.5,1e3]", 0x82, 0xfb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0, 0xfb, 0x40, 0x8f, 0x40, 0, 0, 0,
            0, 0);
    CBOR_IS(" { \"a\" : [ true , false , null ] } ", 0xa1, 0x61, 'a', 0x83, 0xf5, 0xf4, 0xf6);
    CBOR_IS("{}", 0xa0);
    CBOR_IS("[]", 0x80);
    /* Escapes decoded to UTF-8, surrogate pairs joined. */
    CBOR_IS("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"", 0x6e, '"', '\\', '/', '\b', '\f',
            '\n', '\r', '\t', 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80);
    /* 24 and 300 items: the head grows and the items move up. */
    char buf[2000];
    size_t n = 0;
    buf[n++] = '[';
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s1", i ? "," : "");
    buf[n++] = ']';
    buf[n] = '\0';
    uint8_t *cbor;
    size_t clen;
    CHECK_EQ_INT(awscbor_from_json(buf, n, &cbor, &clen), 0);
    CHECK_EQ_INT(clen, 3 + 300);
    CHECK(cbor[0] == 0x99 && cbor[1] == 0x01 && cbor[2] == 0x2c && cbor[3] == 0x01 &&
          cbor[302] == 0x01);
    free(cbor);
}

static void test_json_bad(void)
{
    JSON_BAD("", AWSCBOR_ERR_JSON);
    JSON_BAD("{", AWSCBOR_ERR_JSON);
    JSON_BAD("[1,]", AWSCBOR_ERR_JSON);
    JSON_BAD("{\"a\"}", AWSCBOR_ERR_JSON);
    JSON_BAD("{\"a\":1,}", AWSCBOR_ERR_JSON);
    JSON_BAD("{1:2}", AWSCBOR_ERR_JSON);
    JSON_BAD("01", AWSCBOR_ERR_JSON);
    JSON_BAD("1.", AWSCBOR_ERR_JSON);
    JSON_BAD("1e", AWSCBOR_ERR_JSON);
    JSON_BAD("-", AWSCBOR_ERR_JSON);
    JSON_BAD("tru", AWSCBOR_ERR_JSON);
    JSON_BAD("1 2", AWSCBOR_ERR_JSON);
    JSON_BAD("\"abc", AWSCBOR_ERR_JSON);
    JSON_BAD("\"\\x\"", AWSCBOR_ERR_JSON);
    JSON_BAD("\"\\u12\"", AWSCBOR_ERR_JSON);
    JSON_BAD("\"\\ud800\"", AWSCBOR_ERR_JSON);
    JSON_BAD("\"\\udc00\"", AWSCBOR_ERR_JSON);
    JSON_BAD("\"\\ud800\\u0041\"", AWSCBOR_ERR_JSON);
    JSON_BAD("\"a\nb\"", AWSCBOR_ERR_JSON);
    JSON_BAD("\"\\", AWSCBOR_ERR_JSON);
}

/* ---- round trips --------------------------------------------------------------------------- */

/* Our JSON (canonical: compact, timestamps "S" or "S.mmm", base64 padded) survives
 * JSON -> CBOR -> JSON byte for byte. */
static void test_round_trip_json(void)
{
    static const char *const texts[] = {
        "{\"Records\":[{\"SequenceNumber\":"
        "\"49590338271490256608559692538361571095921575989136588898\","
        "\"ApproximateArrivalTimestamp\":1700000000.123,\"Data\":\"aGVsbG8=\",\"PartitionKey\":"
        "\"pk\\\"1\\u0001\xc3\xa9\"},{\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":"
        "1700000001,\"Data\":\"\",\"PartitionKey\":\"p\"}],\"NextShardIterator\":\"AAAA\","
        "\"MillisBehindLatest\":0}",
        "{\"StreamDescriptionSummary\":{\"StreamName\":\"s\",\"StreamCreationTimestamp\":"
        "1700000000.500,\"RetentionPeriodHours\":24,\"EnhancedMonitoring\":[{\"ShardLevelMetrics\":"
        "[]}],\"OpenShardCount\":3,\"HasMore\":false,\"X\":true}}",
        "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Stream x not found.\"}",
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(texts); i++) {
        uint8_t *cbor;
        size_t clen, jlen;
        char *json;
        CHECK_EQ_INT(awscbor_from_json(texts[i], strlen(texts[i]), &cbor, &clen), 0);
        CHECK_EQ_INT(awscbor_to_json(cbor, clen, &json, &jlen, NULL), 0);
        CHECK_EQ_STR(json, texts[i]);
        free(cbor);
        free(json);
    }
}

/* A random JSON value in our canonical form, into buf at *n. */
static void gen_value(char *buf, size_t *n, int depth, int kind)
{
    static const char *const keys[] = {
        "Data", "Timestamp", "StreamName", "Records", "Limit", "ApproximateArrivalTimestamp", "k"};
    if (kind == 1) { /* Data: base64 of 0..7 random bytes */
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t bytes = test_rng() % 8;
        buf[(*n)++] = '"';
        for (size_t i = 0; i < bytes; i += 3) {
            size_t left = bytes - i;
            unsigned v = (unsigned)(test_rng() & 0xffffff);
            if (left == 1)
                v &= 0xff0000;
            else if (left == 2)
                v &= 0xffff00;
            buf[(*n)++] = b64[v >> 18];
            buf[(*n)++] = b64[(v >> 12) & 63];
            buf[(*n)++] = left > 1 ? b64[(v >> 6) & 63] : '=';
            buf[(*n)++] = left > 2 ? b64[v & 63] : '=';
        }
        buf[(*n)++] = '"';
        return;
    }
    if (kind == 2) { /* timestamp: "S" or "S.mmm", ms not a multiple of 1000 */
        uint64_t ms = test_rng() % 4000000000000ull;
        if (ms % 1000 == 0)
            *n += (size_t)sprintf(buf + *n, "%" PRIu64, ms / 1000);
        else
            *n += (size_t)sprintf(buf + *n, "%" PRIu64 ".%03u", ms / 1000, (unsigned)(ms % 1000));
        return;
    }
    switch (depth > 3 ? test_rng() % 4 : test_rng() % 6) {
    case 0:
        *n += (size_t)sprintf(buf + *n, "%" PRId64, (int64_t)test_rng() >> (test_rng() % 64));
        break;
    case 1: {
        buf[(*n)++] = '"';
        size_t len = test_rng() % 6;
        for (size_t i = 0; i < len; i++) {
            unsigned c = (unsigned)(test_rng() % 40);
            if (c < 3)
                *n += (size_t)sprintf(buf + *n, "\\u%04x", c + 1);
            else if (c == 3)
                *n += (size_t)sprintf(buf + *n, "\\\"");
            else if (c == 4)
                *n += (size_t)sprintf(buf + *n, "\xc3\xa9");
            else
                buf[(*n)++] = (char)('a' + c % 26);
        }
        buf[(*n)++] = '"';
        break;
    }
    case 2:
        *n += (size_t)sprintf(buf + *n, "%s",
                              test_rng() % 3 == 0 ? "null"
                              : test_rng() % 2    ? "true"
                                                  : "false");
        break;
    case 3: *n += (size_t)sprintf(buf + *n, "%s", test_rng() % 2 ? "[]" : "{}"); break;
    case 4: {
        size_t count = test_rng() % (depth == 0 ? 30 : 6);
        buf[(*n)++] = '[';
        for (size_t i = 0; i < count; i++) {
            if (i)
                buf[(*n)++] = ',';
            gen_value(buf, n, depth + 1, 0);
        }
        buf[(*n)++] = ']';
        break;
    }
    default: {
        size_t count = test_rng() % (depth == 0 ? 30 : 6);
        buf[(*n)++] = '{';
        for (size_t i = 0; i < count; i++) {
            if (i)
                buf[(*n)++] = ',';
            size_t k = test_rng() % SC_ARRAY_LEN(keys);
            *n += (size_t)sprintf(buf + *n, "\"%s\":", keys[k]);
            gen_value(buf, n, depth + 1, k == 0 ? 1 : (k == 1 || k == 5) ? 2 : 0);
        }
        buf[(*n)++] = '}';
        break;
    }
    }
}

/* Random canonical JSON -> CBOR -> JSON is the identity; and the CBOR (definite, shortest
 * heads) -> JSON -> CBOR is the identity too. */
static void test_round_trip_random(void)
{
    test_seed("random round trips", "AWSCBOR_SEED");
    size_t cap = 1u << 22;
    char *buf = sc_malloc(cap);
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 0;
        gen_value(buf, &n, 0, 0);
        ASSERT(n < cap);
        buf[n] = '\0';
        uint8_t *cbor, *cbor2;
        size_t clen, jlen, clen2;
        char *json;
        int rc = awscbor_from_json(buf, n, &cbor, &clen);
        CHECK_EQ_INT(rc, 0);
        if (rc != 0)
            break;
        CHECK_EQ_INT(awscbor_to_json(cbor, clen, &json, &jlen, NULL), 0);
        test_checks++;
        if (jlen != n || memcmp(json, buf, n) != 0) {
            test_failures++;
            fprintf(stderr, "round trip %d differs:\n  %.300s\n  %.300s\n", iter, buf, json);
        }
        CHECK_EQ_INT(awscbor_from_json(json, jlen, &cbor2, &clen2), 0);
        CHECK(clen2 == clen && memcmp(cbor, cbor2, clen) == 0);
        free(cbor);
        free(cbor2);
        free(json);
    }
    free(buf);
}

int main(void)
{
    TEST_RUN(test_timestamps_in);
    TEST_RUN(test_containers);
    TEST_RUN(test_scalars);
    TEST_RUN(test_malformed);
    TEST_RUN(test_depth);
    TEST_RUN(test_from_json);
    TEST_RUN(test_json_bad);
    TEST_RUN(test_round_trip_json);
    TEST_RUN(test_round_trip_random);
    TEST_EXIT();
}
