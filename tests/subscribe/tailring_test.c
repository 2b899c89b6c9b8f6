/* tailring_test.c — the shared tail frames: a frame is built once per batch and every later
 * taker of that position gets the same frame; positions inside a batch or behind the kept frames
 * are told the next boundary; the bounds hold; build results other than 1 keep nothing; and
 * four threads following one growing log see the same batch boundaries with one build each. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/common.h"
#include "common/refbuf.h"
#include "subscribe/evframe.h"
#include "subscribe/tailring.h"
#include "tests/test.h"

/* A fake log: positions [0, end) exist; a build takes up to `batch` of them, as one frame of
 * `frame_len` bytes. */
struct fake {
    _Atomic uint64_t end;
    uint64_t batch;
    size_t frame_len;
    int result; /* when not 1: what build returns */
    _Atomic unsigned builds;
};

static int fake_build(void *arg, uint64_t from, struct tailframe *out)
{
    struct fake *fk = arg;
    if (fk->result != 1)
        return fk->result;
    uint64_t end = atomic_load(&fk->end);
    if (from >= end)
        return 0;
    struct refbuf *b = refbuf_create(fk->frame_len);
    memset(b->data, 'x', fk->frame_len);
    b->len = fk->frame_len;
    memset(out, 0, sizeof(*out));
    out->f = evframe_create_message(b);
    refbuf_decref(b);
    out->from = from;
    out->to = SC_MIN(end, from + fk->batch);
    out->data_bytes = out->to - from;
    atomic_fetch_add(&fk->builds, 1);
    return 1;
}

static void test_build_once_and_boundaries(void)
{
    struct fake fk = {.batch = 10, .frame_len = 100, .result = 1};
    atomic_init(&fk.end, 25);
    struct tailring *r = tailring_get(&fk);
    CHECK(tailring_get(&fk) == r); /* same key, same ring */
    tailring_put(r);
    struct tailframe a, b;
    uint64_t bound = 0;
    CHECK_EQ_INT(tailring_take(r, 0, fake_build, &fk, &a, &bound), 1);
    CHECK(a.from == 0 && a.to == 10);
    CHECK_EQ_INT(tailring_take(r, 0, fake_build, &fk, &b, &bound), 1);
    CHECK(b.f == a.f && b.to == 10); /* the same frame, not a second build */
    CHECK_EQ_INT(atomic_load(&fk.builds), 1);
    evframe_decref(b.f);
    /* Inside the built batch: read [5, 10) yourself. */
    CHECK_EQ_INT(tailring_take(r, 5, fake_build, &fk, &b, &bound), -ENOENT);
    CHECK(bound == 10);
    CHECK_EQ_INT(tailring_take(r, 10, fake_build, &fk, &b, &bound), 1);
    CHECK(b.from == 10 && b.to == 20 && b.f != a.f);
    evframe_decref(b.f);
    CHECK_EQ_INT(tailring_take(r, 20, fake_build, &fk, &b, &bound), 1);
    CHECK(b.to == 25);
    evframe_decref(b.f);
    /* Nothing new: 0, and nothing kept. */
    CHECK_EQ_INT(tailring_take(r, 25, fake_build, &fk, &b, &bound), 0);
    /* A build that fails keeps nothing and says so. */
    fk.result = -EAGAIN;
    atomic_store(&fk.end, 30);
    CHECK_EQ_INT(tailring_take(r, 25, fake_build, &fk, &b, &bound), -EAGAIN);
    fk.result = 1;
    /* A hub ahead of the build cursor builds from where it is: boundaries may have gaps. */
    CHECK_EQ_INT(tailring_take(r, 27, fake_build, &fk, &b, &bound), 1);
    CHECK(b.from == 27 && b.to == 30);
    evframe_decref(b.f);
    CHECK_EQ_INT(tailring_take(r, 25, fake_build, &fk, &b, &bound), -ENOENT);
    CHECK(bound == 27);
    CHECK_EQ_INT(atomic_load(&fk.builds), 4);
    /* Our reference outlives the ring's. */
    tailring_put(r);
    CHECK(evframe_len(a.f) == 100);
    evframe_decref(a.f);
}

static void test_bounds(void)
{
    struct fake fk = {.batch = 1, .frame_len = 16, .result = 1};
    atomic_init(&fk.end, 1000);
    struct tailring *r = tailring_get(&fk);
    struct tailframe t;
    uint64_t bound = 0;
    for (uint64_t p = 0; p < 40; p++) {
        CHECK_EQ_INT(tailring_take(r, p, fake_build, &fk, &t, &bound), 1);
        evframe_decref(t.f);
    }
    /* Only the newest TAILRING_FRAMES are kept: an older position reads up to the oldest. */
    CHECK_EQ_INT(tailring_take(r, 40 - TAILRING_FRAMES - 1, fake_build, &fk, &t, &bound),
                 -ENOENT);
    CHECK(bound == 40 - TAILRING_FRAMES);
    CHECK_EQ_INT(tailring_take(r, 40 - TAILRING_FRAMES, fake_build, &fk, &t, &bound), 1);
    evframe_decref(t.f);
    /* Frames bigger than the byte bound: only the newest stays. */
    fk.frame_len = TAILRING_BYTES / 2 + 1;
    CHECK_EQ_INT(tailring_take(r, 40, fake_build, &fk, &t, &bound), 1);
    evframe_decref(t.f);
    CHECK_EQ_INT(tailring_take(r, 41, fake_build, &fk, &t, &bound), 1);
    evframe_decref(t.f);
    CHECK_EQ_INT(tailring_take(r, 40, fake_build, &fk, &t, &bound), -ENOENT);
    CHECK(bound == 41);
    CHECK_EQ_INT(tailring_take(r, 39, fake_build, &fk, &t, &bound), -ENOENT);
    tailring_put(r);
}

/* ---- four threads, one growing log ---- */

#define THREADS 4
#define LOG_END 20000u

struct follower {
    struct tailring *r;
    struct fake *fk;
    uint64_t boundaries[LOG_END + 1]; /* boundaries[p] = 1 when a taken frame started at p */
    unsigned frames, self_reads;
    bool gap; /* a position skipped or repeated */
};

static void *follow(void *arg)
{
    struct follower *fo = arg;
    uint64_t pos = 0;
    for (unsigned spins = 0; pos < LOG_END && spins < 50000000u; spins++) {
        struct tailframe t;
        uint64_t bound = 0;
        int rc = tailring_take(fo->r, pos, fake_build, fo->fk, &t, &bound);
        if (rc == 1) {
            fo->gap |= t.from != pos || t.to <= pos;
            fo->boundaries[pos] = 1;
            pos = t.to;
            fo->frames++;
            evframe_decref(t.f);
        } else if (rc == -ENOENT) {
            fo->gap |= bound <= pos;
            pos = bound; /* "read [pos, bound) for yourself" */
            fo->self_reads++;
        }
    }
    fo->gap |= pos != LOG_END;
    return NULL;
}

static void *produce(void *arg)
{
    struct fake *fk = arg;
    for (uint64_t e = 0; e < LOG_END; e += 7) {
        atomic_store(&fk->end, SC_MIN(e + 7, (uint64_t)LOG_END));
        for (volatile int i = 0; i < 2000; i++)
            ;
    }
    return NULL;
}

static void threads_round(uint64_t batch)
{
    static struct fake fk;
    memset(&fk, 0, sizeof(fk));
    fk.batch = batch;
    fk.frame_len = 64;
    fk.result = 1;
    atomic_init(&fk.end, 0);
    atomic_init(&fk.builds, 0);
    static struct follower fo[THREADS];
    pthread_t th[THREADS], prod;
    struct tailring *r = tailring_get(&fk);
    for (int i = 0; i < THREADS; i++) {
        memset(&fo[i], 0, sizeof(fo[i]));
        fo[i].r = r;
        fo[i].fk = &fk;
        CHECK(pthread_create(&th[i], NULL, follow, &fo[i]) == 0);
    }
    CHECK(pthread_create(&prod, NULL, produce, &fk) == 0);
    pthread_join(prod, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    unsigned distinct = 0, self = 0;
    for (uint64_t p = 0; p < LOG_END; p++) {
        unsigned seen = 0;
        for (int i = 0; i < THREADS; i++)
            seen += (unsigned)fo[i].boundaries[p];
        distinct += seen > 0;
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(!fo[i].gap);
        self += fo[i].self_reads;
    }
    /* Every frame any thread took was built exactly once. */
    CHECK_EQ_INT(atomic_load(&fk.builds), distinct);
    /* Threads that never fell behind took the very same frames. */
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < THREADS; j++)
            if (fo[i].self_reads == 0 && fo[j].self_reads == 0)
                CHECK(memcmp(fo[i].boundaries, fo[j].boundaries, sizeof(fo[i].boundaries)) == 0);
    fprintf(stderr, "  batch %llu: %u frames built for %d threads, %u self reads\n",
            (unsigned long long)batch, distinct, THREADS, self);
    tailring_put(r);
}

static void test_threads_share_boundaries(void)
{
    threads_round(50);
    threads_round(5);
    threads_round(1);
}

int main(void)
{
    TEST_RUN(test_build_once_and_boundaries);
    TEST_RUN(test_bounds);
    TEST_RUN(test_threads_share_boundaries);
    TEST_EXIT();
}
