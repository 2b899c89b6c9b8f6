/* On-demand Advantage: Describe/UpdateAccountSettings (the account's
 * MinimumThroughputBillingCommitment) and UpdateStreamWarmThroughput, plus the warm throughput
 * CreateStream and UpdateStreamMode take. Bookkeeping only, as encryption is: no capacity moves.
 * The rules are the API reference's (a commitment lasts at least 24 h; a disable before then is
 * scheduled for the earliest allowed end, an enable cancels it; warm throughput only for
 * ON_DEMAND streams while the commitment is on, up to 10 GiB/s); the error types and messages
 * for breaking them are not documented, so they are ours. */
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/config.h"
#include "shards/registry.h"

static const char *const commitment_names[] = {"DISABLED", "ENABLED",
                                               "ENABLED_UNTIL_EARLIEST_ALLOWED_END"};

static json_t *commitment_json(const struct reg_account *a)
{
    json_t *o = json_pack("{s:s}", "Status", commitment_names[a->commitment]);
    if (a->started_ms != 0)
        json_object_set_new(o, "StartedAt", api_timestamp(a->started_ms));
    if (a->ended_ms != 0)
        json_object_set_new(o, "EndedAt", api_timestamp(a->ended_ms));
    if (a->earliest_end_ms != 0)
        json_object_set_new(o, "EarliestAllowedEndAt", api_timestamp(a->earliest_end_ms));
    return json_pack("{s:o}", "MinimumThroughputBillingCommitment", o);
}

void api_describe_account_settings(struct api_ctx *c)
{
    struct reg_account a;
    registry_account_get(api_registry(), &a);
    api_reply_json(c, commitment_json(&a));
}

void api_update_account_settings(struct api_ctx *c)
{
    static const char *const wanted[] = {"ENABLED", "DISABLED"};
    json_t *mt = validate_object(&c->v, c->in, "MinimumThroughputBillingCommitment",
                                 "minimumThroughputBillingCommitment", true);
    int st = mt ? validate_enum(&c->v, mt, "Status", "minimumThroughputBillingCommitment.status",
                                true, wanted, 2)
                : -1;
    if (api_invalid(c))
        return;
    struct reg_account a;
    int rc = registry_commitment_set(api_registry(), st == 0, &a);
    if (rc != 0)
        api_reply_error(c, KERR_INTERNAL, "Internal service failure: %s", kerr_name(rc));
    else
        api_reply_json(c, commitment_json(&a));
}

bool api_warm_within_limit(struct api_ctx *c, int64_t mibps, const char *stream)
{
    if (mibps <= (int64_t)REG_WARM_MAX_MIBPS)
        return true;
    api_reply_error(c, KERR_LIMIT_EXCEEDED,
                    "Warm throughput of %lld MiBps for stream %s under account %s exceeds the "
                    "limit of %u MiBps (10 GiBps).",
                    (long long)mibps, stream, api_config()->account_id, REG_WARM_MAX_MIBPS);
    return false;
}

bool api_reply_warm_error(struct api_ctx *c, int rc, const char *stream)
{
    const char *acct = api_config()->account_id;
    if (rc == REG_ERR_NOT_ON_DEMAND)
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Warm throughput is supported only for streams in ON_DEMAND capacity "
                        "mode; stream %s under account %s is PROVISIONED.",
                        stream, acct);
    else if (rc == REG_ERR_NO_COMMITMENT)
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Warm throughput requires MinimumThroughputBillingCommitment to be enabled "
                        "for account %s (UpdateAccountSettings).",
                        acct);
    else
        return false;
    return true;
}

void api_update_stream_warm_throughput(struct api_ctx *c)
{
    struct api_sel sel;
    api_sel_validate(c, &sel, false);
    int64_t mibps = 0;
    (void)validate_int(&c->v, c->in, "WarmThroughputMiBps", "warmThroughputMiBps", true, 0,
                       INT32_MAX, &mibps);
    char name[REG_NAME_MAX + 1];
    if (api_invalid(c) || !api_sel_resolve(c, &sel, name) ||
        !api_warm_within_limit(c, mibps, name))
        return;
    uint32_t before = 0;
    int rc = registry_warm_set(api_registry(), name, (uint32_t)mibps, &before);
    if (rc != 0) {
        if (!api_reply_warm_error(c, rc, name))
            api_reply_registry_error(c, rc, name);
        return;
    }
    char arn[ARN_MAX + 1];
    api_reply_json(c, json_pack("{s:s,s:s,s:{s:I,s:I}}", "StreamARN", api_stream_arn(arn, name),
                                "StreamName", name, "WarmThroughput", "TargetMiBps",
                                (json_int_t)mibps, "CurrentMiBps", (json_int_t)before));
}
