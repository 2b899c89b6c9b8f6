#include <stdlib.h>
#include <string.h>

#include "server/jscan.h"
#include "tests/test.h"

static int parse_n(const char *s, size_t n, struct jscan_val *v)
{
    char *buf = malloc(n + 1); /* exact size: ASan catches reads past the NUL */
    memcpy(buf, s, n);
    buf[n] = '\0';
    char err[128];
    int rc = jscan_parse(buf, n, v, err, sizeof(err));
    free(buf);
    return rc;
}

static int parse(const char *s)
{
    struct jscan_val v;
    return parse_n(s, strlen(s), &v);
}

static void test_valid(void)
{
    static const char *ok[] = {
        "{}",
        "[]",
        " { } ",
        "0",
        "-0",
        "1.5",
        "-1.5e10",
        "1E+2",
        "2e-3",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\"",
        "\"\\u00e9\\ud83d\\ude00\"",
        "\"\xc3\xa9\xf0\x9f\x98\x80\"",
        "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}",
        "[[[[]]]]",
        "\t\r\n[1 , 2 ]\n",
        "\"\\/\\b\\f\\n\\r\\t\\\\\"",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int rc = parse(ok[i]);
        if (rc != 0)
            fprintf(stderr, "rejected: %s\n", ok[i]);
        CHECK_EQ_INT(rc, 0);
    }
}

static void test_invalid(void)
{
    static const char *bad[] = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\"}",
        "{\"a\" 1}",
        "{1:2}",
        "[1 2]",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "+1",
        "tru",
        "nul",
        "\"abc",
        "\"a\x01\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\xc3\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xff\"",
        "{}{}",
        "[] x",
        "'a'",
        "NaN",
        "[1,,2]",
        "{\"a\":1 \"b\":2}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i]);
        if (rc == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK_EQ_INT(rc, -1);
    }
    /* An embedded NUL is not JSON. */
    struct jscan_val v;
    CHECK_EQ_INT(parse_n("[1,\0 2]", 7, &v), -1);
    CHECK_EQ_INT(parse_n("\"a\0b\"", 5, &v), -1);
}

/* Every proper prefix of a valid document fails; only the whole passes. */
static void test_splits(void)
{
    const char *doc = "{\"Records\":[{\"Data\":\"AAEC\",\"PartitionKey\":\"p\\u00e9\"},"
                      "{\"Data\":\"\",\"PartitionKey\":\"k\",\"ExplicitHashKey\":\"12\"}],"
                      "\"StreamName\":\"s\",\"n\":-1.25e3,\"t\":true,\"f\":false,\"z\":null}";
    size_t n = strlen(doc);
    struct jscan_val v;
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(parse_n(doc, i, &v), -1);
    CHECK_EQ_INT(parse_n(doc, n, &v), 0);
    CHECK_EQ_INT(v.type, JSCAN_OBJECT);
    CHECK_EQ_INT(v.len, n);
}

static void test_walk(void)
{
    const char *doc = " {\"Records\" : [ {\"Data\":\"AA\\/B\",\"PartitionKey\":\"p\\u00e9\\\"\"} ,"
                      "{\"Data\":\"QQ==\",\"PartitionKey\":\"k\",\"x\":[1,[2,{\"y\":\"]}\"}]]}],"
                      "\"StreamName\":\"s1\",\"n\":-1.25e3,\"i\":42,\"t\":true,\"z\":null} ";
    struct jscan_val root, k, v, e;
    char err[128];
    CHECK_EQ_INT(jscan_parse(doc, strlen(doc), &root, err, sizeof(err)), 0);
    struct jscan_iter it, ai, oi;
    jscan_iter_init(&root, &it);
    CHECK(jscan_next_member(&it, &k, &v));
    CHECK(jscan_key_is(&k, "Records"));
    CHECK_EQ_INT(v.type, JSCAN_ARRAY);
    jscan_iter_init(&v, &ai);
    int recs = 0;
    while (jscan_next_elem(&ai, &e)) {
        CHECK_EQ_INT(e.type, JSCAN_OBJECT);
        jscan_iter_init(&e, &oi);
        struct jscan_val mk, mv;
        while (jscan_next_member(&oi, &mk, &mv)) {
            char *scratch = NULL;
            size_t len;
            const char *s = mv.type == JSCAN_STRING ? jscan_string(&mv, &len, &scratch) : NULL;
            if (jscan_key_is(&mk, "Data") && recs == 0) {
                CHECK(mv.escaped);
                CHECK(len == 4 && memcmp(s, "AA/B", 4) == 0);
            } else if (jscan_key_is(&mk, "Data")) {
                CHECK(!mv.escaped);
                CHECK(s == mv.p && len == 4); /* in place: no copy */
            } else if (jscan_key_is(&mk, "PartitionKey") && recs == 0) {
                CHECK(len == 4 && memcmp(s, "p\xc3\xa9\"", 4) == 0);
            } else if (jscan_key_is(&mk, "x")) {
                CHECK_EQ_INT(mv.type, JSCAN_ARRAY);
                CHECK_EQ_INT(mv.len, strlen("[1,[2,{\"y\":\"]}\"}]]"));
            }
            free(scratch);
        }
        recs++;
    }
    CHECK_EQ_INT(recs, 2);
    CHECK(jscan_next_member(&it, &k, &v));
    CHECK(jscan_key_is(&k, "StreamName"));
    CHECK(v.len == 2 && memcmp(v.p, "s1", 2) == 0);
    CHECK(jscan_next_member(&it, &k, &v));
    CHECK(v.type == JSCAN_NUMBER && !v.integer && v.len == 7);
    CHECK(jscan_next_member(&it, &k, &v));
    CHECK(v.type == JSCAN_NUMBER && v.integer && v.len == 2);
    CHECK(jscan_next_member(&it, &k, &v));
    CHECK_EQ_INT(v.type, JSCAN_TRUE);
    CHECK(jscan_next_member(&it, &k, &v));
    CHECK_EQ_INT(v.type, JSCAN_NULL);
    CHECK(!jscan_next_member(&it, &k, &v));
    /* Escaped keys compare unescaped. */
    const char *d2 = "{\"\\u0044ata\":1}";
    CHECK_EQ_INT(jscan_parse(d2, strlen(d2), &root, err, sizeof(err)), 0);
    jscan_iter_init(&root, &it);
    CHECK(jscan_next_member(&it, &k, &v));
    CHECK(jscan_key_is(&k, "Data"));
    CHECK(!jscan_key_is(&k, "Dat"));
}

static void test_depth(void)
{
    char buf[2 * (JSCAN_DEPTH_MAX + 2) + 1];
    for (int d = JSCAN_DEPTH_MAX; d <= JSCAN_DEPTH_MAX + 1; d++) {
        size_t n = 0;
        for (int i = 0; i < d; i++)
            buf[n++] = '[';
        for (int i = 0; i < d; i++)
            buf[n++] = ']';
        buf[n] = '\0';
        CHECK_EQ_INT(parse(buf), d <= JSCAN_DEPTH_MAX ? 0 : -1);
    }
    /* A huge nesting attempt fails fast, without deep recursion. */
    size_t big = 1000000;
    char *b = malloc(big + 1);
    memset(b, '[', big);
    b[big] = '\0';
    struct jscan_val v;
    char err[128];
    CHECK_EQ_INT(jscan_parse(b, big, &v, err, sizeof(err)), -1);
    CHECK(strstr(err, "nesting") != NULL);
    free(b);
}

/* Strings longer than the 16-byte scan step, with one special byte at every offset (so it falls
 * in every lane, in the last partial step, and right before the closing quote). */
static void test_long_strings(void)
{
    static const struct {
        const char *ins; /* replaces the byte at the offset */
        int rc;
        size_t len; /* string length (bytes between the quotes) when valid */
    } cases[] = {
        {"\x01", -1, 0},      {"\x1f", -1, 0},  {"\xff", -1, 0},     {"\x80", -1, 0},
        {"\"", -1, 0},        {"\x7f", 0, 40},  {" ", 0, 40},        {"\\n", 0, 41},
        {"\xc3\xa9", 0, 41}, {"\\\"", 0, 41}, {"\\u00e9", 0, 45}, {"\\ud800", -1, 0},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (size_t off = 0; off < 40; off++) {
            char doc[64];
            size_t n = 0;
            doc[n++] = '"';
            memset(doc + n, 'A', off);
            n += off;
            size_t k = strlen(cases[c].ins);
            memcpy(doc + n, cases[c].ins, k);
            n += k;
            memset(doc + n, 'B', 39 - off);
            n += 39 - off;
            doc[n++] = '"';
            struct jscan_val v;
            int rc = parse_n(doc, n, &v);
            if (rc != cases[c].rc)
                fprintf(stderr, "case %zu at offset %zu\n", c, off);
            CHECK_EQ_INT(rc, cases[c].rc);
            if (rc == 0) {
                CHECK_EQ_INT(v.type, JSCAN_STRING);
                CHECK_EQ_INT(v.len, cases[c].len);
            }
        }
    }
}

int main(void)
{
    TEST_RUN(test_valid);
    TEST_RUN(test_invalid);
    TEST_RUN(test_splits);
    TEST_RUN(test_walk);
    TEST_RUN(test_depth);
    TEST_RUN(test_long_strings);
    TEST_EXIT();
}
