#include "common/common.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static enum log_level g_level = LOG_LEVEL_INFO;
static int g_level_init;

void sc_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "shardcast: assertion failed: %s (%s:%d %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}

static void log_init_from_env(void)
{
    const char *v = getenv("SHARDCAST_LOG");
    g_level_init = 1;
    if (v == NULL)
        return;
    if (strcasecmp(v, "debug") == 0)
        g_level = LOG_LEVEL_DEBUG;
    else if (strcasecmp(v, "warn") == 0)
        g_level = LOG_LEVEL_WARN;
    else if (strcasecmp(v, "error") == 0)
        g_level = LOG_LEVEL_ERROR;
}

void log_set_level(enum log_level level)
{
    g_level_init = 1;
    g_level = level;
}

enum log_level log_get_level(void)
{
    if (SC_UNLIKELY(!g_level_init))
        log_init_from_env();
    return g_level;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[1024];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    size_t off;

    if (level < log_get_level())
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    off += (size_t)snprintf(line + off, sizeof(line) - off, ".%03ldZ %s ", ts.tv_nsec / 1000000,
                            names[level]);
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    va_end(ap);
    /* One fputs per line so lines from several threads do not interleave. */
    fprintf(stderr, "%s\n", line);
}

static void *oom(size_t n)
{
    fprintf(stderr, "shardcast: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sc_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    return p ? p : oom(n);
}

void *sc_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    return p ? p : oom(count * n);
}

void *sc_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    return q ? q : oom(n);
}

char *sc_strdup(const char *s)
{
    return sc_strndup(s, strlen(s));
}

char *sc_strndup(const char *s, size_t n)
{
    char *p = sc_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void sc_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int sc_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
