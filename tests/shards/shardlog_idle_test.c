/* shardlog_idle_test — shardlog_idle() is false while a write, an fdatasync or an ack is in
 * flight and true once the sio has drained, so shardtab can close a gone stream's logs after one
 * housekeeping round. Runs with io_uring (when available) and the forced pread/pwrite fallback. */
#include <poll.h>
#include <unistd.h>

#include "common/common.h"
#include "shards/shardlog.h"
#include "tests/test.h"

static char root[256];
static int dirno;

static void on_ack(void *arg, int err, uint64_t first, uint32_t count, int64_t ms)
{
    (void)first, (void)count, (void)ms;
    int *done = arg;
    *done = err == 0 ? 1 : -1;
}

static struct shardlog *open_log(enum shardlog_durability d)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/streams/s%d/shardId-000000000000", root, dirno++);
    struct shardlog_config cfg = {.dir = dir, .shard_secs = 1700000000, .durability = d,
                                  .sync_interval_ms = 1, .block_bytes = 4096};
    struct shardlog *log = NULL;
    CHECK_EQ_INT(shardlog_open(&cfg, &log), 0);
    return log;
}

static void run(bool fallback)
{
    enum shardlog_durability modes[] = {SHARDLOG_SYNC_ALWAYS, SHARDLOG_SYNC_INTERVAL,
                                        SHARDLOG_SYNC_NEVER};
    for (unsigned m = 0; m < 3; m++) {
        int err;
        struct sio *s = sio_create(16, fallback, &err);
        ASSERT(s != NULL);
        struct shardlog *log = open_log(modes[m]);
        CHECK(shardlog_idle(log));
        struct record_in r = {"QUJDRA==", 8, "k", 1};
        int done = 0;
        CHECK_EQ_INT(shardlog_append(log, s, &r, 1, on_ack, &done), 0);
        /* The appender became the writer and submitted; nothing completes until we run s. */
        CHECK(!shardlog_idle(log));
        CHECK_EQ_INT(sio_drain(s, 2000), 0);
        CHECK_EQ_INT(done, 1);
        CHECK(shardlog_idle(log));
        if (modes[m] == SHARDLOG_SYNC_INTERVAL && shardlog_durable(log) < shardlog_written(log)) {
            usleep(2000);
            CHECK_EQ_INT(shardlog_tick(log, s), 1);
            CHECK(!shardlog_idle(log)); /* the fdatasync is in flight */
            CHECK_EQ_INT(sio_drain(s, 2000), 0);
            CHECK(shardlog_idle(log));
            CHECK_EQ_INT(shardlog_durable(log), 1);
        }
        shardlog_close(log);
        sio_destroy(s);
    }
}

static void test_idle_uring(void) { run(false); }
static void test_idle_fallback(void) { run(true); }

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/sc_shardlog_idle_test.XXXXXX");
    if (mkdtemp(root) == NULL)
        return 1;
    TEST_RUN(test_idle_uring);
    TEST_RUN(test_idle_fallback);
    test_rmrf(root);
    TEST_EXIT();
}
