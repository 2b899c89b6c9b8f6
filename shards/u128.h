/* u128.h — 128-bit hash keys (kinesis-protocol.md §4, §5): decimal text, MD5 routing, the
 * CreateStream split. Pure functions, any thread. */
#ifndef SC_U128_H
#define SC_U128_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 u128; /* the one typedef: a scalar, like uint64_t */

#define U128_MAX (~(u128)0)
#define U128_DEC_MAX 40 /* 39 digits + NUL */

/* Parses `s` (NUL-terminated) with the model pattern 0|([1-9]\d{0,38}) and range
 * [0, 2^128-1]. Returns 0 and sets *out, or -EINVAL (bad syntax) / -ERANGE (too big). */
int u128_parse(const char *s, u128 *out);

/* Writes the decimal form of v into buf (>= U128_DEC_MAX bytes). Returns buf. */
char *u128_print(u128 v, char *buf);

/* MD5 of the partition key bytes read as a big-endian unsigned 128-bit number. */
u128 u128_md5(const void *key, size_t len);

/* Hash range of shard i of n in a fresh CreateStream: step = floor(2^128 / n),
 * [i*step, (i+1)*step - 1], the last shard ending at 2^128-1. Requires 0 <= i < n. */
void u128_split(uint32_t i, uint32_t n, u128 *start, u128 *end);

#endif
