/* h1.c — HTTP/1.1 request parser and connection handling. */
#include "server/h1.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"
#include "server/conn.h"
#include "server/reqbudget.h"
#include "server/server.h"
#include "server/worker.h"

/* ---- parser ---------------------------------------------------------------------------- */

void h1_parser_init(struct h1_parser *p, size_t head_max, uint64_t body_max)
{
    memset(p, 0, sizeof(*p));
    p->head_max = head_max;
    p->body_max = body_max;
}

void h1_parser_reset(struct h1_parser *p)
{
    size_t head_max = p->head_max;
    uint64_t body_max = p->body_max;
    free(p->head);
    if (p->body != NULL)
        reqbudget_refund(p->body_cap);
    free(p->body);
    h1_parser_init(p, head_max, body_max);
}

void h1_parser_dispose(struct h1_parser *p) { h1_parser_reset(p); }

uint8_t *h1_parser_take_body(struct h1_parser *p, size_t *len, size_t *charged)
{
    uint8_t *b = p->body;
    *len = p->body_len;
    *charged = p->body_cap;
    p->body = NULL;
    p->body_len = p->body_cap = 0;
    return b;
}

static enum h1_result fail(struct h1_parser *p, int status, const char *msg)
{
    p->state = H1P_ERROR;
    p->error_status = status;
    p->error_msg = msg;
    return H1_ERROR;
}

static bool is_tchar(unsigned char ch)
{
    return isalnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Splits "a, b" token lists and reports whether `tok` is among them (case-insensitive). */
static bool has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *s = list;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == tl && strncasecmp(s, tok, tl) == 0)
            return true;
        s = e;
    }
    return false;
}

static int parse_request_line(struct h1_parser *p, char *line)
{
    char *sp1 = strchr(line, ' ');
    if (sp1 == NULL || sp1 == line)
        return -1;
    *sp1 = '\0';
    for (char *m = line; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return -1;
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (sp2 == NULL || sp2 == target)
        return -1;
    *sp2 = '\0';
    for (char *t = target; *t; t++)
        if ((unsigned char)*t <= 0x20 || *t == 0x7f)
            return -1;
    const char *ver = sp2 + 1;
    if (strcmp(ver, "HTTP/1.1") == 0)
        p->minor = 1;
    else if (strcmp(ver, "HTTP/1.0") == 0)
        p->minor = 0;
    else
        return -1;
    p->method = line;
    p->path = target;
    return 0;
}

/* Parses one "name: value" line in place into p->hdrs. */
static int parse_header_line(struct h1_parser *p, char *line)
{
    char *colon = strchr(line, ':');
    if (colon == NULL || colon == line)
        return -1;
    for (char *n = line; n < colon; n++) {
        if (!is_tchar((unsigned char)*n))
            return -1;
        *n = (char)tolower((unsigned char)*n);
    }
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    for (char *c = v; c < end; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return -1;
    if (p->nhdrs == HTTP_HEADERS_MAX)
        return -2;
    p->hdrs[p->nhdrs++] = (struct http_header){line, v, (size_t)(colon - line),
                                               (size_t)(end - v)};
    return 0;
}

static const char *find_hdr(const struct h1_parser *p, const char *name)
{
    for (size_t i = 0; i < p->nhdrs; i++)
        if (strcmp(p->hdrs[i].name, name) == 0)
            return p->hdrs[i].value;
    return NULL;
}

/* Framing and connection semantics from the parsed headers (RFC 9112 §6). */
static enum h1_result head_semantics(struct h1_parser *p)
{
    bool has_cl = false;
    for (size_t i = 0; i < p->nhdrs; i++) {
        const struct http_header *h = &p->hdrs[i];
        if (strcmp(h->name, "content-length") == 0) {
            if (h->value_len == 0 || h->value_len > 15 ||
                strspn(h->value, "0123456789") != h->value_len)
                return fail(p, 400, "invalid Content-Length");
            uint64_t v = strtoull(h->value, NULL, 10);
            if (has_cl && v != p->content_length)
                return fail(p, 400, "conflicting Content-Length");
            has_cl = true;
            p->content_length = v;
        } else if (strcmp(h->name, "transfer-encoding") == 0) {
            if (p->chunked || strcasecmp(h->value, "chunked") != 0)
                return fail(p, 501, "unsupported Transfer-Encoding");
            p->chunked = true;
        }
    }
    if (p->chunked && has_cl)
        return fail(p, 400, "both Content-Length and Transfer-Encoding");
    const char *conn = find_hdr(p, "connection");
    p->keep_alive = p->minor == 1 ? !(conn && has_token(conn, "close"))
                                  : (conn && has_token(conn, "keep-alive"));
    const char *expect = find_hdr(p, "expect");
    if (expect != NULL) {
        if (strcasecmp(expect, "100-continue") != 0)
            return fail(p, 417, "unsupported Expect");
        p->expect_continue = p->minor == 1;
    }
    p->host = find_hdr(p, "host");
    if (p->minor == 1 && p->host == NULL)
        return fail(p, 400, "missing Host");
    if (has_cl && p->content_length > p->body_max)
        return fail(p, 413, "request body too large");
    if (p->chunked) {
        p->state = H1P_CHUNK_SIZE;
    } else if (p->content_length > 0) {
        if (!reqbudget_charge((size_t)p->content_length + 1))
            return fail(p, 503, REQBUDGET_REFUSED_MSG);
        p->body_cap = (size_t)p->content_length + 1;
        p->body = sc_malloc(p->body_cap);
        p->state = H1P_BODY;
    } else {
        p->state = H1P_DONE;
    }
    return H1_HEAD;
}

/* The head is [0, len) of `in`, ending in CRLF CRLF. Copies it out and parses in place. */
static enum h1_result parse_head(struct h1_parser *p, struct evbuffer *in, size_t len)
{
    p->head = sc_malloc(len + 1);
    ASSERT(evbuffer_remove(in, p->head, len) == (int)len);
    p->head[len] = '\0';
    if (memchr(p->head, '\0', len) != NULL)
        return fail(p, 400, "NUL in request head");
    char *line = p->head;
    char *eol = strstr(line, "\r\n");
    ASSERT(eol != NULL);
    *eol = '\0';
    if (parse_request_line(p, line) != 0)
        return fail(p, 400, "malformed request line");
    for (line = eol + 2; *line != '\0' && !(line[0] == '\r' && line[1] == '\n'); line = eol + 2) {
        eol = strstr(line, "\r\n");
        ASSERT(eol != NULL);
        *eol = '\0';
        if (line[0] == ' ' || line[0] == '\t')
            return fail(p, 400, "obsolete header folding");
        int rc = parse_header_line(p, line);
        if (rc == -2)
            return fail(p, 431, "too many header fields");
        if (rc != 0)
            return fail(p, 400, "malformed header field");
    }
    return head_semantics(p);
}

static enum h1_result feed_head(struct h1_parser *p, struct evbuffer *in)
{
    /* Tolerate empty lines before a request (RFC 9112 §2.2), a few at most. */
    for (int i = 0; i < 8; i++) {
        char two[2];
        ssize_t n = evbuffer_copyout(in, two, 2);
        if (n >= 1 && two[0] == '\n')
            evbuffer_drain(in, 1);
        else if (n == 2 && two[0] == '\r' && two[1] == '\n')
            evbuffer_drain(in, 2);
        else
            break;
    }
    size_t avail = evbuffer_get_length(in);
    struct evbuffer_ptr start;
    evbuffer_ptr_set(in, &start, p->search_from < avail ? p->search_from : 0, EVBUFFER_PTR_SET);
    struct evbuffer_ptr at = evbuffer_search(in, "\r\n\r\n", 4, &start);
    if (at.pos < 0) {
        if (avail > p->head_max)
            return fail(p, 431, "request header section too large");
        p->search_from = avail > 3 ? avail - 3 : 0;
        return H1_MORE;
    }
    size_t len = (size_t)at.pos + 4;
    if (len > p->head_max)
        return fail(p, 431, "request header section too large");
    p->search_from = 0;
    return parse_head(p, in, len);
}

/* Room for `more` bytes and the NUL, charged to the body budget; false when it refuses. */
static bool body_reserve(struct h1_parser *p, size_t more)
{
    size_t need = p->body_len + more + 1;
    if (need <= p->body_cap)
        return true;
    size_t cap = p->body_cap ? p->body_cap : 1024;
    while (cap < need)
        cap *= 2;
    if (!reqbudget_charge(cap - p->body_cap))
        return false;
    p->body = sc_realloc(p->body, cap);
    p->body_cap = cap;
    return true;
}

static enum h1_result take_bytes(struct h1_parser *p, struct evbuffer *in, uint64_t *left)
{
    size_t n = SC_MIN(evbuffer_get_length(in), (size_t)*left);
    if (!body_reserve(p, n))
        return fail(p, 503, REQBUDGET_REFUSED_MSG);
    ASSERT(evbuffer_remove(in, p->body + p->body_len, n) == (int)n);
    p->body_len += n;
    *left -= n;
    return H1_MORE;
}

/* Reads one CRLF-terminated line (without CRLF) into buf; 1 got it, 0 need more, -1 too long. */
static int read_line(struct evbuffer *in, char *buf, size_t cap, size_t *len)
{
    struct evbuffer_ptr at = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_CRLF_STRICT);
    if (at.pos < 0)
        return evbuffer_get_length(in) >= cap ? -1 : 0;
    if ((size_t)at.pos >= cap)
        return -1;
    *len = (size_t)at.pos;
    evbuffer_remove(in, buf, *len);
    buf[*len] = '\0';
    evbuffer_drain(in, 2);
    return 1;
}

static enum h1_result feed_chunk_size(struct h1_parser *p, struct evbuffer *in)
{
    char line[H1_LINE_MAX];
    size_t len;
    int rc = read_line(in, line, sizeof(line), &len);
    if (rc <= 0)
        return rc == 0 ? H1_MORE : fail(p, 400, "chunk size line too long");
    size_t digits = strspn(line, "0123456789abcdefABCDEF");
    if (digits == 0 || digits > 15 || (line[digits] != '\0' && line[digits] != ';' &&
                                       line[digits] != ' ' && line[digits] != '\t'))
        return fail(p, 400, "malformed chunk size");
    uint64_t size = strtoull(line, NULL, 16);
    if (size == 0) {
        p->state = H1P_TRAILERS;
        return H1_MORE;
    }
    if (p->body_len + size > p->body_max)
        return fail(p, 413, "request body too large");
    p->chunk_left = size;
    p->state = H1P_CHUNK_DATA;
    return H1_MORE;
}

static enum h1_result feed_trailers(struct h1_parser *p, struct evbuffer *in)
{
    char line[H1_LINE_MAX];
    size_t len;
    int rc = read_line(in, line, sizeof(line), &len);
    if (rc <= 0)
        return rc == 0 ? H1_MORE : fail(p, 431, "trailer line too long");
    if (len == 0) {
        p->state = H1P_DONE;
        return H1_MORE;
    }
    p->trailer_bytes += len + 2;
    if (p->trailer_bytes > p->head_max)
        return fail(p, 431, "trailers too large");
    return H1_MORE;
}

/* One state step; H1_MORE with progress made is signalled by a state change or drained bytes. */
static enum h1_result step(struct h1_parser *p, struct evbuffer *in)
{
    switch (p->state) {
    case H1P_HEAD:
        return feed_head(p, in);
    case H1P_BODY: {
        uint64_t left = p->content_length - p->body_len;
        if (take_bytes(p, in, &left) != H1_MORE)
            return H1_ERROR;
        if (left == 0)
            p->state = H1P_DONE;
        return H1_MORE;
    }
    case H1P_CHUNK_SIZE:
        return feed_chunk_size(p, in);
    case H1P_CHUNK_DATA:
        if (take_bytes(p, in, &p->chunk_left) != H1_MORE)
            return H1_ERROR;
        if (p->chunk_left == 0)
            p->state = H1P_CHUNK_CRLF;
        return H1_MORE;
    case H1P_CHUNK_CRLF: {
        char crlf[2];
        if (evbuffer_copyout(in, crlf, 2) < 2)
            return H1_MORE;
        if (crlf[0] != '\r' || crlf[1] != '\n')
            return fail(p, 400, "missing CRLF after chunk");
        evbuffer_drain(in, 2);
        p->state = H1P_CHUNK_SIZE;
        return H1_MORE;
    }
    case H1P_TRAILERS:
        return feed_trailers(p, in);
    case H1P_DONE:
        return H1_DONE;
    case H1P_ERROR:
        return H1_ERROR;
    }
    return H1_ERROR;
}

enum h1_result h1_parser_feed(struct h1_parser *p, struct evbuffer *in)
{
    for (;;) {
        if (p->state == H1P_DONE) {
            if (p->body == NULL)
                p->body = sc_calloc(1, 1); /* not charged: a byte per body-less request */
            else if (!body_reserve(p, 0))
                return fail(p, 503, REQBUDGET_REFUSED_MSG);
            p->body[p->body_len] = '\0';
            return H1_DONE;
        }
        enum h1_pstate before = p->state;
        size_t len_before = evbuffer_get_length(in);
        enum h1_result r = step(p, in);
        if (r != H1_MORE)
            return r;
        if (p->state == before && evbuffer_get_length(in) == len_before)
            return H1_MORE;
    }
}

/* ---- connection ------------------------------------------------------------------------ */

struct h1c {
    struct conn *c;
    struct h1_parser p;
    struct http_exchange *x; /* the request being answered; later ones wait in the input */
    bool keep_alive;         /* of the current request */
    bool head_method;
    bool http10; /* HTTP/1.0 peer: no chunked coding, a streamed body ends with the close */
    bool continue_sent;
    bool in_process;
    bool pumping;
    bool idle; /* between requests: the idle timeout is armed, not the header one */
};

static void h1_process(struct conn *c);
static void h1_pump(struct h1c *h);

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

static bool skip_header(const struct http_header *h)
{
    static const char *const own[] = {"content-length", "transfer-encoding", "connection",
                                      "date", "keep-alive"};
    for (size_t i = 0; i < SC_ARRAY_LEN(own); i++)
        if (strcasecmp(h->name, own[i]) == 0)
            return true;
    return false;
}

static void write_head(struct evbuffer *out, int status, const struct http_header *hdrs,
                       size_t nhdrs, bool close, const char *framing)
{
    char date[64];
    http_date(date, sizeof(date));
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\ndate: %s\r\n%s%s", status, reason(status), date,
                        framing, close ? "connection: close\r\n" : "");
    for (size_t i = 0; i < nhdrs; i++) {
        if (skip_header(&hdrs[i]))
            continue;
        evbuffer_add(out, hdrs[i].name, hdrs[i].name_len);
        evbuffer_add(out, ": ", 2);
        evbuffer_add(out, hdrs[i].value, hdrs[i].value_len);
        evbuffer_add(out, "\r\n", 2);
    }
    evbuffer_add(out, "\r\n", 2);
}

/* The exchange's response is fully written: free it and go on with the next request. */
static void h1_exchange_complete(struct h1c *h)
{
    struct conn *c = h->c;
    struct http_exchange *x = h->x;
    h->x = NULL;
    http_exchange_done(x);
    if (c->dead)
        return;
    if (!h->keep_alive || worker_draining(c->w)) {
        conn_close_after_flush(c);
        return;
    }
    h->idle = true;
    conn_set_timeout(c, conn_opts(c)->idle_timeout_ms);
    bufferevent_enable(c->bev, EV_READ);
    h1_process(c);
}

static void h1_respond(struct http_exchange *x, int status, const struct http_header *hdrs,
                       size_t nhdrs, struct evbuffer *body)
{
    struct h1c *h = x->xctx;
    struct evbuffer *out = bufferevent_get_output(h->c->bev);
    size_t len = body ? evbuffer_get_length(body) : 0;
    bool close = !h->keep_alive || worker_draining(h->c->w);
    char framing[64];
    snprintf(framing, sizeof(framing), "content-length: %zu\r\n", len);
    write_head(out, status, hdrs, nhdrs, close, framing);
    if (body && !h->head_method)
        evbuffer_add_buffer(out, body); /* moves chains: references stay uncopied */
    h1_exchange_complete(h);
}

static void h1_deferred_pump(void *arg)
{
    struct conn *c = arg;
    if (!c->dead && c->h1 != NULL && c->h1->x != NULL)
        h1_pump(c->h1);
}

static int h1_stream(struct http_exchange *x, int status, const struct http_header *hdrs,
                     size_t nhdrs)
{
    struct h1c *h = x->xctx;
    struct evbuffer *out = bufferevent_get_output(h->c->bev);
    if (h->http10)
        h->keep_alive = false;
    write_head(out, status, hdrs, nhdrs, !h->keep_alive,
               h->http10 ? "" : "transfer-encoding: chunked\r\n");
    /* Pull after the handler's stream() call returned, never inside it (the conn memory
     * outlives this loop turn, so the deferred call may look at c->dead). */
    worker_defer(h->c->w, h1_deferred_pump, h->c);
    return 0;
}

static void h1_kick(struct http_exchange *x)
{
    h1_pump(x->xctx);
}

static const struct xport_ops h1_xops = {h1_respond, h1_stream, h1_kick};

/* Moves stream bytes into the output as chunks until the source is dry or the output full. */
static void h1_pump(struct h1c *h)
{
    if (h->pumping || h->c->dead)
        return;
    h->pumping = true;
    struct evbuffer *out = bufferevent_get_output(h->c->bev);
    while (h->x != NULL && h->x->state == X_STREAM) {
        size_t outlen = evbuffer_get_length(out);
        if (outlen >= CONN_OUTPUT_MAX)
            break;
        size_t n = http_exchange_fill(h->x, CONN_OUTPUT_MAX - outlen);
        if (h->c->dead || h->x == NULL)
            break;
        if (n > 0) {
            if (!h->http10)
                evbuffer_add_printf(out, "%zx\r\n", n);
            evbuffer_remove_buffer(h->x->pending, out, n);
            if (!h->http10)
                evbuffer_add(out, "\r\n", 2);
            continue;
        }
        if (!h->x->src_eof)
            break; /* the source calls http_exchange_resume() */
        if (!h->http10)
            evbuffer_add(out, "0\r\n\r\n", 5);
        h->x->end_sent = true;
        h->pumping = false;
        h1_exchange_complete(h);
        return;
    }
    h->pumping = false;
}

static void h1_error(struct conn *c, int status, const char *msg)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer *body = evbuffer_new();
    const char *type = status == 413   ? "SerializationException"
                       : status == 503 ? "ServiceUnavailable"
                                       : "InvalidArgumentException";
    http_error_json(body, type, msg);
    char framing[160];
    snprintf(framing, sizeof(framing),
             "content-length: %zu\r\ncontent-type: application/x-amz-json-1.1\r\n"
             "x-amzn-errortype: %s\r\n", evbuffer_get_length(body), type);
    write_head(out, status, NULL, 0, true, framing);
    evbuffer_add_buffer(out, body);
    evbuffer_free(body);
    conn_close_after_flush(c);
}

static void h1_dispatch(struct conn *c)
{
    struct h1c *h = c->h1;
    struct h1_parser *p = &h->p;
    struct http_exchange *x = http_exchange_new(c->w, &h1_xops, h, 11, c->tls);
    http_exchange_set_line(x, p->method, p->path, p->host);
    for (size_t i = 0; i < p->nhdrs; i++)
        http_exchange_add_header(x, p->hdrs[i].name, p->hdrs[i].name_len, p->hdrs[i].value,
                                 p->hdrs[i].value_len);
    size_t len;
    size_t charged;
    uint8_t *body = h1_parser_take_body(p, &len, &charged);
    http_exchange_set_body(x, body, len, charged);
    h->keep_alive = p->keep_alive;
    h->head_method = strcmp(p->method, "HEAD") == 0;
    h->http10 = p->minor == 0;
    h1_parser_reset(p);
    h->continue_sent = false;
    h->x = x;
    conn_set_timeout(c, 0);
    http_exchange_dispatch(x); /* may answer (and go on to the next request) right here */
}

/* Parses and dispatches requests one at a time, in order. */
static void h1_process(struct conn *c)
{
    struct h1c *h = c->h1;
    if (h->in_process)
        return;
    h->in_process = true;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->dead && !c->close_after_flush && h->x == NULL) {
        if (h->idle && evbuffer_get_length(in) > 0) {
            h->idle = false;
            conn_set_timeout(c, conn_opts(c)->header_timeout_ms);
        }
        enum h1_result r = h1_parser_feed(&h->p, in);
        if (r == H1_MORE)
            break;
        if (r == H1_ERROR) {
            h1_error(c, h->p.error_status, h->p.error_msg);
            break;
        }
        if (r == H1_HEAD) {
            if (h->p.expect_continue && !h->continue_sent && h->p.state != H1P_DONE &&
                evbuffer_get_length(in) == 0) {
                evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
                h->continue_sent = true;
            }
            continue;
        }
        h1_dispatch(c);
    }
    /* A pipelining client may send more while we answer; bound what we hold for it. */
    if (!c->dead && h->x != NULL && evbuffer_get_length(in) > SERVER_HEADER_MAX_BYTES)
        bufferevent_disable(c->bev, EV_READ);
    h->in_process = false;
}

void h1_conn_start(struct conn *c)
{
    struct h1c *h = sc_calloc(1, sizeof(*h));
    h->c = c;
    const struct server_opts *o = conn_opts(c);
    h1_parser_init(&h->p, SERVER_HEADER_MAX_BYTES, o->body_max_bytes);
    c->h1 = h;
    c->proto = CONN_H1;
    h1_process(c);
}

void h1_conn_on_read(struct conn *c)
{
    struct h1c *h = c->h1;
    /* A body that keeps arriving keeps the connection alive; the head must still arrive
     * within one header timeout (slowloris). */
    if (h->x == NULL && !h->idle && h->p.state != H1P_HEAD)
        conn_set_timeout(c, conn_opts(c)->header_timeout_ms);
    h1_process(c);
}

void h1_conn_on_write(struct conn *c)
{
    if (c->h1->x != NULL && c->h1->x->state == X_STREAM)
        h1_pump(c->h1);
}

void h1_conn_drain(struct conn *c)
{
    struct h1c *h = c->h1;
    if (h->x == NULL) {
        conn_close_after_flush(c);
        return;
    }
    h->keep_alive = false;
    if (h->x->state == X_STREAM)
        http_exchange_finish(h->x);
}

void h1_conn_abort(struct conn *c, int err)
{
    struct h1c *h = c->h1;
    if (h->x != NULL) {
        struct http_exchange *x = h->x;
        h->x = NULL;
        http_exchange_detach(x, err);
    }
}

void h1_conn_free(struct conn *c)
{
    h1_parser_dispose(&c->h1->p);
    free(c->h1);
    c->h1 = NULL;
}
