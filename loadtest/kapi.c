/* kapi.c — see kapi.h. */
#include "kapi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/common.h"

#define KAPI_CONTENT_TYPE "application/x-amz-json-1.1"

struct kapi_call_ctx {
    kapi_cb cb;           /* or */
    kapi_body_cb body_cb; /* the raw body: JSON parsed only for an error */
    void *arg;
};

size_t kapi_headers(struct kapi *k, const char *op, const char *ctype, const char *body,
                    size_t body_len, struct hheader *hdrs, char *storage, size_t storage_len)
{
    if (ctype == NULL)
        ctype = KAPI_CONTENT_TYPE;
    char *target = storage, *date = storage + 96, *auth = storage + 128;
    ASSERT(storage_len >= 1024);
    snprintf(target, 96, "Kinesis_20131202.%s", op);
    size_t n = 0;
    hdrs[n++] = (struct hheader){"content-type", ctype};
    hdrs[n++] = (struct hheader){"x-amz-target", target};
    if (!k->sign)
        return n;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sigv4_format_date(ts.tv_sec, date);
    struct sigv4_request sr = {.host = k->ep->authority,
                               .amz_date = date,
                               .content_type = ctype,
                               .target = target,
                               .body = (const uint8_t *)body,
                               .body_len = body_len};
    int rv = sigv4_authorization(&k->creds, &sr, auth, storage_len - 128);
    ASSERT(rv > 0);
    hdrs[n++] = (struct hheader){"x-amz-date", date};
    hdrs[n++] = (struct hheader){"authorization", auth};
    if (k->creds.session_token)
        hdrs[n++] = (struct hheader){"x-amz-security-token", k->creds.session_token};
    return n;
}

void kapi_error_type(const json_t *body, char out[64])
{
    out[0] = '\0';
    const char *t = json_string_value(json_object_get(body, "__type"));
    if (!t)
        return;
    const char *hash = strrchr(t, '#');
    if (hash)
        t = hash + 1;
    snprintf(out, 64, "%.*s", (int)strcspn(t, ":"), t);
}

bool kapi_is_throttle(const char *err_type)
{
    return strcmp(err_type, "ProvisionedThroughputExceededException") == 0 ||
           strcmp(err_type, "LimitExceededException") == 0 ||
           strcmp(err_type, "ThrottlingException") == 0;
}

static void kapi_on_done(void *arg, int err, int status, const uint8_t *body, size_t len)
{
    struct kapi_call_ctx *ctx = arg;
    json_t *resp = NULL;
    char type[64] = "";
    if (err == 0 && len > 0 && (ctx->cb != NULL || status != 200))
        resp = json_loadb((const char *)body, len, 0, NULL);
    LOG_DEBUG("<- err %d HTTP %d %.*s", err, status, (int)SC_MIN(len, 600u),
              body ? (const char *)body : "");
    if (err == 0 && status != 200) {
        kapi_error_type(resp, type);
        if (!type[0])
            snprintf(type, sizeof(type), "HTTP%d", status);
    }
    if (ctx->cb)
        ctx->cb(ctx->arg, err, status, resp, type);
    else
        ctx->body_cb(ctx->arg, err, status, (const char *)body, len, type);
    json_decref(resp);
    free(ctx);
}

static void kapi_on_cancel(void *arg)
{
    free(arg);
}

static const struct hreq_cbs kapi_hreq_cbs = {.on_done = kapi_on_done, .on_cancel = kapi_on_cancel};

int kapi_call(struct kapi *k, struct hconn *c, const char *op, json_t *req, kapi_cb cb, void *arg)
{
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    ASSERT(body);
    int rv = kapi_call_raw(k, c, op, body, strlen(body), cb, arg);
    free(body);
    return rv;
}

static int send_call(struct kapi *k, struct hconn *c, const char *op, const char *body, size_t len,
                     struct kapi_call_ctx how)
{
    LOG_DEBUG("-> %s %.*s", op, (int)SC_MIN(len, 300u), body);
    struct hheader hdrs[8];
    char storage[1024];
    size_t n = kapi_headers(k, op, NULL, body, len, hdrs, storage, sizeof(storage));
    struct kapi_call_ctx *ctx = sc_malloc(sizeof(*ctx));
    *ctx = how;
    int rv = hconn_request(c, hdrs, n, body, len, false, &kapi_hreq_cbs, ctx);
    if (rv < 0)
        free(ctx);
    return rv;
}

int kapi_call_raw(struct kapi *k, struct hconn *c, const char *op, const char *body, size_t len,
                  kapi_cb cb, void *arg)
{
    return send_call(k, c, op, body, len, (struct kapi_call_ctx){.cb = cb, .arg = arg});
}

int kapi_call_body(struct kapi *k, struct hconn *c, const char *op, const char *body, size_t len,
                   kapi_body_cb cb, void *arg)
{
    return send_call(k, c, op, body, len, (struct kapi_call_ctx){.body_cb = cb, .arg = arg});
}

struct sync_result {
    bool done;
    int rv;
    json_t *resp;
    char type[64];
};

static void sync_cb(void *arg, int err, int status, json_t *resp, const char *err_type)
{
    struct sync_result *s = arg;
    s->done = true;
    if (err < 0) {
        s->rv = err;
    } else if (status == 200) {
        s->rv = 0;
        s->resp = json_incref(resp);
    } else {
        s->rv = 1;
    }
    snprintf(s->type, sizeof(s->type), "%s", err_type);
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

void kapi_sleep_ms(struct kapi *k, int ms)
{
    bool done = false;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    ASSERT(event_base_once(k->base, -1, EV_TIMEOUT, on_backoff, &done, &tv) == 0);
    while (!done)
        event_base_loop(k->base, EVLOOP_ONCE);
}

int kapi_call_sync(struct kapi *k, struct hconn *c, const char *op, json_t *req, json_t **resp,
                   char err_type[64])
{
    static const int backoff_ms[] = {100, 200, 400, 800, 1000};
    for (size_t attempt = 0;; attempt++) {
        struct sync_result s = {0};
        err_type[0] = '\0';
        *resp = NULL;
        bool last = attempt == SC_ARRAY_LEN(backoff_ms);
        /* kapi_call steals a reference: keep one for the next attempt but the last. */
        int rv = kapi_call(k, c, op, last ? req : json_incref(req), sync_cb, &s);
        if (rv < 0) {
            if (!last)
                json_decref(req);
            return rv;
        }
        /* hconn's own timer fails the request after its timeout, so this loop is bounded. */
        while (!s.done)
            event_base_loop(k->base, EVLOOP_ONCE);
        *resp = s.resp;
        snprintf(err_type, 64, "%s", s.type);
        bool throttled = s.rv == 1 && (strcmp(s.type, "LimitExceededException") == 0 ||
                                       strcmp(s.type, "ProvisionedThroughputExceededException") == 0);
        if (!throttled || last) {
            if (!last)
                json_decref(req);
            return s.rv;
        }
        kapi_sleep_ms(k, backoff_ms[attempt]);
    }
}
