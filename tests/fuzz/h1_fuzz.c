/* libFuzzer harness for the HTTP/1.1 request parser (server/h1.c), the first code that reads a
 * plaintext or TLS client's bytes.
 *
 * Input byte 0 picks the slice size the bytes arrive in (the parser must give the same answers
 * however the stream is cut); the rest is the connection's byte stream, which may hold several
 * pipelined requests. Properties: no crash / leak / UB; a parsed head has a method, a path and
 * at most HTTP_HEADERS_MAX headers; a finished body is NUL-terminated and has the declared
 * Content-Length (chunked: at most the body limit); errors are one of the statuses the
 * connection knows how to send; the parser always consumes what it is given or stops. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/common.h"
#include "server/h1.h"
#include "server/reqbudget.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEAD_MAX 4096
#define FUZZ_BODY_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t slice = 1 + data[0] % 32;
    if (data[0] >= 192)
        slice = size;
    data++;
    size--;
    struct h1_parser p;
    h1_parser_init(&p, FUZZ_HEAD_MAX, FUZZ_BODY_MAX);
    struct evbuffer *in = evbuffer_new();
    ASSERT(in != NULL);
    size_t off = 0;
    bool stop = false;
    /* Every turn either adds input or ends a request, so this is bounded by size + requests. */
    for (size_t turns = 0; !stop && turns < 4 * size + 64; turns++) {
        enum h1_result r = h1_parser_feed(&p, in);
        switch (r) {
        case H1_HEAD:
            ASSERT(p.method != NULL && p.path != NULL && p.nhdrs <= HTTP_HEADERS_MAX);
            ASSERT(p.minor == 0 || p.minor == 1);
            continue;
        case H1_DONE: {
            size_t len, charged;
            uint8_t *body = h1_parser_take_body(&p, &len, &charged);
            reqbudget_refund(charged);
            ASSERT(len <= FUZZ_BODY_MAX);
            ASSERT(body == NULL ? len == 0 : body[len] == '\0');
            if (!p.chunked)
                ASSERT(len == p.content_length);
            free(body);
            h1_parser_reset(&p);
            continue;
        }
        case H1_ERROR:
            ASSERT(p.error_status == 400 || p.error_status == 413 || p.error_status == 417 ||
                   p.error_status == 431 || p.error_status == 501);
            ASSERT(p.error_msg != NULL);
            stop = true;
            break;
        case H1_MORE:
            if (off == size) {
                stop = true;
                break;
            }
            size_t n = SC_MIN(slice, size - off);
            evbuffer_add(in, data + off, n);
            off += n;
            break;
        }
    }
    ASSERT(stop);
    h1_parser_dispose(&p);
    evbuffer_free(in);
    return 0;
}
