/* auth.c — SigV4 presence checks and verification (see auth.h; kinesis-protocol §3).
 *
 * Messages follow AWS's wording where it is known (clock skew, scope, mismatch, unknown key);
 * the rest are marked "(inferred)" in server/README.md. */
#include "server/auth.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/clock.h"
#include "common/common.h"
#include "server/canonical.h"
#include "server/creds.h"
#include "server/http.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SERVICE "kinesis"
#define TERMINATOR "aws4_request"
#define SKEW_MAX_S 300
#define PRESIGN_EXPIRES_MAX_S 604800 /* 7 days, the SigV4 limit for X-Amz-Expires */
#define SIGNED_HEADERS_MAX 256       /* no request has more headers (HTTP_HEADERS_MAX) */
#define REGION_CACHE_MAX 63
#define KEY_CACHE_SLOTS 8

static const char MSG_MISMATCH[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
static const char MSG_UNRECOGNIZED[] = "The security token included in the request is invalid.";
static const char UNSIGNED_PAYLOAD[] = "UNSIGNED-PAYLOAD";

static const struct creds *g_keys;
static const char *g_region;

const char *auth_result_type(enum auth_result r)
{
    static const char *const types[] = {
        [AUTH_OK] = NULL,
        [AUTH_MISSING] = "MissingAuthenticationTokenException",
        [AUTH_INCOMPLETE] = "IncompleteSignatureException",
        [AUTH_INVALID_SIGNATURE] = "InvalidSignatureException",
        [AUTH_UNRECOGNIZED_CLIENT] = "UnrecognizedClientException",
    };
    ASSERT((size_t)r < SC_ARRAY_LEN(types));
    return types[r];
}

void auth_configure(const struct creds *keys, const char *region)
{
    g_keys = keys;
    g_region = region;
}

/* ---- small helpers ------------------------------------------------------------------------- */

struct span {
    const char *p;
    size_t n;
};

static bool span_is(struct span s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* SHA-256 fetched once. Handing EVP_sha256() to every digest makes OpenSSL 3 look the
 * algorithm up again under a lock (implicit fetch); for a small request that cost more than the
 * hashing. The fetched digest lives as long as the process. */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    ASSERT(g_sha256 != NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&g_sha256_once, sha256_fetch);
    return g_sha256;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    ASSERT(EVP_Digest(p, n, out, &len, sha256_md(), NULL) == 1 && len == 32);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t md[32];
    sha256(p, n, md);
    sc_hex_encode(md, 32, out);
}

static void digest2(EVP_MD_CTX *ctx, const void *a, size_t an, const void *b, size_t bn,
                    uint8_t out[32])
{
    unsigned int len = 0;
    ASSERT(EVP_DigestInit_ex(ctx, sha256_md(), NULL) == 1 && EVP_DigestUpdate(ctx, a, an) == 1 &&
           EVP_DigestUpdate(ctx, b, bn) == 1 && EVP_DigestFinal_ex(ctx, out, &len) == 1 &&
           len == 32);
}

/* HMAC-SHA256 (RFC 2104) over the fetched digest: OpenSSL 3's one-shot HMAC() fetches the MAC
 * and the digest by name on every call, which dominated verification of small requests. The
 * kSigning test vector of kinesis-protocol §3 pins it. */
static void hmac(const void *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    if (key_len > sizeof(k))
        sha256(key, key_len, k);
    else
        memcpy(k, key, key_len);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ASSERT(ctx != NULL);
    for (size_t i = 0; i < sizeof(pad); i++)
        pad[i] = k[i] ^ 0x36;
    digest2(ctx, pad, sizeof(pad), msg, msg_len, inner);
    for (size_t i = 0; i < sizeof(pad); i++)
        pad[i] = k[i] ^ 0x5c;
    digest2(ctx, pad, sizeof(pad), inner, sizeof(inner), out);
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
}

static void format_iso(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        snprintf(out, 17, "19700101T000000Z");
}

static bool digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* A real calendar date and time, as epoch seconds. X-Amz-Date is signed as received, so
 * 20230229 must not pass as March 1st. */
static bool make_time(int y, int mo, int d, int h, int mi, int se, int64_t *t)
{
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days[mo - 1] - (mo == 2 && !leap) || h > 23 ||
        mi > 59 || se > 59)
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    *t = (int64_t)timegm(&tm);
    return true;
}

/* "YYYYMMDD'T'HHMMSS'Z'" (ISO 8601 basic, what X-Amz-Date carries). */
static bool parse_iso(const char *s, int64_t *t)
{
    int y, mo, d, h, mi, se;
    return strlen(s) == 16 && s[8] == 'T' && s[15] == 'Z' && digits(s, 4, &y) &&
           digits(s + 4, 2, &mo) && digits(s + 6, 2, &d) && digits(s + 9, 2, &h) &&
           digits(s + 11, 2, &mi) && digits(s + 13, 2, &se) && make_time(y, mo, d, h, mi, se, t);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 1123, the Date header). */
static bool parse_rfc1123(const char *s, int64_t *t)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int d, y, h, mi, se;
    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
        strcmp(s + 26, "GMT") != 0 || !digits(s + 5, 2, &d) || !digits(s + 12, 4, &y) ||
        !digits(s + 17, 2, &h) || !digits(s + 20, 2, &mi) || !digits(s + 23, 2, &se))
        return false;
    for (int m = 0; m < 12; m++)
        if (memcmp(months + 3 * m, s + 8, 3) == 0)
            return make_time(y, m + 1, d, h, mi, se, t);
    return false;
}

/* ---- presence (the default mode's whole check) --------------------------------------------- */

/* AWS's IncompleteSignatureException text for the parts an Authorization header lacks. */
static enum auth_result check_shape(const struct http_request *req, const char *auth, char *msg,
                                    size_t cap)
{
    static const char *const need[] = {"Credential", "Signature", "SignedHeaders"};
    size_t len = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof(key), "%s=", need[i]);
        if (strstr(auth, key) == NULL && len < cap)
            len += (size_t)snprintf(msg + len, cap - len,
                                    "Authorization header requires '%s' parameter. ", need[i]);
    }
    if (http_request_header(req, "x-amz-date") == NULL &&
        http_request_header(req, "date") == NULL && len < cap)
        len += (size_t)snprintf(msg + len, cap - len,
                                "Authorization header requires existence of either a "
                                "'X-Amz-Date' or a 'Date' header. ");
    if (len == 0)
        return AUTH_OK;
    if (len < cap)
        snprintf(msg + len, cap - len, "Authorization=%s", auth);
    return AUTH_INCOMPLETE;
}

/* ---- signing keys ------------------------------------------------------------------------- */

void auth_signing_key(const char *secret, const char *date, const char *region, uint8_t out[32])
{
    char k0[4 + CREDS_SECRET_MAX + 1];
    int n = snprintf(k0, sizeof(k0), "AWS4%s", secret);
    ASSERT(n > 0 && (size_t)n < sizeof(k0));
    uint8_t k1[32], k2[32], k3[32];
    hmac(k0, (size_t)n, date, strlen(date), k1);
    hmac(k1, 32, region, strlen(region), k2);
    hmac(k2, 32, SERVICE, strlen(SERVICE), k3);
    hmac(k3, 32, TERMINATOR, strlen(TERMINATOR), out);
    OPENSSL_cleanse(k0, sizeof(k0));
}

/* kSigning changes once a day per key and region, so a few slots per thread make PutRecords pay
 * one HMAC per call instead of five, without locks. Slots are tagged with the key's id, not its
 * address: a reloaded table may reuse an address for a different secret. */
struct key_slot {
    uint64_t cred_id; /* 0 = empty */
    char date[9];
    char region[REGION_CACHE_MAX + 1];
    uint8_t key[32];
};
static _Thread_local struct key_slot tls_keys[KEY_CACHE_SLOTS];
static _Thread_local unsigned tls_keys_next;
static _Thread_local uint64_t tls_derivations;

uint64_t auth_key_derivations(void)
{
    return tls_derivations;
}

static void signing_key(const struct cred *k, const char *date, const char *region, uint8_t out[32])
{
    bool cacheable = strlen(region) <= REGION_CACHE_MAX;
    for (size_t i = 0; cacheable && i < KEY_CACHE_SLOTS; i++) {
        const struct key_slot *sl = &tls_keys[i];
        if (sl->cred_id == k->id && strcmp(sl->date, date) == 0 &&
            strcmp(sl->region, region) == 0) {
            memcpy(out, sl->key, 32);
            return;
        }
    }
    tls_derivations++;
    auth_signing_key(k->secret, date, region, out);
    if (!cacheable)
        return;
    struct key_slot *sl = &tls_keys[tls_keys_next++ % KEY_CACHE_SLOTS];
    sl->cred_id = k->id;
    snprintf(sl->date, sizeof(sl->date), "%s", date);
    snprintf(sl->region, sizeof(sl->region), "%s", region);
    memcpy(sl->key, out, 32);
}

/* ---- what the request claims ---------------------------------------------------------------- */

struct claim {
    bool query; /* presigned: the X-Amz-* query parameters */
    struct span credential, signed_headers, signature;
    struct span akid, scope, date, region, service, term; /* scope = date/region/service/term */
    const char *token;                                    /* X-Amz-Security-Token or NULL */
    char amz_date[17];                                    /* the request time, ISO 8601 basic */
    int64_t t;                                            /* the same, epoch seconds */
    int64_t expires_s;                                    /* X-Amz-Expires, 0 when absent */
};

static bool is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

/* X-Amz-Date (header or query): the string to sign carries it as received. */
static enum auth_result parse_amz_date(const char *date, struct claim *cl, char *msg, size_t cap)
{
    if (!parse_iso(date, &cl->t)) {
        snprintf(msg, cap,
                 "Date must be in ISO-8601 'basic format'. Got '%.*s'. See "
                 "http://en.wikipedia.org/wiki/ISO_8601",
                 64, date);
        return AUTH_INCOMPLETE;
    }
    memcpy(cl->amz_date, date, 17);
    return AUTH_OK;
}

/* Splits "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." on any run of
 * spaces and commas; returns the algorithm's length. */
static size_t split_auth_header(const char *auth, struct claim *cl)
{
    size_t alg_len = strcspn(auth, " \t");
    for (const char *p = auth + alg_len; *p != '\0';) {
        while (is_sep(*p))
            p++;
        size_t n = 0;
        while (p[n] != '\0' && !is_sep(p[n]))
            n++;
        const char *eq = memchr(p, '=', n);
        if (eq != NULL) {
            struct span key = {p, (size_t)(eq - p)}, val = {eq + 1, n - (size_t)(eq - p) - 1};
            if (span_is(key, "Credential") && cl->credential.p == NULL)
                cl->credential = val;
            else if (span_is(key, "SignedHeaders") && cl->signed_headers.p == NULL)
                cl->signed_headers = val;
            else if (span_is(key, "Signature") && cl->signature.p == NULL)
                cl->signature = val;
        }
        p += n;
    }
    return alg_len;
}

static enum auth_result parse_header_auth(const struct http_request *req, const char *auth,
                                          struct claim *cl, char *msg, size_t cap)
{
    size_t alg_len = split_auth_header(auth, cl);
    const char *xdate = http_request_header(req, "x-amz-date");
    const char *date = xdate ? NULL : http_request_header(req, "date");
    bool all = cl->credential.p && cl->signed_headers.p && cl->signature.p && (xdate || date);
    if (!all && check_shape(req, auth, msg, cap) != AUTH_OK)
        return AUTH_INCOMPLETE; /* the same messages as without verification */
    if (alg_len != strlen(ALGORITHM) || strncmp(auth, ALGORITHM, alg_len) != 0) {
        snprintf(msg, cap, "Unsupported AWS 'algorithm': '%.*s'.", (int)SC_MIN(alg_len, 64), auth);
        return AUTH_INCOMPLETE;
    }
    const char *missing = cl->credential.p == NULL       ? "Credential"
                          : cl->signed_headers.p == NULL ? "SignedHeaders"
                          : cl->signature.p == NULL      ? "Signature"
                                                         : NULL;
    if (missing != NULL) { /* e.g. "XCredential=": present as text, not as a parameter */
        snprintf(msg, cap, "Authorization header requires '%s' parameter. Authorization=%s",
                 missing, auth);
        return AUTH_INCOMPLETE;
    }
    cl->token = http_request_header(req, "x-amz-security-token");
    if (xdate != NULL)
        return parse_amz_date(xdate, cl, msg, cap);
    if (!parse_rfc1123(date, &cl->t)) {
        snprintf(msg, cap, "Date must be in RFC 1123 format. Got '%.*s'.", 64, date);
        return AUTH_INCOMPLETE;
    }
    format_iso(cl->t, cl->amz_date);
    return AUTH_OK;
}

static struct span span_of(const char *s)
{
    return (struct span){s, s ? strlen(s) : 0};
}

/* Presigned: X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Signature
 * (+ -Security-Token) in the query. */
static enum auth_result parse_query_auth(const struct canonical_query *q, struct claim *cl,
                                         char *msg, size_t cap)
{
    static const char *const need[] = {"X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders",
                                       "X-Amz-Signature"};
    size_t len = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < SC_ARRAY_LEN(need); i++)
        if (canonical_query_get(q, need[i]) == NULL && len < cap)
            len += (size_t)snprintf(msg + len, cap - len,
                                    "AWS query-string parameters must include '%s'. ", need[i]);
    if (len > 0) {
        if (len < cap)
            snprintf(msg + len, cap - len, "Re-examine the query-string parameters.");
        return AUTH_INCOMPLETE;
    }
    const char *alg = canonical_query_get(q, "X-Amz-Algorithm");
    if (strcmp(alg, ALGORITHM) != 0) {
        snprintf(msg, cap, "Unsupported AWS 'algorithm': '%.*s'.", 64, alg);
        return AUTH_INCOMPLETE;
    }
    cl->query = true;
    cl->credential = span_of(canonical_query_get(q, "X-Amz-Credential"));
    cl->signed_headers = span_of(canonical_query_get(q, "X-Amz-SignedHeaders"));
    cl->signature = span_of(canonical_query_get(q, "X-Amz-Signature"));
    cl->token = canonical_query_get(q, "X-Amz-Security-Token");
    enum auth_result r = parse_amz_date(canonical_query_get(q, "X-Amz-Date"), cl, msg, cap);
    if (r != AUTH_OK)
        return r;
    const char *exp = canonical_query_get(q, "X-Amz-Expires");
    if (exp != NULL) {
        char *end;
        long long v = strtoll(exp, &end, 10);
        if (exp[0] < '0' || exp[0] > '9' || *end != '\0' || v < 1 || v > PRESIGN_EXPIRES_MAX_S) {
            snprintf(msg, cap, "X-Amz-Expires must be a number of seconds from 1 to %d.",
                     PRESIGN_EXPIRES_MAX_S);
            return AUTH_INCOMPLETE;
        }
        cl->expires_s = v;
    }
    return AUTH_OK;
}

/* Credential = AKID/date/region/service/terminator. */
static enum auth_result split_credential(struct claim *cl, char *msg, size_t cap)
{
    struct span part[5];
    size_t n = 0;
    const char *p = cl->credential.p, *end = p + cl->credential.n;
    while (n < 5) {
        const char *slash = n < 4 ? memchr(p, '/', (size_t)(end - p)) : NULL;
        const char *stop = slash ? slash : end;
        part[n++] = (struct span){p, (size_t)(stop - p)};
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (n != 5 || memchr(part[4].p, '/', part[4].n) != NULL) {
        snprintf(msg, cap,
                 "Credential must have exactly 5 slash-delimited elements, e.g. "
                 "keyid/date/region/service/term, got '%.*s'",
                 (int)SC_MIN(cl->credential.n, 512), cl->credential.p);
        return AUTH_INCOMPLETE;
    }
    cl->akid = part[0];
    cl->date = part[1];
    cl->region = part[2];
    cl->service = part[3];
    cl->term = part[4];
    cl->scope = (struct span){part[1].p, (size_t)(end - part[1].p)};
    return AUTH_OK;
}

/* The request must be signed for this server: date, region, service, terminator, host. */
static enum auth_result check_scope(const struct claim *cl, const char *region, char *msg,
                                    size_t cap)
{
    if (cl->date.n != 8 || memcmp(cl->date.p, cl->amz_date, 8) != 0) {
        snprintf(msg, cap,
                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                 "date from HTTP: '%.*s' != '%.8s', from '%s'.",
                 (int)SC_MIN(cl->date.n, 64), cl->date.p, cl->amz_date, cl->amz_date);
        return AUTH_INVALID_SIGNATURE;
    }
    if (region != NULL && !span_is(cl->region, region)) {
        snprintf(msg, cap, "Credential should be scoped to a valid region, not '%.*s'. ",
                 (int)SC_MIN(cl->region.n, 64), cl->region.p);
        return AUTH_INVALID_SIGNATURE;
    }
    if (!span_is(cl->service, SERVICE)) {
        snprintf(msg, cap, "Credential should be scoped to correct service: '%s'. ", SERVICE);
        return AUTH_INVALID_SIGNATURE;
    }
    if (!span_is(cl->term, TERMINATOR)) {
        snprintf(msg, cap,
                 "Credential should be scoped with a valid terminator: '%s', not '%.*s'. ",
                 TERMINATOR, (int)SC_MIN(cl->term.n, 64), cl->term.p);
        return AUTH_INVALID_SIGNATURE;
    }
    bool host = false;
    size_t count = 0;
    for (const char *p = cl->signed_headers.p, *end = p + cl->signed_headers.n; p < end;) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        struct span name = {p, (size_t)((semi ? semi : end) - p)};
        host = host || span_is(name, "host") || span_is(name, ":authority");
        count++;
        p += name.n + 1;
    }
    if (!host) {
        snprintf(msg, cap,
                 "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                 "Authorization.");
        return AUTH_INCOMPLETE;
    }
    if (count > SIGNED_HEADERS_MAX) {
        snprintf(msg, cap, "%s", MSG_MISMATCH);
        return AUTH_INVALID_SIGNATURE;
    }
    return AUTH_OK;
}

/* Unknown key, or a session token that is not the key's own: both are "invalid token" at AWS. */
static enum auth_result check_key(const struct creds *keys, const struct claim *cl,
                                  const struct cred **out, char *msg, size_t cap)
{
    const struct cred *k = creds_find(keys, cl->akid.p, cl->akid.n);
    bool ok = k != NULL;
    if (ok && k->token != NULL)
        ok = cl->token != NULL && strlen(cl->token) == k->token_len &&
             CRYPTO_memcmp(cl->token, k->token, k->token_len) == 0;
    else if (ok)
        ok = cl->token == NULL;
    if (!ok) {
        snprintf(msg, cap, "%s", MSG_UNRECOGNIZED);
        return AUTH_UNRECOGNIZED_CLIENT;
    }
    *out = k;
    return AUTH_OK;
}

/* AWS allows 5 minutes of clock skew either way; a presigned request is good from 5 minutes
 * before X-Amz-Date until X-Amz-Expires after it. */
static enum auth_result check_time(const struct claim *cl, int64_t now, char *msg, size_t cap)
{
    int64_t window = cl->expires_s > 0 ? cl->expires_s : SKEW_MAX_S;
    bool early = cl->t > now + SKEW_MAX_S, late = cl->t < now - window;
    if (!early && !late)
        return AUTH_OK;
    char a[17], b[17];
    format_iso(now, a);
    format_iso(early ? now + SKEW_MAX_S : now - window, b);
    if (early)
        snprintf(msg, cap, "Signature not yet current: %s is still later than %s (%s + 5 min.)",
                 cl->amz_date, b, a);
    else if (cl->expires_s > 0)
        snprintf(msg, cap, "Signature expired: %s is now earlier than %s (%s - %lld sec.)",
                 cl->amz_date, b, a, (long long)cl->expires_s);
    else
        snprintf(msg, cap, "Signature expired: %s is now earlier than %s (%s - 5 min.)",
                 cl->amz_date, b, a);
    return AUTH_INVALID_SIGNATURE;
}

/* Recomputes the signature. The payload hash is x-amz-content-sha256 when the client sent it
 * (the JS SDK v3 always does), and then it must be the body's real hash unless it says
 * UNSIGNED-PAYLOAD: AWS's verifier takes the header as the canonical payload hash (that is how
 * unsigned-body operations work), but a body changed after signing must not pass. */
static enum auth_result check_signature(const struct http_request *req,
                                        const struct canonical_query *q, const struct claim *cl,
                                        const struct cred *k, char *msg, size_t cap)
{
    const char *content_sha = http_request_header(req, "x-amz-content-sha256");
    bool unsigned_payload = content_sha != NULL && strcmp(content_sha, UNSIGNED_PAYLOAD) == 0;
    char body_hash[65] = "";
    if (!unsigned_payload)
        sha256_hex(req->body, req->body_len, body_hash);

    uint8_t md[32];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ASSERT(ctx != NULL && EVP_DigestInit_ex(ctx, sha256_md(), NULL) == 1);
    canonical_request(req, q, cl->query, cl->signed_headers.p, cl->signed_headers.n,
                      content_sha != NULL ? content_sha : body_hash, ctx, NULL, 0);
    ASSERT(EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 32);
    EVP_MD_CTX_free(ctx);

    char to_sign[64 + 17 + 256 + 65], canon_hex[65];
    sc_hex_encode(md, 32, canon_hex);
    int n = snprintf(to_sign, sizeof(to_sign), ALGORITHM "\n%s\n%.*s\n%s", cl->amz_date,
                     (int)cl->scope.n, cl->scope.p, canon_hex);
    char date[9], region[64];
    bool fits = n > 0 && (size_t)n < sizeof(to_sign) && cl->region.n < sizeof(region);
    char sig[65] = "";
    if (fits) {
        memcpy(date, cl->date.p, 8);
        date[8] = '\0';
        memcpy(region, cl->region.p, cl->region.n);
        region[cl->region.n] = '\0';
        uint8_t key[32], mac[32];
        signing_key(k, date, region, key);
        hmac(key, 32, to_sign, (size_t)n, mac);
        sc_hex_encode(mac, 32, sig);
        OPENSSL_cleanse(key, sizeof(key));
    }
    if (!fits || cl->signature.n != 64 || CRYPTO_memcmp(sig, cl->signature.p, 64) != 0) {
        snprintf(msg, cap, "%s", MSG_MISMATCH);
        return AUTH_INVALID_SIGNATURE;
    }
    if (content_sha != NULL && !unsigned_payload && strcasecmp(content_sha, body_hash) != 0) {
        snprintf(msg, cap,
                 "The provided 'x-amz-content-sha256' header does not match what was computed.");
        return AUTH_INVALID_SIGNATURE;
    }
    return AUTH_OK;
}

enum auth_result auth_verify(const struct creds *keys, const char *region,
                             const struct http_request *req, int64_t now_s, char *msg, size_t cap)
{
    ASSERT(cap > 0);
    msg[0] = '\0';
    struct canonical_query q;
    struct claim cl = {0};
    enum auth_result r = AUTH_OK;
    if (canonical_query_parse(req->path, &q) != 0) {
        snprintf(msg, cap, "%s", MSG_MISMATCH); /* more parameters than Kinesis ever signs */
        return AUTH_INVALID_SIGNATURE;
    }
    const char *auth = http_request_header(req, "authorization");
    bool presigned = canonical_query_get(&q, "X-Amz-Algorithm") != NULL;
    if (auth != NULL && presigned) {
        snprintf(msg, cap,
                 "Found both 'X-Amz-Algorithm' as a query-string param and "
                 "'Authorization' as HTTP header.");
        r = AUTH_INVALID_SIGNATURE;
    } else if (auth == NULL && !presigned) {
        snprintf(msg, cap, "Missing Authentication Token");
        r = AUTH_MISSING;
    } else {
        r = auth ? parse_header_auth(req, auth, &cl, msg, cap)
                 : parse_query_auth(&q, &cl, msg, cap);
    }
    const struct cred *k = NULL;
    if (r == AUTH_OK)
        r = split_credential(&cl, msg, cap);
    if (r == AUTH_OK)
        r = check_scope(&cl, region, msg, cap);
    if (r == AUTH_OK)
        r = check_key(keys, &cl, &k, msg, cap);
    if (r == AUTH_OK)
        r = check_time(&cl, now_s, msg, cap);
    if (r == AUTH_OK)
        r = check_signature(req, &q, &cl, k, msg, cap);
    canonical_query_dispose(&q);
    return r;
}

enum auth_result auth_check(const struct http_request *req, char *msg, size_t cap)
{
    if (g_keys != NULL)
        return auth_verify(g_keys, g_region, req, clock_now_ms() / 1000, msg, cap);
    const char *auth = http_request_header(req, "authorization");
    if (auth == NULL) {
        if (req->path != NULL && strstr(req->path, "X-Amz-Algorithm=") != NULL)
            return AUTH_OK; /* presigned query auth */
        snprintf(msg, cap, "Missing Authentication Token");
        return AUTH_MISSING;
    }
    return check_shape(req, auth, msg, cap);
}
