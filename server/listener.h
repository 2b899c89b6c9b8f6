/* listener.h — listening sockets (SO_REUSEPORT, one per worker per address) and accept. */
#ifndef SC_LISTENER_H
#define SC_LISTENER_H

#include <stdint.h>

struct worker;
struct ssl_ctx_st;

/* Creates a nonblocking listening socket on host:port with SO_REUSEADDR and SO_REUSEPORT.
 * Returns the fd and stores the actually bound port in *bound_port, or -errno (logged).
 * Any thread. */
int listener_bind(const char *host, uint16_t port, uint16_t *bound_port);

struct listener;

/* Accepts on `fd` (owned from now on) into connections of worker w; tls != NULL makes them TLS.
 * Call on the main thread before the worker starts, or on w's thread. */
struct listener *listener_create(struct worker *w, int fd, struct ssl_ctx_st *tls);

/* Stops accepting and closes the socket. w's thread (or after the worker stopped). */
void listener_destroy(struct listener *l);

#endif
