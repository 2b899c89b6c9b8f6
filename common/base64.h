/* base64.h — strict padded base64 (RFC 4648 §4: the standard alphabet, '=' padding, no line
 * breaks), the form of every Kinesis blob in JSON (kinesis-protocol §1.4). PutRecord(s) check
 * Data with it (server/api_put.c); the CBOR transcoder decodes Data with it (subscribe/awscbor.c),
 * so both accept exactly the same strings; the shard log counts stored Data bytes with it. Pure functions, any thread. */
#ifndef SC_BASE64_H
#define SC_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether s[0..len) is strict padded base64 (SSE2, 16 characters a step: a 1 MiB record is
 * 1.4 MB of it); then *decoded is its decoded length. */
bool base64_check(const char *s, size_t len, size_t *decoded);

/* The decoded length of padded base64 s[0..len) already checked (len a multiple of 4): what
 * the 1 MiB data+key limit and a stored record's data length count. */
size_t base64_decoded_len(const char *s, size_t len);

/* Strict padded base64 s[0..n) decoded into dst (room for n / 4 * 3 bytes) in one pass.
 * Returns the byte count, or -1 when s is not that (dst then holds garbage). */
long base64_decode(uint8_t *dst, const uint8_t *s, size_t n);

#endif
