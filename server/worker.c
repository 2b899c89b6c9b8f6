/* worker.c — thread + event base + bounded MPSC post queue + end-of-turn defer list. */
#include "server/worker.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/common.h"
#include "server/conn.h"
#include "server/listener.h"
#include "server/server.h"

#define WORKER_LISTENERS_MAX 2

struct deferred {
    void (*fn)(void *);
    void *arg;
};

struct worker {
    unsigned index;
    const struct server_opts *opts;
    struct event_base *base;
    pthread_t thread;
    bool started, joined;
    void *slot;

    struct listener *listeners[WORKER_LISTENERS_MAX];
    unsigned nlisteners;
    struct conn_set conns;
    _Atomic int assigned; /* see worker_assigned() */
    bool draining;
    struct event *grace_ev;

    /* Post queue: ring under a mutex; producers are rare (fan-out wakeups), so a lock is fine. */
    pthread_mutex_t post_mu;
    struct deferred post_ring[WORKER_POST_MAX];
    unsigned post_head, post_len;
    int post_fd;
    struct event *post_ev;

    /* Defer list: grows on demand; swapped out while it runs. */
    struct deferred *defers;
    size_t ndefers, defers_cap;
    struct event *defer_ev;

    /* Startup handshake with worker_start. */
    pthread_mutex_t start_mu;
    pthread_cond_t start_cv;
    int start_rc;
    bool start_done;
};

static _Thread_local struct worker *tls_current;
static struct worker **registry;
static unsigned registry_n;

struct worker *worker_current(void) { return tls_current; }
struct event_base *worker_base(struct worker *w) { return w->base; }
unsigned worker_index(const struct worker *w) { return w->index; }
unsigned worker_count(void) { return registry_n; }
void *worker_slot(struct worker *w) { return w->slot; }
void worker_set_slot(struct worker *w, void *p) { w->slot = p; }
struct conn_set *worker_conns(struct worker *w) { return &w->conns; }
unsigned worker_assigned(const struct worker *w) { return (unsigned)atomic_load(&w->assigned); }

void worker_assign(struct worker *w, int delta)
{
    int before = atomic_fetch_add(&w->assigned, delta);
    ASSERT(before + delta >= 0);
}

void worker_stats_json(struct evbuffer *out)
{
    evbuffer_add_printf(out, "[");
    for (unsigned i = 0, n = worker_count(); i < n; i++)
        evbuffer_add_printf(out, "%s%u", i ? "," : "", worker_assigned(worker_at(i)));
    evbuffer_add_printf(out, "]");
}

bool worker_draining(const struct worker *w) { return w->draining; }
const struct server_opts *worker_opts(const struct worker *w) { return w->opts; }

struct worker *worker_at(unsigned i)
{
    ASSERT(i < registry_n);
    return registry[i];
}

void worker_registry_set(struct worker **ws, unsigned n)
{
    registry = ws;
    registry_n = n;
}

int worker_post(struct worker *w, void (*fn)(void *), void *arg)
{
    ASSERT(fn != NULL);
    pthread_mutex_lock(&w->post_mu);
    if (w->post_len == WORKER_POST_MAX) {
        pthread_mutex_unlock(&w->post_mu);
        return -EAGAIN;
    }
    bool was_empty = w->post_len == 0;
    w->post_ring[(w->post_head + w->post_len) % WORKER_POST_MAX] = (struct deferred){fn, arg};
    w->post_len++;
    pthread_mutex_unlock(&w->post_mu);
    if (was_empty) { /* one wakeup per batch: the reader drains the whole ring */
        uint64_t one = 1;
        ssize_t n = write(w->post_fd, &one, sizeof(one));
        ASSERT(n == (ssize_t)sizeof(one) || errno == EAGAIN);
    }
    return 0;
}

/* Runs every queued post; returns how many ran. */
static unsigned run_posts(struct worker *w)
{
    unsigned ran = 0;
    for (;;) {
        pthread_mutex_lock(&w->post_mu);
        if (w->post_len == 0) {
            pthread_mutex_unlock(&w->post_mu);
            return ran;
        }
        struct deferred d = w->post_ring[w->post_head];
        w->post_head = (w->post_head + 1) % WORKER_POST_MAX;
        w->post_len--;
        pthread_mutex_unlock(&w->post_mu);
        d.fn(d.arg);
        ran++;
    }
}

static void on_post(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct worker *w = arg;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));
    (void)n; /* EAGAIN: a racing producer's wakeup was already consumed; the ring is the truth */
    run_posts(w);
}

static void run_defers(struct worker *w)
{
    /* Bounded rounds: a defer that defers again runs in this flush, but not forever. */
    for (unsigned round = 0; w->ndefers > 0 && round < 64; round++) {
        struct deferred *list = w->defers;
        size_t n = w->ndefers;
        w->defers = NULL;
        w->ndefers = w->defers_cap = 0;
        for (size_t i = 0; i < n; i++)
            list[i].fn(list[i].arg);
        free(list);
    }
    if (w->ndefers > 0)
        event_active(w->defer_ev, EV_READ, 0);
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_defers(arg);
}

void worker_defer(struct worker *w, void (*fn)(void *), void *arg)
{
    ASSERT(w == tls_current || tls_current == NULL);
    if (w->ndefers == w->defers_cap) {
        w->defers_cap = w->defers_cap ? w->defers_cap * 2 : 16;
        w->defers = sc_realloc(w->defers, w->defers_cap * sizeof(*w->defers));
    }
    w->defers[w->ndefers++] = (struct deferred){fn, arg};
    if (w->ndefers == 1)
        event_active(w->defer_ev, EV_READ, 0);
}

struct worker *worker_create(unsigned index, const struct server_opts *o)
{
    struct worker *w = sc_calloc(1, sizeof(*w));
    w->index = index;
    w->opts = o;
    w->base = event_base_new();
    ASSERT(w->base != NULL);
    /* Three priorities; libevent's default is the middle one for all I/O. The defer flush
     * takes the lowest, so it runs once the turn's I/O callbacks are done. */
    event_base_priority_init(w->base, 3);
    pthread_mutex_init(&w->post_mu, NULL);
    pthread_mutex_init(&w->start_mu, NULL);
    pthread_cond_init(&w->start_cv, NULL);
    w->post_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT(w->post_fd >= 0);
    w->post_ev = event_new(w->base, w->post_fd, EV_READ | EV_PERSIST, on_post, w);
    event_add(w->post_ev, NULL);
    w->defer_ev = event_new(w->base, -1, 0, on_defer, w);
    event_priority_set(w->defer_ev, 2);
    conn_set_init(&w->conns, w);
    return w;
}

void worker_add_listener(struct worker *w, struct listener *l)
{
    ASSERT(w->nlisteners < WORKER_LISTENERS_MAX);
    w->listeners[w->nlisteners++] = l;
}

static void close_listeners(struct worker *w)
{
    for (unsigned i = 0; i < w->nlisteners; i++)
        listener_destroy(w->listeners[i]);
    w->nlisteners = 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    tls_current = w;
    int rc = w->opts->worker_init ? w->opts->worker_init(w) : 0;
    pthread_mutex_lock(&w->start_mu);
    w->start_rc = rc;
    w->start_done = true;
    pthread_cond_signal(&w->start_cv);
    pthread_mutex_unlock(&w->start_mu);
    if (rc != 0)
        return NULL;
    event_base_dispatch(w->base);
    close_listeners(w);
    conn_set_close_all(&w->conns);
    run_defers(w);
    if (w->opts->worker_dispose)
        w->opts->worker_dispose(w);
    /* Whatever the API queued on its way out still runs, on this thread. */
    for (unsigned i = 0; i < 16 && (run_posts(w) > 0 || w->ndefers > 0); i++)
        run_defers(w);
    tls_current = NULL;
    return NULL;
}

int worker_start(struct worker *w)
{
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0)
        return -rc;
    w->started = true;
    pthread_mutex_lock(&w->start_mu);
    while (!w->start_done)
        pthread_cond_wait(&w->start_cv, &w->start_mu);
    rc = w->start_rc;
    pthread_mutex_unlock(&w->start_mu);
    return rc == 0 ? 0 : -ECANCELED;
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct worker *w = arg;
    LOG_WARN("worker %u: shutdown grace over, closing %u connection(s)", w->index,
             w->conns.count);
    conn_set_close_all(&w->conns);
    event_base_loopexit(w->base, NULL);
}

static void drain_on_worker(void *arg)
{
    struct worker *w = arg;
    if (w->draining)
        return;
    w->draining = true;
    close_listeners(w);
    uint32_t ms = w->opts->shutdown_grace_ms ? w->opts->shutdown_grace_ms
                                             : SERVER_SHUTDOWN_GRACE_MS;
    w->grace_ev = evtimer_new(w->base, on_grace, w);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(w->grace_ev, &tv);
    conn_set_drain(&w->conns);
    worker_maybe_exit(w);
}

void worker_maybe_exit(struct worker *w)
{
    if (w->draining && w->conns.count == 0)
        event_base_loopexit(w->base, NULL);
}

void worker_drain(struct worker *w)
{
    /* The ring may be full under extreme load; retry briefly rather than lose the stop. */
    for (int i = 0; i < 1000; i++) {
        if (worker_post(w, drain_on_worker, w) == 0)
            return;
        usleep(1000);
    }
    ASSERT(!"worker post queue stuck full during shutdown");
}

void worker_join(struct worker *w)
{
    if (w->started && !w->joined)
        ASSERT(pthread_join(w->thread, NULL) == 0);
    w->joined = true;
}

void worker_destroy(struct worker *w)
{
    worker_join(w);
    close_listeners(w);
    run_posts(w);
    run_defers(w);
    if (w->grace_ev)
        event_free(w->grace_ev);
    event_free(w->post_ev);
    event_free(w->defer_ev);
    free(w->defers);
    close(w->post_fd);
    event_base_free(w->base);
    pthread_mutex_destroy(&w->post_mu);
    pthread_mutex_destroy(&w->start_mu);
    pthread_cond_destroy(&w->start_cv);
    free(w);
}
