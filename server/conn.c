/* conn.c — accepted connections: sniffing (h1 vs h2 prior knowledge), TLS handshake + ALPN,
 * timeouts, teardown, and the per-worker set used for draining. */
#include "server/conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "server/h1.h"
#include "server/h2.h"
#include "server/server.h"
#include "server/sockread.h"
#include "server/tls.h"
#include "server/worker.h"

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

void conn_set_init(struct conn_set *s, struct worker *w)
{
    memset(s, 0, sizeof(*s));
    s->w = w;
}

const struct server_opts *conn_opts(const struct conn *c) { return worker_opts(c->w); }

static void conn_free(void *arg)
{
    struct conn *c = arg;
    ASSERT(c->dead);
    if (c->h1)
        h1_conn_free(c);
    if (c->h2)
        h2_conn_free(c);
    event_free(c->timer);
    free(c);
}

void conn_close(struct conn *c, int err)
{
    if (c->dead)
        return;
    c->dead = true;
    struct conn_set *s = worker_conns(c->w);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->count--;
    worker_assign(c->w, -1);
    event_del(c->timer);
    if (c->h1)
        h1_conn_abort(c, err);
    if (c->h2)
        h2_conn_abort(c, err);
    bufferevent_free(c->bev); /* closes the socket (and frees the SSL) */
    c->bev = NULL;
    worker_defer(c->w, conn_free, c);
    worker_maybe_exit(c->w);
}

void conn_close_after_flush(struct conn *c)
{
    if (c->dead)
        return;
    c->close_after_flush = true;
    bufferevent_disable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        conn_close(c, 0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    LOG_DEBUG("connection timed out");
    conn_close(c, -ETIMEDOUT);
}

void conn_set_timeout(struct conn *c, uint32_t ms)
{
    if (c->dead)
        return;
    if (ms == 0) {
        event_del(c->timer);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

/* Plaintext: the 24-byte h2 preface means prior-knowledge h2c, anything else HTTP/1.1. */
static void sniff(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t n = SC_MIN(evbuffer_get_length(in), (size_t)H2_PREFACE_LEN);
    char buf[H2_PREFACE_LEN];
    evbuffer_copyout(in, buf, n);
    if (memcmp(buf, h2_preface, n) != 0)
        h1_conn_start(c);
    else if (n == H2_PREFACE_LEN)
        h2_conn_start(c);
    /* else: a prefix of the preface, wait for more */
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (!c->tls)
        sockread_fill(bev, CONN_IO_CHUNK_MAX);
    switch (c->proto) {
    case CONN_SNIFF: sniff(c); break;
    case CONN_TLS_HANDSHAKE: break;
    case CONN_H1: h1_conn_on_read(c); break;
    case CONN_H2: h2_conn_on_read(c); break;
    }
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->close_after_flush) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            conn_close(c, 0);
        return;
    }
    if (c->proto == CONN_H1)
        h1_conn_on_write(c);
    else if (c->proto == CONN_H2)
        h2_conn_on_write(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        ASSERT(c->proto == CONN_TLS_HANDSHAKE);
        conn_set_timeout(c, conn_opts(c)->header_timeout_ms);
        if (tls_alpn_is_h2(bufferevent_openssl_get_ssl(bev)))
            h2_conn_start(c);
        else
            h1_conn_start(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_close(c, -ECONNRESET);
}

void conn_accept(struct worker *w, int fd, struct ssl_ctx_st *tls)
{
    struct conn_set *s = worker_conns(w);
    const struct server_opts *o = worker_opts(w);
    unsigned max = o->max_conns_per_worker ? o->max_conns_per_worker : SERVER_MAX_CONNS_PER_WORKER;
    if (s->count >= max || worker_draining(w)) {
        close(fd);
        worker_assign(w, -1);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evutil_make_socket_nonblocking(fd);
    struct conn *c = sc_calloc(1, sizeof(*c));
    c->w = w;
    c->tls = tls != NULL;
    if (tls) {
        SSL *ssl = SSL_new(tls);
        ASSERT(ssl != NULL);
        c->bev = bufferevent_openssl_socket_new(worker_base(w), fd, ssl,
                                                BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        c->proto = CONN_TLS_HANDSHAKE;
    } else {
        c->bev = bufferevent_socket_new(worker_base(w), fd, BEV_OPT_CLOSE_ON_FREE);
        c->proto = CONN_SNIFF;
    }
    ASSERT(c->bev != NULL);
    c->timer = evtimer_new(worker_base(w), on_timer, c);
    c->next = s->head;
    if (s->head)
        s->head->prev = c;
    s->head = c;
    s->count++;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUTPUT_MAX / 4, 0);
    /* libevent's default moves at most 16 KiB per callback: at ~100 MiB/s of fan-out that is
     * one epoll turn per 16 KiB. (Plaintext reads are capped at 4 KiB inside libevent whatever
     * this says; sockread_fill in on_read takes the rest. TLS reads honour it.) */
    ASSERT(bufferevent_set_max_single_read(c->bev, CONN_IO_CHUNK_MAX) == 0);
    ASSERT(bufferevent_set_max_single_write(c->bev, CONN_IO_CHUNK_MAX) == 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    conn_set_timeout(c, o->header_timeout_ms);
}

void conn_set_drain(struct conn_set *s)
{
    /* Draining may close connections (unlinking them): walk a snapshot of next pointers. */
    for (struct conn *c = s->head, *next; c != NULL; c = next) {
        next = c->next;
        switch (c->proto) {
        case CONN_H1: h1_conn_drain(c); break;
        case CONN_H2: h2_conn_drain(c); break;
        default: conn_close(c, -ESHUTDOWN); break;
        }
    }
}

void conn_set_close_all(struct conn_set *s)
{
    while (s->head != NULL)
        conn_close(s->head, -ESHUTDOWN);
}
