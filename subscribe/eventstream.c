#include "subscribe/eventstream.h"

#include <string.h>

#include "common/common.h"
#include "common/crc32.h"
#include "common/refbuf.h"
#include "subscribe/awscbor.h"

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

const char *eventstream_content_type(enum eventstream_codec codec)
{
    return codec == EVENTSTREAM_CODEC_CBOR ? "application/x-amz-cbor-1.1" : "application/json";
}

const char *eventstream_strerror(int err)
{
    switch (err) {
    case EVENTSTREAM_ERR_PRELUDE_CRC:
        return "prelude_crc";
    case EVENTSTREAM_ERR_MESSAGE_CRC:
        return "message_crc";
    case EVENTSTREAM_ERR_TOTAL_LEN:
        return "total_len";
    case EVENTSTREAM_ERR_TOO_LONG:
        return "too_long";
    case EVENTSTREAM_ERR_HEADERS_LEN:
        return "headers_len";
    case EVENTSTREAM_ERR_HEADER_TRUNCATED:
        return "header_truncated";
    case EVENTSTREAM_ERR_HEADER_NAME:
        return "header_name";
    case EVENTSTREAM_ERR_HEADER_TYPE:
        return "header_type";
    case EVENTSTREAM_ERR_DUPLICATE_HEADER:
        return "duplicate_header";
    case EVENTSTREAM_ERR_VALUE_TOO_LONG:
        return "value_too_long";
    default:
        return "unknown";
    }
}

/* Value bytes after the type code for fixed-size types; -1 for length-prefixed, -2 unknown. */
static int fixed_value_len(unsigned type)
{
    static const int lens[] = {0, 0, 1, 2, 4, 8, -1, -1, 8, 16};
    return type < SC_ARRAY_LEN(lens) ? lens[type] : -2;
}

/* ---- encoding ---------------------------------------------------------------------------- */

int eventstream_headers_len(const struct eventstream_header *h, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len == 0 || h[i].name_len > 255)
            return EVENTSTREAM_ERR_HEADER_NAME;
        int fixed = fixed_value_len((unsigned)h[i].type);
        if (fixed == -2)
            return EVENTSTREAM_ERR_HEADER_TYPE;
        total += 2 + h[i].name_len;
        if (fixed >= 0) {
            total += (size_t)fixed;
        } else {
            if (h[i].v.bytes.len > EVENTSTREAM_VALUE_MAX)
                return EVENTSTREAM_ERR_VALUE_TOO_LONG;
            total += 2 + h[i].v.bytes.len;
        }
        if (total > EVENTSTREAM_HEADERS_MAX)
            return EVENTSTREAM_ERR_HEADERS_LEN;
    }
    *len = total;
    return 0;
}

static size_t put_header(uint8_t *dst, const struct eventstream_header *h)
{
    uint8_t *p = dst;
    *p++ = (uint8_t)h->name_len;
    memcpy(p, h->name, h->name_len);
    p += h->name_len;
    *p++ = (uint8_t)h->type;
    switch (h->type) {
    case EVENTSTREAM_TRUE:
    case EVENTSTREAM_FALSE:
        break;
    case EVENTSTREAM_BYTE:
        *p++ = (uint8_t)h->v.i;
        break;
    case EVENTSTREAM_SHORT:
        put_u16(p, (uint16_t)h->v.i);
        p += 2;
        break;
    case EVENTSTREAM_INT:
        put_u32(p, (uint32_t)h->v.i);
        p += 4;
        break;
    case EVENTSTREAM_LONG:
    case EVENTSTREAM_TIMESTAMP:
        put_u64(p, (uint64_t)h->v.i);
        p += 8;
        break;
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        put_u16(p, (uint16_t)h->v.bytes.len);
        p += 2;
        if (h->v.bytes.len > 0)
            memcpy(p, h->v.bytes.ptr, h->v.bytes.len);
        p += h->v.bytes.len;
        break;
    case EVENTSTREAM_UUID:
        memcpy(p, h->v.uuid, 16);
        p += 16;
        break;
    }
    return (size_t)(p - dst);
}

void eventstream_put_prelude(uint8_t *dst, uint32_t total_len, uint32_t headers_len)
{
    put_u32(dst, total_len);
    put_u32(dst + 4, headers_len);
    put_u32(dst + 8, crc32_update(0, dst, 8));
}

size_t eventstream_put_string_header(uint8_t *dst, const char *name, const char *value)
{
    struct eventstream_header h = {
        .name = name, .name_len = strlen(name), .type = EVENTSTREAM_STRING};
    h.v.bytes.ptr = (const uint8_t *)value;
    h.v.bytes.len = strlen(value);
    ASSERT(h.name_len >= 1 && h.name_len <= 255 && h.v.bytes.len <= EVENTSTREAM_VALUE_MAX);
    return put_header(dst, &h);
}

int eventstream_encode(const struct eventstream_header *h, size_t n, const void *payload,
                       size_t payload_len, struct refbuf **out)
{
    size_t hlen;
    int rc = eventstream_headers_len(h, n, &hlen);
    if (rc < 0)
        return rc;
    if (payload_len > EVENTSTREAM_MAX_LEN ||
        EVENTSTREAM_MIN_LEN + hlen + payload_len > EVENTSTREAM_MAX_LEN)
        return EVENTSTREAM_ERR_TOO_LONG;
    size_t total = EVENTSTREAM_MIN_LEN + hlen + payload_len;
    struct refbuf *b = refbuf_create(total);
    uint8_t *p = b->data;
    eventstream_put_prelude(p, (uint32_t)total, (uint32_t)hlen);
    p += EVENTSTREAM_PRELUDE_LEN;
    for (size_t i = 0; i < n; i++)
        p += put_header(p, &h[i]);
    if (payload_len > 0)
        memcpy(p, payload, payload_len);
    p += payload_len;
    put_u32(p, crc32_update(0, b->data, total - 4));
    b->len = total;
    *out = b;
    return 0;
}

static struct eventstream_header string_header(const char *name, const char *value)
{
    struct eventstream_header h = {
        .name = name, .name_len = strlen(name), .type = EVENTSTREAM_STRING};
    h.v.bytes.ptr = (const uint8_t *)value;
    h.v.bytes.len = strlen(value);
    return h;
}

int eventstream_encode_event(const char *event_type, enum eventstream_codec codec,
                             const void *payload, size_t payload_len, struct refbuf **out)
{
    struct eventstream_header h[3] = {
        string_header(":message-type", "event"),
        string_header(":event-type", event_type),
        string_header(":content-type", eventstream_content_type(codec)),
    };
    return eventstream_encode(h, 3, payload, payload_len, out);
}

int eventstream_encode_initial_response(enum eventstream_codec codec, struct refbuf **out)
{
    static const uint8_t cbor_empty_map = 0xa0;
    if (codec == EVENTSTREAM_CODEC_CBOR)
        return eventstream_encode_event("initial-response", codec, &cbor_empty_map, 1, out);
    return eventstream_encode_event("initial-response", codec, "{}", 2, out);
}

/* JSON string body of `s` (no quotes): escapes quote, backslash and control characters; UTF-8
 * passes through. dst must hold 6 * strlen(s) bytes. Returns bytes written. */
static size_t json_escape(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *p = dst;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    return (size_t)(p - dst);
}

int eventstream_encode_exception(const char *exception_type, enum eventstream_codec codec,
                                 const char *message, struct refbuf **out)
{
    size_t mlen = strlen(message);
    if (mlen > EVENTSTREAM_MAX_LEN / 8)
        return EVENTSTREAM_ERR_TOO_LONG;
    char *payload = sc_malloc(6 * mlen + 32);
    memcpy(payload, "{\"message\":\"", 12);
    size_t plen = 12 + json_escape(payload + 12, message);
    memcpy(payload + plen, "\"}", 2);
    plen += 2;
    if (codec == EVENTSTREAM_CODEC_CBOR) { /* the same object in CBOR (RFC 8949) */
        uint8_t *cbor;
        int rc = awscbor_from_json(payload, plen, &cbor, &plen);
        ASSERT(rc == 0); /* escaped text in a one-member object */
        free(payload);
        payload = (char *)cbor;
    }
    struct eventstream_header h[3] = {
        string_header(":message-type", "exception"),
        string_header(":exception-type", exception_type),
        string_header(":content-type", eventstream_content_type(codec)),
    };
    int rc = eventstream_encode(h, 3, payload, plen, out);
    free(payload);
    return rc;
}

int eventstream_encode_error(const char *code, const char *message, struct refbuf **out)
{
    struct eventstream_header h[3] = {
        string_header(":message-type", "error"),
        string_header(":error-code", code),
        string_header(":error-message", message),
    };
    return eventstream_encode(h, 3, NULL, 0, out);
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* Validates the 12-byte prelude; on success *total and *hlen hold its lengths. */
static int check_prelude(const uint8_t *p, size_t max_len, uint32_t *total, uint32_t *hlen)
{
    if (crc32_update(0, p, 8) != get_u32(p + 8))
        return EVENTSTREAM_ERR_PRELUDE_CRC;
    uint32_t t = get_u32(p), h = get_u32(p + 4);
    if (t < EVENTSTREAM_MIN_LEN)
        return EVENTSTREAM_ERR_TOTAL_LEN;
    if (t > max_len)
        return EVENTSTREAM_ERR_TOO_LONG;
    if (h > EVENTSTREAM_HEADERS_MAX || h > t - EVENTSTREAM_MIN_LEN)
        return EVENTSTREAM_ERR_HEADERS_LEN;
    *total = t;
    *hlen = h;
    return 0;
}

static uint32_t name_hash(const uint8_t *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ name[i]) * 16777619u;
    return h;
}

/* Inserts the header starting at `off` (its name-length byte) into the open-addressed set
 * `slots` (offset + 1, 0 = empty; mask + 1 slots, more than twice the header bound). Returns
 * false when an equal name is already there. */
static bool name_insert(const uint8_t *hdrs, uint32_t *slots, size_t mask, size_t off)
{
    size_t nlen = hdrs[off];
    const uint8_t *name = hdrs + off + 1;
    for (size_t i = name_hash(name, nlen) & mask;; i = (i + 1) & mask) {
        if (slots[i] == 0) {
            slots[i] = (uint32_t)off + 1;
            return true;
        }
        size_t other = slots[i] - 1;
        if (hdrs[other] == nlen && memcmp(hdrs + other + 1, name, nlen) == 0)
            return false;
    }
}

/* Walks the header block: every header complete, known type, non-empty and unique name. */
static int check_headers(const uint8_t *hdrs, size_t len, size_t *count)
{
    /* Each header takes at least 3 bytes, so len / 3 bounds the count; slots > 2x that. */
    uint32_t small[256];
    size_t nslots = 256;
    while (nslots <= 2 * (len / 3))
        nslots *= 2;
    uint32_t *slots = nslots == 256 ? small : sc_malloc(nslots * sizeof(*slots));
    memset(slots, 0, nslots * sizeof(*slots));
    size_t off = 0, n = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        size_t nlen = hdrs[off];
        if (nlen == 0) {
            rc = EVENTSTREAM_ERR_HEADER_NAME;
        } else if (len - off < 2 + nlen) {
            rc = EVENTSTREAM_ERR_HEADER_TRUNCATED;
        } else {
            int fixed = fixed_value_len(hdrs[off + 1 + nlen]);
            size_t pos = off + 2 + nlen, vlen = (size_t)fixed;
            if (fixed == -2) {
                rc = EVENTSTREAM_ERR_HEADER_TYPE;
            } else if (fixed == -1) {
                if (len - pos < 2)
                    rc = EVENTSTREAM_ERR_HEADER_TRUNCATED;
                else
                    vlen = 2 + (size_t)get_u16(hdrs + pos);
            }
            if (rc == 0 && len - pos < vlen)
                rc = EVENTSTREAM_ERR_HEADER_TRUNCATED;
            if (rc == 0 && !name_insert(hdrs, slots, nslots - 1, off))
                rc = EVENTSTREAM_ERR_DUPLICATE_HEADER;
            off = pos + vlen;
            n++;
        }
    }
    if (slots != small)
        free(slots);
    *count = n;
    return rc;
}

int eventstream_parse(const uint8_t *buf, size_t len, size_t max_len,
                      struct eventstream_message *msg)
{
    if (max_len == 0 || max_len > EVENTSTREAM_MAX_LEN)
        max_len = EVENTSTREAM_MAX_LEN;
    if (len < EVENTSTREAM_MIN_LEN)
        return EVENTSTREAM_ERR_TOTAL_LEN;
    uint32_t total, hlen;
    int rc = check_prelude(buf, max_len, &total, &hlen);
    if (rc < 0)
        return rc;
    if (total != len)
        return EVENTSTREAM_ERR_TOTAL_LEN;
    if (crc32_update(0, buf, len - 4) != get_u32(buf + len - 4))
        return EVENTSTREAM_ERR_MESSAGE_CRC;
    size_t count;
    rc = check_headers(buf + EVENTSTREAM_PRELUDE_LEN, hlen, &count);
    if (rc < 0)
        return rc;
    *msg = (struct eventstream_message){
        .bytes = buf,
        .total_len = len,
        .headers = buf + EVENTSTREAM_PRELUDE_LEN,
        .headers_len = hlen,
        .header_count = count,
        .payload = buf + EVENTSTREAM_PRELUDE_LEN + hlen,
        .payload_len = len - EVENTSTREAM_MIN_LEN - hlen,
    };
    return 0;
}

bool eventstream_header_next(const struct eventstream_message *msg, size_t *cursor,
                             struct eventstream_header *h)
{
    const uint8_t *p = msg->headers;
    size_t off = *cursor;
    if (off >= msg->headers_len)
        return false;
    /* Validated by eventstream_parse: every read below stays inside the block. */
    h->name_len = p[off];
    h->name = (const char *)p + off + 1;
    off += 1 + h->name_len;
    h->type = (enum eventstream_type)p[off++];
    memset(&h->v, 0, sizeof(h->v));
    switch (h->type) {
    case EVENTSTREAM_TRUE:
    case EVENTSTREAM_FALSE:
        break;
    case EVENTSTREAM_BYTE:
        h->v.i = (int8_t)p[off];
        off += 1;
        break;
    case EVENTSTREAM_SHORT:
        h->v.i = (int16_t)get_u16(p + off);
        off += 2;
        break;
    case EVENTSTREAM_INT:
        h->v.i = (int32_t)get_u32(p + off);
        off += 4;
        break;
    case EVENTSTREAM_LONG:
    case EVENTSTREAM_TIMESTAMP:
        h->v.i = (int64_t)get_u64(p + off);
        off += 8;
        break;
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        h->v.bytes.len = get_u16(p + off);
        h->v.bytes.ptr = p + off + 2;
        off += 2 + h->v.bytes.len;
        break;
    case EVENTSTREAM_UUID:
        memcpy(h->v.uuid, p + off, 16);
        off += 16;
        break;
    }
    DASSERT(off <= msg->headers_len);
    *cursor = off;
    return true;
}

bool eventstream_message_header(const struct eventstream_message *msg, const char *name,
                                struct eventstream_header *h)
{
    size_t nlen = strlen(name), cursor = 0;
    while (eventstream_header_next(msg, &cursor, h)) {
        if (h->name_len == nlen && memcmp(h->name, name, nlen) == 0)
            return true;
    }
    return false;
}

void eventstream_decoder_init(struct eventstream_decoder *d, size_t max_len)
{
    *d = (struct eventstream_decoder){0};
    d->max_len = (max_len == 0 || max_len > EVENTSTREAM_MAX_LEN) ? EVENTSTREAM_MAX_LEN : max_len;
}

void eventstream_decoder_dispose(struct eventstream_decoder *d)
{
    free(d->buf);
    *d = (struct eventstream_decoder){0};
}

bool eventstream_decoder_idle(const struct eventstream_decoder *d)
{
    return d->err == 0 && (d->len == 0 || d->delivered);
}

/* Copies up to `want` bytes total into d->buf from in; returns bytes taken. */
static size_t fill(struct eventstream_decoder *d, const uint8_t *in, size_t in_len, size_t want)
{
    size_t n = SC_MIN(want - d->len, in_len);
    if (d->len + n > d->cap) {
        d->cap = SC_MAX(want, (size_t)256);
        d->buf = sc_realloc(d->buf, d->cap);
    }
    if (n > 0)
        memcpy(d->buf + d->len, in, n);
    d->len += n;
    return n;
}

int eventstream_decoder_next(struct eventstream_decoder *d, const void *in_, size_t in_len,
                             size_t *consumed, struct eventstream_message *msg)
{
    const uint8_t *in = in_;
    *consumed = 0;
    if (d->err)
        return d->err;
    if (d->delivered) {
        d->delivered = false;
        d->len = 0;
        d->total_len = 0;
        if (d->cap > 64 * 1024) { /* do not pin a big message's buffer per connection */
            free(d->buf);
            d->buf = NULL;
            d->cap = 0;
        }
    }
    uint32_t hlen;
    if (d->len == 0 && in_len >= EVENTSTREAM_PRELUDE_LEN) {
        /* Fast path: the whole message is in the caller's bytes, parse it in place. */
        uint32_t total;
        int rc = check_prelude(in, d->max_len, &total, &hlen);
        if (rc < 0)
            return d->err = rc;
        if (in_len >= total) {
            rc = eventstream_parse(in, total, d->max_len, msg);
            if (rc < 0)
                return d->err = rc;
            *consumed = total;
            return 1;
        }
    }
    size_t used = 0;
    if (d->len < EVENTSTREAM_PRELUDE_LEN) {
        used += fill(d, in, in_len, EVENTSTREAM_PRELUDE_LEN);
        if (d->len < EVENTSTREAM_PRELUDE_LEN) {
            *consumed = used;
            return 0;
        }
        int rc = check_prelude(d->buf, d->max_len, &d->total_len, &hlen);
        if (rc < 0)
            return d->err = rc;
    }
    used += fill(d, in + used, in_len - used, d->total_len);
    *consumed = used;
    if (d->len < d->total_len)
        return 0;
    int rc = eventstream_parse(d->buf, d->len, d->max_len, msg);
    if (rc < 0)
        return d->err = rc;
    d->delivered = true;
    return 1;
}
