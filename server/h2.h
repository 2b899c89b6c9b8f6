/* h2.h — HTTP/2 (prior-knowledge h2c and TLS h2) on nghttp2 1.52. Thread rule: owning worker. */
#ifndef SC_H2_H
#define SC_H2_H

struct conn;

#define H2_MAX_CONCURRENT_STREAMS 1024u
#define H2_STREAM_WINDOW (1u << 20)
#define H2_CONN_WINDOW (4u << 20)

/* Creates the session, sends SETTINGS, and consumes what is already in the input. */
void h2_conn_start(struct conn *c);
void h2_conn_on_read(struct conn *c);
void h2_conn_on_write(struct conn *c);
/* GOAWAY, finish open streams; the connection closes when its streams are done. */
void h2_conn_drain(struct conn *c);
void h2_conn_abort(struct conn *c, int err); /* detach every exchange; in conn_close */
void h2_conn_free(struct conn *c);           /* end of loop turn */

#endif
