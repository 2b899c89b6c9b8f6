/* tls.h — OpenSSL 3 server context with ALPN (h2 preferred, then http/1.1). */
#ifndef SC_TLS_H
#define SC_TLS_H

#include <stdbool.h>

struct ssl_ctx_st;
struct ssl_st;

/* Loads cert chain and key (PEM). Returns the context or NULL (reason logged). Main thread. */
struct ssl_ctx_st *tls_ctx_create(const char *cert_path, const char *key_path);
void tls_ctx_destroy(struct ssl_ctx_st *ctx);

/* After the handshake: did ALPN pick h2? (No ALPN means HTTP/1.1.) */
bool tls_alpn_is_h2(struct ssl_st *ssl);

#endif
