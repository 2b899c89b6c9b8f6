/* The operation table: every operation of the Kinesis model (API 2013-12-02). Rows with a NULL
 * handler are known but not implemented (UnknownOperationException). Sorted by name. */
#include <stdlib.h>
#include <string.h>

#include "server/api_internal.h"

static const struct api_op ops[] = {
    {"AddTagsToStream", api_add_tags},
    {"CreateStream", api_create_stream},
    {"DecreaseStreamRetentionPeriod", api_decrease_retention},
    {"DeleteResourcePolicy", api_delete_resource_policy},
    {"DeleteStream", api_delete_stream},
    {"DeregisterStreamConsumer", api_deregister_consumer},
    {"DescribeAccountSettings", api_describe_account_settings},
    {"DescribeLimits", api_describe_limits},
    {"DescribeStream", api_describe_stream},
    {"DescribeStreamConsumer", api_describe_consumer},
    {"DescribeStreamSummary", api_describe_stream_summary},
    {"DisableEnhancedMonitoring", api_disable_monitoring},
    {"EnableEnhancedMonitoring", api_enable_monitoring},
    {"GetRecords", api_get_records},
    {"GetResourcePolicy", api_get_resource_policy},
    {"GetShardIterator", api_get_shard_iterator},
    {"IncreaseStreamRetentionPeriod", api_increase_retention},
    {"ListShards", api_list_shards},
    {"ListStreamConsumers", api_list_consumers},
    {"ListStreams", api_list_streams},
    {"ListTagsForResource", api_list_tags_for_resource},
    {"ListTagsForStream", api_list_tags},
    {"MergeShards", api_merge_shards},
    {"PutRecord", api_put_record},
    {"PutRecords", api_put_records},
    {"PutResourcePolicy", api_put_resource_policy},
    {"RegisterStreamConsumer", api_register_consumer},
    {"RemoveTagsFromStream", api_remove_tags},
    {"SplitShard", api_split_shard},
    {"StartStreamEncryption", api_start_encryption},
    {"StopStreamEncryption", api_stop_encryption},
    {"SubscribeToShard", api_subscribe_to_shard},
    {"TagResource", api_tag_resource},
    {"UntagResource", api_untag_resource},
    {"UpdateAccountSettings", api_update_account_settings},
    {"UpdateMaxRecordSize", api_update_max_record_size},
    {"UpdateShardCount", api_update_shard_count},
    {"UpdateStreamMode", api_update_stream_mode},
    {"UpdateStreamWarmThroughput", api_update_stream_warm_throughput},
};

static int op_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct api_op *)elem)->name);
}

const struct api_op *api_op_find(const char *name)
{
    return bsearch(name, ops, sizeof(ops) / sizeof(ops[0]), sizeof(ops[0]), op_cmp);
}
