#include "common/base64.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Base64 digit values plus one; 0 = not a digit. A table, because a Data string is most of
 * every record: the branchy per-character decode was a third of the server's time on a CBOR
 * fan-out (docs/benchmarks.md). */
static const uint8_t digit[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64};

/* '=' characters ending s[0..len) (len a multiple of 4): 0, 1 or 2. */
static size_t pad_of(const char *s, size_t len)
{
    if (len == 0 || s[len - 1] != '=')
        return 0;
    return s[len - 2] == '=' ? 2 : 1;
}

size_t base64_decoded_len(const char *s, size_t len)
{
    return len / 4 * 3 - pad_of(s, len);
}

bool base64_check(const char *s, size_t len, size_t *decoded)
{
    if (len % 4 != 0)
        return false;
    size_t pad = pad_of(s, len);
    size_t i = 0;
#if defined(__SSE2__)
    /* 16 characters per step (a 1 MiB record is 1.4 MB of base64). Signed compares: bytes
     * >= 0x80 are negative and fall outside every range. */
    for (; i + 16 <= len - pad; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
#define B64_RANGE(lo, hi)                                                                          \
    _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((lo)-1)),                                        \
                  _mm_cmplt_epi8(v, _mm_set1_epi8((hi) + 1)))
        __m128i ok = _mm_or_si128(
            _mm_or_si128(B64_RANGE('A', 'Z'), B64_RANGE('a', 'z')),
            _mm_or_si128(B64_RANGE('0', '9'), _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')),
                                                           _mm_cmpeq_epi8(v, _mm_set1_epi8('/')))));
#undef B64_RANGE
        if (_mm_movemask_epi8(ok) != 0xFFFF)
            return false;
    }
#endif
    for (; i < len - pad; i++)
        if (!digit[(unsigned char)s[i]])
            return false;
    *decoded = len / 4 * 3 - pad;
    return true;
}

long base64_decode(uint8_t *dst, const uint8_t *s, size_t n)
{
    if (n % 4 != 0)
        return -1;
    if (n == 0)
        return 0;
    size_t pad = pad_of((const char *)s, n);
    size_t full = n - (pad ? 4 : 0);
    uint8_t *w = dst;
    uint32_t bad = 0;
    for (size_t i = 0; i < full; i += 4) {
        uint32_t a = digit[s[i]], b = digit[s[i + 1]], c = digit[s[i + 2]], d = digit[s[i + 3]];
        bad |= (uint32_t)(a == 0) | (uint32_t)(b == 0) | (uint32_t)(c == 0) | (uint32_t)(d == 0);
        uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
        w[0] = (uint8_t)(v >> 16);
        w[1] = (uint8_t)(v >> 8);
        w[2] = (uint8_t)v;
        w += 3;
    }
    if (pad) {
        const uint8_t *q = s + full;
        uint32_t a = digit[q[0]], b = digit[q[1]];
        uint32_t c = pad == 1 ? digit[q[2]] : 1;
        bad |= (uint32_t)(a == 0) | (uint32_t)(b == 0) | (uint32_t)(c == 0);
        uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;
        *w++ = (uint8_t)(v >> 16);
        if (pad == 1)
            *w++ = (uint8_t)(v >> 8);
    }
    return bad ? -1 : (long)(w - dst);
}
