/* pipe.c — SubscribeToShard pipes and their per-worker shard hubs (pipe.h). */
#include "subscribe/pipe.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/refbuf.h"
#include "common/tbucket.h"
#include "shards/segment.h"
#include "shards/shardlog.h"
#include "subscribe/evframe.h"
#include "subscribe/eventstream.h"
#include "subscribe/tailring.h"

/* A read returns at most PIPE_READ_BYTES_MAX of records, or one record larger than that (of at
 * most SEGMENT_WIRE_MAX bytes): either fits one event message with room for its headers, the
 * continuation number and the JSON around the records (well under 64 KiB). */
#define READ_FITS_EVENT (SC_MAX(PIPE_READ_BYTES_MAX, SEGMENT_WIRE_MAX) + (64u << 10) <= \
                         EVENTSTREAM_MAX_LEN)
STATIC_ASSERT(READ_FITS_EVENT, "a read's records fit one event-stream message");

#define PIPE_EOF ((ssize_t)-1)
/* Control frames (heartbeat, exception, shard end) always find a slot. */
#define QUEUE_RESERVED 2u
#define HUB_SYNC_READS_MAX 8 /* synchronous tail reads per hub_poll before yielding */
#define PEEK_IOV 16
/* Smallest paced send (data bytes): one 16 KiB DATA frame's worth. */
#define RATE_QUANTUM 16384u

/* ---- stats --------------------------------------------------------------------------------- */

static _Atomic uint64_t st_open, st_built, st_handed, st_flat, st_catchup, st_pulled, st_chains,
    st_drops, st_waits, st_twins;

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void pipe_stats_get(struct pipe_stats *o)
{
    o->pipes_open = atomic_load(&st_open);
    o->tail_frames_built = atomic_load(&st_built);
    o->tail_frames_handed = atomic_load(&st_handed);
    o->tail_bytes_flattened = atomic_load(&st_flat);
    o->catchup_frames = atomic_load(&st_catchup);
    o->pulled_bytes = atomic_load(&st_pulled);
    o->pulled_chains = atomic_load(&st_chains);
    o->tail_drops = atomic_load(&st_drops);
    o->rate_waits = atomic_load(&st_waits);
    o->tail_cbor_twins = atomic_load(&st_twins);
}

/* ---- types --------------------------------------------------------------------------------- */

struct hub;

/* One queued frame and the pipe's position/continuation once it is fully sent. */
struct qent {
    struct evframe *f;
    size_t len, off;
    uint64_t data_bytes; /* record data bytes in the frame (rate accounting) */
    uint64_t next_pos;
    int64_t last_arrival_ms;
    char seq[SEQNUM_BUF];
};

enum pipe_mode { PM_NEW, PM_SEEK, PM_CATCHUP, PM_TAIL };

struct pipe {
    atomic_uint refs;
    _Atomic(const char *) kick_type;
    struct pipe_config cfg;
    struct hub *hub;
    enum pipe_mode mode;
    bool reading, ending, closed, wake_wanted, rate_armed;
    /* Queued state: the next position to queue and the continuation after the last queued
     * record; and the same after the last frame fully pulled (restored when a tail pipe drops
     * its queue). */
    uint64_t position, sent_pos;
    int64_t last_arrival_ms, sent_arrival_ms;
    char seq[SEQNUM_BUF], sent_seq[SEQNUM_BUF];
    struct qent q[PIPE_QUEUE_FRAMES_MAX];
    unsigned qhead, qlen;
    size_t qbytes;
    int64_t last_queued_ms; /* clock_mono_ms: heartbeats keep their pace over a wall-clock step */
    struct tbucket tb;
    struct event *hb_ev, *life_ev, *rate_ev, *wake_ev;
    struct pipe *tnext, *tprev; /* hub tail list */
};

struct hub {
    atomic_uint refs;
    atomic_bool posted;
    struct shardlog *log;
    void *shard;
    const struct pipe_ops *ops;
    void *worker;
    struct sio *sio;
    int watch;
    struct tailring *ring; /* the shard's frames, shared with the other workers' hubs */
    uint64_t next_pos;     /* the position the next shared frame starts at */
    bool reading, again;
    unsigned npipes;   /* pipes of this shard on this worker (tail or not) */
    struct pipe *tail; /* caught-up pipes */
    struct hub *next;
};

/* Hubs of the calling worker: only that worker's thread touches them. */
static _Thread_local struct hub *t_hubs;

static void pipe_pump(struct pipe *p);
static void pipe_join(struct pipe *p);
static void pipe_shard_end(struct pipe *p);

/* ---- frames and records -------------------------------------------------------------------- */

static void frame_chain_cleanup(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    evframe_decref(arg);
}

/* The continuation number that makes AFTER_SEQUENCE_NUMBER resume at `pos` when no record was
 * delivered yet: counter pos - 1 (wrapping to 2^64-1 for position 0, which the server maps
 * back to 0), record secs = shard secs. */
static void seq_before(const struct pipe *p, uint64_t pos, char out[SEQNUM_BUF])
{
    struct seqnum_fields f = {.shard_secs = p->cfg.shard_secs,
                              .shard_index = p->cfg.shard_index,
                              .counter = pos - 1,
                              .record_secs = p->cfg.shard_secs};
    seqnum_encode(out, &f);
}

/* Record views of a batch for evframe; *data_bytes gets the decoded data total. */
static struct evframe_record *batch_records(const struct shardlog_batch *b, uint64_t *data_bytes)
{
    struct evframe_record *r = sc_malloc(b->count * sizeof(*r));
    uint64_t data = 0;
    unsigned k = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct shardlog_slice *s = &b->slices[i];
        for (unsigned tries = 0; tries < b->nblocks; tries++, k = (k + 1) % b->nblocks) {
            const struct refbuf *blk = b->blocks[k];
            if (s->wire >= blk->data && s->wire + s->len <= blk->data + blk->cap)
                break;
        }
        ASSERT(s->wire >= b->blocks[k]->data);
        r[i] = (struct evframe_record){s->wire, s->len, s->wire_crc, b->blocks[k]};
        data += s->data_len;
    }
    *data_bytes = data;
    return r;
}

/* The event as this pipe sends it: the JSON frame, or its CBOR twin. */
static int pipe_frame(const struct pipe *p, const struct evframe_event *ev, struct evframe **out)
{
    int rc = evframe_create_event(ev, out);
    if (rc != 0 || p->cfg.codec == EVENTSTREAM_CODEC_JSON)
        return rc;
    struct evframe *json = *out;
    rc = evframe_to_cbor(json, out);
    evframe_decref(json);
    return rc;
}

static uint64_t behind_ms(const struct shardlog_batch *b)
{
    if (b->count == 0 || b->next_position >= b->end_position)
        return 0;
    int64_t d = b->last_arrival_ms - b->slices[b->count - 1].arrival_ms;
    return d > 0 ? (uint64_t)d : 0;
}

/* ---- queue --------------------------------------------------------------------------------- */

static struct qent *q_at(struct pipe *p, unsigned i)
{
    return &p->q[(p->qhead + i) % PIPE_QUEUE_FRAMES_MAX];
}

static void pipe_wake(struct pipe *p)
{
    if (p->wake_wanted && !p->closed) {
        p->wake_wanted = false;
        event_active(p->wake_ev, EV_TIMEOUT, 0);
    }
}

/* Queues f (takes a reference) with the pipe's current position/continuation as its
 * after-state. Callers keep within the bounds (asserted). */
static void q_push(struct pipe *p, struct evframe *f, uint64_t data_bytes)
{
    ASSERT(p->qlen < PIPE_QUEUE_FRAMES_MAX);
    struct qent *e = q_at(p, p->qlen);
    evframe_incref(f);
    e->f = f;
    e->len = evframe_len(f);
    e->off = 0;
    e->data_bytes = data_bytes;
    e->next_pos = p->position;
    e->last_arrival_ms = p->last_arrival_ms;
    memcpy(e->seq, p->seq, SEQNUM_BUF);
    p->qlen++;
    p->qbytes += e->len;
    p->last_queued_ms = clock_mono_ms();
    pipe_wake(p);
}

static void q_pop(struct pipe *p)
{
    struct qent *e = q_at(p, 0);
    p->sent_pos = e->next_pos;
    p->sent_arrival_ms = e->last_arrival_ms;
    memcpy(p->sent_seq, e->seq, SEQNUM_BUF);
    p->qbytes -= e->len;
    evframe_decref(e->f);
    e->f = NULL;
    p->qhead = (p->qhead + 1) % PIPE_QUEUE_FRAMES_MAX;
    p->qlen--;
}

/* Drops every queued frame but one already partly pulled (its bytes must be finished to keep
 * the framing), and rewinds position/continuation to the last frame kept. */
static void q_drop_unstarted(struct pipe *p)
{
    unsigned keep = (p->qlen > 0 && q_at(p, 0)->off > 0) ? 1 : 0;
    while (p->qlen > keep) {
        struct qent *e = q_at(p, p->qlen - 1);
        p->qbytes -= e->len;
        evframe_decref(e->f);
        e->f = NULL;
        p->qlen--;
    }
    const struct qent *last = keep ? q_at(p, 0) : NULL;
    p->position = last ? last->next_pos : p->sent_pos;
    p->last_arrival_ms = last ? last->last_arrival_ms : p->sent_arrival_ms;
    memcpy(p->seq, last ? last->seq : p->sent_seq, SEQNUM_BUF);
}

/* ---- hub ----------------------------------------------------------------------------------- */

static void hub_decref(struct hub *h)
{
    if (atomic_fetch_sub(&h->refs, 1) != 1)
        return;
    ASSERT(h->npipes == 0 && h->tail == NULL);
    tailring_put(h->ring);
    h->ops->shard_ref(h->shard, -1);
    free(h);
}

static void hub_poll(struct hub *h);

static void hub_wakeup(void *arg)
{
    struct hub *h = arg;
    atomic_store(&h->posted, false);
    hub_poll(h);
    hub_decref(h);
}

/* Appending thread: only a coalesced post to the hub's worker, never a read. */
static void hub_on_watch(void *arg, uint64_t end_position, bool sealed)
{
    (void)end_position;
    (void)sealed;
    struct hub *h = arg;
    if (atomic_exchange(&h->posted, true))
        return;
    atomic_fetch_add(&h->refs, 1);
    if (h->ops->post(h->worker, hub_wakeup, h) != 0) {
        /* Queue full: the pipes' heartbeat polls the hub, so nothing is lost, only late. */
        atomic_store(&h->posted, false);
        atomic_fetch_sub(&h->refs, 1); /* never the last: the watch holds the hub */
    }
}

static struct hub *hub_get(const struct pipe_config *c)
{
    for (struct hub *h = t_hubs; h != NULL; h = h->next)
        if (h->log == c->log) {
            h->npipes++;
            return h;
        }
    struct hub *h = sc_calloc(1, sizeof(*h));
    atomic_init(&h->refs, 1);
    atomic_init(&h->posted, false);
    h->log = c->log;
    h->shard = c->shard;
    h->ops = c->ops;
    h->worker = c->worker;
    h->sio = c->sio;
    h->npipes = 1;
    h->ring = tailring_get(c->log);
    c->ops->shard_ref(c->shard, +1);
    uint64_t end = 0;
    h->watch = shardlog_watch_add(c->log, hub_on_watch, h, &end);
    if (h->watch < 0) {
        LOG_WARN("subscribe: no watch slot on shard %u; tail pipes poll every heartbeat",
                 c->shard_index);
        end = shardlog_end(c->log);
    }
    h->next_pos = end;
    h->next = t_hubs;
    t_hubs = h;
    return h;
}

static void hub_put(struct hub *h)
{
    ASSERT(h->npipes > 0);
    if (--h->npipes > 0)
        return;
    if (h->watch >= 0)
        shardlog_watch_remove(h->log, h->watch);
    h->watch = -1;
    for (struct hub **pp = &t_hubs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    hub_decref(h);
}

static void tail_remove(struct pipe *p)
{
    if (p->mode != PM_TAIL)
        return;
    struct hub *h = p->hub;
    if (p->tprev)
        p->tprev->tnext = p->tnext;
    else
        h->tail = p->tnext;
    if (p->tnext)
        p->tnext->tprev = p->tprev;
    p->tnext = p->tprev = NULL;
    p->mode = PM_CATCHUP;
}

/* A tail pipe takes the shared frame of batch [from, to), or falls back to catch-up. A CBOR
 * pipe takes *cbor, the frame's CBOR twin, fetched by the first CBOR pipe of the delivery (and
 * built by the first of any worker's). */
static void hub_hand(struct pipe *p, const struct tailframe *tf, struct evframe **cbor)
{
    if (p->position >= tf->to)
        return; /* joined ahead of the hub: it has these records */
    if (p->position != tf->from) {
        tail_remove(p);
        pipe_pump(p);
        return;
    }
    struct evframe *f = tf->f;
    if (p->cfg.codec == EVENTSTREAM_CODEC_CBOR) {
        if (*cbor == NULL) {
            int rc = evframe_cbor_twin(tf->f, cbor);
            if (rc < 0) {
                pipe_end(p, "InternalFailureException",
                         "Internal service failure encoding records.");
                return;
            }
            stat_add(&st_twins, (uint64_t)rc);
        }
        f = *cbor;
    }
    size_t len = evframe_len(f);
    /* An empty queue takes a frame past the byte bound (one large record's): otherwise every
     * tail pipe would fall back to catch-up and read it again from the log. */
    if (p->qlen + 1 > PIPE_QUEUE_FRAMES_MAX - QUEUE_RESERVED ||
        (p->qbytes > 0 && p->qbytes + len > PIPE_QUEUE_BYTES_MAX)) {
        /* The client does not read: stall alone, from our own position, later. */
        stat_add(&st_drops, 1);
        q_drop_unstarted(p);
        tail_remove(p);
        pipe_pump(p);
        return;
    }
    p->position = tf->to;
    p->last_arrival_ms = tf->last_arrival_ms;
    memcpy(p->seq, tf->seq, SEQNUM_BUF);
    q_push(p, f, tf->data_bytes);
    stat_add(&st_handed, 1);
}

/* The shared frame of batch b, which starts at `from`: one contiguous copy, so that handing it
 * to a pipe costs one queue slot and pulling it one chain per DATA frame (libevent 2.1
 * allocates a ~1 KiB chain per referenced part: a frame of n records would cost every pipe n
 * chains). A lone record past the read bound (a large record, up to 13.3 MiB of JSON) stays by
 * reference in its tail block instead: a few parts, and no copy into a fresh mapping per record
 * (the copy and its page faults were ~13% of the server's CPU for 10 MiB records; delivery
 * is 30% sooner without them: docs/benchmarks.md). */
static void frame_of_batch(struct shardlog *log, const struct shardlog_batch *b, uint64_t from,
                           bool kms, struct tailframe *out)
{
    uint64_t data = 0;
    struct evframe_record *recs = batch_records(b, &data);
    const struct shardlog_slice *last = &b->slices[b->count - 1];
    shardlog_seqnum(log, last->position, last->arrival_ms, out->seq);
    struct evframe_event ev = {recs, b->count, out->seq, behind_ms(b), NULL, kms};
    struct evframe *f;
    int rc = evframe_create_event(&ev, &f);
    ASSERT(rc == 0); /* reads stay below the message limit: see READ_FITS_EVENT */
    free(recs);
    size_t len = evframe_len(f);
    if (b->count == 1 && len > PIPE_READ_BYTES_MAX) {
        out->f = f;
    } else {
        struct refbuf *flat = refbuf_create(len);
        evframe_flatten(f, flat->data);
        flat->len = len;
        evframe_decref(f);
        out->f = evframe_create_message(flat);
        refbuf_decref(flat);
        stat_add(&st_flat, len);
    }
    out->from = from;
    out->to = b->next_position;
    out->data_bytes = data;
    out->last_arrival_ms = last->arrival_ms;
    stat_add(&st_built, 1);
}

/* tailring_build_fn: the batch at `from` from the log's memory tail. The asking hub's thread. */
static int hub_build(void *arg, uint64_t from, struct tailframe *out)
{
    struct hub *h = arg;
    struct shardlog_read_req q = {from, 0, PIPE_READ_RECORDS_MAX, PIPE_READ_BYTES_MAX};
    struct shardlog_batch *b;
    if (shardlog_read_now(h->log, &q, &b) != 1)
        return -EAGAIN;
    int rc = 0;
    if (b->count > 0 && b->next_position > from) {
        frame_of_batch(h->log, b, from, h->ops->encrypted(h->shard), out);
        rc = 1;
    }
    shardlog_batch_free(b);
    return rc;
}

/* Hands the frame of batch [tf->from, tf->to) to every tail pipe of this worker; its CBOR twin,
 * if a CBOR pipe needs it, is built once for all of them and for the other workers' hubs. */
static void hub_deliver(struct hub *h, const struct tailframe *tf)
{
    h->next_pos = tf->to;
    struct evframe *cbor = NULL;
    struct pipe *p = h->tail;
    while (p != NULL) {
        struct pipe *next = p->tnext; /* hub_hand may unlink p */
        hub_hand(p, tf, &cbor);
        p = next;
    }
    evframe_decref(cbor);
}

/* Consumes one read result; returns true when the hub moved forward. */
static bool hub_consume(struct hub *h, int err, struct shardlog_batch *b)
{
    if (err < 0) {
        /* The tail pipes read for themselves: each gets the error (or the records) alone. */
        LOG_WARN("subscribe: tail read failed: %d", err);
        while (h->tail != NULL) {
            struct pipe *p = h->tail;
            tail_remove(p);
            pipe_pump(p);
        }
        return false;
    }
    if (b->count > 0 && b->next_position > h->next_pos && h->tail != NULL) {
        struct tailframe tf; /* read for this hub alone: not kept in the ring */
        frame_of_batch(h->log, b, h->next_pos, h->ops->encrypted(h->shard), &tf);
        hub_deliver(h, &tf);
        evframe_decref(tf.f);
    }
    bool progress = b->next_position > h->next_pos || b->count > 0;
    if (b->next_position > h->next_pos)
        h->next_pos = b->next_position;
    shardlog_batch_free(b);
    return progress;
}

static void hub_on_read(void *arg, int err, struct shardlog_batch *b)
{
    struct hub *h = arg;
    h->reading = false;
    bool progress = hub_consume(h, err, b);
    if ((progress || h->again) && h->npipes > 0) {
        h->again = false;
        hub_poll(h);
    }
    hub_decref(h);
}

/* One step of hub_poll. Returns true when a batch was served synchronously from the log's
 * memory tail and moved the hub (the caller loops), false when done or a read is in flight. */
static bool hub_poll_once(struct hub *h)
{
    if (h->npipes == 0)
        return false;
    if (h->reading) {
        h->again = true;
        return false;
    }
    if (h->tail == NULL) {
        h->next_pos = SC_MAX(h->next_pos, shardlog_end(h->log)); /* nobody to read for */
        return false;
    }
    if (h->next_pos < shardlog_end(h->log)) {
        /* The usual case: the frame another worker's hub built for this batch, or build it from
         * the log's memory tail now, for every worker (no sio completion round trip). */
        struct tailframe tf;
        uint64_t bound = UINT64_MAX;
        int rc = tailring_take(h->ring, h->next_pos, hub_build, h, &tf, &bound);
        if (rc == 1) {
            hub_deliver(h, &tf);
            evframe_decref(tf.f);
            return true;
        }
        if (rc == 0)
            return false;
        /* Off the shared boundaries (-ENOENT) or out of memory (-EAGAIN): read for ourselves,
         * no further than the next shared boundary. */
        uint64_t max = PIPE_READ_RECORDS_MAX;
        if (bound > h->next_pos && bound - h->next_pos < max)
            max = bound - h->next_pos;
        struct shardlog_read_req q = {h->next_pos, 0, (uint32_t)max, PIPE_READ_BYTES_MAX};
        struct shardlog_batch *b;
        if (rc == -ENOENT && shardlog_read_now(h->log, &q, &b) == 1)
            return hub_consume(h, 0, b);
        h->reading = true;
        atomic_fetch_add(&h->refs, 1);
        shardlog_read(h->log, h->sio, &q, hub_on_read, h);
        return false;
    }
    if (shardlog_is_sealed(h->log) && h->next_pos >= shardlog_end(h->log)) {
        struct pipe *p = h->tail;
        while (p != NULL) {
            struct pipe *next = p->tnext;
            if (p->position >= h->next_pos)
                pipe_shard_end(p);
            p = next;
        }
    }
    return false;
}

static void hub_poll(struct hub *h)
{
    /* Our own reference: a delivery can end pipes and drop the hub's others. */
    atomic_fetch_add(&h->refs, 1);
    unsigned i = 0;
    while (hub_poll_once(h))
        if (++i == HUB_SYNC_READS_MAX) {
            /* A writer faster than us: yield the loop, continue from a posted wakeup. */
            hub_on_watch(h, 0, false);
            break;
        }
    hub_decref(h);
}

/* ---- pipe: reading ------------------------------------------------------------------------- */

static void pipe_on_read(void *arg, int err, struct shardlog_batch *b)
{
    struct pipe *p = arg;
    p->reading = false;
    if (p->closed || p->ending || p->mode != PM_CATCHUP) {
        if (b)
            shardlog_batch_free(b);
        pipe_decref(p);
        return;
    }
    if (err < 0) {
        pipe_end(p, "InternalFailureException", "Internal service failure reading the shard.");
        pipe_decref(p);
        return;
    }
    if (b->count > 0) {
        uint64_t data = 0;
        struct evframe_record *recs = batch_records(b, &data);
        const struct shardlog_slice *last = &b->slices[b->count - 1];
        char seq[SEQNUM_BUF];
        shardlog_seqnum(p->cfg.log, last->position, last->arrival_ms, seq);
        struct evframe_event ev = {recs, b->count, seq, behind_ms(b), NULL,
                                   p->cfg.ops->encrypted(p->cfg.shard)};
        struct evframe *f;
        int rc = pipe_frame(p, &ev, &f);
        free(recs);
        if (rc != 0) { /* reads fit an event (READ_FITS_EVENT): only a record CBOR cannot take */
            shardlog_batch_free(b);
            pipe_end(p, "InternalFailureException", "Internal service failure encoding records.");
            pipe_decref(p);
            return;
        }
        p->position = b->next_position;
        p->last_arrival_ms = last->arrival_ms;
        memcpy(p->seq, seq, SEQNUM_BUF);
        q_push(p, f, data);
        evframe_decref(f);
        stat_add(&st_catchup, 1);
    } else if (b->next_position > p->position) {
        p->position = b->next_position; /* below the trim horizon */
        seq_before(p, p->position, p->seq);
    }
    bool caught = b->next_position >= b->end_position;
    bool sealed_end = b->sealed_end;
    shardlog_batch_free(b);
    if (caught && sealed_end)
        pipe_shard_end(p);
    else if (caught)
        pipe_join(p);
    else
        pipe_pump(p);
    pipe_decref(p);
}

static void pipe_pump(struct pipe *p)
{
    if (p->closed || p->ending || p->mode != PM_CATCHUP || p->reading)
        return;
    if (p->qbytes >= PIPE_READAHEAD_BYTES || p->qlen + 1 > PIPE_QUEUE_FRAMES_MAX - QUEUE_RESERVED)
        return; /* pull pumps again when frames leave */
    p->reading = true;
    pipe_incref(p);
    struct shardlog_read_req q = {p->position, 0, PIPE_READ_RECORDS_MAX, PIPE_READ_BYTES_MAX};
    shardlog_read(p->cfg.log, p->cfg.sio, &q, pipe_on_read, p);
}

static void pipe_join(struct pipe *p)
{
    struct hub *h = p->hub;
    if (p->position < h->next_pos) {
        pipe_pump(p); /* the hub moved on meanwhile */
        return;
    }
    if (h->tail == NULL && !h->reading)
        h->next_pos = p->position;
    p->mode = PM_TAIL;
    p->tprev = NULL;
    p->tnext = h->tail;
    if (h->tail)
        h->tail->tprev = p;
    h->tail = p;
    hub_poll(h);
}

static void pipe_on_seek(void *arg, int err, uint64_t position)
{
    struct pipe *p = arg;
    if (!p->closed && !p->ending) {
        if (err < 0) {
            pipe_end(p, "InternalFailureException", "Internal service failure seeking the shard.");
        } else {
            p->position = p->sent_pos = position;
            seq_before(p, position, p->seq);
            memcpy(p->sent_seq, p->seq, SEQNUM_BUF);
            p->mode = PM_CATCHUP;
            pipe_pump(p);
        }
    }
    pipe_decref(p);
}

/* ---- pipe: ends ---------------------------------------------------------------------------- */

static void pipe_shard_end(struct pipe *p)
{
    if (p->ending || p->closed)
        return;
    char *child = p->cfg.ops->child_shards(p->cfg.arg);
    struct evframe_event ev = {NULL, 0, NULL, 0, child ? child : "[]", false};
    struct evframe *f;
    int rc = pipe_frame(p, &ev, &f);
    free(child);
    tail_remove(p);
    p->ending = true;
    if (rc == 0) {
        q_push(p, f, 0);
        evframe_decref(f);
    }
    p->wake_wanted = true;
    pipe_wake(p);
}

void pipe_end(struct pipe *p, const char *type, const char *msg)
{
    if (p->ending || p->closed)
        return;
    p->ending = true;
    tail_remove(p);
    q_drop_unstarted(p);
    if (type != NULL) {
        struct evframe *f;
        if (evframe_create_exception(type, p->cfg.codec, msg ? msg : type, &f) == 0) {
            q_push(p, f, 0);
            evframe_decref(f);
        }
    }
    p->wake_wanted = true;
    pipe_wake(p);
}

static void handle_kick(struct pipe *p)
{
    const char *type = atomic_exchange(&p->kick_type, NULL);
    if (type == NULL)
        return;
    if (strcmp(type, "ResourceInUseException") == 0)
        pipe_end(p, type, "Another subscription to this consumer and shard took over.");
    else
        pipe_end(p, type, "The subscription ended.");
}

static void on_kick(void *arg)
{
    struct pipe *p = arg;
    if (!p->closed)
        handle_kick(p);
    pipe_decref(p);
}

void pipe_kick(struct pipe *p, const char *type)
{
    atomic_store(&p->kick_type, type);
    pipe_incref(p);
    if (p->cfg.ops->post(p->cfg.worker, on_kick, p) != 0)
        pipe_decref(p); /* the heartbeat sees kick_type */
}

/* ---- timers -------------------------------------------------------------------------------- */

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct pipe *p = arg;
    handle_kick(p);
    char type[64], msg[256];
    if (!p->ending && p->cfg.ops->check(p->cfg.arg, type, sizeof(type), msg, sizeof(msg)) != 0)
        pipe_end(p, type, msg);
    if (p->ending)
        return;
    int64_t now = clock_mono_ms();
    if (p->qlen == 0 && now - p->last_queued_ms >= (int64_t)p->cfg.heartbeat_ms - 5 &&
        p->mode != PM_NEW && p->mode != PM_SEEK) {
        uint64_t behind = 0;
        if (p->mode != PM_TAIL && p->position < shardlog_end(p->cfg.log) && p->last_arrival_ms)
            behind = (uint64_t)SC_MAX(shardlog_last_arrival_ms(p->cfg.log) - p->last_arrival_ms, 0);
        struct evframe_event ev = {NULL, 0, p->seq, behind, NULL, false};
        struct evframe *f;
        ASSERT(pipe_frame(p, &ev, &f) == 0);
        q_push(p, f, 0);
        evframe_decref(f);
    }
    hub_poll(p->hub); /* safety net for a lost or refused wakeup post */
    pipe_pump(p);
}

static void on_lifetime(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pipe_end(arg, NULL, NULL);
}

static void on_rate(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct pipe *p = arg;
    p->rate_armed = false;
    p->wake_wanted = true;
    pipe_wake(p);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct pipe *p = arg;
    if (!p->closed)
        p->cfg.ops->wake(p->cfg.arg);
}

static void timer_ms(struct event *ev, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(ev, &tv);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

struct pipe *pipe_create(const struct pipe_config *cfg)
{
    ASSERT(cfg->log && cfg->sio && cfg->base && cfg->ops && cfg->heartbeat_ms > 0);
    struct pipe *p = sc_calloc(1, sizeof(*p));
    atomic_init(&p->refs, 1);
    atomic_init(&p->kick_type, NULL);
    p->cfg = *cfg;
    p->mode = PM_NEW;
    p->position = p->sent_pos = cfg->start_position;
    seq_before(p, p->position, p->seq);
    memcpy(p->sent_seq, p->seq, SEQNUM_BUF);
    /* Burst of half a second: a backlog drains at the rate almost from the start. */
    uint64_t rate = cfg->rate_bytes_per_s;
    tbucket_init(&p->tb, rate, rate ? SC_MAX(rate / 2, 1u << 20) : 0, clock_mono_ns());
    p->hb_ev = event_new(cfg->base, -1, EV_PERSIST, on_heartbeat, p);
    p->life_ev = evtimer_new(cfg->base, on_lifetime, p);
    p->rate_ev = evtimer_new(cfg->base, on_rate, p);
    p->wake_ev = evtimer_new(cfg->base, on_wake, p);
    ASSERT(p->hb_ev && p->life_ev && p->rate_ev && p->wake_ev);
    cfg->ops->shard_ref(cfg->shard, +1); /* in-flight reads outlive pipe_closed */
    p->hub = hub_get(cfg);
    stat_add(&st_open, 1);
    return p;
}

void pipe_start(struct pipe *p)
{
    ASSERT(p->mode == PM_NEW && !p->closed);
    struct evframe *f = evframe_create_initial_response(p->cfg.codec);
    q_push(p, f, 0);
    evframe_decref(f);
    p->wake_wanted = true;
    pipe_wake(p);
    timer_ms(p->hb_ev, p->cfg.heartbeat_ms);
    timer_ms(p->life_ev, p->cfg.lifetime_ms);
    if (p->cfg.start_time_ms >= 0) {
        p->mode = PM_SEEK;
        pipe_incref(p);
        shardlog_seek_time(p->cfg.log, p->cfg.sio, p->cfg.start_time_ms, pipe_on_seek, p);
    } else {
        p->mode = PM_CATCHUP;
        pipe_pump(p);
    }
}

/* Appends up to n bytes of the head frame by reference; returns bytes appended. */
static size_t pull_head(struct qent *e, struct evbuffer *out, size_t n)
{
    struct iovec iov[PEEK_IOV];
    size_t k = evframe_peek(e->f, e->off, n, iov, PEEK_IOV);
    size_t moved = 0;
    for (size_t i = 0; i < k; i++) {
        evframe_incref(e->f);
        if (evbuffer_add_reference(out, iov[i].iov_base, iov[i].iov_len, frame_chain_cleanup,
                                   e->f) != 0) {
            evframe_decref(e->f);
            break;
        }
        moved += iov[i].iov_len;
    }
    stat_add(&st_chains, k);
    e->off += moved;
    return moved;
}

/* Rate: bytes of the head frame the bucket allows now (tokens are record data bytes, spread
 * evenly over the frame's bytes). */
static size_t rate_allow(struct pipe *p, const struct qent *e, size_t n, uint64_t now_ns)
{
    if (p->cfg.rate_bytes_per_s == 0 || e->data_bytes == 0)
        return n;
    unsigned __int128 need128 = ((unsigned __int128)n * e->data_bytes + e->len - 1) / e->len;
    uint64_t need = (uint64_t)need128;
    /* Wait for a quantum rather than dribbling out a few bytes per loop turn. */
    if (tbucket_available(&p->tb, now_ns) < SC_MIN(need, RATE_QUANTUM))
        return 0;
    uint64_t got = tbucket_take_upto(&p->tb, need, now_ns);
    if (got >= need)
        return n;
    return (size_t)((unsigned __int128)got * e->len / e->data_bytes);
}

ssize_t pipe_pull(struct pipe *p, struct evbuffer *out, size_t hint)
{
    if (p->closed)
        return PIPE_EOF;
    handle_kick(p);
    size_t cap = hint ? hint : SIZE_MAX, total = 0;
    uint64_t now = clock_mono_ns();
    bool limited = false;
    while (p->qlen > 0 && total < cap) {
        struct qent *e = q_at(p, 0);
        size_t n = rate_allow(p, e, SC_MIN(e->len - e->off, cap - total), now);
        if (n == 0) {
            limited = true;
            break;
        }
        size_t moved = pull_head(e, out, n);
        total += moved;
        if (e->off == e->len)
            q_pop(p);
        if (moved == 0)
            break;
    }
    stat_add(&st_pulled, total);
    pipe_pump(p);
    if (limited && !p->rate_armed) {
        stat_add(&st_waits, 1);
        p->rate_armed = true;
        uint64_t ns = tbucket_wait_ns(&p->tb, RATE_QUANTUM, now);
        timer_ms(p->rate_ev, SC_MAX(ns / 1000000, 1));
    }
    if (total > 0)
        return (ssize_t)total;
    if (p->ending && p->qlen == 0)
        return PIPE_EOF;
    p->wake_wanted = true;
    return 0;
}

void pipe_closed(struct pipe *p, int err)
{
    (void)err;
    ASSERT(!p->closed);
    p->closed = true;
    p->ending = true;
    event_free(p->hb_ev);
    event_free(p->life_ev);
    event_free(p->rate_ev);
    event_free(p->wake_ev);
    tail_remove(p);
    while (p->qlen > 0)
        q_pop(p);
    hub_put(p->hub);
    p->hub = NULL;
    atomic_fetch_sub(&st_open, 1);
    pipe_decref(p);
}

void pipe_incref(struct pipe *p)
{
    atomic_fetch_add(&p->refs, 1);
}

void pipe_decref(struct pipe *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    ASSERT(p->closed);
    p->cfg.ops->shard_ref(p->cfg.shard, -1);
    free(p);
}

bool pipe_is_tail(const struct pipe *p)
{
    return p->mode == PM_TAIL;
}

uint64_t pipe_position(const struct pipe *p)
{
    return p->position;
}
