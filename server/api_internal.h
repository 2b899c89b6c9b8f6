/* api_internal.h — what operation handlers (server/api_*.c) share with the dispatcher.
 *
 * Extension point: every Kinesis operation has a row in the table of server/api_ops.c
 * ({"PutRecord", NULL} today). A helper adding an operation writes its handler in its own
 * api_<area>.c, declares it below, and puts the function into that row. A NULL handler answers
 * UnknownOperationException.
 *
 * A handler runs on the worker thread owning the exchange, after content type, target, auth and
 * JSON-object checks passed. It must finish the request exactly once with api_reply_json() or
 * api_reply_error() — now or later (async; the ctx stays valid until then) — and must not touch
 * the ctx afterwards (the reply frees it). */
#ifndef SC_API_INTERNAL_H
#define SC_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/http.h"
#include "server/validate.h"

struct config;
struct registry;

struct api_ctx {
    struct http_exchange *x;
    /* The request. A CBOR request's points at req_json: the same with the body transcoded to
     * JSON text (json_body, owned by ctx), so every handler reads JSON. */
    const struct http_request *req;
    const char *content_type; /* echoed in the response */
    bool cbor;                /* application/x-amz-cbor-1.1: replies and events go out in CBOR */
    json_t *in;               /* the request object (owned by ctx); NULL for PutRecord(s), which
                                 scan req->body themselves */
    const char *op_name;
    struct validate v; /* scratch for the handler's model validation */
    struct http_request req_json;
    char *json_body;
};

typedef void (*api_op_fn)(struct api_ctx *c);

struct api_op {
    const char *name;
    api_op_fn fn; /* NULL: known to the model, not implemented yet */
};

/* Table lookup (server/api_ops.c). NULL when the name is not a Kinesis operation. */
const struct api_op *api_op_find(const char *name);

/* SubscribeToShard (server/api_subscribe.c). api_subscribe_end_consumer: after a consumer was
 * deregistered, ends its live pipes (ResourceInUseException) on their own workers; any thread. */
void api_subscribe_to_shard(struct api_ctx *c);
void api_subscribe_end_consumer(const char *stream, const char *consumer);

/* Charges one call of c's operation to its control-plane call rate (server/oprate.h) for
 * `stream` (NULL: the call names none); false after replying LimitExceededException. The
 * dispatcher does this for every call before its handler, with the stream the request names. */
bool api_admit_rate(struct api_ctx *c, const char *stream);

/* Fresh x-amzn-RequestId (uuid v4 text) and x-amz-id-2 values for one response. Any thread. */
#define API_RID_LEN 37
#define API_ID2_LEN 48
void api_response_ids(char rid[API_RID_LEN], char id2[API_ID2_LEN]);

/* Finishes with 200: `out` (stolen; NULL = empty body for ops without output). */
void api_reply_json(struct api_ctx *c, json_t *out);
/* Finishes with the error's status/type (server/errmap.c) and a printf-style message. */
void api_reply_error(struct api_ctx *c, int kerr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* LimitExceededException for a rolling-24 h quota of stream `name`: "<op> failed for stream
 * <name> under account <a>: <what> at most <per_day> times in a rolling 24-hour period; the
 * next <next> is allowed after <retry_ms as UTC>." */
void api_reply_daily_quota(struct api_ctx *c, const char *name, const char *what, int per_day,
                           const char *next, int64_t retry_ms);
/* Finishes with 200 and a ready JSON body (copied). */
void api_reply_raw(struct api_ctx *c, const char *body, size_t len);
/* Finishes with 200 and the bytes of `body`, which the transport drains (evbuffer references
 * travel uncopied: GetRecords puts record slices in by reference). The caller still owns and
 * frees the (then empty) evbuffer object. */
struct evbuffer;
void api_reply_evbuffer(struct api_ctx *c, struct evbuffer *body);
/* Finishes with an explicit AWS type (for types outside enum kerr). */
void api_reply_type(struct api_ctx *c, int status, const char *type, const char *msg);
/* Frees the ctx without a reply: the handler turned the exchange into a stream
 * (SubscribeToShard), which answers from then on. */
void api_ctx_end(struct api_ctx *c);

/* Ends model validation: on error replies (Serialization/ValidationException) and returns
 * true, meaning the handler must return at once. */
bool api_invalid(struct api_ctx *c);

/* Process-wide state, set by api_init (read-only afterwards except the registry's own lock). */
struct registry *api_registry(void);
const struct config *api_config(void);
/* The shard runtime table (shards/shardtab.h): logs and rate buckets of every open shard. */
struct shardtab;
struct shardtab *api_shardtab(void);
/* The calling worker's sio (shards/sio.h), for shardlog appends/reads: their callbacks run on
 * this worker's loop. Worker threads only (asserts). Valid until the process exits. */
struct sio;
struct sio *api_worker_sio(void);
/* server/api_worker.c: makes s the calling worker's sio and hands it to api_shutdown(), which
 * destroys it after the logs are closed. Kept apart from api.c so unit tests can link the
 * dispatcher without the transport. */
void api_sio_adopt(struct sio *s);

/* Stream selector (StreamName / StreamARN / StreamId). Validate the members during model
 * validation with api_sel_validate, then resolve after api_invalid() with api_sel_resolve,
 * which copies the stream name into name[129] or replies InvalidArgumentException /
 * ResourceNotFoundException and returns false. `arn_required` for ops whose model requires
 * StreamARN (e.g. UpdateStreamMode). */
struct api_sel {
    const char *name;
    const char *arn;
};
void api_sel_validate(struct api_ctx *c, struct api_sel *sel, bool arn_required);
bool api_sel_resolve(struct api_ctx *c, const struct api_sel *sel, char *name);

/* Message helpers for the common errors. */
void api_reply_not_found(struct api_ctx *c, const char *stream);
void api_reply_registry_error(struct api_ctx *c, int err, const char *stream);
struct reg_shard;
/* InvalidArgumentException for a StartingSequenceNumber that position_from_seq refused with rc
 * (not -EINVAL's validation error): names the shard it encodes when that is another one. */
void api_reply_seq_error(struct api_ctx *c, int rc, const char *seq, const struct reg_shard *sh,
                         const char *op, const char *stream);
/* The usual end of an op without output: rc 0 -> 200 with an empty body, else
 * api_reply_registry_error(c, rc, stream). */
void api_reply_result(struct api_ctx *c, int rc, const char *stream);

/* Epoch milliseconds as a JSON timestamp (seconds, <= 3 decimals; never exponent form when
 * dumped with API_JSON_FLAGS). */
json_t *api_timestamp(int64_t ms);
#define API_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(13))

/* Stream ARN of `name` under the configured region/account into buf (>= 2048+1). */
char *api_stream_arn(char *buf, const char *name);

/* NextToken helpers: base64 of "<kind>\n<stream>\n<cursor>\n<issued ms>" followed by its
 * HMAC-SHA256 under the data directory's key (api_key()), so a client can neither forge nor edit
 * one, like AWS's encrypted tokens; tokens older than 300 s -> KERR_EXPIRED_NEXT_TOKEN; anything
 * else that is not a token of this kind made here -> KERR_INVALID_ARGUMENT. */
char *api_token_make(const char *kind, const char *stream, const char *cursor);
int api_token_parse(const char *tok, const char *kind, char *stream, char *cursor,
                    size_t cursor_cap);

struct reg_shard;
struct reg_stream_info;
/* One Shard object of DescribeStream/ListShards (canonical ids, sequence number range). */
json_t *api_shard_json(const struct reg_shard *sh);
/* StreamModeDetails / EnhancedMonitoring values. */
json_t *api_mode_json(int mode);
json_t *api_metrics_json(uint32_t bits);
/* ShardLevelMetrics names in model order; bit i of a metrics set is api_metric_names[i]. */
#define API_METRIC_COUNT 8
extern const char *const api_metric_names[API_METRIC_COUNT];
const char *api_status_name(int status);
/* Parses a ShardId input (canonical or shorthand); false after replying a not-found error. */
bool api_shard_id(const char *s, uint32_t *index);

/* Handlers. */
void api_create_stream(struct api_ctx *c);
void api_put_resource_policy(struct api_ctx *c);
void api_get_resource_policy(struct api_ctx *c);
void api_delete_resource_policy(struct api_ctx *c);
void api_delete_stream(struct api_ctx *c);
void api_describe_stream(struct api_ctx *c);
void api_describe_stream_summary(struct api_ctx *c);
void api_update_max_record_size(struct api_ctx *c);
void api_describe_account_settings(struct api_ctx *c);
void api_update_account_settings(struct api_ctx *c);
void api_update_stream_warm_throughput(struct api_ctx *c);
/* Warm throughput (api_account.c) for CreateStream and UpdateStreamMode too: within_limit
 * answers LimitExceededException past 10 GiB/s and returns false; reply_warm_error answers the
 * registry's REG_ERR_NOT_ON_DEMAND / REG_ERR_NO_COMMITMENT and returns whether rc was one. */
bool api_warm_within_limit(struct api_ctx *c, int64_t mibps, const char *stream);
bool api_reply_warm_error(struct api_ctx *c, int rc, const char *stream);
void api_list_streams(struct api_ctx *c);
void api_list_shards(struct api_ctx *c);
void api_add_tags(struct api_ctx *c);
void api_remove_tags(struct api_ctx *c);
void api_list_tags(struct api_ctx *c);
void api_tag_resource(struct api_ctx *c);
void api_untag_resource(struct api_ctx *c);
void api_list_tags_for_resource(struct api_ctx *c);
void api_increase_retention(struct api_ctx *c);
void api_decrease_retention(struct api_ctx *c);
void api_describe_limits(struct api_ctx *c);
void api_enable_monitoring(struct api_ctx *c);
void api_disable_monitoring(struct api_ctx *c);
void api_start_encryption(struct api_ctx *c);
void api_stop_encryption(struct api_ctx *c);
void api_update_stream_mode(struct api_ctx *c);
void api_split_shard(struct api_ctx *c);
void api_merge_shards(struct api_ctx *c);
void api_update_shard_count(struct api_ctx *c);
void api_register_consumer(struct api_ctx *c);
void api_deregister_consumer(struct api_ctx *c);
void api_describe_consumer(struct api_ctx *c);
void api_list_consumers(struct api_ctx *c);
void api_put_record(struct api_ctx *c);  /* server/api_put.c */
void api_put_records(struct api_ctx *c);
/* server/api_get.c: the classic read path. */
void api_get_shard_iterator(struct api_ctx *c);
void api_get_records(struct api_ctx *c);
/* Loads (first start: creates) the shard iterator key DATA/meta/iterator.key (server/iterator.h).
 * Meant for api_init, so a start on an unwritable data dir fails early; until it is called the
 * key loads on the first GetShardIterator/GetRecords. Returns 0, -EBADMSG (damaged key file) or
 * -errno. Any thread. */
int api_iterator_init(const char *data_dir);
struct iterator_key;
/* That key (it also authenticates NextTokens); NULL only while it cannot be loaded. */
const struct iterator_key *api_key(void);

#endif
