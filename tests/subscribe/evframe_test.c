/* Unit tests for subscribe/evframe.c: SubscribeToShardEvent messages around stored records.
 * Every frame is decoded with our validating decoder and its payload compared with text built
 * by plain concatenation; the message CRC (combined from per-record CRCs) must equal a CRC over
 * the flattened bytes; shared frames must reach N evbuffers by reference only (evbuffer_peek
 * shows the record chains point into the original blocks) and every count returns to 1.
 *
 * `evframe_test --dump DIR` writes the frames botocore decodes in
 * tests/integration/eventstream_botocore_test.py (one message per <name>.bin). */
#include "subscribe/evframe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "common/common.h"
#include "common/crc32.h"
#include "common/refbuf.h"
#include "subscribe/awscbor.h"
#include "test.h"

#define SEQ "49590338271490256608559692538361571095921575989136588898"

/* A storage-like block: records with an 8-byte fake header before each, as shards/ lays them
 * out, so a frame that copied or mis-addressed bytes would show. */
struct block {
    struct refbuf *rb;
    struct evframe_record *recs;
    size_t n;
};

static void block_init(struct block *b, size_t n, const size_t *lens, const char *const *texts)
{
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += 8 + lens[i];
    b->rb = refbuf_create(cap);
    b->recs = sc_calloc(n ? n : 1, sizeof(*b->recs));
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        refbuf_append(b->rb, "HDR.....", 8);
        uint8_t *p = b->rb->data + b->rb->len;
        if (texts) {
            refbuf_append(b->rb, texts[i], lens[i]);
        } else {
            for (size_t j = 0; j < lens[i]; j++)
                p[j] = (uint8_t)('a' + (i + j) % 26);
            b->rb->len += lens[i];
        }
        b->recs[i] = (struct evframe_record){
            .ptr = p, .len = lens[i], .wire_crc = crc32_update(0, p, lens[i]), .owner = b->rb};
    }
}

static void block_dispose(struct block *b)
{
    CHECK_EQ_INT(atomic_load(&b->rb->refs), 1); /* every frame and chain let go */
    refbuf_decref(b->rb);
    free(b->recs);
}

/* The payload text by concatenation, the way a reader of §6.5 would write it. */
static char *expected_payload(const struct evframe_event *ev)
{
    size_t cap = 256 + (ev->child_shards_json ? strlen(ev->child_shards_json) : 0);
    for (size_t i = 0; i < ev->n_records; i++)
        cap += ev->records[i].len + 1 + 24;
    char *s = sc_malloc(cap), *p = s;
    if (ev->continuation_seq)
        p += sprintf(p, "{\"ContinuationSequenceNumber\":\"%s\",", ev->continuation_seq);
    else
        *p++ = '{';
    p += sprintf(p, "\"MillisBehindLatest\":%" PRIu64 ",\"Records\":[", ev->millis_behind);
    for (size_t i = 0; i < ev->n_records; i++) {
        if (i > 0)
            *p++ = ',';
        memcpy(p, ev->records[i].ptr, ev->records[i].len);
        p += ev->records[i].len;
        if (ev->kms) /* the stored object gets one more member */
            p += sprintf(p - 1, ",\"EncryptionType\":\"KMS\"}") - 1;
    }
    *p++ = ']';
    if (ev->child_shards_json)
        p += sprintf(p, ",\"ChildShards\":%s", ev->child_shards_json);
    *p++ = '}';
    *p = 0;
    return s;
}

static bool string_header_is(const struct eventstream_message *m, const char *name,
                             const char *value)
{
    struct eventstream_header h;
    return eventstream_message_header(m, name, &h) && h.type == EVENTSTREAM_STRING &&
           h.v.bytes.len == strlen(value) && memcmp(h.v.bytes.ptr, value, h.v.bytes.len) == 0;
}

/* Decodes exactly one message from `bytes` with the incremental decoder (fed in 1000-byte
 * slices, so large frames cross slice boundaries) and checks it carries `ev`. */
static void check_message(const uint8_t *bytes, size_t len, const struct evframe_event *ev)
{
    char *want = expected_payload(ev);
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 0);
    size_t off = 0;
    int msgs = 0;
    while (off < len) {
        struct eventstream_message m;
        size_t used;
        int rc = eventstream_decoder_next(&d, bytes + off, SC_MIN(len - off, 1000), &used, &m);
        CHECK(rc >= 0);
        if (rc < 0) {
            fprintf(stderr, "decode: %s\n", eventstream_strerror(rc));
            break;
        }
        off += used;
        if (rc == 1) {
            msgs++;
            CHECK_EQ_INT(m.header_count, 3);
            CHECK(string_header_is(&m, ":message-type", "event"));
            CHECK(string_header_is(&m, ":event-type", "SubscribeToShardEvent"));
            CHECK(string_header_is(&m, ":content-type", "application/json"));
            CHECK(m.payload_len == strlen(want) && memcmp(m.payload, want, m.payload_len) == 0);
        }
    }
    CHECK_EQ_INT(msgs, 1);
    CHECK(eventstream_decoder_idle(&d));
    eventstream_decoder_dispose(&d);
    free(want);
}

static uint8_t *evbuffer_flat(struct evbuffer *buf, size_t *len)
{
    *len = evbuffer_get_length(buf);
    uint8_t *p = sc_malloc(*len ? *len : 1);
    CHECK_EQ_INT(evbuffer_copyout(buf, p, *len), (ssize_t)*len);
    return p;
}

/* Both build paths for one event: direct into an evbuffer and a shared frame. */
static void check_event(const struct evframe_event *ev)
{
    size_t want_len = evframe_event_len(ev), total = 0;
    CHECK(want_len > 0);
    struct evbuffer *buf = evbuffer_new();
    CHECK_EQ_INT(evframe_add_event(buf, ev, &total), 0);
    CHECK_EQ_INT(total, want_len);
    size_t len;
    uint8_t *flat = evbuffer_flat(buf, &len);
    CHECK_EQ_INT(len, want_len);
    check_message(flat, len, ev);
    evbuffer_free(buf);

    struct evframe *f;
    CHECK_EQ_INT(evframe_create_event(ev, &f), 0);
    CHECK_EQ_INT(evframe_len(f), want_len);
    CHECK_EQ_INT(evframe_check(f), 0);
    uint8_t *flat2 = sc_malloc(want_len);
    evframe_flatten(f, flat2);
    CHECK(memcmp(flat, flat2, want_len) == 0);
    /* crc32_concat result == a straightforward CRC over the flattened bytes. */
    CHECK_EQ_INT(evframe_crc(f), crc32_update(0, flat2, want_len - 4));
    free(flat2);
    free(flat);
    evframe_decref(f);
}

static void test_golden(void)
{
    static const char rec[] =
        "{\"ApproximateArrivalTimestamp\":1700000000.123,\"Data\":"
        "\"aGVsbG8=\",\"PartitionKey\":\"pk1\",\"SequenceNumber\":\"" SEQ "\"}";
    size_t len = strlen(rec);
    const char *texts[] = {rec};
    struct block b;
    block_init(&b, 1, &len, texts);
    struct evframe_event ev = {.records = b.recs, .n_records = 1, .continuation_seq = SEQ};
    struct evframe *f;
    CHECK_EQ_INT(evframe_create_event(&ev, &f), 0);
    CHECK_EQ_INT(evframe_len(f), 393);
    CHECK_EQ_INT(evframe_crc(f), 0xac1b2909);
    uint8_t out[393];
    evframe_flatten(f, out);
    CHECK(out[8] == 0xee && out[9] == 0x31 && out[10] == 0x56 && out[11] == 0x53);
    evframe_decref(f);
    check_event(&ev);
    block_dispose(&b);
}

/* KMS records: the closing brace of each stored object becomes `,"EncryptionType":"KMS"}`, on
 * both build paths, with a correct message CRC, and shared frames still let every block go. */
static void test_kms_records(void)
{
    const char *texts[] = {"{}", "{\"Data\":\"QQ==\",\"PartitionKey\":\"k\"}",
                           "{\"SequenceNumber\":\"" SEQ "\",\"Data\":\"\"}"};
    size_t lens[3];
    for (size_t i = 0; i < 3; i++)
        lens[i] = strlen(texts[i]);
    for (size_t n = 1; n <= 3; n++) {
        struct block b;
        block_init(&b, n, lens, texts);
        struct evframe_event ev = {
            .records = b.recs, .n_records = n, .continuation_seq = SEQ, .kms = true};
        check_event(&ev);
        size_t plain_len = evframe_event_len(&(struct evframe_event){
            .records = b.recs, .n_records = n, .continuation_seq = SEQ});
        CHECK_EQ_INT(evframe_event_len(&ev), plain_len + 23 * n);
        struct evframe *f;
        CHECK_EQ_INT(evframe_create_event(&ev, &f), 0);
        struct evbuffer *outs[3];
        for (int k = 0; k < 3; k++) {
            outs[k] = evbuffer_new();
            CHECK_EQ_INT(evframe_append(f, outs[k]), 0);
        }
        evframe_decref(f);
        for (int k = 0; k < 3; k++)
            evbuffer_free(outs[k]);
        block_dispose(&b);
    }
    /* A large record. */
    size_t big = 300001;
    char *text = sc_malloc(big + 1);
    memset(text, 'x', big);
    text[0] = '{';
    text[big - 1] = '}';
    text[big] = 0;
    const char *bt[] = {text};
    struct block b;
    block_init(&b, 1, &big, bt);
    check_event(&(struct evframe_event){.records = b.recs, .n_records = 1, .continuation_seq = "7",
                                        .kms = true});
    block_dispose(&b);
    free(text);
}

static void test_counts_and_sizes(void)
{
    /* 0, 1, many records. */
    size_t lens[1000];
    for (size_t i = 0; i < 1000; i++)
        lens[i] = 20 + i % 300;
    size_t counts[] = {0, 1, 2, 7, 1000};
    for (size_t c = 0; c < SC_ARRAY_LEN(counts); c++) {
        struct block b;
        block_init(&b, counts[c], lens, NULL);
        struct evframe_event ev = {.records = b.recs,
                                   .n_records = counts[c],
                                   .continuation_seq = SEQ,
                                   .millis_behind = 1234567 * c};
        check_event(&ev);
        block_dispose(&b);
    }
    /* Record sizes 1 B .. 1 MiB, alone and together. */
    size_t sizes[] = {1, 2, 3, 15, 16, 17, 255, 4096, 65535, 65536, 300001, 1u << 20};
    for (size_t s = 0; s < SC_ARRAY_LEN(sizes); s++) {
        struct block b;
        block_init(&b, 1, &sizes[s], NULL);
        struct evframe_event ev = {.records = b.recs, .n_records = 1, .continuation_seq = "1"};
        check_event(&ev);
        block_dispose(&b);
    }
    struct block b;
    block_init(&b, SC_ARRAY_LEN(sizes), sizes, NULL);
    struct evframe_event ev = {
        .records = b.recs, .n_records = b.n, .continuation_seq = SEQ, .millis_behind = UINT64_MAX};
    check_event(&ev);
    block_dispose(&b);
}

static void test_heartbeat_and_child_shards(void)
{
    struct evframe_event hb = {.continuation_seq = SEQ, .millis_behind = 5};
    check_event(&hb);
    struct evframe *f;
    CHECK_EQ_INT(evframe_create_event(&hb, &f), 0);
    size_t len = evframe_len(f);
    uint8_t *flat = sc_malloc(len);
    evframe_flatten(f, flat);
    static const char want[] =
        "{\"ContinuationSequenceNumber\":\"" SEQ "\",\"MillisBehindLatest\":5,\"Records\":[]}";
    CHECK(len == 12 + 91 + strlen(want) + 4 && memcmp(flat + 103, want, strlen(want)) == 0);
    free(flat);
    evframe_decref(f);

    size_t lens[] = {40, 50};
    struct block b;
    block_init(&b, 2, lens, NULL);
    static const char child[] =
        "[{\"ShardId\":\"shardId-000000000001\",\"ParentShards\":[\"shardId-000000000000\"],"
        "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"1\"}}]";
    struct evframe_event last = {.records = b.recs, .n_records = 2, .child_shards_json = child};
    check_event(&last);
    struct evframe_event last_empty = {.child_shards_json = child};
    check_event(&last_empty);
    block_dispose(&b);
}

/* Sum of iovec bytes of `buf` that lie inside block `rb`, and whether each record appears as
 * its own chain at its original address. */
static size_t bytes_in_block(struct evbuffer *buf, const struct block *b, size_t *records_found)
{
    int n = evbuffer_peek(buf, -1, NULL, NULL, 0);
    struct evbuffer_iovec *v = sc_calloc((size_t)n, sizeof(*v));
    CHECK_EQ_INT(evbuffer_peek(buf, -1, NULL, v, n), n);
    size_t inside = 0, found = 0, ri = 0;
    const uint8_t *lo = b->rb->data, *hi = b->rb->data + b->rb->len;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = v[i].iov_base;
        if (p >= lo && p < hi)
            inside += v[i].iov_len;
        if (ri < b->n && p == b->recs[ri].ptr && v[i].iov_len == b->recs[ri].len) {
            found++;
            ri++;
        }
    }
    free(v);
    *records_found = found;
    return inside;
}

static void test_shared_frame_zero_copy(void)
{
    enum { PIPES = 16, RECS = 50 };
    size_t lens[RECS], rec_bytes = 0;
    for (size_t i = 0; i < RECS; i++)
        rec_bytes += lens[i] = 100 + 37 * i;
    struct block b;
    block_init(&b, RECS, lens, NULL);
    struct evframe_event ev = {.records = b.recs, .n_records = RECS, .continuation_seq = SEQ};
    struct evframe *f;
    CHECK_EQ_INT(evframe_create_event(&ev, &f), 0);
    CHECK_EQ_INT(atomic_load(&b.rb->refs), 2); /* one reference per run of one block */
    CHECK_EQ_INT(evframe_parts(f), 2 * RECS + 1);
    struct evbuffer *pipes[PIPES];
    for (int i = 0; i < PIPES; i++) {
        pipes[i] = evbuffer_new();
        evbuffer_add(pipes[i], "x", 1); /* something already queued */
        CHECK_EQ_INT(evframe_append(f, pipes[i]), 0);
        CHECK_EQ_INT(evframe_append(f, pipes[i]), 0); /* the next batch's frame, say */
    }
    evframe_decref(f); /* the builder is done; the pipes keep it alive */
    CHECK_EQ_INT(atomic_load(&b.rb->refs), 2);
    for (int i = 0; i < PIPES; i++) {
        size_t found;
        CHECK_EQ_INT(bytes_in_block(pipes[i], &b, &found), 2 * rec_bytes);
        CHECK_EQ_INT(found, RECS);
        size_t len;
        uint8_t *flat = evbuffer_flat(pipes[i], &len);
        size_t one = (len - 1) / 2;
        CHECK(len == 1 + 2 * one && memcmp(flat + 1, flat + 1 + one, one) == 0);
        check_message(flat + 1, one, &ev);
        free(flat);
    }
    /* Draining part of a pipe releases only what it consumed. */
    evbuffer_drain(pipes[0], 1 + 200);
    for (int i = 0; i < PIPES; i++)
        evbuffer_free(pipes[i]);
    block_dispose(&b); /* asserts the count is back to 1 */
}

/* The cursor path: a writer walks the frame with evframe_peek() in uneven steps and gets the
 * same bytes as the flattened frame, with record bytes straight from the block. */
static void test_peek_cursor(void)
{
    enum { RECS = 40 };
    size_t lens[RECS], rec_bytes = 0;
    for (size_t i = 0; i < RECS; i++)
        rec_bytes += lens[i] = 1 + (i * 7919) % 3000;
    struct block b;
    block_init(&b, RECS, lens, NULL);
    struct evframe_event ev = {.records = b.recs, .n_records = RECS, .continuation_seq = SEQ};
    struct evframe *f;
    CHECK_EQ_INT(evframe_create_event(&ev, &f), 0);
    size_t len = evframe_len(f);
    uint8_t *flat = sc_malloc(len), *got = sc_malloc(len);
    evframe_flatten(f, flat);
    const uint8_t *lo = b.rb->data, *hi = b.rb->data + b.rb->len;
    for (size_t step = 1; step < 20000; step = step * 3 + 1) {
        size_t off = 0, inside = 0, calls = 0;
        while (off < len && calls++ < 100000) {
            struct iovec iov[5];
            size_t n = evframe_peek(f, off, step, iov, 1 + step % 5);
            CHECK(n > 0);
            if (n == 0)
                break;
            size_t took = 0;
            for (size_t i = 0; i < n; i++) {
                const uint8_t *p = iov[i].iov_base;
                memcpy(got + off + took, p, iov[i].iov_len);
                took += iov[i].iov_len;
                if (p >= lo && p < hi)
                    inside += iov[i].iov_len;
            }
            CHECK(took > 0 && took <= step);
            off += took;
        }
        CHECK_EQ_INT(off, len);
        CHECK(memcmp(got, flat, len) == 0);
        CHECK_EQ_INT(inside, rec_bytes); /* every record byte came from the block itself */
        struct iovec iov[1];
        CHECK_EQ_INT(evframe_peek(f, len, step, iov, 1), 0);
    }
    for (size_t off = 0; off < len; off += 997) {
        size_t n = SC_MIN(len - off, (size_t)5003);
        evframe_copyout(f, off, got, n);
        CHECK(memcmp(got, flat + off, n) == 0);
    }
    free(got);
    free(flat);
    evframe_decref(f);
    block_dispose(&b);
}

/* libevent refusing a chain (here: a frozen buffer) must give back every reference taken. */
static void test_append_refused(void)
{
    size_t lens[] = {10, 20};
    struct block b;
    block_init(&b, 2, lens, NULL);
    struct evframe_event ev = {.records = b.recs, .n_records = 2, .continuation_seq = "1"};
    struct evframe *f;
    CHECK_EQ_INT(evframe_create_event(&ev, &f), 0);
    struct evbuffer *buf = evbuffer_new();
    CHECK_EQ_INT(evbuffer_freeze(buf, 0), 0);
    CHECK_EQ_INT(evframe_append(f, buf), -ENOMEM);
    CHECK_EQ_INT(evframe_add_event(buf, &ev, NULL), -ENOMEM);
    CHECK_EQ_INT(evbuffer_get_length(buf), 0);
    evbuffer_free(buf);
    evframe_decref(f); /* the frame was the last holder: frees it (ASan: no leak) */
    block_dispose(&b);
}

static void test_direct_references(void)
{
    size_t lens[] = {10, 20, 30};
    struct block b;
    block_init(&b, 3, lens, NULL);
    struct evframe_event ev = {.records = b.recs, .n_records = 3, .continuation_seq = "7"};
    struct evbuffer *buf = evbuffer_new();
    CHECK_EQ_INT(evframe_add_event(buf, &ev, NULL), 0);
    CHECK_EQ_INT(atomic_load(&b.rb->refs), 4); /* one per queued record chain */
    size_t found;
    CHECK_EQ_INT(bytes_in_block(buf, &b, &found), 60);
    CHECK_EQ_INT(found, 3);
    evbuffer_free(buf);
    block_dispose(&b);
}

static void test_limits_and_lies(void)
{
    size_t big = EVENTSTREAM_MAX_LEN - 100;
    struct block b;
    block_init(&b, 1, &big, NULL);
    struct evframe_event ev = {.records = b.recs, .n_records = 1, .continuation_seq = SEQ};
    CHECK_EQ_INT(evframe_event_len(&ev), 0);
    struct evframe *f = NULL;
    CHECK_EQ_INT(evframe_create_event(&ev, &f), EVENTSTREAM_ERR_TOO_LONG);
    struct evbuffer *buf = evbuffer_new();
    CHECK_EQ_INT(evframe_add_event(buf, &ev, NULL), EVENTSTREAM_ERR_TOO_LONG);
    CHECK_EQ_INT(evbuffer_get_length(buf), 0);
    evbuffer_free(buf);
    block_dispose(&b);

    /* A stored CRC that does not match the bytes is caught by the checker and the decoder. */
    size_t len = 64;
    block_init(&b, 1, &len, NULL);
    b.recs[0].wire_crc ^= 1;
    ev = (struct evframe_event){.records = b.recs, .n_records = 1, .continuation_seq = SEQ};
    CHECK_EQ_INT(evframe_create_event(&ev, &f), 0);
    CHECK_EQ_INT(evframe_check(f), EVENTSTREAM_ERR_MESSAGE_CRC);
    evframe_decref(f);
    block_dispose(&b);
}

static void test_message_frames(void)
{
    struct evframe *f = evframe_create_initial_response(EVENTSTREAM_CODEC_JSON);
    CHECK_EQ_INT(evframe_len(f), 104);
    CHECK_EQ_INT(evframe_crc(f), 0xfe942c1d);
    CHECK_EQ_INT(evframe_check(f), 0);
    struct evbuffer *buf = evbuffer_new();
    CHECK_EQ_INT(evframe_append(f, buf), 0);
    evframe_decref(f);
    CHECK_EQ_INT(evbuffer_get_length(buf), 104);
    evbuffer_free(buf);

    CHECK_EQ_INT(
        evframe_create_exception("ResourceInUseException", EVENTSTREAM_CODEC_JSON, "x", &f), 0);
    CHECK_EQ_INT(evframe_len(f), 131);
    CHECK_EQ_INT(evframe_crc(f), 0xe1ecdf10);
    CHECK_EQ_INT(evframe_check(f), 0);
    evframe_decref(f);
}

/* ---- --dump DIR: frames for botocore ----------------------------------------------------- */

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(p, 1, len, fp) != len || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int dump_frame(const char *dir, const char *name, struct evframe *f)
{
    uint8_t *p = sc_malloc(evframe_len(f));
    evframe_flatten(f, p);
    int rc = write_file(dir, name, p, evframe_len(f));
    free(p);
    evframe_decref(f);
    return rc;
}

/* Wire-form records as shards/ stores them (member order of architecture.md §3). */
static int dump(const char *dir)
{
    enum { N = 50 };
    static const char *const b64[] = {"cmVjb3JkLTA=", "cmVjb3JkLTE=", "cmVjb3JkLTI=",
                                      "cmVjb3JkLTM=", "cmVjb3JkLTQ="}; /* "record-<i % 5>" */
    char texts[N][256];
    const char *tp[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        int n = snprintf(texts[i], sizeof(texts[i]),
                         "{\"SequenceNumber\":\"4959033827149025660855969253836157109592157598913"
                         "65%05d\",\"ApproximateArrivalTimestamp\":1700000000.%03d,\"Data\":\"%s\","
                         "\"PartitionKey\":\"pk%d\"}",
                         i, i, b64[i % 5], i);
        lens[i] = (size_t)n;
        tp[i] = texts[i];
    }
    struct block b;
    block_init(&b, N, lens, tp);
    int rc = 0;
    rc |= dump_frame(dir, "initial-response",
                     evframe_create_initial_response(EVENTSTREAM_CODEC_JSON));
    struct evframe *f;
    struct evframe_event ev = {.records = b.recs,
                               .n_records = N,
                               .continuation_seq =
                                   "4959033827149025660855969253836157109592157598913"
                                   "6500049",
                               .millis_behind = 42};
    rc |= evframe_create_event(&ev, &f) == 0 ? dump_frame(dir, "event-50", f) : 1;
    struct evframe_event hb = {.continuation_seq = ev.continuation_seq, .millis_behind = 0};
    rc |= evframe_create_event(&hb, &f) == 0 ? dump_frame(dir, "heartbeat", f) : 1;
    struct evframe_event last = {
        .records = b.recs,
        .n_records = 1,
        .millis_behind = 0,
        .child_shards_json =
            "[{\"ShardId\":\"shardId-000000000001\",\"ParentShards\":["
            "\"shardId-000000000000\"],\"HashKeyRange\":{\"StartingHashKey\":"
            "\"0\",\"EndingHashKey\":\"340282366920938463463374607431768211455\"}}]"};
    rc |= evframe_create_event(&last, &f) == 0 ? dump_frame(dir, "child-shards", f) : 1;
    rc |= evframe_create_exception("ResourceInUseException", EVENTSTREAM_CODEC_JSON,
                                   "Another active subscription exists", &f) == 0
              ? dump_frame(dir, "exception", f)
              : 1;
    struct refbuf *err;
    rc |= eventstream_encode_error("InternalError", "boom", &err);
    if (rc == 0) {
        rc |= write_file(dir, "error", err->data, err->len);
        refbuf_decref(err);
    }
    /* The direct (catch-up) path too, through a real evbuffer. */
    struct evbuffer *buf = evbuffer_new();
    rc |= evframe_add_event(buf, &ev, NULL) != 0;
    size_t len;
    uint8_t *flat = evbuffer_flat(buf, &len);
    rc |= write_file(dir, "event-50-direct", flat, len);
    free(flat);
    evbuffer_free(buf);
    block_dispose(&b);
    return rc ? 1 : 0;
}

/* The CBOR twin of a frame: one flat message, :content-type application/x-amz-cbor-1.1, payload
 * = the JSON payload through awscbor_from_json. Golden bytes for the §6.5 record. */
static void check_cbor_twin(const struct evframe_event *ev, const uint8_t *golden, size_t glen)
{
    struct evframe *f, *c;
    CHECK_EQ_INT(evframe_create_event(ev, &f), 0);
    CHECK_EQ_INT(evframe_to_cbor(f, &c), 0);
    CHECK_EQ_INT(evframe_check(c), 0);
    CHECK_EQ_INT(evframe_check(f), 0); /* untouched */
    uint8_t *buf = sc_malloc(evframe_len(c));
    evframe_flatten(c, buf);
    struct eventstream_message m;
    CHECK_EQ_INT(eventstream_parse(buf, evframe_len(c), 0, &m), 0);
    CHECK(string_header_is(&m, ":message-type", "event"));
    CHECK(string_header_is(&m, ":event-type", "SubscribeToShardEvent"));
    CHECK(string_header_is(&m, ":content-type", "application/x-amz-cbor-1.1"));
    char *json = expected_payload(ev);
    uint8_t *want;
    size_t wlen;
    CHECK_EQ_INT(awscbor_from_json(json, strlen(json), &want, &wlen), 0);
    CHECK(m.payload_len == wlen && memcmp(m.payload, want, wlen) == 0);
    if (golden != NULL)
        CHECK(m.payload_len == glen && memcmp(m.payload, golden, glen) == 0);
    free(want);
    free(json);
    free(buf);
    evframe_decref(c);
    evframe_decref(f);
}

static void test_cbor_twin(void)
{
    static const char rec[] =
        "{\"ApproximateArrivalTimestamp\":1700000000.123,\"Data\":"
        "\"aGVsbG8=\",\"PartitionKey\":\"pk1\",\"SequenceNumber\":\"" SEQ "\"}";
    uint8_t golden[400], *p = golden;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        memcpy(p, b_, sizeof(b_));                                                                 \
        p += sizeof(b_);                                                                           \
    } while (0)
#define PUTS(str) (memcpy(p, str, strlen(str)), p += strlen(str))
    PUT(0xa3, 0x78, 26);
    PUTS("ContinuationSequenceNumber");
    PUT(0x78, 56);
    PUTS(SEQ);
    PUT(0x72);
    PUTS("MillisBehindLatest");
    PUT(0x00, 0x67);
    PUTS("Records");
    PUT(0x81, 0xa4, 0x78, 27);
    PUTS("ApproximateArrivalTimestamp");
    PUT(0xc1, 0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, 0x64); /* tag 1 + millis */
    PUTS("Data");
    PUT(0x45);
    PUTS("hello"); /* a byte string, not base64 */
    PUT(0x6c);
    PUTS("PartitionKey");
    PUT(0x63);
    PUTS("pk1");
    PUT(0x6e);
    PUTS("SequenceNumber");
    PUT(0x78, 56);
    PUTS(SEQ);
#undef PUT
#undef PUTS
    size_t len = strlen(rec);
    const char *texts[] = {rec};
    struct block b;
    block_init(&b, 1, &len, texts);
    struct evframe_event ev = {.records = b.recs, .n_records = 1, .continuation_seq = SEQ};
    check_cbor_twin(&ev, golden, (size_t)(p - golden));
    /* KMS, a heartbeat, the final event with ChildShards. */
    ev.kms = true;
    check_cbor_twin(&ev, NULL, 0);
    struct evframe_event heartbeat = {.continuation_seq = SEQ, .millis_behind = 70000};
    check_cbor_twin(&heartbeat, NULL, 0);
    struct evframe_event end = {.child_shards_json =
                                    "[{\"ShardId\":\"shardId-000000000001\","
                                    "\"ParentShards\":[\"shardId-000000000000\"]}]"};
    check_cbor_twin(&end, NULL, 0);
    block_dispose(&b);
}

struct twin_race {
    struct evframe *f;
    struct evframe *got;
    int rc;
};

static void *twin_racer(void *arg)
{
    struct twin_race *r = arg;
    r->rc = evframe_cbor_twin(r->f, &r->got);
    return NULL;
}

/* evframe_cbor_twin: transcoded once per frame, then the same twin for every caller (every
 * worker's hub), the same bytes as evframe_to_cbor, freed with the frame (ASan would see a
 * leak); of two threads racing to the first twin exactly one transcodes, both get that twin. */
static void test_cbor_twin_cached(void)
{
    static const char rec[] = "{\"ApproximateArrivalTimestamp\":1700000000.123,\"Data\":"
                              "\"aGVsbG8=\",\"PartitionKey\":\"pk1\",\"SequenceNumber\":\"" SEQ
                              "\"}";
    size_t len = strlen(rec);
    const char *texts[] = {rec};
    struct block b;
    block_init(&b, 1, &len, texts);
    struct evframe_event ev = {.records = b.recs, .n_records = 1, .continuation_seq = SEQ};
    struct evframe *f, *t1, *t2, *copy;
    CHECK_EQ_INT(evframe_create_event(&ev, &f), 0);
    CHECK_EQ_INT(evframe_cbor_twin(f, &t1), 1);
    CHECK_EQ_INT(evframe_cbor_twin(f, &t2), 0);
    CHECK(t1 == t2);
    CHECK_EQ_INT(evframe_to_cbor(f, &copy), 0);
    CHECK_EQ_INT(evframe_len(copy), evframe_len(t1));
    uint8_t *x = sc_malloc(evframe_len(t1)), *y = sc_malloc(evframe_len(copy));
    evframe_flatten(t1, x);
    evframe_flatten(copy, y);
    CHECK(memcmp(x, y, evframe_len(t1)) == 0);
    free(x);
    free(y);
    evframe_decref(copy);
    evframe_decref(t2);
    evframe_decref(f); /* the twin outlives the frame while t1 holds it */
    CHECK_EQ_INT(evframe_check(t1), 0);
    evframe_decref(t1);

    for (int round = 0; round < 200; round++) {
        CHECK_EQ_INT(evframe_create_event(&ev, &f), 0);
        struct twin_race r[2] = {{.f = f}, {.f = f}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            CHECK_EQ_INT(pthread_create(&th[i], NULL, twin_racer, &r[i]), 0);
        for (int i = 0; i < 2; i++)
            CHECK_EQ_INT(pthread_join(th[i], NULL), 0);
        CHECK(r[0].rc >= 0 && r[1].rc >= 0 && r[0].rc + r[1].rc == 1); /* exactly one built */
        CHECK(r[0].got == r[1].got);
        struct evframe *again;
        CHECK_EQ_INT(evframe_cbor_twin(f, &again), 0);
        CHECK(again == r[0].got);
        evframe_decref(again);
        evframe_decref(r[0].got);
        evframe_decref(r[1].got);
        evframe_decref(f);
    }
    block_dispose(&b);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--dump") == 0)
        return dump(argv[2]);
    TEST_RUN(test_golden);
    TEST_RUN(test_kms_records);
    TEST_RUN(test_counts_and_sizes);
    TEST_RUN(test_heartbeat_and_child_shards);
    TEST_RUN(test_shared_frame_zero_copy);
    TEST_RUN(test_peek_cursor);
    TEST_RUN(test_append_refused);
    TEST_RUN(test_direct_references);
    TEST_RUN(test_limits_and_lies);
    TEST_RUN(test_message_frames);
    TEST_RUN(test_cbor_twin);
    TEST_RUN(test_cbor_twin_cached);
    TEST_EXIT();
}
