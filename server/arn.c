#include "server/arn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN 128

char *arn_stream(char *buf, size_t cap, const char *region, const char *account, const char *stream)
{
    snprintf(buf, cap, "arn:aws:kinesis:%s:%s:stream/%s", region, account, stream);
    return buf;
}

char *arn_consumer(char *buf, size_t cap, const char *region, const char *account,
                   const char *stream, const char *consumer, int64_t created_secs)
{
    snprintf(buf, cap, "arn:aws:kinesis:%s:%s:stream/%s/consumer/%s:%lld", region, account, stream,
             consumer, (long long)created_secs);
    return buf;
}

static int copy_field(const char *b, const char *e, char *out, size_t cap)
{
    size_t n = (size_t)(e - b);
    if (n == 0 || n >= cap)
        return -EINVAL;
    if (out) {
        memcpy(out, b, n);
        out[n] = '\0';
    }
    return 0;
}

static int name_ok(const char *b, const char *e)
{
    if (b == e || e - b > NAME_MAX_LEN)
        return 0;
    for (const char *p = b; p < e; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* Parses the "arn:aws*:kinesis:<region>:<account>:stream/" prefix; returns where the stream
 * name starts or NULL. */
static const char *parse_prefix(const char *arn, char *region, char *account)
{
    if (strncmp(arn, "arn:aws", 7) != 0)
        return NULL;
    const char *p = strchr(arn + 7, ':');
    if (p == NULL || strncmp(p, ":kinesis:", 9) != 0)
        return NULL;
    p += 9;
    const char *r_end = strchr(p, ':');
    if (r_end == NULL || copy_field(p, r_end, region, 64) != 0)
        return NULL;
    const char *a = r_end + 1, *a_end = strchr(a, ':');
    if (a_end == NULL || a_end - a != 12 || copy_field(a, a_end, account, 16) != 0)
        return NULL;
    for (const char *q = a; q < a_end; q++)
        if (*q < '0' || *q > '9')
            return NULL;
    if (strncmp(a_end, ":stream/", 8) != 0)
        return NULL;
    return a_end + 8;
}

int arn_parse_stream(const char *arn, char *name, char *region, char *account)
{
    if (strlen(arn) > ARN_MAX)
        return -EINVAL;
    const char *n = parse_prefix(arn, region, account);
    if (n == NULL)
        return -EINVAL;
    const char *e = n + strlen(n);
    if (!name_ok(n, e))
        return -EINVAL;
    return copy_field(n, e, name, NAME_MAX_LEN + 1);
}

int arn_parse_consumer(const char *arn, char *stream, char *consumer, int64_t *created_secs,
                       char *region, char *account)
{
    if (strlen(arn) > ARN_MAX)
        return -EINVAL;
    const char *n = parse_prefix(arn, region, account);
    if (n == NULL)
        return -EINVAL;
    const char *slash = strstr(n, "/consumer/");
    if (slash == NULL || !name_ok(n, slash) || copy_field(n, slash, stream, NAME_MAX_LEN + 1))
        return -EINVAL;
    const char *c = slash + 10, *colon = strrchr(c, ':');
    if (colon == NULL || !name_ok(c, colon) || copy_field(c, colon, consumer, NAME_MAX_LEN + 1))
        return -EINVAL;
    const char *t = colon + 1;
    if (*t == '\0' || strlen(t) > 12)
        return -EINVAL;
    int64_t v = 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9')
            return -EINVAL;
        v = v * 10 + (*t - '0');
    }
    *created_secs = v;
    return 0;
}
