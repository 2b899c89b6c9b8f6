/* utf8.h — UTF-8 (RFC 3629) and the JSON string pieces shared by the codecs that check or write
 * text: the JSON scanner of the write path (server/jscan.c) and the CBOR transcoder
 * (subscribe/awscbor.c). Pure functions, any thread. */
#ifndef SC_UTF8_H
#define SC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (2..4) of the well-formed sequence starting at p, whose lead byte is >= 0x80 and which
 * must end by `end`; 0 when it is not one (overlong forms, surrogates, > U+10FFFF, a bad or
 * missing continuation byte). */
size_t utf8_check(const uint8_t *p, const uint8_t *end);

/* Bytes code point cp (<= U+10FFFF, not a surrogate: the caller's to ensure) takes. */
size_t utf8_encoded_len(uint32_t cp);

/* Writes cp to dst (utf8_encoded_len(cp) bytes) and returns that length. */
size_t utf8_encode(uint8_t *dst, uint32_t cp);

/* The first byte at or after p that is not plain printable ASCII inside a JSON string (< 0x20,
 * >= 0x80, '"' or '\\'), or end. 16 bytes per step where SSE2 is there: base64 Data is all
 * plain, so a record's scan is this loop. */
const char *utf8_json_plain_end(const char *p, const char *end);

/* The four hex digits at p (of a \uXXXX escape) as a value, or -1. */
int32_t utf8_hex4(const char *p);

#endif
