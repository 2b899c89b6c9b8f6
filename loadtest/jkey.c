/* jkey.c — see jkey.h. */
#define _GNU_SOURCE /* memmem */
#include "jkey.h"

#include <assert.h>
#include <string.h>

const char *jkey_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

const char *jkey_value(const char *p, const char *end, const char *key)
{
    /* Built by hand: snprintf here was ~6% of the load generator's CPU at 190 MiB/s. */
    char pat[64];
    size_t klen = strlen(key);
    assert(klen + 2 <= sizeof(pat));
    pat[0] = '"';
    memcpy(pat + 1, key, klen);
    pat[klen + 1] = '"';
    size_t n = klen + 2;
    while (p < end) {
        const char *k = memmem(p, (size_t)(end - p), pat, n);
        if (!k)
            return NULL;
        const char *v = jkey_skip_ws(k + n, end);
        if (v < end && *v == ':')
            return jkey_skip_ws(v + 1, end);
        p = k + n;
    }
    return NULL;
}

const char *jkey_str(const char *p, const char *end, const char *key, size_t *len)
{
    const char *v = jkey_value(p, end, key);
    if (!v || v >= end || *v != '"')
        return NULL;
    const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
    if (!q)
        return NULL;
    *len = (size_t)(q - v - 1);
    return v + 1;
}

bool jkey_uint(const char *p, const char *end, const char *key, uint64_t *out)
{
    const char *v = jkey_value(p, end, key);
    if (!v || v >= end || *v < '0' || *v > '9')
        return false;
    uint64_t n = 0;
    for (; v < end && *v >= '0' && *v <= '9' && n < (1ull << 50); v++)
        n = n * 10 + (uint64_t)(*v - '0');
    *out = n;
    return true;
}

bool jkey_seconds_before(const char *lo, const char *p, const char *key, int64_t *ms)
{
    /* Walk back over `,` and the number, then check `"key":` in front of it. */
    const char *q = p;
    if (q <= lo || *--q != ',')
        return false;
    const char *num_end = q;
    while (q > lo && ((q[-1] >= '0' && q[-1] <= '9') || q[-1] == '.'))
        q--;
    size_t klen = strlen(key);
    if (q == num_end || (size_t)(q - lo) < klen + 3 || q[-1] != ':' || q[-2] != '"' ||
        memcmp(q - 2 - klen, key, klen) != 0 || q[-3 - (ptrdiff_t)klen] != '"')
        return false;
    int64_t secs = 0, frac = 0;
    int digits = 0, frac_digits = 0;
    for (; q < num_end && *q != '.'; q++, digits++)
        secs = secs * 10 + (*q - '0');
    if (digits == 0 || digits > 12)
        return false;
    if (q < num_end) /* the '.' */
        for (q++; q < num_end; q++) {
            if (*q == '.')
                return false;
            if (frac_digits < 3) {
                frac = frac * 10 + (*q - '0');
                frac_digits++;
            }
        }
    for (; frac_digits < 3; frac_digits++)
        frac *= 10;
    *ms = secs * 1000 + frac;
    return true;
}
