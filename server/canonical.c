/* canonical.c — SigV4 canonical requests (see canonical.h). */
#include "server/canonical.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"
#include "server/http.h"

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* dst has room for 3 * n bytes. Returns the encoded length. */
static size_t uri_encode(char *dst, const char *src, size_t n)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (unreserved(c)) {
            dst[k++] = (char)c;
        } else {
            dst[k++] = '%';
            dst[k++] = hexd[c >> 4];
            dst[k++] = hexd[c & 15];
        }
    }
    return k;
}

/* Decodes src[0, n) to dst plus a NUL; returns the byte after the NUL. A '%' not followed by two
 * hex digits stays literal (it is re-encoded as %25). */
static char *uri_decode(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n ? sc_hex_value(src[i + 1]) : -1;
        int lo = i + 2 < n ? sc_hex_value(src[i + 2]) : -1;
        if (src[i] == '%' && hi >= 0 && lo >= 0) {
            *dst++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *dst++ = src[i];
        }
    }
    *dst++ = '\0';
    return dst;
}

static char *encode_z(char *dst, const char *src)
{
    dst += uri_encode(dst, src, strlen(src));
    *dst++ = '\0';
    return dst;
}

/* SigV4 orders parameters by encoded name, then encoded value (byte order). */
static int cmp_param(const void *a, const void *b)
{
    const struct canonical_param *x = a, *y = b;
    int c = strcmp(x->ekey, y->ekey);
    return c != 0 ? c : strcmp(x->eval, y->eval);
}

int canonical_query_parse(const char *path, struct canonical_query *q)
{
    *q = (struct canonical_query){0};
    const char *qs = strchr(path, '?');
    if (qs == NULL || qs[1] == '\0')
        return 0;
    qs++;
    size_t len = strlen(qs), n = 1;
    for (const char *p = qs; *p; p++)
        n += *p == '&';
    if (n > CANONICAL_QUERY_PARAMS_MAX)
        return -1;
    q->params = sc_calloc(n, sizeof(*q->params));
    q->mem = sc_malloc(4 * len + 4 * n);
    char *m = q->mem;
    for (const char *p = qs; *p != '\0';) {
        size_t plen = strcspn(p, "&");
        if (plen > 0) {
            const char *eq = memchr(p, '=', plen);
            size_t klen = eq ? (size_t)(eq - p) : plen;
            struct canonical_param *qp = &q->params[q->n++];
            qp->key = m;
            m = uri_decode(m, p, klen);
            qp->val = m;
            m = eq ? uri_decode(m, eq + 1, plen - klen - 1) : uri_decode(m, "", 0);
            qp->ekey = m;
            m = encode_z(m, qp->key);
            qp->eval = m;
            m = encode_z(m, qp->val);
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    qsort(q->params, q->n, sizeof(*q->params), cmp_param);
    return 0;
}

void canonical_query_dispose(struct canonical_query *q)
{
    free(q->params);
    free(q->mem);
}

const char *canonical_query_get(const struct canonical_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->params[i].key, key) == 0)
            return q->params[i].val;
    return NULL;
}

/* ---- the canonical request (kinesis-protocol §3 step 3) -------------------------------------- */

/* Where canonical bytes go: into the SHA-256 of the canonical request, and for tests also into a
 * buffer. Streaming keeps memory constant however large the signed headers are. */
struct sink {
    EVP_MD_CTX *md;
    char *out;
    size_t cap, len;
};

static void put(struct sink *s, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (s->md != NULL)
        ASSERT(EVP_DigestUpdate(s->md, p, n) == 1);
    if (s->out != NULL && s->len < s->cap)
        memcpy(s->out + s->len, p, SC_MIN(n, s->cap - s->len));
    s->len += n;
}

static void put_str(struct sink *s, const char *str)
{
    put(s, str, strlen(str));
}

static void put_encoded(struct sink *s, const char *p, size_t n)
{
    char buf[3 * 64];
    for (size_t i = 0; i < n; i += 64)
        put(s, buf, uri_encode(buf, p + i, SC_MIN(64, n - i)));
}

/* The path as botocore and the JS SDK sign it: dot segments resolved and empty segments dropped
 * (RFC 3986 §5.2.4 plus AWS's rule), then every segment URI-encoded once more. */
static void put_canonical_uri(struct sink *s, const char *path, size_t len)
{
    if (len == 1 && path[0] == '/') {
        put(s, "/", 1); /* every Kinesis call */
        return;
    }
    if (len == 0) {
        put(s, "/", 1);
        return;
    }
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += path[i] == '/';
    struct seg {
        const char *p;
        size_t n;
    } *seg = sc_malloc(cap * sizeof(*seg));
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t sn = j - i;
        if (sn == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (n > 0)
                n--;
        } else if (sn > 0 && !(sn == 1 && path[i] == '.')) {
            seg[n++] = (struct seg){path + i, sn};
        }
        i = j + 1;
    }
    if (path[0] == '/')
        put(s, "/", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put(s, "/", 1);
        put_encoded(s, seg[i].p, seg[i].n);
    }
    if (n > 0 && path[len - 1] == '/')
        put(s, "/", 1);
    free(seg);
}

static void put_canonical_query(struct sink *s, const struct canonical_query *q, bool query_auth)
{
    bool first = true;
    for (size_t i = 0; i < q->n; i++) {
        if (query_auth && strcmp(q->params[i].key, "X-Amz-Signature") == 0)
            continue;
        if (!first)
            put(s, "&", 1);
        first = false;
        put_str(s, q->params[i].ekey);
        put(s, "=", 1);
        put_str(s, q->params[i].eval);
    }
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* SigV4 "Trimall": no leading or trailing whitespace, inner runs collapsed to one space. */
static void put_trimmed(struct sink *s, const char *v, size_t n)
{
    char buf[256];
    size_t k = 0;
    bool pending = false, any = false;
    for (size_t i = 0; i < n; i++) {
        if (is_ws(v[i])) {
            pending = any;
            continue;
        }
        if (pending)
            buf[k++] = ' ';
        pending = false;
        any = true;
        buf[k++] = v[i];
        if (k >= sizeof(buf) - 2) {
            put(s, buf, k);
            k = 0;
        }
    }
    put(s, buf, k);
}

static const char *pseudo_value(const struct http_request *req, const char *name, size_t n)
{
    if (n == 10 && memcmp(name, ":authority", 10) == 0)
        return req->authority;
    if (n == 7 && memcmp(name, ":method", 7) == 0)
        return req->method;
    if (n == 5 && memcmp(name, ":path", 5) == 0)
        return req->path;
    if (n == 7 && memcmp(name, ":scheme", 7) == 0)
        return req->tls ? "https" : "http";
    return "";
}

/* Every received value of one signed header, joined with ','. A pseudo-header (JS SDK v3 over
 * HTTP/2 signs ":authority") is the received pseudo-header; "host" falls back to ":authority"
 * when an HTTP/2 client sent no Host header. */
static void put_header_value(struct sink *s, const struct http_request *req, const char *name,
                             size_t n)
{
    if (n > 0 && name[0] == ':') {
        const char *v = pseudo_value(req, name, n);
        put_trimmed(s, v, strlen(v));
        return;
    }
    bool first = true;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len != n || strncasecmp(h->name, name, n) != 0)
            continue;
        if (!first)
            put(s, ",", 1);
        first = false;
        put_trimmed(s, h->value, h->value_len);
    }
    if (first && n == 4 && strncasecmp(name, "host", 4) == 0)
        put_trimmed(s, req->authority, strlen(req->authority));
}

static void put_canonical_headers(struct sink *s, const struct http_request *req,
                                  const char *signed_headers, size_t sh_len)
{
    const char *p = signed_headers, *end = p + sh_len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        size_t n = (size_t)((semi ? semi : end) - p);
        put(s, p, n);
        put(s, ":", 1);
        put_header_value(s, req, p, n);
        put(s, "\n", 1);
        p += n + 1;
    }
}

size_t canonical_request(const struct http_request *req, const struct canonical_query *q,
                         bool query_auth, const char *signed_headers, size_t sh_len,
                         const char *payload_hash, EVP_MD_CTX *md, char *out, size_t cap)
{
    struct sink s = {.md = md, .out = out, .cap = cap};
    put_str(&s, req->method);
    put(&s, "\n", 1);
    put_canonical_uri(&s, req->path, strcspn(req->path, "?"));
    put(&s, "\n", 1);
    put_canonical_query(&s, q, query_auth);
    put(&s, "\n", 1);
    put_canonical_headers(&s, req, signed_headers, sh_len);
    put(&s, "\n", 1);
    put(&s, signed_headers, sh_len);
    put(&s, "\n", 1);
    put_str(&s, payload_hash);
    if (out != NULL && s.len < cap)
        out[s.len] = '\0';
    return s.len;
}
