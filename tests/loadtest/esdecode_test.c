/* esdecode_test.c — the loadtest's event-stream decoder against the golden frames of
 * kinesis-protocol.md §6.4/6.5: empty message, initial-response, partial input, corruption. */
#include "loadtest/esdecode.h"

#include <errno.h>

#include "test.h"

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1];) {
        if (p[0] == ' ') {
            p++;
            continue;
        }
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

static const char *initial_response =
    "00000068 00000056 4e681724"
    "0d 3a6d6573736167652d74797065 07 0005 6576656e74"
    "0b 3a6576656e742d74797065 07 0010 696e697469616c2d726573706f6e7365"
    "0d 3a636f6e74656e742d74797065 07 0010 6170706c69636174696f6e2f6a736f6e"
    "7b7d fe942c1d";

static void test_empty_message(void)
{
    uint8_t buf[16];
    size_t n = unhex("00000010 00000000 05c248eb 7d98c8ff", buf);
    struct es_msg m;
    CHECK_EQ_INT(esdecode_next(buf, n, &m), 16);
    CHECK_EQ_INT(m.payload_len, 0);
    CHECK(m.message_type.p == NULL);
}

static void test_initial_response(void)
{
    uint8_t buf[256];
    size_t n = unhex(initial_response, buf);
    CHECK_EQ_INT(n, 104);
    struct es_msg m;
    CHECK_EQ_INT(esdecode_next(buf, n, &m), 104);
    CHECK(es_str_eq(m.message_type, "event"));
    CHECK(es_str_eq(m.event_type, "initial-response"));
    CHECK_EQ_INT(m.payload_len, 2);
    CHECK(memcmp(m.payload, "{}", 2) == 0);
    /* Two messages back to back: the first decodes alone. */
    memcpy(buf + n, buf, n);
    CHECK_EQ_INT(esdecode_next(buf, 2 * n, &m), 104);
}

static void test_partial_and_corrupt(void)
{
    uint8_t buf[256];
    size_t n = unhex(initial_response, buf);
    struct es_msg m;
    for (size_t cut = 0; cut < n; cut++)
        CHECK_EQ_INT(esdecode_next(buf, cut, &m), 0);
    buf[50] ^= 1; /* header byte: message CRC fails */
    CHECK_EQ_INT(esdecode_next(buf, n, &m), -EBADMSG);
    buf[50] ^= 1;
    buf[3] ^= 1; /* length: prelude CRC fails */
    CHECK_EQ_INT(esdecode_next(buf, n, &m), -EBADMSG);
}

int main(void)
{
    TEST_RUN(test_empty_message);
    TEST_RUN(test_initial_response);
    TEST_RUN(test_partial_and_corrupt);
    TEST_EXIT();
}
