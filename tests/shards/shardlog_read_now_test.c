/* shardlog_read_now_test — the synchronous tail read returns exactly what shardlog_read delivers
 * for positions in the memory tail and at the end, and declines (0, nothing allocated) once the
 * position has left memory, so the hub falls back to the asynchronous read. */
#include <unistd.h>

#include "common/common.h"
#include "shards/shardlog.h"
#include "tests/test.h"

static char root[256];

static void on_ack(void *arg, int err, uint64_t first, uint32_t count, int64_t ms)
{
    (void)first, (void)count, (void)ms;
    *(int *)arg += err == 0 ? 1 : 1000;
}

struct got {
    int done;
    struct shardlog_batch *b;
};

static void on_batch(void *arg, int err, struct shardlog_batch *b)
{
    struct got *g = arg;
    g->done = err == 0 ? 1 : -1;
    g->b = b;
}

static void same_batch(const struct shardlog_batch *a, const struct shardlog_batch *b)
{
    CHECK_EQ_INT(a->count, b->count);
    CHECK_EQ_INT(a->next_position, b->next_position);
    CHECK_EQ_INT(a->end_position, b->end_position);
    CHECK_EQ_INT(a->sealed_end, b->sealed_end);
    for (uint32_t i = 0; i < a->count && i < b->count; i++) {
        CHECK_EQ_INT(a->slices[i].position, b->slices[i].position);
        CHECK_EQ_INT(a->slices[i].wire_crc, b->slices[i].wire_crc);
        CHECK(a->slices[i].len == b->slices[i].len &&
              memcmp(a->slices[i].wire, b->slices[i].wire, a->slices[i].len) == 0);
    }
}

static void test_read_now(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/streams/s/shardId-000000000000", root);
    /* A small tail: later appends push the first blocks out of memory. */
    struct shardlog_config cfg = {.dir = dir, .shard_secs = 1700000000,
                                  .durability = SHARDLOG_SYNC_NEVER, .block_bytes = 4096,
                                  .tail_bytes_max = 64 * 1024};
    struct shardlog *log = NULL;
    CHECK_EQ_INT(shardlog_open(&cfg, &log), 0);
    int err;
    struct sio *s = sio_create(16, false, &err);
    ASSERT(s != NULL);
    char data[300];
    memset(data, 'A', sizeof(data));
    struct record_in r = {data, sizeof(data), "k", 1};
    int acks = 0;
    CHECK_EQ_INT(shardlog_append(log, s, &r, 1, on_ack, &acks), 0);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);

    struct shardlog_read_req q = {0, 0, 100, 1 << 20};
    struct shardlog_batch *now = NULL;
    CHECK_EQ_INT(shardlog_read_now(log, &q, &now), 1);
    struct got g = {0};
    shardlog_read(log, s, &q, on_batch, &g);
    CHECK_EQ_INT(sio_drain(s, 2000), 0);
    CHECK_EQ_INT(g.done, 1);
    if (now != NULL && g.b != NULL) {
        CHECK_EQ_INT(now->count, 1);
        same_batch(now, g.b);
    }
    shardlog_batch_free(now);
    shardlog_batch_free(g.b);

    struct shardlog_read_req at_end = {1, 0, 100, 1 << 20};
    now = NULL;
    CHECK_EQ_INT(shardlog_read_now(log, &at_end, &now), 1);
    CHECK(now != NULL && now->count == 0 && now->next_position == 1 && now->end_position == 1);
    shardlog_batch_free(now);

    /* ~1 MiB more: position 0 is only on disk now. */
    int refused = 0;
    for (int i = 0; i < 3000; i++) {
        refused += shardlog_append(log, s, &r, 1, on_ack, &acks) != 0;
        CHECK_EQ_INT(sio_drain(s, 2000), 0); /* keep the writer caught up: no -ENOBUFS */
    }
    CHECK_EQ_INT(refused, 0);
    CHECK_EQ_INT(acks, 3001);
    now = NULL;
    CHECK_EQ_INT(shardlog_read_now(log, &q, &now), 0);
    CHECK(now == NULL);
    struct shardlog_read_req recent = {2990, 0, 100, 1 << 20};
    CHECK_EQ_INT(shardlog_read_now(log, &recent, &now), 1);
    CHECK(now != NULL && now->count == 11 && now->slices[0].position == 2990);
    shardlog_batch_free(now);
    /* Every position still in memory (16 blocks of ~12 records) is found in its block, from the
     * oldest block to the newest; once one is served, every later one is too. */
    uint64_t first_served = 0;
    for (uint64_t pos = 2000; pos <= 3001; pos++) {
        struct shardlog_read_req at = {pos, 0, 1, 1 << 20};
        now = NULL;
        int rc = shardlog_read_now(log, &at, &now);
        if (rc == 0) {
            CHECK(first_served == 0);
            continue;
        }
        if (first_served == 0)
            first_served = pos;
        CHECK_EQ_INT(now->next_position, pos < 3001 ? pos + 1 : 3001);
        if (pos < 3001)
            CHECK(now->count == 1 && now->slices[0].position == pos);
        shardlog_batch_free(now);
    }
    CHECK(first_served > 2000 && first_served < 3001 - 100);
    shardlog_check(log);
    shardlog_close(log);
    sio_destroy(s);
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/sc_shardlog_read_now_test.XXXXXX");
    if (mkdtemp(root) == NULL)
        return 1;
    TEST_RUN(test_read_now);
    test_rmrf(root);
    TEST_EXIT();
}
