/* h2.c — HTTP/2 sessions: requests into exchanges, unary and streaming responses with
 * NGHTTP2_DATA_FLAG_NO_COPY (payload chains move from the exchange's evbuffer to the socket's),
 * output bounded at CONN_OUTPUT_MAX as in nghttp2's examples/libevent-server.c. */
#include "server/h2.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"
#include "server/conn.h"
#include "server/reqbudget.h"
#include "server/server.h"
#include "server/stats.h"
#include "server/worker.h"

#define H2_HEADER_BYTES_MAX SERVER_HEADER_MAX_BYTES

struct h2c;

struct h2s {
    int32_t id;
    struct h2c *h2;
    struct http_exchange *x;
    char *method, *path, *authority, *host;
    uint8_t *body;
    size_t body_len, body_cap, hdr_bytes;
    bool rejected, deferred;
    struct h2s *prev, *next;
};

struct h2c {
    struct conn *c;
    nghttp2_session *ses;
    struct h2s *streams;
    unsigned nstreams;
    int in_cb; /* > 0 while nghttp2 is on the stack: no session_send from callbacks */
    size_t body_bytes; /* sum of the h2s body buffers still owned by streams */
    bool want_send;
};

static void h2_flush(struct h2c *h2);

static struct evbuffer *output(struct h2c *h2) { return bufferevent_get_output(h2->c->bev); }

/* ---- responses ------------------------------------------------------------------------- */

static bool connection_specific(const struct http_header *h)
{
    static const char *const names[] = {"connection", "keep-alive", "proxy-connection",
                                        "transfer-encoding", "upgrade", "content-length",
                                        "date"};
    for (size_t i = 0; i < SC_ARRAY_LEN(names); i++)
        if (strcasecmp(h->name, names[i]) == 0)
            return true;
    return false;
}

static ssize_t on_data_source_read(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t length,
                                   uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)ses;
    (void)id;
    (void)buf;
    (void)user;
    struct h2s *s = src->ptr;
    struct http_exchange *x = s->x;
    if (x == NULL || s->h2->c->dead)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t have = http_exchange_fill(x, length);
    if (s->x == NULL || s->h2->c->dead)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (have == 0 && !x->src_eof) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = SC_MIN(have, length);
    if (n < have) {
        /* evbuffer_remove_buffer moves whole chains but copies a split one: end the frame on
         * a chain boundary when one fits, so referenced (shared) frames travel uncopied. */
        struct evbuffer_iovec v[16];
        int k = evbuffer_peek(x->pending, (ssize_t)n, NULL, v, (int)SC_ARRAY_LEN(v));
        size_t whole = 0;
        for (int i = 0; i < k && i < (int)SC_ARRAY_LEN(v) && whole + v[i].iov_len <= n; i++)
            whole += v[i].iov_len;
        if (whole > 0)
            n = whole;
    }
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == have && x->src_eof)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* Stats: how much of `length` moves as whole chains (by reference) and how much
 * evbuffer_remove_buffer must copy because the frame ends inside a chain. */
static void count_moved(struct evbuffer *pending, size_t length)
{
    struct evbuffer_iovec v[32];
    int k = evbuffer_peek(pending, (ssize_t)length, NULL, v, (int)SC_ARRAY_LEN(v));
    size_t whole = 0;
    for (int i = 0; i < k && i < (int)SC_ARRAY_LEN(v) && whole + v[i].iov_len <= length; i++)
        whole += v[i].iov_len;
    stats_h2_data(whole, length - whole);
}

static int on_send_data(nghttp2_session *ses, nghttp2_frame *frame, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *src, void *user)
{
    (void)ses;
    struct h2c *h2 = user;
    struct h2s *s = src->ptr;
    if (h2->c->dead || s->x == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    struct evbuffer *out = output(h2);
    if (evbuffer_get_length(out) >= CONN_OUTPUT_MAX)
        return NGHTTP2_ERR_WOULDBLOCK;
    ASSERT(frame->data.padlen == 0);
    evbuffer_add(out, framehd, 9);
    count_moved(s->x->pending, length);
    int moved = evbuffer_remove_buffer(s->x->pending, out, length);
    ASSERT(moved == (int)length);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        s->x->end_sent = true;
    return 0;
}

static nghttp2_nv make_nv(const char *name, size_t nlen, const char *value, size_t vlen)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nlen, vlen, NGHTTP2_NV_FLAG_NONE};
}

/* Submits :status + headers (+ content-length when clen >= 0) with an optional body source. */
static int submit(struct h2s *s, int status, const struct http_header *hdrs, size_t nhdrs,
                  long long clen, bool with_data)
{
    nghttp2_nv nva[HTTP_HEADERS_MAX + 3];
    size_t n = 0;
    char st[8], cl[24];
    snprintf(st, sizeof(st), "%d", status);
    nva[n++] = make_nv(":status", 7, st, strlen(st));
    for (size_t i = 0; i < nhdrs && n < HTTP_HEADERS_MAX; i++)
        if (!connection_specific(&hdrs[i]))
            nva[n++] = make_nv(hdrs[i].name, hdrs[i].name_len, hdrs[i].value, hdrs[i].value_len);
    if (clen >= 0) {
        snprintf(cl, sizeof(cl), "%lld", clen);
        nva[n++] = make_nv("content-length", 14, cl, strlen(cl));
    }
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = on_data_source_read};
    int rv = nghttp2_submit_response(s->h2->ses, s->id, nva, n, with_data ? &prd : NULL);
    if (rv != 0)
        LOG_DEBUG("h2: submit_response on stream %d: %s", s->id, nghttp2_strerror(rv));
    return rv;
}

static void h2_respond(struct http_exchange *x, int status, const struct http_header *hdrs,
                       size_t nhdrs, struct evbuffer *body)
{
    struct h2s *s = x->xctx;
    size_t len = body ? evbuffer_get_length(body) : 0;
    if (len > 0) {
        x->pending = evbuffer_new();
        evbuffer_add_buffer(x->pending, body);
    }
    x->src_eof = true;
    if (submit(s, status, hdrs, nhdrs, (long long)len, len > 0) != 0) {
        nghttp2_submit_rst_stream(s->h2->ses, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
    }
    h2_flush(s->h2);
}

static int h2_stream(struct http_exchange *x, int status, const struct http_header *hdrs,
                     size_t nhdrs)
{
    struct h2s *s = x->xctx;
    if (submit(s, status, hdrs, nhdrs, -1, true) != 0) {
        s->x = NULL; /* http_exchange_stream frees x on failure */
        nghttp2_submit_rst_stream(s->h2->ses, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        return -EPROTO;
    }
    h2_flush(s->h2);
    return 0;
}

static void h2_kick(struct http_exchange *x)
{
    struct h2s *s = x->xctx;
    if (s->deferred) {
        s->deferred = false;
        nghttp2_session_resume_data(s->h2->ses, s->id);
    }
    h2_flush(s->h2);
}

static const struct xport_ops h2_xops = {h2_respond, h2_stream, h2_kick};

/* ---- requests -------------------------------------------------------------------------- */

static void reject(struct h2s *s, int status, const char *type, const char *msg)
{
    s->rejected = true;
    struct evbuffer *body = evbuffer_new();
    http_error_json(body, type, msg);
    const struct http_header h[] = {
        {"content-type", "application/x-amz-json-1.1", 12, 26},
        {"x-amzn-errortype", type, 16, strlen(type)},
    };
    http_exchange_respond(s->x, status, h, 2, body);
    evbuffer_free(body);
}

static int on_begin_headers(nghttp2_session *ses, const nghttp2_frame *frame, void *user)
{
    struct h2c *h2 = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2s *s = sc_calloc(1, sizeof(*s));
    s->id = frame->hd.stream_id;
    s->h2 = h2;
    s->x = http_exchange_new(h2->c->w, &h2_xops, s, 20, h2->c->tls);
    s->next = h2->streams;
    if (h2->streams)
        h2->streams->prev = s;
    h2->streams = s;
    h2->nstreams++;
    conn_set_timeout(h2->c, 0);
    nghttp2_session_set_stream_user_data(ses, s->id, s);
    return 0;
}

static void set_str(char **dst, const uint8_t *v, size_t len)
{
    free(*dst);
    *dst = sc_strndup((const char *)v, len);
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    (void)flags;
    (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2s *s = nghttp2_session_get_stream_user_data(ses, frame->hd.stream_id);
    if (s == NULL || s->x == NULL)
        return 0;
    s->hdr_bytes += nlen + vlen + 32;
    if (s->hdr_bytes > H2_HEADER_BYTES_MAX)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM this one only */
    if (nlen > 0 && name[0] == ':') {
        if (nlen == 7 && memcmp(name, ":method", 7) == 0)
            set_str(&s->method, value, vlen);
        else if (nlen == 5 && memcmp(name, ":path", 5) == 0)
            set_str(&s->path, value, vlen);
        else if (nlen == 10 && memcmp(name, ":authority", 10) == 0)
            set_str(&s->authority, value, vlen);
        return 0;
    }
    if (nlen == 4 && memcmp(name, "host", 4) == 0)
        set_str(&s->host, value, vlen);
    if (http_exchange_add_header(s->x, (const char *)name, nlen, (const char *)value, vlen) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

/* Frees a stream's partial body and gives its bytes back to both budgets. */
static void drop_body(struct h2s *s)
{
    if (s->body == NULL)
        return;
    s->h2->body_bytes -= s->body_len;
    reqbudget_refund(s->body_cap);
    free(s->body);
    s->body = NULL;
    s->body_len = s->body_cap = 0;
}

static int on_data_chunk(nghttp2_session *ses, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags;
    (void)user;
    struct h2s *s = nghttp2_session_get_stream_user_data(ses, id);
    if (s == NULL || s->x == NULL || s->rejected)
        return 0;
    if (s->body_len + len > conn_opts(s->h2->c)->body_max_bytes) {
        drop_body(s);
        reject(s, 413, "SerializationException", "request body too large");
        return 0;
    }
    /* Bodies buffered across the connection's streams: with 1024 concurrent streams the
     * per-stream limit alone would allow gigabytes. Past the bound the stream is answered at
     * once with an error SDKs retry (an RST_STREAM reached clients as a transport failure) and
     * its partial body is dropped; the others go on. */
    bool conn_full = s->h2->body_bytes + len > conn_opts(s->h2->c)->h2_conn_body_bytes;
    size_t cap = s->body_cap ? s->body_cap : 1024;
    while (cap < s->body_len + len + 1)
        cap *= 2;
    if (conn_full || (cap > s->body_cap && !reqbudget_charge(cap - s->body_cap))) {
        drop_body(s);
        reject(s, 503, "ServiceUnavailable",
               conn_full ? "Too many request bytes in flight on this connection; retry."
                         : REQBUDGET_REFUSED_MSG);
        return 0;
    }
    s->h2->body_bytes += len;
    if (cap > s->body_cap) {
        s->body = sc_realloc(s->body, cap);
        s->body_cap = cap;
    }
    memcpy(s->body + s->body_len, data, len);
    s->body_len += len;
    return 0;
}

static void dispatch(struct h2s *s)
{
    if (s->method == NULL || s->path == NULL) {
        reject(s, 400, "SerializationException", "missing :method or :path");
        return;
    }
    struct http_exchange *x = s->x;
    http_exchange_set_line(x, s->method, s->path, s->authority ? s->authority : s->host);
    if (s->body == NULL)
        s->body = sc_malloc(1); /* not charged: a byte per body-less request */
    s->body[s->body_len] = '\0';
    http_exchange_set_body(x, s->body, s->body_len, s->body_cap);
    s->h2->body_bytes -= s->body_len;
    s->body = NULL;
    s->body_len = s->body_cap = 0;
    http_exchange_dispatch(x);
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *frame, void *user)
{
    (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    struct h2s *s = nghttp2_session_get_stream_user_data(ses, frame->hd.stream_id);
    if (s == NULL || s->x == NULL || s->rejected || s->x->state != X_NEW)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
        const char *cl = http_request_header(http_exchange_request(s->x), "content-length");
        if (cl && strtoull(cl, NULL, 10) > conn_opts(s->h2->c)->body_max_bytes) {
            reject(s, 413, "SerializationException", "request body too large");
            return 0;
        }
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        dispatch(s);
    return 0;
}

static void h2s_free(struct h2s *s)
{
    drop_body(s);
    free(s->method);
    free(s->path);
    free(s->authority);
    free(s->host);
    free(s);
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t error_code, void *user)
{
    struct h2c *h2 = user;
    struct h2s *s = nghttp2_session_get_stream_user_data(ses, id);
    if (s == NULL || h2->c->dead)
        return 0;
    if (s->prev)
        s->prev->next = s->next;
    else
        h2->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h2->nstreams--;
    struct http_exchange *x = s->x;
    s->x = NULL;
    if (x != NULL) {
        bool clean = error_code == NGHTTP2_NO_ERROR && (x->state != X_STREAM || x->end_sent);
        if (clean && x->state != X_PENDING && x->state != X_NEW)
            http_exchange_done(x);
        else
            http_exchange_detach(x, -ECONNRESET);
    }
    h2s_free(s);
    if (h2->nstreams == 0 && !h2->c->dead)
        conn_set_timeout(h2->c, conn_opts(h2->c)->idle_timeout_ms);
    return 0;
}

static ssize_t on_send(nghttp2_session *ses, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)ses;
    (void)flags;
    struct h2c *h2 = user;
    if (h2->c->dead)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    struct evbuffer *out = output(h2);
    if (evbuffer_get_length(out) >= CONN_OUTPUT_MAX)
        return NGHTTP2_ERR_WOULDBLOCK;
    evbuffer_add(out, data, len);
    return (ssize_t)len;
}

/* ---- session --------------------------------------------------------------------------- */

/* Runs nghttp2_session_send unless nghttp2 is already on the stack (then the outer caller
 * sends); closes the connection once neither side wants anything more. */
static void h2_flush(struct h2c *h2)
{
    struct conn *c = h2->c;
    if (c->dead)
        return;
    if (h2->in_cb > 0) {
        h2->want_send = true;
        return;
    }
    for (int round = 0; round < 8; round++) {
        h2->want_send = false;
        h2->in_cb++;
        int rv = nghttp2_session_send(h2->ses);
        h2->in_cb--;
        if (c->dead)
            return;
        if (rv != 0) {
            LOG_DEBUG("h2: session_send: %s", nghttp2_strerror(rv));
            conn_close(c, -EPROTO);
            return;
        }
        if (!h2->want_send || evbuffer_get_length(output(h2)) >= CONN_OUTPUT_MAX)
            break;
    }
    if (!nghttp2_session_want_read(h2->ses) && !nghttp2_session_want_write(h2->ses))
        conn_close_after_flush(c);
}

void h2_conn_start(struct conn *c)
{
    struct h2c *h2 = sc_calloc(1, sizeof(*h2));
    h2->c = c;
    c->h2 = h2;
    c->proto = CONN_H2;
    nghttp2_session_callbacks *cbs;
    ASSERT(nghttp2_session_callbacks_new(&cbs) == 0);
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_send_data_callback(cbs, on_send_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    ASSERT(nghttp2_session_server_new(&h2->ses, cbs, h2) == 0);
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_CONCURRENT_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_HEADER_BYTES_MAX},
    };
    ASSERT(nghttp2_submit_settings(h2->ses, NGHTTP2_FLAG_NONE, iv, SC_ARRAY_LEN(iv)) == 0);
    ASSERT(nghttp2_session_set_local_window_size(h2->ses, NGHTTP2_FLAG_NONE, 0,
                                                 (int32_t)H2_CONN_WINDOW) == 0);
    conn_set_timeout(c, conn_opts(c)->idle_timeout_ms);
    if (worker_draining(c->w))
        h2_conn_drain(c);
    h2_conn_on_read(c);
}

void h2_conn_on_read(struct conn *c)
{
    struct h2c *h2 = c->h2;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        ASSERT(evbuffer_peek(in, -1, NULL, &v, 1) >= 1);
        h2->in_cb++;
        ssize_t rv = nghttp2_session_mem_recv(h2->ses, v.iov_base, v.iov_len);
        h2->in_cb--;
        if (c->dead)
            return;
        if (rv < 0) {
            LOG_DEBUG("h2: bad input: %s", nghttp2_strerror((int)rv));
            conn_close(c, -EPROTO);
            return;
        }
        evbuffer_drain(in, (size_t)rv);
    }
    h2_flush(h2);
}

void h2_conn_on_write(struct conn *c)
{
    h2_flush(c->h2);
}

void h2_conn_drain(struct conn *c)
{
    struct h2c *h2 = c->h2;
    nghttp2_submit_goaway(h2->ses, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h2->ses), NGHTTP2_NO_ERROR,
                          NULL, 0);
    /* Hold sends while walking: a send could close (and free) the stream under us. */
    h2->in_cb++;
    for (struct h2s *s = h2->streams; s != NULL; s = s->next)
        if (s->x != NULL && s->x->state == X_STREAM)
            http_exchange_finish(s->x);
    h2->in_cb--;
    h2_flush(h2);
}

void h2_conn_abort(struct conn *c, int err)
{
    for (struct h2s *s = c->h2->streams; s != NULL; s = s->next) {
        struct http_exchange *x = s->x;
        s->x = NULL;
        if (x != NULL)
            http_exchange_detach(x, err < 0 ? err : -ECONNRESET);
    }
}

void h2_conn_free(struct conn *c)
{
    struct h2c *h2 = c->h2;
    nghttp2_session_del(h2->ses); /* does not call back */
    while (h2->streams != NULL) {
        struct h2s *s = h2->streams;
        h2->streams = s->next;
        h2s_free(s);
    }
    free(h2);
    c->h2 = NULL;
}
