/* hclient.h — a small HTTP client connection on libevent for POST / requests to one endpoint.
 *
 * HTTP/2 (nghttp2) is the default: h2c with prior knowledge for http://, TLS + ALPN "h2" for
 * https://, many concurrent requests per connection. HTTP/1.1 (--h1, or an emulator that speaks
 * nothing else) runs one request at a time per connection and queues the rest.
 *
 * Lifecycle: hconn_create -> hconn_request* -> hconn_destroy. When the connection fails (refused,
 * reset, timeout, GOAWAY) every pending request gets on_done with a negative errno and the
 * connection stays dead (hconn_is_dead); its owner destroys it later, never from inside one of
 * its callbacks. Single thread: the event_base's. */
#ifndef LT_HCLIENT_H
#define LT_HCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

struct endpoint {
    bool tls;
    bool h1;             /* speak HTTP/1.1 instead of HTTP/2 */
    bool insecure;       /* TLS: skip certificate verification */
    char host[256];      /* hostname for SNI */
    char authority[300]; /* host[:port] as written in the URL: Host / :authority */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    SSL_CTX *ssl_ctx; /* owned; NULL for http:// */
};

/* Parses http[s]://host[:port][/] and resolves it (blocking, at startup). Returns 0, -EINVAL
 * for a malformed URL, -EHOSTUNREACH when the name does not resolve. */
int endpoint_init(struct endpoint *ep, const char *url, bool h1, bool insecure);
void endpoint_dispose(struct endpoint *ep);

struct hconn;

/* on_data (may be NULL): response body bytes as they arrive, for streaming responses; when NULL
 * the body is accumulated (max 32 MiB) and handed to on_done. on_done: err 0 or -errno
 * (-ECONNREFUSED, -ETIMEDOUT, -ECONNRESET, -EMSGSIZE); status is the HTTP status or 0. */
struct hreq_cbs {
    void (*on_headers)(void *arg, int status);
    void (*on_data)(void *arg, const uint8_t *data, size_t len);
    void (*on_done)(void *arg, int err, int status, const uint8_t *body, size_t len);
    /* Optional: hconn_destroy calls it instead of on_done for requests still pending, so the
     * owner can release arg. */
    void (*on_cancel)(void *arg);
};

struct hheader {
    const char *name; /* lowercase */
    const char *value;
};

/* Creates a connection and starts connecting. timeout_ms bounds the connect and every
 * non-streaming request. Returns NULL only on socket/SSL allocation failure. */
struct hconn *hconn_create(struct event_base *base, const struct endpoint *ep, uint32_t timeout_ms);
/* Frees the connection; pending requests get only on_cancel (when set). */
void hconn_destroy(struct hconn *c);
bool hconn_is_dead(const struct hconn *c);
/* The error that killed the connection (negative errno), 0 while alive. */
int hconn_error(const struct hconn *c);
/* Requests in flight or queued. */
size_t hconn_pending(const struct hconn *c);

/* Submits POST / with the given headers (besides method/path/authority/content-length) and a
 * copy of body. streaming=true exempts the request from the timeout. Returns 0, -EPIPE when the
 * connection is dead, -ENOBUFS when too many requests are queued. Callbacks fire later, from
 * the loop. */
int hconn_request(struct hconn *c, const struct hheader *hdrs, size_t n_hdrs, const void *body,
                  size_t body_len, bool streaming, const struct hreq_cbs *cbs, void *arg);

#endif
