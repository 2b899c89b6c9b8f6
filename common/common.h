/* common.h — assertions that stay on in release, logging, small helpers.
 *
 * ASSERT is for programmer errors only; client or disk input is an error return, never an assert.
 * Logging goes to stderr: stdout carries only the contract's ready line. Any thread may log. */
#ifndef SC_COMMON_H
#define SC_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SC_LIKELY(x) __builtin_expect(!!(x), 1)
#define SC_UNLIKELY(x) __builtin_expect(!!(x), 0)

void sc_assert_fail(const char *expr, const char *file, int line, const char *func)
    __attribute__((noreturn, cold));

/* Always on (redis/redis src/redisassert.h). */
#define ASSERT(expr)                                                                               \
    (SC_LIKELY(expr) ? (void)0 : sc_assert_fail(#expr, __FILE__, __LINE__, __func__))

/* For hot loops; compiled out only with -DSC_NO_DASSERT (haproxy BUG_ON_HOT). */
#ifdef SC_NO_DASSERT
#define DASSERT(expr) ((void)0)
#else
#define DASSERT(expr) ASSERT(expr)
#endif

#define STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

#define SC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SC_MAX(a, b) ((a) > (b) ? (a) : (b))

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Messages below the level are dropped; default INFO, SHARDCAST_LOG=debug|info|warn|error. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...)                                                                             \
    do {                                                                                           \
        if (SC_UNLIKELY(log_get_level() <= LOG_LEVEL_DEBUG))                                       \
            log_write(LOG_LEVEL_DEBUG, __VA_ARGS__);                                               \
    } while (0)
#define LOG_INFO(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_WARN(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_ERROR(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

/* Allocation that cannot fail: out of memory aborts with a message (we do not limp on). */
void *sc_malloc(size_t n);
void *sc_calloc(size_t count, size_t n);
void *sc_realloc(void *p, size_t n);
char *sc_strdup(const char *s);
char *sc_strndup(const char *s, size_t n);

/* Lowercase hex of in[0, n) into out (2n + 1 bytes, NUL-terminated). */
void sc_hex_encode(const uint8_t *in, size_t n, char *out);
/* The value of one hex digit (either case), or -1. */
int sc_hex_value(char c);

#endif
