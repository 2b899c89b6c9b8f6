/* canonical.h — the SigV4 canonical request of a received request (kinesis-protocol §3 step 3),
 * the bytes whose SHA-256 a signature covers:
 *   METHOD \n URI \n QUERY \n (name:value\n per signed header) \n SIGNED_HEADERS \n PAYLOAD_HASH
 * URI: the path with dot segments resolved and empty segments dropped, each segment URI-encoded
 * again (what botocore and the JS SDK sign). QUERY: parameters percent-decoded, re-encoded the
 * SigV4 way (RFC 3986 unreserved characters kept, the rest %XX), sorted by name then value.
 * Headers: in the SignedHeaders order given; every received value of a name joined with ',',
 * each trimmed with inner whitespace runs collapsed to one space; "host" falls back to the
 * :authority of an HTTP/2 request that has no Host header; a pseudo-header name (":authority",
 * signed by the JS SDK v3 over HTTP/2) takes the received pseudo-header.
 * Pure, any thread. */
#ifndef SC_CANONICAL_H
#define SC_CANONICAL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

struct http_request;

#define CANONICAL_QUERY_PARAMS_MAX 64 /* Kinesis calls have none; a presigned URL about 8 */

struct canonical_param {
    const char *key, *val;   /* percent-decoded */
    const char *ekey, *eval; /* SigV4-encoded */
};

/* The parsed query string of a request; sorted as the canonical query orders it. */
struct canonical_query {
    struct canonical_param *params;
    size_t n;
    char *mem;
};

/* Parses the query of `path` (after '?'). Returns 0, or -1 (nothing to dispose) beyond
 * CANONICAL_QUERY_PARAMS_MAX parameters. Allocates in proportion to the query, which the
 * transport bounds (request head <= 64 KiB); nothing when there is no query. */
int canonical_query_parse(const char *path, struct canonical_query *q);
void canonical_query_dispose(struct canonical_query *q);

/* The decoded value of parameter `key` (exact name), or NULL. */
const char *canonical_query_get(const struct canonical_query *q, const char *key);

/* Streams the canonical request into `md` (an initialised digest, may be NULL) and copies it
 * into out[0, cap) (out may be NULL; NUL-terminated when it fits). `query_auth` leaves
 * X-Amz-Signature out of the query, as presigned requests are signed. Returns the full length,
 * also when cap cut the copy. Streaming keeps memory constant however many headers are signed. */
size_t canonical_request(const struct http_request *req, const struct canonical_query *q,
                         bool query_auth, const char *signed_headers, size_t sh_len,
                         const char *payload_hash, EVP_MD_CTX *md, char *out, size_t cap);

#endif
