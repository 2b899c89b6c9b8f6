/* listener.c — bind with SO_REUSEPORT and accept into connections. */
#include "server/listener.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/common.h"
#include "server/conn.h"
#include "server/worker.h"

/* After EMFILE/ENFILE, accept is paused this long instead of spinning on a ready socket. */
#define LISTENER_BACKOFF_MS 100

struct listener {
    struct worker *w;
    struct evconnlistener *evl;
    struct ssl_ctx_st *tls;
    struct event *backoff;
};

static int bind_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int listener_bind(const char *host, uint16_t port, uint16_t *bound_port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    int gai = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
    if (gai != 0) {
        LOG_ERROR("cannot resolve listen address %s: %s", host, gai_strerror(gai));
        return -EINVAL;
    }
    int fd = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = bind_one(ai);
    freeaddrinfo(res);
    if (fd < 0) {
        LOG_ERROR("cannot listen on %s:%u: %s", host, (unsigned)port, strerror(-fd));
        return fd;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    ASSERT(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
    *bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

struct handoff {
    struct worker *w;
    int fd;
    struct ssl_ctx_st *tls;
};

static void accept_handed(void *arg)
{
    struct handoff *h = arg;
    conn_accept(h->w, h->fd, h->tls);
    free(h);
}

/* The worker with the fewest connections, this one on a tie. SO_REUSEPORT spreads connections
 * by a hash of their addresses: 7 connections from one client (a load generator: control,
 * producer, 5 consumers) landed 5 to 2 or worse, and the fuller worker's longer loop turns set
 * everyone's tail latency. */
static struct worker *least_loaded(struct worker *self)
{
    struct worker *best = self;
    unsigned best_n = worker_assigned(self);
    for (unsigned i = 0, n = worker_count(); i < n; i++) {
        struct worker *o = worker_at(i);
        unsigned k = worker_assigned(o);
        if (k < best_n) {
            best = o;
            best_n = k;
        }
    }
    return best;
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)evl;
    (void)sa;
    (void)salen;
    struct listener *l = arg;
    /* Counted at once, before the handoff arrives, so a burst of accepts spreads too. */
    struct worker *to = least_loaded(l->w);
    worker_assign(to, +1);
    if (to != l->w) {
        struct handoff *h = sc_malloc(sizeof(*h));
        *h = (struct handoff){to, fd, l->tls};
        if (worker_post(to, accept_handed, h) == 0)
            return;
        free(h); /* its queue is full: keep the connection here */
        worker_assign(to, -1);
        worker_assign(l->w, +1);
    }
    conn_accept(l->w, fd, l->tls);
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct listener *l = arg;
    evconnlistener_enable(l->evl);
}

static void on_accept_error(struct evconnlistener *evl, void *arg)
{
    struct listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();
    LOG_WARN("accept failed: %s; pausing accept for %d ms", strerror(err), LISTENER_BACKOFF_MS);
    evconnlistener_disable(evl);
    struct timeval tv = {0, LISTENER_BACKOFF_MS * 1000};
    evtimer_add(l->backoff, &tv);
}

struct listener *listener_create(struct worker *w, int fd, struct ssl_ctx_st *tls)
{
    struct listener *l = sc_calloc(1, sizeof(*l));
    l->w = w;
    l->tls = tls;
    l->evl = evconnlistener_new(worker_base(w), on_accept, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    ASSERT(l->evl != NULL);
    evconnlistener_set_error_cb(l->evl, on_accept_error);
    l->backoff = evtimer_new(worker_base(w), on_backoff, l);
    return l;
}

void listener_destroy(struct listener *l)
{
    evconnlistener_free(l->evl);
    event_free(l->backoff);
    free(l);
}
