#include "server/oprate.h"

#include <stdio.h>

#include "tests/test.h"

#define SEC 1000000000ull

static int admitted(const char *op, const char *stream, int n, uint64_t now)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += oprate_admit(op, stream, now);
    return ok;
}

static void test_scopes(void)
{
    CHECK_EQ_INT(oprate_scope_of("DescribeStream"), OPRATE_ACCOUNT);
    CHECK_EQ_INT(oprate_scope_of("ListShards"), OPRATE_STREAM);
    CHECK_EQ_INT(oprate_scope_of("PutRecords"), OPRATE_NONE);
    CHECK_EQ_INT(oprate_scope_of("AddTagsToStream"), OPRATE_ACCOUNT); /* first row */
    CHECK_EQ_INT(oprate_scope_of("SplitShard"), OPRATE_ACCOUNT);      /* last row */
}

static void test_account(void)
{
    uint64_t t = 100 * SEC;
    oprate_init(true);
    CHECK_EQ_INT(admitted("DescribeLimits", NULL, 3, t), 1);
    CHECK_EQ_INT(admitted("DescribeStream", "a", 15, t), 10);
    CHECK_EQ_INT(admitted("DescribeStream", "b", 1, t), 0); /* the account's, whatever stream */
    CHECK_EQ_INT(admitted("DescribeStreamSummary", "a", 25, t), 20); /* its own bucket */
    CHECK_EQ_INT(admitted("DescribeStream", "a", 10, t + SEC / 2), 5);  /* refills at 10/s */
    CHECK_EQ_INT(admitted("DescribeStream", "a", 15, t + 3 * SEC), 10); /* never above 10 */
    CHECK_EQ_INT(admitted("PutRecords", "a", 5000, t), 5000);
    oprate_init(false);
    CHECK_EQ_INT(admitted("DescribeLimits", NULL, 50, t), 50);
}

static void test_stream(void)
{
    uint64_t t = 100 * SEC;
    oprate_init(true);
    CHECK_EQ_INT(admitted("ListStreamConsumers", "a", 8, t), 5);
    CHECK_EQ_INT(admitted("ListStreamConsumers", "b", 8, t), 5);
    CHECK_EQ_INT(admitted("DescribeStreamConsumer", "a", 30, t), 20);
    CHECK_EQ_INT(admitted("ListStreamConsumers", "a", 8, t + SEC), 5);
    /* No stream, or a name no stream can have: the handler's validation answers. */
    CHECK_EQ_INT(admitted("ListStreamConsumers", NULL, 8, t), 8);
    char longname[200];
    snprintf(longname, sizeof(longname), "%0150d", 7);
    CHECK_EQ_INT(admitted("ListStreamConsumers", longname, 8, t), 8);
    CHECK_EQ_INT(admitted("ListStreamConsumers", "", 8, t), 8);
}

/* More streams called within one second than the table holds: the calls of a stream that finds
 * no slot are admitted (fail open, bounded memory); a second later the slots are free again. */
static void test_table_bound(void)
{
    uint64_t t = 100 * SEC;
    oprate_init(true);
    char name[32];
    int limited = 0;
    for (int i = 0; i < 4000; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        limited += admitted("ListStreamConsumers", name, 6, t) == 5;
    }
    CHECK(limited >= 1024 * 3 / 4); /* most slots found (probe runs of 16 in 1024 slots) */
    CHECK(limited <= 1024);
    /* A second on, the table is free again (every entry idle): the next 500 streams are all
     * limited, the first ones among them included. */
    int again = 0;
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        again += admitted("ListStreamConsumers", name, 6, t + 2 * SEC) == 5;
    }
    CHECK_EQ_INT(again, 500);
}

int main(void)
{
    TEST_RUN(test_scopes);
    TEST_RUN(test_account);
    TEST_RUN(test_stream);
    TEST_RUN(test_table_bound);
    TEST_EXIT();
}
