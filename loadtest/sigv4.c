/* sigv4.c — see sigv4.h. The canonical request layout follows kinesis-protocol.md §3 step 3. */
#include "sigv4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/common.h"

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t md[32];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    sc_hex_encode(md, 32, out);
}

static void hmac(const void *key, size_t key_len, const char *msg, uint8_t out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out, &n);
}

void sigv4_format_date(int64_t epoch_s, char out[17])
{
    time_t t = (time_t)epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int sigv4_authorization(const struct sigv4_creds *creds, const struct sigv4_request *req, char *out,
                        size_t out_len)
{
    char body_hash[65], canon_hash[65], date[9];
    char canon[2048], to_sign[512], sig[65];
    const char *signed_headers = creds->session_token
                                     ? "content-type;host;x-amz-date;x-amz-security-token;"
                                       "x-amz-target"
                                     : "content-type;host;x-amz-date;x-amz-target";
    memcpy(date, req->amz_date, 8);
    date[8] = '\0';
    sigv4_sha256_hex(req->body, req->body_len, body_hash);
    int n;
    if (creds->session_token)
        n = snprintf(canon, sizeof(canon),
                     "POST\n/\n\ncontent-type:%s\nhost:%s\nx-amz-date:%s\n"
                     "x-amz-security-token:%s\nx-amz-target:%s\n\n%s\n%s",
                     req->content_type, req->host, req->amz_date, creds->session_token, req->target,
                     signed_headers, body_hash);
    else
        n = snprintf(
            canon, sizeof(canon),
            "POST\n/\n\ncontent-type:%s\nhost:%s\nx-amz-date:%s\nx-amz-target:%s\n\n%s\n%s",
            req->content_type, req->host, req->amz_date, req->target, signed_headers, body_hash);
    if (n < 0 || (size_t)n >= sizeof(canon))
        return -ENOSPC;
    sigv4_sha256_hex(canon, (size_t)n, canon_hash);
    snprintf(to_sign, sizeof(to_sign), "AWS4-HMAC-SHA256\n%s\n%s/%s/kinesis/aws4_request\n%s",
             req->amz_date, date, creds->region, canon_hash);

    char ksecret[256];
    uint8_t k1[32], k2[32], k3[32], k4[32], s[32];
    n = snprintf(ksecret, sizeof(ksecret), "AWS4%s", creds->secret_key);
    if (n < 0 || (size_t)n >= sizeof(ksecret))
        return -ENOSPC;
    hmac(ksecret, (size_t)n, date, k1);
    hmac(k1, 32, creds->region, k2);
    hmac(k2, 32, "kinesis", k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, to_sign, s);
    sc_hex_encode(s, 32, sig);
    n = snprintf(out, out_len,
                 "AWS4-HMAC-SHA256 Credential=%s/%s/%s/kinesis/aws4_request, SignedHeaders=%s, "
                 "Signature=%s",
                 creds->access_key, date, creds->region, signed_headers, sig);
    if (n < 0 || (size_t)n >= out_len)
        return -ENOSPC;
    return n;
}

int sigv4_creds_from_env(struct sigv4_creds *creds)
{
    memset(creds, 0, sizeof(*creds));
    creds->access_key = getenv("AWS_ACCESS_KEY_ID");
    creds->secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    creds->session_token = getenv("AWS_SESSION_TOKEN");
    if (creds->session_token && !creds->session_token[0])
        creds->session_token = NULL;
    creds->region = getenv("AWS_REGION");
    if (!creds->region || !creds->region[0])
        creds->region = getenv("AWS_DEFAULT_REGION");
    if (!creds->region || !creds->region[0])
        creds->region = "us-east-1";
    if (!creds->access_key || !creds->access_key[0] || !creds->secret_key || !creds->secret_key[0])
        return -ENOENT;
    return 0;
}
