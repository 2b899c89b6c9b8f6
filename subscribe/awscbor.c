/* awscbor.c — CBOR <-> JSON text for application/x-amz-cbor-1.1 (awscbor.h). */
#include "subscribe/awscbor.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/common.h"
#include "common/utf8.h"

/* RFC 8949 major types. */
enum { MT_UINT, MT_NINT, MT_BYTES, MT_TEXT, MT_ARRAY, MT_MAP, MT_TAG, MT_SIMPLE };
#define AI_INDEFINITE 31
#define CBOR_BREAK 0xff
#define TAG_EPOCH 1
#define TS_SUFFIX "Timestamp"
#define TS_SUFFIX_LEN (sizeof(TS_SUFFIX) - 1)

const char *awscbor_strerror(int err)
{
    switch (err) {
    case AWSCBOR_ERR_TRUNCATED: return "truncated";
    case AWSCBOR_ERR_MALFORMED: return "malformed";
    case AWSCBOR_ERR_DEPTH: return "nested too deep";
    case AWSCBOR_ERR_KEY: return "map key not a text string";
    case AWSCBOR_ERR_TRAILING: return "trailing bytes";
    case AWSCBOR_ERR_UTF8: return "invalid UTF-8";
    case AWSCBOR_ERR_VALUE: return "value without a JSON form";
    case AWSCBOR_ERR_TOO_LONG: return "too long";
    case AWSCBOR_ERR_JSON: return "invalid JSON";
    default: return "unknown";
    }
}

/* ---- output buffer ------------------------------------------------------------------------- */

/* Grows by doubling up to `max`; a write past it sets `over` and is dropped, so the walkers
 * need not test every put (they stop at the next check). */
struct obuf {
    uint8_t *p;
    size_t len, cap, max;
    bool over;
};

static void obuf_init(struct obuf *o, size_t hint, size_t max)
{
    o->cap = SC_MIN(SC_MAX(hint, 64), max);
    o->p = sc_malloc(o->cap);
    o->len = 0;
    o->max = max;
    o->over = false;
}

/* Room for n more bytes at o->p + o->len, or NULL when that passes the bound. */
static uint8_t *obuf_room(struct obuf *o, size_t n)
{
    if (o->over || n > o->max - o->len) {
        o->over = true;
        return NULL;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap;
        while (cap < o->len + n)
            cap = cap > o->max / 2 ? o->max : cap * 2;
        o->p = sc_realloc(o->p, cap);
        o->cap = cap;
    }
    return o->p + o->len;
}

static void obuf_put(struct obuf *o, const void *s, size_t n)
{
    uint8_t *w = obuf_room(o, n);
    if (w != NULL) {
        memcpy(w, s, n);
        o->len += n;
    }
}

static void obuf_byte(struct obuf *o, uint8_t b)
{
    obuf_put(o, &b, 1);
}

#define OBUF_LIT(o, lit) obuf_put((o), (lit), sizeof(lit) - 1)

/* Decimal digits of v (up to 2^64 + 1 in magnitude: a CBOR negative integer's). */
static void obuf_udec(struct obuf *o, unsigned __int128 v)
{
    char tmp[40];
    size_t n = 0;
    do {
        tmp[sizeof(tmp) - ++n] = (char)('0' + (unsigned)(v % 10));
        v /= 10;
    } while (v != 0);
    obuf_put(o, tmp + sizeof(tmp) - n, n);
}

/* ---- epoch milliseconds ------------------------------------------------------------------- */

/* Times are kept to what a signed 64-bit count of milliseconds holds (Java's long): both
 * directions treat the rest alike, so what one writes the other reads back. */
#define MS_LIMIT 9223372036854775808.0 /* 2^63 */

static bool millis_fit(bool neg, unsigned __int128 mag)
{
    return mag <= (unsigned __int128)INT64_MAX + neg;
}

/* A float count of milliseconds rounded half away from zero; false beyond int64 (or NaN). */
static bool millis_round(double ms, bool *neg, uint64_t *mag)
{
    if (!(ms > -MS_LIMIT && ms < MS_LIMIT))
        return false;
    *neg = ms < 0;
    *mag = (uint64_t)((*neg ? -ms : ms) + 0.5);
    return true;
}

/* ---- base64 (RFC 4648 §4, padded) ---------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Streaming encoder: byte string chunks need not be multiples of 3. */
struct b64 {
    uint8_t carry[3];
    unsigned n;
};

static void b64_quad(struct obuf *o, const uint8_t *s, unsigned n)
{
    uint8_t *w = obuf_room(o, 4);
    if (w == NULL)
        return;
    uint32_t v = (uint32_t)s[0] << 16 | (n > 1 ? (uint32_t)s[1] << 8 : 0) | (n > 2 ? s[2] : 0);
    w[0] = (uint8_t)b64_alphabet[v >> 18];
    w[1] = (uint8_t)b64_alphabet[(v >> 12) & 63];
    w[2] = n > 1 ? (uint8_t)b64_alphabet[(v >> 6) & 63] : '=';
    w[3] = n > 2 ? (uint8_t)b64_alphabet[v & 63] : '=';
    o->len += 4;
}

static void b64_feed(struct b64 *b, struct obuf *o, const uint8_t *s, size_t n)
{
    while (n > 0 && b->n > 0 && b->n < 3) {
        b->carry[b->n++] = *s++;
        n--;
    }
    if (b->n == 3) {
        b64_quad(o, b->carry, 3);
        b->n = 0;
    }
    for (; n >= 3; s += 3, n -= 3)
        b64_quad(o, s, 3);
    while (n-- > 0)
        b->carry[b->n++] = *s++;
}

static void b64_finish(struct b64 *b, struct obuf *o)
{
    if (b->n > 0)
        b64_quad(o, b->carry, b->n);
    b->n = 0;
}

/* ---- CBOR -> JSON -------------------------------------------------------------------------- */

struct dec {
    const uint8_t *start, *p, *end;
    struct obuf o;
    int err;
    size_t err_off;
};

static bool dec_fail(struct dec *d, const uint8_t *at, int err)
{
    if (d->err == 0) {
        d->err = err;
        d->err_off = (size_t)(at - d->start);
    }
    return false;
}

struct head {
    unsigned major, ai;
    uint64_t arg; /* the count, length, value, tag number or float bits */
    const uint8_t *at;
};

/* One item head (RFC 8949 §3): the initial byte and its argument. */
static bool dec_head(struct dec *d, struct head *h)
{
    h->at = d->p;
    if (d->p == d->end)
        return dec_fail(d, d->p, AWSCBOR_ERR_TRUNCATED);
    uint8_t b = *d->p++;
    h->major = b >> 5;
    h->ai = b & 31;
    h->arg = h->ai;
    if (h->ai < 24 || h->ai == AI_INDEFINITE)
        return true;
    if (h->ai > 27)
        return dec_fail(d, h->at, AWSCBOR_ERR_MALFORMED); /* 28..30 are reserved */
    size_t n = (size_t)1 << (h->ai - 24);
    if ((size_t)(d->end - d->p) < n)
        return dec_fail(d, h->at, AWSCBOR_ERR_TRUNCATED);
    h->arg = 0;
    for (size_t i = 0; i < n; i++)
        h->arg = h->arg << 8 | d->p[i];
    d->p += n;
    return true;
}

/* Takes n bytes of string content, refusing a length beyond the input before touching it. */
static const uint8_t *dec_take(struct dec *d, const struct head *h, uint64_t n)
{
    if (n > (uint64_t)(d->end - d->p)) {
        dec_fail(d, h->at, AWSCBOR_ERR_TRUNCATED);
        return NULL;
    }
    const uint8_t *s = d->p;
    d->p += n;
    return s;
}

/* The last bytes of a text string, for the "...Timestamp" member-name test across chunks. */
struct suffix {
    char b[TS_SUFFIX_LEN];
    size_t n;
};

static void suffix_push(struct suffix *s, const uint8_t *p, size_t n)
{
    if (n >= TS_SUFFIX_LEN) {
        memcpy(s->b, p + n - TS_SUFFIX_LEN, TS_SUFFIX_LEN);
        s->n = TS_SUFFIX_LEN;
        return;
    }
    size_t keep = SC_MIN(s->n, TS_SUFFIX_LEN - n);
    memmove(s->b, s->b + s->n - keep, keep);
    memcpy(s->b + keep, p, n);
    s->n = keep + n;
}

static bool suffix_is_timestamp(const struct suffix *s)
{
    return s->n == TS_SUFFIX_LEN && memcmp(s->b, TS_SUFFIX, TS_SUFFIX_LEN) == 0;
}

/* A text chunk as JSON string content: UTF-8 checked, quote, backslash and controls escaped. */
static bool dec_text_chunk(struct dec *d, const struct head *h, struct suffix *sfx)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = dec_take(d, h, h->arg);
    if (s == NULL)
        return false;
    const uint8_t *end = s + h->arg;
    if (sfx != NULL)
        suffix_push(sfx, s, h->arg);
    while (s < end) {
        const uint8_t *run = s;
        while (s < end && *s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
            s++;
        obuf_put(&d->o, run, (size_t)(s - run));
        if (s == end)
            break;
        if (*s >= 0x80) {
            size_t n = utf8_check(s, end);
            if (n == 0)
                return dec_fail(d, s, AWSCBOR_ERR_UTF8);
            obuf_put(&d->o, s, n);
            s += n;
        } else if (*s == '"' || *s == '\\') {
            uint8_t esc[2] = {'\\', *s++};
            obuf_put(&d->o, esc, 2);
        } else {
            uint8_t esc[6] = {'\\', 'u', '0', '0', (uint8_t)hex[*s >> 4], (uint8_t)hex[*s & 15]};
            obuf_put(&d->o, esc, 6);
            s++;
        }
    }
    return true;
}

/* A byte string chunk into the running base64. */
static bool dec_bytes_chunk(struct dec *d, const struct head *h, struct b64 *b)
{
    const uint8_t *s = dec_take(d, h, h->arg);
    if (s == NULL)
        return false;
    b64_feed(b, &d->o, s, h->arg);
    return true;
}

/* True (and the break consumed) when the next byte ends an indefinite-length item. */
static bool dec_break(struct dec *d)
{
    if (d->p < d->end && *d->p == CBOR_BREAK) {
        d->p++;
        return true;
    }
    return false;
}

/* A text (major 3) or byte (major 2) string whose head is h, definite or chunked, as one JSON
 * string. sfx (text only, may be NULL) collects its last bytes. */
static bool dec_string(struct dec *d, const struct head *h, struct suffix *sfx)
{
    struct b64 b = {.n = 0};
    obuf_byte(&d->o, '"');
    if (h->ai != AI_INDEFINITE) {
        if (!(h->major == MT_TEXT ? dec_text_chunk(d, h, sfx) : dec_bytes_chunk(d, h, &b)))
            return false;
    } else {
        while (!dec_break(d)) {
            struct head c;
            if (!dec_head(d, &c))
                return false;
            /* Chunks are definite strings of the same major type (RFC 8949 §3.2.3). */
            if (c.major != h->major || c.ai == AI_INDEFINITE)
                return dec_fail(d, c.at, AWSCBOR_ERR_MALFORMED);
            if (!(h->major == MT_TEXT ? dec_text_chunk(d, &c, sfx) : dec_bytes_chunk(d, &c, &b)))
                return false;
        }
    }
    b64_finish(&b, &d->o);
    obuf_byte(&d->o, '"');
    return true;
}

/* Epoch milliseconds (sign and magnitude) as JSON epoch seconds: "S" or "S.mmm". */
static void put_millis(struct obuf *o, bool neg, uint64_t mag)
{
    if (neg && mag != 0)
        obuf_byte(o, '-');
    obuf_udec(o, mag / 1000);
    unsigned ms = (unsigned)(mag % 1000);
    if (ms != 0) {
        uint8_t frac[4] = {'.', (uint8_t)('0' + ms / 100), (uint8_t)('0' + ms / 10 % 10),
                           (uint8_t)('0' + ms % 10)};
        obuf_put(o, frac, 4);
    }
}

/* IEEE 754 half precision -> double, through the float32 bit pattern (no libm needed). */
static double half_to_double(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0 && m == 0) {
        bits = sign;
    } else if (e == 0) { /* subnormal: normalise into float32's wider exponent */
        e = 1;
        while ((m & 0x400) == 0) {
            m <<= 1;
            e--;
        }
        bits = sign | (e + 112) << 23 | (m & 0x3ff) << 13;
    } else if (e == 31) {
        bits = sign | 0xffu << 23 | m << 13;
    } else {
        bits = sign | (e + 112) << 23 | m << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return (double)f;
}

static double float_of(const struct head *h)
{
    if (h->ai == 25)
        return half_to_double((uint16_t)h->arg);
    if (h->ai == 26) {
        uint32_t bits = (uint32_t)h->arg;
        float f;
        memcpy(&f, &bits, sizeof(f));
        return (double)f;
    }
    double v;
    memcpy(&v, &h->arg, sizeof(v));
    return v;
}

/* A finite double as the shortest JSON number that reads back as the same double. */
static void put_double(struct obuf *o, double v)
{
    char buf[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    ASSERT(n > 0 && (size_t)n < sizeof(buf));
    obuf_put(o, buf, (size_t)n);
}

/* A number in a timestamp position: milliseconds (floats rounded) -> seconds. */
static bool dec_time(struct dec *d, const struct head *h)
{
    bool neg = h->major == MT_NINT;
    uint64_t mag = h->arg + neg; /* wraps only for -2^64, which millis_fit refuses */
    bool ok = h->major == MT_SIMPLE ? millis_round(float_of(h), &neg, &mag)
                                    : millis_fit(neg, (unsigned __int128)h->arg + neg);
    if (!ok)
        return dec_fail(d, h->at, AWSCBOR_ERR_VALUE);
    put_millis(&d->o, neg, mag);
    return true;
}

/* Major type 7: false, true, null, undefined and floats; other simple values have no JSON form. */
static bool dec_simple(struct dec *d, const struct head *h, bool ts)
{
    switch (h->ai) {
    case 20: OBUF_LIT(&d->o, "false"); return true;
    case 21: OBUF_LIT(&d->o, "true"); return true;
    case 22:
    case 23: OBUF_LIT(&d->o, "null"); return true;
    case 25:
    case 26:
    case 27:
        if (ts)
            return dec_time(d, h);
        if (!isfinite(float_of(h)))
            return dec_fail(d, h->at, AWSCBOR_ERR_VALUE);
        put_double(&d->o, float_of(h));
        return true;
    case AI_INDEFINITE: return dec_fail(d, h->at, AWSCBOR_ERR_MALFORMED); /* a stray break */
    case 24:
        if (h->arg < 32) /* two-byte encodings of 0..31 are not well-formed (§3.3) */
            return dec_fail(d, h->at, AWSCBOR_ERR_MALFORMED);
        return dec_fail(d, h->at, AWSCBOR_ERR_VALUE);
    default: return dec_fail(d, h->at, AWSCBOR_ERR_VALUE);
    }
}

static bool dec_item(struct dec *d, unsigned depth, bool ts);

/* Definite count n of items of `per` bytes at least each: refused when the input is too short
 * for them, before any is read. */
static bool dec_count_ok(struct dec *d, const struct head *h, unsigned per)
{
    if (h->ai == AI_INDEFINITE || h->arg <= (uint64_t)(d->end - d->p) / per)
        return true;
    return dec_fail(d, h->at, AWSCBOR_ERR_TRUNCATED);
}

/* More elements or members follow: a definite count not reached yet, or no break yet. */
static bool dec_more(struct dec *d, const struct head *h, uint64_t i)
{
    if (h->ai != AI_INDEFINITE)
        return i < h->arg;
    if (dec_break(d))
        return false;
    if (d->p == d->end)
        return dec_fail(d, d->p, AWSCBOR_ERR_TRUNCATED);
    return true;
}

/* A map key (a text string, definite or chunked) and its colon; *ts when its name ends in
 * "Timestamp". */
static bool dec_key(struct dec *d, bool *ts)
{
    struct head k;
    if (!dec_head(d, &k))
        return false;
    if (k.major != MT_TEXT)
        return dec_fail(d, k.at, AWSCBOR_ERR_KEY);
    struct suffix sfx = {.n = 0};
    if (!dec_string(d, &k, &sfx))
        return false;
    obuf_byte(&d->o, ':');
    *ts = suffix_is_timestamp(&sfx);
    return true;
}

/* An array or a map (items: key, value) whose head is h. */
static bool dec_container(struct dec *d, const struct head *h, unsigned depth)
{
    bool map = h->major == MT_MAP;
    if (!dec_count_ok(d, h, map ? 2 : 1))
        return false;
    obuf_byte(&d->o, map ? '{' : '[');
    for (uint64_t i = 0; dec_more(d, h, i); i++) {
        if (i > 0)
            obuf_byte(&d->o, ',');
        bool ts = false;
        if ((map && !dec_key(d, &ts)) || !dec_item(d, depth + 1, ts))
            return false;
    }
    obuf_byte(&d->o, map ? '}' : ']');
    return d->err == 0;
}

/* One item at nesting `depth` (1 = top level). ts: a number here is epoch milliseconds. */
static bool dec_item(struct dec *d, unsigned depth, bool ts)
{
    if (depth > AWSCBOR_DEPTH_MAX)
        return dec_fail(d, d->p, AWSCBOR_ERR_DEPTH);
    if (d->o.over)
        return dec_fail(d, d->p, AWSCBOR_ERR_TOO_LONG);
    struct head h;
    if (!dec_head(d, &h))
        return false;
    if (h.ai == AI_INDEFINITE && (h.major == MT_UINT || h.major == MT_NINT || h.major == MT_TAG))
        return dec_fail(d, h.at, AWSCBOR_ERR_MALFORMED);
    switch (h.major) {
    case MT_UINT:
    case MT_NINT:
        if (ts)
            return dec_time(d, &h);
        if (h.major == MT_NINT)
            obuf_byte(&d->o, '-');
        obuf_udec(&d->o, (unsigned __int128)h.arg + (h.major == MT_NINT));
        return true;
    case MT_BYTES:
    case MT_TEXT: return dec_string(d, &h, NULL);
    case MT_ARRAY:
    case MT_MAP: return dec_container(d, &h, depth);
    case MT_TAG: return dec_item(d, depth + 1, ts || h.arg == TAG_EPOCH);
    default: return dec_simple(d, &h, ts);
    }
}

int awscbor_to_json(const uint8_t *in, size_t len, char **out, size_t *out_len, size_t *err_offset)
{
    ASSERT(len < SIZE_MAX / 16);
    struct dec d = {.start = in, .p = in, .end = in + len};
    obuf_init(&d.o, len + len / 2 + 16, 8 * len + 64);
    if (dec_item(&d, 1, false) && d.p != d.end)
        dec_fail(&d, d.p, AWSCBOR_ERR_TRAILING);
    if (d.err == 0 && d.o.over)
        dec_fail(&d, d.p, AWSCBOR_ERR_TOO_LONG);
    if (d.err != 0) {
        free(d.o.p);
        if (err_offset != NULL)
            *err_offset = d.err_off;
        return d.err;
    }
    /* The NUL is outside the bound's count: text parsers downstream rely on it. */
    d.o.max++;
    obuf_byte(&d.o, '\0');
    *out = (char *)d.o.p;
    *out_len = d.o.len - 1;
    return 0;
}

/* ---- JSON -> CBOR -------------------------------------------------------------------------- */

/* What a member's name makes of its value. */
enum member_kind { MEMBER_PLAIN, MEMBER_BLOB, MEMBER_TIMESTAMP };

struct enc {
    const char *p, *end;
    struct obuf o;
    int err;
};

static bool enc_fail(struct enc *e, int err)
{
    if (e->err == 0)
        e->err = err;
    return false;
}

/* Bytes of the shortest head for argument v (RFC 8949 §4.2.1, preferred serialization). */
static size_t head_len(uint64_t v)
{
    return v < 24 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
}

static void head_write(uint8_t *w, unsigned major, uint64_t v)
{
    size_t n = head_len(v);
    static const uint8_t ai_of_len[10] = {[2] = 24, [3] = 25, [5] = 26, [9] = 27};
    w[0] = (uint8_t)(major << 5 | (n == 1 ? v : ai_of_len[n]));
    for (size_t i = 1; i < n; i++)
        w[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void put_head(struct obuf *o, unsigned major, uint64_t v)
{
    uint8_t *w = obuf_room(o, 9);
    if (w != NULL) {
        head_write(w, major, v);
        o->len += head_len(v);
    }
}

static void put_float64(struct obuf *o, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    uint8_t *w = obuf_room(o, 9);
    if (w == NULL)
        return;
    w[0] = 0xfb;
    for (int i = 0; i < 8; i++)
        w[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    o->len += 9;
}

/* Containers are written after a 1-byte placeholder for their head, as the count is known only
 * at the end; a head that needs more room (24 items or more) moves the items up once. */
static void container_close(struct obuf *o, size_t at, unsigned major, uint64_t count)
{
    size_t n = head_len(count);
    if (o->over || (n > 1 && obuf_room(o, n - 1) == NULL))
        return;
    if (n > 1) {
        memmove(o->p + at + n, o->p + at + 1, o->len - at - 1);
        o->len += n - 1;
    }
    head_write(o->p + at, major, count);
}

static void enc_ws(struct enc *e)
{
    while (e->p < e->end && (*e->p == ' ' || *e->p == '\t' || *e->p == '\n' || *e->p == '\r'))
        e->p++;
}

/* Skips whitespace, then consumes c if it is next. */
static bool enc_eat(struct enc *e, char c)
{
    enc_ws(e);
    if (e->p < e->end && *e->p == c) {
        e->p++;
        return true;
    }
    return false;
}

/* The code point of the \uXXXX escape at s (a surrogate pair is two escapes); *used gets its
 * length. false for a bad escape or a lone surrogate. */
static bool unicode_escape(const char *s, const char *end, uint32_t *cp, size_t *used)
{
    long hi = end - s >= 6 ? utf8_hex4(s + 2) : -1;
    if (hi < 0 || (hi >= 0xdc00 && hi <= 0xdfff))
        return false;
    *cp = (uint32_t)hi;
    *used = 6;
    if (hi < 0xd800 || hi > 0xdbff)
        return true;
    long lo = end - s >= 12 && s[6] == '\\' && s[7] == 'u' ? utf8_hex4(s + 8) : -1;
    if (lo < 0xdc00 || lo > 0xdfff)
        return false;
    *cp = 0x10000 + ((uint32_t)(hi - 0xd800) << 10) + (uint32_t)(lo - 0xdc00);
    *used = 12;
    return true;
}

/* Scans a JSON string's contents (e->p just after the opening quote): *close = its closing
 * quote, *dlen = the length of the decoded text, *escaped = whether it holds escapes. */
static bool str_scan(struct enc *e, const char **close, size_t *dlen, bool *escaped)
{
    const char *s = e->p;
    size_t n = 0;
    *escaped = false;
    for (;;) {
        const char *run = s;
        s = utf8_json_plain_end(s, e->end);
        n += (size_t)(s - run);
        if (s == e->end || *s == '"')
            break;
        if ((unsigned char)*s >= 0x80) { /* our JSON's UTF-8 is not re-checked (awscbor.h) */
            s++;
            n++;
            continue;
        }
        if ((unsigned char)*s < 0x20)
            return enc_fail(e, AWSCBOR_ERR_JSON);
        *escaped = true;
        char k = e->end - s >= 2 ? s[1] : '\0';
        uint32_t cp;
        size_t used;
        if (k == 'u' && unicode_escape(s, e->end, &cp, &used)) {
            n += utf8_encoded_len(cp);
            s += used;
        } else if (k != '\0' && strchr("\"\\/bfnrt", k) != NULL) {
            n++;
            s += 2;
        } else {
            return enc_fail(e, AWSCBOR_ERR_JSON);
        }
    }
    if (s == e->end)
        return enc_fail(e, AWSCBOR_ERR_JSON);
    *close = s;
    *dlen = n;
    return true;
}

/* Decodes the escapes of contents str_scan() accepted into w; returns the bytes written. */
static size_t str_decode(uint8_t *w, const char *s, const char *close)
{
    uint8_t *p = w;
    while (s < close) {
        if (*s != '\\') {
            *p++ = (uint8_t)*s++;
            continue;
        }
        uint32_t cp;
        size_t used = 2;
        switch (s[1]) {
        case 'b': *p++ = '\b'; break;
        case 'f': *p++ = '\f'; break;
        case 'n': *p++ = '\n'; break;
        case 'r': *p++ = '\r'; break;
        case 't': *p++ = '\t'; break;
        case 'u':
            (void)unicode_escape(s, close, &cp, &used);
            p += utf8_encode(p, cp);
            break;
        default: *p++ = (uint8_t)s[1]; break; /* " \ / */
        }
        s += used;
    }
    return (size_t)(p - w);
}

/* base64 text[0..n) as a byte string; false, with nothing written, when it is not base64. The
 * head announces n / 4 * 3 - pad bytes and the decode goes straight behind it. */
static bool put_blob(struct enc *e, const uint8_t *text, size_t n)
{
    size_t mark = e->o.len;
    size_t pad = n >= 4 && text[n - 1] == '=' ? (text[n - 2] == '=' ? 2u : 1u) : 0u;
    size_t want = n / 4 * 3 - pad;
    put_head(&e->o, MT_BYTES, want);
    uint8_t *w = obuf_room(&e->o, n / 4 * 3);
    if (w == NULL)
        return true; /* over the bound: the whole conversion fails with TOO_LONG */
    long got = base64_decode(w, text, n);
    if (got < 0 || (size_t)got != want) {
        e->o.len = mark;
        return false;
    }
    e->o.len += want;
    return true;
}

/* A JSON string (e->p at its opening quote) -> a text string, or for a blob member a byte
 * string of its base64. *name_off (may be NULL) gets where the text landed in the output. */
static bool enc_string(struct enc *e, bool blob, size_t *name_off, size_t *name_len)
{
    e->p++;
    if (blob) {
        /* Fast path for Data, most of every record: up to the next quote, and if that is all
         * base64 digits, it held no escape or control character either: no scan needed. */
        const char *q = memchr(e->p, '"', (size_t)(e->end - e->p));
        if (q != NULL && put_blob(e, (const uint8_t *)e->p, (size_t)(q - e->p))) {
            e->p = q + 1;
            return true;
        }
    }
    const char *close;
    size_t n;
    bool escaped;
    if (!str_scan(e, &close, &n, &escaped))
        return false;
    if (blob && escaped) { /* e.g. "\/" inside base64 */
        uint8_t *tmp = sc_malloc(n + 1);
        str_decode(tmp, e->p, close);
        bool ok = put_blob(e, tmp, n);
        free(tmp);
        if (ok) {
            e->p = close + 1;
            return true;
        }
    }
    put_head(&e->o, MT_TEXT, n);
    uint8_t *w = obuf_room(&e->o, n);
    if (w != NULL) {
        if (escaped)
            str_decode(w, e->p, close);
        else
            memcpy(w, e->p, n);
        if (name_off != NULL) {
            *name_off = e->o.len;
            *name_len = n;
        }
        e->o.len += n;
    } else if (name_off != NULL) {
        *name_off = *name_len = 0;
    }
    e->p = close + 1;
    return true;
}

static enum member_kind member_kind(const struct obuf *o, size_t off, size_t n)
{
    const char *name = (const char *)o->p + off;
    if (n == 4 && memcmp(name, "Data", 4) == 0)
        return MEMBER_BLOB;
    if (n >= TS_SUFFIX_LEN && memcmp(name + n - TS_SUFFIX_LEN, TS_SUFFIX, TS_SUFFIX_LEN) == 0)
        return MEMBER_TIMESTAMP;
    return MEMBER_PLAIN;
}

static bool is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* strtod of the number text s[0..n) (not NUL-terminated in the body). */
static double number_value(const char *s, size_t n)
{
    char small[64];
    char *buf = n < sizeof(small) ? small : sc_malloc(n + 1);
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return v;
}

/* Digits s[0..n) as an integer; false when they pass 2^64 - 1. */
static bool digits_u64(const char *s, size_t n, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (*v > (UINT64_MAX - d) / 10)
            return false;
        *v = *v * 10 + d;
    }
    return true;
}

static void put_signed(struct obuf *o, bool neg, uint64_t mag)
{
    if (neg && mag > 0)
        put_head(o, MT_NINT, mag - 1);
    else
        put_head(o, MT_UINT, mag);
}

/* Epoch seconds as JSON digits (int part, up to 3 fraction digits exact, more rounded half away
 * from zero) -> milliseconds. false when they do not fit a signed 64-bit count. */
static bool seconds_to_millis(bool neg, const char *ip, size_t in, const char *fp, size_t fn,
                              uint64_t *ms)
{
    uint64_t secs;
    if (!digits_u64(ip, in, &secs))
        return false;
    unsigned frac = 0;
    for (size_t i = 0; i < 3; i++)
        frac = frac * 10 + (i < fn ? (unsigned)(fp[i] - '0') : 0);
    unsigned __int128 v = (unsigned __int128)secs * 1000 + frac + (fn > 3 && fp[3] >= '5');
    if (!millis_fit(neg, v))
        return false;
    *ms = (uint64_t)v;
    return true;
}

/* A JSON number (RFC 8259 §6) at e->p. In a timestamp member: tag 1 + integer milliseconds. */
static bool enc_number(struct enc *e, bool timestamp)
{
    const char *s = e->p, *end = e->end;
    bool neg = s < end && *s == '-';
    const char *ip = s + neg, *p = ip;
    if (!is_digit(p, end))
        return enc_fail(e, AWSCBOR_ERR_JSON);
    if (*p == '0')
        p++;
    else
        while (is_digit(p, end))
            p++;
    size_t in = (size_t)(p - ip);
    const char *fp = NULL;
    size_t fn = 0;
    bool exponent = false;
    if (p < end && *p == '.') {
        fp = ++p;
        while (is_digit(p, end))
            p++;
        fn = (size_t)(p - fp);
        if (fn == 0)
            return enc_fail(e, AWSCBOR_ERR_JSON);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        exponent = true;
        p += p + 1 < end && (p[1] == '+' || p[1] == '-') ? 2 : 1;
        if (!is_digit(p, end))
            return enc_fail(e, AWSCBOR_ERR_JSON);
        while (is_digit(p, end))
            p++;
    }
    e->p = p;
    uint64_t v;
    if (timestamp) {
        put_head(&e->o, MT_TAG, TAG_EPOCH);
        if (!exponent && seconds_to_millis(neg, ip, in, fp, fn, &v)) {
            put_signed(&e->o, neg, v);
            return true;
        }
        double ms = number_value(s, (size_t)(p - s)) * 1000.0;
        bool rneg;
        if (millis_round(ms, &rneg, &v))
            put_signed(&e->o, rneg, v);
        else
            put_float64(&e->o, ms); /* beyond a long: the other side refuses it */
        return true;
    }
    if (fp == NULL && !exponent && digits_u64(ip, in, &v))
        put_signed(&e->o, neg, v);
    else
        put_float64(&e->o, number_value(s, (size_t)(p - s)));
    return true;
}

static bool enc_literal(struct enc *e, const char *word, uint8_t cbor)
{
    size_t n = strlen(word);
    if ((size_t)(e->end - e->p) < n || memcmp(e->p, word, n) != 0)
        return enc_fail(e, AWSCBOR_ERR_JSON);
    e->p += n;
    obuf_byte(&e->o, cbor);
    return true;
}

static bool enc_value(struct enc *e, unsigned depth, enum member_kind kind);

/* A member name and its colon; *kind from the name. */
static bool enc_member_name(struct enc *e, enum member_kind *kind)
{
    size_t off, n;
    if (!enc_eat(e, '"'))
        return enc_fail(e, AWSCBOR_ERR_JSON);
    e->p--; /* enc_string starts at the quote */
    if (!enc_string(e, false, &off, &n))
        return false;
    *kind = e->o.over ? MEMBER_PLAIN : member_kind(&e->o, off, n);
    return enc_eat(e, ':') || enc_fail(e, AWSCBOR_ERR_JSON);
}

/* An array or an object (e->p at its bracket or brace) -> a definite array or map. */
static bool enc_container(struct enc *e, unsigned depth)
{
    bool object = *e->p++ == '{';
    char close = object ? '}' : ']';
    size_t at = e->o.len;
    obuf_byte(&e->o, 0);
    uint64_t count = 0;
    if (!enc_eat(e, close)) {
        do {
            enum member_kind kind = MEMBER_PLAIN;
            if ((object && !enc_member_name(e, &kind)) || !enc_value(e, depth + 1, kind))
                return false;
            count++;
        } while (enc_eat(e, ','));
        if (!enc_eat(e, close))
            return enc_fail(e, AWSCBOR_ERR_JSON);
    }
    container_close(&e->o, at, object ? MT_MAP : MT_ARRAY, count);
    return true;
}

/* One JSON value at nesting `depth` (1 = top level); `kind` from the member name it is under. */
static bool enc_value(struct enc *e, unsigned depth, enum member_kind kind)
{
    if (depth > AWSCBOR_DEPTH_MAX)
        return enc_fail(e, AWSCBOR_ERR_DEPTH);
    enc_ws(e);
    if (e->p == e->end)
        return enc_fail(e, AWSCBOR_ERR_JSON);
    switch (*e->p) {
    case '{':
    case '[': return enc_container(e, depth);
    case '"': return enc_string(e, kind == MEMBER_BLOB, NULL, NULL);
    case 't': return enc_literal(e, "true", 0xf5);
    case 'f': return enc_literal(e, "false", 0xf4);
    case 'n': return enc_literal(e, "null", 0xf6);
    default: return enc_number(e, kind == MEMBER_TIMESTAMP);
    }
}

int awscbor_from_json(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
    ASSERT(len < SIZE_MAX / 8);
    struct enc e = {.p = in, .end = in + len};
    obuf_init(&e.o, len, 4 * len + 64);
    if (enc_value(&e, 1, MEMBER_PLAIN)) {
        enc_ws(&e);
        if (e.p != e.end)
            enc_fail(&e, AWSCBOR_ERR_JSON);
    }
    if (e.err == 0 && e.o.over)
        e.err = AWSCBOR_ERR_TOO_LONG;
    if (e.err != 0) {
        free(e.o.p);
        return e.err;
    }
    *out = e.o.p;
    *out_len = e.o.len;
    return 0;
}
