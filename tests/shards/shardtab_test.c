#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "shards/registry.h"
#include "shards/shardtab.h"
#include "tests/test.h"

static char root[256];
static struct shardtab *g_tab; /* the seal hook's target */

static int seal_hook(void *arg, const char *stream, uint32_t index, uint64_t *ending)
{
    return shardtab_seal(*(struct shardtab **)arg, stream, index, ending);
}

static struct registry *reg_new(void)
{
    struct registry_opts o = {.data_dir = NULL,
                              .transition_ms = 500,
                              .consumer_transition_ms = 500,
                              .shard_limit = 100,
                              .max_consumers = 2,
                              .max_creating = 5,
                              .seal = seal_hook,
                              .hook_arg = &g_tab};
    struct registry *reg;
    ASSERT(registry_create(&o, &reg) == 0);
    return reg;
}

static struct shardtab *tab_new(struct registry *reg, bool limits)
{
    struct shardtab_opts o = {.data_dir = root,
                              .durability = SHARDLOG_SYNC_INTERVAL,
                              .sync_interval_ms = 10,
                              .limits = limits};
    struct shardtab *t;
    ASSERT(shardtab_create(reg, &o, &t) == 0);
    g_tab = t;
    return t;
}

static struct sio *sio_new(void)
{
    int err;
    struct sio *s = sio_create(64, false, &err);
    ASSERT(s != NULL);
    return s;
}

/* The table's contract: nothing in flight at destroy. An interval sync the writer started after
 * the last ack may still run on sio. */
static void tab_close(struct shardtab *t, struct sio *sio)
{
    CHECK_EQ_INT(sio_drain(sio, 2000), 0);
    shardtab_destroy(t);
}

struct ack {
    int done, err;
    uint64_t first;
};

static void on_ack(void *arg, int err, uint64_t first, uint32_t count, int64_t ms)
{
    (void)count;
    (void)ms;
    struct ack *a = arg;
    a->err = err;
    a->first = first;
    a->done++;
}

static void pump(struct sio *s, const int *done)
{
    for (int i = 0; i < 500 && *done == 0; i++) {
        struct pollfd p = {.fd = sio_fd(s), .events = POLLIN};
        poll(&p, 1, 10);
        sio_run_completions(s);
    }
}

/* Appends one record through shard s and returns its position (or -errno). */
static int64_t put1(struct shard_rt *s, struct sio *sio, const char *data)
{
    struct record_in r = {data, strlen(data), "pk", 2};
    struct ack a = {0};
    int rc = shardlog_append(shard_rt_log(s), sio, &r, 1, on_ack, &a);
    if (rc != 0)
        return rc;
    pump(sio, &a.done);
    return a.err ? a.err : (int64_t)a.first;
}

static void test_route_refs(void)
{
    struct registry *reg = reg_new();
    struct shardtab *t = tab_new(reg, false);
    struct sio *sio = sio_new();
    struct shard_rt *s;
    CHECK_EQ_INT(shardtab_route(t, "a", 0, &s), KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(registry_stream_create(reg, "a", 4, REG_PROVISIONED, NULL, 0, NULL), 0);
    CHECK_EQ_INT(shardtab_route(t, "a", 0, &s), KERR_RESOURCE_NOT_FOUND); /* CREATING */
    clock_advance_ms(600);
    u128 start, end;
    u128_split(2, 4, &start, &end);
    CHECK_EQ_INT(shardtab_route(t, "a", start + 5, &s), 0);
    CHECK_EQ_INT(shard_rt_index(s), 2);
    CHECK_EQ_STR(shard_rt_stream(s), "a");
    struct shard_rt *s2;
    CHECK_EQ_INT(shardtab_route(t, "a", end, &s2), 0);
    CHECK(s2 == s);
    CHECK_EQ_INT(shardtab_get(t, "a", 2, &s2), 0);
    CHECK(s2 == s);
    shard_rt_decref(s2);
    shard_rt_decref(s2);
    CHECK_EQ_INT(shardtab_get(t, "a", 9, &s2), KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(put1(s, sio, "AAAA"), 0);
    CHECK_EQ_INT(put1(s, sio, "AAAA"), 1);
    char path[512];
    snprintf(path, sizeof(path), "%s/streams/a/shardId-000000000002", root);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
    shard_rt_decref(s);
    /* A restart (new table over the same dir) sees the records. */
    tab_close(t, sio);
    t = tab_new(reg, false);
    CHECK_EQ_INT(shardtab_get(t, "a", 2, &s), 0);
    CHECK_EQ_INT(shardlog_end(shard_rt_log(s)), 2);
    shard_rt_decref(s);
    tab_close(t, sio);
    sio_destroy(sio);
    registry_destroy(reg);
}

/* Housekeeping drops a deleted stream's logs and directory; a re-created stream
 * sees nothing. */
static void test_recreate_housekeep(void)
{
    struct registry *reg = reg_new();
    struct shardtab *t = tab_new(reg, false);
    struct sio *sio = sio_new();
    CHECK_EQ_INT(registry_stream_create(reg, "r", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    struct shard_rt *s;
    CHECK_EQ_INT(shardtab_route(t, "r", 7, &s), 0);
    CHECK_EQ_INT(put1(s, sio, "AAAA"), 0);
    shard_rt_decref(s);
    char path[512];
    snprintf(path, sizeof(path), "%s/streams/r", root);
    CHECK_EQ_INT(registry_stream_delete(reg, "r", false), 0);
    CHECK_EQ_INT(shardtab_route(t, "r", 7, &s), KERR_RESOURCE_NOT_FOUND);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_stream_create(reg, "r", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    /* Old incarnation not reaped yet: retry later. */
    CHECK_EQ_INT(shardtab_route(t, "r", 7, &s), -EAGAIN);
    struct stat sb;
    for (int i = 0; i < 5; i++) {
        shardtab_housekeep(t, sio, clock_now_ms(), clock_mono_ms());
        sio_drain(sio, 1000);
    }
    CHECK(stat(path, &sb) != 0);
    CHECK_EQ_INT(shardtab_route(t, "r", 7, &s), 0);
    if (test_failures)
        return;
    CHECK_EQ_INT(shardlog_end(shard_rt_log(s)), 0);
    CHECK_EQ_INT(put1(s, sio, "BBBB"), 0);
    shard_rt_decref(s);
    /* Deleted for good: the directory goes. */
    CHECK_EQ_INT(registry_stream_delete(reg, "r", false), 0);
    for (int i = 0; i < 5; i++) {
        shardtab_housekeep(t, sio, clock_now_ms(), clock_mono_ms());
        sio_drain(sio, 1000);
    }
    CHECK(stat(path, &sb) != 0);
    /* An orphan directory (stream deleted while down) goes at create. */
    snprintf(path, sizeof(path), "%s/streams/orphan", root);
    mkdir(path, 0755);
    tab_close(t, sio);
    t = tab_new(reg, false);
    CHECK(stat(path, &sb) != 0);
    tab_close(t, sio);
    sio_destroy(sio);
    registry_destroy(reg);
}

/* Split through the registry seals the parent at its end; open and provisional
 * paths. */
static void test_seal(void)
{
    struct registry *reg = reg_new();
    struct shardtab *t = tab_new(reg, false);
    struct sio *sio = sio_new();
    CHECK_EQ_INT(registry_stream_create(reg, "z", 2, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    struct shard_rt *s;
    CHECK_EQ_INT(shardtab_get(t, "z", 0, &s), 0);
    CHECK_EQ_INT(put1(s, sio, "AAAA"), 0);
    CHECK_EQ_INT(put1(s, sio, "AAAA"), 1);
    CHECK_EQ_INT(registry_shard_split(reg, "z", 0, 1000), 0);
    CHECK(shardlog_is_sealed(shard_rt_log(s)));
    CHECK_EQ_INT(put1(s, sio, "AAAA"), -EPIPE);
    shard_rt_decref(s);
    clock_advance_ms(600);
    struct reg_shard *sh;
    size_t n;
    CHECK_EQ_INT(registry_shards(reg, "z", NULL, &sh, &n), 0);
    CHECK_EQ_INT(n, 4);
    CHECK(sh[0].closed);
    CHECK_EQ_INT(sh[0].ending_position, 2);
    free(sh);
    /* Route now lands on a child. */
    CHECK_EQ_INT(shardtab_route(t, "z", 5, &s), 0);
    CHECK_EQ_INT(shard_rt_index(s), 2);
    shard_rt_decref(s);
    /* Shard 1 was never opened: the seal opens it provisionally; a get reopens it
     * sealed. */
    CHECK_EQ_INT(registry_shard_split(reg, "z", 1, (U128_MAX / 4) * 3), 0);
    CHECK_EQ_INT(shardtab_get(t, "z", 1, &s), 0);
    CHECK(shardlog_is_sealed(shard_rt_log(s)));
    char seq[SEQNUM_BUF];
    shardlog_seqnum(shard_rt_log(s), 0, clock_now_ms(), seq);
    struct reg_shard one;
    enum reg_status st;
    registry_shard_get(reg, "z", 1, &one, &st, NULL);
    struct seqnum_fields f;
    CHECK_EQ_INT(seqnum_parse(seq, strlen(seq), &f), 0);
    CHECK_EQ_INT(f.shard_secs, (uint64_t)one.created_ms / 1000);
    shard_rt_decref(s);
    /* A stream whose first touch is a split: its directory gets its marker on the first write,
     * so a restart keeps it. */
    CHECK_EQ_INT(registry_stream_create(reg, "y", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_shard_split(reg, "y", 0, 1000), 0);
    CHECK_EQ_INT(shardtab_route(t, "y", 5, &s), 0);
    CHECK_EQ_INT(shard_rt_index(s), 1);
    CHECK_EQ_INT(put1(s, sio, "AAAA"), 0);
    shard_rt_decref(s);
    tab_close(t, sio);
    t = tab_new(reg, false);
    CHECK_EQ_INT(shardtab_get(t, "y", 1, &s), 0);
    CHECK_EQ_INT(shardlog_end(shard_rt_log(s)), 1);
    shard_rt_decref(s);
    tab_close(t, sio);
    sio_destroy(sio);
    registry_destroy(reg);
}

/* Housekeeping syncs interval-mode logs and enforces each stream's retention. */
static void test_tick_retention(void)
{
    struct registry *reg = reg_new();
    struct shardtab_opts o = {.data_dir = root,
                              .durability = SHARDLOG_SYNC_INTERVAL,
                              .sync_interval_ms = 60000, /* only the housekeeper syncs */
                              .segment_bytes_max = 4096};
    struct shardtab *t;
    ASSERT(shardtab_create(reg, &o, &t) == 0);
    g_tab = t;
    struct sio *sio = sio_new();
    CHECK_EQ_INT(registry_stream_create(reg, "ret", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    struct shard_rt *s;
    CHECK_EQ_INT(shardtab_route(t, "ret", 1, &s), 0);
    char data[1021]; /* 1020 base64 characters */
    memset(data, 'A', sizeof(data) - 1);
    data[sizeof(data) - 1] = '\0';
    for (int i = 0; i < 12; i++)
        CHECK_EQ_INT(put1(s, sio, data), i);
    struct shardlog *log = shard_rt_log(s);
    CHECK(shardlog_durable(log) < shardlog_written(log));
    int64_t mono = clock_mono_ms() + 60000; /* past the sync interval */
    shardtab_housekeep(t, sio, clock_now_ms(), mono);
    CHECK_EQ_INT(sio_drain(sio, 2000), 0);
    CHECK_EQ_INT(shardlog_durable(log), shardlog_written(log));
    CHECK_EQ_INT(shardlog_trim_horizon(log), 0);
    /* The wall clock steps back an hour: the next pass still syncs what was written since. */
    CHECK_EQ_INT(put1(s, sio, data), 12);
    CHECK(shardlog_durable(log) < shardlog_written(log));
    clock_advance_ms(-3600 * 1000LL);
    mono += 60000;
    shardtab_housekeep(t, sio, clock_now_ms(), mono);
    CHECK_EQ_INT(sio_drain(sio, 2000), 0);
    CHECK_EQ_INT(shardlog_durable(log), shardlog_written(log));
    clock_advance_ms(3600 * 1000LL);
    /* 25 h later the 24 h retention drops every finished segment. */
    clock_advance_ms(25 * 3600 * 1000LL);
    shardtab_housekeep(t, sio, clock_now_ms(), mono + 60000);
    CHECK_EQ_INT(sio_drain(sio, 2000), 0);
    CHECK(shardlog_trim_horizon(log) > 0);
    CHECK_EQ_INT(shardlog_end(log), 13);
    shard_rt_decref(s);
    tab_close(t, sio);
    sio_destroy(sio);
    registry_destroy(reg);
}

#define MIB (UINT64_C(1) << 20)

static void test_rates(void)
{
    struct registry *reg = reg_new();
    struct shardtab *t = tab_new(reg, true);
    CHECK_EQ_INT(registry_stream_create(reg, "q", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    struct shard_rt *s;
    CHECK_EQ_INT(shardtab_route(t, "q", 1, &s), 0);
    uint64_t now = clock_mono_ns();
    CHECK(shard_rt_admit_write(s, 100, 999, MIB, now));
    CHECK(!shard_rt_admit_write(s, 100, 2, MIB, now)); /* records bucket */
    CHECK(shard_rt_admit_write(s, 100, 1, MIB, now));
    CHECK(!shard_rt_admit_write(s, 1, 1, MIB, now));
    CHECK(shard_rt_admit_write(s, 1, 1, MIB, now + 2000000)); /* 2 ms: 2 records refilled */
    uint64_t later = now + 2000000000ull;
    CHECK(!shard_rt_admit_write(s, (1u << 20) + 1, 1, MIB, later)); /* bytes over the burst */
    CHECK(shard_rt_admit_write(s, 1u << 20, 1, MIB, later));
    /* A stream with 10 MiB records bursts to 10 MiB (a full bucket stays full when the burst
     * grows), refilled at 1 MiB/s. */
    later += 1000000000ull;
    CHECK(shard_rt_admit_write(s, 10 * MIB, 1, 10 * MIB, later));
    CHECK(!shard_rt_admit_write(s, 1, 1, 10 * MIB, later));
    CHECK(!shard_rt_admit_write(s, 10 * MIB, 1, 10 * MIB, later + 9000000000ull));
    CHECK(shard_rt_admit_write(s, 10 * MIB, 1, 10 * MIB, later + 10000000000ull));
    /* Lowered again (UpdateMaxRecordSize): at most 1 MiB at once however long it idled. */
    later += 70000000000ull;
    CHECK(!shard_rt_admit_write(s, MIB + 1, 1, MIB, later));
    CHECK(shard_rt_admit_write(s, MIB, 1, MIB, later));
    for (int i = 0; i < 5; i++)
        CHECK(shard_rt_admit_read(s, later));
    CHECK(!shard_rt_admit_read(s, later));
    later += 1000000000ull;
    shard_rt_charge_read(s, 10u << 20, later); /* debt: 8 MiB, 4 s */
    CHECK(!shard_rt_admit_read(s, later + 1000000000ull));
    CHECK(shard_rt_admit_read(s, later + 5000000000ull));
    shard_rt_decref(s);
    shardtab_destroy(t);
    t = tab_new(reg, false);
    CHECK_EQ_INT(shardtab_route(t, "q", 1, &s), 0);
    for (int i = 0; i < 100; i++)
        CHECK(shard_rt_admit_write(s, 1u << 20, 1000, MIB, now));
    shard_rt_decref(s);
    shardtab_destroy(t);
    registry_destroy(reg);
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/shardtab_test.%d", (int)getpid());
    mkdir(root, 0755);
    TEST_RUN(test_route_refs);
    TEST_RUN(test_recreate_housekeep);
    TEST_RUN(test_seal);
    TEST_RUN(test_tick_retention);
    TEST_RUN(test_rates);
    test_rmrf(root);
    TEST_EXIT();
}
