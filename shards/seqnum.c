#include "shards/seqnum.h"

#include <errno.h>
#include <string.h>

#include "common/common.h"

/* The 188-bit value in three little-endian 64-bit limbs. */
struct u192 {
    uint64_t w[3];
};

#define TEN19 10000000000000000000ull

/* Bit offsets of the fields, counted from the least significant bit. */
enum {
    OFF_TAIL = 0,        /* 1 hex '2' */
    OFF_INDEX = 4,       /* 8 hex shard index */
    OFF_RSECS = 36,      /* 9 hex record secs */
    OFF_ZERO = 72,       /* 2 hex zero */
    OFF_COUNTER = 80,    /* 16 hex counter */
    OFF_INDEX_LOW = 144, /* 1 hex shard index & 0xF */
    OFF_SSECS = 148,     /* 9 hex shard secs */
    OFF_HEAD = 184,      /* 1 hex '2' */
};

static void put_bits(struct u192 *v, unsigned off, uint64_t x)
{
    unsigned limb = off / 64, sh = off % 64;
    v->w[limb] |= x << sh;
    if (sh != 0 && limb + 1 < 3)
        v->w[limb + 1] |= x >> (64 - sh);
}

static uint64_t get_bits(const struct u192 *v, unsigned off, unsigned nbits)
{
    unsigned limb = off / 64, sh = off % 64;
    uint64_t x = v->w[limb] >> sh;
    if (sh != 0 && limb + 1 < 3)
        x |= v->w[limb + 1] << (64 - sh);
    return nbits == 64 ? x : x & ((1ull << nbits) - 1);
}

/* v /= TEN19, returns the remainder. Each step divides a 128-bit value whose high half is below
 * the divisor, which compiles to one hardware divide. */
static inline uint64_t div128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
    DASSERT(hi < d);
#if defined(__x86_64__)
    /* gcc calls __udivmodti4 for a 128-bit division; one divq is several times cheaper. */
    uint64_t q, r;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
    *rem = r;
    return q;
#else
    unsigned __int128 cur = ((unsigned __int128)hi << 64) | lo;
    *rem = (uint64_t)(cur % d);
    return (uint64_t)(cur / d);
#endif
}

static uint64_t div_ten19(struct u192 *v)
{
    uint64_t r = 0;
    for (int i = 2; i >= 0; i--)
        v->w[i] = div128(r, v->w[i], TEN19, &r);
    return r;
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930"
                                     "31323334353637383940414243444546474849505152535455565758596061"
                                     "62636465666768697071727374757677787980818283848586878889909192"
                                     "93949596979899";

/* Writes exactly n digits of x (zero-padded), right to left. */
static void put_digits(char *out, uint64_t x, int n)
{
    while (n >= 2) {
        unsigned d = (unsigned)(x % 100) * 2;
        x /= 100;
        out[n - 1] = digit_pairs[d + 1];
        out[n - 2] = digit_pairs[d];
        n -= 2;
    }
    if (n == 1)
        out[0] = (char)('0' + x % 10);
}

size_t seqnum_encode(char out[SEQNUM_BUF], const struct seqnum_fields *f)
{
    ASSERT(f->shard_secs <= SEQNUM_SECS_MAX && f->record_secs <= SEQNUM_SECS_MAX);
    struct u192 v = {{0, 0, 0}};
    put_bits(&v, OFF_TAIL, 2);
    put_bits(&v, OFF_INDEX, f->shard_index);
    put_bits(&v, OFF_RSECS, f->record_secs);
    put_bits(&v, OFF_COUNTER, f->counter);
    put_bits(&v, OFF_INDEX_LOW, f->shard_index & 0xF);
    put_bits(&v, OFF_SSECS, f->shard_secs);
    put_bits(&v, OFF_HEAD, 2);
    /* 56 = 18 + 19 + 19 digits; the value is < 10^56 so the last quotient fits 18 digits. */
    uint64_t lo = div_ten19(&v);
    uint64_t mid = div_ten19(&v);
    DASSERT(v.w[1] == 0 && v.w[2] == 0 && v.w[0] < 1000000000000000000ull);
    put_digits(out, v.w[0], 18);
    put_digits(out + 18, mid, 19);
    put_digits(out + 37, lo, 19);
    out[SEQNUM_DIGITS] = '\0';
    DASSERT(out[0] != '0');
    return SEQNUM_DIGITS;
}

static int check_pattern(const char *s, size_t len)
{
    if (len == 0 || len > 129)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
    if (s[0] == '0' && len > 1)
        return -EINVAL;
    return 0;
}

int seqnum_parse(const char *s, size_t len, struct seqnum_fields *out)
{
    int rc = check_pattern(s, len);
    if (rc != 0)
        return rc;
    if (len != SEQNUM_DIGITS)
        return -ERANGE;
    struct u192 v = {{0, 0, 0}};
    for (size_t i = 0; i < len; i++) {
        /* v = v * 10 + d; 56 digits stay below 2^187, no overflow of 192 bits. */
        unsigned __int128 carry = (unsigned)(s[i] - '0');
        for (int k = 0; k < 3; k++) {
            unsigned __int128 t = (unsigned __int128)v.w[k] * 10 + carry;
            v.w[k] = (uint64_t)t;
            carry = t >> 64;
        }
    }
    if (v.w[2] >> 60 != 0 || get_bits(&v, OFF_HEAD, 4) != 2 || get_bits(&v, OFF_TAIL, 4) != 2 ||
        get_bits(&v, OFF_ZERO, 8) != 0)
        return -ERANGE;
    uint32_t index = (uint32_t)get_bits(&v, OFF_INDEX, 32);
    if (get_bits(&v, OFF_INDEX_LOW, 4) != (index & 0xF))
        return -ERANGE;
    out->shard_secs = get_bits(&v, OFF_SSECS, 36);
    out->shard_index = index;
    out->counter = get_bits(&v, OFF_COUNTER, 64);
    out->record_secs = get_bits(&v, OFF_RSECS, 36);
    return 0;
}

int seqnum_position(const char *s, size_t len, uint64_t shard_secs, uint32_t shard_index,
                    enum seqnum_pos_mode mode, uint64_t *position)
{
    struct seqnum_fields f;
    int rc = seqnum_parse(s, len, &f);
    if (rc != 0)
        return rc;
    if (f.shard_index != shard_index || f.shard_secs != (shard_secs & SEQNUM_SECS_MAX))
        return -EXDEV;
    if (mode == SEQNUM_AFTER) {
        if (f.counter == UINT64_MAX)
            return -ERANGE;
        f.counter++;
    }
    *position = f.counter;
    return 0;
}

int seqnum_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    ASSERT(check_pattern(a, alen) == 0 && check_pattern(b, blen) == 0);
    if (alen != blen)
        return alen < blen ? -1 : 1;
    int c = memcmp(a, b, alen);
    return c < 0 ? -1 : c > 0;
}
