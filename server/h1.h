/* h1.h — HTTP/1.1: an incremental request parser (no dependency) and the connection logic
 * (keep-alive, one request at a time in order, 100-continue, chunked streaming responses).
 * Thread rule: the owning worker's thread. */
#ifndef SC_H1_H
#define SC_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/conn.h"
#include "server/http.h"

struct evbuffer;
struct conn;

enum h1_pstate { H1P_HEAD, H1P_BODY, H1P_CHUNK_SIZE, H1P_CHUNK_DATA, H1P_CHUNK_CRLF,
                 H1P_TRAILERS, H1P_DONE, H1P_ERROR };

enum h1_result {
    H1_MORE = 0,   /* need more bytes */
    H1_HEAD = 1,   /* head parsed (headers valid now); call again for the body */
    H1_DONE = 2,   /* request complete */
    H1_ERROR = -1, /* p->error_status says which answer: 400, 413, 417, 431, 501 */
};

#define H1_LINE_MAX 4096 /* chunk-size and trailer lines */

struct h1_parser {
    enum h1_pstate state;
    size_t head_max;
    uint64_t body_max;
    size_t search_from;
    char *head; /* owned copy of the head; the fields below point into it */
    const char *method, *path, *host;
    int minor;
    struct http_header hdrs[HTTP_HEADERS_MAX];
    size_t nhdrs;
    bool chunked, keep_alive, expect_continue;
    uint64_t content_length, chunk_left, trailer_bytes;
    uint8_t *body;
    size_t body_len, body_cap;
    int error_status;
    const char *error_msg;
};

void h1_parser_init(struct h1_parser *p, size_t head_max, uint64_t body_max);
/* Consumes bytes of one request from `in` (never beyond its end). See enum h1_result. */
enum h1_result h1_parser_feed(struct h1_parser *p, struct evbuffer *in);
/* Takes the body (malloc'd, body[len] == '\0') and *charged, what its buffer holds of the body
 * budget (reqbudget.h; refund it when freeing the body); the parser forgets both. A body past the
 * budget fails the request with 503. */
uint8_t *h1_parser_take_body(struct h1_parser *p, size_t *len, size_t *charged);
/* Frees the current request; ready for the next one. */
void h1_parser_reset(struct h1_parser *p);
void h1_parser_dispose(struct h1_parser *p);

/* Connection side (conn.c calls these). */
void h1_conn_start(struct conn *c);
void h1_conn_on_read(struct conn *c);
void h1_conn_on_write(struct conn *c);
void h1_conn_drain(struct conn *c);
void h1_conn_abort(struct conn *c, int err); /* detach the exchange; in conn_close */
void h1_conn_free(struct conn *c);           /* end of loop turn */

#endif
