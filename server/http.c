/* http.c — the exchange object shared by h1.c and h2.c (http.h contract). */
#include "server/http.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/common.h"
#include "server/conn.h"
#include "server/reqbudget.h"
#include "server/server.h"
#include "server/worker.h"

const struct http_request *http_exchange_request(const struct http_exchange *x)
{
    return &x->req;
}

struct worker *http_exchange_worker(const struct http_exchange *x) { return x->w; }
struct event_base *http_exchange_base(const struct http_exchange *x) { return worker_base(x->w); }

struct http_exchange *http_exchange_new(struct worker *w, const struct xport_ops *ops,
                                        void *xctx, int version, bool tls)
{
    struct http_exchange *x = sc_calloc(1, sizeof(*x));
    x->w = w;
    x->xops = ops;
    x->xctx = xctx;
    x->req.http_version = version;
    x->req.tls = tls;
    x->req.method = x->req.path = x->req.authority = "";
    x->req.body = (const uint8_t *)"";
    return x;
}

void http_exchange_set_line(struct http_exchange *x, const char *method, const char *path,
                            const char *authority)
{
    free(x->method);
    free(x->path);
    free(x->authority);
    x->req.method = x->method = sc_strdup(method);
    x->req.path = x->path = sc_strdup(path);
    x->req.authority = x->authority = sc_strdup(authority ? authority : "");
}

int http_exchange_add_header(struct http_exchange *x, const char *name, size_t nlen,
                             const char *value, size_t vlen)
{
    if (x->nhdrs == HTTP_HEADERS_MAX)
        return -E2BIG;
    if (x->nhdrs == x->hdrs_cap) {
        x->hdrs_cap = x->hdrs_cap ? x->hdrs_cap * 2 : 16;
        x->hdrs = sc_realloc(x->hdrs, x->hdrs_cap * sizeof(*x->hdrs));
    }
    char *n = sc_strndup(name, nlen);
    for (size_t i = 0; i < nlen; i++)
        n[i] = (char)tolower((unsigned char)n[i]);
    x->hdrs[x->nhdrs++] = (struct http_header){n, sc_strndup(value, vlen), nlen, vlen};
    x->req.headers = x->hdrs;
    x->req.header_count = x->nhdrs;
    return 0;
}

void http_exchange_set_body(struct http_exchange *x, uint8_t *body, size_t len, size_t charged)
{
    ASSERT(body != NULL || len == 0);
    free(x->body);
    reqbudget_refund(x->body_charged);
    x->body = body;
    x->body_charged = charged;
    x->req.body = body ? body : (const uint8_t *)"";
    x->req.body_len = len;
}

static void exchange_free(struct http_exchange *x)
{
    for (size_t i = 0; i < x->nhdrs; i++) {
        free((char *)x->hdrs[i].name);
        free((char *)x->hdrs[i].value);
    }
    free(x->hdrs);
    free(x->method);
    free(x->path);
    free(x->authority);
    free(x->body);
    reqbudget_refund(x->body_charged);
    if (x->pending)
        evbuffer_free(x->pending);
    free(x);
}

void http_exchange_dispatch(struct http_exchange *x)
{
    ASSERT(x->state == X_NEW);
    x->state = X_PENDING;
    worker_opts(x->w)->handler(x);
}

static void call_closed(struct http_exchange *x, int err)
{
    if (x->closed_called)
        return;
    x->closed_called = true;
    x->sops->closed(x->sarg, err);
}

void http_exchange_done(struct http_exchange *x)
{
    x->xctx = NULL;
    if (x->state == X_STREAM)
        call_closed(x, 0);
    exchange_free(x);
}

void http_exchange_detach(struct http_exchange *x, int err)
{
    x->xctx = NULL;
    switch (x->state) {
    case X_PENDING: /* the handler still owes an answer; it frees x when it gives it */
        return;
    case X_STREAM:
        call_closed(x, err < 0 ? err : -ECONNRESET);
        break;
    case X_NEW:
    case X_UNARY:
        break;
    }
    exchange_free(x);
}

void http_exchange_respond(struct http_exchange *x, int status, const struct http_header *hdrs,
                           size_t nhdrs, struct evbuffer *body)
{
    ASSERT(x->state == X_NEW || x->state == X_PENDING);
    ASSERT(status >= 100 && status <= 999);
    if (x->xctx == NULL) {
        exchange_free(x);
        return;
    }
    x->state = X_UNARY;
    x->xops->respond(x, status, hdrs, nhdrs, body); /* x may be freed inside */
}

int http_exchange_stream(struct http_exchange *x, int status, const struct http_header *hdrs,
                         size_t nhdrs, const struct http_stream_ops *ops, void *arg)
{
    ASSERT(x->state == X_NEW || x->state == X_PENDING);
    ASSERT(ops != NULL && ops->pull != NULL && ops->closed != NULL);
    if (x->xctx == NULL) {
        exchange_free(x);
        return -ENOTCONN;
    }
    x->state = X_STREAM;
    x->sops = ops;
    x->sarg = arg;
    x->pending = evbuffer_new();
    ASSERT(x->pending != NULL);
    int rc = x->xops->stream(x, status, hdrs, nhdrs);
    if (rc < 0) {
        x->closed_called = true; /* contract: no closed() when the start fails */
        if (x->xctx != NULL)
            x->xctx = NULL;
        exchange_free(x);
    }
    return rc;
}

void http_exchange_resume(struct http_exchange *x)
{
    if (x->state == X_STREAM && x->xctx != NULL && !x->closed_called)
        x->xops->kick(x);
}

void http_exchange_finish(struct http_exchange *x)
{
    if (x->state != X_STREAM || x->xctx == NULL || x->closed_called || x->src_eof ||
        x->finishing)
        return;
    x->finishing = true;
    /* Ending here would cut a message the source has only partly pulled (an event-stream
     * message of up to ~1 MiB travels in many pulls): the source ends at its next boundary
     * and says so with EOF. */
    if (x->sops->finish != NULL)
        x->sops->finish(x->sarg);
    else
        x->src_eof = true;
    x->xops->kick(x); /* x may be freed inside */
}

size_t http_exchange_fill(struct http_exchange *x, size_t hint)
{
    size_t have = evbuffer_get_length(x->pending);
    if (have > 0 || x->src_eof || x->sops == NULL)
        return have;
    ssize_t n = x->sops->pull(x->sarg, x->pending, hint ? hint : 1);
    if (n == HTTP_STREAM_EOF)
        x->src_eof = true;
    else
        ASSERT(n >= 0);
    return evbuffer_get_length(x->pending);
}

void http_date(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void http_error_json(struct evbuffer *out, const char *type, const char *msg)
{
    evbuffer_add_printf(out, "{\"__type\":\"%s\",\"message\":\"%s\"}", type, msg);
}
