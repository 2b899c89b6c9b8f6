#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/crc32.h"
#include "shards/shardlog.h"
#include "tests/test.h"

static bool fallback;
static char root[256];
static int dirno;

/* Runs sio completions until *done or 5 s pass. */
static void pump(struct sio *s, const int *done, int want)
{
    for (int i = 0; i < 500 && *done < want; i++) {
        struct pollfd p = {.fd = sio_fd(s), .events = POLLIN};
        poll(&p, 1, 10);
        sio_run_completions(s);
    }
}

struct ack {
    int done, err;
    uint64_t first;
    uint32_t count;
    int64_t ms;
    uint64_t durable_at_cb, written_at_cb;
    struct shardlog *log;
};

static void on_ack(void *arg, int err, uint64_t first, uint32_t count, int64_t ms)
{
    struct ack *a = arg;
    a->err = err;
    a->first = first;
    a->count = count;
    a->ms = ms;
    a->durable_at_cb = shardlog_durable(a->log);
    a->written_at_cb = shardlog_written(a->log);
    a->done++;
}

struct got {
    int done, err;
    struct shardlog_batch *b;
};

static void on_batch(void *arg, int err, struct shardlog_batch *b)
{
    struct got *g = arg;
    g->err = err;
    g->b = b;
    g->done++;
}

static struct shardlog *open_log(enum shardlog_durability d, uint64_t seg_max, size_t tail_max,
                                 char *dir_out)
{
    if (dir_out[0] == '\0')
        snprintf(dir_out, 512, "%s/streams/s%d/shardId-000000000003", root, dirno++);
    struct shardlog_config cfg = {.dir = dir_out, .shard_secs = 1700000000, .shard_index = 3,
                                  .durability = d, .sync_interval_ms = 5,
                                  .segment_bytes_max = seg_max, .tail_bytes_max = tail_max,
                                  .block_bytes = 4096};
    struct shardlog *log = NULL;
    CHECK_EQ_INT(shardlog_open(&cfg, &log), 0);
    return log;
}

static struct sio *new_sio(void)
{
    int err;
    struct sio *s = sio_create(64, fallback, &err);
    ASSERT(s != NULL);
    CHECK(sio_uses_uring(s) == !fallback || fallback == false);
    return s;
}

/* Appends n records with keys "<tag>-<i>" one call of up to 100 at a time; waits for acks. */
static uint64_t append_n(struct shardlog *log, struct sio *s, const char *tag, int n)
{
    char keys[100][32];
    struct record_in recs[100];
    uint64_t first = UINT64_MAX;
    for (int i = 0; i < n;) {
        int k = SC_MIN(100, n - i);
        for (int j = 0; j < k; j++) {
            snprintf(keys[j], sizeof(keys[j]), "%s-%d", tag, i + j);
            recs[j] = (struct record_in){"QUJDRA==", 8, keys[j], strlen(keys[j])};
        }
        struct ack a = {.log = log};
        CHECK_EQ_INT(shardlog_append(log, s, recs, (uint32_t)k, on_ack, &a), 0);
        pump(s, &a.done, 1);
        CHECK_EQ_INT(a.done, 1);
        CHECK_EQ_INT(a.err, 0);
        CHECK_EQ_INT(a.count, k);
        if (first == UINT64_MAX)
            first = a.first;
        i += k;
    }
    return first;
}

static struct shardlog_batch *read_sync(struct shardlog *log, struct sio *s, uint64_t from,
                                        uint32_t max_records, int64_t min_ms)
{
    struct got g = {0};
    struct shardlog_read_req q = {from, min_ms, max_records, 1u << 20};
    CHECK_EQ_INT(shardlog_read(log, s, &q, on_batch, &g), 0);
    CHECK_EQ_INT(g.done, 0); /* never inside the call */
    pump(s, &g.done, 1);
    CHECK_EQ_INT(g.done, 1);
    CHECK_EQ_INT(g.err, 0);
    return g.b;
}

/* Checks slice i is the JSON of key "<tag>-<n>" at position pos. */
static void check_slice(struct shardlog *log, const struct shardlog_slice *sl, uint64_t pos,
                        const char *key)
{
    CHECK_EQ_INT(sl->position, pos);
    CHECK_EQ_INT(crc32_update(0, sl->wire, sl->len), sl->wire_crc);
    char seq[SEQNUM_BUF], want[256];
    shardlog_seqnum(log, pos, sl->arrival_ms, seq);
    char ts[32];
    ts[record_format_ts(ts, sl->arrival_ms)] = '\0';
    snprintf(want, sizeof(want),
             "{\"SequenceNumber\":\"%s\",\"ApproximateArrivalTimestamp\":%s,\"Data\":\"QUJDRA==\","
             "\"PartitionKey\":\"%s\"}",
             seq, ts, key);
    CHECK(sl->len == strlen(want) && memcmp(sl->wire, want, sl->len) == 0);
    CHECK_EQ_INT(sl->data_len, 4);
}

/* Append, read from memory, reopen, read from disk (several segments), blocks shared by readers. */
static void test_append_read_reopen(void)
{
    char dir[512] = "";
    struct sio *s = new_sio();
    struct shardlog *log = open_log(SHARDLOG_SYNC_INTERVAL, 16384, 16384, dir);
    CHECK_EQ_INT(shardlog_end(log), 0);
    CHECK_EQ_INT(append_n(log, s, "a", 700), 0);
    CHECK_EQ_INT(shardlog_end(log), 700);
    shardlog_check(log);
    /* Near the tail: from memory. */
    struct shardlog_batch *b = read_sync(log, s, 695, 100, 0);
    CHECK_EQ_INT(b->count, 5);
    CHECK_EQ_INT(b->next_position, 700);
    CHECK_EQ_INT(b->end_position, 700);
    for (uint32_t i = 0; i < b->count; i++) {
        char key[32];
        snprintf(key, sizeof(key), "a-%u", 695 + i);
        check_slice(log, &b->slices[i], 695 + i, key);
    }
    shardlog_batch_free(b);
    /* Old positions were pushed out of the 16 KiB tail: from disk, walking every record. */
    uint64_t pos = 0;
    for (int guard = 0; guard < 1000 && pos < 700; guard++) {
        b = read_sync(log, s, pos, 37, 0);
        CHECK(b->count > 0);
        for (uint32_t i = 0; i < b->count; i++) {
            char key[32];
            snprintf(key, sizeof(key), "a-%llu", (unsigned long long)(pos + i));
            check_slice(log, &b->slices[i], pos + i, key);
        }
        pos = b->next_position;
        shardlog_batch_free(b);
    }
    CHECK_EQ_INT(pos, 700);
    b = read_sync(log, s, 700, 10, 0);
    CHECK_EQ_INT(b->count, 0);
    CHECK_EQ_INT(b->next_position, 700);
    shardlog_batch_free(b);
    /* Two readers of the same old range share one block. */
    struct shardlog_batch *b1 = read_sync(log, s, 10, 3, 0), *b2 = read_sync(log, s, 11, 3, 0);
    CHECK(b1->nblocks == 1 && b2->nblocks == 1 && b1->blocks[0] == b2->blocks[0]);
    shardlog_batch_free(b1);
    shardlog_batch_free(b2);
    /* The periodic retention call deletes nothing young and saves finished segments' indexes. */
    CHECK_EQ_INT(shardlog_enforce_retention(log, clock_now_ms(), 3600 * 1000), 0);
    char idx[600];
    struct stat st;
    snprintf(idx, sizeof(idx), "%s/%020d.idx", dir, 0);
    CHECK_EQ_INT(stat(idx, &st), 0);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);

    log = open_log(SHARDLOG_SYNC_INTERVAL, 16384, 16384, dir);
    CHECK_EQ_INT(shardlog_end(log), 700);
    CHECK_EQ_INT(shardlog_trim_horizon(log), 0);
    b = read_sync(log, s, 350, 1000, 0);
    CHECK(b->count > 0 && b->count < 350); /* bounded by the read block */
    check_slice(log, &b->slices[0], 350, "a-350");
    shardlog_batch_free(b);
    CHECK_EQ_INT(append_n(log, s, "b", 1), 700);
    b = read_sync(log, s, 699, 10, 0);
    CHECK_EQ_INT(b->count, 2);
    check_slice(log, &b->slices[1], 700, "b-0");
    shardlog_batch_free(b);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);
    sio_destroy(s);
}

/* A torn last record (kill -9 mid-write) is cut at reopen; appends continue after it. */
static void test_recover_torn(void)
{
    char dir[512] = "";
    struct sio *s = new_sio();
    struct shardlog *log = open_log(SHARDLOG_SYNC_NEVER, 0, 0, dir);
    append_n(log, s, "t", 10);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);
    char path[600];
    snprintf(path, sizeof(path), "%s/%020d.seg", dir, 0);
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(truncate(path, st.st_size - 7), 0);
    log = open_log(SHARDLOG_SYNC_NEVER, 0, 0, dir);
    CHECK_EQ_INT(shardlog_end(log), 9);
    CHECK_EQ_INT(append_n(log, s, "u", 1), 9);
    struct shardlog_batch *b = read_sync(log, s, 8, 10, 0);
    CHECK_EQ_INT(b->count, 2);
    check_slice(log, &b->slices[0], 8, "t-8");
    check_slice(log, &b->slices[1], 9, "u-0");
    shardlog_batch_free(b);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);
    sio_destroy(s);
}

static void test_durability_modes(void)
{
    enum shardlog_durability modes[] = {SHARDLOG_SYNC_ALWAYS, SHARDLOG_SYNC_INTERVAL,
                                        SHARDLOG_SYNC_NEVER};
    for (unsigned m = 0; m < 3; m++) {
        char dir[512] = "";
        struct sio *s = new_sio();
        struct shardlog *log = open_log(modes[m], 0, 0, dir);
        struct record_in r = {"QUJDRA==", 8, "k", 1};
        struct ack a = {.log = log};
        CHECK_EQ_INT(shardlog_append(log, s, &r, 1, on_ack, &a), 0);
        CHECK_EQ_INT(a.done, 0);
        pump(s, &a.done, 1);
        CHECK_EQ_INT(a.done, 1);
        CHECK_EQ_INT(a.err, 0);
        CHECK(a.written_at_cb >= 1);
        if (modes[m] == SHARDLOG_SYNC_ALWAYS)
            CHECK(a.durable_at_cb >= 1);
        if (modes[m] == SHARDLOG_SYNC_INTERVAL) {
            /* Idle: the periodic tick makes it durable. The tick starts the sync (1), or finds
             * the writer still busy (0): a write that outlasted the 5 ms interval (the new
             * segment's directory syncs come first) queued the sync itself. Either way it is
             * durable once the ring is drained. */
            usleep(6000);
            (void)shardlog_tick(log, s);
            CHECK_EQ_INT(sio_drain(s, 2000), 0);
            CHECK_EQ_INT(shardlog_durable(log), 1);
        }
        if (modes[m] == SHARDLOG_SYNC_NEVER) {
            CHECK_EQ_INT(shardlog_tick(log, s), 0);
            CHECK_EQ_INT(shardlog_durable(log), 0);
        }
        CHECK_EQ_INT(sio_drain(s, 2000), 0);
        shardlog_check(log);
        shardlog_close(log);
        sio_destroy(s);
    }
}

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static int fds_at_ack;

static int count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, ".seg") != NULL;
    closedir(d);
    return n;
}

static void on_ack_fds(void *arg, int err, uint64_t first, uint32_t count, int64_t ms)
{
    fds_at_ack = count_fds();
    on_ack(arg, err, first, count, ms);
}

/* A segment roll inside an append does not sync the directory on the appending thread: the
 * directory stays open (one more fd) until the writer's fsync of it, which comes before the
 * first write into the new segment, so before the ack (durability ALWAYS: after the new
 * segment's write and fdatasync). After a reopen every record is there. */
static void test_roll_syncs_directory_off_append(void)
{
    char dir[512] = "";
    struct sio *s = new_sio();
    struct shardlog *log = open_log(SHARDLOG_SYNC_ALWAYS, 1024, 0, dir);
    append_n(log, s, "fill", 5); /* ~100 B each: the 1 KiB segment has room */
    int base = count_fds(), segs_before = count_segments(dir);
    char keys[20][16];
    struct record_in recs[20];
    for (int j = 0; j < 20; j++) {
        snprintf(keys[j], sizeof(keys[j]), "roll-%d", j);
        recs[j] = (struct record_in){"QUJDRA==", 8, keys[j], strlen(keys[j])};
    }
    struct ack a = {.log = log};
    CHECK_EQ_INT(shardlog_append(log, s, recs, 20, on_ack_fds, &a), 0);
    /* The rolls happened in the call (20 x ~100 B over 1 KiB segments); their directory
     * syncs did not: each new segment holds the directory open (a second fd) until the
     * writer has synced it. */
    int rolled = count_segments(dir) - segs_before;
    CHECK(rolled >= 2);
    CHECK_EQ_INT(count_fds() - base, 2 * rolled);
    pump(s, &a.done, 1);
    CHECK_EQ_INT(a.done, 1);
    CHECK_EQ_INT(a.err, 0);
    CHECK_EQ_INT(a.count, 20);
    CHECK(a.durable_at_cb >= a.first + 20);
    /* By the ack every new segment's directory entry was synced and the directory closed:
     * what is left open is the new segments' own fds. */
    CHECK_EQ_INT(fds_at_ack - base, rolled);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);
    log = open_log(SHARDLOG_SYNC_ALWAYS, 1024, 0, dir);
    CHECK_EQ_INT(shardlog_end(log), 25);
    for (uint64_t pos = 5; pos < 25;) { /* from disk, several segments */
        struct shardlog_batch *b = read_sync(log, s, pos, 100, 0);
        CHECK(b->count > 0);
        for (uint32_t i = 0; i < b->count && pos + i < 25; i++)
            check_slice(log, &b->slices[i], pos + i, keys[pos + i - 5]);
        pos += b->count ? b->count : 25;
        shardlog_batch_free(b);
    }
    shardlog_close(log);
    sio_destroy(s);
}

/* A new log's first segment: opening it syncs nothing (it runs under the shard table's lock
 * on a worker); the segment holds its directory and that directory's parent open (the shard's
 * directory was just made) until the writer has synced both, before the first ack. */
static void test_first_segment_syncs_directories_off_open(void)
{
    char dir[512] = "";
    struct sio *s = new_sio();
    int base = count_fds();
    struct shardlog *log = open_log(SHARDLOG_SYNC_ALWAYS, 0, 0, dir);
    CHECK_EQ_INT(count_fds() - base, 3); /* the segment, its directory, the parent */
    struct record_in r = {"QUJDRA==", 8, "first", 5};
    struct ack a = {.log = log};
    CHECK_EQ_INT(shardlog_append(log, s, &r, 1, on_ack_fds, &a), 0);
    pump(s, &a.done, 1);
    CHECK_EQ_INT(a.err, 0);
    CHECK(a.durable_at_cb >= 1);
    CHECK_EQ_INT(fds_at_ack - base, 1);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);
    CHECK_EQ_INT(count_fds(), base);
    log = open_log(SHARDLOG_SYNC_ALWAYS, 0, 0, dir);
    CHECK_EQ_INT(shardlog_end(log), 1);
    CHECK_EQ_INT(count_fds() - base, 1); /* an existing segment: nothing left to sync */
    shardlog_close(log);
    /* Opened and closed without a record: the held directories are closed, not leaked. */
    char dir2[512] = "";
    log = open_log(SHARDLOG_SYNC_ALWAYS, 0, 0, dir2);
    shardlog_close(log);
    CHECK_EQ_INT(count_fds(), base);
    sio_destroy(s);
}

struct thr {
    struct shardlog *log;
    int id, n;
    uint64_t *positions; /* per appended record, in append order */
    int failures;
};

static void on_thr_ack(void *arg, int err, uint64_t first, uint32_t count, int64_t ms)
{
    (void)ms;
    uint64_t **slot = arg;
    if (err == 0)
        for (uint32_t i = 0; i < count; i++)
            (*slot)[i] = first + i;
    *slot = NULL; /* marks done */
}

static void *appender(void *arg)
{
    struct thr *t = arg;
    int err;
    struct sio *s = sio_create(64, fallback, &err); /* no CHECK here: not thread-safe */
    ASSERT(s != NULL);
    char keys[10][32];
    struct record_in recs[10];
    for (int i = 0; i < t->n; i += 10) {
        for (int j = 0; j < 10; j++) {
            snprintf(keys[j], sizeof(keys[j]), "t%d-%d", t->id, i + j);
            recs[j] = (struct record_in){"QUJDRA==", 8, keys[j], strlen(keys[j])};
        }
        uint64_t *slot = &t->positions[i];
        int rc;
        int tries = 0;
        while ((rc = shardlog_append(t->log, s, recs, 10, on_thr_ack, &slot)) == -ENOBUFS &&
               tries++ < 1000)
            sio_run_completions(s);
        if (rc != 0) {
            t->failures++;
            break;
        }
        for (int k = 0; k < 1000 && slot != NULL; k++) {
            struct pollfd p = {.fd = sio_fd(s), .events = POLLIN};
            poll(&p, 1, 5);
            sio_run_completions(s);
        }
        if (slot != NULL)
            t->failures++;
    }
    /* This thread may still hold the writer role with an op in flight. */
    for (int k = 0; k < 400 && sio_inflight(s) > 0; k++) {
        struct pollfd p = {.fd = sio_fd(s), .events = POLLIN};
        poll(&p, 1, 5);
        sio_run_completions(s);
    }
    sio_destroy(s);
    return NULL;
}

static void test_concurrent_appends(void)
{
    char dir[512] = "";
    struct shardlog *log = open_log(SHARDLOG_SYNC_INTERVAL, 65536, 16384, dir);
    enum { N = 3000 };
    struct thr t[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        t[i] = (struct thr){log, i, N, calloc(N, sizeof(uint64_t)), 0};
        pthread_create(&th[i], NULL, appender, &t[i]);
    }
    /* Meanwhile read behind the appenders: tail blocks are released under us, reads switch
     * between memory and disk; every record must come in order with a good CRC. */
    struct sio *rs = new_sio();
    uint64_t rpos = 0;
    for (int guard = 0; guard < 20000 && rpos < 2 * N; guard++) {
        struct shardlog_batch *b = read_sync(log, rs, rpos, 50, 0);
        for (uint32_t i = 0; i < b->count; i++) {
            CHECK_EQ_INT(b->slices[i].position, rpos + i);
            CHECK_EQ_INT(crc32_update(0, b->slices[i].wire, b->slices[i].len), b->slices[i].wire_crc);
        }
        if (b->count == 0)
            usleep(1000); /* caught up with the appenders */
        rpos = b->next_position;
        shardlog_batch_free(b);
    }
    CHECK_EQ_INT(rpos, 2 * N);
    CHECK_EQ_INT(sio_drain(rs, 2000), 0);
    sio_destroy(rs);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(t[0].failures + t[1].failures, 0);
    CHECK_EQ_INT(shardlog_end(log), 2 * N);
    CHECK_EQ_INT(shardlog_written(log), 2 * N);
    shardlog_check(log);
    /* Unique positions; each thread's records in its append order. */
    char *seen = calloc(2 * N, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < N; j++) {
            uint64_t p = t[i].positions[j];
            CHECK(p < 2 * N && !seen[p]);
            if (p < 2 * N)
                seen[p] = 1;
            if (j > 0)
                CHECK(p > t[i].positions[j - 1]);
        }
    /* Read everything back and match the keys to the positions. */
    struct sio *s = new_sio();
    uint64_t pos = 0;
    for (int guard = 0; guard < 5000 && pos < 2 * N; guard++) {
        struct shardlog_batch *b = read_sync(log, s, pos, 500, 0);
        if (b->count == 0) {
            shardlog_batch_free(b);
            break;
        }
        for (uint32_t i = 0; i < b->count; i++) {
            const struct shardlog_slice *sl = &b->slices[i];
            const char *k = memmem(sl->wire, sl->len, "\"PartitionKey\":\"t", 17);
            CHECK(k != NULL);
            if (k == NULL)
                continue;
            int id = 0, j = 0;
            sscanf(k + 17, "%d-%d", &id, &j);
            CHECK(id >= 0 && id < 2 && j >= 0 && j < N && t[id].positions[j] == sl->position);
        }
        pos = b->next_position;
        shardlog_batch_free(b);
    }
    CHECK_EQ_INT(pos, 2 * N);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    sio_destroy(s);
    free(seen);
    free(t[0].positions);
    free(t[1].positions);
    shardlog_close(log);
}

struct seekres {
    int done, err;
    uint64_t pos;
};

static void on_seek(void *arg, int err, uint64_t position)
{
    struct seekres *sr = arg;
    sr->err = err;
    sr->pos = position;
    sr->done++;
}

/* Whole old segments go; the trim horizon follows; reads below it start at it. */
static void test_retention_and_time(void)
{
    char dir[512] = "";
    struct sio *s = new_sio();
    struct shardlog *log = open_log(SHARDLOG_SYNC_NEVER, 8192, 8192, dir);
    int64_t t0 = clock_now_ms();
    append_n(log, s, "old", 300); /* several 8 KiB segments */
    clock_advance_ms(3600 * 1000);
    int64_t t1 = clock_now_ms();
    uint64_t first_new = append_n(log, s, "new", 300);
    CHECK_EQ_INT(first_new, 300);
    /* Time lookup: first record at or after t. */
    struct seekres sr = {0};
    CHECK_EQ_INT(shardlog_seek_time(log, s, t1 - 1000, on_seek, &sr), 0);
    pump(s, &sr.done, 1);
    CHECK_EQ_INT(sr.err, 0);
    CHECK_EQ_INT(sr.pos, 300);
    sr.done = 0;
    shardlog_seek_time(log, s, t0 - 5000, on_seek, &sr);
    pump(s, &sr.done, 1);
    CHECK_EQ_INT(sr.pos, 0);
    sr.done = 0;
    shardlog_seek_time(log, s, t1 + 100000, on_seek, &sr);
    pump(s, &sr.done, 1);
    CHECK_EQ_INT(sr.pos, 600);
    struct shardlog_batch *b = read_sync(log, s, 0, 5, t1 - 1000);
    CHECK(b->count == 5 && b->slices[0].position == 300);
    shardlog_batch_free(b);
    CHECK_EQ_INT(shardlog_last_arrival_ms(log) >= t1, 1);

    int deleted = shardlog_enforce_retention(log, clock_now_ms(), 1800 * 1000);
    CHECK(deleted >= 2);
    uint64_t trim = shardlog_trim_horizon(log);
    CHECK(trim > 0 && trim <= 300);
    b = read_sync(log, s, 0, 1, 0);
    CHECK_EQ_INT(b->count, 1);
    CHECK_EQ_INT(b->slices[0].position, trim);
    shardlog_batch_free(b);
    /* Nothing newer goes; the active segment always stays. */
    CHECK_EQ_INT(shardlog_enforce_retention(log, clock_now_ms(), 1800 * 1000), 0);
    clock_advance_ms(48 * 3600 * 1000);
    CHECK(shardlog_enforce_retention(log, clock_now_ms(), 24 * 3600 * 1000) >= 1);
    CHECK_EQ_INT(shardlog_end(log), 600);
    CHECK(shardlog_trim_horizon(log) < 600);
    shardlog_check(log);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);
    sio_destroy(s);
}


struct watched {
    int calls;
    uint64_t end;
    bool sealed;
};

static void on_watch(void *arg, uint64_t end, bool sealed)
{
    struct watched *w = arg;
    w->calls++;
    w->end = end;
    w->sealed = sealed;
}

static void test_watch_and_seal(void)
{
    char dir[512] = "";
    struct sio *s = new_sio();
    struct shardlog *log = open_log(SHARDLOG_SYNC_INTERVAL, 0, 0, dir);
    struct watched w = {0};
    uint64_t end_now = 99;
    int h = shardlog_watch_add(log, on_watch, &w, &end_now);
    CHECK(h >= 0);
    CHECK_EQ_INT(end_now, 0);
    struct record_in r = {"QUJDRA==", 8, "k", 1};
    struct ack a = {.log = log};
    CHECK_EQ_INT(shardlog_append(log, s, &r, 1, on_ack, &a), 0);
    /* Visible to watchers before the ack. */
    CHECK_EQ_INT(w.calls, 1);
    CHECK_EQ_INT(w.end, 1);
    CHECK_EQ_INT(a.done, 0);
    pump(s, &a.done, 1);
    uint64_t ending = 0;
    CHECK_EQ_INT(shardlog_seal(log, &ending), 0);
    CHECK_EQ_INT(ending, 1);
    CHECK(w.sealed && w.calls == 2);
    CHECK_EQ_INT(shardlog_append(log, s, &r, 1, on_ack, &a), -EPIPE);
    struct shardlog_batch *b = read_sync(log, s, 0, 10, 0);
    CHECK_EQ_INT(b->count, 1);
    CHECK(b->sealed_end);
    shardlog_batch_free(b);
    shardlog_watch_remove(log, h);
    int hs[SHARDLOG_WATCHES_MAX];
    for (int i = 0; i < SHARDLOG_WATCHES_MAX; i++)
        hs[i] = shardlog_watch_add(log, on_watch, &w, &end_now);
    CHECK_EQ_INT(shardlog_watch_add(log, on_watch, &w, &end_now), -ENOSPC);
    for (int i = 0; i < SHARDLOG_WATCHES_MAX; i++)
        shardlog_watch_remove(log, hs[i]);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);
    sio_destroy(s);
}

/* Bytes that rot on disk while running are caught by the read path's CRC check. */
static void test_disk_corruption_detected(void)
{
    char dir[512] = "";
    struct sio *s = new_sio();
    struct shardlog *log = open_log(SHARDLOG_SYNC_NEVER, 8192, 8192, dir);
    append_n(log, s, "c", 400);
    char path[600];
    snprintf(path, sizeof(path), "%s/%020d.seg", dir, 0);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    char c = 'Z';
    CHECK(pwrite(fd, &c, 1, 200) == 1);
    close(fd);
    struct got g = {0};
    struct shardlog_read_req q = {0, 0, 100, 1u << 20};
    shardlog_read(log, s, &q, on_batch, &g);
    pump(s, &g.done, 1);
    CHECK_EQ_INT(g.done, 1);
    CHECK_EQ_INT(g.err, -EBADMSG);
    CHECK(g.b == NULL);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    shardlog_close(log);
    sio_destroy(s);
}

static void run_all(void)
{
    TEST_RUN(test_append_read_reopen);
    TEST_RUN(test_recover_torn);
    TEST_RUN(test_durability_modes);
    TEST_RUN(test_roll_syncs_directory_off_append);
    TEST_RUN(test_first_segment_syncs_directories_off_open);
    TEST_RUN(test_concurrent_appends);
    TEST_RUN(test_retention_and_time);
    TEST_RUN(test_watch_and_seal);
    TEST_RUN(test_disk_corruption_detected);
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/sc_shardlog_test.XXXXXX");
    if (mkdtemp(root) == NULL)
        return 1;
    int err;
    struct sio *probe = sio_create(8, false, &err);
    fprintf(stderr, "pass 1: %s\n", sio_uses_uring(probe) ? "io_uring" : "fallback (no io_uring)");
    sio_destroy(probe);
    run_all();
    fallback = true;
    fprintf(stderr, "pass 2: forced pread/pwrite fallback\n");
    run_all();
    test_rmrf(root);
    TEST_EXIT();
}
