/* sigv4.h — AWS Signature Version 4 for Kinesis JSON requests (kinesis-protocol.md §3).
 *
 * We sign exactly the headers a Kinesis server needs to verify: content-type, host,
 * x-amz-date, x-amz-target (+ x-amz-security-token when a session token is set), in that
 * sorted order. Pure functions, any thread. */
#ifndef LT_SIGV4_H
#define LT_SIGV4_H

#include <stddef.h>
#include <stdint.h>

struct sigv4_creds {
    const char *access_key;    /* AWS_ACCESS_KEY_ID */
    const char *secret_key;    /* AWS_SECRET_ACCESS_KEY */
    const char *session_token; /* AWS_SESSION_TOKEN or NULL */
    const char *region;        /* AWS_REGION / AWS_DEFAULT_REGION, default us-east-1 */
};

/* The inputs of one request. amz_date is "YYYYMMDDTHHMMSSZ". */
struct sigv4_request {
    const char *host; /* Host / :authority value, e.g. "localhost:4567" */
    const char *amz_date;
    const char *content_type;
    const char *target; /* X-Amz-Target */
    const uint8_t *body;
    size_t body_len;
};

/* Writes "YYYYMMDDTHHMMSSZ" for epoch_s into out (>= 17 bytes). */
void sigv4_format_date(int64_t epoch_s, char out[17]);

/* Computes the Authorization header value into out (NUL-terminated).
 * Returns the length, or -ENOSPC when out_len is too small. Any thread. */
int sigv4_authorization(const struct sigv4_creds *creds, const struct sigv4_request *req, char *out,
                        size_t out_len);

/* Fills creds from the usual AWS environment variables. Returns 0 when an access key and a
 * secret are both present, -ENOENT otherwise (the caller then sends unsigned requests). */
int sigv4_creds_from_env(struct sigv4_creds *creds);

/* Lowercase hex SHA-256 of data into out (65 bytes). Exposed for tests. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

#endif
