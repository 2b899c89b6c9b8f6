/* esdecode.c — see esdecode.h. */
#include "esdecode.h"

#include <errno.h>
#include <string.h>

#include "common/crc32.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int es_str_eq(struct es_str s, const char *lit)
{
    return s.p && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Value sizes of the fixed-width header types 0..9 (§6.4); -1 = length-prefixed. */
static const int es_fixed_len[10] = {0, 0, 1, 2, 4, 8, -1, -1, 8, 16};

static int parse_headers(const uint8_t *p, size_t len, struct es_msg *msg)
{
    size_t off = 0;
    while (off < len) {
        size_t nlen = p[off++];
        if (nlen == 0 || off + nlen + 1 > len)
            return -EBADMSG;
        const char *name = (const char *)p + off;
        off += nlen;
        uint8_t type = p[off++];
        if (type > 9)
            return -EBADMSG;
        size_t vlen;
        if (es_fixed_len[type] >= 0) {
            vlen = (size_t)es_fixed_len[type];
        } else {
            if (off + 2 > len)
                return -EBADMSG;
            vlen = (size_t)p[off] << 8 | p[off + 1];
            off += 2;
        }
        if (off + vlen > len)
            return -EBADMSG;
        if (type == 7) {
            struct es_str v = {(const char *)p + off, vlen};
            struct es_str n = {name, nlen};
            if (es_str_eq(n, ":message-type"))
                msg->message_type = v;
            else if (es_str_eq(n, ":event-type"))
                msg->event_type = v;
            else if (es_str_eq(n, ":exception-type"))
                msg->exception_type = v;
            else if (es_str_eq(n, ":error-code"))
                msg->error_code = v;
            else if (es_str_eq(n, ":error-message"))
                msg->error_message = v;
        }
        off += vlen;
    }
    return 0;
}

long esdecode_next(const uint8_t *buf, size_t len, struct es_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    if (len < 12)
        return 0;
    uint32_t total = be32(buf), hlen = be32(buf + 4);
    if (crc32_update(0, buf, 8) != be32(buf + 8))
        return -EBADMSG;
    if (total < 16 || hlen > total - 16)
        return -EBADMSG;
    if (total > ESDECODE_MAX_MESSAGE)
        return -EMSGSIZE;
    if (len < total)
        return 0;
    if (crc32_update(0, buf, total - 4) != be32(buf + total - 4))
        return -EBADMSG;
    int rv = parse_headers(buf + 12, hlen, msg);
    if (rv < 0)
        return rv;
    msg->payload = buf + 12 + hlen;
    msg->payload_len = total - 16 - hlen;
    return (long)total;
}
