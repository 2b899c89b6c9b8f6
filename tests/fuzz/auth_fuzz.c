/* libFuzzer harness for SigV4 verification (server/auth.c, canonical.c): with `--credentials`
 * every request's Authorization header, query string, signed headers and body go through it.
 *
 * Input: byte 0 picks HTTP/1.1 or HTTP/2; then one line of request-target, header lines
 * "name:value" (names lowercased, as the transports deliver them) up to an empty line, and the
 * body. The seeds are the protocol reference's worked example, valid at the harness's fixed clock.
 * Properties: no crash / leak / UB / over-read; both modes answer only their own results, with a
 * NUL-terminated message that fits; the answer does not depend on the signing-key cache (asked
 * twice); an accepted request whose body is not declared UNSIGNED-PAYLOAD is refused once its
 * body changes by one byte. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "server/auth.h"
#include "server/creds.h"
#include "server/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADERS_MAX 32
static const int64_t NOW_S = 1704067200; /* 2024-01-01T00:00:00Z, the worked example's time */

static const struct creds *keys(void)
{
    static struct creds *k;
    if (k == NULL) {
        static const char text[] = "AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
                                   "AKIDTOKEN secret2 TOKEN123\n";
        char err[128];
        ASSERT(creds_parse(text, sizeof(text) - 1, "fuzz", &k, err, sizeof(err)) == 0);
    }
    return k;
}

static enum auth_result verify(const struct http_request *req, char *msg, size_t cap)
{
    memset(msg, 'X', cap);
    enum auth_result r = auth_verify(keys(), "us-east-1", req, NOW_S, msg, cap);
    ASSERT(r >= AUTH_OK && r <= AUTH_UNRECOGNIZED_CLIENT);
    ASSERT(memchr(msg, '\0', cap) != NULL);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool h2 = data[0] & 1;
    /* One NUL-terminated copy to cut into lines; the body gets its own exact copy. */
    char *text = sc_malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    struct http_header h[FUZZ_HEADERS_MAX];
    struct http_request req = {.method = "POST", .path = "/", .authority = "",
                               .headers = h, .http_version = h2 ? 20 : 11};
    char *p = text, *end = text + size - 1;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl != NULL) {
        *nl = '\0';
        req.path = p;
        p = nl + 1;
    }
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL && nl != p &&
           req.header_count < FUZZ_HEADERS_MAX) {
        *nl = '\0';
        char *colon = strchr(p, ':');
        if (colon != NULL && colon != p) {
            *colon = '\0';
            for (char *c = p; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            h[req.header_count++] = (struct http_header){p, colon + 1, strlen(p), strlen(colon + 1)};
            if (strcmp(p, "host") == 0)
                req.authority = colon + 1;
        }
        p = nl + 1;
    }
    if (p < end && *p == '\n')
        p++;
    size_t body_len = (size_t)(end - SC_MIN(p, end));
    uint8_t *body = sc_malloc(body_len + 2);
    memcpy(body, SC_MIN(p, end), body_len);
    body[body_len] = '\0';
    req.body = body;
    req.body_len = body_len;

    char msg[256];
    enum auth_result r = verify(&req, msg, sizeof(msg));
    ASSERT(verify(&req, msg, sizeof(msg)) == r); /* second time from the key cache */
    const char *sha = http_request_header(&req, "x-amz-content-sha256");
    if (r == AUTH_OK && (sha == NULL || strcmp(sha, "UNSIGNED-PAYLOAD") != 0)) {
        body[body_len] = 'x';
        body[body_len + 1] = '\0';
        req.body_len = body_len + 1;
        ASSERT(verify(&req, msg, sizeof(msg)) != AUTH_OK);
    }
    /* Shape-only mode, as without --credentials. */
    auth_configure(NULL, NULL);
    memset(msg, 'X', sizeof(msg));
    r = auth_check(&req, msg, sizeof(msg));
    ASSERT(r == AUTH_OK || r == AUTH_MISSING || r == AUTH_INCOMPLETE);
    ASSERT(memchr(msg, '\0', sizeof(msg)) != NULL || r == AUTH_OK);
    free(body);
    free(text);
    return 0;
}
