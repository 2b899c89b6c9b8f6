/* jkey.c — see jkey.h. */
#define _GNU_SOURCE /* memmem */
#include "jkey.h"

#include <stdio.h>
#include <string.h>

const char *jkey_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

const char *jkey_value(const char *p, const char *end, const char *key)
{
    char pat[64];
    int n = snprintf(pat, sizeof(pat), "\"%s\"", key);
    while (p < end) {
        const char *k = memmem(p, (size_t)(end - p), pat, (size_t)n);
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
