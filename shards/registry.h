/* registry.h — the stream/shard/consumer metadata registry (the control plane's state).
 *
 * Holds every stream with its shards and registered consumers, persists each change through
 * shards/meta.c before reporting success, and computes status transitions lazily from the wall
 * clock (common/clock.h): CREATING->ACTIVE and UPDATING->ACTIVE after transition_ms,
 * DELETING->gone after transition_ms; consumers likewise with consumer_transition_ms.
 *
 * Thread rule: any thread. One registry mutex serialises everything (the control plane is
 * low-rate; the data plane reads the shard table through snapshots or, later, through refcounted
 * shard objects owned by shards/). Nothing returned points into the registry: results are
 * copied out into caller-owned structs / arrays (free with free()).
 *
 * Errors: 0 ok, -errno for system errors (persistence), enum kerr for Kinesis-level failures.
 * The caller (server/) writes the AWS message from its context. */
#ifndef SC_REGISTRY_H
#define SC_REGISTRY_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shards/u128.h"

struct registry;
struct shardlog; /* storage helper's per-shard log (shards/shardlog.h), attached later */

#define REG_NAME_MAX 128
#define REG_TAGS_MAX 50
#define REG_SCALINGS_PER_DAY 10 /* AWS's UpdateShardCount quota per stream, rolling 24 h */
/* AWS's StartStreamEncryption quota per stream, rolling 24 h, and StopStreamEncryption's. */
#define REG_ENCRYPTIONS_PER_DAY 25
/* A resource policy's bytes. AWS documents no bound for Kinesis; 20 KiB is DynamoDB's. */
#define REG_POLICY_MAX 20480
#define REG_TAG_KEY_MAX 128   /* characters, as AWS counts them */
#define REG_TAG_VALUE_MAX 256 /* characters */
/* A tag's UTF-8 bytes: up to 4 a character. Sized in characters, a key of 128 accented letters
 * was cut to fit, changing it and, cut inside a letter, leaving text no answer could carry. */
#define REG_TAG_KEY_BYTES (4 * REG_TAG_KEY_MAX)
#define REG_TAG_VALUE_BYTES (4 * REG_TAG_VALUE_MAX)
#define REG_KEY_ID_MAX 2048 /* bytes (KMS key ids, aliases and ARNs are ASCII) */
#define REG_NO_SHARD UINT32_MAX
#define REG_RETENTION_MIN 24
#define REG_RETENTION_MAX 8760
#define REG_ON_DEMAND_SHARDS 4
/* A stream's maximum record size (data + partition key), in KiB: 1 MiB unless CreateStream or
 * UpdateMaxRecordSize asked for more, up to 10 MiB (AWS's large records). */
#define REG_RECORD_KIB_DEFAULT 1024u
#define REG_RECORD_KIB_MAX 10240u
/* On-demand Advantage: the account's MinimumThroughputBillingCommitment lasts at least 24 h
 * once enabled (a disable before then is scheduled for that time); while it is on, ON_DEMAND
 * streams take a warm throughput of up to 10 GiB/s. Bookkeeping only: no capacity changes. */
#define REG_COMMITMENT_MIN_MS (24 * 3600 * 1000LL)
#define REG_WARM_MAX_MIBPS 10240u
#define REG_ON_DEMAND_MIBPS 4u /* an on-demand stream's write capacity before any warming */

enum reg_status { REG_CREATING, REG_DELETING, REG_ACTIVE, REG_UPDATING };
enum reg_mode { REG_PROVISIONED, REG_ON_DEMAND };
enum reg_encryption { REG_ENC_NONE, REG_ENC_KMS };
/* ENDING: disabled before the earliest allowed end, so still on until then. */
enum reg_commitment { REG_COMMIT_DISABLED, REG_COMMIT_ENABLED, REG_COMMIT_ENDING };

/* The account's settings (DescribeAccountSettings). Times are epoch ms, 0 when not set. */
struct reg_account {
    enum reg_commitment commitment;
    int64_t started_ms, ended_ms, earliest_end_ms;
};

/* Shard-level metric bits (Enable/DisableEnhancedMonitoring), in the model's order. */
enum reg_metric {
    REG_M_INCOMING_BYTES = 1 << 0,
    REG_M_INCOMING_RECORDS = 1 << 1,
    REG_M_OUTGOING_BYTES = 1 << 2,
    REG_M_OUTGOING_RECORDS = 1 << 3,
    REG_M_WRITE_PTE = 1 << 4,
    REG_M_READ_PTE = 1 << 5,
    REG_M_ITERATOR_AGE = 1 << 6,
    REG_M_ALL = (1 << 7) - 1,
};

struct reg_tag {
    char key[REG_TAG_KEY_BYTES + 1];
    char value[REG_TAG_VALUE_BYTES + 1];
};

struct reg_shard {
    uint32_t index;           /* shardId-<index, 12 digits> */
    uint32_t parent;          /* REG_NO_SHARD if none */
    uint32_t adjacent_parent; /* REG_NO_SHARD if none */
    u128 start_hash, end_hash;
    int64_t created_ms; /* creation wall time; sequence numbers encode created_ms / 1000 */
    bool closed;
    int64_t closed_ms;
    uint64_t ending_position; /* storage counter at seal (valid when closed) */
};

/* Snapshot of one stream (without the shard array). */
struct reg_stream_info {
    char name[REG_NAME_MAX + 1];
    enum reg_status status;
    enum reg_mode mode;
    int64_t created_ms;
    uint32_t retention_hours;
    enum reg_encryption encryption;
    char key_id[REG_KEY_ID_MAX + 1];
    uint32_t metrics; /* enum reg_metric bits */
    uint32_t max_record_kib; /* REG_RECORD_KIB_DEFAULT..REG_RECORD_KIB_MAX */
    /* Warm throughput (ON_DEMAND streams): the target once one was set, and what the stream is
     * warmed to — REG_ON_DEMAND_MIBPS before any, the target once an update went ACTIVE. */
    bool warm_set;
    uint32_t warm_target_mibps, warm_current_mibps;
    size_t tag_count;
    struct reg_tag tags[REG_TAGS_MAX]; /* sorted by key (byte order) */
    uint32_t shard_count;              /* all shards, open and closed */
    uint32_t open_shard_count;
    uint32_t consumer_count;
    uint64_t revision; /* bumps on every persisted change (compare-and-set, architecture §8) */
};

struct reg_consumer {
    char name[REG_NAME_MAX + 1];
    int64_t created_ms;     /* ARN suffix is created_ms / 1000 */
    enum reg_status status; /* CREATING, ACTIVE, DELETING */
};

struct registry_opts {
    const char *data_dir;   /* DATA; metadata lives in DATA/meta. NULL = memory only (tests) */
    uint32_t transition_ms; /* stream state transitions */
    uint32_t consumer_transition_ms;
    uint32_t shard_limit;   /* account open-shard quota */
    uint32_t max_consumers; /* per stream */
    uint32_t max_creating;  /* streams CREATING at once (AWS: 5) */
    /* The rolling-24 h quotas per stream: UpdateShardCount REG_SCALINGS_PER_DAY changes,
     * Start- and StopStreamEncryption REG_ENCRYPTIONS_PER_DAY calls each. */
    bool limit_daily;
    /* Optional storage hook for split/merge/UpdateShardCount, called under the registry lock
     * (lock order: registry, then the shard's own): seal shard `index` of `stream` against
     * appends and return its ending position (the next counter, shardlog_seal). 0 or a
     * negative error, which fails the reshard. NULL: ending positions stay 0. */
    int (*seal)(void *arg, const char *stream, uint32_t index, uint64_t *ending_position);
    void *hook_arg;
};

/* Creates the registry and loads DATA/meta. Returns 0 and *out, -errno on I/O failure, or
 * -EBADMSG when a metadata file is corrupt (logged with its path; the server must not start). */
int registry_create(const struct registry_opts *opts, struct registry **out);
void registry_destroy(struct registry *reg);

/* CreateStream's optional settings; all zero (or a NULL pointer) means the defaults. */
struct reg_create_opts {
    uint32_t max_record_kib; /* 0: REG_RECORD_KIB_DEFAULT, else within the REG_RECORD_KIB_ range */
    bool warm;               /* WarmThroughputMiBps given (ON_DEMAND, commitment on) */
    uint32_t warm_mibps;     /* <= REG_WARM_MAX_MIBPS */
};

/* Creates a stream in CREATING with `shard_count` shards (ON_DEMAND: REG_ON_DEMAND_SHARDS,
 * shard_count ignored) split per u128_split; tags (may be NULL) are copied and sorted.
 * KERR_RESOURCE_IN_USE: exists. KERR_LIMIT_EXCEEDED: max_creating streams are CREATING, or the
 * open-shard quota would be exceeded. KERR_INVALID_ARGUMENT: more than 50 tags. With a warm
 * throughput: REG_ERR_NOT_ON_DEMAND or REG_ERR_NO_COMMITMENT. */
int registry_stream_create(struct registry *reg, const char *name, uint32_t shard_count,
                           enum reg_mode mode, const struct reg_tag *tags, size_t ntags,
                           const struct reg_create_opts *o);

/* Marks the stream DELETING (gone after transition_ms). Consumers are dropped when `force`,
 * otherwise KERR_RESOURCE_IN_USE if any exist. KERR_RESOURCE_NOT_FOUND: no such stream
 * (or already DELETING). */
int registry_stream_delete(struct registry *reg, const char *name, bool force);

/* Copies the stream's description. KERR_RESOURCE_NOT_FOUND if absent. */
int registry_stream_get(struct registry *reg, const char *name, struct reg_stream_info *out);

/* The stream's encryption alone, without copying its description (PutRecord answers carry
 * EncryptionType KMS). KERR_RESOURCE_NOT_FOUND if absent. */
int registry_stream_encryption(struct registry *reg, const char *name, enum reg_encryption *out);
/* What PutRecord(s) need of the stream, in one lookup: its encryption and maximum record
 * size. KERR_RESOURCE_NOT_FOUND if absent. */
struct reg_put_view {
    enum reg_encryption encryption;
    uint32_t max_record_kib;
};
int registry_stream_put_view(struct registry *reg, const char *name, struct reg_put_view *out);
/* UpdateMaxRecordSize: kib within the REG_RECORD_KIB_ range, applied at once (records stored
 * under an earlier, larger maximum stay readable). KERR_RESOURCE_NOT_FOUND; KERR_RESOURCE_IN_USE
 * if the stream is not ACTIVE. */
int registry_max_record_set(struct registry *reg, const char *name, uint32_t kib);
/* Warm throughput errors (negative, besides the kerr codes): the stream is PROVISIONED; the
 * account's commitment is off. */
#define REG_ERR_NOT_ON_DEMAND (-EMEDIUMTYPE)
#define REG_ERR_NO_COMMITMENT (-EPERM)

/* UpdateStreamWarmThroughput: target `mibps` (<= REG_WARM_MAX_MIBPS); the stream goes UPDATING
 * and, when ACTIVE again, is warmed to it. *current gets the value before. KERR_RESOURCE_NOT_FOUND;
 * KERR_RESOURCE_IN_USE if not ACTIVE; REG_ERR_NOT_ON_DEMAND; REG_ERR_NO_COMMITMENT. */
int registry_warm_set(struct registry *reg, const char *name, uint32_t mibps, uint32_t *current);

/* The account's settings as of now (a scheduled end that passed reads DISABLED). */
void registry_account_get(struct registry *reg, struct reg_account *out);
/* UpdateAccountSettings: enable or disable the commitment (see REG_COMMITMENT_MIN_MS; enabling
 * again before a scheduled end cancels it). *out gets the result. 0 or -errno (persistence). */
int registry_commitment_set(struct registry *reg, bool enable, struct reg_account *out);

/* The stream's status alone, likewise (a subscription's periodic check). */
int registry_stream_status(struct registry *reg, const char *name, enum reg_status *out);

/* Copies all shards in index order into a malloc'd array (*out, *n; free() it; NULL when
 * none). Optional `info` receives the stream snapshot taken under the same lock. */
int registry_shards(struct registry *reg, const char *name, struct reg_stream_info *info,
                    struct reg_shard **out, size_t *n);

/* Data-plane lookups (one shard copied out, O(shards) under the lock, no allocation).
 * registry_shard_route: the OPEN shard whose range holds `hash` (PutRecord). registry_shard_get:
 * shard `index` (GetShardIterator). Both set *status to the stream's status (writes/reads are
 * allowed in ACTIVE and UPDATING only — the caller decides) and, if non-NULL, *retention_hours.
 * KERR_RESOURCE_NOT_FOUND: no stream (or DELETING), or no such shard. */
int registry_shard_route(struct registry *reg, const char *name, u128 hash, struct reg_shard *out,
                         enum reg_status *status);
int registry_shard_get(struct registry *reg, const char *name, uint32_t index,
                       struct reg_shard *out, enum reg_status *status, uint32_t *retention_hours);

/* Stream names in byte order, strictly after `after` (NULL = from the start), at most `max`.
 * Fills a malloc'd array of infos (*out, *n); *more tells whether names remain. */
int registry_stream_list(struct registry *reg, const char *after, size_t max,
                         struct reg_stream_info **out, size_t *n, bool *more);

/* Adds/overwrites tags. KERR_RESOURCE_NOT_FOUND; KERR_RESOURCE_IN_USE if not ACTIVE;
 * KERR_INVALID_ARGUMENT if the result would exceed REG_TAGS_MAX. */
int registry_tags_add(struct registry *reg, const char *name, const struct reg_tag *tags, size_t n);
/* Removes the given keys (absent keys ignored). Same errors as add (no limit). */
int registry_tags_remove(struct registry *reg, const char *name, const char *const *keys, size_t n);

/* Sets the retention. `increase` selects the rule: increase needs hours >= current, decrease
 * needs hours <= current; violations -> KERR_INVALID_ARGUMENT with *current set. Range
 * [24, 8760] is the caller's check. KERR_RESOURCE_IN_USE if not ACTIVE. */
int registry_retention_set(struct registry *reg, const char *name, uint32_t hours, bool increase,
                           uint32_t *current);

/* Enhanced monitoring: enable (or disable) `bits`; before and after get the masks. */
int registry_metrics_update(struct registry *reg, const char *name, uint32_t bits, bool enable,
                            uint32_t *before, uint32_t *after);

/* Encryption bookkeeping: KMS + key id (start) or NONE (stop). Stream goes UPDATING.
 * KERR_RESOURCE_IN_USE if not ACTIVE; KERR_LIMIT_EXCEEDED (opts.limit_daily) after
 * REG_ENCRYPTIONS_PER_DAY starts (or stops) of this stream in the last 24 h, with *retry_ms =
 * when the oldest counted one leaves the window. Every successful call counts. */
int registry_encryption_set(struct registry *reg, const char *name, enum reg_encryption enc,
                            const char *key_id, int64_t *retry_ms);

/* Resource policies (Put/Get/DeleteResourcePolicy): bookkeeping, nothing enforces them.
 * `consumer` NULL names the stream's own policy; otherwise a consumer's, whose registration
 * must have `consumer_created_secs` (< 0: any). A policy goes with its stream or consumer.
 * put (text of 1..REG_POLICY_MAX bytes, replacing any): KERR_RESOURCE_NOT_FOUND (stream or
 * consumer), KERR_RESOURCE_IN_USE (stream not ACTIVE). get: *out = a malloc'd copy, or NULL
 * when none is attached. delete: -ENOENT when none is attached. */
int registry_policy_put(struct registry *reg, const char *stream, const char *consumer,
                        int64_t consumer_created_secs, const char *text);
int registry_policy_get(struct registry *reg, const char *stream, const char *consumer,
                        int64_t consumer_created_secs, char **out);
int registry_policy_delete(struct registry *reg, const char *stream, const char *consumer,
                           int64_t consumer_created_secs);

/* Switches the capacity mode. Stream goes UPDATING. KERR_RESOURCE_IN_USE if not ACTIVE.
 * warm_mibps (NULL: none) also sets a warm throughput, as registry_warm_set, for the new mode. */
int registry_mode_set(struct registry *reg, const char *name, enum reg_mode mode,
                      const uint32_t *warm_mibps);

/* Account totals for DescribeLimits. */
void registry_limits(struct registry *reg, uint32_t *open_shards, uint32_t *on_demand_streams);

/* Consumers (EFO). register: KERR_RESOURCE_NOT_FOUND (stream), KERR_RESOURCE_IN_USE (name taken
 * or stream not ACTIVE/UPDATING), KERR_LIMIT_EXCEEDED (max_consumers, or 5 CREATING).
 * *out gets the new consumer (CREATING). */
int registry_consumer_register(struct registry *reg, const char *stream, const char *name,
                               struct reg_consumer *out);
/* Marks DELETING (gone after consumer_transition_ms). `created_secs` < 0 matches any
 * registration, else it must equal the ARN's timestamp. KERR_RESOURCE_NOT_FOUND. */
int registry_consumer_deregister(struct registry *reg, const char *stream, const char *name,
                                 int64_t created_secs);
int registry_consumer_get(struct registry *reg, const char *stream, const char *name,
                          struct reg_consumer *out);
/* Consumers in name order strictly after `after` (NULL = start), at most max. */
int registry_consumer_list(struct registry *reg, const char *stream, const char *after, size_t max,
                           struct reg_consumer **out, size_t *n, bool *more);

/* Split/merge (registry side: closes parents at `ending_position`s supplied by storage later,
 * 0 for now, and appends children with the next indexes). Validation per kinesis-protocol §5:
 * KERR_RESOURCE_NOT_FOUND (shard), KERR_INVALID_ARGUMENT (hash key / adjacency / closed shard),
 * KERR_RESOURCE_IN_USE (not ACTIVE), KERR_LIMIT_EXCEEDED (quota), KERR_VALIDATION (on-demand).
 * The stream goes UPDATING. */
int registry_shard_split(struct registry *reg, const char *name, uint32_t shard, u128 new_start);
int registry_shard_merge(struct registry *reg, const char *name, uint32_t shard, uint32_t adjacent);

/* What registry_shard_count_update saw, for the caller's message. */
struct reg_rescale {
    uint32_t current;  /* open shards before the call */
    bool too_often;    /* KERR_LIMIT_EXCEEDED came from REG_SCALINGS_PER_DAY, not the quota */
    int64_t retry_ms;  /* then: when the oldest counted scaling leaves the 24 h window */
};

/* UpdateShardCount (UNIFORM_SCALING) as a series of splits and merges, so every child keeps at
 * most two parents; the open shards end with CreateStream(target)'s ranges (u128_split).
 * KERR_INVALID_ARGUMENT when target is above 2x or below half the open count or above 10000;
 * KERR_LIMIT_EXCEEDED over the quota, or (opts.limit_daily) after REG_SCALINGS_PER_DAY
 * changes of this stream's shard count in the last 24 h; KERR_VALIDATION for on-demand;
 * KERR_RESOURCE_IN_USE if not ACTIVE. A call that changes nothing (target == open) succeeds
 * and is not counted. */
int registry_shard_count_update(struct registry *reg, const char *name, uint32_t target,
                                struct reg_rescale *out);

/* "shardId-000000000001", "shardId-1" and "1" -> 1. Returns 0 or -EINVAL. */
int registry_shard_id_parse(const char *s, uint32_t *index);
/* Writes "shardId-%012u" into buf (>= 21 bytes). Returns buf. */
char *registry_shard_id_print(uint32_t index, char *buf);

#endif
