#include "shards/record.h"

#include <string.h>

#include "common/common.h"
#include "shards/seqnum.h"

/* 0: pass through; 1: two-char escape; 2: \u00XX. */
static inline int esc_class(unsigned char c)
{
    if (c == '"' || c == '\\')
        return 1;
    if (c >= 0x20)
        return 0;
    return (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') ? 1 : 2;
}

size_t record_escaped_len(const char *s, size_t len)
{
    size_t n = len;
    for (size_t i = 0; i < len; i++) {
        int k = esc_class((unsigned char)s[i]);
        n += k == 0 ? 0 : k == 1 ? 1 : 5;
    }
    return n;
}

size_t record_wire_max(const struct record_in *r)
{
    /* Worst case of the key is 6 bytes per byte; cheaper than scanning twice. */
    return RECORD_WIRE_FIXED + SEQNUM_DIGITS + RECORD_TS_MAX + r->data_b64_len + r->pkey_len * 6;
}

size_t record_format_ts(char *out, int64_t arrival_ms)
{
    ASSERT(arrival_ms >= 0);
    char tmp[24];
    uint64_t secs = (uint64_t)arrival_ms / 1000;
    unsigned ms = (unsigned)((uint64_t)arrival_ms % 1000);
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + secs % 10);
        secs /= 10;
    } while (secs != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    return n + 4;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_escaped(char *p, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (esc_class(c)) {
        case 0:
            *p++ = (char)c;
            break;
        case 1:
            *p++ = '\\';
            *p++ = c == '\b' ? 'b' : c == '\f' ? 'f' : c == '\n' ? 'n' : c == '\r' ? 'r'
                 : c == '\t' ? 't' : (char)c;
            break;
        default:
            p = PUT_LIT(p, "\\u00");
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xF];
            break;
        }
    }
    return p;
}

size_t record_format(char *out, const char *seqnum, int64_t arrival_ms, const struct record_in *r)
{
    char *p = out;
    p = PUT_LIT(p, "{\"SequenceNumber\":\"");
    p = put(p, seqnum, SEQNUM_DIGITS);
    p = PUT_LIT(p, "\",\"ApproximateArrivalTimestamp\":");
    p += record_format_ts(p, arrival_ms);
    p = PUT_LIT(p, ",\"Data\":\"");
    p = put(p, r->data_b64, r->data_b64_len);
    p = PUT_LIT(p, "\",\"PartitionKey\":\"");
    p = put_escaped(p, r->pkey, r->pkey_len);
    p = PUT_LIT(p, "\"}");
    size_t n = (size_t)(p - out);
    DASSERT(n <= record_wire_max(r));
    return n;
}
