/* api_subscribe.c — SubscribeToShard (kinesis-protocol.md §6, §7.4; architecture.md §4).
 *
 * Pre-stream checks answer ordinary errors (JSON or CBOR, as the request); then the exchange
 * becomes an event stream fed by a subscribe/pipe (initial-response at once,
 * SubscribeToShardEvents, exceptions mid-stream) whose payloads are in the request's codec.
 * This file is the glue: it resolves the consumer, shard and starting position, takes the
 * consumer x shard lease and adapts the pipe to http.h's pull/closed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/config.h"
#include "server/http.h"
#include "server/position.h"
#include "server/worker.h"
#include "shards/registry.h"
#include "shards/shardlog.h"
#include "shards/shardtab.h"
#include "shards/u128.h"
#include "subscribe/leases.h"
#include "subscribe/pipe.h"

/* EFO push rate per consumer x shard under --limits aws (architecture.md §6). */
#define SUB_RATE_BYTES_PER_S (2u << 20)

enum start_type { ST_AT_SEQ, ST_AFTER_SEQ, ST_TRIM_HORIZON, ST_LATEST, ST_AT_TIMESTAMP };
static const char *const start_types[] = {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
                                          "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"};

/* One subscription's glue; lives until the transport's closed(). */
struct sub {
    struct http_exchange *x;
    struct pipe *p;
    char stream[REG_NAME_MAX + 1];
    char consumer[REG_NAME_MAX + 1];
    struct lease_key key;
};

/* ---- pipe ops ------------------------------------------------------------------------------ */

static void sub_wake(void *arg)
{
    http_exchange_resume(((struct sub *)arg)->x);
}

static int sub_post(void *worker, void (*fn)(void *), void *arg)
{
    return worker_post(worker, fn, arg);
}

static int sub_check(void *arg, char *type, size_t tc, char *msg, size_t mc)
{
    struct sub *s = arg;
    enum reg_status st;
    int rc = registry_stream_status(api_registry(), s->stream, &st);
    if (rc != 0 || st == REG_DELETING) {
        snprintf(type, tc, "ResourceNotFoundException");
        snprintf(msg, mc, "Stream %s under account %s not found.", s->stream,
                 api_config()->account_id);
        return 1;
    }
    struct reg_consumer rc2;
    rc = registry_consumer_get(api_registry(), s->stream, s->consumer, &rc2);
    if (rc != 0 || rc2.status != REG_ACTIVE || rc2.created_ms != s->key.consumer_created_ms) {
        snprintf(type, tc, "ResourceInUseException");
        snprintf(msg, mc, "Consumer %s under stream %s is no longer ACTIVE.", s->consumer,
                 s->stream);
        return 1;
    }
    return 0;
}

static char *sub_child_shards(void *arg)
{
    struct sub *s = arg;
    struct reg_shard *sh = NULL;
    size_t n = 0;
    if (registry_shards(api_registry(), s->stream, NULL, &sh, &n) != 0)
        return NULL;
    json_t *arr = json_array();
    char id[32], pid[32], a[U128_DEC_MAX], b[U128_DEC_MAX];
    for (size_t i = 0; i < n; i++) {
        if (sh[i].parent != s->key.shard && sh[i].adjacent_parent != s->key.shard)
            continue;
        json_t *parents = json_array();
        if (sh[i].parent != REG_NO_SHARD)
            json_array_append_new(parents, json_string(registry_shard_id_print(sh[i].parent, pid)));
        if (sh[i].adjacent_parent != REG_NO_SHARD)
            json_array_append_new(parents,
                                  json_string(registry_shard_id_print(sh[i].adjacent_parent, pid)));
        json_array_append_new(arr, json_pack("{s:s,s:o,s:{s:s,s:s}}", "ShardId",
                                             registry_shard_id_print(sh[i].index, id),
                                             "ParentShards", parents, "HashKeyRange",
                                             "StartingHashKey", u128_print(sh[i].start_hash, a),
                                             "EndingHashKey", u128_print(sh[i].end_hash, b)));
    }
    free(sh);
    char *out = json_dumps(arr, API_JSON_FLAGS);
    json_decref(arr);
    return out;
}

static void sub_shard_ref(void *shard, int delta)
{
    if (delta > 0)
        shard_rt_incref(shard);
    else
        shard_rt_decref(shard);
}

static bool sub_encrypted(void *shard)
{
    enum reg_encryption enc;
    return registry_stream_encryption(api_registry(), shard_rt_stream(shard), &enc) == 0 &&
           enc == REG_ENC_KMS;
}

static const struct pipe_ops sub_pipe_ops = {sub_wake,         sub_post,      sub_check,
                                             sub_child_shards, sub_shard_ref, sub_encrypted};

/* ---- transport source ---------------------------------------------------------------------- */

static ssize_t sub_pull(void *arg, struct evbuffer *out, size_t hint)
{
    ssize_t n = pipe_pull(((struct sub *)arg)->p, out, hint);
    return n < 0 ? HTTP_STREAM_EOF : n;
}

static void sub_free(struct sub *s, int err)
{
    bool leased = leases_release(&s->key, s->p);
    pipe_closed(s->p, err);
    if (leased)
        pipe_decref(s->p); /* the table's reference */
    free(s);
}

static void sub_closed(void *arg, int err)
{
    sub_free(arg, err);
}

/* Server shutdown: the pipe completes the message in flight, drops the rest, then EOF (its wake
 * is asynchronous, as the transport requires). */
static void sub_finish(void *arg)
{
    pipe_end(((struct sub *)arg)->p, NULL, NULL);
}

static const struct http_stream_ops sub_stream_ops = {sub_pull, sub_closed, sub_finish};

/* ---- request ------------------------------------------------------------------------------- */

struct sub_req {
    const char *carn, *shard_id, *seq;
    int type;
    bool has_ts;
    int64_t ts_ms;
};

static bool parse_request(struct api_ctx *c, struct sub_req *r)
{
    r->carn = validate_string(&c->v, c->in, "ConsumerARN", "consumerARN", true, 1, ARN_MAX, NULL);
    r->shard_id =
        validate_string(&c->v, c->in, "ShardId", "shardId", true, 1, 128, VALIDATE_NAME_PATTERN);
    json_t *sp = validate_object(&c->v, c->in, "StartingPosition", "startingPosition", true);
    r->type = -1;
    r->seq = NULL;
    r->has_ts = false;
    if (sp != NULL) {
        r->type = validate_enum(&c->v, sp, "Type", "startingPosition.type", true, start_types,
                                SC_ARRAY_LEN(start_types));
        r->seq = validate_string(&c->v, sp, "SequenceNumber", "startingPosition.sequenceNumber",
                                 false, 1, 128, NULL);
        r->has_ts = validate_timestamp(&c->v, sp, "Timestamp", "startingPosition.timestamp", false,
                                       &r->ts_ms);
    }
    if (api_invalid(c))
        return false;
    bool needs_seq = r->type == ST_AT_SEQ || r->type == ST_AFTER_SEQ;
    if (needs_seq && r->seq == NULL) {
        api_reply_error(c, KERR_VALIDATION,
                        "StartingPosition.SequenceNumber is required for type %s.",
                        start_types[r->type]);
        return false;
    }
    if (r->type == ST_AT_TIMESTAMP && !r->has_ts) {
        api_reply_error(c, KERR_VALIDATION,
                        "StartingPosition.Timestamp is required for type AT_TIMESTAMP.");
        return false;
    }
    if ((!needs_seq && r->seq != NULL) || (r->type != ST_AT_TIMESTAMP && r->has_ts)) {
        api_reply_error(c, KERR_INVALID_ARGUMENT, "StartingPosition of type %s must not carry %s.",
                        start_types[r->type], r->seq ? "a SequenceNumber" : "a Timestamp");
        return false;
    }
    return true;
}

/* Consumer: exists, same registration, ACTIVE. Fills s->stream/consumer/key. */
static bool resolve_consumer(struct api_ctx *c, const char *carn, struct sub *s)
{
    char region[64], account[16];
    int64_t secs;
    if (arn_parse_consumer(carn, s->stream, s->consumer, &secs, region, account) != 0) {
        api_reply_error(c, KERR_INVALID_ARGUMENT, "Invalid ConsumerARN %s.", carn);
        return false;
    }
    struct reg_consumer rc;
    int err = registry_consumer_get(api_registry(), s->stream, s->consumer, &rc);
    if (err == 0 && (rc.created_ms / 1000 != secs || strcmp(account, api_config()->account_id) ||
                     strcmp(region, api_config()->region)))
        err = KERR_RESOURCE_NOT_FOUND;
    if (err == KERR_RESOURCE_NOT_FOUND) {
        api_reply_error(c, err, "Consumer %s not found.", carn);
        return false;
    }
    if (err != 0) {
        api_reply_registry_error(c, err, s->stream);
        return false;
    }
    if (rc.status != REG_ACTIVE) {
        api_reply_error(c, KERR_RESOURCE_IN_USE, "Consumer %s is not ACTIVE, instead in state %s.",
                        carn, api_status_name(rc.status));
        return false;
    }
    s->key = (struct lease_key){s->stream, s->consumer, rc.created_ms, 0};
    return true;
}

static void reply_no_shard(struct api_ctx *c, const char *id, const char *stream)
{
    api_reply_error(c, KERR_RESOURCE_NOT_FOUND,
                    "Shard %s in stream %s under account %s does not exist", id, stream,
                    api_config()->account_id);
}

/* Starting position -> pipe config fields; false after replying. */
static bool resolve_start(struct api_ctx *c, const struct sub_req *r, const struct reg_shard *sh,
                          const char *stream, struct shardlog *log, struct pipe_config *pc)
{
    pc->start_time_ms = -1;
    switch ((enum start_type)r->type) {
    case ST_TRIM_HORIZON: pc->start_position = shardlog_trim_horizon(log); return true;
    case ST_LATEST: pc->start_position = shardlog_end(log); return true;
    case ST_AT_TIMESTAMP:
        pc->start_position = 0;
        pc->start_time_ms = SC_MAX(r->ts_ms, 0);
        return true;
    case ST_AT_SEQ:
    case ST_AFTER_SEQ: break;
    }
    int rc = position_from_seq(r->seq, sh, r->type == ST_AFTER_SEQ, &pc->start_position);
    if (rc == -EINVAL) {
        api_reply_error(c, KERR_VALIDATION,
                        "1 validation error detected: Value '%s' at "
                        "'startingPosition.sequenceNumber' failed to satisfy constraint: Member "
                        "must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
                        r->seq);
        return false;
    }
    if (rc != 0) {
        api_reply_seq_error(c, rc, r->seq, sh, "SubscribeToShard", stream);
        return false;
    }
    return true;
}

static void start_stream(struct api_ctx *c, struct sub *s, struct pipe_config *pc,
                         const char *r_shard_id)
{
    struct pipe *p = pipe_create(pc);
    s->p = p;
    s->key.stream = s->stream;
    s->key.consumer = s->consumer;
    void *evicted = NULL;
    pipe_incref(p); /* the lease table's */
    int rc = leases_acquire(&s->key, p, clock_mono_ms(), &evicted);
    if (rc != 0) {
        pipe_decref(p);
        pipe_closed(p, -ECANCELED);
        api_reply_error(c, rc == -EBUSY ? KERR_RESOURCE_IN_USE : KERR_LIMIT_EXCEEDED,
                        "Another active subscription exists for consumer %s on shard %s of stream "
                        "%s (at most one per 5 seconds).",
                        s->consumer, r_shard_id, s->stream);
        free(s);
        return;
    }
    if (evicted != NULL) {
        pipe_kick(evicted, "ResourceInUseException");
        pipe_decref(evicted);
    }
    char rid[API_RID_LEN], id2[API_ID2_LEN];
    api_response_ids(rid, id2);
    const struct http_header h[] = {
        {"content-type", "application/vnd.amazon.eventstream", 12, 34},
        {"x-amzn-requestid", rid, 16, strlen(rid)},
        {"x-amz-id-2", id2, 10, strlen(id2)},
    };
    struct http_exchange *x = c->x;
    api_ctx_end(c); /* the stream owns the exchange from here */
    s->x = x;
    if (http_exchange_stream(x, 200, h, SC_ARRAY_LEN(h), &sub_stream_ops, s) < 0) {
        sub_free(s, -ECONNRESET); /* closed() is not called when the start fails */
        return;
    }
    pipe_start(p);
}

void api_subscribe_to_shard(struct api_ctx *c)
{
    struct sub_req r;
    if (!parse_request(c, &r))
        return;
    struct sub *s = sc_calloc(1, sizeof(*s));
    if (!resolve_consumer(c, r.carn, s)) {
        free(s);
        return;
    }
    uint32_t idx;
    struct reg_shard sh;
    enum reg_status st;
    if (!api_shard_id(r.shard_id, &idx) ||
        registry_shard_get(api_registry(), s->stream, idx, &sh, &st, NULL) != 0) {
        reply_no_shard(c, r.shard_id, s->stream);
        free(s);
        return;
    }
    struct shard_rt *rt;
    int rc = shardtab_get(api_shardtab(), s->stream, idx, &rt);
    if (rc != 0) {
        if (rc == KERR_RESOURCE_NOT_FOUND)
            reply_no_shard(c, r.shard_id, s->stream);
        else
            api_reply_registry_error(c, rc, s->stream);
        free(s);
        return;
    }
    s->key.shard = idx;
    const struct config *cfg = api_config();
    struct worker *w = http_exchange_worker(c->x);
    struct pipe_config pc = {
        .log = shard_rt_log(rt),
        .shard = rt,
        .shard_secs = (uint64_t)(sh.created_ms / 1000),
        .shard_index = idx,
        .sio = api_worker_sio(),
        .base = worker_base(w),
        .worker = w,
        .heartbeat_ms = cfg->heartbeat_ms,
        .lifetime_ms = cfg->subscription_lifetime_ms,
        .rate_bytes_per_s = cfg->limits == LIMITS_AWS ? SUB_RATE_BYTES_PER_S : 0,
        .codec = c->cbor ? EVENTSTREAM_CODEC_CBOR : EVENTSTREAM_CODEC_JSON,
        .ops = &sub_pipe_ops,
        .arg = s,
    };
    if (resolve_start(c, &r, &sh, s->stream, pc.log, &pc))
        start_stream(c, s, &pc, r.shard_id);
    else
        free(s);
    shard_rt_decref(rt); /* the pipe holds its own */
}

void api_subscribe_end_consumer(const char *stream, const char *consumer)
{
    void *owners[64];
    for (int round = 0; round < LEASES_MAX / 64 + 1; round++) {
        size_t n = leases_take_consumer(stream, consumer, owners, SC_ARRAY_LEN(owners));
        for (size_t i = 0; i < n; i++) {
            pipe_kick(owners[i], "ResourceInUseException");
            pipe_decref(owners[i]);
        }
        if (n < SC_ARRAY_LEN(owners))
            break;
    }
}
