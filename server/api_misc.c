/* Tags, retention, enhanced monitoring, encryption and capacity mode (kinesis-protocol §7.1,
 * §7.5). Bookkeeping only: encryption and monitoring do not change how records are stored. */
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/config.h"
#include "shards/registry.h"

static bool tag_text_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!(*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || strchr(" \t\n\r_./=+-@", *p) != NULL))
            return false;
    return true;
}

static void add_tags(struct api_ctx *c, const char *name, json_t *tags);

void api_add_tags(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    json_t *tags = validate_map(&c->v, c->in, "Tags", "tags", true, 1, 200);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    add_tags(c, name, tags);
}

static void add_tags(struct api_ctx *c, const char *name, json_t *tags)
{
    struct reg_tag *tv = sc_calloc(json_object_size(tags), sizeof(*tv));
    size_t n = 0;
    const char *k;
    json_t *val;
    json_object_foreach(tags, k, val)
    {
        const char *v = json_is_string(val) ? json_string_value(val) : "";
        size_t kl = validate_len(k), vl = validate_len(v);
        if (kl < 1 || kl > REG_TAG_KEY_MAX || vl > REG_TAG_VALUE_MAX || !tag_text_ok(k) ||
            !tag_text_ok(v)) {
            free(tv);
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "Some tags contain invalid characters. Valid characters: Unicode "
                            "letters, digits, white space, _ . / = + - @.");
            return;
        }
        snprintf(tv[n].key, sizeof(tv[n].key), "%s", k);
        snprintf(tv[n].value, sizeof(tv[n].value), "%s", v);
        n++;
    }
    int rc = registry_tags_add(api_registry(), name, tv, n);
    free(tv);
    if (rc == KERR_INVALID_ARGUMENT)
        api_reply_error(c, rc,
                        "Failed to add tags to stream %s under account %s because a given "
                        "stream cannot have more than %d tags.",
                        name, api_config()->account_id, REG_TAGS_MAX);
    else
        api_reply_result(c, rc, name);
}

/* TagKeys list -> kv (<= 50); a non-string member is a SerializationException. */
static size_t tag_keys(struct api_ctx *c, json_t *keys, const char **kv)
{
    size_t n = 0;
    for (size_t i = 0; keys != NULL && i < json_array_size(keys) && n < 50; i++) {
        json_t *k = json_array_get(keys, i);
        if (!json_is_string(k)) {
            c->v.serialization = true;
            snprintf(c->v.ser_msg, sizeof(c->v.ser_msg), "TagKeys members must be strings");
            break;
        }
        kv[n++] = json_string_value(k);
    }
    return n;
}

void api_remove_tags(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    json_t *keys = validate_array(&c->v, c->in, "TagKeys", "tagKeys", true, 1, 50);
    char name[REG_NAME_MAX + 1];
    const char *kv[50];
    size_t n = tag_keys(c, keys, kv);
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    int rc = registry_tags_remove(api_registry(), name, kv, n);
    api_reply_result(c, rc, name);
}

/* The stream's description (malloc'd; the caller frees it), or NULL after replying the
 * registry's error. */
static struct reg_stream_info *stream_info(struct api_ctx *c, const char *name)
{
    struct reg_stream_info *info = sc_malloc(sizeof(*info));
    int rc = registry_stream_get(api_registry(), name, info);
    if (rc == 0)
        return info;
    free(info);
    api_reply_registry_error(c, rc, name);
    return NULL;
}

void api_list_tags(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    const char *start = validate_string(&c->v, c->in, "ExclusiveStartTagKey",
                                        "exclusiveStartTagKey", false, 1, 128, NULL);
    int64_t limit = 50;
    (void)validate_int(&c->v, c->in, "Limit", "limit", false, 1, 50, &limit);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    struct reg_stream_info *info = stream_info(c, name);
    if (info == NULL)
        return;
    json_t *arr = json_array();
    size_t i = 0, emitted = 0;
    while (i < info->tag_count && start != NULL && strcmp(info->tags[i].key, start) <= 0)
        i++;
    for (; i < info->tag_count && emitted < (size_t)limit; i++, emitted++)
        json_array_append_new(
            arr, json_pack("{s:s,s:s}", "Key", info->tags[i].key, "Value", info->tags[i].value));
    bool more = i < info->tag_count;
    free(info);
    api_reply_json(c, json_pack("{s:o,s:b}", "Tags", arr, "HasMoreTags", more));
}

/* ResourceARN of the ARN-based tagging ops: stream ARNs only (consumer tags are not kept). */
static bool resource_stream(struct api_ctx *c, const char *arn, char *name)
{
    if (strstr(arn, "/consumer/") != NULL) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Tagging stream consumers is not supported by this server.");
        return false;
    }
    struct api_sel sel = {.name = NULL, .arn = arn};
    return api_sel_resolve(c, &sel, name);
}

void api_tag_resource(struct api_ctx *c)
{
    json_t *tags = validate_map(&c->v, c->in, "Tags", "tags", true, 1, 200);
    const char *arn =
        validate_string(&c->v, c->in, "ResourceARN", "resourceARN", true, 1, ARN_MAX, NULL);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !resource_stream(c, arn, name))
        return;
    add_tags(c, name, tags);
}

void api_untag_resource(struct api_ctx *c)
{
    json_t *keys = validate_array(&c->v, c->in, "TagKeys", "tagKeys", true, 1, 50);
    const char *arn =
        validate_string(&c->v, c->in, "ResourceARN", "resourceARN", true, 1, ARN_MAX, NULL);
    const char *kv[50];
    size_t n = tag_keys(c, keys, kv);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !resource_stream(c, arn, name))
        return;
    int rc = registry_tags_remove(api_registry(), name, kv, n);
    api_reply_result(c, rc, name);
}

void api_list_tags_for_resource(struct api_ctx *c)
{
    const char *arn =
        validate_string(&c->v, c->in, "ResourceARN", "resourceARN", true, 1, ARN_MAX, NULL);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !resource_stream(c, arn, name))
        return;
    struct reg_stream_info *info = stream_info(c, name);
    if (info == NULL)
        return;
    json_t *arr = json_array();
    for (size_t i = 0; i < info->tag_count; i++)
        json_array_append_new(
            arr, json_pack("{s:s,s:s}", "Key", info->tags[i].key, "Value", info->tags[i].value));
    free(info);
    api_reply_json(c, json_pack("{s:o}", "Tags", arr));
}

static void retention(struct api_ctx *c, bool increase)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    int64_t hours = 0;
    (void)validate_int(&c->v, c->in, "RetentionPeriodHours", "retentionPeriodHours", true, 1,
                       INT32_MAX, &hours);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    if (hours < REG_RETENTION_MIN) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Minimum allowed retention period is %d hours. Requested retention "
                        "period (%lld hours) is too short.",
                        REG_RETENTION_MIN, (long long)hours);
        return;
    }
    if (hours > REG_RETENTION_MAX) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Maximum allowed retention period is %d hours. Requested retention "
                        "period (%lld hours) is too long.",
                        REG_RETENTION_MAX, (long long)hours);
        return;
    }
    uint32_t cur = 0;
    int rc = registry_retention_set(api_registry(), name, (uint32_t)hours, increase, &cur);
    if (rc == KERR_INVALID_ARGUMENT)
        api_reply_error(c, rc,
                        "Requested retention period (%lld hours) for stream %s can not be %s "
                        "than existing retention period (%u hours). Use %s API.",
                        (long long)hours, name, increase ? "shorter" : "longer", cur,
                        increase ? "DecreaseRetentionPeriod" : "IncreaseRetentionPeriod");
    else
        api_reply_result(c, rc, name);
}

void api_increase_retention(struct api_ctx *c)
{
    retention(c, true);
}

void api_decrease_retention(struct api_ctx *c)
{
    retention(c, false);
}

static void monitoring(struct api_ctx *c, bool enable)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    json_t *list =
        validate_array(&c->v, c->in, "ShardLevelMetrics", "shardLevelMetrics", true, 1, 7);
    uint32_t bits = 0;
    for (size_t i = 0; list != NULL && i < json_array_size(list); i++) {
        json_t *wrap = json_pack("{s:O}", "m", json_array_get(list, i));
        char path[64];
        snprintf(path, sizeof(path), "shardLevelMetrics.%zu.member", i + 1);
        int m = validate_enum(&c->v, wrap, "m", path, true, api_metric_names,
                              API_METRIC_COUNT);
        json_decref(wrap);
        if (m >= 0)
            bits |= m == 7 ? (uint32_t)REG_M_ALL : (1u << m);
    }
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    uint32_t before, after;
    int rc = registry_metrics_update(api_registry(), name, bits, enable, &before, &after);
    if (rc != 0) {
        api_reply_registry_error(c, rc, name);
        return;
    }
    char arn[ARN_MAX + 1];
    json_t *cur = api_metrics_json(before), *des = api_metrics_json(after);
    json_t *out = json_pack(
        "{s:s,s:s,s:O,s:O}", "StreamName", name, "StreamARN", api_stream_arn(arn, name),
        "CurrentShardLevelMetrics", json_object_get(json_array_get(cur, 0), "ShardLevelMetrics"),
        "DesiredShardLevelMetrics", json_object_get(json_array_get(des, 0), "ShardLevelMetrics"));
    json_decref(cur);
    json_decref(des);
    api_reply_json(c, out);
}

void api_enable_monitoring(struct api_ctx *c)
{
    monitoring(c, true);
}

void api_disable_monitoring(struct api_ctx *c)
{
    monitoring(c, false);
}

static void encryption(struct api_ctx *c, bool start)
{
    static const char *const types[] = {"NONE", "KMS"};
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    int type = validate_enum(&c->v, c->in, "EncryptionType", "encryptionType", true, types, 2);
    const char *key = validate_string(&c->v, c->in, "KeyId", "keyId", true, 1, 2048, NULL);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name))
        return;
    if (type != 1) {
        api_reply_error(c, KERR_INVALID_ARGUMENT, "Only KMS encryption is supported.");
        return;
    }
    /* The model counts 2048 characters, the registry keeps 2048 bytes: a longer UTF-8 KeyId was
     * cut. KMS key ids, aliases and ARNs are ASCII, so such a KeyId names no key. */
    if (strlen(key) > REG_KEY_ID_MAX) {
        api_reply_error(c, KERR_INVALID_ARGUMENT, "Invalid KeyId: longer than %d bytes.",
                        REG_KEY_ID_MAX);
        return;
    }
    int64_t retry_ms;
    int rc = registry_encryption_set(api_registry(), name, start ? REG_ENC_KMS : REG_ENC_NONE, key,
                                     &retry_ms);
    if (rc == KERR_LIMIT_EXCEEDED)
        api_reply_daily_quota(c, name,
                              start ? "encryption of a stream can be started"
                                    : "encryption of a stream can be stopped",
                              REG_ENCRYPTIONS_PER_DAY, start ? "start" : "stop", retry_ms);
    else
        api_reply_result(c, rc, name);
}

void api_start_encryption(struct api_ctx *c)
{
    encryption(c, true);
}

void api_stop_encryption(struct api_ctx *c)
{
    encryption(c, false);
}

void api_update_stream_mode(struct api_ctx *c)
{
    static const char *const modes[] = {"PROVISIONED", "ON_DEMAND"};
    struct api_sel sel;
    api_sel_validate(c, &sel, true);
    json_t *md = validate_object(&c->v, c->in, "StreamModeDetails", "streamModeDetails", true);
    int mode =
        md ? validate_enum(&c->v, md, "StreamMode", "streamModeDetails.streamMode", true, modes, 2)
           : -1;
    int64_t warm = -1;
    (void)validate_int(&c->v, c->in, "WarmThroughputMiBps", "warmThroughputMiBps", false, 0,
                       INT32_MAX, &warm);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name) ||
        !api_warm_within_limit(c, warm, name))
        return;
    uint32_t w = (uint32_t)SC_MAX(warm, 0);
    int rc = registry_mode_set(api_registry(), name, (enum reg_mode)mode, warm >= 0 ? &w : NULL);
    if (!api_reply_warm_error(c, rc, name))
        api_reply_result(c, rc, name);
}
