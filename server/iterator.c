/* iterator.c — shard iterator codec (see iterator.h for the format and its reasons). */
#include "server/iterator.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "common/errors.h"

#define HDR_BYTES 8
#define VERSION 1
#define MAC_BYTES ITERATOR_MAC_BYTES
/* header, version, issued, created, index, position, name length */
#define FIXED_BYTES (HDR_BYTES + 1 + 8 + 8 + 4 + 8 + 1)
#define RAW_MAX (FIXED_BYTES + REG_NAME_MAX + MAC_BYTES)

STATIC_ASSERT((RAW_MAX + 2) / 3 * 4 <= ITERATOR_TEXT_MAX, "iterator text fits the model limit");

static const uint8_t header[HDR_BYTES] = {0, 0, 0, 0, 0, 0, 0, 1};

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(v >> (i * 8));
    return p;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void iterator_key_mac(const struct iterator_key *key, const void *p, size_t n,
                      uint8_t out[ITERATOR_MAC_BYTES])
{
    unsigned int len = 0;
    uint8_t *r = HMAC(EVP_sha256(), key->bytes, ITERATOR_KEY_BYTES, p, n, out, &len);
    ASSERT(r != NULL && len == MAC_BYTES);
}

size_t iterator_encode(const struct iterator_key *key, struct iterator *it, int64_t now_ms,
                       char out[ITERATOR_TEXT_MAX + 1])
{
    size_t name_len = strlen(it->stream);
    ASSERT(name_len >= 1 && name_len <= REG_NAME_MAX);
    it->issued_ms = now_ms;
    uint8_t raw[RAW_MAX];
    uint8_t *p = raw;
    memcpy(p, header, HDR_BYTES);
    p += HDR_BYTES;
    *p++ = VERSION;
    p = put_u64(p, (uint64_t)it->issued_ms);
    p = put_u64(p, (uint64_t)it->shard_created_ms);
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)(it->shard_index >> (i * 8));
    p = put_u64(p, it->position);
    *p++ = (uint8_t)name_len;
    memcpy(p, it->stream, name_len);
    p += name_len;
    iterator_key_mac(key, raw, (size_t)(p - raw), p);
    p += MAC_BYTES;
    int n = EVP_EncodeBlock((unsigned char *)out, raw, (int)(p - raw));
    ASSERT(n > 0 && n <= ITERATOR_TEXT_MAX);
    return (size_t)n;
}

static bool name_ok(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

int iterator_b64_decode(const char *text, size_t len, uint8_t *raw, size_t cap)
{
    if (len == 0 || len % 4 != 0 || len > ITERATOR_B64_MAX || len / 4 * 3 > cap)
        return -1;
    int n = EVP_DecodeBlock(raw, (const unsigned char *)text, (int)len);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    if (text[len - 1] == '=')
        n--;
    if (text[len - 2] == '=')
        n--;
    char again[ITERATOR_B64_MAX + 1];
    int m = EVP_EncodeBlock((unsigned char *)again, raw, n);
    if (m < 0 || (size_t)m != len || memcmp(again, text, len) != 0)
        return -1;
    return n;
}

int iterator_decode(const struct iterator_key *key, const char *text, size_t len, int64_t now_ms,
                    struct iterator *out)
{
    uint8_t raw[ITERATOR_TEXT_MAX / 4 * 3];
    int n = len <= ITERATOR_TEXT_MAX ? iterator_b64_decode(text, len, raw, sizeof(raw)) : -1;
    if (n < FIXED_BYTES + 1 + MAC_BYTES || n > RAW_MAX)
        return KERR_INVALID_ARGUMENT;
    if (memcmp(raw, header, HDR_BYTES) != 0 || raw[HDR_BYTES] != VERSION)
        return KERR_INVALID_ARGUMENT;
    size_t name_len = raw[FIXED_BYTES - 1];
    size_t body = FIXED_BYTES + name_len;
    if (name_len == 0 || name_len > REG_NAME_MAX || body + MAC_BYTES != (size_t)n)
        return KERR_INVALID_ARGUMENT;
    uint8_t want[MAC_BYTES];
    iterator_key_mac(key, raw, body, want);
    if (CRYPTO_memcmp(want, raw + body, MAC_BYTES) != 0)
        return KERR_INVALID_ARGUMENT;
    /* Authentic from here on: the fields were written by iterator_encode. Still checked, as a
     * key shared with an older format must not crash us. */
    if (!name_ok(raw + FIXED_BYTES, name_len))
        return KERR_INVALID_ARGUMENT;
    const uint8_t *p = raw + HDR_BYTES + 1;
    out->issued_ms = (int64_t)get_u64(p);
    out->shard_created_ms = (int64_t)get_u64(p + 8);
    out->shard_index =
        (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | (uint32_t)p[19];
    out->position = get_u64(p + 20);
    memcpy(out->stream, raw + FIXED_BYTES, name_len);
    out->stream[name_len] = '\0';
    if (now_ms - out->issued_ms > ITERATOR_LIFETIME_MS)
        return KERR_EXPIRED_ITERATOR;
    return 0;
}

/* "Thu Jan 22 01:22:02 UTC 2015", the form AWS prints in this message. */
static void amz_utc(char *buf, size_t cap, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%a %b %d %H:%M:%S UTC %Y", &tm) == 0)
        snprintf(buf, cap, "%lld", (long long)ms);
}

char *iterator_expired_message(char *buf, size_t cap, int64_t issued_ms, int64_t now_ms)
{
    char a[64], b[64];
    amz_utc(a, sizeof(a), issued_ms);
    amz_utc(b, sizeof(b), now_ms);
    snprintf(buf, cap,
             "Iterator expired. The iterator was created at time %s while right now it is %s "
             "which is further in the future than the tolerated delay of %d milliseconds.",
             a, b, ITERATOR_LIFETIME_MS);
    return buf;
}

/* ---- the key file ---------------------------------------------------------------------------- */

static int read_key(const char *path, struct iterator_key *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
    } else if (st.st_size != ITERATOR_KEY_BYTES) {
        LOG_ERROR("iterator: %s has %lld bytes, expected %d; remove it to make a new key "
                  "(outstanding shard iterators then become invalid)",
                  path, (long long)st.st_size, ITERATOR_KEY_BYTES);
        rc = -EBADMSG;
    } else {
        ssize_t n = pread(fd, out->bytes, ITERATOR_KEY_BYTES, 0);
        if (n != ITERATOR_KEY_BYTES)
            rc = n < 0 ? -errno : -EIO;
    }
    close(fd);
    return rc;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* New key: write + fsync a temporary file, rename it into place, fsync the directory, so a crash
 * leaves either no key or a whole one. */
static int create_key(const char *dir, const char *path, struct iterator_key *out)
{
    if (RAND_bytes(out->bytes, ITERATOR_KEY_BYTES) != 1)
        return -EIO;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    errno = 0;
    if (write(fd, out->bytes, ITERATOR_KEY_BYTES) != ITERATOR_KEY_BYTES)
        rc = errno ? -errno : -EIO;
    else if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    return sync_dir(dir);
}

int iterator_key_load(const char *data_dir, struct iterator_key *out)
{
    if (data_dir == NULL || data_dir[0] == '\0')
        return RAND_bytes(out->bytes, ITERATOR_KEY_BYTES) == 1 ? 0 : -EIO;
    char dir[4096], path[4160];
    if ((size_t)snprintf(dir, sizeof(dir), "%s/meta", data_dir) >= sizeof(dir))
        return -ENAMETOOLONG;
    snprintf(path, sizeof(path), "%s/iterator.key", dir);
    if ((mkdir(data_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST))
        return -errno;
    int rc = read_key(path, out);
    if (rc != -ENOENT)
        return rc;
    rc = create_key(dir, path, out);
    if (rc != 0)
        LOG_ERROR("iterator: cannot create %s: %s", path, kerr_name(rc));
    return rc;
}
