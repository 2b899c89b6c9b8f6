/* Append throughput micro-benchmark: 100-byte records (136 base64 chars) with a 10-byte partition
 * key, batches of 100, durability INTERVAL (1 s), up to 32 batches in flight per thread.
 * Under ctest it runs a tiny size as a smoke test; for a real number build without sanitizers and
 * run with SHARDCAST_BENCH_RECORDS=2000000 (optionally SHARDCAST_BENCH_THREADS=2,
 * SHARDCAST_BENCH_SYNC=always|interval|never). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/common.h"
#include "shards/shardlog.h"
#include "tests/test.h"

enum { BATCH = 100, INFLIGHT = 32 };

struct bench_thread {
    struct shardlog *log;
    long records;
    long acked;
    int errors;
    bool fallback;
};

static void on_ack(void *arg, int err, uint64_t first, uint32_t count, int64_t ms)
{
    (void)first;
    (void)ms;
    struct bench_thread *t = arg;
    if (err != 0)
        t->errors++;
    t->acked += count;
}

static void *run(void *arg)
{
    struct bench_thread *t = arg;
    int err;
    struct sio *s = sio_create(256, t->fallback, &err);
    ASSERT(s != NULL);
    char data[137];
    memset(data, 'A', 136);
    data[136] = '\0';
    char keys[BATCH][16];
    struct record_in recs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key-%06d", i);
        recs[i] = (struct record_in){data, 136, keys[i], 10};
    }
    long sent = 0;
    for (long guard = 0; t->acked < t->records && guard < 100000000; guard++) {
        while (sent < t->records && sent - t->acked < (long)BATCH * INFLIGHT) {
            int rc = shardlog_append(t->log, s, recs, BATCH, on_ack, t);
            if (rc == -ENOBUFS)
                break;
            ASSERT(rc == 0);
            sent += BATCH;
        }
        struct pollfd p = {.fd = sio_fd(s), .events = POLLIN};
        poll(&p, 1, 10);
        sio_run_completions(s);
    }
    sio_drain(s, 5000);
    sio_destroy(s);
    return NULL;
}

static double bench(const char *dir, int threads, long records, bool fallback)
{
    const char *mode = getenv("SHARDCAST_BENCH_SYNC");
    enum shardlog_durability d = SHARDLOG_SYNC_INTERVAL;
    if (mode != NULL && strcmp(mode, "always") == 0)
        d = SHARDLOG_SYNC_ALWAYS;
    else if (mode != NULL && strcmp(mode, "never") == 0)
        d = SHARDLOG_SYNC_NEVER;
    struct shardlog_config cfg = {.dir = dir, .shard_secs = 1700000000, .shard_index = 0,
                                  .durability = d};
    struct shardlog *log;
    ASSERT(shardlog_open(&cfg, &log) == 0);
    struct bench_thread t[4];
    pthread_t th[4];
    uint64_t t0 = clock_mono_ns();
    for (int i = 0; i < threads; i++) {
        t[i] = (struct bench_thread){log, records / threads, 0, 0, fallback};
        pthread_create(&th[i], NULL, run, &t[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(t[i].errors, 0);
        total += t[i].acked;
    }
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    CHECK_EQ_INT(shardlog_end(log), total);
    shardlog_close(log);
    return (double)total / secs;
}

static void bench_encode(long n)
{
    char out[SEQNUM_BUF];
    struct seqnum_fields f = {1700000000, 5, 0, 1700000000};
    uint64_t t0 = clock_mono_ns();
    unsigned sink = 0;
    for (long i = 0; i < n; i++) {
        f.counter = (uint64_t)i;
        seqnum_encode(out, &f);
        sink += (unsigned char)out[55];
    }
    double ns = (double)(clock_mono_ns() - t0) / (double)n;
    fprintf(stderr, "seqnum_encode: %.0f ns/op (sink %u)\n", ns, sink);
}

int main(void)
{
    const char *env = getenv("SHARDCAST_BENCH_RECORDS");
    long records = env ? atol(env) : 20000;
    const char *tenv = getenv("SHARDCAST_BENCH_THREADS");
    int threads = tenv ? SC_MAX(1, SC_MIN(4, atoi(tenv))) : 1;
    char root[] = "/tmp/sc_bench.XXXXXX";
    if (mkdtemp(root) == NULL)
        return 1;
    bench_encode(records);
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/uring", root);
    double r1 = bench(dir, threads, records, false);
    snprintf(dir, sizeof(dir), "%s/fallback", root);
    double r2 = bench(dir, threads, records, true);
    fprintf(stderr, "append 100 B records, %d thread(s), %ld records: io_uring %.0f rec/s, "
                    "pread/pwrite %.0f rec/s\n",
            threads, records, r1, r2);
    if (test_rmrf(root) != 0)
        return 1;
    CHECK(r1 > 0 && r2 > 0);
    TEST_EXIT();
}
