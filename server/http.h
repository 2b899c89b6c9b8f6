/* http.h — the boundary between the transports (HTTP/1.1, h2c, TLS h2; server/h1.c, h2.c) and
 * the API layer (server/api.c). A transport turns bytes into a struct http_request and hands an
 * exchange to the handler; the handler answers exactly once, now or later, with a unary response
 * or a streaming body (the SubscribeToShard event stream).
 *
 * Thread rule: an exchange belongs to the worker whose loop read it; every call below is made on
 * that worker's thread. */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

struct evbuffer;
struct event_base;
struct worker;
struct http_exchange;

struct http_header {
    const char *name; /* lowercase, NUL-terminated */
    const char *value; /* NUL-terminated */
    size_t name_len;
    size_t value_len;
};

struct http_request {
    const char *method;    /* "POST", NUL-terminated */
    const char *path;      /* request-target as sent (":path" in h2) */
    const char *authority; /* Host header, or ":authority" in h2; "" if absent */
    const struct http_header *headers; /* regular headers, names lowercased, in arrival order */
    size_t header_count;
    const uint8_t *body; /* whole body; body[body_len] == '\0' so text parsers may rely on it */
    size_t body_len;
    int http_version; /* 11 or 20 */
    bool tls;
};

/* First value of header `lname` (lowercase) or NULL. Inline so that code which only reads a
 * request (auth.c, api.c, their tests) does not link the exchange machinery of http.c. */
static inline const char *http_request_header(const struct http_request *req, const char *lname)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcmp(req->headers[i].name, lname) == 0)
            return req->headers[i].value;
    return NULL;
}

const struct http_request *http_exchange_request(const struct http_exchange *x);
struct worker *http_exchange_worker(const struct http_exchange *x);
struct event_base *http_exchange_base(const struct http_exchange *x);

/* Unary response, exactly once per exchange. `hdrs` are copied; the transport adds
 * content-length (and date, and keep-alive handling for HTTP/1.1). `body` (may be NULL) is
 * drained by the transport, so references added with evbuffer_add_reference travel uncopied.
 * May be called after the handler returned (async completion). If the client has gone, the call
 * only releases the exchange. */
void http_exchange_respond(struct http_exchange *x, int status, const struct http_header *hdrs,
                           size_t nhdrs, struct evbuffer *body);

/* Streaming body source (event streams). */
struct http_stream_ops {
    /* Append the next body bytes to `out`. `hint` is how many bytes the transport can send
     * now (HTTP/2: the DATA frame budget). When hint > 0 the source appends AT MOST hint bytes,
     * so the transport moves whole evbuffer chains and never has to split (copy) one: a source
     * sharing a frame between many streams appends sub-ranges of it by reference
     * (evbuffer_add_reference). hint 0 means no limit. The transport calls pull only when it
     * holds nothing unsent for this stream.
     * Returns bytes appended (> 0), 0 when nothing is ready (the source later calls
     * http_exchange_resume()), or HTTP_STREAM_EOF after appending its last bytes (which may be
     * none): the transport then ends the body cleanly (END_STREAM, or the final 0 chunk). */
    ssize_t (*pull)(void *arg, struct evbuffer *out, size_t hint);
    /* Exactly once, when the exchange is over: err 0 after a clean end that the source asked
     * for; < 0 when the peer reset the stream, closed the connection, or the server stopped.
     * After it returns the transport frees the exchange and never calls the source again. */
    void (*closed)(void *arg, int err);
    /* Optional. http_exchange_finish() was called: end the body at the next message boundary
     * (a message partly pulled is completed first), then return HTTP_STREAM_EOF from pull. Must
     * not call back into the transport synchronously (wake it with http_exchange_resume from
     * the loop instead). The transport keeps pulling until EOF, bounded by the server's
     * shutdown grace. NULL: the source has no boundaries to keep; the body ends after the bytes
     * already pulled. */
    void (*finish)(void *arg);
};
#define HTTP_STREAM_EOF ((ssize_t)-1)

/* Starts a streaming response instead of http_exchange_respond(): sends the status and headers
 * now (HTTP/1.1: Transfer-Encoding: chunked), then pulls. Returns 0, or < 0 if the client is
 * already gone (the source's closed() is not called then; the exchange is released). */
int http_exchange_stream(struct http_exchange *x, int status, const struct http_header *hdrs,
                         size_t nhdrs, const struct http_stream_ops *ops, void *arg);

/* The source has bytes again after pull returned 0. Cheap and idempotent; no-op after close. */
void http_exchange_resume(struct http_exchange *x);

/* Server-initiated end of a stream (shutdown, takeover): asks the source to end (its finish op)
 * and keeps pulling until it returns EOF, so no message is cut in half. closed() follows with
 * err 0 once the end is sent; with err < 0 if the connection is closed first (shutdown grace). */
void http_exchange_finish(struct http_exchange *x);

#endif
