/* libFuzzer harness for list pagination tokens (server/api.c api_token_parse): ListStreams,
 * ListShards and ListStreamConsumers decode whatever NextToken a client sends.
 *
 * Input: byte 0 picks the mode. Parse mode: the rest is a NextToken as a client could send it;
 * tokens are authenticated, so it must be refused, without a crash, leak or overflow on the way
 * (a forged issue time of -2^63 once overflowed the expiry check). Round-trip mode: the rest
 * chooses a stream name and a cursor; the token made from them parses back to exactly them, is
 * refused for another kind of listing, and is refused once any one character is changed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/errors.h"
#include "server/api_internal.h"
#include "shards/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CURSOR_CAP 160

static void text_of(const uint8_t *data, size_t n, char *out, size_t cap)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    size_t len = SC_MAX((size_t)1, SC_MIN(n, cap - 1));
    for (size_t i = 0; i < len; i++)
        out[i] = chars[(i < n ? data[i] : 0) % (sizeof(chars) - 1)];
    out[len] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static bool init;
    if (!init) {
        ASSERT(api_iterator_init(NULL) == 0); /* a process-lifetime key, as without a data dir */
        init = true;
    }
    char stream[REG_NAME_MAX + 1], cursor[CURSOR_CAP];
    if (data[0] & 1) {
        size_t half = (size - 1) / 2;
        char want_stream[REG_NAME_MAX + 1], want_cursor[CURSOR_CAP];
        text_of(data + 1, half, want_stream, sizeof(want_stream));
        text_of(data + 1 + half, size - 1 - half, want_cursor, sizeof(want_cursor));
        char *tok = api_token_make("shards", want_stream, want_cursor);
        ASSERT(api_token_parse(tok, "shards", stream, cursor, sizeof(cursor)) == 0);
        ASSERT(strcmp(stream, want_stream) == 0 && strcmp(cursor, want_cursor) == 0);
        ASSERT(api_token_parse(tok, "streams", stream, cursor, sizeof(cursor)) ==
               KERR_INVALID_ARGUMENT);
        size_t at = data[size - 1] % strlen(tok);
        tok[at] = tok[at] == 'A' ? 'B' : 'A';
        ASSERT(api_token_parse(tok, "shards", stream, cursor, sizeof(cursor)) ==
               KERR_INVALID_ARGUMENT);
        free(tok);
        return 0;
    }
    char *tok = sc_malloc(size);
    memcpy(tok, data + 1, size - 1);
    tok[size - 1] = '\0';
    ASSERT(api_token_parse(tok, "shards", stream, cursor, sizeof(cursor)) == KERR_INVALID_ARGUMENT);
    free(tok);
    return 0;
}
