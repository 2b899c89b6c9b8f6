/* kapi.h — Kinesis AWS JSON 1.1 calls over an hconn (kinesis-protocol.md §1): builds the
 * X-Amz-Target / SigV4 headers, sends the JSON body, parses the JSON answer and the error
 * `__type`. Single thread: the event_base's. */
#ifndef LT_KAPI_H
#define LT_KAPI_H

#include <stdbool.h>

#include <jansson.h>

#include "hclient.h"
#include "sigv4.h"

struct kapi {
    struct event_base *base;
    const struct endpoint *ep;
    struct sigv4_creds creds;
    bool sign; /* credentials were found in the environment */
    uint32_t timeout_ms;
};

/* err: 0 when an HTTP response arrived (check status), or a connection error (-errno).
 * resp: parsed JSON body or NULL (borrowed, valid during the call). err_type: the AWS error code
 * with any namespace stripped ("" on success). */
typedef void (*kapi_cb)(void *arg, int err, int status, json_t *resp, const char *err_type);

/* Sends Kinesis_20131202.<op> with body req (the reference is stolen). Returns 0 or the
 * hconn_request error; cb fires exactly once when 0 is returned. */
int kapi_call(struct kapi *k, struct hconn *c, const char *op, json_t *req, kapi_cb cb, void *arg);

/* Same with a ready JSON body (body, len; copied, the caller keeps it). */
int kapi_call_raw(struct kapi *k, struct hconn *c, const char *op, const char *body, size_t len,
                  kapi_cb cb, void *arg);

/* For answers too frequent to parse whole (PutRecords at tens of thousands of records/s): the
 * callback gets the raw body (valid during the call); only an error body is parsed, for
 * err_type. */
typedef void (*kapi_body_cb)(void *arg, int err, int status, const char *body, size_t len,
                             const char *err_type);
int kapi_call_body(struct kapi *k, struct hconn *c, const char *op, const char *body, size_t len,
                   kapi_body_cb cb, void *arg);

/* Runs k's loop for ms milliseconds (setup waits: events keep being served meanwhile). */
void kapi_sleep_ms(struct kapi *k, int ms);

/* Blocking variant for setup: runs the loop until the answer or timeout_ms. A throttle
 * (LimitExceededException, ProvisionedThroughputExceededException: AWS's control-plane call
 * rates, e.g. RegisterStreamConsumer 5/s per account) is retried after 100, 200, 400, 800 and
 * 1000 ms, as the SDKs do. Returns 0 with *resp (owned by the caller, may be NULL) on HTTP 200;
 * the negative connection error; or 1 for an AWS error with its code in err_type (64 bytes). */
int kapi_call_sync(struct kapi *k, struct hconn *c, const char *op, json_t *req, json_t **resp,
                   char err_type[64]);

/* Builds the request headers for op over body (content type ctype; NULL = AWS JSON 1.1) into
 * hdrs (>= 6 entries) using storage (>= 1024 bytes). Returns the number of headers. Exposed for
 * SubscribeToShard streaming. */
size_t kapi_headers(struct kapi *k, const char *op, const char *ctype, const char *body,
                    size_t body_len, struct hheader *hdrs, char *storage, size_t storage_len);

/* Extracts the AWS error code from a JSON error body ("" when absent) into out (64 bytes). */
void kapi_error_type(const json_t *body, char out[64]);

bool kapi_is_throttle(const char *err_type);

#endif
