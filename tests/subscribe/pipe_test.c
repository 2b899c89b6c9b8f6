/* pipe_test.c — pipes and hubs over a real shardlog (temp dir), a real sio and a real
 * event_base; no HTTP. The test plays the transport: it pulls with a DATA-frame-sized hint and
 * decodes what it got with the event-stream decoder (CBOR pipes' payloads through awscbor). */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/common.h"
#include "shards/shardlog.h"
#include "subscribe/awscbor.h"
#include "subscribe/eventstream.h"
#include "subscribe/pipe.h"
#include "tests/test.h"

#define SHARD_SECS 1700000000u
#define SHARD_INDEX 3u

/* Each test thread plays one worker: its own event_base, sio and queue of posted functions. */
static _Thread_local struct event_base *base;
static _Thread_local struct sio *sio;
static struct shardlog *slog;
static const char *test_root;
static _Atomic int shard_refs;

/* ---- posted functions (a worker's queue; any thread posts) ---- */
struct tworker {
    pthread_mutex_t mu;
    struct {
        void (*fn)(void *);
        void *arg;
    } posts[1024];
    int nposts;
};
static struct tworker w_main = {.mu = PTHREAD_MUTEX_INITIALIZER};
static _Thread_local struct tworker *self = &w_main;

static int t_post(void *worker, void (*fn)(void *), void *arg)
{
    struct tworker *w = worker;
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    if (w->nposts == (int)SC_ARRAY_LEN(w->posts)) {
        rc = -EAGAIN;
    } else {
        w->posts[w->nposts].fn = fn;
        w->posts[w->nposts++].arg = arg;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* ---- a fake transport per pipe ---- */
struct client {
    struct pipe *p;
    struct evbuffer *in; /* everything pulled */
    int wakes;
    bool eof, closed;
    int check_fail; /* make ops->check end the pipe */
    enum eventstream_codec codec;
    /* decoded */
    int events, records, heartbeats, exceptions, kms_records;
    char last_exception[64];
    bool initial, shard_end;
    char cont[128];
    char keys[4096][16];
};

static void t_wake(void *arg)
{
    ((struct client *)arg)->wakes++;
}

static int t_check(void *arg, char *type, size_t tc, char *msg, size_t mc)
{
    struct client *c = arg;
    if (!c->check_fail)
        return 0;
    snprintf(type, tc, "ResourceNotFoundException");
    snprintf(msg, mc, "gone");
    return 1;
}

static char *t_child(void *arg)
{
    (void)arg;
    return strdup(
        "[{\"ShardId\":\"shardId-000000000004\",\"ParentShards\":[\"shardId-000000000003\"],"
        "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"1\"}}]");
}

static void t_shard_ref(void *shard, int delta)
{
    CHECK(shard == &shard_refs);
    atomic_fetch_add(&shard_refs, delta);
}

static _Atomic bool kms_stream; /* what ops->encrypted says */
static bool t_encrypted(void *shard)
{
    (void)shard;
    return atomic_load(&kms_stream);
}

static const struct pipe_ops ops = {t_wake, t_post, t_check, t_child, t_shard_ref, t_encrypted};

static void run_loop(int rounds)
{
    for (int r = 0; r < rounds; r++) {
        struct pollfd pf = {.fd = sio_fd(sio), .events = POLLIN};
        poll(&pf, 1, 1);
        sio_run_completions(sio);
        struct tworker *w = self;
        pthread_mutex_lock(&w->mu);
        int n = w->nposts;
        void (*fns[SC_ARRAY_LEN(w->posts)])(void *);
        void *args[SC_ARRAY_LEN(w->posts)];
        for (int i = 0; i < n; i++) {
            fns[i] = w->posts[i].fn;
            args[i] = w->posts[i].arg;
        }
        w->nposts = 0;
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < n; i++)
            fns[i](args[i]);
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
}

static struct pipe *new_pipe_codec(struct client *c, uint64_t start, int64_t t_ms, uint64_t rate,
                                   enum eventstream_codec codec)
{
    memset(c, 0, sizeof(*c));
    c->in = evbuffer_new();
    c->codec = codec;
    struct pipe_config cfg = {.log = slog,
                              .shard = &shard_refs,
                              .shard_secs = SHARD_SECS,
                              .shard_index = SHARD_INDEX,
                              .sio = sio,
                              .base = base,
                              .worker = self,
                              .start_position = start,
                              .start_time_ms = t_ms,
                              .heartbeat_ms = 100,
                              .lifetime_ms = 60000,
                              .rate_bytes_per_s = rate,
                              .codec = codec,
                              .ops = &ops,
                              .arg = c};
    c->p = pipe_create(&cfg);
    pipe_start(c->p);
    return c->p;
}

static struct pipe *new_pipe(struct client *c, uint64_t start, int64_t t_ms, uint64_t rate)
{
    return new_pipe_codec(c, start, t_ms, rate, EVENTSTREAM_CODEC_JSON);
}

/* A message's payload as JSON: itself, or for a CBOR pipe its transcoding (which must succeed:
 * the payload must be one well-formed CBOR item). The caller frees *scratch. */
static const char *payload_json(const struct client *c, const struct eventstream_message *m,
                                size_t *len, char **scratch)
{
    struct eventstream_header h;
    CHECK(eventstream_message_header(m, ":content-type", &h));
    const char *want = eventstream_content_type(c->codec);
    CHECK(h.v.bytes.len == strlen(want) && memcmp(h.v.bytes.ptr, want, h.v.bytes.len) == 0);
    *scratch = NULL;
    if (c->codec == EVENTSTREAM_CODEC_JSON) {
        *len = m->payload_len;
        return (const char *)m->payload;
    }
    CHECK_EQ_INT(awscbor_to_json(m->payload, m->payload_len, scratch, len, NULL), 0);
    return *scratch ? *scratch : "";
}

/* Records' Data in a CBOR payload are byte strings: "Data" then the 4 bytes of "QUJDRA==". */
static int cbor_data_members(const struct eventstream_message *m)
{
    static const uint8_t pat[] = {0x64, 'D', 'a', 't', 'a', 0x44, 'A', 'B', 'C', 'D'};
    int n = 0;
    for (size_t i = 0; i + sizeof(pat) <= m->payload_len; i++)
        n += memcmp(m->payload + i, pat, sizeof(pat)) == 0;
    return n;
}

static void decode_event(struct client *c, const struct eventstream_message *m)
{
    struct eventstream_header h;
    CHECK(eventstream_message_header(m, ":message-type", &h));
    char *scratch;
    size_t plen;
    const char *payload = payload_json(c, m, &plen, &scratch);
    if (h.v.bytes.len == 9 && memcmp(h.v.bytes.ptr, "exception", 9) == 0) {
        CHECK(strncmp(payload, "{\"message\":\"", 12) == 0);
        free(scratch);
        CHECK(eventstream_message_header(m, ":exception-type", &h));
        snprintf(c->last_exception, sizeof(c->last_exception), "%.*s", (int)h.v.bytes.len,
                 (const char *)h.v.bytes.ptr);
        c->exceptions++;
        return;
    }
    CHECK(eventstream_message_header(m, ":event-type", &h));
    if (h.v.bytes.len == 16 && memcmp(h.v.bytes.ptr, "initial-response", 16) == 0) {
        CHECK(plen == 2 && memcmp(payload, "{}", 2) == 0); /* CBOR: A0, the empty map */
        free(scratch);
        CHECK(c->events == 0);
        c->initial = true;
        c->events++;
        return;
    }
    c->events++;
    json_error_t je;
    json_t *o = json_loadb(payload, plen, 0, &je);
    free(scratch);
    CHECK(o != NULL);
    if (o == NULL)
        return;
    json_t *recs = json_object_get(o, "Records");
    CHECK(json_is_array(recs));
    if (c->codec == EVENTSTREAM_CODEC_CBOR)
        CHECK_EQ_INT(cbor_data_members(m), json_array_size(recs));
    json_t *cs = json_object_get(o, "ContinuationSequenceNumber");
    if (json_object_get(o, "ChildShards")) {
        CHECK(cs == NULL);
        c->shard_end = true;
    } else {
        CHECK(json_is_string(cs));
        snprintf(c->cont, sizeof(c->cont), "%s", json_string_value(cs));
    }
    if (json_array_size(recs) == 0)
        c->heartbeats++;
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *rec = json_array_get(recs, i);
        const char *enc = json_string_value(json_object_get(rec, "EncryptionType"));
        c->kms_records += enc != NULL && strcmp(enc, "KMS") == 0;
        const char *k = json_string_value(json_object_get(rec, "PartitionKey"));
        CHECK(k != NULL && c->records < 4096);
        CHECK_EQ_STR(json_string_value(json_object_get(rec, "Data")), "QUJDRA==");
        snprintf(c->keys[c->records++], 16, "%s", k);
    }
    json_decref(o);
}

/* Pulls like h2 does (16 KiB DATA frames) until the pipe has nothing; decodes. */
static void drain(struct client *c)
{
    for (int i = 0; i < 100000 && !c->eof; i++) {
        ssize_t n = pipe_pull(c->p, c->in, 16384);
        CHECK(n <= 16384);
        if (n == -1)
            c->eof = true;
        if (n <= 0)
            break;
    }
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 0);
    size_t len = evbuffer_get_length(c->in);
    uint8_t *buf = evbuffer_pullup(c->in, -1);
    size_t off = 0;
    for (;;) {
        struct eventstream_message m;
        size_t used = 0;
        int rc = eventstream_decoder_next(&d, buf + off, len - off, &used, &m);
        CHECK(rc >= 0);
        off += used;
        if (rc != 1)
            break;
        decode_event(c, &m);
    }
    CHECK(eventstream_decoder_idle(&d));
    eventstream_decoder_dispose(&d);
    evbuffer_drain(c->in, len);
}

static void client_close(struct client *c)
{
    pipe_closed(c->p, c->eof ? 0 : -ECONNRESET);
    evbuffer_free(c->in);
}

static int acks;
static void on_ack(void *arg, int err, uint64_t first, uint32_t count, int64_t ms)
{
    (void)arg;
    (void)first;
    (void)count;
    (void)ms;
    CHECK_EQ_INT(err, 0);
    acks++;
}

static int key_no;
static void append(int n)
{
    char keys[100][16];
    struct record_in recs[100];
    for (int i = 0; i < n;) {
        int k = SC_MIN(100, n - i);
        for (int j = 0; j < k; j++) {
            snprintf(keys[j], sizeof(keys[j]), "k%d", key_no++);
            recs[j] = (struct record_in){"QUJDRA==", 8, keys[j], strlen(keys[j])};
        }
        int before = acks;
        CHECK_EQ_INT(shardlog_append(slog, sio, recs, (uint32_t)k, on_ack, NULL), 0);
        for (int r = 0; r < 1000 && acks == before; r++)
            run_loop(1);
        i += k;
    }
}

static void check_keys(const struct client *c, int from, int n)
{
    CHECK_EQ_INT(c->records, n);
    for (int i = 0; i < n && i < c->records; i++) {
        char want[16];
        snprintf(want, sizeof(want), "k%d", from + i);
        CHECK_EQ_STR(c->keys[i], want);
    }
}

static void test_tail_sharing_and_positions(void)
{
    append(10);
    static struct client a, b, s;
    new_pipe(&a, 0, -1, 0);                  /* TRIM_HORIZON */
    new_pipe(&b, shardlog_end(slog), -1, 0); /* LATEST */
    new_pipe(&s, 0, -1, 0);                  /* a client that never reads */
    run_loop(20);
    drain(&a);
    drain(&b);
    CHECK(a.initial && b.initial);
    check_keys(&a, 0, 10);
    CHECK_EQ_INT(b.records, 0);
    CHECK(pipe_is_tail(a.p) && pipe_is_tail(b.p));
    /* b's continuation before any record resumes (AFTER) exactly at position 10. */
    run_loop(200); /* > heartbeat_ms: an idle pipe gets an empty event */
    drain(&b);
    drain(&a);
    CHECK(b.heartbeats >= 1);
    uint64_t pos = 0;
    CHECK_EQ_INT(
        seqnum_position(b.cont, strlen(b.cont), SHARD_SECS, SHARD_INDEX, SEQNUM_AFTER, &pos), 0);
    CHECK(pos == 10);
    /* A wall clock that steps back an hour does not pause the heartbeats. */
    int hb = b.heartbeats;
    clock_advance_ms(-3600 * 1000);
    run_loop(200);
    drain(&b);
    drain(&a);
    CHECK(b.heartbeats > hb);
    clock_advance_ms(3600 * 1000);

    struct pipe_stats st0, st1;
    pipe_stats_get(&st0);
    append(5);
    run_loop(10);
    pipe_stats_get(&st1);
    /* One frame for the batch, handed to both tail pipes (and the silent one). */
    CHECK(st1.tail_frames_built - st0.tail_frames_built == 1);
    CHECK(st1.tail_frames_handed - st0.tail_frames_handed == 3);
    /* Same bytes, not copies: the first chain of both pipes' next pulls is the same memory. */
    struct evbuffer *oa = evbuffer_new(), *ob = evbuffer_new();
    CHECK(pipe_pull(a.p, oa, 16384) > 0);
    CHECK(pipe_pull(b.p, ob, 16384) > 0);
    struct evbuffer_iovec va, vb;
    CHECK(evbuffer_peek(oa, -1, NULL, &va, 1) >= 1 && evbuffer_peek(ob, -1, NULL, &vb, 1) >= 1);
    CHECK(va.iov_base == vb.iov_base && va.iov_len == vb.iov_len);
    evbuffer_add_buffer(a.in, oa);
    evbuffer_add_buffer(b.in, ob);
    evbuffer_free(oa);
    evbuffer_free(ob);
    drain(&a);
    drain(&b);
    check_keys(&a, 0, 15);
    CHECK_EQ_INT(b.records, 5);
    CHECK_EQ_STR(b.keys[0], "k10");
    CHECK_EQ_INT(
        seqnum_position(a.cont, strlen(a.cont), SHARD_SECS, SHARD_INDEX, SEQNUM_AFTER, &pos), 0);
    CHECK(pos == 15);

    /* The silent client: many batches overflow its queue; it falls back alone, and once it
     * reads it gets every record exactly once, in order. */
    pipe_stats_get(&st0);
    for (int i = 0; i < 80; i++) {
        append(3);
        run_loop(2);
    }
    drain(&a);
    check_keys(&a, 0, 255);
    pipe_stats_get(&st1);
    CHECK(st1.tail_drops > st0.tail_drops);
    for (int i = 0; i < 50 && s.records < 255; i++) {
        drain(&s);
        run_loop(2);
    }
    check_keys(&s, 0, 255);

    /* A pipe starting AFTER a's continuation (position 255) gets nothing replayed. */
    static struct client r;
    new_pipe(&r, pos + 240, -1, 0);
    CHECK(pipe_position(r.p) == 255);
    append(2);
    run_loop(20);
    drain(&r);
    CHECK_EQ_INT(r.records, 2);
    CHECK_EQ_STR(r.keys[0], "k255");

    /* Seal: tail pipes get the final event (ChildShards, no continuation) and EOF. */
    uint64_t ending;
    CHECK_EQ_INT(shardlog_seal(slog, &ending), 0);
    CHECK(ending == 257);
    run_loop(20);
    drain(&a);
    drain(&r);
    CHECK(a.shard_end && a.eof);
    CHECK(r.shard_end && r.eof);
    check_keys(&a, 0, 257);
    client_close(&a);
    client_close(&b);
    client_close(&s);
    client_close(&r);
}

/* Tests of their own shard: a fresh log in dir `name` becomes slog; returns the one it
 * replaced, for log_restore. */
static struct shardlog *log_switch(const char *name)
{
    struct shardlog *prev = slog;
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/%s", test_root, name);
    struct shardlog_config cfg = {.dir = dir, .shard_secs = SHARD_SECS, .shard_index = SHARD_INDEX,
                                  .durability = SHARDLOG_SYNC_NEVER, .block_bytes = 4096};
    CHECK_EQ_INT(shardlog_open(&cfg, &slog), 0);
    return prev;
}

static void log_restore(struct shardlog *prev)
{
    run_loop(20); /* closed pipes' hubs let the log go */
    shardlog_close(slog);
    slog = prev;
}

static void test_catchup_after_seal_and_timestamp(void)
{
    /* A new pipe from 0 on the sealed log reads everything then ends with ChildShards. */
    static struct client c;
    new_pipe(&c, 0, -1, 0);
    for (int i = 0; i < 50 && !c.eof; i++) {
        run_loop(2);
        drain(&c);
    }
    check_keys(&c, 0, 257);
    CHECK(c.shard_end && c.eof);
    client_close(&c);
    /* AT_TIMESTAMP far in the future: nothing, then the shard end. */
    static struct client t;
    new_pipe(&t, 0, INT64_MAX / 4, 0);
    for (int i = 0; i < 50 && !t.eof; i++) {
        run_loop(2);
        drain(&t);
    }
    CHECK_EQ_INT(t.records, 0);
    CHECK(t.shard_end);
    client_close(&t);
}

static void test_end_and_kick(void)
{
    static struct client c, k;
    new_pipe(&c, 0, -1, 0);
    new_pipe(&k, 0, -1, 0);
    run_loop(5);
    c.check_fail = 1; /* liveness check says the stream is gone */
    pipe_kick(k.p, "ResourceInUseException");
    for (int i = 0; i < 50 && (!c.eof || !k.eof); i++) {
        run_loop(20);
        drain(&c);
        drain(&k);
    }
    CHECK(c.eof && k.eof);
    CHECK_EQ_STR(c.last_exception, "ResourceNotFoundException");
    CHECK_EQ_STR(k.last_exception, "ResourceInUseException");
    client_close(&c);
    client_close(&k);
    /* A client that resets mid-frame: quiet teardown. */
    static struct client x;
    new_pipe(&x, 0, -1, 0);
    run_loop(5);
    struct evbuffer *o = evbuffer_new();
    CHECK(pipe_pull(x.p, o, 7) == 7);
    client_close(&x);
    evbuffer_free(o); /* the frame outlives the pipe through the chain's reference */
}

/* ---- a second worker thread, driven step by step (its CHECKs run while main waits) ---- */

enum w2_cmd { W2_IDLE, W2_LOOP, W2_NEW_PIPE, W2_CLOSE, W2_EXIT };
static struct tworker w_two = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_mutex_t w2_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w2_cv = PTHREAD_COND_INITIALIZER;
static enum w2_cmd w2_cmd;
static int w2_arg;
static struct client w2_client;

static void *worker_two(void *arg)
{
    (void)arg;
    self = &w_two;
    int err;
    sio = sio_create(64, false, &err);
    ASSERT(sio != NULL);
    base = event_base_new();
    pthread_mutex_lock(&w2_mu);
    for (;;) {
        while (w2_cmd == W2_IDLE)
            pthread_cond_wait(&w2_cv, &w2_mu);
        enum w2_cmd cmd = w2_cmd;
        if (cmd == W2_NEW_PIPE)
            new_pipe(&w2_client, (uint64_t)w2_arg, -1, 0);
        else if (cmd == W2_LOOP)
            for (int i = 0; i < w2_arg; i++) {
                run_loop(1);
                drain(&w2_client);
            }
        else if (cmd == W2_CLOSE)
            client_close(&w2_client);
        w2_cmd = W2_IDLE;
        pthread_cond_broadcast(&w2_cv);
        if (cmd == W2_EXIT)
            break;
    }
    pthread_mutex_unlock(&w2_mu);
    run_loop(20);
    ASSERT(sio_drain(sio, 5000) == 0);
    sio_destroy(sio);
    event_base_free(base);
    return NULL;
}

/* Runs one command on worker two and waits for it. */
static void w2(enum w2_cmd cmd, int arg)
{
    pthread_mutex_lock(&w2_mu);
    w2_cmd = cmd;
    w2_arg = arg;
    pthread_cond_broadcast(&w2_cv);
    while (w2_cmd != W2_IDLE)
        pthread_cond_wait(&w2_cv, &w2_mu);
    pthread_mutex_unlock(&w2_mu);
}

/* Two workers with a tail pipe each on one shard: every batch's frame is built once and both
 * pipes queue the same frame; a worker that falls more than the ring's 16 frames behind reads up
 * to the oldest kept boundary for itself and joins the shared frames there. Both pipes get every
 * record once, in order. */
static void test_two_workers_share_frames(void)
{
    struct shardlog *first = log_switch("shardId-000000000013");
    int from_key = key_no;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, worker_two, NULL) == 0);
    static struct client a;
    new_pipe(&a, 0, -1, 0);
    w2(W2_NEW_PIPE, 0);
    run_loop(20);
    w2(W2_LOOP, 20);
    drain(&a);
    CHECK(a.initial && w2_client.initial);
    CHECK(pipe_is_tail(a.p) && pipe_is_tail(w2_client.p));

    /* Both workers awake for every batch: one build per batch, two hand-outs. */
    struct pipe_stats st0, st1;
    pipe_stats_get(&st0);
    for (int i = 0; i < 10; i++) {
        append(3);
        run_loop(2);
        w2(W2_LOOP, 2);
    }
    pipe_stats_get(&st1);
    CHECK_EQ_INT(st1.tail_frames_built - st0.tail_frames_built, 10);
    CHECK_EQ_INT(st1.tail_frames_handed - st0.tail_frames_handed, 20);

    /* Worker two sleeps through 30 batches: the ring keeps the newest 16, so it reads the
     * first 14 batches' records for itself (one frame of its own) and takes the rest. */
    pipe_stats_get(&st0);
    for (int i = 0; i < 30; i++) {
        append(2);
        run_loop(2);
    }
    w2(W2_LOOP, 30);
    pipe_stats_get(&st1);
    CHECK_EQ_INT(st1.tail_frames_built - st0.tail_frames_built, 30 + 1);
    CHECK_EQ_INT(st1.tail_frames_handed - st0.tail_frames_handed, 30 + 1 + 16);
    drain(&a);
    check_keys(&a, from_key, 90);
    check_keys(&w2_client, from_key, 90);
    CHECK_EQ_INT(w2_client.exceptions, 0);
    CHECK_EQ_INT(a.kms_records + w2_client.kms_records, 0);

    /* The stream becomes KMS-encrypted: shared frames carry EncryptionType on every record, and
     * so does a catch-up read of the whole shard (decided when read, as GetRecords does). */
    atomic_store(&kms_stream, true);
    append(4);
    run_loop(4);
    w2(W2_LOOP, 4);
    drain(&a);
    check_keys(&a, from_key, 94);
    check_keys(&w2_client, from_key, 94);
    CHECK_EQ_INT(a.kms_records, 4);
    CHECK_EQ_INT(w2_client.kms_records, 4);
    static struct client c;
    new_pipe(&c, 0, -1, 0);
    for (int i = 0; i < 20 && c.records < 94; i++) {
        run_loop(2);
        drain(&c);
    }
    check_keys(&c, from_key, 94);
    CHECK_EQ_INT(c.kms_records, 94);
    atomic_store(&kms_stream, false);
    client_close(&c);

    client_close(&a);
    w2(W2_CLOSE, 0);
    w2(W2_EXIT, 0);
    pthread_join(th, NULL);
    log_restore(first);
}

/* CBOR subscribers: every event, heartbeat, exception and the shard end in CBOR; a CBOR pipe
 * on the tail takes the batch's shared JSON frame transcoded, once per delivery for all the
 * worker's CBOR pipes, while JSON pipes keep the shared frame itself. */
static void test_cbor_pipes(void)
{
    struct shardlog *first = log_switch("shardId-000000000023");
    int from_key = key_no;
    append(5);
    static struct client j, c1, c2;
    new_pipe(&j, 0, -1, 0);
    new_pipe_codec(&c1, 0, -1, 0, EVENTSTREAM_CODEC_CBOR);
    new_pipe_codec(&c2, 0, -1, 0, EVENTSTREAM_CODEC_CBOR);
    run_loop(20);
    drain(&j);
    drain(&c1);
    drain(&c2);
    CHECK(c1.initial && c2.initial);
    check_keys(&j, from_key, 5); /* catch-up */
    check_keys(&c1, from_key, 5);
    check_keys(&c2, from_key, 5);
    CHECK(pipe_is_tail(c1.p) && pipe_is_tail(c2.p) && pipe_is_tail(j.p));

    struct pipe_stats st0, st1;
    pipe_stats_get(&st0);
    append(3);
    run_loop(10);
    pipe_stats_get(&st1);
    CHECK_EQ_INT(st1.tail_frames_built - st0.tail_frames_built, 1);
    CHECK_EQ_INT(st1.tail_frames_handed - st0.tail_frames_handed, 3);
    CHECK_EQ_INT(st1.tail_cbor_twins - st0.tail_cbor_twins, 1);
    /* Both CBOR pipes pull the same CBOR frame; the JSON pipe the shared JSON one. */
    struct evbuffer *o1 = evbuffer_new(), *o2 = evbuffer_new(), *oj = evbuffer_new();
    CHECK(pipe_pull(c1.p, o1, 16384) > 0);
    CHECK(pipe_pull(c2.p, o2, 16384) > 0);
    CHECK(pipe_pull(j.p, oj, 16384) > 0);
    struct evbuffer_iovec v1, v2, vj;
    CHECK(evbuffer_peek(o1, -1, NULL, &v1, 1) >= 1 && evbuffer_peek(o2, -1, NULL, &v2, 1) >= 1 &&
          evbuffer_peek(oj, -1, NULL, &vj, 1) >= 1);
    CHECK(v1.iov_base == v2.iov_base && v1.iov_base != vj.iov_base);
    CHECK(v1.iov_len < vj.iov_len); /* bytes instead of base64, tag 1 + millis */
    evbuffer_add_buffer(c1.in, o1);
    evbuffer_add_buffer(c2.in, o2);
    evbuffer_add_buffer(j.in, oj);
    evbuffer_free(o1);
    evbuffer_free(o2);
    evbuffer_free(oj);
    drain(&j);
    drain(&c1);
    drain(&c2);
    check_keys(&j, from_key, 8);
    check_keys(&c1, from_key, 8);
    check_keys(&c2, from_key, 8);

    /* Heartbeats, KMS records, a late CBOR pipe's catch-up, a kick, the shard end. */
    run_loop(200);
    drain(&c1);
    CHECK(c1.heartbeats >= 1);
    atomic_store(&kms_stream, true);
    append(2);
    run_loop(10);
    drain(&c1);
    CHECK_EQ_INT(c1.kms_records, 2);
    static struct client late;
    new_pipe_codec(&late, 0, -1, 0, EVENTSTREAM_CODEC_CBOR);
    for (int i = 0; i < 20 && late.records < 10; i++) {
        run_loop(2);
        drain(&late);
    }
    check_keys(&late, from_key, 10);
    CHECK_EQ_INT(late.kms_records, 10);
    atomic_store(&kms_stream, false);
    pipe_kick(c2.p, "ResourceInUseException");
    for (int i = 0; i < 50 && !c2.eof; i++) {
        run_loop(2);
        drain(&c2);
    }
    CHECK(c2.eof);
    CHECK_EQ_STR(c2.last_exception, "ResourceInUseException");
    uint64_t ending;
    CHECK_EQ_INT(shardlog_seal(slog, &ending), 0);
    for (int i = 0; i < 50 && !c1.eof; i++) {
        run_loop(2);
        drain(&c1);
    }
    CHECK(c1.shard_end && c1.eof);
    check_keys(&c1, from_key, 10);
    client_close(&j);
    client_close(&c1);
    client_close(&c2);
    client_close(&late);
    log_restore(first);
}

int main(void)
{
    char root[] = "/tmp/sc_pipe_test.XXXXXX";
    if (mkdtemp(root) == NULL)
        return 1;
    test_root = root;
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/shardId-000000000003", root);
    struct shardlog_config cfg = {.dir = dir,
                                  .shard_secs = SHARD_SECS,
                                  .shard_index = SHARD_INDEX,
                                  .durability = SHARDLOG_SYNC_NEVER,
                                  .block_bytes = 4096};
    CHECK_EQ_INT(shardlog_open(&cfg, &slog), 0);
    int err;
    sio = sio_create(64, false, &err);
    ASSERT(sio != NULL);
    base = event_base_new();
    TEST_RUN(test_end_and_kick);
    TEST_RUN(test_tail_sharing_and_positions);
    TEST_RUN(test_catchup_after_seal_and_timestamp);
    TEST_RUN(test_two_workers_share_frames);
    TEST_RUN(test_cbor_pipes);
    run_loop(20);
    CHECK_EQ_INT(atomic_load(&shard_refs), 0);
    CHECK_EQ_INT(sio_drain(sio, 5000), 0);
    shardlog_close(slog);
    sio_destroy(sio);
    event_base_free(base);
    test_rmrf(root);
    TEST_EXIT();
}
