/* Enhanced fan-out consumer registration (kinesis-protocol §7.4). Consumers live in the shard
 * registry with their stream so they persist and die with it. */
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/config.h"
#include "shards/registry.h"

static json_t *consumer_json(const char *stream, const struct reg_consumer *rc, bool with_stream)
{
    const struct config *cfg = api_config();
    char arn[ARN_MAX + 1], sarn[ARN_MAX + 1];
    arn_consumer(arn, sizeof(arn), cfg->region, cfg->account_id, stream, rc->name,
                 rc->created_ms / 1000);
    json_t *o = json_pack("{s:s,s:s,s:s,s:o}", "ConsumerName", rc->name, "ConsumerARN", arn,
                          "ConsumerStatus", api_status_name(rc->status),
                          "ConsumerCreationTimestamp", api_timestamp(rc->created_ms));
    if (with_stream)
        json_object_set_new(o, "StreamARN", json_string(api_stream_arn(sarn, stream)));
    return o;
}

/* StreamARN member -> stream name (checks account/region); false after replying. */
static bool stream_from_arn(struct api_ctx *c, const char *arn, char *name)
{
    struct api_sel sel = {.name = NULL, .arn = arn};
    return api_sel_resolve(c, &sel, name);
}

void api_register_consumer(struct api_ctx *c)
{
    const char *sarn =
        validate_string(&c->v, c->in, "StreamARN", "streamARN", true, 1, ARN_MAX, NULL);
    const char *cname = validate_string(&c->v, c->in, "ConsumerName", "consumerName", true, 1,
                                        REG_NAME_MAX, VALIDATE_NAME_PATTERN);
    (void)validate_map(&c->v, c->in, "Tags", "tags", false, 1, 50);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !stream_from_arn(c, sarn, name))
        return;
    struct reg_consumer rc;
    int err = registry_consumer_register(api_registry(), name, cname, &rc);
    const char *acct = api_config()->account_id;
    if (err == KERR_RESOURCE_IN_USE)
        api_reply_error(c, err, "Consumer %s under stream %s already exists for account %s.", cname,
                        name, acct);
    else if (err == KERR_LIMIT_EXCEEDED)
        api_reply_error(c, err,
                        "Consumer limit exceeded for stream %s under account %s: at most %u "
                        "consumers, at most 5 of them CREATING.",
                        name, acct, api_config()->max_consumers);
    else if (err != 0)
        api_reply_registry_error(c, err, name);
    else
        api_reply_json(c, json_pack("{s:o}", "Consumer", consumer_json(name, &rc, false)));
}

/* The Deregister/Describe selector: ConsumerARN, or StreamARN + ConsumerName (all three allowed
 * if consistent). Fills stream/consumer names and the ARN timestamp (-1 when not given). */
static bool consumer_selector(struct api_ctx *c, char *stream, char *cname, int64_t *secs)
{
    const char *sarn =
        validate_string(&c->v, c->in, "StreamARN", "streamARN", false, 1, ARN_MAX, NULL);
    const char *name = validate_string(&c->v, c->in, "ConsumerName", "consumerName", false, 1,
                                       REG_NAME_MAX, VALIDATE_NAME_PATTERN);
    const char *carn =
        validate_string(&c->v, c->in, "ConsumerARN", "consumerARN", false, 1, ARN_MAX, NULL);
    if (api_invalid(c))
        return false;
    *secs = -1;
    if (carn != NULL) {
        char region[64], account[16];
        if (arn_parse_consumer(carn, stream, cname, secs, region, account) != 0) {
            api_reply_error(c, KERR_INVALID_ARGUMENT, "Invalid ConsumerARN %s.", carn);
            return false;
        }
        if (strcmp(account, api_config()->account_id) != 0 ||
            strcmp(region, api_config()->region) != 0) {
            api_reply_error(c, KERR_RESOURCE_NOT_FOUND, "Consumer %s not found.", carn);
            return false;
        }
        char s2[REG_NAME_MAX + 1];
        if (sarn != NULL && !stream_from_arn(c, sarn, s2))
            return false;
        if ((name && strcmp(name, cname) != 0) || (sarn && strcmp(s2, stream) != 0)) {
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "ConsumerARN, StreamARN and ConsumerName do not refer to the same "
                            "consumer.");
            return false;
        }
        return true;
    }
    if (sarn == NULL || name == NULL) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Either ConsumerARN or both StreamARN and ConsumerName must be provided.");
        return false;
    }
    if (!stream_from_arn(c, sarn, stream))
        return false;
    strcpy(cname, name);
    return true;
}

static void consumer_not_found(struct api_ctx *c, const char *stream, const char *cname)
{
    api_reply_error(c, KERR_RESOURCE_NOT_FOUND, "Consumer %s under stream %s not found.", cname,
                    stream);
}

void api_deregister_consumer(struct api_ctx *c)
{
    char stream[REG_NAME_MAX + 1], cname[REG_NAME_MAX + 1];
    int64_t secs;
    if (!consumer_selector(c, stream, cname, &secs))
        return;
    int rc = registry_consumer_deregister(api_registry(), stream, cname, secs);
    if (rc == KERR_RESOURCE_NOT_FOUND)
        consumer_not_found(c, stream, cname);
    else if (rc != 0)
        api_reply_registry_error(c, rc, stream);
    else {
        api_subscribe_end_consumer(stream, cname);
        api_reply_json(c, NULL);
    }
}

void api_describe_consumer(struct api_ctx *c)
{
    char stream[REG_NAME_MAX + 1], cname[REG_NAME_MAX + 1];
    int64_t secs;
    if (!consumer_selector(c, stream, cname, &secs))
        return;
    struct reg_consumer rc;
    int err = registry_consumer_get(api_registry(), stream, cname, &rc);
    if (err == 0 && secs >= 0 && rc.created_ms / 1000 != secs)
        err = KERR_RESOURCE_NOT_FOUND;
    if (err == KERR_RESOURCE_NOT_FOUND)
        consumer_not_found(c, stream, cname);
    else if (err != 0)
        api_reply_registry_error(c, err, stream);
    else
        api_reply_json(c,
                       json_pack("{s:o}", "ConsumerDescription", consumer_json(stream, &rc, true)));
}

void api_list_consumers(struct api_ctx *c)
{
    const char *sarn =
        validate_string(&c->v, c->in, "StreamARN", "streamARN", true, 1, ARN_MAX, NULL);
    const char *token =
        validate_string(&c->v, c->in, "NextToken", "nextToken", false, 1, 1048576, NULL);
    int64_t max = 100, created;
    (void)validate_int(&c->v, c->in, "MaxResults", "maxResults", false, 1, 10000, &max);
    bool has_created = validate_timestamp(&c->v, c->in, "StreamCreationTimestamp",
                                          "streamCreationTimestamp", false, &created);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !stream_from_arn(c, sarn, name))
        return;
    char after[REG_NAME_MAX + 2] = "";
    if (token != NULL) {
        if (has_created) {
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "NextToken and StreamCreationTimestamp cannot be provided together.");
            return;
        }
        char tstream[REG_NAME_MAX + 1];
        int rc = api_token_parse(token, "consumers", tstream, after, sizeof(after));
        if (rc == 0 && strcmp(tstream, name) != 0)
            rc = KERR_INVALID_ARGUMENT;
        if (rc != 0) {
            api_reply_error(c, rc,
                            rc == KERR_EXPIRED_NEXT_TOKEN ? "The NextToken has expired."
                                                          : "Invalid NextToken.");
            return;
        }
    }
    struct reg_consumer *list;
    size_t n;
    bool more;
    int rc = registry_consumer_list(api_registry(), name, after[0] ? after : NULL,
                                    (size_t)SC_MIN(max, 100), &list, &n, &more);
    if (rc != 0) {
        api_reply_registry_error(c, rc, name);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, consumer_json(name, &list[i], false));
    json_t *out = json_pack("{s:o}", "Consumers", arr);
    if (more && n > 0) {
        char *t = api_token_make("consumers", name, list[n - 1].name);
        json_object_set_new(out, "NextToken", json_string(t));
        free(t);
    }
    free(list);
    api_reply_json(c, out);
}
