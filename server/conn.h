/* conn.h — one accepted connection (plaintext sniffed into HTTP/1.1 or h2c, or TLS with ALPN),
 * the per-worker connection set, and the exchange internals shared by h1.c, h2.c and http.c.
 *
 * Lifecycle: conn_accept creates; conn_close tears the connection down at once (exchanges are
 * detached, the socket freed) but the memory lives until the end of the loop turn
 * (worker_defer), so callbacks still on the stack may look at `dead` and return.
 * Thread rule: everything here runs on the owning worker's thread. */
#ifndef SC_CONN_H
#define SC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/http.h"

struct bufferevent;
struct event;
struct ssl_ctx_st;
struct server_opts;
struct h1c;
struct h2c;

enum conn_proto { CONN_SNIFF, CONN_TLS_HANDSHAKE, CONN_H1, CONN_H2 };

/* Output beyond this is not produced; the write callback resumes (libevent-server.c idea). */
#define CONN_OUTPUT_MAX (1u << 20)
/* Most bytes moved per read or write callback of one connection. */
#define CONN_IO_CHUNK_MAX (256u << 10)

struct conn {
    struct worker *w;
    struct bufferevent *bev;
    bool tls;
    bool dead;
    bool close_after_flush;
    enum conn_proto proto;
    struct h1c *h1;
    struct h2c *h2;
    struct event *timer;
    struct conn *prev, *next;
};

struct conn_set {
    struct worker *w;
    struct conn *head;
    unsigned count;
};

void conn_set_init(struct conn_set *s, struct worker *w);
/* Graceful: GOAWAY/finish streams, close idle connections, busy ones close when done. */
void conn_set_drain(struct conn_set *s);
/* Hard: closes every connection now (exchanges detached with -ESHUTDOWN). */
void conn_set_close_all(struct conn_set *s);

/* Takes ownership of the accepted fd; tls != NULL for the TLS port. */
void conn_accept(struct worker *w, int fd, struct ssl_ctx_st *tls);

/* Immediate teardown (idempotent); memory freed at the end of the loop turn. */
void conn_close(struct conn *c, int err);
/* Stop reading; close once the output is flushed. */
void conn_close_after_flush(struct conn *c);
/* (Re)arms the connection timer; 0 disarms. On expiry the connection is closed. */
void conn_set_timeout(struct conn *c, uint32_t ms);
const struct server_opts *conn_opts(const struct conn *c);

/* --- exchange internals (http.c) ---------------------------------------------------------- */

struct xport_ops {
    /* Write a unary response. The transport calls http_exchange_done() or _detach() later
     * (or from inside this call). */
    void (*respond)(struct http_exchange *x, int status, const struct http_header *hdrs,
                    size_t nhdrs, struct evbuffer *body);
    /* Send status+headers of a streaming response and start pulling. 0 or < 0. */
    int (*stream)(struct http_exchange *x, int status, const struct http_header *hdrs,
                  size_t nhdrs);
    /* The source may have bytes (resume) or asked to finish: try sending. */
    void (*kick)(struct http_exchange *x);
};

enum xstate { X_NEW, X_PENDING, X_UNARY, X_STREAM };

struct http_exchange {
    struct http_request req;
    struct worker *w;
    enum xstate state;
    const struct xport_ops *xops;
    void *xctx; /* transport's per-exchange state; NULL once the transport detached */

    char *method, *path, *authority;
    struct http_header *hdrs;
    size_t nhdrs, hdrs_cap;
    uint8_t *body;
    size_t body_charged; /* of the body budget, refunded with the body */

    const struct http_stream_ops *sops;
    void *sarg;
    struct evbuffer *pending; /* response bytes taken from the handler, not yet sent */
    bool src_eof;             /* no more bytes will be added to pending */
    bool finishing;           /* http_exchange_finish asked the source to end */
    bool end_sent;            /* transport wrote the end of the body */
    bool closed_called;
};

#define HTTP_HEADERS_MAX 256

struct http_exchange *http_exchange_new(struct worker *w, const struct xport_ops *ops,
                                        void *xctx, int version, bool tls);
/* Copies; NUL-terminated strings. */
void http_exchange_set_line(struct http_exchange *x, const char *method, const char *path,
                            const char *authority);
/* Copies, lowercasing the name. -E2BIG beyond HTTP_HEADERS_MAX. */
int http_exchange_add_header(struct http_exchange *x, const char *name, size_t nlen,
                             const char *value, size_t vlen);
/* Takes ownership of body (malloc'd, body[len] == '\0'); NULL allowed when len == 0. `charged`
 * is what its buffer holds of the request body budget (reqbudget.h): refunded when x is freed. */
void http_exchange_set_body(struct http_exchange *x, uint8_t *body, size_t len, size_t charged);
/* Hands the request to the worker's handler. x may be gone when this returns. */
void http_exchange_dispatch(struct http_exchange *x);
/* The transport is done with x (end of body sent): closed(0) for streams, then free. */
void http_exchange_done(struct http_exchange *x);
/* The transport is gone (reset, disconnect, shutdown). A pending exchange stays alive until the
 * handler answers; a stream gets closed(err). */
void http_exchange_detach(struct http_exchange *x, int err);
/* Makes sure pending holds bytes if the source has any (pulls once when empty). Returns the
 * pending length; check x->src_eof for the end. */
size_t http_exchange_fill(struct http_exchange *x, size_t hint);
/* "Fri, 01 Jan 2027 00:00:00 GMT" into buf (>= 30 bytes). */
void http_date(char *buf, size_t len);
/* The AWS-shaped 413/400 body: {"__type":"SerializationException","message":msg}. */
void http_error_json(struct evbuffer *out, const char *type, const char *msg);

#endif
