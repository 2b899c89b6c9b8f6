/* auth.h — the request-authentication gate (kinesis-protocol §3).
 *
 * Checks that SigV4 credentials are present and well-formed: an Authorization header with
 * Credential, SignedHeaders and Signature plus an X-Amz-Date or Date header, or query-string
 * auth (X-Amz-Algorithm). The signature is NOT verified: any access key and secret are accepted
 * (shardcast is self-hosted; verification can be added here without touching callers).
 * Pure, any thread. */
#ifndef SC_AUTH_H
#define SC_AUTH_H

#include <stddef.h>

struct http_request;

enum auth_result { AUTH_OK = 0, AUTH_MISSING = 1, AUTH_INCOMPLETE = 2 };

/* Returns AUTH_OK, or AUTH_MISSING / AUTH_INCOMPLETE with the AWS message in msg. */
enum auth_result auth_check(const struct http_request *req, char *msg, size_t cap);

#endif
