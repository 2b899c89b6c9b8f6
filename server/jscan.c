/* jscan.c — see jscan.h. Two halves: a validating recursive-descent pass (bounded depth) and
 * walkers that re-scan validated text without checks (so they cannot fail). */
#include "server/jscan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/utf8.h"

/* ---- validation ---------------------------------------------------------------------------- */

struct ps {
    const char *base, *p, *end;
    char *err;
    size_t errcap;
};

static int fail(struct ps *s, const char *what)
{
    snprintf(s->err, s->errcap, "%s at offset %zu", what, (size_t)(s->p - s->base));
    return -1;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void ws(struct ps *s)
{
    while (s->p < s->end && is_ws(*s->p))
        s->p++;
}

/* An escape after the backslash at s->p; advances past it. */
static int escape(struct ps *s, bool *pending_high)
{
    s->p++; /* the backslash */
    if (s->p >= s->end)
        return fail(s, "unterminated string");
    char c = *s->p;
    if (c != 'u') {
        if (*pending_high || !strchr("\"\\/bfnrt", c) || c == '\0')
            return fail(s, *pending_high ? "unpaired surrogate" : "invalid escape");
        s->p++;
        return 0;
    }
    if (s->end - s->p < 5)
        return fail(s, "invalid \\u escape");
    int32_t cp = utf8_hex4(s->p + 1);
    if (cp < 0)
        return fail(s, "invalid \\u escape");
    if (cp == 0)
        return fail(s, "\\u0000 is not allowed");
    bool high = cp >= 0xD800 && cp <= 0xDBFF, low = cp >= 0xDC00 && cp <= 0xDFFF;
    if (*pending_high != low)
        return fail(s, "unpaired surrogate");
    *pending_high = high;
    s->p += 5;
    return 0;
}

static int string(struct ps *s, struct jscan_val *out)
{
    const char *start = ++s->p; /* past the quote */
    bool escaped = false, pending_high = false;
    for (;;) {
        const char *q = utf8_json_plain_end(s->p, s->end);
        if (q != s->p && pending_high)
            return fail(s, "unpaired surrogate");
        s->p = q;
        if (s->p >= s->end)
            return fail(s, "unterminated string");
        unsigned char c = (unsigned char)*s->p;
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = true;
            if (escape(s, &pending_high) != 0)
                return -1;
            continue;
        }
        if (pending_high)
            return fail(s, "unpaired surrogate");
        if (c < 0x20)
            return fail(s, "control character in string");
        size_t n = utf8_check((const uint8_t *)s->p, (const uint8_t *)s->end);
        if (n == 0)
            return fail(s, "invalid UTF-8");
        s->p += n;
    }
    if (pending_high)
        return fail(s, "unpaired surrogate");
    *out = (struct jscan_val){
        .type = JSCAN_STRING, .p = start, .len = (size_t)(s->p - start), .escaped = escaped};
    s->p++; /* the closing quote */
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int number(struct ps *s, struct jscan_val *out)
{
    const char *q = s->p;
    bool integer = true;
    if (q < s->end && *q == '-')
        q++;
    if (q < s->end && *q == '0') {
        q++;
    } else if (q < s->end && *q >= '1' && *q <= '9') {
        while (q < s->end && is_digit(*q))
            q++;
    } else {
        return fail(s, "invalid number");
    }
    if (q < s->end && *q == '.') {
        integer = false;
        if (++q >= s->end || !is_digit(*q))
            return fail(s, "invalid number");
        while (q < s->end && is_digit(*q))
            q++;
    }
    if (q < s->end && (*q == 'e' || *q == 'E')) {
        integer = false;
        q++;
        if (q < s->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= s->end || !is_digit(*q))
            return fail(s, "invalid number");
        while (q < s->end && is_digit(*q))
            q++;
    }
    if (q < s->end && (is_digit(*q) || *q == '.'))
        return fail(s, "invalid number"); /* leading zero, e.g. 01 */
    *out = (struct jscan_val){
        .type = JSCAN_NUMBER, .p = s->p, .len = (size_t)(q - s->p), .integer = integer};
    s->p = q;
    return 0;
}

static int literal(struct ps *s, const char *word, enum jscan_type t, struct jscan_val *out)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "invalid literal");
    *out = (struct jscan_val){.type = t, .p = s->p, .len = n};
    s->p += n;
    return 0;
}

static int value(struct ps *s, int depth, struct jscan_val *out);

/* Object or array at s->p; `close` is '}' or ']'. */
static int container(struct ps *s, int depth, struct jscan_val *out)
{
    const char *start = s->p;
    bool obj = *s->p == '{';
    char close = obj ? '}' : ']';
    if (depth >= JSCAN_DEPTH_MAX)
        return fail(s, "nesting too deep");
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
    } else {
        for (;;) {
            struct jscan_val v;
            if (obj) {
                if (s->p >= s->end || *s->p != '"')
                    return fail(s, "expected a string key");
                if (string(s, &v) != 0)
                    return -1;
                ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return fail(s, "expected ':'");
                s->p++;
                ws(s);
            }
            if (value(s, depth + 1, &v) != 0)
                return -1;
            ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                ws(s);
                continue;
            }
            if (s->p < s->end && *s->p == close) {
                s->p++;
                break;
            }
            return fail(s, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    *out = (struct jscan_val){
        .type = obj ? JSCAN_OBJECT : JSCAN_ARRAY, .p = start, .len = (size_t)(s->p - start)};
    return 0;
}

static int value(struct ps *s, int depth, struct jscan_val *out)
{
    if (s->p >= s->end)
        return fail(s, "unexpected end of input");
    switch (*s->p) {
    case '{':
    case '[': return container(s, depth, out);
    case '"': return string(s, out);
    case 't': return literal(s, "true", JSCAN_TRUE, out);
    case 'f': return literal(s, "false", JSCAN_FALSE, out);
    case 'n': return literal(s, "null", JSCAN_NULL, out);
    default:
        if (*s->p == '-' || is_digit(*s->p))
            return number(s, out);
        return fail(s, "unexpected character");
    }
}

int jscan_parse(const char *buf, size_t len, struct jscan_val *root, char *err, size_t errcap)
{
    struct ps s = {.base = buf, .p = buf, .end = buf + len, .err = err, .errcap = errcap};
    ws(&s);
    if (value(&s, 0, root) != 0)
        return -1;
    ws(&s);
    if (s.p != s.end)
        return fail(&s, "unexpected text after the value");
    return 0;
}

/* ---- walking validated text ---------------------------------------------------------------- */

static const char *skip_ws(const char *p)
{
    while (is_ws(*p))
        p++;
    return p;
}

/* String at p (the opening quote): fills v and returns the byte after the closing quote. */
static const char *walk_string(const char *p, struct jscan_val *v)
{
    const char *start = p + 1, *q = start;
    bool escaped = false;
    for (;;) {
        const char *quote = strchr(q, '"'); /* validated: a closing quote comes before any NUL */
        DASSERT(quote != NULL);
        const char *bs = memchr(q, '\\', (size_t)(quote - q));
        if (bs == NULL) {
            q = quote;
            break;
        }
        escaped = true;
        q = bs + 2; /* the escaped byte may be a quote */
    }
    *v = (struct jscan_val){
        .type = JSCAN_STRING, .p = start, .len = (size_t)(q - start), .escaped = escaped};
    return q + 1;
}

/* Value at p: fills v and returns the byte after it. */
static const char *walk_value(const char *p, struct jscan_val *v)
{
    switch (*p) {
    case '"': return walk_string(p, v);
    case 't': *v = (struct jscan_val){.type = JSCAN_TRUE, .p = p, .len = 4}; return p + 4;
    case 'f': *v = (struct jscan_val){.type = JSCAN_FALSE, .p = p, .len = 5}; return p + 5;
    case 'n': *v = (struct jscan_val){.type = JSCAN_NULL, .p = p, .len = 4}; return p + 4;
    case '{':
    case '[': {
        int depth = 0;
        const char *q = p;
        do {
            if (*q == '"') {
                struct jscan_val tmp;
                q = walk_string(q, &tmp);
                continue;
            }
            if (*q == '{' || *q == '[')
                depth++;
            else if (*q == '}' || *q == ']')
                depth--;
            q++;
        } while (depth > 0);
        *v = (struct jscan_val){
            .type = *p == '{' ? JSCAN_OBJECT : JSCAN_ARRAY, .p = p, .len = (size_t)(q - p)};
        return q;
    }
    default: {
        const char *q = p;
        bool integer = true;
        while (is_digit(*q) || *q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E') {
            if (!is_digit(*q) && !(q == p && *q == '-'))
                integer = false;
            q++;
        }
        *v = (struct jscan_val){
            .type = JSCAN_NUMBER, .p = p, .len = (size_t)(q - p), .integer = integer};
        return q;
    }
    }
}

void jscan_iter_init(const struct jscan_val *v, struct jscan_iter *it)
{
    ASSERT(v->type == JSCAN_OBJECT || v->type == JSCAN_ARRAY);
    it->p = skip_ws(v->p + 1);
}

bool jscan_next_member(struct jscan_iter *it, struct jscan_val *key, struct jscan_val *val)
{
    const char *p = it->p;
    if (*p == '}')
        return false;
    p = walk_string(p, key);
    p = skip_ws(p);
    p = skip_ws(p + 1); /* ':' */
    p = walk_value(p, val);
    p = skip_ws(p);
    if (*p == ',')
        p = skip_ws(p + 1);
    it->p = p;
    return true;
}

bool jscan_next_elem(struct jscan_iter *it, struct jscan_val *val)
{
    const char *p = it->p;
    if (*p == ']')
        return false;
    p = walk_value(p, val);
    p = skip_ws(p);
    if (*p == ',')
        p = skip_ws(p + 1);
    it->p = p;
    return true;
}

/* ---- strings ------------------------------------------------------------------------------- */

const char *jscan_string(const struct jscan_val *v, size_t *len, char **scratch)
{
    ASSERT(v->type == JSCAN_STRING);
    if (!v->escaped) {
        *len = v->len;
        return v->p;
    }
    /* Unescaping never grows: \uXXXX (6 bytes) -> at most 3, a pair (12) -> 4. */
    char *o = sc_malloc(v->len + 1);
    size_t n = 0;
    for (const char *p = v->p, *end = v->p + v->len; p < end;) {
        if (*p != '\\') {
            o[n++] = *p++;
            continue;
        }
        char c = p[1];
        p += 2;
        switch (c) {
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)utf8_hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* validated: a low surrogate follows */
                uint32_t lo = (uint32_t)utf8_hex4(p + 2);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += utf8_encode((uint8_t *)o + n, cp);
            break;
        }
        default: o[n++] = c; /* " \ / */
        }
    }
    o[n] = '\0';
    *scratch = o;
    *len = n;
    return o;
}

bool jscan_key_is(const struct jscan_val *key, const char *name)
{
    size_t nlen = strlen(name);
    if (!key->escaped)
        return key->len == nlen && memcmp(key->p, name, nlen) == 0;
    char *scratch = NULL;
    size_t len;
    const char *s = jscan_string(key, &len, &scratch);
    bool eq = len == nlen && memcmp(s, name, nlen) == 0;
    free(scratch);
    return eq;
}
