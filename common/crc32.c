#include "common/crc32.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CRC32_HAVE_CLMUL 1
#endif

/* Slicing-by-8 tables for the reflected polynomial 0xEDB88320, filled before main(). Why not
 * zlib: its per-call setup dominated for the 32-byte record headers and the <16-byte tails the
 * folding path leaves. */
static uint32_t crc_tab[8][256];
static bool crc_use_clmul; /* set once before main(), read-only after */
static uint32_t x2k_tab[32]; /* x^(2^k) mod P, reflected; filled before main() */
static uint8_t crc_top_index[256]; /* i such that crc_tab[0][i] >> 24 == top: a permutation */

/* a * b mod P over GF(2), both reflected (bit 31 is x^0). */
static uint32_t gf2_mulmod(uint32_t a, uint32_t b)
{
    uint32_t prod = 0;
    for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
        if (a & m)
            prod ^= b;
        b = (b & 1) ? (b >> 1) ^ 0xEDB88320u : b >> 1;
    }
    return prod;
}

__attribute__((constructor)) static void crc32_init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        crc_top_index[crc_tab[0][i] >> 24] = (uint8_t)i;
    for (uint32_t i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^ crc_tab[0][crc_tab[k - 1][i] & 0xff];
    uint32_t x = 1u << 30; /* x^1 */
    for (int k = 0; k < 32; k++, x = gf2_mulmod(x, x))
        x2k_tab[k] = x;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init(); /* required before __builtin_cpu_supports in a constructor */
    crc_use_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
#endif
}

/* On the raw (inverted) register. */
static uint32_t crc32_sw(uint32_t reg, const unsigned char *p, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; len >= 8; p += 8, len -= 8) {
        uint32_t one, two;
        memcpy(&one, p, 4);
        memcpy(&two, p + 4, 4);
        one ^= reg;
        reg = crc_tab[7][one & 0xff] ^ crc_tab[6][(one >> 8) & 0xff] ^
              crc_tab[5][(one >> 16) & 0xff] ^ crc_tab[4][one >> 24] ^ crc_tab[3][two & 0xff] ^
              crc_tab[2][(two >> 8) & 0xff] ^ crc_tab[1][(two >> 16) & 0xff] ^
              crc_tab[0][two >> 24];
    }
#endif
    for (; len > 0; p++, len--)
        reg = crc_tab[0][(reg ^ *p) & 0xff] ^ (reg >> 8);
    return reg;
}

#ifdef CRC32_HAVE_CLMUL
/* Carry-less-multiply folding (Gopal et al., "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ", Intel 2009) for the reflected polynomial 0xEDB88320. Works on the raw register
 * (pre-/post-inversion left to the caller). len >= 16 and a multiple of 16. Why: the segment
 * read path checksums every record; zlib's table code ran at ~21% of server CPU on GetRecords. */
#define CLMUL_TARGET __attribute__((target("pclmul,sse2")))

CLMUL_TARGET static inline __m128i fold16(__m128i acc, __m128i k, __m128i next)
{
    __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

CLMUL_TARGET static uint32_t crc32_clmul(uint32_t reg, const unsigned char *p, size_t len)
{
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
    const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
    const __m128i mask32 = _mm_set_epi32(0, -1, 0, -1);

    __m128i x1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)p),
                               _mm_cvtsi32_si128((int)reg));
    p += 16;
    len -= 16;
    if (len >= 48) {
        /* Four lanes hide the multiplier latency on long inputs. */
        __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 0));
        __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        __m128i x4 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
        p += 48;
        len -= 48;
        for (; len >= 64; p += 64, len -= 64) {
            x1 = fold16(x1, k1k2, _mm_loadu_si128((const __m128i *)(const void *)(p + 0)));
            x2 = fold16(x2, k1k2, _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
            x3 = fold16(x3, k1k2, _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
            x4 = fold16(x4, k1k2, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
        }
        x1 = fold16(x1, k3k4, x2);
        x1 = fold16(x1, k3k4, x3);
        x1 = fold16(x1, k3k4, x4);
    }
    for (; len >= 16; p += 16, len -= 16)
        x1 = fold16(x1, k3k4, _mm_loadu_si128((const __m128i *)(const void *)p));

    /* 128 -> 64 bits, then Barrett reduction to 32. */
    __m128i t = _mm_clmulepi64_si128(x1, k3k4, 0x10);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
    t = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, k5, 0x00), t);
    t = _mm_and_si128(x1, mask32);
    t = _mm_clmulepi64_si128(t, poly, 0x10);
    t = _mm_and_si128(t, mask32);
    t = _mm_clmulepi64_si128(t, poly, 0x00);
    x1 = _mm_xor_si128(x1, t);
    return (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(x1, 4));
}

#endif

uint32_t crc32_update(uint32_t crc, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    uint32_t reg = ~crc;
#ifdef CRC32_HAVE_CLMUL
    if (len >= 16 && crc_use_clmul) {
        size_t n = len & ~(size_t)15;
        reg = crc32_clmul(reg, p, n);
        p += n;
        len -= n;
    }
#endif
    return ~crc32_sw(reg, p, len);
}

uint32_t crc32_update_portable(uint32_t crc, const void *bytes, size_t len)
{
    return ~crc32_sw(~crc, bytes, len);
}

/* x^(8 * len) mod P: the factor that shifts a CRC past len zero bytes. */
static uint32_t shift_op(uint64_t len)
{
    uint32_t op = 1u << 31; /* x^0 */
    for (unsigned k = 3; len != 0; len >>= 1, k++)
        if (len & 1)
            op = gf2_mulmod(x2k_tab[k & 31], op);
    return op;
}

uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    /* The shift factor depends only on len_b, and a fan-out frame's records mostly share a few
     * lengths: remember the last one per length class (one multiply instead of ~6 per call). */
    static _Thread_local struct {
        uint64_t len_plus1; /* 0: empty */
        uint32_t op;
    } cache[64];
    unsigned slot = (unsigned)(len_b & 63);
    if (cache[slot].len_plus1 != len_b + 1) {
        cache[slot].len_plus1 = len_b + 1;
        cache[slot].op = shift_op(len_b);
    }
    return gf2_mulmod(cache[slot].op, crc_a) ^ crc_b;
}

uint32_t crc32_unappend(uint32_t crc, uint8_t last)
{
    /* The last step was reg' = T[(reg ^ last) & 0xff] ^ (reg >> 8): reg >> 8 has a zero top
     * byte, so reg' >> 24 names the table entry, and the rest follows. */
    uint32_t reg = crc ^ 0xffffffffu;
    uint8_t i = crc_top_index[reg >> 24];
    uint32_t prev = ((reg ^ crc_tab[0][i]) << 8) | (uint8_t)(i ^ last);
    return prev ^ 0xffffffffu;
}
