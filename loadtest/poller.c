/* poller.c — a classic (polling) consumer: one GetShardIterator(LATEST) per shard, then
 * GetRecords on each shard every --poll-interval-ms, following NextShardIterator. Throttles
 * (ProvisionedThroughputExceededException) are counted and retried at the next interval, as the
 * KCL does; an expired iterator is re-acquired at LATEST and counted as an error (records in
 * between may be lost, which the report shows). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "common/clock.h"
#include "common/common.h"
#include "run.h"

static int get_iterator(struct lt_pipe *p)
{
    struct lt_consumer *c = p->c;
    struct run *r = c->run;
    json_t *resp = NULL;
    char type[64];
    json_t *req = json_pack("{s:s, s:s, s:s}", "StreamName", r->cfg.stream, "ShardId",
                            r->shard_ids[p->shard], "ShardIteratorType", "LATEST");
    int rv = kapi_call_sync(&r->api, c->conn, "GetShardIterator", req, &resp, type);
    if (rv != 0) {
        if (rv > 0)
            LOG_ERROR("GetShardIterator %s: %s", r->shard_ids[p->shard], type);
        json_decref(resp);
        return rv < 0 ? rv : -EIO;
    }
    free(p->iterator);
    p->iterator = sc_strdup(json_string_value(json_object_get(resp, "ShardIterator")) ?: "");
    json_decref(resp);
    return p->iterator[0] ? 0 : -EIO;
}

int poller_start(struct lt_consumer *c)
{
    struct run *r = c->run;
    c->conn = hconn_create(r->base, &r->ep, (uint32_t)r->cfg.timeout_ms);
    if (!c->conn)
        return -ENOMEM;
    c->pipes = sc_calloc((size_t)r->n_shards, sizeof(*c->pipes));
    for (int i = 0; i < r->n_shards; i++) {
        c->pipes[i].c = c;
        c->pipes[i].shard = i;
        int rv = get_iterator(&c->pipes[i]);
        if (rv < 0)
            return rv;
    }
    return 0;
}

static void records_done(void *arg, int err, int status, json_t *resp, const char *err_type)
{
    struct lt_pipe *p = arg;
    struct lt_consumer *c = p->c;
    struct run *r = c->run;
    struct lt_pathstats *st = &r->stats[LT_PATH_CLASSIC];
    int64_t now_wall = run_wall_ns();
    p->in_flight = false;
    p->next_ns = clock_mono_ns() + (uint64_t)r->cfg.poll_interval_ms * 1000000u;
    st->calls++;
    if (err < 0) {
        st->errors++;
        return; /* the connection is dead; the tick reconnects and we poll again */
    }
    if (status != 200) {
        if (kapi_is_throttle(err_type)) {
            st->throttled++;
        } else if (strcmp(err_type, "ExpiredIteratorException") == 0) {
            st->errors++;
            free(p->iterator);
            p->iterator = NULL; /* re-acquired at LATEST by the tick */
        } else if (strcmp(err_type, "ResourceNotFoundException") == 0) {
            run_fail(r, LT_EXIT_FAILED, "stream %s disappeared (GetRecords: %s)", r->cfg.stream,
                     err_type);
        } else {
            st->errors++;
            if (st->errors <= 3)
                LOG_WARN("GetRecords failed: HTTP %d %s", status, err_type);
        }
        return;
    }
    json_t *recs = json_object_get(resp, "Records");
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        json_t *d = json_object_get(rec, "Data");
        size_t n = json_string_length(d);
        const char *data = json_string_value(d);
        json_t *at = json_object_get(rec, "ApproximateArrivalTimestamp");
        int64_t stored_ms = json_is_number(at) ? llround(json_number_value(at) * 1000.0) : -1;
        if (data && run_on_record_b64(c, data, n, stored_ms, now_wall)) {
            p->records++;
            p->bytes += n / 4 * 3 - (n >= 1 && data[n - 1] == '=') - (n >= 2 && data[n - 2] == '=');
        }
    }
    json_t *mbl = json_object_get(resp, "MillisBehindLatest");
    if (json_is_integer(mbl)) {
        st->millis_behind_last = json_integer_value(mbl);
        st->millis_behind_max = SC_MAX(st->millis_behind_max, st->millis_behind_last);
    }
    const char *next = json_string_value(json_object_get(resp, "NextShardIterator"));
    free(p->iterator);
    p->iterator = next ? sc_strdup(next) : NULL;
    if (!next)
        p->ended = true; /* closed shard fully read */
    /* A full page means more is waiting: poll again right away (the KCL does the same). */
    if (json_array_size(recs) >= 10000)
        p->next_ns = clock_mono_ns();
}

static void iterator_done(void *arg, int err, int status, json_t *resp, const char *err_type)
{
    struct lt_pipe *p = arg;
    struct run *r = p->c->run;
    p->in_flight = false;
    p->next_ns = clock_mono_ns() + (uint64_t)r->cfg.poll_interval_ms * 1000000u;
    r->stats[LT_PATH_CLASSIC].calls++;
    if (err == 0 && status == 200) {
        const char *it = json_string_value(json_object_get(resp, "ShardIterator"));
        if (it)
            p->iterator = sc_strdup(it);
        p->next_ns = clock_mono_ns();
    } else if (err == 0 && kapi_is_throttle(err_type)) {
        r->stats[LT_PATH_CLASSIC].throttled++;
    } else if (err == 0 && strcmp(err_type, "ResourceNotFoundException") == 0) {
        run_fail(r, LT_EXIT_FAILED, "stream %s disappeared (GetShardIterator: %s)", r->cfg.stream,
                 err_type);
    } else {
        r->stats[LT_PATH_CLASSIC].errors++;
    }
}

static void poll_pipe(struct lt_pipe *p, uint64_t now)
{
    struct lt_consumer *c = p->c;
    struct run *r = c->run;
    if (p->in_flight || p->ended || now < p->next_ns)
        return;
    if (!p->iterator) {
        json_t *req = json_pack("{s:s, s:s, s:s}", "StreamName", r->cfg.stream, "ShardId",
                                r->shard_ids[p->shard], "ShardIteratorType", "LATEST");
        if (kapi_call(&r->api, c->conn, "GetShardIterator", req, iterator_done, p) == 0)
            p->in_flight = true;
        return;
    }
    json_t *req = json_pack("{s:s, s:i}", "ShardIterator", p->iterator, "Limit", 10000);
    if (kapi_call(&r->api, c->conn, "GetRecords", req, records_done, p) == 0)
        p->in_flight = true;
}

void poller_tick(struct lt_consumer *c)
{
    struct run *r = c->run;
    if (hconn_is_dead(c->conn)) {
        for (int i = 0; i < r->n_shards; i++)
            if (c->pipes[i].in_flight)
                return;
        hconn_destroy(c->conn);
        c->conn = hconn_create(r->base, &r->ep, (uint32_t)r->cfg.timeout_ms);
        c->reconnects++;
    }
    uint64_t now = clock_mono_ns();
    for (int i = 0; i < r->n_shards; i++)
        poll_pipe(&c->pipes[i], now);
}

void poller_stop(struct lt_consumer *c)
{
    if (!c->pipes)
        return;
    for (int i = 0; i < c->run->n_shards; i++)
        free(c->pipes[i].iterator);
    free(c->pipes);
    c->pipes = NULL;
    hconn_destroy(c->conn);
    c->conn = NULL;
}
