/* pipe.h — one SubscribeToShard subscription (consumer x shard) and the per-worker shard hub
 * that feeds caught-up pipes one shared frame per append batch (architecture.md §4).
 *
 * A pipe is a bounded queue of event frames plus a read position in the shard:
 *  - catch-up: it reads the log itself (shardlog_read: tail memory or disk blocks) and builds its
 *    own frames around the stored records (evframe_create_event: records referenced, never
 *    copied); when a read reaches the log's end it joins the hub;
 *  - tail: the hub of its (worker, shard) registers ONE shardlog watch; each new batch is read
 *    and flattened into ONE contiguous refcounted frame once for the whole server (the first
 *    hub to reach it builds it into the shard's tailring, the other workers' hubs take the same
 *    frame), and each hub queues that frame in every caught-up pipe of its worker (O(1) per
 *    pipe: one pointer, one atomic increment);
 *  - a tail pipe whose queue would pass its bound (the client does not read) drops its queued
 *    frames and reads from its own position again: it stalls alone; its lag shows in
 *    MillisBehindLatest.
 * The transport pulls through pipe_pull(): at most `hint` bytes, appended to the transport's
 * evbuffer by reference to the frame (evbuffer_add_reference + a frame reference), so HTTP/2
 * moves whole chains only. A token bucket (rate_bytes_per_s, on record data bytes) paces pull.
 *
 * Lifecycle and threads. pipe_create/pipe_start/pipe_pull/pipe_closed/pipe_end run on the
 * pipe's worker thread (the one whose loop owns the exchange and whose event_base/sio were
 * given). pipe_kick, pipe_incref and pipe_decref may be called from any thread. The pipe is
 * refcounted (atomic): the creator's reference belongs to the transport and is dropped by
 * pipe_closed(); other holders (the lease table, posted functions) take their own. After
 * pipe_closed() the pipe never calls its ops again; its memory goes with the last reference.
 *
 * Hubs are per worker thread (a thread-local list: only that worker touches them) and live while
 * a pipe of that shard lives on the worker. The watch callback runs on the appending thread and
 * only posts a wakeup (coalesced by an atomic flag) to the hub's worker. */
#ifndef SC_PIPE_H
#define SC_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "subscribe/eventstream.h"

struct evbuffer;
struct event_base;
struct shardlog;
struct sio;
struct pipe;

/* What the layer above provides (server/api_subscribe.c). All but post run on the pipe's worker. */
struct pipe_ops {
    /* Bytes are ready after pipe_pull returned 0 (-> http_exchange_resume). */
    void (*wake)(void *arg);
    /* Runs fn(fn_arg) on `worker` soon; any thread. 0 or -EAGAIN (queue full: fn will not run). */
    int (*post)(void *worker, void (*fn)(void *), void *fn_arg);
    /* Periodic liveness check (every heartbeat): 0 while the subscription may go on, else fills
     * type (e.g. "ResourceInUseException") and msg and returns 1: the pipe sends that exception
     * and ends. */
    int (*check)(void *arg, char *type, size_t type_cap, char *msg, size_t msg_cap);
    /* ChildShards JSON array text (malloc'd; NULL -> "[]") for a sealed shard's last event. */
    char *(*child_shards)(void *arg);
    /* Keeps the shard's log alive: called with +1 / -1 by hubs (which may outlive a pipe by an
     * in-flight read). Any thread for -1. */
    void (*shard_ref)(void *shard, int delta);
    /* Whether the shard's stream is KMS-encrypted now: its records then carry EncryptionType
     * (asked once per frame built). Any worker thread. */
    bool (*encrypted)(void *shard);
};

struct pipe_config {
    struct shardlog *log; /* kept alive by the caller while the pipe lives, and via shard_ref */
    void *shard;          /* opaque handle passed to ops->shard_ref */
    uint64_t shard_secs;  /* for sequence numbers */
    uint32_t shard_index;
    struct sio *sio;           /* the worker's */
    struct event_base *base;   /* the worker's */
    void *worker;              /* passed to ops->post */
    uint64_t start_position;   /* first position to deliver (ignored when start_time_ms >= 0) */
    int64_t start_time_ms;     /* AT_TIMESTAMP: >= 0 seeks the first record at/after it */
    uint32_t heartbeat_ms;     /* empty event on an idle pipe; also the liveness check period */
    uint32_t lifetime_ms;      /* then the pipe ends cleanly */
    uint64_t rate_bytes_per_s; /* record data bytes per second; 0 = unlimited */
    /* The request's codec: CBOR pipes get every event in CBOR, in frames of their own (the
     * shared tail frame is JSON; the hub transcodes it once per batch for its CBOR pipes). */
    enum eventstream_codec codec;
    const struct pipe_ops *ops;
    void *arg; /* for ops */
};

/* Per-pipe queue bounds: frames and bytes (a tail pipe past them falls back to catch-up; a
 * frame larger than the byte bound, one 10 MiB record's, is taken into an empty queue). */
#define PIPE_QUEUE_FRAMES_MAX 64u
#define PIPE_QUEUE_BYTES_MAX (8u << 20)
/* Catch-up reads ahead only while the queue holds less than this. */
#define PIPE_READAHEAD_BYTES (1u << 20)
/* One read (hub or catch-up): records and wire bytes. */
#define PIPE_READ_RECORDS_MAX 10000u
#define PIPE_READ_BYTES_MAX (1u << 20)

/* Creates a pipe (refs 1, the transport's) that has not started: nothing is queued or read.
 * Never fails. */
struct pipe *pipe_create(const struct pipe_config *cfg);

/* Queues initial-response, starts reading (or seeking), the heartbeat and lifetime timers. */
void pipe_start(struct pipe *p);

/* The transport's pull (http.h contract): appends at most `hint` bytes (hint 0 = any amount)
 * by reference. Returns bytes appended (> 0), 0 when nothing is ready (ops->wake follows), or
 * -1 (HTTP_STREAM_EOF) when the pipe has ended and everything was pulled. */
ssize_t pipe_pull(struct pipe *p, struct evbuffer *out, size_t hint);

/* The transport is done with the pipe (err 0 clean end, < 0 reset/gone): stops timers, leaves
 * the hub, drops the queue and the transport's reference. Quiet: no ops called. */
void pipe_closed(struct pipe *p, int err);

/* Ends the pipe with an exception message (type e.g. "ResourceInUseException"), or cleanly when
 * type is NULL: queued frames not yet started are dropped, the message follows the frame in
 * flight, then EOF. Idempotent; the first end wins. */
void pipe_end(struct pipe *p, const char *type, const char *msg);

/* From any thread: asks the pipe's worker to end it with `type` (static string) and a generic
 * message. Takes its own reference for the posted call. */
void pipe_kick(struct pipe *p, const char *type);

void pipe_incref(struct pipe *p);
void pipe_decref(struct pipe *p);

/* True once the pipe is caught up (in its hub's tail set). Pipe's thread. */
bool pipe_is_tail(const struct pipe *p);
/* The next position the pipe will queue. Pipe's thread. */
uint64_t pipe_position(const struct pipe *p);

/* Process-wide counters (relaxed atomics), for /stats and tests. */
struct pipe_stats {
    uint64_t pipes_open;
    uint64_t tail_frames_built;    /* shared frames built by hubs (one per batch; a hub that
                                      fell off the shared boundaries builds its own) */
    uint64_t tail_frames_handed;   /* shared frames queued into pipes */
    uint64_t tail_bytes_flattened; /* bytes copied once per batch to make shared frames */
    uint64_t catchup_frames;       /* frames built by catch-up pipes */
    uint64_t pulled_bytes;         /* bytes handed to transports by reference */
    uint64_t pulled_chains;        /* evbuffer_add_reference calls made by pulls */
    uint64_t tail_drops;           /* tail pipes that overflowed and fell back to catch-up */
    uint64_t rate_waits;           /* pulls that found the bucket empty */
    uint64_t tail_cbor_twins;      /* CBOR twins of shared frames transcoded (one per frame a
                                      CBOR pipe took, whatever the workers) */
};
void pipe_stats_get(struct pipe_stats *out);

#endif
