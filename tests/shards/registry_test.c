#include "shards/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/crc32.h"
#include "common/errors.h"
#include "shards/meta.h"
#include "shards/shards_internal.h"
#include "tests/test.h"

static struct registry_opts opts(const char *dir)
{
    struct registry_opts o = {.data_dir = dir,
                              .transition_ms = 500,
                              .consumer_transition_ms = 500,
                              .shard_limit = 20,
                              .max_consumers = 2,
                              .max_creating = 5};
    return o;
}

static void test_lifecycle(void)
{
    struct registry_opts o = opts(NULL);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "s1", 3, REG_PROVISIONED, NULL, 0, NULL), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "s1", 3, REG_PROVISIONED, NULL, 0, NULL),
                 KERR_RESOURCE_IN_USE);
    struct reg_stream_info info;
    CHECK_EQ_INT(registry_stream_get(reg, "s1", &info), 0);
    CHECK_EQ_INT(info.status, REG_CREATING);
    CHECK_EQ_INT(info.shard_count, 3);
    CHECK_EQ_INT(info.retention_hours, 24);
    /* not ACTIVE yet */
    struct reg_tag t = {"k", "v"};
    CHECK_EQ_INT(registry_tags_add(reg, "s1", &t, 1), KERR_RESOURCE_IN_USE);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_stream_get(reg, "s1", &info), 0);
    CHECK_EQ_INT(info.status, REG_ACTIVE);
    struct reg_shard *sh;
    size_t n;
    CHECK_EQ_INT(registry_shards(reg, "s1", NULL, &sh, &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK(sh[0].start_hash == 0 && sh[2].end_hash == U128_MAX && sh[1].parent == REG_NO_SHARD);
    free(sh);
    CHECK_EQ_INT(registry_stream_delete(reg, "s1", false), 0);
    CHECK_EQ_INT(registry_stream_get(reg, "s1", &info), 0);
    CHECK_EQ_INT(info.status, REG_DELETING);
    CHECK_EQ_INT(registry_stream_delete(reg, "s1", false), KERR_RESOURCE_NOT_FOUND);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_stream_get(reg, "s1", &info), KERR_RESOURCE_NOT_FOUND);
    registry_destroy(reg);
}

/* A wall clock that steps back (NTP, a VM restored from a snapshot) does not hold a stream or
 * consumer in CREATING, UPDATING or DELETING until it catches up: the step counts as due. */
static void test_clock_steps_back(void)
{
    struct registry_opts o = opts(NULL);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "b", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(-3600 * 1000);
    struct reg_stream_info info;
    CHECK_EQ_INT(registry_stream_get(reg, "b", &info), 0);
    CHECK_EQ_INT(info.status, REG_ACTIVE);
    struct reg_consumer c;
    CHECK_EQ_INT(registry_consumer_register(reg, "b", "c", &c), 0);
    CHECK_EQ_INT(c.status, REG_CREATING);
    clock_advance_ms(-3600 * 1000);
    CHECK_EQ_INT(registry_consumer_get(reg, "b", "c", &c), 0);
    CHECK_EQ_INT(c.status, REG_ACTIVE);
    CHECK_EQ_INT(registry_consumer_deregister(reg, "b", "c", -1), 0);
    clock_advance_ms(-60 * 1000);
    CHECK_EQ_INT(registry_consumer_get(reg, "b", "c", &c), KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(registry_stream_delete(reg, "b", false), 0);
    clock_advance_ms(-60 * 1000);
    CHECK_EQ_INT(registry_stream_get(reg, "b", &info), KERR_RESOURCE_NOT_FOUND);
    registry_destroy(reg);
    clock_advance_ms(2 * 3600 * 1000 + 2 * 60 * 1000);
}

static void test_limits(void)
{
    struct registry_opts o = opts(NULL);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    char name[16];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        CHECK_EQ_INT(registry_stream_create(reg, name, 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    }
    CHECK_EQ_INT(registry_stream_create(reg, "c5", 1, REG_PROVISIONED, NULL, 0, NULL),
                 KERR_LIMIT_EXCEEDED);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_stream_create(reg, "big", 16, REG_PROVISIONED, NULL, 0, NULL),
                 KERR_LIMIT_EXCEEDED); /* 5 + 16 > 20 */
    CHECK_EQ_INT(registry_stream_create(reg, "od", 1, REG_ON_DEMAND, NULL, 0, NULL), 0);
    uint32_t open, od;
    registry_limits(reg, &open, &od);
    CHECK_EQ_INT(open, 9);
    CHECK_EQ_INT(od, 1);
    struct reg_stream_info *list;
    size_t n;
    bool more;
    CHECK_EQ_INT(registry_stream_list(reg, "c1", 3, &list, &n, &more), 0);
    CHECK_EQ_INT(n, 3);
    CHECK(more);
    CHECK_EQ_STR(list[0].name, "c2");
    CHECK_EQ_STR(list[2].name, "c4");
    free(list);
    registry_destroy(reg);
}

static void test_tags_retention(void)
{
    struct registry_opts o = opts(NULL);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    struct reg_tag t[2] = {{"b", "2"}, {"a", "1"}};
    CHECK_EQ_INT(registry_stream_create(reg, "s", 1, REG_PROVISIONED, t, 2, NULL), 0);
    clock_advance_ms(600);
    struct reg_stream_info info;
    registry_stream_get(reg, "s", &info);
    CHECK_EQ_STR(info.tags[0].key, "a");
    struct reg_tag many[REG_TAGS_MAX];
    for (int i = 0; i < REG_TAGS_MAX; i++) {
        snprintf(many[i].key, sizeof(many[i].key), "k%02d", i);
        many[i].value[0] = '\0';
    }
    CHECK_EQ_INT(registry_tags_add(reg, "s", many, 49), KERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(registry_tags_add(reg, "s", many, 48), 0);
    const char *rm[] = {"a", "zz"};
    CHECK_EQ_INT(registry_tags_remove(reg, "s", rm, 2), 0);
    registry_stream_get(reg, "s", &info);
    CHECK_EQ_INT(info.tag_count, 49);
    CHECK_EQ_STR(info.tags[0].key, "b");
    uint32_t cur;
    CHECK_EQ_INT(registry_retention_set(reg, "s", 12, true, &cur), KERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(registry_retention_set(reg, "s", 48, true, &cur), 0);
    CHECK_EQ_INT(registry_retention_set(reg, "s", 72, false, &cur), KERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(cur, 48);
    CHECK_EQ_INT(registry_retention_set(reg, "s", 24, false, &cur), 0);
    registry_destroy(reg);
}

static void test_reshard_consumers(void)
{
    struct registry_opts o = opts(NULL);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "s", 2, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_shard_split(reg, "s", 0, 1), KERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(registry_shard_split(reg, "s", 0, 1000), 0);
    CHECK_EQ_INT(registry_shard_split(reg, "s", 1, 1000), KERR_RESOURCE_IN_USE); /* UPDATING */
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_shard_merge(reg, "s", 2, 1), KERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(registry_shard_merge(reg, "s", 3, 1), 0);
    struct reg_shard *sh;
    size_t n;
    registry_shards(reg, "s", NULL, &sh, &n);
    CHECK_EQ_INT(n, 5);
    CHECK(sh[0].closed && sh[1].closed && !sh[2].closed && sh[3].closed && !sh[4].closed);
    CHECK(sh[2].end_hash == 999 && sh[4].start_hash == 1000 && sh[4].adjacent_parent == 1);
    free(sh);
    struct reg_shard one;
    enum reg_status st;
    CHECK_EQ_INT(registry_shard_route(reg, "s", 999, &one, &st), 0);
    CHECK_EQ_INT(one.index, 2);
    CHECK_EQ_INT(st, REG_UPDATING);
    CHECK_EQ_INT(registry_shard_route(reg, "s", U128_MAX, &one, &st), 0);
    CHECK_EQ_INT(one.index, 4);
    uint32_t ret;
    CHECK_EQ_INT(registry_shard_get(reg, "s", 0, &one, &st, &ret), 0);
    CHECK(one.closed);
    CHECK_EQ_INT(ret, 24);
    CHECK_EQ_INT(registry_shard_get(reg, "s", 5, &one, &st, NULL), KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(registry_shard_route(reg, "nope", 1, &one, &st), KERR_RESOURCE_NOT_FOUND);
    clock_advance_ms(600);
    struct reg_consumer c;
    CHECK_EQ_INT(registry_consumer_register(reg, "s", "a", &c), 0);
    CHECK_EQ_INT(c.status, REG_CREATING);
    CHECK_EQ_INT(registry_consumer_register(reg, "s", "a", &c), KERR_RESOURCE_IN_USE);
    CHECK_EQ_INT(registry_consumer_register(reg, "s", "b", &c), 0);
    CHECK_EQ_INT(registry_consumer_register(reg, "s", "c", &c), KERR_LIMIT_EXCEEDED);
    CHECK_EQ_INT(registry_stream_delete(reg, "s", false), KERR_RESOURCE_IN_USE);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_consumer_get(reg, "s", "a", &c), 0);
    CHECK_EQ_INT(c.status, REG_ACTIVE);
    CHECK_EQ_INT(registry_consumer_deregister(reg, "s", "a", c.created_ms / 1000 + 1),
                 KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(registry_consumer_deregister(reg, "s", "a", -1), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_consumer_get(reg, "s", "a", &c), KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(registry_stream_delete(reg, "s", true), 0);
    registry_destroy(reg);
}

static void check_cover(struct registry *reg, const char *name, uint32_t want_open)
{
    struct reg_shard *sh;
    size_t n;
    CHECK_EQ_INT(registry_shards(reg, name, NULL, &sh, &n), 0);
    /* Open shards must tile [0, 2^128-1] exactly. */
    u128 next = 0;
    uint32_t open = 0;
    bool done = false;
    for (size_t round = 0; round < n && !done; round++) {
        bool found = false;
        for (size_t i = 0; i < n; i++) {
            if (!sh[i].closed && sh[i].start_hash == next) {
                open++;
                found = true;
                if (sh[i].end_hash == U128_MAX)
                    done = true;
                else
                    next = sh[i].end_hash + 1;
                break;
            }
        }
        if (!found)
            break;
    }
    CHECK(done);
    CHECK_EQ_INT(open, want_open);
    for (size_t i = 0; i < n; i++)
        if (!sh[i].closed && sh[i].parent != REG_NO_SHARD)
            CHECK(sh[sh[i].parent].closed);
    free(sh);
}

/* The open shards are exactly CreateStream(want)'s ranges; every shard's parents are closed, and
 * a merge child's two parents are adjacent and make up its range. */
static void check_uniform(struct registry *reg, const char *name, uint32_t want)
{
    check_cover(reg, name, want);
    struct reg_shard *sh;
    size_t n;
    CHECK_EQ_INT(registry_shards(reg, name, NULL, &sh, &n), 0);
    uint32_t matched = 0;
    for (size_t i = 0; i < n; i++) {
        if (sh[i].parent != REG_NO_SHARD) {
            CHECK(sh[sh[i].parent].closed);
            if (sh[i].adjacent_parent != REG_NO_SHARD) {
                const struct reg_shard *a = &sh[sh[i].parent], *b = &sh[sh[i].adjacent_parent];
                CHECK(b->closed && a->end_hash + 1 == b->start_hash);
                CHECK(sh[i].start_hash == a->start_hash && sh[i].end_hash == b->end_hash);
            } else {
                const struct reg_shard *a = &sh[sh[i].parent];
                CHECK(sh[i].start_hash >= a->start_hash && sh[i].end_hash <= a->end_hash);
            }
        }
        if (sh[i].closed)
            continue;
        for (uint32_t t = 0; t < want; t++) {
            u128 start, end;
            u128_split(t, want, &start, &end);
            if (sh[i].start_hash == start && sh[i].end_hash == end)
                matched++;
        }
    }
    CHECK_EQ_INT(matched, want);
    free(sh);
}

/* An in-memory registry with one ACTIVE provisioned stream of 3 shards. */
static struct registry *registry_with_stream(const char *name, uint32_t shard_limit)
{
    struct registry_opts o = opts(NULL);
    o.shard_limit = shard_limit;
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, name, 3, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    return reg;
}

/* Uniform from any count to any allowed one, including after a lopsided SplitShard. */
static void test_update_shard_count_uniform(void)
{
    struct registry *reg = registry_with_stream("v", 1000);
    static const uint32_t steps[] = {4, 7, 13, 7, 4, 2, 1, 2, 3, 5, 9, 17, 34, 17, 12, 24, 23};
    struct reg_rescale r;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        CHECK_EQ_INT(registry_shard_count_update(reg, "v", steps[i], &r), 0);
        clock_advance_ms(600);
        check_uniform(reg, "v", steps[i]);
    }
    /* A lopsided split first (one shard's range split near its start), then back to uniform. */
    struct reg_shard one;
    enum reg_status st;
    CHECK_EQ_INT(registry_shard_route(reg, "v", 0, &one, &st), 0);
    CHECK_EQ_INT(registry_shard_split(reg, "v", one.index, one.start_hash + 2), 0);
    clock_advance_ms(600);
    check_cover(reg, "v", 24);
    CHECK_EQ_INT(registry_shard_count_update(reg, "v", 30, &r), 0);
    CHECK_EQ_INT(r.current, 24);
    clock_advance_ms(600);
    check_uniform(reg, "v", 30);
    registry_destroy(reg);
}

static void test_update_shard_count(void)
{
    struct registry *reg = registry_with_stream("u", 100);
    struct reg_rescale r;
    CHECK_EQ_INT(registry_shard_count_update(reg, "u", 7, &r), KERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(registry_shard_count_update(reg, "u", 1, &r), KERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(registry_shard_count_update(reg, "u", 5, &r), 0);
    CHECK_EQ_INT(r.current, 3);
    CHECK_EQ_INT(registry_shard_count_update(reg, "u", 4, &r), KERR_RESOURCE_IN_USE);
    clock_advance_ms(600);
    check_uniform(reg, "u", 5);
    CHECK_EQ_INT(registry_shard_count_update(reg, "u", 3, &r), 0);
    clock_advance_ms(600);
    check_uniform(reg, "u", 3);
    CHECK_EQ_INT(registry_stream_create(reg, "od", 1, REG_ON_DEMAND, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_shard_count_update(reg, "od", 5, &r), KERR_VALIDATION);
    registry_destroy(reg);
}

/* Removes a test's data dir holding exactly streams a and b (and fails if it held more). */
static void remove_two_streams(const char *dir, const char *a, const char *b)
{
    char path[256];
    for (const char *const *n = (const char *const[]){a, b, NULL}; *n != NULL; n++) {
        snprintf(path, sizeof(path), "%s/meta/stream.%s.meta", dir, *n);
        CHECK_EQ_INT(remove(path), 0);
    }
    snprintf(path, sizeof(path), "%s/meta", dir);
    CHECK_EQ_INT(remove(path), 0);
    CHECK_EQ_INT(remove(dir), 0);
}

/* AWS's quota: ten shard-count changes per stream in any 24 h, counted across restarts; no-op
 * calls are free; other streams and SplitShard are not affected; off unless limit_daily. */
static void test_update_shard_count_per_day(void)
{
    char dir[] = "/tmp/sc-registry-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct registry_opts o = opts(dir);
    o.shard_limit = 100;
    o.limit_daily = true;
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "d", 2, REG_PROVISIONED, NULL, 0, NULL), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "e", 2, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    struct reg_rescale r;
    int64_t first = clock_now_ms(), first_hi = 0;
    for (uint32_t i = 0; i < REG_SCALINGS_PER_DAY; i++) {
        if (i == 5) { /* half-way: a restart must not forget the first five */
            registry_destroy(reg);
            CHECK_EQ_INT(registry_create(&o, &reg), 0);
        }
        CHECK_EQ_INT(registry_shard_count_update(reg, "d", i % 2 ? 2 : 3, &r), 0);
        if (i == 0)
            first_hi = clock_now_ms();
        CHECK(!r.too_often);
        clock_advance_ms(600);
        CHECK_EQ_INT(registry_shard_count_update(reg, "d", i % 2 ? 2 : 3, &r), 0); /* no-op */
        clock_advance_ms(3600 * 1000);
    }
    CHECK_EQ_INT(registry_shard_count_update(reg, "d", 3, &r), KERR_LIMIT_EXCEEDED);
    CHECK(r.too_often);
    CHECK_EQ_INT(r.current, 2);
    CHECK(r.retry_ms >= first + 24 * 3600 * 1000LL && r.retry_ms <= first_hi + 24 * 3600 * 1000LL);
    CHECK_EQ_INT(registry_shard_count_update(reg, "d", 2, &r), 0);
    CHECK_EQ_INT(registry_shard_count_update(reg, "e", 3, &r), 0);
    struct reg_shard one;
    enum reg_status st;
    CHECK_EQ_INT(registry_shard_route(reg, "d", 0, &one, &st), 0);
    CHECK_EQ_INT(registry_shard_split(reg, "d", one.index, one.start_hash + 2), 0);
    clock_advance_ms(600);
    /* The quota over the shard quota: the shard quota's error is not the 24 h one. */
    registry_destroy(reg);
    o.shard_limit = 6;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_shard_count_update(reg, "d", 6, &r), KERR_LIMIT_EXCEEDED);
    CHECK(!r.too_often);
    registry_destroy(reg);
    o.shard_limit = 100;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    /* The first change leaves the window 24 h after it was made (in [first, first_hi]; the
     * 20 ms: the wall clock runs on between the advance and the call). */
    clock_advance_ms(first + 24 * 3600 * 1000LL - clock_now_ms() - 20);
    CHECK_EQ_INT(registry_shard_count_update(reg, "d", 4, &r), KERR_LIMIT_EXCEEDED);
    clock_advance_ms(first_hi + 24 * 3600 * 1000LL - clock_now_ms());
    CHECK_EQ_INT(registry_shard_count_update(reg, "d", 4, &r), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_shard_count_update(reg, "d", 3, &r), KERR_LIMIT_EXCEEDED);
    registry_destroy(reg);
    /* Without the limit (--limits off) the history is kept but not enforced. */
    o.limit_daily = false;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_shard_count_update(reg, "d", 3, &r), 0);
    registry_destroy(reg);
    remove_two_streams(dir, "d", "e");
}

/* Start- and StopStreamEncryption: 25 successful calls each per stream in any 24 h, counted
 * across restarts and apart from each other; not-ACTIVE is refused first and not counted;
 * off unless limit_daily. A meta file holding more than the quota's history is corrupt. */
static void test_encryption_per_day(void)
{
    char dir[] = "/tmp/sc-registry-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct registry_opts o = opts(dir);
    o.limit_daily = true;
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "k", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "m", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    /* Wall time moves on its own too: the first start happened in [first, first_hi]. */
    int64_t retry = -1, first = clock_now_ms(), first_hi = 0;
    for (uint32_t i = 0; i < REG_ENCRYPTIONS_PER_DAY; i++) {
        if (i == 12) { /* a restart must not forget the first twelve */
            registry_destroy(reg);
            CHECK_EQ_INT(registry_create(&o, &reg), 0);
        }
        CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_KMS, "alias/a", &retry), 0);
        if (i == 0)
            first_hi = clock_now_ms();
        /* UPDATING: refused as in use, not counted */
        CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_KMS, "alias/a", &retry),
                     KERR_RESOURCE_IN_USE);
        clock_advance_ms(600);
    }
    CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_KMS, "alias/b", &retry),
                 KERR_LIMIT_EXCEEDED);
    CHECK(retry >= first + 24 * 3600 * 1000LL && retry <= first_hi + 24 * 3600 * 1000LL);
    struct reg_stream_info info;
    CHECK_EQ_INT(registry_stream_get(reg, "k", &info), 0);
    CHECK_EQ_STR(info.key_id, "alias/a"); /* the refused call changed nothing */
    CHECK_EQ_INT(info.status, REG_ACTIVE);
    /* Stopping has its own 25; another stream is not affected. */
    CHECK_EQ_INT(registry_encryption_set(reg, "m", REG_ENC_KMS, "alias/a", &retry), 0);
    for (uint32_t i = 0; i < REG_ENCRYPTIONS_PER_DAY; i++) {
        CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_NONE, NULL, &retry), 0);
        clock_advance_ms(600);
    }
    CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_NONE, NULL, &retry),
                 KERR_LIMIT_EXCEEDED);
    /* The first start leaves the window 24 h after it was made (20 ms: the wall clock runs). */
    clock_advance_ms(first + 24 * 3600 * 1000LL - clock_now_ms() - 20);
    CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_KMS, "alias/c", &retry),
                 KERR_LIMIT_EXCEEDED);
    clock_advance_ms(first_hi + 24 * 3600 * 1000LL - clock_now_ms());
    CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_KMS, "alias/c", &retry), 0);
    clock_advance_ms(550); /* ACTIVE again; the second start (600 ms after the first) still counts */
    CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_KMS, "alias/c", &retry),
                 KERR_LIMIT_EXCEEDED);
    CHECK(retry >= first + 600 + 24 * 3600 * 1000LL && retry < clock_now_ms() + 24 * 3600 * 1000LL);
    registry_destroy(reg);
    /* Without the limit (--limits off) the history is kept but not enforced. */
    o.limit_daily = false;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_KMS, "alias/d", &retry), 0);
    /* The wall clock steps back an hour: the file stays loadable (its times stay ordered). */
    CHECK_EQ_INT(registry_encryption_set(reg, "m", REG_ENC_NONE, NULL, &retry), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_encryption_set(reg, "k", REG_ENC_NONE, NULL, &retry), 0); /* ticks m */
    clock_advance_ms(-3600 * 1000);
    CHECK_EQ_INT(registry_encryption_set(reg, "m", REG_ENC_NONE, NULL, &retry), 0);
    registry_destroy(reg);
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    registry_destroy(reg);
    clock_advance_ms(3600 * 1000);
    /* 26 start times cannot have come from us: the file is refused, not trimmed. */
    char path[128];
    snprintf(path, sizeof(path), "%s/meta/stream.k.meta", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    char *crc = strstr(text, "crc ");
    CHECK(crc != NULL);
    size_t body = (size_t)(crc - text);
    for (uint32_t i = 0; i < REG_ENCRYPTIONS_PER_DAY + 1; i++)
        body += (size_t)snprintf(text + body, sizeof(text) - body, "encstart %lld\n",
                                 (long long)clock_now_ms() + i);
    snprintf(text + body, sizeof(text) - body, "crc %08x\n", crc32_update(0, text, body));
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    CHECK_EQ_INT(registry_create(&o, &reg), -EBADMSG);
    remove_two_streams(dir, "k", "m");
}

/* Resource policies: the stream's and each consumer registration's, replaced, kept across a
 * restart (also at the largest size), gone with their consumer (a name registered again does
 * not inherit one), deleted once (then -ENOENT); only on ACTIVE streams. */
static void test_resource_policies(void)
{
    char dir[] = "/tmp/sc-registry-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct registry_opts o = opts(dir);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "p", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    CHECK_EQ_INT(registry_policy_put(reg, "p", NULL, -1, "{}"), KERR_RESOURCE_IN_USE);
    CHECK_EQ_INT(registry_policy_put(reg, "nope", NULL, -1, "{}"), KERR_RESOURCE_NOT_FOUND);
    clock_advance_ms(600);
    struct reg_consumer c;
    CHECK_EQ_INT(registry_consumer_register(reg, "p", "c", &c), 0);
    int64_t secs = c.created_ms / 1000;
    char *got;
    CHECK_EQ_INT(registry_policy_get(reg, "p", NULL, -1, &got), 0);
    CHECK(got == NULL);
    CHECK_EQ_INT(registry_policy_put(reg, "p", NULL, -1, "{\"v\":1}"), 0);
    CHECK_EQ_INT(registry_policy_put(reg, "p", NULL, -1, "{\"v\":2}"), 0); /* replaces */
    CHECK_EQ_INT(registry_policy_put(reg, "p", "c", secs + 1, "{}"), KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(registry_policy_put(reg, "p", "x", -1, "{}"), KERR_RESOURCE_NOT_FOUND);
    static char big[REG_POLICY_MAX + 1];
    memset(big, 'a', REG_POLICY_MAX);
    big[0] = '"';
    big[REG_POLICY_MAX - 1] = '"';
    CHECK_EQ_INT(registry_policy_put(reg, "p", "c", secs, big), 0);
    registry_destroy(reg);
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_policy_get(reg, "p", NULL, -1, &got), 0);
    CHECK_EQ_STR(got ? got : "", "{\"v\":2}");
    free(got);
    CHECK_EQ_INT(registry_policy_get(reg, "p", "c", secs, &got), 0);
    CHECK(got != NULL && strcmp(got, big) == 0);
    free(got);
    /* Deregistered: its policy goes; the same name registered again starts without one. */
    CHECK_EQ_INT(registry_consumer_deregister(reg, "p", "c", secs), 0);
    CHECK_EQ_INT(registry_policy_get(reg, "p", "c", -1, &got), KERR_RESOURCE_NOT_FOUND);
    clock_advance_ms(1600);
    CHECK_EQ_INT(registry_consumer_register(reg, "p", "c", &c), 0);
    CHECK(c.created_ms / 1000 != secs);
    CHECK_EQ_INT(registry_policy_get(reg, "p", "c", -1, &got), 0);
    CHECK(got == NULL);
    CHECK_EQ_INT(registry_policy_delete(reg, "p", "c", -1), -ENOENT);
    CHECK_EQ_INT(registry_policy_delete(reg, "p", NULL, -1), 0);
    CHECK_EQ_INT(registry_policy_delete(reg, "p", NULL, -1), -ENOENT);
    CHECK_EQ_INT(registry_policy_get(reg, "p", NULL, -1, &got), 0);
    CHECK(got == NULL);
    registry_destroy(reg);
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_policy_get(reg, "p", NULL, -1, &got), 0);
    CHECK(got == NULL);
    CHECK_EQ_INT(registry_stream_delete(reg, "p", true), 0);
    clock_advance_ms(600);
    struct reg_stream_info info;
    CHECK_EQ_INT(registry_stream_get(reg, "p", &info), KERR_RESOURCE_NOT_FOUND); /* removed */
    registry_destroy(reg);
    char path[128];
    snprintf(path, sizeof(path), "%s/meta", dir);
    CHECK_EQ_INT(remove(path), 0);
    CHECK_EQ_INT(remove(dir), 0);
    /* A file holding two policies of one owner is refused (the registry keeps one each). */
    for (int twice = 0; twice < 2; twice++) {
        char text[256];
        int n = snprintf(text, sizeof(text), "shardcast-meta 1\nrev 1\nstream x\n%s%s",
                         "policy - 0 7b7d\n", twice ? "policy - 0 7b7d\n" : "");
        snprintf(text + n, sizeof(text) - (size_t)n, "crc %08x\n",
                 crc32_update(0, text, (size_t)n));
        struct reg_stream *rs = NULL;
        CHECK_EQ_INT(meta_decode(text, strlen(text), &rs), twice ? -EBADMSG : 0);
        if (rs != NULL) {
            CHECK_EQ_INT(rs->npolicies, 1);
            CHECK_EQ_STR(rs->policies[0].text, "{}");
            reg_stream_free(rs);
        }
    }
}

/* Large records: CreateStream's and UpdateMaxRecordSize's maximum, kept across a restart, the
 * default left out of the file (builds before large records read it), bad values refused. */
static void test_max_record_size(void)
{
    char dir[] = "/tmp/sc-registry-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct registry_opts o = opts(dir);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "d", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    struct reg_create_opts large = {.max_record_kib = REG_RECORD_KIB_MAX};
    CHECK_EQ_INT(registry_stream_create(reg, "l", 1, REG_ON_DEMAND, NULL, 0, &large), 0);
    struct reg_put_view view;
    CHECK_EQ_INT(registry_stream_put_view(reg, "d", &view), 0);
    CHECK_EQ_INT(view.max_record_kib, 1024);
    CHECK_EQ_INT(view.encryption, REG_ENC_NONE);
    CHECK_EQ_INT(registry_stream_put_view(reg, "l", &view), 0);
    CHECK_EQ_INT(view.max_record_kib, 10240);
    CHECK_EQ_INT(registry_stream_put_view(reg, "x", &view), KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(registry_max_record_set(reg, "d", 5000), KERR_RESOURCE_IN_USE); /* CREATING */
    CHECK_EQ_INT(registry_max_record_set(reg, "x", 5000), KERR_RESOURCE_NOT_FOUND);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_max_record_set(reg, "d", 5000), 0);
    CHECK_EQ_INT(registry_max_record_set(reg, "l", 1024), 0);
    struct reg_stream_info info;
    CHECK_EQ_INT(registry_stream_get(reg, "d", &info), 0);
    CHECK_EQ_INT(info.max_record_kib, 5000);
    CHECK_EQ_INT(info.status, REG_ACTIVE); /* applied at once, no UPDATING */
    registry_destroy(reg);
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_put_view(reg, "d", &view), 0);
    CHECK_EQ_INT(view.max_record_kib, 5000);
    CHECK_EQ_INT(registry_stream_put_view(reg, "l", &view), 0);
    CHECK_EQ_INT(view.max_record_kib, 1024);
    CHECK_EQ_INT(registry_stream_delete(reg, "d", false), 0);
    CHECK_EQ_INT(registry_stream_delete(reg, "l", false), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_stream_get(reg, "d", &info), KERR_RESOURCE_NOT_FOUND);
    registry_destroy(reg);
    char path[128];
    snprintf(path, sizeof(path), "%s/meta", dir);
    CHECK_EQ_INT(remove(path), 0);
    CHECK_EQ_INT(remove(dir), 0);
    /* The file: no line for the default, "maxrecord" otherwise; out of range is corruption. */
    static const char *const lines[] = {"", "maxrecord 1025\n", "maxrecord 10240\n",
                                        "maxrecord 1024\n", "maxrecord 10241\n",
                                        "maxrecord 0\n"};
    static const unsigned want[] = {1024, 1025, 10240, 0, 0, 0};
    for (size_t k = 0; k < SC_ARRAY_LEN(lines); k++) {
        char text[256];
        int n = snprintf(text, sizeof(text), "shardcast-meta 1\nrev 1\nstream x\n%s", lines[k]);
        snprintf(text + n, sizeof(text) - (size_t)n, "crc %08x\n",
                 crc32_update(0, text, (size_t)n));
        struct reg_stream *rs = NULL;
        CHECK_EQ_INT(meta_decode(text, strlen(text), &rs), want[k] ? 0 : -EBADMSG);
        if (rs != NULL) {
            CHECK_EQ_INT(rs->info.max_record_kib, want[k]);
            size_t len;
            char *enc = meta_encode(rs, &len);
            CHECK_EQ_INT(strstr(enc, "maxrecord") != NULL, want[k] != 1024);
            free(enc);
            reg_stream_free(rs);
        }
    }
}

/* On-demand Advantage: the commitment's 24 h minimum, a disable scheduled and cancelled, the
 * account file across restarts; warm throughput only on ON_DEMAND streams while it is on, the
 * current value following the target once the stream is ACTIVE again, kept in the file. */
static void test_account_and_warm(void)
{
    char dir[] = "/tmp/sc-registry-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct registry_opts o = opts(dir);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    struct reg_account a;
    registry_account_get(reg, &a);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_DISABLED);
    CHECK_EQ_INT(a.started_ms, 0);
    CHECK_EQ_INT(registry_stream_create(reg, "od", 1, REG_ON_DEMAND, NULL, 0, NULL), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "pv", 1, REG_PROVISIONED, NULL, 0, NULL), 0);
    struct reg_create_opts warm = {.warm = true, .warm_mibps = 100};
    CHECK_EQ_INT(registry_stream_create(reg, "w", 1, REG_ON_DEMAND, NULL, 0, &warm),
                 REG_ERR_NO_COMMITMENT);
    clock_advance_ms(600);
    uint32_t before = 0;
    CHECK_EQ_INT(registry_warm_set(reg, "od", 50, &before), REG_ERR_NO_COMMITMENT);
    int64_t t0 = clock_now_ms();
    CHECK_EQ_INT(registry_commitment_set(reg, true, &a), 0);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_ENABLED);
    CHECK(a.started_ms >= t0 && a.started_ms <= clock_now_ms()); /* the test clock runs too */
    CHECK_EQ_INT(a.earliest_end_ms, a.started_ms + REG_COMMITMENT_MIN_MS);
    t0 = a.started_ms;
    CHECK_EQ_INT(registry_commitment_set(reg, true, &a), 0); /* again: unchanged */
    CHECK_EQ_INT(a.started_ms, t0);
    CHECK_EQ_INT(registry_warm_set(reg, "pv", 50, &before), REG_ERR_NOT_ON_DEMAND);
    CHECK_EQ_INT(registry_warm_set(reg, "nope", 50, &before), KERR_RESOURCE_NOT_FOUND);
    CHECK_EQ_INT(registry_warm_set(reg, "od", 50, &before), 0);
    CHECK_EQ_INT(before, REG_ON_DEMAND_MIBPS);
    struct reg_stream_info info;
    CHECK_EQ_INT(registry_stream_get(reg, "od", &info), 0);
    CHECK_EQ_INT(info.status, REG_UPDATING);
    CHECK(info.warm_set && info.warm_target_mibps == 50 && info.warm_current_mibps == 4);
    CHECK_EQ_INT(registry_warm_set(reg, "od", 60, &before), KERR_RESOURCE_IN_USE);
    CHECK_EQ_INT(registry_stream_create(reg, "w", 1, REG_ON_DEMAND, NULL, 0, &warm), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "wp", 1, REG_PROVISIONED, NULL, 0, &warm),
                 REG_ERR_NOT_ON_DEMAND);
    uint32_t w = 70;
    CHECK_EQ_INT(registry_mode_set(reg, "pv", REG_PROVISIONED, &w), REG_ERR_NOT_ON_DEMAND);
    /* Disabled within the 24 h: scheduled; enabled again: cancelled; disabled again. */
    clock_advance_ms(3600 * 1000);
    CHECK_EQ_INT(registry_commitment_set(reg, false, &a), 0);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_ENDING);
    CHECK_EQ_INT(a.ended_ms, 0);
    CHECK_EQ_INT(registry_commitment_set(reg, true, &a), 0);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_ENABLED);
    CHECK_EQ_INT(a.started_ms, t0);
    CHECK_EQ_INT(registry_commitment_set(reg, false, &a), 0);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_ENDING);
    /* While ending the streams may still be warmed. */
    CHECK_EQ_INT(registry_stream_get(reg, "od", &info), 0);
    CHECK_EQ_INT(info.status, REG_ACTIVE);
    CHECK_EQ_INT(info.warm_current_mibps, 50);
    CHECK_EQ_INT(registry_mode_set(reg, "pv", REG_ON_DEMAND, &w), 0);
    registry_destroy(reg);
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    registry_account_get(reg, &a);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_ENDING);
    CHECK_EQ_INT(a.earliest_end_ms, t0 + REG_COMMITMENT_MIN_MS);
    CHECK_EQ_INT(registry_stream_get(reg, "od", &info), 0);
    CHECK(info.warm_set && info.warm_target_mibps == 50 && info.warm_current_mibps == 50);
    CHECK_EQ_INT(registry_stream_get(reg, "w", &info), 0);
    CHECK(info.warm_set && info.warm_target_mibps == 100 && info.warm_current_mibps == 100);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_stream_get(reg, "pv", &info), 0);
    CHECK(info.mode == REG_ON_DEMAND && info.warm_current_mibps == 70);
    /* The earliest end passes: DISABLED, ended then, and no more warming. */
    clock_advance_ms(REG_COMMITMENT_MIN_MS);
    registry_account_get(reg, &a);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_DISABLED);
    CHECK_EQ_INT(a.ended_ms, t0 + REG_COMMITMENT_MIN_MS);
    CHECK_EQ_INT(registry_warm_set(reg, "od", 10, &before), REG_ERR_NO_COMMITMENT);
    /* After the 24 h a disable is immediate. */
    int64_t t1 = clock_now_ms();
    CHECK_EQ_INT(registry_commitment_set(reg, true, &a), 0);
    CHECK(a.started_ms >= t1 && a.started_ms <= clock_now_ms());
    t1 = a.started_ms;
    clock_advance_ms(REG_COMMITMENT_MIN_MS + 1);
    CHECK_EQ_INT(registry_commitment_set(reg, false, &a), 0);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_DISABLED);
    CHECK(a.ended_ms > t1 + REG_COMMITMENT_MIN_MS && a.ended_ms <= clock_now_ms());
    registry_destroy(reg);
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    registry_account_get(reg, &a);
    CHECK_EQ_INT(a.commitment, REG_COMMIT_DISABLED);
    CHECK_EQ_INT(a.started_ms, t1);
    registry_destroy(reg);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    /* The account file's format: a bad status, a bad checksum, trailing lines are refused. */
    static const char *const bodies[] = {"commitment 1 5 0 7\n", "commitment 3 5 0 7\n",
                                         "commitment 1 5 0 7\nx\n"};
    for (size_t k = 0; k < SC_ARRAY_LEN(bodies); k++) {
        char text[200];
        int n = snprintf(text, sizeof(text), "shardcast-account 1\n%s", bodies[k]);
        snprintf(text + n, sizeof(text) - (size_t)n, "crc %08x\n",
                 crc32_update(0, text, (size_t)n));
        struct reg_account got;
        CHECK_EQ_INT(meta_account_decode(text, strlen(text), &got), k == 0 ? 0 : -EBADMSG);
        if (k == 0)
            CHECK(got.commitment == REG_COMMIT_ENABLED && got.started_ms == 5 &&
                  got.earliest_end_ms == 7);
        text[strlen(text) - 2] ^= 1;
        CHECK_EQ_INT(meta_account_decode(text, strlen(text), &got), -EBADMSG);
    }
}

static int seal_calls;

static int fake_seal(void *arg, const char *stream, uint32_t index, uint64_t *end)
{
    (void)arg;
    seal_calls++;
    if (strcmp(stream, "bad") == 0)
        return -EIO;
    *end = 100 + index;
    return 0;
}

static void test_seal_hook(void)
{
    struct registry_opts o = opts(NULL);
    o.seal = fake_seal;
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "ok", 2, REG_PROVISIONED, NULL, 0, NULL), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "bad", 2, REG_PROVISIONED, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_shard_merge(reg, "ok", 0, 1), 0);
    CHECK_EQ_INT(seal_calls, 2);
    struct reg_shard *sh;
    size_t n;
    registry_shards(reg, "ok", NULL, &sh, &n);
    CHECK(sh[0].closed && sh[0].ending_position == 100 && sh[1].ending_position == 101);
    free(sh);
    CHECK_EQ_INT(registry_shard_split(reg, "bad", 0, 1000), -EIO);
    registry_shards(reg, "bad", NULL, &sh, &n);
    CHECK_EQ_INT(n, 2);
    CHECK(!sh[0].closed);
    free(sh);
    registry_destroy(reg);
}

static void test_persistence(void)
{
    char dir[] = "/tmp/sc-registry-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct registry_opts o = opts(dir);
    struct registry *reg;
    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    static struct reg_tag t[3] = {{"with space", ""}, {"k", "v=1"}};
    /* The longest tag the API lets through, in 4-byte characters (U+1F600), survives whole. */
    for (size_t i = 0; i < REG_TAG_VALUE_MAX; i++) {
        if (i < REG_TAG_KEY_MAX)
            memcpy(t[2].key + 4 * i, "\xf0\x9f\x98\x80", 4);
        memcpy(t[2].value + 4 * i, "\xf0\x9f\x98\x80", 4);
    }
    CHECK_EQ_INT(registry_stream_create(reg, "p1", 3, REG_PROVISIONED, t, 3, NULL), 0);
    CHECK_EQ_INT(registry_stream_create(reg, "..", 1, REG_ON_DEMAND, NULL, 0, NULL), 0);
    clock_advance_ms(600);
    CHECK_EQ_INT(registry_shard_split(reg, "p1", 1, 200), KERR_INVALID_ARGUMENT);
    struct reg_consumer c;
    CHECK_EQ_INT(registry_consumer_register(reg, "p1", "cons 1", &c), 0);
    struct reg_stream_info a, b;
    registry_stream_get(reg, "p1", &a);
    registry_destroy(reg);

    CHECK_EQ_INT(registry_create(&o, &reg), 0);
    CHECK_EQ_INT(registry_stream_get(reg, "p1", &b), 0);
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    CHECK_EQ_INT(b.tag_count, 3);
    CHECK_EQ_INT(strlen(b.tags[2].key), 4 * REG_TAG_KEY_MAX); /* sorted: "k", "with space", ... */
    CHECK_EQ_INT(strlen(b.tags[2].value), 4 * REG_TAG_VALUE_MAX);
    CHECK_EQ_INT(registry_stream_get(reg, "..", &b), 0);
    CHECK_EQ_INT(b.shard_count, 4);
    struct reg_consumer c2;
    CHECK_EQ_INT(registry_consumer_get(reg, "p1", "cons 1", &c2), 0);
    CHECK_EQ_INT(c2.created_ms, c.created_ms);
    registry_destroy(reg);

    /* Flip one byte: the checksum catches it and the registry refuses to load. */
    char path[256];
    snprintf(path, sizeof(path), "%s/meta/stream.p1.meta", dir);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    char ch;
    CHECK_EQ_INT(pread(fd, &ch, 1, 40), 1);
    ch = (char)(ch ^ 1);
    CHECK_EQ_INT(pwrite(fd, &ch, 1, 40), 1);
    close(fd);
    CHECK_EQ_INT(registry_create(&o, &reg), -EBADMSG);
    /* Truncated file too. */
    CHECK_EQ_INT(truncate(path, 10), 0);
    CHECK_EQ_INT(registry_create(&o, &reg), -EBADMSG);
    unlink(path);
    snprintf(path, sizeof(path), "%s/meta/stream....meta", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/meta", dir);
    rmdir(path);
    rmdir(dir);
}

static struct registry *g_mt;

static void *mt_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[32];
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof(name), "t%d-%02d", id, i);
        int rc, tries = 0;
        while ((rc = registry_stream_create(g_mt, name, 1, REG_PROVISIONED, NULL, 0, NULL)) ==
                   KERR_LIMIT_EXCEEDED &&
               ++tries < 100000)
            clock_advance_ms(1); /* other threads' streams are CREATING: let time pass */
        if (rc != 0)
            return (void *)1;
        struct reg_stream_info info;
        if (registry_stream_get(g_mt, name, &info) != 0)
            return (void *)1;
        struct reg_shard *sh;
        size_t n;
        if (registry_shards(g_mt, name, NULL, &sh, &n) != 0 || n != 1)
            return (void *)1;
        free(sh);
    }
    return NULL;
}

static void test_threads(void)
{
    char dir[] = "/tmp/sc-registry-mt-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct registry_opts o = opts(dir);
    o.shard_limit = 1000;
    o.transition_ms = 1;
    CHECK_EQ_INT(registry_create(&o, &g_mt), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, mt_worker, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    uint32_t open, od;
    registry_limits(g_mt, &open, &od);
    CHECK_EQ_INT(open, 100);
    registry_destroy(g_mt);
    CHECK_EQ_INT(registry_create(&o, &g_mt), 0);
    registry_limits(g_mt, &open, &od);
    CHECK_EQ_INT(open, 100);
    registry_destroy(g_mt);
    CHECK_EQ_INT(test_rmrf(dir), 0);
}

static void test_shard_ids(void)
{
    uint32_t i;
    char buf[32];
    CHECK_EQ_INT(registry_shard_id_parse("shardId-000000000007", &i), 0);
    CHECK_EQ_INT(i, 7);
    CHECK_EQ_INT(registry_shard_id_parse("shardId-1", &i), 0);
    CHECK_EQ_INT(i, 1);
    CHECK_EQ_INT(registry_shard_id_parse("12", &i), 0);
    CHECK_EQ_INT(i, 12);
    CHECK_EQ_INT(registry_shard_id_parse("shardId-", &i), -EINVAL);
    CHECK_EQ_INT(registry_shard_id_parse("shard-1", &i), -EINVAL);
    CHECK_EQ_INT(registry_shard_id_parse("99999999999", &i), -EINVAL);
    CHECK_EQ_STR(registry_shard_id_print(3, buf), "shardId-000000000003");
    CHECK_EQ_STR(registry_shard_id_print(0, buf), "shardId-000000000000");
    CHECK_EQ_STR(registry_shard_id_print(UINT32_MAX, buf), "shardId-004294967295");
}

int main(void)
{
    TEST_RUN(test_lifecycle);
    TEST_RUN(test_clock_steps_back);
    TEST_RUN(test_limits);
    TEST_RUN(test_tags_retention);
    TEST_RUN(test_reshard_consumers);
    TEST_RUN(test_update_shard_count);
    TEST_RUN(test_update_shard_count_uniform);
    TEST_RUN(test_update_shard_count_per_day);
    TEST_RUN(test_encryption_per_day);
    TEST_RUN(test_resource_policies);
    TEST_RUN(test_max_record_size);
    TEST_RUN(test_account_and_warm);
    TEST_RUN(test_seal_hook);
    TEST_RUN(test_persistence);
    TEST_RUN(test_shard_ids);
    TEST_RUN(test_threads);
    TEST_EXIT();
}
