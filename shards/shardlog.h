/* shardlog.h — one shard's record log: asynchronous append, asynchronous reads by position,
 * tail watch, seal, retention. The storage API the PutRecord/GetRecords/SubscribeToShard paths
 * call; shaped so a replicated engine (architecture.md §8) could sit behind the same calls.
 *
 * Positions are per-shard counters (seqnum.h): the first record ever appended is position 0,
 * shardlog_end() is the next position to assign. A record's sequence number is
 * seqnum_encode({shard_secs, shard_index, position, arrival_ms / 1000}); shardlog_seqnum() does it.
 *
 * Threads. A shardlog is shared by all workers; every call below may come from any worker thread,
 * passing that worker's own struct sio. Callbacks (append acks, read results, seek results) run on
 * the thread of the sio that was passed, from its sio_run_completions(), never inside the call that
 * started them. Watch callbacks run on the appending thread (see shardlog_watch_add).
 *
 * Append path: the shard lock is held only to assign positions and arrival time and to format the
 * records into the in-memory tail. The tail is written to the current segment by one writer at a
 * time: the appender that finds no write in flight becomes the writer and uses its sio; a write's
 * completion writes whatever arrived meanwhile. Watermarks durable <= written <= appended.
 *   durability ALWAYS:   ack after the fdatasync covering the batch (group commit: each sync covers
 *                        everything written before it)
 *   durability INTERVAL: ack after the write; shardlog_tick() syncs every interval
 *   durability NEVER:    ack after the write
 * Records are visible to readers and watchers as soon as they are in the tail (before the ack).
 *
 * Memory: the tail keeps at most tail_bytes_max of blocks; unwritten bytes beyond it make appends
 * fail with -ENOBUFS (the caller answers with a throughput error). Written blocks stay cached for
 * tail readers until the bound pushes them out; a reader's reference keeps a block alive. */
#ifndef SC_SHARDLOG_H
#define SC_SHARDLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/refbuf.h"
#include "shards/record.h"
#include "shards/seqnum.h"
#include "shards/sio.h"

struct shardlog;

enum shardlog_durability { SHARDLOG_SYNC_ALWAYS, SHARDLOG_SYNC_INTERVAL, SHARDLOG_SYNC_NEVER };

struct shardlog_config {
    const char *dir; /* DATA/streams/<name>/<shardId>; created (with parents) if missing */
    uint64_t shard_secs;
    uint32_t shard_index;
    enum shardlog_durability durability;
    uint32_t sync_interval_ms;  /* INTERVAL mode; 0 -> 1000 */
    uint64_t segment_bytes_max; /* 0 -> 64 MiB */
    size_t tail_bytes_max;      /* 0 -> 32 MiB; at least 4 blocks */
    size_t block_bytes;         /* tail and disk read block size; 0 -> 256 KiB */
};

/* Opens (or creates) the log in cfg->dir: finds the segments, recovers the last one (cuts a torn
 * tail), builds the indexes. Synchronous: call at startup or from a control path. Returns 0 and
 * *out, or -errno. */
int shardlog_open(const struct shardlog_config *cfg, struct shardlog **out);

/* Writes what is still unwritten and syncs it (synchronously), then frees. The caller guarantees
 * no append, read, seek or tick is in flight (drain the sios first) and no watch is registered. */
void shardlog_close(struct shardlog *log);

/* ---- append ---- */

/* err 0: records got positions first..first+count-1, all with arrival_ms. err < 0: an I/O error
 * (-errno); the records may or may not be readable. */
typedef void (*shardlog_append_cb)(void *arg, int err, uint64_t first_position, uint32_t count,
                                   int64_t arrival_ms);

/* Appends recs[0..n) (1 <= n <= 500) as consecutive positions. The record_in bytes are copied
 * before return. Returns 0 when accepted (cb runs later on sio's thread, exactly once), or, with no
 * callback: -EPIPE shard sealed; -ENOBUFS tail full (writer behind); -EMSGSIZE a record's wire form
 * exceeds SEGMENT_WIRE_MAX; -EIO the log failed an earlier write and refuses appends. */
int shardlog_append(struct shardlog *log, struct sio *sio, const struct record_in *recs, uint32_t n,
                    shardlog_append_cb cb, void *arg);

/* Writes the 56-digit sequence number of the record at position (arrival_ms from its ack/slice). */
void shardlog_seqnum(const struct shardlog *log, uint64_t position, int64_t arrival_ms,
                     char out[SEQNUM_BUF]);

/* Periodic work for INTERVAL durability: when written > durable and no write is in flight, starts
 * an fdatasync on sio. Call every sync_interval_ms from one worker (any). Returns 1 if a sync was
 * started, 0 otherwise. */
int shardlog_tick(struct shardlog *log, struct sio *sio);

/* ---- read ---- */

/* One record of a read batch. wire points into one of the batch's blocks. */
struct shardlog_slice {
    const uint8_t *wire;
    uint32_t len;
    uint32_t wire_crc; /* CRC32 of wire[0..len) */
    uint64_t position;
    int64_t arrival_ms;
    uint32_t data_len; /* decoded Data bytes */
    uint16_t pkey_len;
};

#define SHARDLOG_BATCH_BLOCKS 8

struct shardlog_batch {
    struct refbuf *blocks[SHARDLOG_BATCH_BLOCKS]; /* one reference each, owned by the batch */
    unsigned nblocks;
    struct shardlog_slice *slices;
    uint32_t count;
    uint64_t next_position;  /* where to continue (past the last slice, or the start if none) */
    uint64_t end_position;   /* the log's end when the batch was made */
    int64_t last_arrival_ms; /* arrival of the newest record in the log (0 if empty) */
    bool sealed_end;         /* the shard is sealed and next_position is its end */
};

/* The callback owns the batch (NULL when err < 0) and frees it with shardlog_batch_free; to keep
 * the bytes longer, incref the blocks first. err: -EBADMSG corrupt data on disk, other -errno. */
typedef void (*shardlog_read_cb)(void *arg, int err, struct shardlog_batch *batch);

struct shardlog_read_req {
    uint64_t from_position;  /* below the trim horizon reads from the trim horizon */
    int64_t min_arrival_ms;  /* skip records that arrived before it (0 = none): AT_TIMESTAMP */
    uint32_t max_records;    /* >= 1 */
    size_t max_bytes;        /* wire bytes, >= 1; the first record is always returned */
};

/* Reads records from req->from_position on: from the in-memory tail without I/O when they are
 * still there, else from disk through sio (blocks of recent disk reads are shared by readers of
 * the same range). A batch with count 0 means nothing at or after the position yet (watch).
 * Returns 0 (cb runs later on sio's thread). */
int shardlog_read(struct shardlog *log, struct sio *sio, const struct shardlog_read_req *req,
                  shardlog_read_cb cb, void *arg);

/* Synchronous fast path of shardlog_read for a reader at the tail: when req (min_arrival_ms must
 * be 0) can be served entirely from the in-memory tail — or the position is at the end (count 0)
 * — sets *out (caller frees with shardlog_batch_free) and returns 1, with exactly what
 * shardlog_read would have delivered. Returns 0 (nothing done) when disk would be needed; call
 * shardlog_read then. Why: a tail reader otherwise pays an eventfd round trip through sio (one
 * extra loop turn) per batch on the put -> push path. Any thread; takes the index lock briefly. */
int shardlog_read_now(struct shardlog *log, const struct shardlog_read_req *req,
                      struct shardlog_batch **out);

void shardlog_batch_free(struct shardlog_batch *batch);

/* err 0: position is the first record with arrival >= t_ms, or the end if none. */
typedef void (*shardlog_seek_cb)(void *arg, int err, uint64_t position);
/* Time -> position lookup (AT_TIMESTAMP). Returns 0; cb runs later on sio's thread. */
int shardlog_seek_time(struct shardlog *log, struct sio *sio, int64_t t_ms, shardlog_seek_cb cb,
                       void *arg);

/* Lock-free snapshots, any thread. */
uint64_t shardlog_end(const struct shardlog *log);          /* next position (appended) */
uint64_t shardlog_trim_horizon(const struct shardlog *log); /* oldest retained position */
int64_t shardlog_last_arrival_ms(const struct shardlog *log); /* 0 when empty */
uint64_t shardlog_written(const struct shardlog *log);
uint64_t shardlog_durable(const struct shardlog *log);
bool shardlog_is_sealed(const struct shardlog *log);

/* True when no writer role is held (so no write or fdatasync is in flight or about to be
 * submitted) and no append ack is queued: together with the caller's guarantee that nobody
 * else can start an append, read, seek or tick, shardlog_close() may run. Any thread; takes the
 * append lock briefly (so a writer that just dropped its role has also left the lock). */
bool shardlog_idle(const struct shardlog *log);

/* ---- watch ---- */

/* Called on the appending thread right after records up to end_position (exclusive) are visible,
 * and once more when the shard is sealed. Must be cheap and must not call back into this log's
 * append (post to your own worker instead). */
typedef void (*shardlog_watch_cb)(void *arg, uint64_t end_position, bool sealed);

#define SHARDLOG_WATCHES_MAX 256

/* Registers a watch; *end_now gets the current end so the caller can read what is already there.
 * Returns a handle >= 0, or -ENOSPC when SHARDLOG_WATCHES_MAX are registered. Any thread. */
int shardlog_watch_add(struct shardlog *log, shardlog_watch_cb cb, void *arg, uint64_t *end_now);
/* Unregisters; when it returns the callback is not running and will not run again. Any thread,
 * never from inside the watch callback itself. */
void shardlog_watch_remove(struct shardlog *log, int handle);

/* ---- lifecycle of data ---- */

/* Closes the shard for appends at its current end (resharding); *ending_position = the end (the
 * last record is ending_position - 1; none if it equals the trim horizon of an empty shard).
 * Idempotent. Watchers are told. Returns 0. */
int shardlog_seal(struct shardlog *log, uint64_t *ending_position);

/* Deletes whole segments whose newest record arrived before now_ms - retention_ms and that are
 * fully written; the active segment of an open shard is kept. Advances the trim horizon. Also
 * saves the index sidecar of up to 4 finished segments (so a restart need not scan them). Returns
 * the number of segments deleted, or -errno. Any thread; synchronous (unlink, small writes). */
int shardlog_enforce_retention(struct shardlog *log, int64_t now_ms, int64_t retention_ms);

/* Test walker: asserts internal invariants (watermarks, block list, segment chain). */
void shardlog_check(struct shardlog *log);

#endif
