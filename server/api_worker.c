/* api_worker.c — per-worker API state: the worker's sio (shards/sio.h) watched
 * by its event loop, and on worker 0 the shard table's housekeeping timer. */
#include <event2/event.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/common.h"
#include "server/api.h"
#include "server/api_internal.h"
#include "server/worker.h"
#include "shards/shardtab.h"
#include "shards/sio.h"

#define HOUSEKEEP_MS 100
#define DISPOSE_DRAIN_MS 30000

struct api_worker {
    struct sio *sio;
    struct event *sio_ev;
    struct event *housekeep_ev; /* worker 0 only */
};

static void on_sio_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sio_run_completions(arg);
}

static void on_housekeep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct api_worker *aw = arg;
    shardtab_housekeep(api_shardtab(), aw->sio, clock_now_ms(), clock_mono_ms());
}

int api_worker_init(struct worker *w)
{
    int err = 0;
    struct api_worker *aw = sc_calloc(1, sizeof(*aw));
    aw->sio = sio_create(256, false, &err);
    if (aw->sio == NULL) {
        free(aw);
        return err;
    }
    api_sio_adopt(aw->sio);
    aw->sio_ev =
        event_new(worker_base(w), sio_fd(aw->sio), EV_READ | EV_PERSIST, on_sio_ready, aw->sio);
    ASSERT(aw->sio_ev != NULL);
    event_add(aw->sio_ev, NULL);
    if (worker_index(w) == 0) {
        aw->housekeep_ev = event_new(worker_base(w), -1, EV_PERSIST, on_housekeep, aw);
        ASSERT(aw->housekeep_ev != NULL);
        struct timeval tv = {0, HOUSEKEEP_MS * 1000};
        event_add(aw->housekeep_ev, &tv);
    }
    worker_set_slot(w, aw);
    return 0;
}

void api_worker_dispose(struct worker *w)
{
    struct api_worker *aw = worker_slot(w);
    if (aw == NULL)
        return;
    if (aw->housekeep_ev != NULL)
        event_free(aw->housekeep_ev);
    /* This sio may hold the writer role of logs other workers still append to (or
     * a sync of the housekeeper): finish that here, on the owner thread, while
     * the others drain too. */
    if (sio_drain(aw->sio, DISPOSE_DRAIN_MS) != 0)
        LOG_ERROR("api: worker %u: file I/O still in flight after %d ms", worker_index(w),
                  DISPOSE_DRAIN_MS);
    event_free(aw->sio_ev);
    worker_set_slot(w, NULL);
    free(aw); /* the sio stays until api_shutdown(), after the logs are closed */
}
