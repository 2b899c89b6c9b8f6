#include "shards/u128.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>

#include "common/common.h"

int u128_parse(const char *s, u128 *out)
{
    if (s == NULL || s[0] == '\0')
        return -EINVAL;
    if (s[0] == '0') {
        if (s[1] != '\0')
            return -EINVAL;
        *out = 0;
        return 0;
    }
    u128 v = 0;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        if (n >= 39) /* pattern allows 39 digits at most; longer is a pattern error */
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (U128_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

char *u128_print(u128 v, char *buf)
{
    char tmp[U128_DEC_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (unsigned)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

/* Fetched once: EVP_md5() makes every EVP_Digest look the algorithm up again (OpenSSL 3),
 * 1.17 us per call here against 0.54 us with the fetched one; PutRecords hashes every key. */
static EVP_MD *md5_md;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void md5_fetch(void)
{
    md5_md = EVP_MD_fetch(NULL, "MD5", NULL);
    ASSERT(md5_md != NULL);
}

u128 u128_md5(const void *key, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    pthread_once(&md5_once, md5_fetch);
    int ok = EVP_Digest(key, len, md, &mdlen, md5_md, NULL);
    ASSERT(ok == 1 && mdlen == 16);
    u128 v = 0;
    for (unsigned i = 0; i < 16; i++)
        v = (v << 8) | md[i];
    return v;
}

void u128_split(uint32_t i, uint32_t n, u128 *start, u128 *end)
{
    ASSERT(n >= 1 && i < n);
    /* floor(2^128 / n) without 129-bit arithmetic: (2^128 - 1) / n differs only when n divides
     * 2^128, i.e. n is a power of two, where it is one less. */
    u128 step = U128_MAX / n;
    if ((n & (n - 1)) == 0)
        step = (n == 1) ? U128_MAX : step + 1;
    *start = step * i;
    *end = (i == n - 1) ? U128_MAX : step * (i + 1) - 1;
}
