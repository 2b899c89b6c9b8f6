/* server.c — binds listeners, starts and stops the workers. */
#include "server/server.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "server/listener.h"
#include "server/tls.h"
#include "server/reqbudget.h"
#include "server/stats.h"
#include "server/worker.h"

struct server {
    struct server_opts opts;
    char *host, *tls_host, *tls_cert, *tls_key;
    struct ssl_ctx_st *tls_ctx;
    struct worker **workers;
    unsigned nworkers;
    uint16_t port, tls_port;
};

static void fill_defaults(struct server *s, const struct server_opts *o)
{
    s->opts = *o;
    s->host = sc_strdup(o->host);
    s->opts.host = s->host;
    if (o->tls) {
        s->tls_host = sc_strdup(o->tls_host ? o->tls_host : o->host);
        s->tls_cert = sc_strdup(o->tls_cert);
        s->tls_key = sc_strdup(o->tls_key);
        s->opts.tls_host = s->tls_host;
        s->opts.tls_cert = s->tls_cert;
        s->opts.tls_key = s->tls_key;
    }
    if (!s->opts.header_timeout_ms)
        s->opts.header_timeout_ms = SERVER_HEADER_TIMEOUT_MS;
    if (!s->opts.idle_timeout_ms)
        s->opts.idle_timeout_ms = SERVER_IDLE_TIMEOUT_MS;
    if (!s->opts.shutdown_grace_ms)
        s->opts.shutdown_grace_ms = SERVER_SHUTDOWN_GRACE_MS;
    if (!s->opts.max_conns_per_worker)
        s->opts.max_conns_per_worker = SERVER_MAX_CONNS_PER_WORKER;
    if (!s->opts.body_max_bytes)
        s->opts.body_max_bytes = 32u << 20;
    if (!s->opts.h2_conn_body_bytes)
        s->opts.h2_conn_body_bytes = SERVER_H2_BODIES_PER_CONN * s->opts.body_max_bytes;
    if (!s->opts.body_budget_bytes)
        s->opts.body_budget_bytes = SERVER_BODY_BUDGET_BYTES;
}

static void server_free(struct server *s)
{
    if (s->tls_ctx)
        tls_ctx_destroy(s->tls_ctx);
    free(s->workers);
    free(s->host);
    free(s->tls_host);
    free(s->tls_cert);
    free(s->tls_key);
    free(s);
}

/* One socket per worker on host:*port; the first bind with port 0 decides the port. */
static int bind_all(struct server *s, const char *host, uint16_t *port, struct ssl_ctx_st *tls)
{
    for (unsigned i = 0; i < s->nworkers; i++) {
        uint16_t bound = 0;
        int fd = listener_bind(host, *port, &bound);
        if (fd < 0)
            return fd;
        *port = bound;
        worker_add_listener(s->workers[i], listener_create(s->workers[i], fd, tls));
    }
    return 0;
}

int server_start(const struct server_opts *o, struct server **out)
{
    ASSERT(o->handler != NULL && o->host != NULL && o->workers >= 1);
    struct server *s = sc_calloc(1, sizeof(*s));
    fill_defaults(s, o);
    reqbudget_set(s->opts.body_budget_bytes);
    int rc = 0;
    if (o->tls && (s->tls_ctx = tls_ctx_create(o->tls_cert, o->tls_key)) == NULL) {
        server_free(s);
        return -EPROTO;
    }
    s->nworkers = o->workers;
    s->workers = sc_calloc(s->nworkers, sizeof(*s->workers));
    for (unsigned i = 0; i < s->nworkers; i++)
        s->workers[i] = worker_create(i, &s->opts);
    s->port = o->port;
    s->tls_port = o->tls_port;
    rc = bind_all(s, s->host, &s->port, NULL);
    if (rc == 0 && o->tls)
        rc = bind_all(s, s->tls_host, &s->tls_port, s->tls_ctx);
    if (rc != 0)
        goto fail_workers;
    worker_registry_set(s->workers, s->nworkers);
    stats_set_workers(worker_stats_json);
    for (unsigned i = 0; i < s->nworkers; i++) {
        rc = worker_start(s->workers[i]);
        if (rc != 0) {
            LOG_ERROR("worker %u failed to start: %d", i, rc);
            goto fail_started;
        }
    }
    *out = s;
    return 0;
fail_started:
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_drain(s->workers[i]);
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_join(s->workers[i]);
fail_workers:
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_destroy(s->workers[i]);
    stats_set_workers(NULL);
    worker_registry_set(NULL, 0);
    server_free(s);
    return rc;
}

uint16_t server_port(const struct server *s) { return s->port; }
uint16_t server_tls_port(const struct server *s) { return s->opts.tls ? s->tls_port : 0; }

void server_stop(struct server *s)
{
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_drain(s->workers[i]);
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_join(s->workers[i]);
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_destroy(s->workers[i]);
    stats_set_workers(NULL);
    worker_registry_set(NULL, 0);
    server_free(s);
}
