/* shardtab.h — the runtime side of the registry: one open shardlog, plus its rate buckets, per
 * shard of every live stream. The data plane (PutRecord(s), GetShardIterator/GetRecords) and the
 * fan-out (SubscribeToShard) reach a shard's log only through here.
 *
 * Ownership: struct shard_rt is refcounted. The table holds one reference per open shard; every
 * caller of shardtab_route/shardtab_get receives its own reference and drops it with
 * shard_rt_decref (an in-flight append/read keeps its reference until its callback ran). The log
 * is closed (shardlog_close) when the last reference goes, which shardtab_housekeep arranges for
 * streams that are gone (their directory is removed then).
 *
 * Disk layout (architecture.md §5, contract): DATA/streams/<name>/<shardId>/<first>.seg. A stream
 * re-created under the same name must never see the old incarnation's records: the stream's
 * creation time identifies the incarnation (a marker file in DATA/streams/<name>/ is fine).
 *
 * Built on the registry's data-plane lookups (registry_shard_route / registry_shard_get: writes
 * and reads are allowed in ACTIVE and UPDATING only) and wired into its reshard hook
 * (registry_opts.seal -> shardtab_seal; the registry is created first, so the hook reaches the
 * table through its hook_arg once the table exists). A shard's incarnation is (stream name,
 * shard index, shard created_ms): a re-created stream never reuses an old log.
 *
 * Thread rule: any thread (one table mutex for lookups; rate buckets have their own small lock
 * per shard). shards/ only: no HTTP, JSON or libevent. */
#ifndef SC_SHARDTAB_H
#define SC_SHARDTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "shards/shardlog.h"
#include "shards/u128.h"

struct registry;
struct shardtab;
struct shard_rt;

struct shardtab_opts {
    const char *data_dir;                /* DATA (logs live in DATA/streams) */
    enum shardlog_durability durability; /* --fsync */
    uint32_t sync_interval_ms;           /* --fsync interval period */
    bool limits;                         /* --limits aws: enforce the per-shard rates below */
    uint64_t segment_bytes_max;          /* 0 = shardlog default */
};

/* Per-shard quotas of the aws profile (architecture.md §6). */
#define SHARD_WRITE_BYTES_PER_S (1u << 20)
#define SHARD_WRITE_RECORDS_PER_S 1000u
#define SHARD_READ_CALLS_PER_S 5u
#define SHARD_ITERATOR_CALLS_PER_S 5u /* GetShardIterator */
#define SHARD_READ_BYTES_PER_S (2u << 20)

/* Creates the table over `reg` (not owned; must outlive the table). Opens no log yet: logs open
 * lazily on first use (synchronous recovery then). Returns 0 or -errno. Main thread, at start. */
int shardtab_create(struct registry *reg, const struct shardtab_opts *o, struct shardtab **out);
/* Closes every log (flushing and syncing what is unwritten). No operation may be in flight. */
void shardtab_destroy(struct shardtab *t);

/* The OPEN shard of `stream` whose hash range holds `hash`. The stream must be ACTIVE or
 * UPDATING. Returns 0 and a reference in *out, KERR_RESOURCE_NOT_FOUND (no such stream, or it is
 * CREATING/DELETING), or -errno when the log cannot be opened. */
int shardtab_route(struct shardtab *t, const char *stream, u128 hash, struct shard_rt **out);
/* Shard `index` of `stream` (open or closed). Same returns as shardtab_route;
 * KERR_RESOURCE_NOT_FOUND also when the stream has no such shard. */
int shardtab_get(struct shardtab *t, const char *stream, uint32_t index, struct shard_rt **out);

void shard_rt_incref(struct shard_rt *s);
void shard_rt_decref(struct shard_rt *s);
struct shardlog *shard_rt_log(const struct shard_rt *s);
uint32_t shard_rt_index(const struct shard_rt *s);
const char *shard_rt_stream(const struct shard_rt *s); /* valid while the reference is held */
/* The shard's inclusive hash key range (fixed for a shard's life), so a caller routing many keys
 * (PutRecords) asks the registry once per shard rather than once per record. */
void shard_rt_hash_range(const struct shard_rt *s, u128 *start, u128 *end);

/* Rate limits; always true when the table was created with limits off.
 * admit_write: takes `bytes` (data + partition key) and `records` from the shard's write buckets
 * if both have them (1 MiB/s, 1000 records/s), else takes nothing and returns false. The byte
 * bucket holds up to burst_bytes, the stream's maximum record size (>= 1 MiB): AWS lets a
 * shard burst to take a large record and averages it out at 1 MiB/s.
 * admit_read: one GetRecords call (5/s) and the shared read-byte bucket not in debt.
 * admit_iterator: one GetShardIterator call (5/s, a bucket of its own).
 * charge_read: the bytes a GetRecords call returned (may leave a debt, as AWS throttles the calls
 * that follow a large read). */
bool shard_rt_admit_write(struct shard_rt *s, uint64_t bytes, uint32_t records,
                          uint64_t burst_bytes, uint64_t now_ns);
bool shard_rt_admit_read(struct shard_rt *s, uint64_t now_ns);
bool shard_rt_admit_iterator(struct shard_rt *s, uint64_t now_ns);
void shard_rt_charge_read(struct shard_rt *s, uint64_t bytes, uint64_t now_ns);

/* Resharding: seals shard `index`'s log and reports its ending position (the next position; the
 * last record is ending - 1). Idempotent. 0, KERR_RESOURCE_NOT_FOUND or -errno. */
int shardtab_seal(struct shardtab *t, const char *stream, uint32_t index, uint64_t *ending);

/* Periodic work, from ONE worker every ~100 ms with that worker's sio: shardlog_tick for interval
 * durability, retention (shardlog_enforce_retention with each stream's retention period), and
 * dropping the logs of streams that are gone (closing them when unreferenced, removing their
 * directories). now_ms is the wall clock (retention's cutoff); mono_ms a monotonic one
 * (clock_mono_ms) that schedules the syncs and retention passes, so a wall clock stepped back
 * cannot hold an idle shard's last writes unsynced for the length of the step. */
void shardtab_housekeep(struct shardtab *t, struct sio *sio, int64_t now_ms, int64_t mono_ms);

#endif
