/* worker.h — one thread, one libevent base, its own listening sockets and connections
 * (architecture.md §2). Other modules reach a worker through these calls only.
 *
 * Workers are created and started by server_start() (server.h) and live until server_stop().
 * worker_count()/worker_at() are valid between those two calls from any thread. */
#ifndef SC_WORKER_H
#define SC_WORKER_H

#include <stdbool.h>

struct event_base;
struct worker;
struct evbuffer;
struct conn_set;

/* The worker whose thread is calling, or NULL off-worker (main thread, other threads). */
struct worker *worker_current(void);

/* The worker's event base. Use it only on that worker's thread. */
struct event_base *worker_base(struct worker *w);

/* 0 .. worker_count()-1, stable for the worker's life. Any thread. */
unsigned worker_index(const struct worker *w);

/* Number of running workers (0 before server_start()). Any thread. */
unsigned worker_count(void);

/* Worker i (i < worker_count()). Any thread. */
struct worker *worker_at(unsigned i);

/* Runs fn(arg) on w's thread soon (next loop turn). Callable from ANY thread, including w's.
 * Bounded MPSC queue (WORKER_POST_MAX entries) + eventfd wakeup.
 * Returns 0, or -EAGAIN when the queue is full (fn will not run; the caller keeps arg).
 * After the worker stopped, queued functions still run once, on the stopping thread, before
 * the worker is freed, so arg is never lost. */
int worker_post(struct worker *w, void (*fn)(void *), void *arg);
#define WORKER_POST_MAX 4096

/* Runs fn(arg) at the end of the current loop turn, on w's own thread. Only from w's thread.
 * Functions deferred from inside a deferred function run in the same flush. Never fails. */
void worker_defer(struct worker *w, void (*fn)(void *), void *arg);

/* One pointer of per-worker state for the API layer (set in api_worker_init). w's thread. */
void *worker_slot(struct worker *w);
void worker_set_slot(struct worker *w, void *p);

/* --- server-internal (server/ only) ------------------------------------------------------ */

/* The connections this worker owns. */
struct conn_set *worker_conns(struct worker *w);

/* True once server_stop() asked this worker to drain. w's thread. */
bool worker_draining(const struct worker *w);

/* Called by the connection layer when its last connection is gone during drain. */
void worker_maybe_exit(struct worker *w);

/* Connections assigned to w: counted when a listener picks w (listener.c), uncounted when the
 * connection closes or is refused. Any thread; listeners balance on it. */
unsigned worker_assigned(const struct worker *w);
void worker_assign(struct worker *w, int delta);
/* Appends [worker_assigned(0), ..] as a JSON array (GET /stats). Any thread. */
void worker_stats_json(struct evbuffer *out);

#endif

/* Lifecycle, used by server.c only. */
struct server_opts;
struct listener;
/* Main thread: allocates the worker and its base. */
struct worker *worker_create(unsigned index, const struct server_opts *o);
/* Main thread: hands a listener (created on worker_base(w)) to the worker, which frees it. */
void worker_add_listener(struct worker *w, struct listener *l);
/* Main thread: spawns the thread, waits for worker_init. 0, -errno, or -ECANCELED. */
int worker_start(struct worker *w);
/* Any thread: ask the worker to stop accepting and drain; its loop exits when done. */
void worker_drain(struct worker *w);
/* Main thread: waits for the worker's thread to end (after worker_drain). Join every worker
 * before destroying any: a listener may hand a connection to any worker until its own thread
 * ends (listener.c), and a handoff still queued then is closed by worker_destroy. */
void worker_join(struct worker *w);
/* Main thread: joins if not yet done, runs what is still posted, frees. Also valid on a
 * never-started worker. */
void worker_destroy(struct worker *w);
/* Main thread: publish the workers for worker_count()/worker_at() (n = 0 to clear). */
void worker_registry_set(struct worker **ws, unsigned n);
const struct server_opts *worker_opts(const struct worker *w);
