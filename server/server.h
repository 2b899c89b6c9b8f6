/* server.h — starts and stops the transport: workers, listeners, connections.
 * main.c uses it with api_handle; unit tests start it in-process with their own handler.
 *
 * Thread rule: server_start/server_stop on one controlling thread (main); the handler and the
 * worker hooks run on worker threads. One server per process at a time (worker_at() is global). */
#ifndef SC_SERVER_H
#define SC_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct http_exchange;
struct worker;

struct server_opts {
    /* Every parsed request; answers exactly once through http.h. Required. */
    void (*handler)(struct http_exchange *x);
    /* Optional: on each worker's thread at start (nonzero fails server_start) and at end. */
    int (*worker_init)(struct worker *w);
    void (*worker_dispose)(struct worker *w);

    const char *host; /* plaintext HTTP/1.1 + h2c; required */
    uint16_t port;    /* 0 = ephemeral, the first bind picks it, other workers reuse it */
    bool tls;
    const char *tls_host;
    uint16_t tls_port;
    const char *tls_cert; /* PEM paths */
    const char *tls_key;

    unsigned workers;         /* >= 1 */
    uint64_t body_max_bytes;  /* request body limit -> 413 */
    /* 0 = defaults below; tests may shorten them. */
    uint32_t header_timeout_ms;   /* whole request head must arrive within this */
    uint32_t idle_timeout_ms;     /* idle keep-alive / idle h2 connection */
    uint32_t shutdown_grace_ms;   /* bounded wait for in-flight work in server_stop */
    uint32_t max_conns_per_worker;
    /* Request bodies an h2 connection may have buffered at once, across its streams (a stream
     * past it is answered 503 ServiceUnavailable, retryable); 0 = SERVER_H2_BODIES_PER_CONN
     * times body_max_bytes. */
    uint64_t h2_conn_body_bytes;
    /* Request bodies the whole server may hold at once (reqbudget.h); 0 =
     * SERVER_BODY_BUDGET_BYTES. Past it a request is answered 503 ServiceUnavailable. */
    uint64_t body_budget_bytes;
};

#define SERVER_HEADER_TIMEOUT_MS 30000u
#define SERVER_IDLE_TIMEOUT_MS 120000u
#define SERVER_SHUTDOWN_GRACE_MS 5000u
#define SERVER_MAX_CONNS_PER_WORKER 4096u
#define SERVER_H2_BODIES_PER_CONN 5u /* five largest PutRecords in flight on one connection */
#define SERVER_BODY_BUDGET_BYTES (1ull << 30) /* ~70 of the largest PutRecords at once */
#define SERVER_HEADER_MAX_BYTES (64u * 1024u)

struct server;

/* Binds all listeners (SO_REUSEPORT, one socket per worker), starts the workers and waits until
 * each ran worker_init. `o` is copied (strings too). Returns 0 and *out, or -errno (bind/listen
 * failure, logged), -EPROTO (TLS setup), -ECANCELED (a worker_init failed). */
int server_start(const struct server_opts *o, struct server **out);

/* Actually bound ports (never 0 after a successful start); tls port 0 when TLS is off. */
uint16_t server_port(const struct server *s);
uint16_t server_tls_port(const struct server *s);

/* Graceful stop: stop accepting, GOAWAY on h2, finish open streams, let in-flight unary
 * responses finish within shutdown_grace_ms, then close the rest, run worker_dispose on each
 * worker thread, join and free everything. Blocks. */
void server_stop(struct server *s);

#endif
