/* Shard iterator codec: round trip, tamper evidence, expiry, the key file. */
#include "server/iterator.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "tests/test.h"

static struct iterator_key key_a, key_b;

static struct iterator sample(const char *name)
{
    struct iterator it = {
        .shard_index = 7, .shard_created_ms = 1700000000123, .position = 0x0123456789abcdefULL};
    snprintf(it.stream, sizeof(it.stream), "%s", name);
    return it;
}

static void test_round_trip(void)
{
    struct iterator it = sample("orders-1.x_y"), back;
    char text[ITERATOR_TEXT_MAX + 1];
    int64_t now = clock_now_ms();
    size_t n = iterator_encode(&key_a, &it, now, text);
    CHECK_EQ_INT(n, strlen(text));
    CHECK_EQ_INT(it.issued_ms, now);
    CHECK(strncmp(text, "AAAAAAAAAAE", 11) == 0); /* looks like AWS's */
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, now, &back), 0);
    CHECK_EQ_STR(back.stream, "orders-1.x_y");
    CHECK_EQ_INT(back.shard_index, 7);
    CHECK_EQ_INT(back.shard_created_ms, 1700000000123);
    CHECK(back.position == 0x0123456789abcdefULL);
    CHECK_EQ_INT(back.issued_ms, now);

    /* Extreme field values survive. */
    it = sample("a");
    it.shard_index = UINT32_MAX;
    it.position = UINT64_MAX;
    it.shard_created_ms = 0;
    n = iterator_encode(&key_a, &it, now, text);
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, now, &back), 0);
    CHECK_EQ_STR(back.stream, "a");
    CHECK(back.shard_index == UINT32_MAX && back.position == UINT64_MAX);

    /* Each call makes a different iterator only through its fields: same input, same text. */
    char again[ITERATOR_TEXT_MAX + 1];
    iterator_encode(&key_a, &it, now, again);
    CHECK_EQ_STR(again, text);
}

static void test_max_length(void)
{
    char name[REG_NAME_MAX + 1];
    memset(name, 'n', REG_NAME_MAX);
    name[REG_NAME_MAX] = '\0';
    struct iterator it = sample(name), back;
    it.position = UINT64_MAX;
    char text[ITERATOR_TEXT_MAX + 1];
    size_t n = iterator_encode(&key_a, &it, clock_now_ms(), text);
    CHECK(n <= ITERATOR_TEXT_MAX);
    CHECK(n > 0 && n % 4 == 0);
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, clock_now_ms(), &back), 0);
    CHECK_EQ_STR(back.stream, name);
    fprintf(stderr, "longest iterator: %zu chars\n", n);
}

/* Every single-character change of the text is rejected (including the unused low bits of the
 * last base64 character, which a lax decoder would ignore). */
static void test_every_char_flipped(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=!";
    struct iterator it = sample("flip"), back;
    char text[ITERATOR_TEXT_MAX + 1];
    size_t n = iterator_encode(&key_a, &it, clock_now_ms(), text);
    int accepted = 0, tried = 0;
    for (size_t i = 0; i < n; i++) {
        char orig = text[i];
        for (const char *a = alphabet; *a; a++) {
            if (*a == orig)
                continue;
            text[i] = *a;
            tried++;
            if (iterator_decode(&key_a, text, n, clock_now_ms(), &back) != KERR_INVALID_ARGUMENT)
                accepted++;
        }
        text[i] = orig;
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK(tried > 1000);
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, clock_now_ms(), &back), 0);
}

/* Flipping any bit of the decoded bytes (then encoding canonically) is rejected too. */
static void test_every_bit_flipped(void)
{
    struct iterator it = sample("bits"), back;
    char text[ITERATOR_TEXT_MAX + 1];
    size_t n = iterator_encode(&key_a, &it, clock_now_ms(), text);
    unsigned char raw[ITERATOR_TEXT_MAX];
    int len = EVP_DecodeBlock(raw, (const unsigned char *)text, (int)n);
    len -= (text[n - 1] == '=') + (text[n - 2] == '=');
    int accepted = 0;
    for (int i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            raw[i] ^= (unsigned char)(1u << bit);
            char edited[ITERATOR_TEXT_MAX + 1];
            int m = EVP_EncodeBlock((unsigned char *)edited, raw, len);
            if (iterator_decode(&key_a, edited, (size_t)m, clock_now_ms(), &back) == 0)
                accepted++;
            raw[i] ^= (unsigned char)(1u << bit);
        }
    }
    CHECK_EQ_INT(accepted, 0);
}

static void test_truncated_and_garbage(void)
{
    struct iterator it = sample("trunc"), back;
    char text[ITERATOR_TEXT_MAX + 1];
    size_t n = iterator_encode(&key_a, &it, clock_now_ms(), text);
    int accepted = 0;
    for (size_t len = 0; len < n; len++)
        if (iterator_decode(&key_a, text, len, clock_now_ms(), &back) != KERR_INVALID_ARGUMENT)
            accepted++;
    CHECK_EQ_INT(accepted, 0);
    /* Longer: a valid prefix followed by more base64. */
    char longer[ITERATOR_TEXT_MAX + 8];
    snprintf(longer, sizeof(longer), "%sAAAA", text);
    CHECK_EQ_INT(iterator_decode(&key_a, longer, n + 4, clock_now_ms(), &back),
                 KERR_INVALID_ARGUMENT);
    const char *garbage[] = {
        "x", "AAAAAAAAAAE=", "not base64 at all!!!",
        "====", "AAAAAAAAAAEBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < SC_ARRAY_LEN(garbage); i++)
        CHECK_EQ_INT(iterator_decode(&key_a, garbage[i], strlen(garbage[i]), clock_now_ms(), &back),
                     KERR_INVALID_ARGUMENT);
    char big[ITERATOR_TEXT_MAX + 5];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_INT(iterator_decode(&key_a, big, strlen(big), clock_now_ms(), &back),
                 KERR_INVALID_ARGUMENT);
}

static void test_wrong_key(void)
{
    struct iterator it = sample("keyed"), back;
    char text[ITERATOR_TEXT_MAX + 1];
    size_t n = iterator_encode(&key_a, &it, clock_now_ms(), text);
    CHECK_EQ_INT(iterator_decode(&key_b, text, n, clock_now_ms(), &back), KERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, clock_now_ms(), &back), 0);
}

static void test_expiry(void)
{
    struct iterator it = sample("old"), back;
    char text[ITERATOR_TEXT_MAX + 1];
    size_t n = iterator_encode(&key_a, &it, clock_now_ms(), text);
    int64_t issued = it.issued_ms;
    clock_advance_ms(ITERATOR_LIFETIME_MS - 1000);
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, clock_now_ms(), &back), 0);
    clock_advance_ms(2000);
    int64_t now = clock_now_ms();
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, now, &back), KERR_EXPIRED_ITERATOR);
    CHECK_EQ_INT(back.issued_ms, issued); /* filled for the message */
    CHECK_EQ_STR(back.stream, "old");
    /* Exactly the lifetime is still valid; one ms more is not. */
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, issued + ITERATOR_LIFETIME_MS, &back), 0);
    CHECK_EQ_INT(iterator_decode(&key_a, text, n, issued + ITERATOR_LIFETIME_MS + 1, &back),
                 KERR_EXPIRED_ITERATOR);

    char msg[512];
    iterator_expired_message(msg, sizeof(msg), 1421889722000, 1421890022001);
    CHECK_EQ_STR(msg, "Iterator expired. The iterator was created at time Thu Jan 22 01:22:02 UTC "
                      "2015 while right now it is Thu Jan 22 01:27:02 UTC 2015 which is further "
                      "in the future than the tolerated delay of 300000 milliseconds.");
}

static void test_key_file(void)
{
    char dir[] = "/tmp/sc-iterator-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char data[128], path[256];
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(path, sizeof(path), "%s/meta/iterator.key", data);
    struct iterator_key k1, k2, k3;
    CHECK_EQ_INT(iterator_key_load(data, &k1), 0); /* creates data/ and data/meta/ */
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_size, ITERATOR_KEY_BYTES);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    CHECK_EQ_INT(iterator_key_load(data, &k2), 0); /* the same key again: survives a restart */
    CHECK(memcmp(k1.bytes, k2.bytes, ITERATOR_KEY_BYTES) == 0);
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);

    /* A damaged key file is reported, not silently replaced. */
    int fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0);
    CHECK(write(fd, "short", 5) == 5);
    close(fd);
    CHECK_EQ_INT(iterator_key_load(data, &k3), -EBADMSG);

    /* Memory-only servers get a random key. */
    CHECK_EQ_INT(iterator_key_load(NULL, &k3), 0);
    CHECK(memcmp(k1.bytes, k3.bytes, ITERATOR_KEY_BYTES) != 0);

    unlink(path);
    rmdir(strcat(strcpy(tmp, data), "/meta"));
    rmdir(data);
    rmdir(dir);
}

int main(void)
{
    CHECK_EQ_INT(iterator_key_load(NULL, &key_a), 0);
    CHECK_EQ_INT(iterator_key_load(NULL, &key_b), 0);
    TEST_RUN(test_round_trip);
    TEST_RUN(test_max_length);
    TEST_RUN(test_every_char_flipped);
    TEST_RUN(test_every_bit_flipped);
    TEST_RUN(test_truncated_and_garbage);
    TEST_RUN(test_wrong_key);
    TEST_RUN(test_key_file);
    TEST_RUN(test_expiry); /* last: it moves the clock */
    TEST_EXIT();
}
