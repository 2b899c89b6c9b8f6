/* api_get.c — the classic read path: GetShardIterator and GetRecords (kinesis-protocol.md §5,
 * §7.3).
 *
 * GetShardIterator resolves the starting type to a shardlog position now (AT_TIMESTAMP through
 * shardlog_seek_time) and hands out an authenticated iterator (server/iterator.h) naming that
 * position in that incarnation of the shard. GetRecords decodes it, checks the stream still has
 * the shard, takes one read call from the shard's budget, and reads through the worker's sio.
 *
 * The response body is assembled without copying record bytes: the stored wire form of a record
 * IS its JSON object in Records[], so each slice of a read batch goes into the response evbuffer
 * by reference (one reference on the slice's refcounted block each, dropped by
 * refbuf_evbuffer_cleanup when the transport has sent it); only the separators and the envelope
 * are copied. Thread rule: a request lives on its worker; read callbacks run there too. */
#include <errno.h>
#include <event2/buffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/config.h"
#include "server/iterator.h"
#include "server/position.h"
#include "shards/record.h"
#include "shards/registry.h"
#include "shards/shardlog.h"
#include "shards/shardtab.h"

#define GET_RECORDS_LIMIT_MAX 10000
#define GET_RECORDS_BYTES_MAX (10u << 20) /* per call (AWS: 10 MiB) */

enum iter_type { IT_AT_SEQ, IT_AFTER_SEQ, IT_TRIM_HORIZON, IT_LATEST, IT_AT_TIMESTAMP };
static const char *const iter_types[] = {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
                                         "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"};

/* ---- the iterator key ------------------------------------------------------------------------ */

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iterator_key key;
static atomic_bool key_loaded; /* set once, after key is written: readers then skip the lock */

static int key_load_locked(const char *data_dir)
{
    pthread_mutex_lock(&key_lock);
    int rc = 0;
    if (!atomic_load_explicit(&key_loaded, memory_order_relaxed)) {
        rc = iterator_key_load(data_dir, &key);
        if (rc == 0)
            atomic_store_explicit(&key_loaded, true, memory_order_release);
    }
    pthread_mutex_unlock(&key_lock);
    return rc;
}

/* The data directory's key, loaded on first use (a failed load is retried on the next call). */
const struct iterator_key *api_key(void)
{
    if (atomic_load_explicit(&key_loaded, memory_order_acquire))
        return &key;
    return key_load_locked(api_config()->data_dir) == 0 ? &key : NULL;
}

int api_iterator_init(const char *data_dir) { return key_load_locked(data_dir); }

/* ---- shared helpers -------------------------------------------------------------------------- */

static void reply_shard_not_found(struct api_ctx *c, const char *shard_id, const char *stream)
{
    api_reply_error(c, KERR_RESOURCE_NOT_FOUND,
                    "Shard %s in stream %s under account %s does not exist", shard_id, stream,
                    api_config()->account_id);
}

static bool seq_pattern_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 1 && s[0] == '0')
        return true;
    if (n == 0 || n > 129 || s[0] < '1' || s[0] > '9')
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Looks up shard `idx` of `stream` for reading: readable only while the stream is ACTIVE or
 * UPDATING. Replies and returns false when it is not there. */
static bool shard_lookup(struct api_ctx *c, const char *stream, uint32_t idx, struct reg_shard *sh)
{
    char sid[32];
    registry_shard_id_print(idx, sid);
    enum reg_status st;
    int rc = registry_shard_get(api_registry(), stream, idx, sh, &st, NULL);
    if (rc == KERR_RESOURCE_NOT_FOUND || (rc == 0 && st != REG_ACTIVE && st != REG_UPDATING)) {
        reply_shard_not_found(c, sid, stream);
        return false;
    }
    if (rc != 0) {
        api_reply_registry_error(c, rc, stream);
        return false;
    }
    return true;
}

static bool shard_open(struct api_ctx *c, const char *stream, uint32_t idx, struct shard_rt **rt)
{
    int rc = shardtab_get(api_shardtab(), stream, idx, rt);
    if (rc == 0)
        return true;
    char sid[32];
    if (rc == KERR_RESOURCE_NOT_FOUND)
        reply_shard_not_found(c, registry_shard_id_print(idx, sid), stream);
    else
        api_reply_registry_error(c, rc, stream); /* -EAGAIN: retryable, the rest internal */
    return false;
}

static void reply_iterator(struct api_ctx *c, struct iterator *it)
{
    const struct iterator_key *k = api_key();
    if (k == NULL) {
        api_reply_error(c, KERR_INTERNAL, "Internal service failure: no iterator key");
        return;
    }
    char text[ITERATOR_TEXT_MAX + 1];
    iterator_encode(k, it, clock_now_ms(), text);
    api_reply_json(c, json_pack("{s:s}", "ShardIterator", text));
}

/* ---- GetShardIterator ------------------------------------------------------------------------ */

struct gsi_req {
    const char *shard;
    int type;
    const char *seq;
    bool has_ts;
    int64_t ts_ms;
};

/* The argument rules of §5 that do not need the shard's log. Replies and returns false. */
static bool gsi_rules(struct api_ctx *c, const struct gsi_req *q)
{
    bool needs_seq = q->type == IT_AT_SEQ || q->type == IT_AFTER_SEQ;
    if (needs_seq != (q->seq != NULL) && q->type != IT_AT_TIMESTAMP) {
        api_reply_error(
            c, KERR_INVALID_ARGUMENT,
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
            "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
            "StartingSequenceNumber. Request specified %s and %s StartingSequenceNumber.",
            iter_types[q->type], q->seq ? "also a" : "no");
        return false;
    }
    if (q->type != IT_AT_TIMESTAMP)
        return true;
    if (!q->has_ts) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Must specify timestampInMillis parameter for iterator of type "
                        "AT_TIMESTAMP. Current request has no timestamp parameter.");
        return false;
    }
    int64_t now = clock_now_ms();
    if (q->ts_ms > now) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "The timestampInMillis parameter cannot be greater than the "
                        "currentTimestampInMillis. timestampInMillis: %lld, "
                        "currentTimestampInMillis: %lld",
                        (long long)q->ts_ms, (long long)now);
        return false;
    }
    return true;
}

void api_reply_seq_error(struct api_ctx *c, int rc, const char *seq, const struct reg_shard *sh,
                         const char *op, const char *stream)
{
    char sid[32], other[32];
    registry_shard_id_print(sh->index, sid);
    const char *acct = api_config()->account_id;
    struct seqnum_fields f;
    if (rc == -EXDEV && seqnum_parse(seq, strlen(seq), &f) == 0 && f.shard_index != sh->index)
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Invalid StartingSequenceNumber. It encodes %s, while it was used in a "
                        "call to a shard with %s",
                        registry_shard_id_print(f.shard_index, other), sid);
    else if (rc == -EXDEV)
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "StartingSequenceNumber %s used in %s on shard %s in stream %s under "
                        "account %s is invalid because it did not come from this stream.",
                        seq, op, sid, stream, acct);
    else
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "StartingSequenceNumber %s used in %s on shard %s in stream %s under "
                        "account %s is invalid.",
                        seq, op, sid, stream, acct);
}

/* StartingSequenceNumber -> position, with the messages AWS gives. Replies and returns false. */
static bool gsi_seq_position(struct api_ctx *c, const struct gsi_req *q, const char *stream,
                             const struct reg_shard *sh, uint64_t *pos)
{
    int rc = position_from_seq(q->seq, sh, q->type == IT_AFTER_SEQ, pos);
    if (rc == 0)
        return true;
    api_reply_seq_error(c, rc, q->seq, sh, "GetShardIterator", stream);
    return false;
}

struct gsi_seek {
    struct api_ctx *c;
    struct shard_rt *rt;
    struct iterator it;
};

static void gsi_on_seek(void *arg, int err, uint64_t position)
{
    struct gsi_seek *s = arg;
    if (err != 0) {
        api_reply_error(s->c, KERR_INTERNAL, "Internal service failure: %s", kerr_name(err));
    } else {
        s->it.position = position;
        reply_iterator(s->c, &s->it);
    }
    shard_rt_decref(s->rt);
    free(s);
}

/* A shard's read or GetShardIterator rate spent (--limits aws). */
static void reply_throttled(struct api_ctx *c, uint32_t shard, const char *stream)
{
    char sid[32];
    api_reply_error(c, KERR_THROUGHPUT_EXCEEDED,
                    "Rate exceeded for shard %s in stream %s under account %s.",
                    registry_shard_id_print(shard, sid), stream, api_config()->account_id);
}

static void gsi_validate(struct api_ctx *c, struct api_sel *sel, struct gsi_req *q)
{
    api_sel_validate(c, sel, false);
    q->shard =
        validate_string(&c->v, c->in, "ShardId", "shardId", true, 1, 128, VALIDATE_NAME_PATTERN);
    q->type = validate_enum(&c->v, c->in, "ShardIteratorType", "shardIteratorType", true,
                            iter_types, SC_ARRAY_LEN(iter_types));
    q->seq = validate_string(&c->v, c->in, "StartingSequenceNumber", "startingSequenceNumber",
                             false, 0, SIZE_MAX, NULL);
    if (q->seq != NULL && !seq_pattern_ok(q->seq)) {
        validate_fail(&c->v, q->seq, "startingSequenceNumber",
                      "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})");
        q->seq = NULL;
    }
    q->has_ts = validate_timestamp(&c->v, c->in, "Timestamp", "timestamp", false, &q->ts_ms);
}

void api_get_shard_iterator(struct api_ctx *c)
{
    struct api_sel sel;
    struct gsi_req q = {0};
    gsi_validate(c, &sel, &q);
    if (api_invalid(c))
        return;
    char name[REG_NAME_MAX + 1];
    if (!api_sel_resolve(c, &sel, name))
        return;
    uint32_t idx;
    if (!api_shard_id(q.shard, &idx)) {
        reply_shard_not_found(c, q.shard, name);
        return;
    }
    struct reg_shard sh;
    if (!shard_lookup(c, name, idx, &sh) || !gsi_rules(c, &q))
        return;
    struct iterator it = {.shard_index = idx, .shard_created_ms = sh.created_ms};
    strcpy(it.stream, name);
    if ((q.type == IT_AT_SEQ || q.type == IT_AFTER_SEQ) &&
        !gsi_seq_position(c, &q, name, &sh, &it.position))
        return;
    struct shard_rt *rt;
    if (!shard_open(c, name, idx, &rt))
        return;
    if (!shard_rt_admit_iterator(rt, clock_mono_ns())) {
        shard_rt_decref(rt);
        reply_throttled(c, idx, name);
        return;
    }
    struct shardlog *log = shard_rt_log(rt);
    if (q.type == IT_AT_TIMESTAMP) {
        struct gsi_seek *s = sc_calloc(1, sizeof(*s));
        *s = (struct gsi_seek){c, rt, it};
        int rc = shardlog_seek_time(log, api_worker_sio(), q.ts_ms, gsi_on_seek, s);
        ASSERT(rc == 0); /* the callback owns s and rt now */
        return;
    }
    if (q.type == IT_TRIM_HORIZON)
        it.position = shardlog_trim_horizon(log);
    else if (q.type == IT_LATEST)
        it.position = shardlog_end(log);
    shard_rt_decref(rt);
    reply_iterator(c, &it);
}

/* ---- GetRecords ------------------------------------------------------------------------------ */

struct gr_op {
    struct api_ctx *c;
    struct shard_rt *rt;
    struct iterator it;
    bool kms;
    uint32_t limit;
    uint32_t count;          /* records placed in body */
    size_t bytes;            /* their wire bytes */
    int64_t last_arrival_ms; /* of the last record placed */
    struct evbuffer *body;
};

/* The block of `b` holding slice s (slices come in block order, so the cursor only moves on). */
static struct refbuf *slice_block(const struct shardlog_batch *b, const struct shardlog_slice *s,
                                  unsigned *k)
{
    for (; *k < b->nblocks; (*k)++) {
        const struct refbuf *blk = b->blocks[*k];
        if (s->wire >= blk->data && s->wire + s->len <= blk->data + blk->cap)
            return b->blocks[*k];
    }
    ASSERT(!"slice outside its batch's blocks");
    return NULL;
}

/* Records up to this size are copied into the body instead of referenced: libevent 2.1 spends a
 * ~1 KiB chain allocation on every evbuffer_add_reference (and another on the comma after it),
 * which costs more than copying a small record (the GetRecords drain spent 17% in malloc/free).
 * A poller's response is built once for that poller, so this is not a per-consumer copy of the
 * fan-out path; larger records still travel by reference. */
#define GR_COPY_MAX 1024

/* Appends the batch's records to the body: small ones copied into one reserved run, large ones
 * by reference to their log block. */
static void gr_add_slices(struct gr_op *g, const struct shardlog_batch *b)
{
    size_t small = 0;
    for (uint32_t i = 0; i < b->count; i++)
        if (b->slices[i].len <= GR_COPY_MAX)
            small += b->slices[i].len + 1 + (g->kms ? RECORD_KMS_END_LEN : 0);
    if (small > 0)
        evbuffer_expand(g->body, small);
    unsigned k = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct shardlog_slice *s = &b->slices[i];
        struct refbuf *blk = slice_block(b, s, &k);
        if (g->count > 0)
            evbuffer_add(g->body, ",", 1);
        /* KMS: drop the closing brace and add the member after the stored object's last one. */
        size_t len = g->kms ? s->len - 1 : s->len;
        if (s->len <= GR_COPY_MAX) {
            evbuffer_add(g->body, s->wire, len);
        } else {
            refbuf_incref(blk);
            if (evbuffer_add_reference(g->body, s->wire, len, refbuf_evbuffer_cleanup, blk) != 0) {
                refbuf_decref(blk);
                ASSERT(!"evbuffer_add_reference failed");
            }
        }
        if (g->kms)
            evbuffer_add(g->body, RECORD_KMS_END, RECORD_KMS_END_LEN);
        g->count++;
        g->bytes += s->len;
        g->last_arrival_ms = s->arrival_ms;
    }
}

static void gr_free(struct gr_op *g)
{
    if (g->body != NULL)
        evbuffer_free(g->body);
    shard_rt_decref(g->rt);
    free(g);
}

/* ChildShards of a fully read closed shard: every shard naming it as (adjacent) parent. */
static json_t *child_shards(const char *stream, uint32_t idx)
{
    struct reg_shard *all = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (registry_shards(api_registry(), stream, NULL, &all, &n) != 0)
        return arr;
    char id[32], a[U128_DEC_MAX], b[U128_DEC_MAX];
    for (size_t i = 0; i < n; i++) {
        const struct reg_shard *s = &all[i];
        if (s->parent != idx && s->adjacent_parent != idx)
            continue;
        json_t *parents = json_array();
        if (s->parent != REG_NO_SHARD)
            json_array_append_new(parents, json_string(registry_shard_id_print(s->parent, id)));
        if (s->adjacent_parent != REG_NO_SHARD)
            json_array_append_new(parents,
                                  json_string(registry_shard_id_print(s->adjacent_parent, id)));
        json_array_append_new(arr, json_pack("{s:s,s:o,s:{s:s,s:s}}", "ShardId",
                                             registry_shard_id_print(s->index, id), "ParentShards",
                                             parents, "HashKeyRange", "StartingHashKey",
                                             u128_print(s->start_hash, a), "EndingHashKey",
                                             u128_print(s->end_hash, b)));
    }
    free(all);
    return arr;
}

/* Closes Records[] and adds NextShardIterator / MillisBehindLatest / ChildShards; replies. */
static void gr_finish(struct gr_op *g, const struct shardlog_batch *b)
{
    uint64_t next = b->next_position;
    int64_t behind = 0;
    if (next < b->end_position && g->count > 0)
        behind = SC_MAX(b->last_arrival_ms - g->last_arrival_ms, 0);
    /* The shard's end is reported by a call that returns no records (kinesis-protocol.md §5), so
     * the last records come with a NextShardIterator like any others. */
    json_t *children =
        b->sealed_end && g->count == 0 ? child_shards(g->it.stream, g->it.shard_index) : NULL;
    char tail[ITERATOR_TEXT_MAX + 128];
    int n;
    if (children != NULL && json_array_size(children) > 0) {
        /* Shard end (KCL: NextShardIterator absent <=> ChildShards non-empty). */
        char *cs = json_dumps(children, API_JSON_FLAGS);
        n = snprintf(tail, sizeof(tail), "],\"MillisBehindLatest\":0,\"ChildShards\":");
        evbuffer_add(g->body, tail, (size_t)n);
        evbuffer_add(g->body, cs, strlen(cs));
        evbuffer_add(g->body, "}", 1);
        free(cs);
    } else {
        const struct iterator_key *k = api_key();
        ASSERT(k != NULL); /* the request's iterator was decoded with it */
        struct iterator it = g->it;
        it.position = next;
        char text[ITERATOR_TEXT_MAX + 1];
        iterator_encode(k, &it, clock_now_ms(), text);
        n = snprintf(tail, sizeof(tail),
                     "],\"NextShardIterator\":\"%s\",\"MillisBehindLatest\":%lld}", text,
                     (long long)behind);
        evbuffer_add(g->body, tail, (size_t)n);
    }
    json_decref(children);
    shard_rt_charge_read(g->rt, g->bytes, clock_mono_ns());
    struct evbuffer *body = g->body;
    g->body = NULL;
    api_reply_evbuffer(g->c, body);
    evbuffer_free(body);
    gr_free(g);
}

static void gr_on_batch(void *arg, int err, struct shardlog_batch *b)
{
    struct gr_op *g = arg;
    if (err < 0) {
        api_reply_error(g->c, KERR_INTERNAL, "Internal service failure: %s", kerr_name(err));
        gr_free(g);
        return;
    }
    gr_add_slices(g, b);
    /* A batch covers at most one disk block: go on while records remain and room is left. */
    if (b->count > 0 && g->count < g->limit && g->bytes < GET_RECORDS_BYTES_MAX &&
        b->next_position < b->end_position) {
        struct shardlog_read_req q = {.from_position = b->next_position,
                                      .max_records = g->limit - g->count,
                                      .max_bytes = GET_RECORDS_BYTES_MAX - g->bytes};
        shardlog_batch_free(b);
        int rc = shardlog_read(shard_rt_log(g->rt), api_worker_sio(), &q, gr_on_batch, g);
        ASSERT(rc == 0);
        return;
    }
    gr_finish(g, b);
    shardlog_batch_free(b);
}

/* Decodes the request's iterator. Replies and returns false when it is unusable. */
static bool gr_iterator(struct api_ctx *c, const char *text, struct iterator *it)
{
    const struct iterator_key *k = api_key();
    if (k == NULL) {
        api_reply_error(c, KERR_INTERNAL, "Internal service failure: no iterator key");
        return false;
    }
    int64_t now = clock_now_ms();
    int rc = iterator_decode(k, text, strlen(text), now, it);
    if (rc == KERR_EXPIRED_ITERATOR) {
        char msg[512];
        api_reply_error(c, rc, "%s",
                        iterator_expired_message(msg, sizeof(msg), it->issued_ms, now));
        return false;
    }
    if (rc != 0) {
        api_reply_error(c, KERR_INVALID_ARGUMENT, "Invalid ShardIterator.");
        return false;
    }
    return true;
}

/* The optional StreamARN must name the iterator's stream (the iterator alone decides what is
 * read; a mismatch is a client mix-up worth reporting). Replies and returns false. */
static bool gr_arn_matches(struct api_ctx *c, const char *arn, const char *stream)
{
    if (arn == NULL)
        return true;
    char name[REG_NAME_MAX + 1], region[64], account[16];
    if (arn_parse_stream(arn, name, region, account) == 0 && strcmp(name, stream) == 0 &&
        strcmp(account, api_config()->account_id) == 0 && strcmp(region, api_config()->region) == 0)
        return true;
    api_reply_error(c, KERR_INVALID_ARGUMENT,
                    "StreamARN %s does not match the stream of the ShardIterator.", arn);
    return false;
}

void api_get_records(struct api_ctx *c)
{
    int64_t limit = GET_RECORDS_LIMIT_MAX;
    (void)validate_int(&c->v, c->in, "Limit", "limit", false, 1, INT64_MAX, &limit);
    const char *text = validate_string(&c->v, c->in, "ShardIterator", "shardIterator", true, 1,
                                       ITERATOR_TEXT_MAX, NULL);
    const char *arn =
        validate_string(&c->v, c->in, "StreamARN", "streamARN", false, 1, ARN_MAX, NULL);
    if (api_invalid(c))
        return;
    if (limit > GET_RECORDS_LIMIT_MAX) { /* AWS: InvalidArgumentException, not validation */
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "1 validation error detected: Value '%lld' at 'limit' failed to satisfy "
                        "constraint: Member must have value less than or equal to %d",
                        (long long)limit, GET_RECORDS_LIMIT_MAX);
        return;
    }
    struct gr_op *g = sc_calloc(1, sizeof(*g));
    g->c = c;
    g->limit = (uint32_t)limit;
    struct reg_shard sh;
    if (!gr_iterator(c, text, &g->it) || !gr_arn_matches(c, arn, g->it.stream) ||
        !shard_lookup(c, g->it.stream, g->it.shard_index, &sh))
        goto fail;
    if (sh.created_ms != g->it.shard_created_ms) { /* the stream was re-created meanwhile */
        char sid[32];
        reply_shard_not_found(c, registry_shard_id_print(sh.index, sid), g->it.stream);
        goto fail;
    }
    enum reg_encryption enc;
    g->kms = registry_stream_encryption(api_registry(), g->it.stream, &enc) == 0 &&
             enc == REG_ENC_KMS;
    if (!shard_open(c, g->it.stream, g->it.shard_index, &g->rt))
        goto fail;
    if (!shard_rt_admit_read(g->rt, clock_mono_ns())) {
        reply_throttled(c, sh.index, g->it.stream);
        gr_free(g);
        return;
    }
    g->body = evbuffer_new();
    ASSERT(g->body != NULL);
    evbuffer_add(g->body, "{\"Records\":[", 12);
    struct shardlog_read_req q = {.from_position = g->it.position,
                                  .max_records = g->limit,
                                  .max_bytes = GET_RECORDS_BYTES_MAX};
    int rc = shardlog_read(shard_rt_log(g->rt), api_worker_sio(), &q, gr_on_batch, g);
    ASSERT(rc == 0); /* the callback owns g now */
    return;
fail:
    free(g);
}
