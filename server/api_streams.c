/* Stream lifecycle, description and listing operations (kinesis-protocol §7.1). */
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/config.h"
#include "shards/registry.h"

static const char *const mode_names[] = {"PROVISIONED", "ON_DEMAND"};

const char *api_status_name(int status)
{
    static const char *const names[] = {"CREATING", "DELETING", "ACTIVE", "UPDATING"};
    return names[status];
}

json_t *api_mode_json(int mode)
{
    return json_pack("{s:s}", "StreamMode", mode_names[mode]);
}

const char *const api_metric_names[API_METRIC_COUNT] = {
    "IncomingBytes",    "IncomingRecords",
    "OutgoingBytes",    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds", "ALL"};

static json_t *metric_list(uint32_t bits)
{
    json_t *a = json_array();
    if (bits == REG_M_ALL) {
        json_array_append_new(a, json_string("ALL"));
        return a;
    }
    for (unsigned i = 0; i < 7; i++)
        if (bits & (1u << i))
            json_array_append_new(a, json_string(api_metric_names[i]));
    return a;
}

json_t *api_metrics_json(uint32_t bits)
{
    return json_pack("[{s:o}]", "ShardLevelMetrics", metric_list(bits));
}

/* Tag text rule (kinesis-protocol §5.1): letters, digits, whitespace, _ . / = + - @. Bytes of
 * multi-byte UTF-8 sequences count as letters (no Unicode tables here). */
static bool tag_chars_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if (ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr(" \t\n\r_./=+-@", ch) != NULL)
            continue;
        return false;
    }
    return true;
}

/* Converts a validated Tags map into reg_tags; replies and returns -1 on bad content. */
static int tags_from_map(struct api_ctx *c, json_t *map, struct reg_tag *out, size_t cap)
{
    const char *k;
    json_t *val;
    size_t n = 0;
    json_object_foreach(map, k, val)
    {
        const char *v = json_is_string(val) ? json_string_value(val) : "";
        size_t kl = validate_len(k), vl = validate_len(v);
        if (kl < 1 || kl > REG_TAG_KEY_MAX || vl > REG_TAG_VALUE_MAX || !tag_chars_ok(k) ||
            !tag_chars_ok(v)) {
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "Some tags contain invalid characters. Valid characters: Unicode "
                            "letters, digits, white space, _ . / = + - @.");
            return -1;
        }
        if (n == cap) {
            api_reply_error(c, KERR_INVALID_ARGUMENT, "A stream cannot have more than %d tags.",
                            REG_TAGS_MAX);
            return -1;
        }
        snprintf(out[n].key, sizeof(out[n].key), "%s", k);
        snprintf(out[n].value, sizeof(out[n].value), "%s", v);
        n++;
    }
    return (int)n;
}

/* The registry reports both quotas as KERR_LIMIT_EXCEEDED; tell the client which one. */
static void create_limit_error(struct api_ctx *c, int64_t count)
{
    const struct config *cfg = api_config();
    uint32_t open, od;
    registry_limits(api_registry(), &open, &od);
    if ((uint64_t)open + (uint64_t)count > cfg->shard_limit)
        api_reply_error(c, KERR_LIMIT_EXCEEDED,
                        "This request would exceed the shard limit for the account %s in %s. "
                        "Current shard count for the account: %u. Limit: %u. Number of "
                        "additional shards that would have resulted from this request: %lld. "
                        "Refer to the AWS Service Limits page for instructions on how to "
                        "request a limit increase.",
                        cfg->account_id, cfg->region, open, cfg->shard_limit, (long long)count);
    else
        api_reply_error(c, KERR_LIMIT_EXCEEDED,
                        "Too many streams are being created at once for account %s: at most 5 "
                        "may be in CREATING state.",
                        cfg->account_id);
}

void api_create_stream(struct api_ctx *c)
{
    json_t *md_raw = json_object_get(c->in, "StreamModeDetails");
    json_t *mode_raw = json_is_object(md_raw) ? json_object_get(md_raw, "StreamMode") : NULL;
    bool on_demand =
        json_is_string(mode_raw) && strcmp(json_string_value(mode_raw), "ON_DEMAND") == 0;
    const char *name = validate_string(&c->v, c->in, "StreamName", "streamName", true, 1,
                                       REG_NAME_MAX, VALIDATE_NAME_PATTERN);
    int64_t count = 0;
    bool has_count =
        validate_int(&c->v, c->in, "ShardCount", "shardCount", false, 1, 100000, &count);
    json_t *md = validate_object(&c->v, c->in, "StreamModeDetails", "streamModeDetails", false);
    int mode = REG_PROVISIONED;
    if (md != NULL)
        mode = validate_enum(&c->v, md, "StreamMode", "streamModeDetails.streamMode", true,
                             mode_names, 2);
    json_t *tags = validate_map(&c->v, c->in, "Tags", "tags", false, 1, 200);
    int64_t max_kib = 0, warm = -1;
    (void)validate_int(&c->v, c->in, "WarmThroughputMiBps", "warmThroughputMiBps", false, 0,
                       INT32_MAX, &warm);
    (void)validate_int(&c->v, c->in, "MaxRecordSizeInKiB", "maxRecordSizeInKiB", false,
                       REG_RECORD_KIB_DEFAULT, REG_RECORD_KIB_MAX, &max_kib);
    /* Absent or JSON null ("ShardCount": null once reached the registry as 0: wire_fuzz_test);
     * a present but invalid count has its own message already. */
    json_t *sc = json_object_get(c->in, "ShardCount");
    if (!on_demand && !has_count && (sc == NULL || json_is_null(sc)))
        validate_fail(&c->v, NULL, "shardCount", "Member must not be null");
    if (api_invalid(c) || !api_warm_within_limit(c, warm, name))
        return;
    struct reg_tag tv[REG_TAGS_MAX];
    int nt = 0;
    if (tags != NULL && (nt = tags_from_map(c, tags, tv, REG_TAGS_MAX)) < 0)
        return;
    const struct config *cfg = api_config();
    struct reg_create_opts opts = {.max_record_kib = (uint32_t)max_kib,
                                   .warm = warm >= 0,
                                   .warm_mibps = (uint32_t)SC_MAX(warm, 0)};
    int rc = registry_stream_create(api_registry(), name, (uint32_t)count,
                                    on_demand ? REG_ON_DEMAND : (enum reg_mode)mode, tv, (size_t)nt,
                                    &opts);
    if (rc == KERR_RESOURCE_IN_USE)
        api_reply_error(c, rc, "Stream %s under account %s already exists.", name, cfg->account_id);
    else if (rc == KERR_LIMIT_EXCEEDED)
        create_limit_error(c, on_demand ? REG_ON_DEMAND_SHARDS : count);
    else if (!api_reply_warm_error(c, rc, name))
        api_reply_result(c, rc, name);
}

void api_delete_stream(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    bool force = false;
    (void)validate_bool(&c->v, c->in, "EnforceConsumerDeletion", &force);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    int rc = registry_stream_delete(api_registry(), name, force);
    if (rc == KERR_RESOURCE_IN_USE)
        api_reply_error(c, rc,
                        "Stream %s under account %s has registered consumers. Set "
                        "EnforceConsumerDeletion to true to delete it with its consumers.",
                        name, api_config()->account_id);
    else
        api_reply_result(c, rc, name);
}

/* Fields common to StreamDescription and StreamDescriptionSummary. */
static json_t *describe_common(const struct reg_stream_info *i)
{
    char arn[ARN_MAX + 1];
    json_t *o = json_object();
    json_object_set_new(o, "StreamName", json_string(i->name));
    json_object_set_new(o, "StreamARN", json_string(api_stream_arn(arn, i->name)));
    json_object_set_new(o, "StreamStatus", json_string(api_status_name(i->status)));
    json_object_set_new(o, "StreamModeDetails", api_mode_json(i->mode));
    json_object_set_new(o, "RetentionPeriodHours", json_integer(i->retention_hours));
    json_object_set_new(o, "StreamCreationTimestamp", api_timestamp(i->created_ms));
    json_object_set_new(o, "EnhancedMonitoring", api_metrics_json(i->metrics));
    json_object_set_new(o, "EncryptionType",
                        json_string(i->encryption == REG_ENC_KMS ? "KMS" : "NONE"));
    if (i->encryption == REG_ENC_KMS)
        json_object_set_new(o, "KeyId", json_string(i->key_id));
    return o;
}

void api_describe_stream(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    int64_t limit = 100;
    (void)validate_int(&c->v, c->in, "Limit", "limit", false, 1, 10000, &limit);
    const char *start =
        validate_string(&c->v, c->in, "ExclusiveStartShardId", "exclusiveStartShardId", false, 1,
                        128, VALIDATE_NAME_PATTERN);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    uint32_t after = 0;
    bool has_after = start != NULL && registry_shard_id_parse(start, &after) == 0;
    struct reg_stream_info info;
    struct reg_shard *sh;
    size_t n;
    int rc = registry_shards(api_registry(), name, &info, &sh, &n);
    if (rc != 0) {
        api_reply_registry_error(c, rc, name);
        return;
    }
    size_t max = (size_t)SC_MIN(limit, 100), emitted = 0, i = 0;
    json_t *shards = json_array();
    for (; i < n && emitted < max; i++) {
        if (has_after && sh[i].index <= after)
            continue;
        json_array_append_new(shards, api_shard_json(&sh[i]));
        emitted++;
    }
    bool more = false;
    for (; i < n && !more; i++)
        more = !has_after || sh[i].index > after;
    free(sh);
    json_t *d = describe_common(&info);
    json_object_set_new(d, "Shards", shards);
    json_object_set_new(d, "HasMoreShards", json_boolean(more));
    api_reply_json(c, json_pack("{s:o}", "StreamDescription", d));
}

void api_describe_stream_summary(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    struct reg_stream_info info;
    int rc = registry_stream_get(api_registry(), name, &info);
    if (rc != 0) {
        api_reply_registry_error(c, rc, name);
        return;
    }
    /* Never a StreamId here: SDK endpoint rules would route around the endpoint override. */
    json_t *d = describe_common(&info);
    json_object_set_new(d, "OpenShardCount", json_integer(info.open_shard_count));
    json_object_set_new(d, "ConsumerCount", json_integer(info.consumer_count));
    json_object_set_new(d, "MaxRecordSizeInKiB", json_integer(info.max_record_kib));
    /* "Only present for On-Demand streams in accounts that have the commitment enabled." */
    struct reg_account acct;
    registry_account_get(api_registry(), &acct);
    if (info.mode == REG_ON_DEMAND && acct.commitment != REG_COMMIT_DISABLED) {
        json_t *w = json_pack("{s:I}", "CurrentMiBps", (json_int_t)info.warm_current_mibps);
        if (info.warm_set)
            json_object_set_new(w, "TargetMiBps", json_integer(info.warm_target_mibps));
        json_object_set_new(d, "WarmThroughput", w);
    }
    api_reply_json(c, json_pack("{s:o}", "StreamDescriptionSummary", d));
}

void api_update_max_record_size(struct api_ctx *c)
{
    /* The model selects by StreamARN only (and a reserved StreamId): a StreamName is a member
     * it does not know, ignored as AWS ignores those, so an ARN-less call selects nothing. */
    struct api_sel sel = {
        .arn = validate_string(&c->v, c->in, "StreamARN", "streamARN", false, 1, ARN_MAX, NULL)};
    int64_t kib = 0;
    (void)validate_int(&c->v, c->in, "MaxRecordSizeInKiB", "maxRecordSizeInKiB", true,
                       REG_RECORD_KIB_DEFAULT, REG_RECORD_KIB_MAX, &kib);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    api_reply_result(c, registry_max_record_set(api_registry(), name, (uint32_t)kib), name);
}

void api_list_streams(struct api_ctx *c)
{
    int64_t limit = 100;
    (void)validate_int(&c->v, c->in, "Limit", "limit", false, 1, 10000, &limit);
    const char *start =
        validate_string(&c->v, c->in, "ExclusiveStartStreamName", "exclusiveStartStreamName", false,
                        1, REG_NAME_MAX, VALIDATE_NAME_PATTERN);
    const char *token =
        validate_string(&c->v, c->in, "NextToken", "nextToken", false, 1, 1048576, NULL);
    if (api_invalid(c))
        return;
    char after[REG_NAME_MAX + 2] = "";
    if (token != NULL) {
        if (start != NULL) {
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "ExclusiveStartStreamName and NextToken cannot be provided together.");
            return;
        }
        char dummy[REG_NAME_MAX + 1];
        int rc = api_token_parse(token, "streams", dummy, after, sizeof(after));
        if (rc != 0) {
            api_reply_error(c, rc,
                            rc == KERR_EXPIRED_NEXT_TOKEN ? "The NextToken has expired."
                                                          : "Invalid NextToken.");
            return;
        }
    } else if (start != NULL) {
        snprintf(after, sizeof(after), "%s", start);
    }
    struct reg_stream_info *list;
    size_t n;
    bool more;
    registry_stream_list(api_registry(), after[0] ? after : NULL, (size_t)SC_MIN(limit, 100), &list,
                         &n, &more);
    json_t *names = json_array(), *sums = json_array();
    char arn[ARN_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(names, json_string(list[i].name));
        json_array_append_new(sums, json_pack("{s:s,s:s,s:s,s:o,s:o}", "StreamName", list[i].name,
                                              "StreamARN", api_stream_arn(arn, list[i].name),
                                              "StreamStatus", api_status_name(list[i].status),
                                              "StreamModeDetails", api_mode_json(list[i].mode),
                                              "StreamCreationTimestamp",
                                              api_timestamp(list[i].created_ms)));
    }
    json_t *out = json_pack("{s:o,s:b}", "StreamNames", names, "HasMoreStreams", more);
    if (more && n > 0) {
        char *t = api_token_make("streams", "-", list[n - 1].name);
        json_object_set_new(out, "NextToken", json_string(t));
        free(t);
    }
    json_object_set_new(out, "StreamSummaries", sums);
    free(list);
    api_reply_json(c, out);
}

void api_describe_limits(struct api_ctx *c)
{
    uint32_t open, od;
    registry_limits(api_registry(), &open, &od);
    api_reply_json(c, json_pack("{s:i,s:i,s:i,s:i}", "ShardLimit", (int)api_config()->shard_limit,
                                "OpenShardCount", (int)open, "OnDemandStreamCount", (int)od,
                                "OnDemandStreamCountLimit", 50));
}
