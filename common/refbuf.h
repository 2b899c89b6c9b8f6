/* refbuf.h — refcounted byte blocks: the unit that is shared, never copied, between the log,
 * readers and every subscriber pipe (architecture.md §4).
 *
 * A refbuf is created with one reference owned by the creator. Each holder takes its own with
 * refbuf_incref() and drops it with refbuf_decref(); the last decref frees it. The bytes are
 * immutable once published to a second holder. Reference counting is atomic: any thread. */
#ifndef SC_REFBUF_H
#define SC_REFBUF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct refbuf {
    atomic_uint refs;
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated in data[] */
    uint8_t data[];
};

/* A block of `cap` bytes, len 0, refs 1. Never returns NULL (aborts on OOM). */
struct refbuf *refbuf_create(size_t cap);
/* A block holding a copy of `len` bytes. */
struct refbuf *refbuf_from(const void *bytes, size_t len);
void refbuf_incref(struct refbuf *b);
void refbuf_decref(struct refbuf *b);
/* Append into spare capacity; asserts it fits. Only while the creator is the sole holder. */
void refbuf_append(struct refbuf *b, const void *bytes, size_t len);

/* Cleanup callback with libevent's evbuffer_ref_cleanup_cb signature, so a holder can hand
 * bytes inside `arg` (a struct refbuf * with one reference taken for it) to
 * evbuffer_add_reference() and have that reference dropped when the socket is done with them. */
void refbuf_evbuffer_cleanup(const void *data, size_t len, void *arg);

#endif
