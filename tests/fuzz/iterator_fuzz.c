/* libFuzzer harness for shard iterators (server/iterator.c): GetRecords decodes whatever string a
 * client sends as ShardIterator.
 *
 * Input: byte 0 picks the mode. Decode mode: the rest is a ShardIterator as a client could send
 * it; it must never decode as valid (the harness's key signed nothing), only be refused or
 * reported expired — never crash, leak or read past its end. Round-trip mode: the rest chooses an
 * iterator's fields; it is encoded, must decode to the same fields (and be expired one lifetime
 * later), and then one character chosen by the input is changed: the result must be refused (the
 * base64 is strict, so even unused padding bits count). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/errors.h"
#include "server/iterator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int64_t NOW_MS = 1700000000000;

static const struct iterator_key *key(void)
{
    static struct iterator_key k;
    static bool init;
    if (!init) {
        for (size_t i = 0; i < sizeof(k.bytes); i++)
            k.bytes[i] = (uint8_t)(i * 37 + 11);
        init = true;
    }
    return &k;
}

static uint64_t take_u64(const uint8_t **p, size_t *n)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && *n > 0; i++, (*p)++, (*n)--)
        v = v << 8 | **p;
    return v;
}

static void same_fields(const struct iterator *a, const struct iterator *b)
{
    ASSERT(strcmp(a->stream, b->stream) == 0 && a->shard_index == b->shard_index &&
           a->shard_created_ms == b->shard_created_ms && a->position == b->position &&
           a->issued_ms == b->issued_ms);
}

static void round_trip(const uint8_t *data, size_t size)
{
    static const char name_chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    struct iterator it = {0};
    it.shard_index = (uint32_t)take_u64(&data, &size);
    it.shard_created_ms = (int64_t)(take_u64(&data, &size) >> 1);
    it.position = take_u64(&data, &size);
    size_t where = (size_t)take_u64(&data, &size);
    uint8_t repl = size > 0 ? data[0] : 'A';
    size_t name_len = SC_MAX((size_t)1, SC_MIN(size, (size_t)REG_NAME_MAX));
    for (size_t i = 0; i < name_len; i++)
        it.stream[i] = name_chars[(i < size ? data[i] : 0) % (sizeof(name_chars) - 1)];
    it.stream[name_len] = '\0';

    char text[ITERATOR_TEXT_MAX + 1];
    size_t len = iterator_encode(key(), &it, NOW_MS, text);
    ASSERT(len == strlen(text) && len <= ITERATOR_TEXT_MAX);
    struct iterator back;
    ASSERT(iterator_decode(key(), text, len, NOW_MS, &back) == 0);
    same_fields(&it, &back);
    ASSERT(iterator_decode(key(), text, len, NOW_MS + ITERATOR_LIFETIME_MS + 1, &back) ==
           KERR_EXPIRED_ITERATOR);

    size_t at = where % len;
    if (text[at] == (char)repl)
        return;
    text[at] = (char)repl;
    int rc = iterator_decode(key(), text, len, NOW_MS, &back);
    ASSERT(rc == KERR_INVALID_ARGUMENT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        round_trip(data + 1, size - 1);
        return 0;
    }
    char *text = sc_malloc(size); /* exact size: no NUL, so an over-read shows */
    memcpy(text, data + 1, size - 1);
    struct iterator out;
    int rc = iterator_decode(key(), text, size - 1, NOW_MS, &out);
    ASSERT(rc == KERR_INVALID_ARGUMENT);
    free(text);
    return 0;
}
