/* Resource policies: Put/Get/DeleteResourcePolicy on a stream ARN or a consumer ARN. Kept with
 * the stream (shards/registry: persisted, gone with their stream or consumer) and answered
 * back, never evaluated: this server has no IAM, so a policy grants and denies nothing. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/config.h"
#include "shards/registry.h"

/* What a ResourceARN names: a stream, or one registration of a consumer of it. */
struct policy_target {
    const char *arn;
    char stream[REG_NAME_MAX + 1];
    char consumer[REG_NAME_MAX + 1]; /* "" for the stream itself */
    int64_t secs;                    /* the consumer ARN's creation seconds */
};

/* Validates ResourceARN (and Policy, when `policy` is non-NULL) and resolves the target;
 * false after replying. */
static bool policy_request(struct api_ctx *c, struct policy_target *t, const char **policy)
{
    t->arn = validate_string(&c->v, c->in, "ResourceARN", "resourceARN", true, 1, ARN_MAX, NULL);
    if (policy != NULL)
        *policy = validate_string(&c->v, c->in, "Policy", "policy", true, 1, SIZE_MAX, NULL);
    if (api_invalid(c))
        return false;
    if (policy != NULL) {
        /* The model sets no bound; ours is in bytes, as stored. */
        if (strlen(*policy) > REG_POLICY_MAX) {
            api_reply_error(c, KERR_INVALID_ARGUMENT, "Policy is longer than %d bytes.",
                            REG_POLICY_MAX);
            return false;
        }
        json_error_t jerr;
        json_t *doc = json_loads(*policy, JSON_REJECT_DUPLICATES, &jerr);
        bool object = json_is_object(doc);
        json_decref(doc);
        if (!object) {
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "Policy is not a JSON object (a policy document).");
            return false;
        }
    }
    t->consumer[0] = '\0';
    t->secs = -1;
    if (strstr(t->arn, "/consumer/") == NULL) {
        struct api_sel sel = {.name = NULL, .arn = t->arn};
        return api_sel_resolve(c, &sel, t->stream);
    }
    char region[64], account[16];
    if (arn_parse_consumer(t->arn, t->stream, t->consumer, &t->secs, region, account) != 0) {
        api_reply_error(c, KERR_INVALID_ARGUMENT, "Invalid ResourceARN %s.", t->arn);
        return false;
    }
    if (strcmp(account, api_config()->account_id) != 0 ||
        strcmp(region, api_config()->region) != 0) {
        api_reply_error(c, KERR_RESOURCE_NOT_FOUND, "Consumer %s not found.", t->arn);
        return false;
    }
    return true;
}

/* A registry result other than the ones each handler answers itself. */
static void policy_error(struct api_ctx *c, const struct policy_target *t, int rc)
{
    if (rc == KERR_RESOURCE_NOT_FOUND && t->consumer[0] != '\0')
        api_reply_error(c, rc, "Consumer %s not found.", t->arn);
    else
        api_reply_registry_error(c, rc, t->stream);
}

static const char *policy_consumer(const struct policy_target *t)
{
    return t->consumer[0] != '\0' ? t->consumer : NULL;
}

void api_put_resource_policy(struct api_ctx *c)
{
    struct policy_target t;
    const char *policy;
    if (!policy_request(c, &t, &policy))
        return;
    int rc = registry_policy_put(api_registry(), t.stream, policy_consumer(&t), t.secs, policy);
    if (rc != 0)
        policy_error(c, &t, rc);
    else
        api_reply_json(c, NULL);
}

void api_get_resource_policy(struct api_ctx *c)
{
    struct policy_target t;
    if (!policy_request(c, &t, NULL))
        return;
    char *text;
    int rc = registry_policy_get(api_registry(), t.stream, policy_consumer(&t), t.secs, &text);
    if (rc != 0) {
        policy_error(c, &t, rc);
        return;
    }
    /* With none attached AWS answers an empty document rather than an error. */
    api_reply_json(c, json_pack("{s:s}", "Policy", text != NULL ? text : "{}"));
    free(text);
}

void api_delete_resource_policy(struct api_ctx *c)
{
    struct policy_target t;
    if (!policy_request(c, &t, NULL))
        return;
    int rc = registry_policy_delete(api_registry(), t.stream, policy_consumer(&t), t.secs);
    if (rc == -ENOENT)
        api_reply_error(c, KERR_RESOURCE_NOT_FOUND, "No resource policy found for resource ARN %s.",
                        t.arn);
    else if (rc != 0)
        policy_error(c, &t, rc);
    else
        api_reply_json(c, NULL);
}
