/* ListShards and resharding (kinesis-protocol §5, §7.2). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "server/config.h"
#include "shards/registry.h"
#include "shards/seqnum.h"

/* StartingSequenceNumber = the shard's position 0; EndingSequenceNumber = its last position
 * (storage's counter at seal, minus one; == start for a shard that never held a record). */
static json_t *seq_json(const struct reg_shard *sh, uint64_t counter, int64_t rec_ms)
{
    struct seqnum_fields f = {
        .shard_secs = (uint64_t)(sh->created_ms / 1000),
        .shard_index = sh->index,
        .counter = counter,
        .record_secs = (uint64_t)(rec_ms / 1000),
    };
    char buf[SEQNUM_BUF];
    seqnum_encode(buf, &f);
    return json_string(buf);
}

json_t *api_shard_json(const struct reg_shard *sh)
{
    char id[32], a[U128_DEC_MAX], b[U128_DEC_MAX];
    json_t *o = json_object();
    json_object_set_new(o, "ShardId", json_string(registry_shard_id_print(sh->index, id)));
    if (sh->parent != REG_NO_SHARD)
        json_object_set_new(o, "ParentShardId",
                            json_string(registry_shard_id_print(sh->parent, id)));
    if (sh->adjacent_parent != REG_NO_SHARD)
        json_object_set_new(o, "AdjacentParentShardId",
                            json_string(registry_shard_id_print(sh->adjacent_parent, id)));
    json_object_set_new(o, "HashKeyRange",
                        json_pack("{s:s,s:s}", "StartingHashKey", u128_print(sh->start_hash, a),
                                  "EndingHashKey", u128_print(sh->end_hash, b)));
    json_t *r = json_object();
    json_object_set_new(r, "StartingSequenceNumber", seq_json(sh, 0, sh->created_ms));
    if (sh->closed)
        json_object_set_new(
            r, "EndingSequenceNumber",
            seq_json(sh, sh->ending_position ? sh->ending_position - 1 : 0, sh->closed_ms));
    json_object_set_new(o, "SequenceNumberRange", r);
    return o;
}

bool api_shard_id(const char *s, uint32_t *index)
{
    return registry_shard_id_parse(s, index) == 0;
}

enum filter {
    F_NONE,
    F_AFTER_SHARD_ID,
    F_AT_TRIM_HORIZON,
    F_FROM_TRIM_HORIZON,
    F_AT_LATEST,
    F_AT_TIMESTAMP,
    F_FROM_TIMESTAMP
};
static const char *const filter_names[] = {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON",
                                           "AT_LATEST",      "AT_TIMESTAMP",    "FROM_TIMESTAMP"};

struct list_q {
    int64_t after; /* -1: from the first shard */
    enum filter f;
    int64_t ts_ms;
};

static bool shard_selected(const struct list_q *q, const struct reg_stream_info *info,
                           const struct reg_shard *sh, int64_t now)
{
    if ((int64_t)sh->index <= q->after)
        return false;
    int64_t horizon = SC_MAX(now - (int64_t)info->retention_hours * 3600000, info->created_ms);
    int64_t t;
    switch (q->f) {
    case F_AT_LATEST: return !sh->closed;
    case F_AT_TRIM_HORIZON:
        return sh->created_ms <= horizon && (!sh->closed || sh->closed_ms > horizon);
    case F_AT_TIMESTAMP:
        t = SC_MAX(q->ts_ms, info->created_ms);
        return sh->created_ms <= t && (!sh->closed || sh->closed_ms >= t);
    case F_FROM_TIMESTAMP: t = SC_MAX(q->ts_ms, horizon); return !sh->closed || sh->closed_ms >= t;
    default: /* FROM_TRIM_HORIZON, AFTER_SHARD_ID, none: everything within retention */
        return !sh->closed || sh->closed_ms >= now - (int64_t)info->retention_hours * 3600000;
    }
}

/* Parses the ShardFilter member into q; false after recording/replying an error. */
static bool parse_filter(struct api_ctx *c, json_t *flt, struct list_q *q, int *ftype,
                         const char **fshard)
{
    *ftype = validate_enum(&c->v, flt, "Type", "shardFilter.type", true, filter_names, 6);
    *fshard = validate_string(&c->v, flt, "ShardId", "shardFilter.shardId", false, 1, 128,
                              VALIDATE_NAME_PATTERN);
    (void)validate_timestamp(&c->v, flt, "Timestamp", "shardFilter.timestamp", false, &q->ts_ms);
    return true;
}

/* Resolves stream + query from NextToken or from the request members; false after replying. */
static bool list_shards_query(struct api_ctx *c, const struct api_sel *sel, const char *token,
                              bool conflicts, char *name, struct list_q *q)
{
    if (token != NULL) {
        if (conflicts) {
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "NextToken and ExclusiveStartShardId, StreamCreationTimestamp or "
                            "ShardFilter cannot be provided together.");
            return false;
        }
        char cursor[64];
        int rc = api_token_parse(token, "shards", name, cursor, sizeof(cursor));
        if (rc != 0) {
            api_reply_error(c, rc,
                            rc == KERR_EXPIRED_NEXT_TOKEN ? "The NextToken has expired."
                                                          : "Invalid NextToken.");
            return false;
        }
        long long after, ts;
        int f;
        if (sscanf(cursor, "%lld:%d:%lld", &after, &f, &ts) != 3 || f < 0 || f > F_FROM_TIMESTAMP) {
            api_reply_error(c, KERR_INVALID_ARGUMENT, "Invalid NextToken.");
            return false;
        }
        q->after = after;
        q->f = (enum filter)f;
        q->ts_ms = ts;
        /* The dispatcher charged the per-stream rate only when the request named the stream. */
        if (sel->name == NULL && sel->arn == NULL && !api_admit_rate(c, name))
            return false;
        /* AWS CLI v2 pagination resends the stream selector with the token: tolerate it when it
         * names the token's stream. */
        char sname[REG_NAME_MAX + 1];
        if (sel->name != NULL || sel->arn != NULL) {
            if (!api_sel_resolve(c, sel, sname))
                return false;
            if (strcmp(sname, name) != 0) {
                api_reply_error(c, KERR_INVALID_ARGUMENT,
                                "NextToken and StreamName cannot be provided together.");
                return false;
            }
        }
        return true;
    }
    if (sel->name == NULL && sel->arn == NULL) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Either NextToken or StreamName/StreamARN should be provided.");
        return false;
    }
    return api_sel_resolve(c, sel, name);
}

/* Applies ExclusiveStartShardId and ShardFilter of a first-page request to q; false after
 * replying an error. */
static bool list_shards_start(struct api_ctx *c, const char *start, json_t *flt, int ftype,
                              const char *fshard, struct list_q *q)
{
    uint32_t idx;
    if (start != NULL && api_shard_id(start, &idx))
        q->after = idx;
    if (flt == NULL)
        return true;
    q->f = (enum filter)(ftype + 1);
    if (q->f == F_AFTER_SHARD_ID) {
        if (fshard == NULL) {
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "ShardId must be provided for ShardFilter type AFTER_SHARD_ID.");
            return false;
        }
        if (api_shard_id(fshard, &idx))
            q->after = SC_MAX(q->after, (int64_t)idx);
    }
    if ((q->f == F_AT_TIMESTAMP || q->f == F_FROM_TIMESTAMP) &&
        json_object_get(flt, "Timestamp") == NULL) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Timestamp must be provided for ShardFilter type %s.", filter_names[ftype]);
        return false;
    }
    return true;
}

void api_list_shards(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    const char *token =
        validate_string(&c->v, c->in, "NextToken", "nextToken", false, 1, 1048576, NULL);
    const char *start =
        validate_string(&c->v, c->in, "ExclusiveStartShardId", "exclusiveStartShardId", false, 1,
                        128, VALIDATE_NAME_PATTERN);
    int64_t max = 1000, created = -1;
    (void)validate_int(&c->v, c->in, "MaxResults", "maxResults", false, 1, 10000, &max);
    bool has_created = validate_timestamp(&c->v, c->in, "StreamCreationTimestamp",
                                          "streamCreationTimestamp", false, &created);
    json_t *flt = validate_object(&c->v, c->in, "ShardFilter", "shardFilter", false);
    struct list_q q = {.after = -1, .f = F_NONE, .ts_ms = 0};
    int ftype = -1;
    const char *fshard = NULL;
    if (flt != NULL)
        parse_filter(c, flt, &q, &ftype, &fshard);
    if (api_invalid(c))
        return;
    char name[REG_NAME_MAX + 1];
    if (!list_shards_query(c, &sel, token, start || has_created || flt, name, &q))
        return;
    if (token == NULL && !list_shards_start(c, start, flt, ftype, fshard, &q))
        return;
    struct reg_stream_info info;
    struct reg_shard *sh;
    size_t n;
    int rc = registry_shards(api_registry(), name, &info, &sh, &n);
    if (rc == 0 && has_created && created / 1000 != info.created_ms / 1000) {
        free(sh);
        rc = KERR_RESOURCE_NOT_FOUND;
    }
    if (rc != 0) {
        api_reply_registry_error(c, rc, name);
        return;
    }
    int64_t now = clock_now_ms();
    size_t cap = (size_t)SC_MIN(max, 1000), emitted = 0, i = 0;
    int64_t last = q.after;
    json_t *arr = json_array();
    for (; i < n && emitted < cap; i++) {
        if (!shard_selected(&q, &info, &sh[i], now))
            continue;
        json_array_append_new(arr, api_shard_json(&sh[i]));
        last = sh[i].index;
        emitted++;
    }
    bool more = false;
    for (; i < n && !more; i++)
        more = shard_selected(&q, &info, &sh[i], now);
    free(sh);
    json_t *out = json_pack("{s:o}", "Shards", arr);
    if (more) {
        char cursor[64];
        snprintf(cursor, sizeof(cursor), "%lld:%d:%lld", (long long)last, (int)q.f,
                 (long long)q.ts_ms);
        char *t = api_token_make("shards", name, cursor);
        json_object_set_new(out, "NextToken", json_string(t));
        free(t);
    }
    api_reply_json(c, out);
}

static void reshard_error(struct api_ctx *c, int rc, const char *name, const char *shard)
{
    const char *acct = api_config()->account_id;
    if (rc == KERR_VALIDATION)
        api_reply_error(c, rc, "This operation is not supported in ON_DEMAND mode.");
    else if (rc == KERR_RESOURCE_NOT_FOUND && shard != NULL)
        api_reply_error(c, rc, "Could not find shard %s in stream %s under account %s.", shard,
                        name, acct);
    else if (rc == KERR_RESOURCE_IN_USE && shard != NULL)
        api_reply_error(c, rc,
                        "Shard %s in stream %s under account %s has already been merged "
                        "or split, and thus is not eligible for merging or splitting.",
                        shard, name, acct);
    else
        api_reply_registry_error(c, rc, name);
}

void api_split_shard(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    const char *shard = validate_string(&c->v, c->in, "ShardToSplit", "shardToSplit", true, 1, 128,
                                        VALIDATE_NAME_PATTERN);
    const char *key = validate_string(&c->v, c->in, "NewStartingHashKey", "newStartingHashKey",
                                      true, 1, 128, NULL);
    char name[REG_NAME_MAX + 1];
    u128 k = 0;
    if (key != NULL && u128_parse(key, &k) != 0)
        validate_fail(&c->v, key, "newStartingHashKey",
                      "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    uint32_t idx;
    if (!api_shard_id(shard, &idx)) {
        reshard_error(c, KERR_RESOURCE_NOT_FOUND, name, shard);
        return;
    }
    struct reg_shard *sh = NULL;
    size_t n = 0;
    int rc = registry_shard_split(api_registry(), name, idx, k);
    if (rc == KERR_INVALID_ARGUMENT && registry_shards(api_registry(), name, NULL, &sh, &n) == 0 &&
        idx < n) {
        char id[32], a[U128_DEC_MAX], b[U128_DEC_MAX];
        api_reply_error(c, rc,
                        "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s "
                        "under account %s is not both greater than one plus the shard's "
                        "StartingHashKey %s and less than the shard's EndingHashKey %s.",
                        key, registry_shard_id_print(idx, id), name, api_config()->account_id,
                        u128_print(sh[idx].start_hash, a), u128_print(sh[idx].end_hash, b));
    } else if (rc != 0) {
        reshard_error(c, rc, name, shard);
    } else {
        api_reply_json(c, NULL);
    }
    free(sh);
}

void api_merge_shards(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    const char *s1 = validate_string(&c->v, c->in, "ShardToMerge", "shardToMerge", true, 1, 128,
                                     VALIDATE_NAME_PATTERN);
    const char *s2 = validate_string(&c->v, c->in, "AdjacentShardToMerge", "adjacentShardToMerge",
                                     true, 1, 128, VALIDATE_NAME_PATTERN);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    uint32_t a, b;
    if (!api_shard_id(s1, &a)) {
        reshard_error(c, KERR_RESOURCE_NOT_FOUND, name, s1);
        return;
    }
    if (!api_shard_id(s2, &b)) {
        reshard_error(c, KERR_RESOURCE_NOT_FOUND, name, s2);
        return;
    }
    int rc = registry_shard_merge(api_registry(), name, a, b);
    char ia[32], ib[32];
    if (rc == KERR_INVALID_ARGUMENT)
        api_reply_error(c, rc,
                        "Shards %s and %s in stream %s under account %s are not an adjacent "
                        "pair of shards eligible for merging",
                        registry_shard_id_print(a, ia), registry_shard_id_print(b, ib), name,
                        api_config()->account_id);
    else if (rc != 0)
        reshard_error(c, rc, name, s1);
    else
        api_reply_json(c, NULL);
}

void api_update_shard_count(struct api_ctx *c)
{
    static const char *const scaling[] = {"UNIFORM_SCALING"};
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    int64_t target = 0;
    (void)validate_int(&c->v, c->in, "TargetShardCount", "targetShardCount", true, 1, INT32_MAX,
                       &target);
    (void)validate_enum(&c->v, c->in, "ScalingType", "scalingType", true, scaling, 1);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    struct reg_rescale r;
    int rc =
        registry_shard_count_update(api_registry(), name, (uint32_t)SC_MIN(target, 100000), &r);
    uint32_t cur = r.current;
    const char *acct = api_config()->account_id;
    if (rc == KERR_INVALID_ARGUMENT)
        api_reply_error(c, rc,
                        "UpdateShardCount failed for stream %s under account %s: "
                        "TargetShardCount %lld must be between half and double the current "
                        "open shard count (%u), and at most 10000.",
                        name, acct, (long long)target, cur);
    else if (rc == KERR_LIMIT_EXCEEDED && r.too_often)
        api_reply_daily_quota(c, name, "the shard count of a stream can be updated",
                              REG_SCALINGS_PER_DAY, "update", r.retry_ms);
    else if (rc != 0)
        reshard_error(c, rc, name, NULL);
    else {
        char arn[2100];
        api_reply_json(c, json_pack("{s:s,s:i,s:i,s:s}", "StreamName", name, "CurrentShardCount",
                                    (int)cur, "TargetShardCount", (int)target, "StreamARN",
                                    api_stream_arn(arn, name)));
    }
}
