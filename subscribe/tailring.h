/* tailring.h — the recent tail frames of one shard, shared by the hubs of every worker.
 *
 * Caught-up pipes are fed one frame per batch of new records. Each worker has its own hub for a
 * shard (pipe.c), but a batch's frame is built once for the whole server: the first hub to ask
 * for a position at or past the build cursor builds the frame (through the caller's build
 * function, under the ring's lock) and the ring keeps it; the other workers' hubs asking for the
 * same position take that frame by reference. Batch boundaries are thus the same on every
 * worker, and a frame is looked up by the position it starts at.
 *
 * Bounded: the newest TAILRING_FRAMES frames and, of those, no more than TAILRING_BYTES (the
 * newest is always kept). A hub whose position is not a kept boundary (it fell behind, or a pipe
 * joined it mid-batch) is told the next boundary and reads up to it for itself.
 *
 * Threads: every call from any thread. One mutex per ring, held while a frame is built; one
 * process-wide mutex around the registry (taken when a hub is created or freed). */
#ifndef SC_TAILRING_H
#define SC_TAILRING_H

#include <stdint.h>

#include "shards/seqnum.h"

#define TAILRING_FRAMES 16u
#define TAILRING_BYTES (4u << 20)

struct evframe;
struct tailring;

struct tailframe {
    struct evframe *f;       /* a reference, dropped by whoever holds the tailframe */
    uint64_t from, to;       /* the batch's positions [from, to) */
    uint64_t data_bytes;     /* decoded record data in it (rate accounting) */
    int64_t last_arrival_ms; /* the last record's arrival */
    char seq[SEQNUM_BUF];    /* the last record's sequence number (the continuation) */
};

/* Builds the frame of the batch that starts at `from` into *out (out->from = from). Returns 1
 * when built, 0 when the log has no record at or after `from` yet, or < 0 (-EAGAIN: `from` is
 * no longer in the log's memory tail). Runs under the ring's lock: no call back into the ring. */
typedef int (*tailring_build_fn)(void *arg, uint64_t from, struct tailframe *out);

/* The ring of the shard whose log is `key` (created on first use), with a reference. */
struct tailring *tailring_get(const void *key);
/* Drops a reference; the last one frees the ring and its frame references. */
void tailring_put(struct tailring *r);

/* The frame of the batch starting at `from`:
 *   1        *out holds it (with a reference for the caller);
 *   0        nothing to send yet (from build);
 *   -ENOENT  `from` is inside a batch already built, or older than the kept frames: read
 *            [from, *bound) for yourself, then ask again at the batch boundary *bound;
 *   other    < 0 from build (-EAGAIN: read from disk). */
int tailring_take(struct tailring *r, uint64_t from, tailring_build_fn build, void *arg,
                  struct tailframe *out, uint64_t *bound);

#endif
