/* crc32.h — IEEE 802.3 CRC32 (zlib's), used by the segment record header and by the
 * event-stream prelude and message checksums. Any thread. */
#ifndef SC_CRC32_H
#define SC_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc32_update(0, p, n) is the CRC of p[0..n); chain calls to extend it. */
uint32_t crc32_update(uint32_t crc, const void *bytes, size_t len);

#endif
