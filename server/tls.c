/* tls.c — server SSL_CTX and ALPN selection. */
#include "server/tls.h"

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

#include "common/common.h"

static void log_ssl_error(const char *what, const char *path)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    LOG_ERROR("TLS: %s %s: %s", what, path, buf);
    ERR_clear_error();
}

static int on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    /* nghttp2_select_next_protocol prefers h2 and falls back to http/1.1. */
    if (nghttp2_select_next_protocol((unsigned char **)out, outlen, in, inlen) < 0)
        return SSL_TLSEXT_ERR_NOACK;
    return SSL_TLSEXT_ERR_OK;
}

struct ssl_ctx_st *tls_ctx_create(const char *cert_path, const char *key_path)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        log_ssl_error("cannot create context", "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        log_ssl_error("cannot load certificate", cert_path);
        goto fail_ctx;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        log_ssl_error("cannot load key", key_path);
        goto fail_ctx;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        log_ssl_error("key does not match certificate", key_path);
        goto fail_ctx;
    }
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, NULL);
    return ctx;
fail_ctx:
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_ctx_destroy(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

bool tls_alpn_is_h2(struct ssl_st *ssl)
{
    const unsigned char *p = NULL;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &p, &len);
    return len == 2 && memcmp(p, "h2", 2) == 0;
}
