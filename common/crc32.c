#include "common/crc32.h"

#include <limits.h>
#include <zlib.h>

uint32_t crc32_update(uint32_t crc, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    uLong c = crc;
    /* zlib takes uInt lengths; feed large inputs in pieces. */
    while (len > 0) {
        uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}
