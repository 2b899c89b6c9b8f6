/* leases_test.c — the consumer x shard subscription table: refusal within 5 s, takeover after,
 * release only by the holder, deregister takes every shard's entry. */
#include <errno.h>

#include "subscribe/leases.h"
#include "tests/test.h"

static void test_leases(void)
{
    int a, b, c;
    struct lease_key k = {"s", "c1", 1000, 3};
    void *ev = &c;
    CHECK_EQ_INT(leases_acquire(&k, &a, 10000, &ev), 0);
    CHECK(ev == NULL);
    CHECK_EQ_INT(leases_acquire(&k, &b, 14999, &ev), -EBUSY);
    CHECK_EQ_INT(leases_acquire(&k, &b, 15000, &ev), 0);
    CHECK(ev == &a);
    CHECK(!leases_release(&k, &a));
    struct lease_key k2 = {"s", "c1", 1000, 4};
    CHECK_EQ_INT(leases_acquire(&k2, &c, 15000, &ev), 0);
    void *out[4];
    CHECK_EQ_INT((int)leases_take_consumer("s", "c1", out, 4), 2);
    CHECK_EQ_INT((int)leases_count(), 0);
    CHECK(!leases_release(&k, &b));
}

int main(void)
{
    TEST_RUN(test_leases);
    TEST_EXIT();
}
