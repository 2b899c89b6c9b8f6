/* shardlog.c — see shardlog.h. Locks: `alock` (append lock: positions, tail placement, writer
 * cursor, watermarks, ack queue) is taken before `ilock` (segment list and indexes, tail block
 * list, read cache), which readers take briefly. `wlock` guards the watch table only. */
#include "shards/shardlog.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/clock.h"
#include "common/common.h"
#include "common/crc32.h"
#include "shards/segment.h"

#define CACHE_SLOTS 8

/* A tail block: consecutive records of one segment, in memory exactly as on disk. */
struct tblock {
    struct refbuf *buf;
    struct segment *seg;       /* one reference held */
    uint64_t file_off;         /* file offset of buf->data[0] */
    uint64_t first_pos;
    size_t used;               /* bytes placed (alock) */
    uint64_t end_pos;          /* position after the last placed record (alock) */
    _Atomic size_t pub_bytes;  /* bytes readers may parse (release-published) */
    size_t written;            /* bytes written to the file (alock) */
    struct tblock *next, *prev;
};

struct append_req {
    struct sio_op op;
    uint64_t first;
    uint32_t n;
    int64_t arrival_ms;
    shardlog_append_cb cb;
    void *arg;
    struct sio *sio;
    struct append_req *next;
};

struct cache_slot {
    struct segment *seg; /* identity only; slots are cleared before a segment is dropped */
    uint64_t off;
    struct refbuf *buf;
    uint64_t tick;
};

struct watch {
    shardlog_watch_cb cb;
    void *arg;
};

struct shardlog {
    struct shardlog_config cfg;
    char *dir;
    pthread_mutex_t alock, ilock, wlock;

    /* alock */
    bool sealed;
    int failed;
    int64_t last_ms;
    uint64_t appended_bytes, written_bytes;
    struct tblock *wcur;   /* oldest block with unwritten bytes (or the last written one) */
    struct segment *wseg;  /* segment of the last write (ref), what a sync covers */
    struct segment *wdseg; /* segment whose directory entry is being synced (ref) */
    uint64_t w_target_bytes, w_target_end, s_target;
    struct append_req *ack_head, **ack_tail;
    struct sio *wsio;      /* the current writer's sio */
    uint64_t last_sync_ns;

    /* ilock */
    struct segment **segs;
    size_t nsegs, segs_cap;
    struct tblock *bhead, *btail;
    size_t block_bytes_total;
    struct cache_slot cache[CACHE_SLOTS];
    uint64_t cache_tick;

    /* wlock */
    struct watch watches[SHARDLOG_WATCHES_MAX];
    unsigned nwatches_hint;

    _Atomic uint64_t end, written, durable, trim;
    _Atomic int64_t last_arrival;
    atomic_bool writer_busy, sync_wanted, sealed_flag;
    struct sio_op wop; /* the one write/sync in flight */
};

static void writer_next(struct shardlog *log);

/* The one place the watermark order is asserted. alock held. */
static void watermarks_check(struct shardlog *log)
{
    uint64_t d = atomic_load(&log->durable), w = atomic_load(&log->written);
    ASSERT(d <= w && w <= atomic_load(&log->end));
    ASSERT(log->written_bytes <= log->appended_bytes);
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void segs_push(struct shardlog *log, struct segment *seg)
{
    if (log->nsegs == log->segs_cap) {
        log->segs_cap = log->segs_cap ? log->segs_cap * 2 : 16;
        log->segs = sc_realloc(log->segs, log->segs_cap * sizeof(*log->segs));
    }
    log->segs[log->nsegs++] = seg;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the bases of the DIR/<n>.seg files, sorted. Returns the count or -errno; *out malloc'd. */
static int list_segments(const char *dir, uint64_t **out)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -errno;
    size_t n = 0, cap = 16;
    uint64_t *bases = sc_malloc(cap * sizeof(*bases));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t base;
        if (segment_parse_name(de->d_name, &base) != 0)
            continue;
        if (n == cap)
            bases = sc_realloc(bases, (cap *= 2) * sizeof(*bases));
        bases[n++] = base;
    }
    closedir(d);
    qsort(bases, n, sizeof(*bases), cmp_u64);
    *out = bases;
    return (int)n;
}

static int load_segments(struct shardlog *log)
{
    uint64_t *bases = NULL;
    int n = list_segments(log->dir, &bases);
    if (n < 0)
        return n;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%020llu.seg", log->dir, (unsigned long long)bases[i]);
        struct segment *seg;
        rc = segment_open(path, bases[i], i == n - 1, &seg);
        if (rc != 0)
            break;
        if (log->nsegs > 0 && log->segs[log->nsegs - 1]->end != seg->base)
            LOG_WARN("shard log %s: positions %llu..%llu are missing between segments", log->dir,
                     (unsigned long long)log->segs[log->nsegs - 1]->end,
                     (unsigned long long)seg->base);
        segs_push(log, seg);
    }
    free(bases);
    if (rc == 0 && log->nsegs == 0) {
        struct segment *seg;
        /* The writer syncs the directory, and its parent (the directory may be new), before
         * the first write: no sync on the thread opening the log (under the table's lock). */
        rc = segment_create(log->dir, 0, SEGMENT_DIR_SYNC_LATER_PARENT, &seg);
        if (rc == 0)
            segs_push(log, seg);
    }
    return rc;
}

static void config_defaults(struct shardlog_config *c)
{
    if (c->sync_interval_ms == 0)
        c->sync_interval_ms = 1000;
    if (c->segment_bytes_max == 0)
        c->segment_bytes_max = 64u << 20;
    if (c->block_bytes == 0)
        c->block_bytes = 256u << 10;
    if (c->tail_bytes_max == 0)
        c->tail_bytes_max = 32u << 20;
    c->tail_bytes_max = SC_MAX(c->tail_bytes_max, 4 * c->block_bytes);
}

int shardlog_open(const struct shardlog_config *cfg, struct shardlog **out)
{
    ASSERT(cfg->dir != NULL && cfg->shard_secs <= SEQNUM_SECS_MAX);
    int rc = mkdir_p(cfg->dir);
    if (rc != 0)
        return rc;
    struct shardlog *log = sc_calloc(1, sizeof(*log));
    log->cfg = *cfg;
    config_defaults(&log->cfg);
    log->dir = sc_strdup(cfg->dir);
    log->cfg.dir = log->dir;
    pthread_mutex_init(&log->alock, NULL);
    pthread_mutex_init(&log->ilock, NULL);
    pthread_mutex_init(&log->wlock, NULL);
    log->ack_tail = &log->ack_head;
    rc = load_segments(log);
    if (rc != 0) {
        shardlog_close(log);
        return rc;
    }
    struct segment *last = log->segs[log->nsegs - 1];
    if (last->size > 0 && fdatasync(last->fd) < 0)
        LOG_WARN("shard log %s: fdatasync at open: %s", log->dir, strerror(errno));
    for (size_t i = log->nsegs; i-- > 0;)
        if (log->segs[i]->end > log->segs[i]->base) {
            log->last_ms = log->segs[i]->last_ms;
            break;
        }
    atomic_init(&log->end, last->end);
    atomic_init(&log->written, last->end);
    atomic_init(&log->durable, last->end);
    atomic_init(&log->trim, log->segs[0]->base);
    atomic_init(&log->last_arrival, log->last_ms);
    log->last_sync_ns = clock_mono_ns();
    *out = log;
    return 0;
}

/* ---------------------------------------------------------------- append */

/* A new tail block at the end of seg. alock + ilock held. */
static struct tblock *block_new(struct shardlog *log, struct segment *seg, size_t need)
{
    struct tblock *b = sc_calloc(1, sizeof(*b));
    size_t cap = SC_MAX(log->cfg.block_bytes, need);
    b->buf = refbuf_create(cap);
    segment_incref(seg);
    b->seg = seg;
    b->file_off = seg->size;
    b->first_pos = seg->end;
    b->end_pos = seg->end;
    atomic_init(&b->pub_bytes, 0);
    b->prev = log->btail;
    if (log->btail)
        log->btail->next = b;
    else
        log->bhead = b;
    log->btail = b;
    if (log->wcur == NULL)
        log->wcur = b;
    log->block_bytes_total += cap;
    return b;
}

/* Ensures the tail block can take `need` more bytes, rolling the segment when it is full.
 * alock + ilock held. Returns the block, or NULL with *err. */
static struct tblock *block_for(struct shardlog *log, size_t need, int *err)
{
    struct segment *seg = log->segs[log->nsegs - 1];
    if (seg->size > 0 && seg->size + need > log->cfg.segment_bytes_max) {
        struct segment *next;
        /* The directory's sync waits for the writer (writer_next), not this append. */
        *err = segment_create(log->dir, seg->end, SEGMENT_DIR_SYNC_LATER, &next);
        if (*err != 0)
            return NULL;
        segs_push(log, next);
        return block_new(log, next, need);
    }
    struct tblock *b = log->btail;
    if (b != NULL && b->seg == seg && b->buf->cap - b->used >= need)
        return b;
    return block_new(log, seg, need);
}

/* Formats record r at position pos into the tail. alock + ilock held. Returns 0 or -errno. */
static int place(struct shardlog *log, const struct record_in *r, uint64_t pos, int64_t ms)
{
    size_t need = SEGMENT_HDR_SIZE + record_wire_max(r);
    int err = 0;
    struct tblock *b = block_for(log, need, &err);
    if (b == NULL)
        return err;
    uint8_t *at = b->buf->data + b->used;
    char seq[SEQNUM_BUF];
    shardlog_seqnum(log, pos, ms, seq);
    size_t wl = record_format((char *)at + SEGMENT_HDR_SIZE, seq, ms, r);
    struct segment_rec h = {
        .wire_len = (uint32_t)wl,
        .wire_crc = crc32_update(0, at + SEGMENT_HDR_SIZE, wl),
        .counter = pos,
        .arrival_ms = ms,
        .data_len = (uint32_t)base64_decoded_len(r->data_b64, r->data_b64_len),
        .pkey_len = (uint16_t)r->pkey_len,
    };
    segment_encode_hdr(at, &h);
    size_t total = SEGMENT_HDR_SIZE + wl;
    segment_note_record(b->seg, pos, b->file_off + b->used, ms, total);
    b->used += total;
    b->end_pos = pos + 1;
    b->buf->len = b->used;
    log->appended_bytes += total;
    return 0;
}

static void on_append_delivered(struct sio_op *op, int64_t res)
{
    struct append_req *q = op->arg;
    q->cb(q->arg, (int)res, q->first, q->n, q->arrival_ms);
    free(q);
}

/* Posts every queued ack whose records are at or below the ack watermark. alock held. */
static void acks_release(struct shardlog *log, int err)
{
    uint64_t upto = log->cfg.durability == SHARDLOG_SYNC_ALWAYS ? atomic_load(&log->durable)
                                                                : atomic_load(&log->written);
    while (log->ack_head != NULL && (err != 0 || log->ack_head->first + log->ack_head->n <= upto)) {
        struct append_req *q = log->ack_head;
        log->ack_head = q->next;
        if (log->ack_head == NULL)
            log->ack_tail = &log->ack_head;
        sio_post(q->sio, &q->op, err);
    }
}

static void watchers_notify(struct shardlog *log, bool sealed)
{
    pthread_mutex_lock(&log->wlock);
    uint64_t end = atomic_load_explicit(&log->end, memory_order_acquire);
    for (unsigned i = 0; i < log->nwatches_hint; i++)
        if (log->watches[i].cb != NULL)
            log->watches[i].cb(log->watches[i].arg, end, sealed);
    pthread_mutex_unlock(&log->wlock);
}

static int append_check(struct shardlog *log, const struct record_in *recs, uint32_t n)
{
    if (log->sealed)
        return -EPIPE;
    if (log->failed != 0)
        return -EIO;
    uint64_t need = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t m = record_wire_max(&recs[i]);
        if (m > SEGMENT_WIRE_MAX)
            return -EMSGSIZE;
        need += SEGMENT_HDR_SIZE + m;
    }
    /* A batch into an empty tail is always admitted, so any batch makes progress; the tail then
     * holds at most tail_bytes_max plus one batch. */
    uint64_t unwritten = log->appended_bytes - log->written_bytes;
    if (unwritten > 0 && unwritten + need > log->cfg.tail_bytes_max)
        return -ENOBUFS;
    return 0;
}

int shardlog_append(struct shardlog *log, struct sio *sio, const struct record_in *recs, uint32_t n,
                    shardlog_append_cb cb, void *arg)
{
    ASSERT(n >= 1 && n <= 500 && cb != NULL && sio != NULL);
    pthread_mutex_lock(&log->alock);
    int rc = append_check(log, recs, n);
    if (rc != 0) {
        pthread_mutex_unlock(&log->alock);
        return rc;
    }
    int64_t ms = SC_MAX(clock_now_ms(), log->last_ms);
    uint64_t first = atomic_load(&log->end);
    pthread_mutex_lock(&log->ilock);
    struct tblock *touched = log->btail;
    uint32_t placed = 0;
    for (; placed < n && rc == 0; placed++)
        rc = place(log, &recs[placed], first + placed, ms);
    if (rc != 0)
        placed--; /* the failed one was not placed */
    for (struct tblock *b = touched ? touched : log->bhead; b != NULL; b = b->next)
        atomic_store_explicit(&b->pub_bytes, b->used, memory_order_release);
    pthread_mutex_unlock(&log->ilock);
    if (placed == 0) {
        pthread_mutex_unlock(&log->alock);
        return rc;
    }
    log->last_ms = ms;
    atomic_store(&log->last_arrival, ms);
    atomic_store_explicit(&log->end, first + placed, memory_order_release);
    struct append_req *q = sc_malloc(sizeof(*q));
    *q = (struct append_req){.first = first, .n = placed, .arrival_ms = ms, .cb = cb, .arg = arg,
                             .sio = sio};
    q->op.cb = on_append_delivered;
    q->op.arg = q;
    *log->ack_tail = q;
    log->ack_tail = &q->next;
    if (rc != 0)
        LOG_ERROR("shard log %s: segment roll failed (%s); acked %u of %u records", log->dir,
                  strerror(-rc), placed, n);
    watermarks_check(log);
    pthread_mutex_unlock(&log->alock);
    watchers_notify(log, false);
    if (!atomic_exchange(&log->writer_busy, true)) {
        pthread_mutex_lock(&log->alock);
        log->wsio = sio;
        pthread_mutex_unlock(&log->alock);
        writer_next(log);
    }
    return 0;
}

void shardlog_seqnum(const struct shardlog *log, uint64_t position, int64_t arrival_ms,
                     char out[SEQNUM_BUF])
{
    struct seqnum_fields f = {log->cfg.shard_secs, log->cfg.shard_index, position,
                              (uint64_t)arrival_ms / 1000};
    seqnum_encode(out, &f);
}

/* ---------------------------------------------------------------- writer */

/* Drops written blocks beyond the memory bound, oldest first. alock + ilock held. */
static void blocks_trim(struct shardlog *log)
{
    while (log->bhead != NULL && log->bhead != log->btail && log->bhead != log->wcur &&
           log->block_bytes_total > log->cfg.tail_bytes_max) {
        struct tblock *b = log->bhead;
        ASSERT(b->written == b->used);
        log->bhead = b->next;
        log->bhead->prev = NULL;
        log->block_bytes_total -= b->buf->cap;
        refbuf_decref(b->buf);
        segment_decref(b->seg);
        free(b);
    }
}

static void on_writer_op(struct sio_op *op, int64_t res);

static void submit_sync(struct shardlog *log)
{
    log->s_target = atomic_load(&log->written);
    atomic_store(&log->sync_wanted, false);
    log->wop = (struct sio_op){.kind = SIO_FDATASYNC, .fd = log->wseg->fd, .cb = on_writer_op,
                               .arg = log};
}

/* A new segment's directory entries, synced one by one before the first write into it (so
 * before any of its records is acknowledged); segment_create left them to the writer, off the
 * append path. */
static void submit_dir_sync(struct shardlog *log, struct segment *seg)
{
    segment_incref(seg);
    log->wdseg = seg;
    log->wop = (struct sio_op){.kind = SIO_FSYNC, .fd = segment_dir_unsynced(seg),
                               .cb = on_writer_op, .arg = log};
}

static void submit_write(struct shardlog *log, struct tblock *b)
{
    if (log->wseg != b->seg) {
        segment_incref(b->seg);
        segment_decref(log->wseg);
        log->wseg = b->seg;
    }
    log->w_target_bytes = b->used;
    log->w_target_end = b->end_pos;
    log->wop = (struct sio_op){.kind = SIO_WRITE, .fd = b->seg->fd, .buf = b->buf->data + b->written,
                               .len = b->used - b->written,
                               .off = (off_t)(b->file_off + b->written), .cb = on_writer_op,
                               .arg = log};
}

/* Picks the writer's next op: a sync when one is due, else the next unwritten bytes, else gives up
 * the writer role. Called by the role holder only. */
static void writer_next(struct shardlog *log)
{
    pthread_mutex_lock(&log->alock);
    struct tblock *b = log->wcur;
    while (b != NULL && b->written == b->used && b->next != NULL)
        b = b->next;
    log->wcur = b;
    bool pending = b != NULL && b->written < b->used && log->failed == 0;
    bool unsynced = log->wseg != NULL && atomic_load(&log->durable) < atomic_load(&log->written);
    bool want_sync = unsynced && log->cfg.durability != SHARDLOG_SYNC_NEVER &&
                     (log->cfg.durability == SHARDLOG_SYNC_ALWAYS ||
                      atomic_load(&log->sync_wanted) || (pending && b->seg != log->wseg));
    if (log->failed == 0 && want_sync) {
        submit_sync(log);
    } else if (pending && segment_dir_unsynced(b->seg) >= 0) {
        submit_dir_sync(log, b->seg);
    } else if (pending) {
        submit_write(log, b);
    } else {
        atomic_store(&log->writer_busy, false);
        pthread_mutex_unlock(&log->alock);
        return;
    }
    struct sio *sio = log->wsio;
    pthread_mutex_unlock(&log->alock);
    sio_submit(sio, &log->wop);
}

/* Write or sync completion, on the writer's thread. */
static void on_writer_op(struct sio_op *op, int64_t res)
{
    struct shardlog *log = op->arg;
    pthread_mutex_lock(&log->alock);
    if (op->kind == SIO_FSYNC) {
        if (res == 0)
            segment_dir_synced(log->wdseg);
        segment_decref(log->wdseg);
        log->wdseg = NULL;
    }
    if (res < 0) {
        LOG_ERROR("shard log %s: %s failed: %s; the log refuses further appends", log->dir,
                  op->kind == SIO_WRITE    ? "write"
                  : op->kind == SIO_FSYNC ? "fsync of the directory"
                                          : "fdatasync",
                  strerror((int)-res));
        log->failed = (int)res;
        acks_release(log, (int)res);
    } else if (op->kind == SIO_WRITE) {
        struct tblock *b = log->wcur;
        log->written_bytes += log->w_target_bytes - b->written;
        b->written = log->w_target_bytes;
        atomic_store(&b->seg->written, b->file_off + b->written);
        atomic_store(&log->written, log->w_target_end);
        if (log->cfg.durability == SHARDLOG_SYNC_INTERVAL &&
            clock_mono_ns() - log->last_sync_ns >= (uint64_t)log->cfg.sync_interval_ms * 1000000u)
            atomic_store(&log->sync_wanted, true);
        acks_release(log, 0);
        pthread_mutex_lock(&log->ilock);
        blocks_trim(log);
        pthread_mutex_unlock(&log->ilock);
    } else if (op->kind == SIO_FDATASYNC) {
        atomic_store(&log->durable, log->s_target);
        log->last_sync_ns = clock_mono_ns();
        acks_release(log, 0);
    }
    watermarks_check(log);
    pthread_mutex_unlock(&log->alock);
    writer_next(log);
}

int shardlog_tick(struct shardlog *log, struct sio *sio)
{
    if (log->cfg.durability == SHARDLOG_SYNC_NEVER ||
        atomic_load(&log->durable) >= atomic_load(&log->written))
        return 0;
    atomic_store(&log->sync_wanted, true);
    if (atomic_exchange(&log->writer_busy, true))
        return 0; /* the writer will sync after its current op */
    pthread_mutex_lock(&log->alock);
    log->wsio = sio;
    pthread_mutex_unlock(&log->alock);
    writer_next(log);
    return 1;
}

/* ---------------------------------------------------------------- read */

struct read_op {
    struct sio_op op;
    struct shardlog *log;
    struct sio *sio;
    struct shardlog_read_req q;
    shardlog_read_cb cb;
    shardlog_seek_cb seek_cb;
    void *arg;
    struct shardlog_batch *batch;
    size_t bytes;
    uint32_t slices_cap;
    /* disk state */
    struct segment *seg; /* ref while a disk read is in flight */
    uint64_t off, pos;   /* where the next disk parse starts (a record boundary) */
    size_t need;         /* bytes the record at off needs (0 = unknown) */
    bool hint;           /* seg/off/pos are valid: continue there instead of the index */
    struct refbuf *buf;
    uint64_t buf_off;
};

static void read_step(struct read_op *r);

static bool batch_full(const struct read_op *r)
{
    return r->batch->count >= r->q.max_records || r->bytes >= r->q.max_bytes;
}

/* Adds one record to the batch when it qualifies; returns false when the batch is full. */
static bool collect(struct read_op *r, const uint8_t *p, const struct segment_rec *h,
                    unsigned blk)
{
    if (h->counter < r->q.from_position || h->arrival_ms < r->q.min_arrival_ms) {
        r->q.from_position = SC_MAX(r->q.from_position, h->counter + 1);
        r->batch->next_position = r->q.from_position;
        return true;
    }
    if (batch_full(r))
        return false;
    struct shardlog_batch *bt = r->batch;
    if (bt->count == r->slices_cap) {
        r->slices_cap = r->slices_cap ? r->slices_cap * 2 : 32;
        bt->slices = sc_realloc(bt->slices, r->slices_cap * sizeof(*bt->slices));
    }
    bt->slices[bt->count++] = (struct shardlog_slice){p + SEGMENT_HDR_SIZE, h->wire_len,
                                                      h->wire_crc, h->counter, h->arrival_ms,
                                                      h->data_len, h->pkey_len};
    (void)blk;
    r->bytes += h->wire_len;
    bt->next_position = h->counter + 1;
    r->q.from_position = h->counter + 1;
    return true;
}

static void batch_hold(struct shardlog_batch *bt, struct refbuf *buf)
{
    if (bt->nblocks > 0 && bt->blocks[bt->nblocks - 1] == buf)
        return;
    ASSERT(bt->nblocks < SHARDLOG_BATCH_BLOCKS);
    refbuf_incref(buf);
    bt->blocks[bt->nblocks++] = buf;
}

/* Serves the read from tail blocks starting at b. ilock held. */
static void read_memory(struct read_op *r, struct tblock *b)
{
    for (; b != NULL && !batch_full(r); b = b->next) {
        if (r->batch->nblocks == SHARDLOG_BATCH_BLOCKS)
            break;
        size_t pub = atomic_load_explicit(&b->pub_bytes, memory_order_acquire);
        size_t at = 0;
        uint64_t pos = b->first_pos;
        uint32_t before = r->batch->count;
        while (at < pub) {
            uint32_t wl;
            memcpy(&wl, b->buf->data + at + 8, sizeof(wl)); /* our own bytes: skip cheaply */
            if (pos < r->q.from_position) {
                at += SEGMENT_HDR_SIZE + wl;
                pos++;
                continue;
            }
            struct segment_rec h;
            int64_t n = segment_decode(b->buf->data + at, pub - at, false, &h, NULL);
            ASSERT(n > 0 && h.counter == pos);
            if (!collect(r, b->buf->data + at, &h, r->batch->nblocks))
                break;
            at += (size_t)n;
            pos++;
        }
        if (r->batch->count > before)
            batch_hold(r->batch, b->buf);
    }
}

static void on_read_delivered(struct sio_op *op, int64_t res)
{
    struct read_op *r = op->arg;
    if (r->seek_cb != NULL) {
        uint64_t pos = res == 0 ? (r->batch->count ? r->batch->slices[0].position
                                                   : r->batch->next_position)
                                : 0;
        r->seek_cb(r->arg, (int)res, pos);
        shardlog_batch_free(r->batch);
    } else {
        r->cb(r->arg, (int)res, res == 0 ? r->batch : NULL);
        if (res != 0)
            shardlog_batch_free(r->batch);
    }
    free(r);
}

static void batch_finish(struct read_op *r)
{
    struct shardlog *log = r->log;
    struct shardlog_batch *bt = r->batch;
    if (bt->count == 0)
        bt->next_position = r->q.from_position;
    bt->end_position = atomic_load(&log->end);
    bt->last_arrival_ms = atomic_load(&log->last_arrival);
    bt->sealed_end = atomic_load(&log->sealed_flag) && bt->next_position >= bt->end_position;
}

static void read_finish(struct read_op *r, int err)
{
    batch_finish(r);
    if (r->buf != NULL)
        refbuf_decref(r->buf);
    r->buf = NULL;
    r->op.cb = on_read_delivered;
    r->op.arg = r;
    sio_post(r->sio, &r->op, err);
}

enum parse_result { PARSE_DONE, PARSE_MORE };

/* Parses disk bytes buf (file offset buf_off) from r->off/r->pos. Returns PARSE_DONE when the
 * batch is ready, PARSE_MORE with r->off/pos/need/hint set to continue, or -EBADMSG. */
static int parse_disk(struct read_op *r, struct segment *seg, struct refbuf *buf, uint64_t buf_off)
{
    size_t at = (size_t)(r->off - buf_off);
    uint64_t pos = r->pos;
    size_t need = 0;
    bool full = false;
    while (at < buf->len) {
        struct segment_rec h;
        int64_t n = segment_decode(buf->data + at, buf->len - at, true, &h, &need);
        if (n < 0 || (n > 0 && h.counter != pos)) {
            LOG_ERROR("shard log %s: corrupt record at %s offset %llu", r->log->dir, seg->path,
                      (unsigned long long)(buf_off + at));
            return -EBADMSG;
        }
        if (n == 0)
            break;
        if (!collect(r, buf->data + at, &h, r->batch->nblocks)) {
            full = true;
            break;
        }
        need = 0;
        at += (size_t)n;
        pos++;
    }
    if (r->batch->count > 0) {
        batch_hold(r->batch, buf);
        return PARSE_DONE;
    }
    if (full)
        return PARSE_DONE;
    r->q.from_position = SC_MAX(r->q.from_position, pos);
    r->off = buf_off + at;
    r->pos = pos;
    r->need = need;
    r->hint = r->off < atomic_load(&seg->written);
    return PARSE_MORE;
}

static struct refbuf *cache_find(struct shardlog *log, struct segment *seg, uint64_t off,
                                 size_t need, uint64_t *buf_off)
{
    need = SC_MAX(need, (size_t)SEGMENT_HDR_SIZE);
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        struct cache_slot *c = &log->cache[i];
        if (c->seg == seg && c->off <= off && off + need <= c->off + c->buf->len) {
            c->tick = ++log->cache_tick;
            refbuf_incref(c->buf);
            *buf_off = c->off;
            return c->buf;
        }
    }
    return NULL;
}

static void cache_put(struct shardlog *log, struct segment *seg, uint64_t off, struct refbuf *buf)
{
    struct cache_slot *victim = &log->cache[0];
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        if (log->cache[i].buf == NULL) {
            victim = &log->cache[i];
            break;
        }
        if (log->cache[i].tick < victim->tick)
            victim = &log->cache[i];
    }
    refbuf_decref(victim->buf);
    refbuf_incref(buf);
    *victim = (struct cache_slot){seg, off, buf, ++log->cache_tick};
}

static void on_disk_read(struct sio_op *op, int64_t res)
{
    struct read_op *r = op->arg;
    struct segment *seg = r->seg;
    r->seg = NULL;
    if (res < 0) {
        segment_decref(seg);
        read_finish(r, (int)res);
        return;
    }
    r->buf->len = (size_t)res;
    pthread_mutex_lock(&r->log->ilock);
    cache_put(r->log, seg, r->buf_off, r->buf);
    pthread_mutex_unlock(&r->log->ilock);
    int rc = parse_disk(r, seg, r->buf, r->buf_off);
    segment_decref(seg);
    refbuf_decref(r->buf);
    r->buf = NULL;
    if (rc == PARSE_MORE)
        read_step(r);
    else
        read_finish(r, rc < 0 ? rc : 0);
}

/* Moves from_position to the index point before the first record that arrived at or after
 * min_arrival_ms (arrival never decreases along a shard). ilock held. */
static void time_jump(struct shardlog *log, struct read_op *r)
{
    for (size_t i = 0; i < log->nsegs; i++) {
        struct segment *seg = log->segs[i];
        if (seg->end <= r->q.from_position || seg->end == seg->base)
            continue;
        if (seg->last_ms >= r->q.min_arrival_ms) {
            const struct segment_index_entry *e = segment_index_time(seg, r->q.min_arrival_ms);
            r->q.from_position = SC_MAX(r->q.from_position, e->position);
            return;
        }
    }
    r->q.from_position = SC_MAX(r->q.from_position, atomic_load(&log->end));
}

/* The tail block holding pos, or NULL when pos is older than the tail. Searched from the
 * newest end: tail readers want the last block or the one before, and the list can hold
 * tail_bytes_max / block_bytes blocks (128 by default) — walking it from the oldest was 7% of
 * the server's CPU at 100 pipes. ilock held. */
static struct tblock *tail_block_at(struct shardlog *log, uint64_t pos)
{
    if (log->bhead == NULL || pos < log->bhead->first_pos)
        return NULL;
    struct tblock *b = log->btail;
    while (b->first_pos > pos)
        b = b->prev;
    return b;
}

static struct segment *seg_find(struct shardlog *log, uint64_t pos)
{
    size_t lo = 0, hi = log->nsegs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return log->nsegs ? log->segs[lo] : NULL;
}

/* Starts a disk read of one block at r->off. ilock held on entry, released here. */
static void read_submit_disk(struct read_op *r, struct segment *seg)
{
    struct shardlog *log = r->log;
    uint64_t written = atomic_load(&seg->written);
    ASSERT(r->off < written);
    size_t len = (size_t)SC_MIN((uint64_t)SC_MAX(log->cfg.block_bytes, r->need), written - r->off);
    segment_incref(seg);
    r->seg = seg;
    r->buf = refbuf_create(len);
    r->buf_off = r->off;
    r->op = (struct sio_op){.kind = SIO_READ, .fd = seg->fd, .buf = r->buf->data, .len = len,
                            .off = (off_t)r->off, .cb = on_disk_read, .arg = r};
    pthread_mutex_unlock(&log->ilock);
    sio_submit(r->sio, &r->op);
}

/* One locate pass. Returns 1 when the read finished or a disk read was submitted, 0 to loop. */
static int read_locate(struct read_op *r)
{
    struct shardlog *log = r->log;
    pthread_mutex_lock(&log->ilock);
    uint64_t trim = atomic_load(&log->trim), end = atomic_load_explicit(&log->end,
                                                                         memory_order_acquire);
    if (r->q.from_position < trim) {
        r->q.from_position = trim;
        r->hint = false;
    }
    if (r->q.min_arrival_ms > 0 && !r->hint && r->q.from_position < end)
        time_jump(log, r);
    if (r->q.from_position >= end) {
        pthread_mutex_unlock(&log->ilock);
        read_finish(r, 0);
        return 1;
    }
    struct tblock *b = tail_block_at(log, r->q.from_position);
    if (b != NULL) {
        read_memory(r, b);
        pthread_mutex_unlock(&log->ilock);
        if (r->batch->count == 0 && r->q.from_position < end)
            return 0; /* everything looked at was skipped by time */
        read_finish(r, 0);
        return 1;
    }
    struct segment *seg = seg_find(log, r->q.from_position);
    ASSERT(seg != NULL);
    if (r->q.from_position >= seg->end) { /* a gap left by a corrupt older segment */
        size_t i = 0;
        while (log->segs[i] != seg)
            i++;
        ASSERT(i + 1 < log->nsegs);
        r->q.from_position = log->segs[i + 1]->base;
        r->hint = false;
        pthread_mutex_unlock(&log->ilock);
        return 0;
    }
    if (!r->hint || r->pos < seg->base || r->pos >= seg->end || r->q.from_position < r->pos) {
        const struct segment_index_entry *e = segment_index_floor(seg, r->q.from_position);
        r->off = e->offset;
        r->pos = e->position;
        r->need = 0;
    }
    r->hint = false;
    uint64_t buf_off;
    struct refbuf *buf = cache_find(log, seg, r->off, r->need, &buf_off);
    if (buf != NULL) {
        segment_incref(seg);
        pthread_mutex_unlock(&log->ilock);
        int rc = parse_disk(r, seg, buf, buf_off);
        segment_decref(seg);
        refbuf_decref(buf);
        if (rc == PARSE_MORE)
            return 0;
        read_finish(r, rc < 0 ? rc : 0);
        return 1;
    }
    read_submit_disk(r, seg);
    return 1;
}

static void read_step(struct read_op *r)
{
    /* Each pass moves forward through the log, so the count is bounded by its size; the cap only
     * turns a bug into an error instead of a hang. */
    for (unsigned pass = 0; pass < (1u << 24); pass++)
        if (read_locate(r))
            return;
    read_finish(r, -ELOOP);
}

static struct read_op *read_op_new(struct shardlog *log, struct sio *sio,
                                   const struct shardlog_read_req *req, void *arg)
{
    ASSERT(req->max_records >= 1 && req->max_bytes >= 1);
    struct read_op *r = sc_calloc(1, sizeof(*r));
    r->log = log;
    r->sio = sio;
    r->q = *req;
    r->arg = arg;
    r->batch = sc_calloc(1, sizeof(*r->batch));
    r->batch->next_position = req->from_position;
    return r;
}

int shardlog_read(struct shardlog *log, struct sio *sio, const struct shardlog_read_req *req,
                  shardlog_read_cb cb, void *arg)
{
    struct read_op *r = read_op_new(log, sio, req, arg);
    r->cb = cb;
    read_step(r);
    return 0;
}

int shardlog_read_now(struct shardlog *log, const struct shardlog_read_req *req,
                      struct shardlog_batch **out)
{
    ASSERT(req->min_arrival_ms == 0);
    struct read_op *r = read_op_new(log, NULL, req, NULL);
    pthread_mutex_lock(&log->ilock);
    uint64_t trim = atomic_load(&log->trim), end = atomic_load_explicit(&log->end,
                                                                         memory_order_acquire);
    bool served = false;
    struct tblock *b;
    if (r->q.from_position >= trim) {
        if (r->q.from_position >= end) {
            served = true;
        } else if ((b = tail_block_at(log, r->q.from_position)) != NULL) {
            read_memory(r, b);
            served = r->batch->count > 0;
        }
    }
    pthread_mutex_unlock(&log->ilock);
    if (served) {
        batch_finish(r);
        *out = r->batch;
    } else {
        shardlog_batch_free(r->batch);
    }
    free(r);
    return served ? 1 : 0;
}

int shardlog_seek_time(struct shardlog *log, struct sio *sio, int64_t t_ms, shardlog_seek_cb cb,
                       void *arg)
{
    struct shardlog_read_req req = {0, SC_MAX(t_ms, (int64_t)1), 1, 1};
    struct read_op *r = read_op_new(log, sio, &req, arg);
    r->seek_cb = cb;
    read_step(r);
    return 0;
}

void shardlog_batch_free(struct shardlog_batch *batch)
{
    if (batch == NULL)
        return;
    for (unsigned i = 0; i < batch->nblocks; i++)
        refbuf_decref(batch->blocks[i]);
    free(batch->slices);
    free(batch);
}

/* ---------------------------------------------------------------- state, watch, seal, retention */

uint64_t shardlog_end(const struct shardlog *log)
{
    return atomic_load_explicit(&log->end, memory_order_acquire);
}

uint64_t shardlog_trim_horizon(const struct shardlog *log)
{
    return atomic_load(&log->trim);
}

int64_t shardlog_last_arrival_ms(const struct shardlog *log)
{
    return atomic_load(&log->last_arrival);
}

uint64_t shardlog_written(const struct shardlog *log)
{
    return atomic_load(&log->written);
}

uint64_t shardlog_durable(const struct shardlog *log)
{
    return atomic_load(&log->durable);
}

bool shardlog_is_sealed(const struct shardlog *log)
{
    return atomic_load(&log->sealed_flag);
}

bool shardlog_idle(const struct shardlog *log)
{
    /* The lock is logically not part of the log's value: a const query may take it. */
    pthread_mutex_t *alock = (pthread_mutex_t *)&log->alock;
    pthread_mutex_lock(alock);
    bool idle = !atomic_load(&log->writer_busy) && log->ack_head == NULL;
    pthread_mutex_unlock(alock);
    return idle;
}

int shardlog_watch_add(struct shardlog *log, shardlog_watch_cb cb, void *arg, uint64_t *end_now)
{
    ASSERT(cb != NULL);
    pthread_mutex_lock(&log->wlock);
    int handle = -ENOSPC;
    for (unsigned i = 0; i < SHARDLOG_WATCHES_MAX; i++) {
        if (log->watches[i].cb == NULL) {
            log->watches[i] = (struct watch){cb, arg};
            log->nwatches_hint = SC_MAX(log->nwatches_hint, i + 1);
            handle = (int)i;
            break;
        }
    }
    *end_now = atomic_load(&log->end);
    pthread_mutex_unlock(&log->wlock);
    return handle;
}

void shardlog_watch_remove(struct shardlog *log, int handle)
{
    ASSERT(handle >= 0 && handle < SHARDLOG_WATCHES_MAX);
    pthread_mutex_lock(&log->wlock);
    ASSERT(log->watches[handle].cb != NULL);
    log->watches[handle] = (struct watch){NULL, NULL};
    while (log->nwatches_hint > 0 && log->watches[log->nwatches_hint - 1].cb == NULL)
        log->nwatches_hint--;
    pthread_mutex_unlock(&log->wlock);
}

int shardlog_seal(struct shardlog *log, uint64_t *ending_position)
{
    pthread_mutex_lock(&log->alock);
    bool was = log->sealed;
    log->sealed = true;
    atomic_store(&log->sealed_flag, true);
    *ending_position = atomic_load(&log->end);
    pthread_mutex_unlock(&log->alock);
    if (!was)
        watchers_notify(log, true);
    return 0;
}

/* Drops segs[0] from the list (ilock held); returns it for the caller to unlink and decref. */
static struct segment *segs_pop_front(struct shardlog *log)
{
    struct segment *seg = log->segs[0];
    memmove(log->segs, log->segs + 1, (log->nsegs - 1) * sizeof(*log->segs));
    log->nsegs--;
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        if (log->cache[i].seg == seg) {
            refbuf_decref(log->cache[i].buf);
            log->cache[i] = (struct cache_slot){0};
        }
    atomic_store(&log->trim, log->nsegs ? log->segs[0]->base : atomic_load(&log->end));
    return seg;
}

/* Saves the index sidecar of every finished segment that lacks one (a few per call, so one timer
 * tick stays short). Their index no longer changes: only the last segment takes records. */
static void save_indexes(struct shardlog *log)
{
    struct segment *todo[4];
    unsigned n = 0;
    pthread_mutex_lock(&log->ilock);
    for (size_t i = 0; i + 1 < log->nsegs && n < SC_ARRAY_LEN(todo); i++) {
        struct segment *seg = log->segs[i];
        if (!seg->idx_saved && atomic_load(&seg->written) == seg->size) {
            segment_incref(seg);
            todo[n++] = seg;
        }
    }
    pthread_mutex_unlock(&log->ilock);
    for (unsigned i = 0; i < n; i++) {
        int rc = segment_save_index(todo[i]);
        if (rc != 0)
            LOG_WARN("shard log %s: saving the index of %s: %s", log->dir, todo[i]->path,
                     strerror(-rc));
        segment_decref(todo[i]);
    }
}

int shardlog_enforce_retention(struct shardlog *log, int64_t now_ms, int64_t retention_ms)
{
    int deleted = 0, rc = 0;
    int64_t cutoff = now_ms - retention_ms;
    pthread_mutex_lock(&log->alock);
    pthread_mutex_lock(&log->ilock);
    while (log->nsegs > (log->sealed ? 0u : 1u)) {
        struct segment *seg = log->segs[0];
        bool old = seg->end == seg->base || seg->last_ms < cutoff;
        if (!old || atomic_load(&seg->written) != seg->size)
            break;
        segs_pop_front(log);
        int urc = segment_unlink(seg);
        if (urc != 0 && rc == 0)
            rc = urc;
        LOG_INFO("shard log %s: retention removed %s (positions %llu..%llu)", log->dir, seg->path,
                 (unsigned long long)seg->base, (unsigned long long)seg->end);
        segment_decref(seg);
        deleted++;
    }
    pthread_mutex_unlock(&log->ilock);
    pthread_mutex_unlock(&log->alock);
    save_indexes(log);
    return rc != 0 ? rc : deleted;
}

/* Writes unwritten tail bytes synchronously (shutdown). alock held. */
static void flush_sync(struct shardlog *log)
{
    struct segment *last = NULL;
    for (struct tblock *b = log->wcur; b != NULL && log->failed == 0; b = b->next) {
        for (int dfd; b->written < b->used && (dfd = segment_dir_unsynced(b->seg)) >= 0;) {
            if (fsync(dfd) < 0)
                LOG_ERROR("shard log %s: directory fsync at close: %s", log->dir, strerror(errno));
            segment_dir_synced(b->seg);
        }
        while (b->written < b->used) {
            ssize_t n = pwrite(b->seg->fd, b->buf->data + b->written, b->used - b->written,
                               (off_t)(b->file_off + b->written));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                LOG_ERROR("shard log %s: write at close: %s", log->dir, strerror(errno));
                log->failed = -EIO;
                break;
            }
            b->written += (size_t)n;
        }
        if (last != NULL && last != b->seg)
            fdatasync(last->fd);
        last = b->seg;
    }
    if (last != NULL && fdatasync(last->fd) < 0)
        LOG_ERROR("shard log %s: fdatasync at close: %s", log->dir, strerror(errno));
}

void shardlog_close(struct shardlog *log)
{
    if (log == NULL)
        return;
    ASSERT(!atomic_load(&log->writer_busy));
    ASSERT(log->ack_head == NULL);
    pthread_mutex_lock(&log->alock);
    flush_sync(log);
    pthread_mutex_unlock(&log->alock);
    for (unsigned i = 0; i < SHARDLOG_WATCHES_MAX; i++)
        ASSERT(log->watches[i].cb == NULL);
    for (struct tblock *b = log->bhead, *next; b != NULL; b = next) {
        next = b->next;
        refbuf_decref(b->buf);
        segment_decref(b->seg);
        free(b);
    }
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        refbuf_decref(log->cache[i].buf);
    for (size_t i = 0; i < log->nsegs; i++)
        segment_decref(log->segs[i]);
    segment_decref(log->wseg);
    free(log->segs);
    pthread_mutex_destroy(&log->alock);
    pthread_mutex_destroy(&log->ilock);
    pthread_mutex_destroy(&log->wlock);
    free(log->dir);
    free(log);
}

void shardlog_check(struct shardlog *log)
{
    pthread_mutex_lock(&log->alock);
    pthread_mutex_lock(&log->ilock);
    watermarks_check(log);
    ASSERT(log->nsegs > 0 || log->sealed);
    for (size_t i = 0; i + 1 < log->nsegs; i++)
        ASSERT(log->segs[i]->end <= log->segs[i + 1]->base);
    size_t total = 0;
    uint64_t prev_end = 0;
    for (struct tblock *b = log->bhead; b != NULL; b = b->next) {
        ASSERT(b->written <= b->used && b->used <= b->buf->cap);
        ASSERT(b == log->bhead || b->first_pos == prev_end);
        ASSERT(b->prev == NULL ? b == log->bhead : b->prev->next == b);
        ASSERT(b->next != NULL || b == log->btail);
        ASSERT(atomic_load(&b->pub_bytes) == b->used);
        prev_end = b->end_pos;
        total += b->buf->cap;
    }
    ASSERT(total == log->block_bytes_total);
    if (log->btail != NULL)
        ASSERT(log->btail->end_pos == atomic_load(&log->end));
    pthread_mutex_unlock(&log->ilock);
    pthread_mutex_unlock(&log->alock);
}
