#include "common/utf8.h"

#include <string.h>

#include "common/common.h"

size_t utf8_check(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t n = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
    if (n == 0 || (size_t)(end - p) < n)
        return 0;
    /* The second byte's range narrows where the table of RFC 3629 §4 says. */
    uint8_t lo = 0x80, hi = 0xbf;
    if (c == 0xe0)
        lo = 0xa0; /* overlong 3-byte forms */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong 4-byte forms */
    else if (c == 0xf4)
        hi = 0x8f; /* beyond U+10FFFF */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

size_t utf8_encoded_len(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

size_t utf8_encode(uint8_t *dst, uint32_t cp)
{
    static const uint8_t lead[5] = {0, 0, 0xc0, 0xe0, 0xf0};
    size_t n = utf8_encoded_len(cp);
    if (n == 1) {
        dst[0] = (uint8_t)cp;
        return 1;
    }
    for (size_t i = n - 1; i > 0; i--) {
        dst[i] = (uint8_t)(0x80 | (cp & 0x3f));
        cp >>= 6;
    }
    dst[0] = (uint8_t)(lead[n] | cp);
    return n;
}

int32_t utf8_hex4(const char *p)
{
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = sc_hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

size_t utf8_cut_len(const char *s, size_t len)
{
    size_t i = len, tail = 0;
    while (i > 0 && tail < 3 && ((uint8_t)s[i - 1] & 0xc0) == 0x80) {
        i--;
        tail++;
    }
    if (i == 0)
        return len;
    uint8_t lead = (uint8_t)s[i - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    /* A complete sequence, or not one at all (utf8_scrub's business): keep everything. */
    return need > tail + 1 ? i - 1 : len;
}

size_t utf8_scrub(char *dst, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    uint8_t *w = (uint8_t *)dst;
    while (p < end) {
        size_t n = *p < 0x80 ? 1 : utf8_check(p, end);
        if (n == 0) {
            w += utf8_encode(w, 0xfffd);
            p++;
            continue;
        }
        memcpy(w, p, n);
        w += n;
        p += n;
    }
    *w = '\0';
    return (size_t)(w - (uint8_t *)dst);
}
