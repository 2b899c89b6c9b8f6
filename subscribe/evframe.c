#include "subscribe/evframe.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "common/common.h"
#include "common/crc32.h"
#include "common/refbuf.h"
#include "shards/record.h"
#include "subscribe/awscbor.h"

/* The three headers of every SubscribeToShardEvent: 26 + 34 + 31 bytes (§6.5: 91). */
#define EVENT_HEADERS_LEN 91u
#define CHILD_SHARDS_KEY ",\"ChildShards\":"
/* prelude + headers + `{"ContinuationSequenceNumber":"<seq>","MillisBehindLatest":<u64>,
 * "Records":[` with room to spare. */
#define HEAD_MAX (EVENTSTREAM_PRELUDE_LEN + EVENT_HEADERS_LEN + 96 + EVFRAME_SEQ_MAX)

/* Separators live in static storage: referenced by every frame, owned by none. */
static const uint8_t comma = ',';
/* A KMS record's end, in place of its stored closing brace (static: referenced, owned by none). */
static const uint8_t kms_end[] = RECORD_KMS_END;
#define KMS_END_LEN RECORD_KMS_END_LEN

/* Static parts pin nothing: no frame reference travels with their chains. */
static bool part_is_static(const uint8_t *ptr)
{
    return ptr == &comma || ptr == kms_end;
}

/* How much of a stored record is referenced: all of it, or all but the brace kms_end replaces. */
static size_t record_part_len(const struct evframe_event *ev, const struct evframe_record *r)
{
    return ev->kms ? r->len - 1 : r->len;
}

struct layout {
    uint8_t head[HEAD_MAX];
    size_t head_len;
    size_t records_len; /* record bytes + separators */
    size_t tail_len;    /* "]" [child shards] "}" + 4 CRC bytes */
    size_t total_len;
};

/* Fills everything but the message CRC. Returns 0 or EVENTSTREAM_ERR_TOO_LONG. */
static int layout_init(struct layout *l, const struct evframe_event *ev)
{
    const char *seq = ev->continuation_seq;
    if (seq != NULL) {
        size_t n = strlen(seq);
        ASSERT(n >= 1 && n <= EVFRAME_SEQ_MAX && strspn(seq, "0123456789") == n);
    }
    ASSERT(ev->n_records == 0 || ev->records != NULL);
    size_t rl = 0;
    for (size_t i = 0; i < ev->n_records; i++) {
        ASSERT(ev->records[i].len > 0 && ev->records[i].owner != NULL);
        rl += ev->records[i].len + (i > 0) + (ev->kms ? KMS_END_LEN - 1 : 0);
        if (rl > EVENTSTREAM_MAX_LEN)
            return EVENTSTREAM_ERR_TOO_LONG;
    }
    size_t child = ev->child_shards_json ? strlen(ev->child_shards_json) : 0;
    if (child > EVENTSTREAM_MAX_LEN)
        return EVENTSTREAM_ERR_TOO_LONG;
    l->records_len = rl;
    l->tail_len = 1 + (ev->child_shards_json ? sizeof(CHILD_SHARDS_KEY) - 1 + child : 0) + 1 + 4;

    uint8_t *p = l->head + EVENTSTREAM_PRELUDE_LEN;
    p += eventstream_put_string_header(p, ":message-type", "event");
    p += eventstream_put_string_header(p, ":event-type", "SubscribeToShardEvent");
    p += eventstream_put_string_header(p, ":content-type", "application/json");
    ASSERT((size_t)(p - l->head) == EVENTSTREAM_PRELUDE_LEN + EVENT_HEADERS_LEN);
    size_t room = sizeof(l->head) - (size_t)(p - l->head);
    int n = snprintf((char *)p, room, "{%s%s%s\"MillisBehindLatest\":%" PRIu64 ",\"Records\":[",
                     seq ? "\"ContinuationSequenceNumber\":\"" : "", seq ? seq : "",
                     seq ? "\"," : "", ev->millis_behind);
    ASSERT(n > 0 && (size_t)n < room);
    l->head_len = (size_t)(p - l->head) + (size_t)n;
    l->total_len = l->head_len + rl + l->tail_len;
    if (l->total_len > EVENTSTREAM_MAX_LEN)
        return EVENTSTREAM_ERR_TOO_LONG;
    eventstream_put_prelude(l->head, (uint32_t)l->total_len, EVENT_HEADERS_LEN);
    return 0;
}

/* Writes the payload suffix (tail_len - 4 bytes) to dst. */
static void put_tail(uint8_t *dst, const struct evframe_event *ev)
{
    uint8_t *p = dst;
    *p++ = ']';
    if (ev->child_shards_json) {
        memcpy(p, CHILD_SHARDS_KEY, sizeof(CHILD_SHARDS_KEY) - 1);
        p += sizeof(CHILD_SHARDS_KEY) - 1;
        size_t n = strlen(ev->child_shards_json);
        memcpy(p, ev->child_shards_json, n);
        p += n;
    }
    *p = '}';
}

/* The message CRC from the small parts and the stored record CRCs: crc32_concat extends a CRC
 * by a block known only by its CRC and length, without the block's bytes. */
static uint32_t message_crc(const struct layout *l, const struct evframe_event *ev,
                            const uint8_t *tail)
{
    uint32_t crc = crc32_update(0, l->head, l->head_len);
    for (size_t i = 0; i < ev->n_records; i++) {
        const struct evframe_record *r = &ev->records[i];
        if (i > 0)
            crc = crc32_update(crc, &comma, 1);
        if (ev->kms) {
            crc = crc32_concat(crc, crc32_unappend(r->wire_crc, '}'), r->len - 1);
            crc = crc32_update(crc, kms_end, KMS_END_LEN);
        } else {
            crc = crc32_concat(crc, r->wire_crc, r->len);
        }
    }
    return crc32_update(crc, tail, l->tail_len - 4);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t evframe_event_len(const struct evframe_event *ev)
{
    struct layout l;
    return layout_init(&l, ev) == 0 ? l.total_len : 0;
}

int evframe_add_event(struct evbuffer *out, const struct evframe_event *ev, size_t *total_len)
{
    struct layout l;
    int rc = layout_init(&l, ev);
    if (rc < 0)
        return rc;
    uint8_t small_tail[64];
    uint8_t *tail = l.tail_len <= sizeof(small_tail) ? small_tail : sc_malloc(l.tail_len);
    put_tail(tail, ev);
    put_u32(tail + l.tail_len - 4, message_crc(&l, ev, tail));
    rc = evbuffer_add(out, l.head, l.head_len) == 0 ? 0 : -ENOMEM;
    for (size_t i = 0; i < ev->n_records && rc == 0; i++) {
        const struct evframe_record *r = &ev->records[i];
        if (i > 0 && evbuffer_add_reference(out, &comma, 1, NULL, NULL) != 0) {
            rc = -ENOMEM;
            break;
        }
        refbuf_incref(r->owner);
        if (evbuffer_add_reference(out, r->ptr, record_part_len(ev, r), refbuf_evbuffer_cleanup,
                                   r->owner) != 0) {
            refbuf_decref(r->owner); /* libevent does not call cleanup on failure */
            rc = -ENOMEM;
        } else if (ev->kms && evbuffer_add_reference(out, kms_end, KMS_END_LEN, NULL, NULL) != 0) {
            rc = -ENOMEM;
        }
    }
    if (rc == 0 && evbuffer_add(out, tail, l.tail_len) != 0)
        rc = -ENOMEM;
    if (tail != small_tail)
        free(tail);
    if (rc == 0 && total_len)
        *total_len = l.total_len;
    return rc;
}

/* ---- shared frames ------------------------------------------------------------------------ */

struct evframe_part {
    const uint8_t *ptr;
    size_t len;
    size_t start; /* offset of ptr[0] in the message */
};

struct evframe {
    atomic_uint refs;
    uint32_t crc;
    size_t total_len;
    size_t n_parts;
    size_t n_owners;
    size_t n_held_parts; /* parts that pin the frame while queued (all but static ones) */
    struct evframe_part *parts;
    struct refbuf **owners; /* one reference each; consecutive duplicates collapsed */
    uint8_t *small;         /* head and tail bytes */
    /* The CBOR twin, built by the first evframe_cbor_twin() and kept with one reference until
     * this frame goes: a tail frame is shared by every worker's hub, so its twin is too. Set
     * once, under a twin lock; read without one. */
    _Atomic(struct evframe *) twin;
};

/* One allocation: the struct, then parts[], owners[], small bytes. */
static struct evframe *frame_alloc(size_t n_parts, size_t n_owners, size_t small_len)
{
    size_t sz = sizeof(struct evframe) + n_parts * sizeof(struct evframe_part) +
                n_owners * sizeof(struct refbuf *) + small_len;
    struct evframe *f = sc_malloc(sz);
    atomic_init(&f->refs, 1);
    f->parts = (struct evframe_part *)(f + 1);
    f->owners = (struct refbuf **)(f->parts + n_parts);
    f->small = (uint8_t *)(f->owners + n_owners);
    f->n_parts = 0;
    f->n_owners = 0;
    f->n_held_parts = 0;
    atomic_init(&f->twin, NULL);
    return f;
}

static void frame_add_part(struct evframe *f, const uint8_t *ptr, size_t len)
{
    size_t start = 0;
    if (f->n_parts > 0) {
        const struct evframe_part *prev = &f->parts[f->n_parts - 1];
        start = prev->start + prev->len;
    }
    f->parts[f->n_parts++] = (struct evframe_part){.ptr = ptr, .len = len, .start = start};
    if (!part_is_static(ptr))
        f->n_held_parts++;
}

int evframe_create_event(const struct evframe_event *ev, struct evframe **out)
{
    struct layout l;
    int rc = layout_init(&l, ev);
    if (rc < 0)
        return rc;
    size_t n = ev->n_records;
    size_t per_record = ev->kms ? 3 : 2; /* [comma,] record [, kms end] */
    struct evframe *f = frame_alloc(n > 0 ? per_record * n + 1 : 2, n, l.head_len + l.tail_len);
    memcpy(f->small, l.head, l.head_len);
    uint8_t *tail = f->small + l.head_len;
    put_tail(tail, ev);
    f->crc = message_crc(&l, ev, tail);
    put_u32(tail + l.tail_len - 4, f->crc);
    f->total_len = l.total_len;

    frame_add_part(f, f->small, l.head_len);
    for (size_t i = 0; i < n; i++) {
        const struct evframe_record *r = &ev->records[i];
        if (i > 0)
            frame_add_part(f, &comma, 1);
        frame_add_part(f, r->ptr, record_part_len(ev, r));
        if (ev->kms)
            frame_add_part(f, kms_end, KMS_END_LEN);
        /* Records of one batch mostly share a block: one reference per run is enough. */
        if (f->n_owners == 0 || f->owners[f->n_owners - 1] != r->owner) {
            refbuf_incref(r->owner);
            f->owners[f->n_owners++] = r->owner;
        }
    }
    frame_add_part(f, tail, l.tail_len);
    *out = f;
    return 0;
}

struct evframe *evframe_create_message(struct refbuf *msg)
{
    ASSERT(msg->len >= EVENTSTREAM_MIN_LEN);
    struct evframe *f = frame_alloc(1, 1, 0);
    refbuf_incref(msg);
    f->owners[f->n_owners++] = msg;
    frame_add_part(f, msg->data, msg->len);
    f->total_len = msg->len;
    const uint8_t *c = msg->data + msg->len - 4;
    f->crc = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
    return f;
}

struct evframe *evframe_create_initial_response(enum eventstream_codec codec)
{
    struct refbuf *msg;
    int rc = eventstream_encode_initial_response(codec, &msg);
    ASSERT(rc == 0);
    struct evframe *f = evframe_create_message(msg);
    refbuf_decref(msg);
    return f;
}

int evframe_create_exception(const char *exception_type, enum eventstream_codec codec,
                             const char *message, struct evframe **out)
{
    struct refbuf *msg;
    int rc = eventstream_encode_exception(exception_type, codec, message, &msg);
    if (rc < 0)
        return rc;
    *out = evframe_create_message(msg);
    refbuf_decref(msg);
    return 0;
}

int evframe_to_cbor(const struct evframe *f, struct evframe **out)
{
    size_t at = EVENTSTREAM_PRELUDE_LEN + EVENT_HEADERS_LEN;
    uint8_t prelude[8];
    evframe_copyout(f, 0, prelude, sizeof(prelude));
    ASSERT(prelude[4] == 0 && prelude[5] == 0 && prelude[6] == 0 &&
           prelude[7] == EVENT_HEADERS_LEN && f->total_len > at + 4); /* an event's frame */
    size_t len = f->total_len - at - 4;
    /* A shared tail frame is one flat part: transcode its payload where it lies. */
    char *copy = NULL;
    const char *json = (const char *)f->parts[0].ptr + at;
    if (f->n_parts > 1) {
        copy = sc_malloc(len);
        evframe_copyout(f, at, copy, len);
        json = copy;
    }
    uint8_t *cbor;
    size_t clen;
    int rc = awscbor_from_json(json, len, &cbor, &clen);
    free(copy);
    if (rc != 0)
        return rc;
    struct refbuf *msg;
    rc =
        eventstream_encode_event("SubscribeToShardEvent", EVENTSTREAM_CODEC_CBOR, cbor, clen, &msg);
    free(cbor);
    if (rc != 0)
        return rc;
    *out = evframe_create_message(msg);
    refbuf_decref(msg);
    return 0;
}

/* Twin builds are serialised per frame so that each frame is transcoded exactly once: the hubs
 * of every worker are woken by the same append and ask for the same frame at once, and a
 * lock-free publish let about 1.5% of frames be transcoded twice. Striped: frames hashing to
 * different stripes build in parallel. */
#define TWIN_LOCKS 64u
static pthread_mutex_t twin_locks[TWIN_LOCKS] = {[0 ... TWIN_LOCKS - 1] =
                                                     PTHREAD_MUTEX_INITIALIZER};

int evframe_cbor_twin(struct evframe *f, struct evframe **out)
{
    int built = 0;
    struct evframe *t = atomic_load_explicit(&f->twin, memory_order_acquire);
    if (t == NULL) {
        pthread_mutex_t *m = &twin_locks[((uintptr_t)f >> 6) % TWIN_LOCKS];
        pthread_mutex_lock(m);
        t = atomic_load_explicit(&f->twin, memory_order_acquire);
        if (t == NULL) {
            int rc = evframe_to_cbor(f, &t);
            if (rc != 0) {
                pthread_mutex_unlock(m);
                return rc;
            }
            atomic_store_explicit(&f->twin, t, memory_order_release);
            built = 1;
        }
        pthread_mutex_unlock(m);
    }
    evframe_incref(t);
    *out = t;
    return built;
}

void evframe_incref(struct evframe *f)
{
    unsigned prev = atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    ASSERT(prev > 0);
}

void evframe_decref(struct evframe *f)
{
    if (f == NULL)
        return;
    unsigned prev = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
    ASSERT(prev > 0);
    if (prev > 1)
        return;
    for (size_t i = 0; i < f->n_owners; i++)
        refbuf_decref(f->owners[i]);
    evframe_decref(atomic_load_explicit(&f->twin, memory_order_acquire));
    free(f);
}

static void on_chain_free(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    evframe_decref(arg);
}

int evframe_append(struct evframe *f, struct evbuffer *out)
{
    /* One atomic add for every chain that will pin the frame, not one per chain. */
    unsigned held = (unsigned)f->n_held_parts;
    unsigned prev = atomic_fetch_add_explicit(&f->refs, held, memory_order_relaxed);
    ASSERT(prev > 0);
    for (size_t i = 0; i < f->n_parts; i++) {
        const struct evframe_part *p = &f->parts[i];
        bool pinned = !part_is_static(p->ptr);
        int rc = evbuffer_add_reference(out, p->ptr, p->len, pinned ? on_chain_free : NULL,
                                        pinned ? f : NULL);
        if (rc != 0) {
            /* Chains not added will never call back: give their references back. The
             * caller's own reference keeps the frame alive, so this is never the last. */
            unsigned unused = 0;
            for (size_t j = i; j < f->n_parts; j++)
                unused += !part_is_static(f->parts[j].ptr);
            prev = atomic_fetch_sub_explicit(&f->refs, unused, memory_order_relaxed);
            ASSERT(prev > unused);
            return -ENOMEM;
        }
    }
    return 0;
}

size_t evframe_len(const struct evframe *f)
{
    return f->total_len;
}

uint32_t evframe_crc(const struct evframe *f)
{
    return f->crc;
}

size_t evframe_parts(const struct evframe *f)
{
    return f->n_parts;
}

/* Index of the part holding message byte `offset` (< total_len): binary search on starts. */
static size_t part_at(const struct evframe *f, size_t offset)
{
    size_t lo = 0, hi = f->n_parts;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->parts[mid].start <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

size_t evframe_peek(const struct evframe *f, size_t offset, size_t max_bytes, struct iovec *iov,
                    size_t max_iov)
{
    ASSERT(offset <= f->total_len);
    size_t n = 0;
    if (offset == f->total_len)
        return 0;
    for (size_t i = part_at(f, offset); i < f->n_parts && n < max_iov && max_bytes > 0; i++) {
        const struct evframe_part *p = &f->parts[i];
        size_t skip = offset > p->start ? offset - p->start : 0;
        size_t len = SC_MIN(p->len - skip, max_bytes);
        iov[n].iov_base = (void *)(uintptr_t)(p->ptr + skip); /* read-only to the writer */
        iov[n].iov_len = len;
        n++;
        max_bytes -= len;
    }
    return n;
}

void evframe_copyout(const struct evframe *f, size_t offset, void *dst, size_t len)
{
    ASSERT(offset <= f->total_len && len <= f->total_len - offset);
    uint8_t *out = dst;
    for (size_t i = len ? part_at(f, offset) : f->n_parts; i < f->n_parts && len > 0; i++) {
        const struct evframe_part *p = &f->parts[i];
        size_t skip = offset > p->start ? offset - p->start : 0;
        size_t n = SC_MIN(p->len - skip, len);
        memcpy(out, p->ptr + skip, n);
        out += n;
        len -= n;
    }
    ASSERT(len == 0);
}

void evframe_flatten(const struct evframe *f, uint8_t *dst)
{
    evframe_copyout(f, 0, dst, f->total_len);
}

int evframe_check(const struct evframe *f)
{
    uint8_t *buf = sc_malloc(f->total_len);
    evframe_flatten(f, buf);
    struct eventstream_message msg;
    int rc = eventstream_parse(buf, f->total_len, 0, &msg);
    if (rc == 0 && crc32_update(0, buf, f->total_len - 4) != f->crc)
        rc = EVENTSTREAM_ERR_MESSAGE_CRC;
    free(buf);
    return rc;
}
