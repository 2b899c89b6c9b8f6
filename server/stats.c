/* stats.c — counters for GET /stats (stats.h). The fan-out's own counters live in
 * subscribe/pipe.c; this file adds the transport's and formats them together. */
#include "server/stats.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdatomic.h>

#include "common/common.h"
#include "server/http.h"
#include "server/reqbudget.h"
#include "subscribe/leases.h"
#include "subscribe/pipe.h"

static _Atomic uint64_t g_ref_bytes, g_copied_bytes;
/* Set by the server once its workers run (a hook, so that stats need not link the workers). */
static void (*_Atomic g_workers_json)(struct evbuffer *out);

void stats_h2_data(uint64_t ref_bytes, uint64_t copied_bytes)
{
    atomic_fetch_add_explicit(&g_ref_bytes, ref_bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_copied_bytes, copied_bytes, memory_order_relaxed);
}

void stats_json(struct evbuffer *out)
{
    struct pipe_stats p;
    pipe_stats_get(&p);
    evbuffer_add_printf(
        out,
        "{\"h2_data_ref_bytes\":%" PRIu64 ",\"h2_data_copied_bytes\":%" PRIu64
        ",\"pipes_open\":%" PRIu64 ",\"tail_frames_built\":%" PRIu64
        ",\"tail_frames_handed\":%" PRIu64 ",\"tail_bytes_flattened\":%" PRIu64
        ",\"catchup_frames\":%" PRIu64 ",\"pulled_bytes\":%" PRIu64 ",\"pulled_chains\":%" PRIu64
        ",\"tail_drops\":%" PRIu64 ",\"rate_waits\":%" PRIu64 ",\"tail_cbor_twins\":%" PRIu64
        ",\"leases\":%zu",
        atomic_load(&g_ref_bytes), atomic_load(&g_copied_bytes), p.pipes_open, p.tail_frames_built,
        p.tail_frames_handed, p.tail_bytes_flattened, p.catchup_frames, p.pulled_bytes,
        p.pulled_chains, p.tail_drops, p.rate_waits, p.tail_cbor_twins, leases_count());
    void (*workers)(struct evbuffer *) = atomic_load(&g_workers_json);
    if (workers != NULL) {
        evbuffer_add_printf(out, ",\"worker_connections\":");
        workers(out);
    }
    evbuffer_add_printf(out, ",\"request_body_bytes\":%" PRIu64 "}\n", reqbudget_charged());
}

void stats_set_workers(void (*fn)(struct evbuffer *out))
{
    atomic_store(&g_workers_json, fn);
}

void stats_handle(struct http_exchange *x)
{
    static const struct http_header h[] = {{"content-type", "application/json", 12, 16}};
    struct evbuffer *body = evbuffer_new();
    ASSERT(body != NULL);
    stats_json(body);
    http_exchange_respond(x, 200, h, 1, body);
    evbuffer_free(body);
}
