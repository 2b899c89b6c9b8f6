#include "shards/u128.h"

#include <errno.h>

#include "tests/test.h"

static void test_parse_print(void)
{
    u128 v;
    char buf[U128_DEC_MAX];
    CHECK_EQ_INT(u128_parse("0", &v), 0);
    CHECK(v == 0);
    CHECK_EQ_STR(u128_print(0, buf), "0");
    CHECK_EQ_INT(u128_parse("340282366920938463463374607431768211455", &v), 0);
    CHECK(v == U128_MAX);
    CHECK_EQ_STR(u128_print(v, buf), "340282366920938463463374607431768211455");
    CHECK_EQ_INT(u128_parse("340282366920938463463374607431768211456", &v), -ERANGE);
    CHECK_EQ_INT(u128_parse("999999999999999999999999999999999999999", &v), -ERANGE);
    CHECK_EQ_INT(u128_parse("1000000000000000000000000000000000000000", &v), -EINVAL);
    CHECK_EQ_INT(u128_parse("01", &v), -EINVAL);
    CHECK_EQ_INT(u128_parse("", &v), -EINVAL);
    CHECK_EQ_INT(u128_parse("-1", &v), -EINVAL);
    CHECK_EQ_INT(u128_parse("12a", &v), -EINVAL);
    CHECK_EQ_INT(u128_parse(" 1", &v), -EINVAL);
    CHECK_EQ_INT(u128_parse("18446744073709551616", &v), 0);
    CHECK(v == ((u128)1 << 64));
    CHECK_EQ_STR(u128_print(v, buf), "18446744073709551616");
}

static void test_md5(void)
{
    char buf[U128_DEC_MAX];
    CHECK_EQ_STR(u128_print(u128_md5("pk1", 3), buf), "329398341438914906102347661116985167824");
}

static void test_split_exact(void)
{
    u128 s, e;
    char a[U128_DEC_MAX], b[U128_DEC_MAX];
    u128_split(0, 1, &s, &e);
    CHECK(s == 0 && e == U128_MAX);
    u128_split(0, 2, &s, &e);
    CHECK_EQ_STR(u128_print(e, a), "170141183460469231731687303715884105727");
    u128_split(1, 2, &s, &e);
    CHECK_EQ_STR(u128_print(s, a), "170141183460469231731687303715884105728");
    CHECK_EQ_STR(u128_print(e, b), "340282366920938463463374607431768211455");
    u128_split(0, 3, &s, &e);
    CHECK_EQ_STR(u128_print(e, a), "113427455640312821154458202477256070484");
    u128_split(1, 3, &s, &e);
    CHECK_EQ_STR(u128_print(e, a), "226854911280625642308916404954512140969");
    u128_split(2, 3, &s, &e);
    CHECK_EQ_STR(u128_print(e, a), "340282366920938463463374607431768211455");
}

static void test_split_cover(void)
{
    for (uint32_t n = 1; n <= 10; n++) {
        u128 prev_end = 0;
        for (uint32_t i = 0; i < n; i++) {
            u128 s, e;
            u128_split(i, n, &s, &e);
            CHECK(s <= e);
            if (i == 0)
                CHECK(s == 0);
            else
                CHECK(s == prev_end + 1);
            prev_end = e;
        }
        CHECK(prev_end == U128_MAX);
    }
}

int main(void)
{
    TEST_RUN(test_parse_print);
    TEST_RUN(test_md5);
    TEST_RUN(test_split_exact);
    TEST_RUN(test_split_cover);
    TEST_EXIT();
}
