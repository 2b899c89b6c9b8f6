/* utf8.h — UTF-8 (RFC 3629) and the JSON string pieces shared by the codecs that check or write
 * text: the JSON scanner of the write path (server/jscan.c) and the CBOR transcoder
 * (subscribe/awscbor.c). Pure functions, any thread. */
#ifndef SC_UTF8_H
#define SC_UTF8_H

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Length (2..4) of the well-formed sequence starting at p, whose lead byte is >= 0x80 and which
 * must end by `end`; 0 when it is not one (overlong forms, surrogates, > U+10FFFF, a bad or
 * missing continuation byte). */
size_t utf8_check(const uint8_t *p, const uint8_t *end);

/* Length of the well-formed UTF-8 s[0..len) in UTF-16 code units: how Java's String.length(),
 * and so every length constraint of AWS's model, counts (a 4-byte sequence is a surrogate
 * pair, two). */
static inline size_t utf8_utf16_len(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        n += (b & 0xC0) != 0x80;
        n += b >= 0xF0;
    }
    return n;
}

/* Bytes code point cp (<= U+10FFFF, not a surrogate: the caller's to ensure) takes. */
size_t utf8_encoded_len(uint32_t cp);

/* Writes cp to dst (utf8_encoded_len(cp) bytes) and returns that length. */
size_t utf8_encode(uint8_t *dst, uint32_t cp);

/* The first byte at or after p that is not plain printable ASCII inside a JSON string (< 0x20,
 * >= 0x80, '"' or '\\'), or end. 16 bytes per step where SSE2 is there: base64 Data is all
 * plain, so a record's scan is this loop — inline, as it was inside jscan before it was shared. */
static inline const char *utf8_json_plain_end(const char *p, const char *end)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too. */
        __m128i stop = _mm_or_si128(_mm_cmplt_epi8(v, space),
                                    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
        unsigned mask = (unsigned)_mm_movemask_epi8(stop);
        if (mask != 0)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            break;
    }
    return p;
}

/* The four hex digits at p (of a \uXXXX escape) as a value, or -1. */
int32_t utf8_hex4(const char *p);

/* len, less the bytes of a sequence that s[0..len) ends inside of: where to cut text that a fixed
 * buffer or snprintf has cut already so that what is kept stays well-formed. Only the end is
 * looked at. */
size_t utf8_cut_len(const char *s, size_t len);

/* Copies s[0..len) to dst with every byte that does not start a well-formed sequence replaced by
 * U+FFFD, and NUL-terminates it; dst has room for 3 * len + 1 bytes. Returns the bytes written
 * (without the NUL). For messages that quote bytes a client sent. */
size_t utf8_scrub(char *dst, const char *s, size_t len);

#endif
