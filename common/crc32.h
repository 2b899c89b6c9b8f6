/* crc32.h — IEEE 802.3 CRC32 (zlib's), used by the segment record header and by the
 * event-stream prelude and message checksums. Any thread. Uses PCLMULQDQ folding when the CPU
 * has it (checked once at load), slicing-by-8 tables otherwise; always bit-identical to zlib. */
#ifndef SC_CRC32_H
#define SC_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc32_update(0, p, n) is the CRC of p[0..n); chain calls to extend it. */
uint32_t crc32_update(uint32_t crc, const void *bytes, size_t len);

/* The same CRC by slicing-by-8 tables only (what crc32_update uses without PCLMULQDQ and for
 * the last len % 16 bytes). Exposed so tests check the fallback on machines that have the
 * instruction. Any thread. */
uint32_t crc32_update_portable(uint32_t crc, const void *bytes, size_t len);

/* The CRC of A followed by B from crc(A), crc(B) and B's length, without B's bytes (what zlib
 * calls crc32_combine). Any thread; remembers recent lengths per thread. */
uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/* The CRC of p[0..n-1) from crc(p[0..n)) and last = p[n-1], without reading p (a stored
 * record's CRC, its closing brace taken off to add a member). Any thread. */
uint32_t crc32_unappend(uint32_t crc, uint8_t last);

#endif
