/* libFuzzer harness for the event-stream decoder (subscribe/eventstream.c), which parses
 * untrusted bytes in tests and in the loadtest client.
 *
 * Input byte 0 picks the slice size the incremental decoder is fed with; the rest is the stream.
 * Properties: no crash / leak / UB; the incremental decoder and eventstream_parse() agree on every
 * message; every decoded message re-encodes to exactly its own bytes. Build: see
 * tests/fuzz/CMakeLists.txt (clang only). Run: ./eventstream_fuzz -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/refbuf.h"
#include "subscribe/eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reencode(const struct eventstream_message *m)
{
    struct eventstream_header *h = sc_calloc(m->header_count + 1, sizeof(*h));
    size_t cursor = 0, n = 0;
    while (eventstream_header_next(m, &cursor, &h[n]))
        n++;
    ASSERT(n == m->header_count);
    struct refbuf *b;
    int rc = eventstream_encode(h, n, m->payload, m->payload_len, &b);
    /* The decoder accepts string/bytes values up to 65535; the encoder keeps AWS's 32767. */
    if (rc == 0) {
        ASSERT(b->len == m->total_len && memcmp(b->data, m->bytes, b->len) == 0);
        refbuf_decref(b);
    } else {
        ASSERT(rc == EVENTSTREAM_ERR_VALUE_TOO_LONG);
    }
    free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t slice = 1 + data[0] % 64;
    if (data[0] >= 192)
        slice = size; /* sometimes everything at once: the in-place path */
    data++;
    size--;
    struct eventstream_message m;
    (void)eventstream_parse(data, size, 0, &m);

    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 1u << 20);
    size_t off = 0;
    while (off < size) {
        size_t used, len = SC_MIN(slice, size - off);
        int rc = eventstream_decoder_next(&d, data + off, len, &used, &m);
        ASSERT(used <= len);
        if (rc < 0)
            break;
        off += used;
        if (rc == 1) {
            struct eventstream_message again;
            ASSERT(eventstream_parse(m.bytes, m.total_len, 1u << 20, &again) == 0);
            reencode(&m);
        } else {
            ASSERT(used == len);
        }
    }
    eventstream_decoder_dispose(&d);
    return 0;
}
