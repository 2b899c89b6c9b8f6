/* auth.h — the request-authentication gate (kinesis-protocol §3, errors §1.3).
 *
 * Two modes, chosen once in main() before any thread starts:
 * - default: only the shape is checked — an Authorization header with Credential, SignedHeaders
 *   and Signature plus an X-Amz-Date or Date header, or query-string auth (X-Amz-Algorithm).
 *   Any access key and secret are accepted (the quick start relies on it).
 * - auth_configure(keys, region) (`--credentials FILE`): every request's SigV4 signature is
 *   verified as AWS does: header auth and presigned query auth, scope checks, 5-minute clock
 *   skew, session tokens, x-amz-content-sha256, constant-time comparison. Derived signing keys
 *   are cached per thread and (key, date, region).
 * Any thread; no locks. */
#ifndef SC_AUTH_H
#define SC_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct http_request;
struct creds;

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING,             /* no Authorization header and no query auth */
    AUTH_INCOMPLETE,          /* a part of the signature is missing or malformed */
    AUTH_INVALID_SIGNATURE,   /* mismatch, clock skew, wrong scope, both header and query auth */
    AUTH_UNRECOGNIZED_CLIENT, /* unknown access key id, or a wrong/missing session token */
};

/* The AWS error type (`__type`) of a failure, e.g. "InvalidSignatureException"; all are sent
 * with status 400. NULL for AUTH_OK. */
const char *auth_result_type(enum auth_result r);

/* Turns verification on: `keys` (borrowed, must outlive every request; NULL = shape checks only)
 * and the one region a credential scope may name (borrowed; NULL = any). Main thread, before the
 * workers start. */
void auth_configure(const struct creds *keys, const char *region);

/* The gate: AUTH_OK, or a failure with AWS's message in msg (NUL-terminated, truncated to cap). */
enum auth_result auth_check(const struct http_request *req, char *msg, size_t cap);

/* Verification with explicit keys, region (NULL = any) and current time (epoch seconds). */
enum auth_result auth_verify(const struct creds *keys, const char *region,
                             const struct http_request *req, int64_t now_s, char *msg, size_t cap);

/* For tests: kSigning = HMAC chain over "AWS4"+secret, date (YYYYMMDD), region, "kinesis",
 * "aws4_request". */
void auth_signing_key(const char *secret, const char *date, const char *region, uint8_t out[32]);

/* For tests: how many signing keys this thread derived (cache misses) since it started. */
uint64_t auth_key_derivations(void);

#endif
