/* leases.h — one live SubscribeToShard pipe per consumer x shard (architecture.md §4, §6).
 *
 * A process-wide table guarded by one mutex (subscribe is a low-rate call; the table is touched
 * once at subscribe, once at pipe end and at deregister). An entry holds an opaque owner
 * pointer (the pipe) that the caller keeps alive while it is in the table; the table never calls
 * into owners, it hands them back to the caller (takeover, deregister), which ends them on their
 * own worker.
 *
 * Thread rule: any thread. */
#ifndef SC_LEASES_H
#define SC_LEASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* AWS: a consumer x shard may be subscribed at most once per 5 s; an older subscription is taken
 * over by a new one. */
#define LEASES_TAKEOVER_MS 5000
/* Bound on live leases (every table bounded): max consumers per stream x open shards, summed
 * over streams, stays far below this in practice; subscribes beyond it are refused. */
#define LEASES_MAX 65536

struct lease_key {
    const char *stream;          /* stream name */
    const char *consumer;        /* consumer name */
    int64_t consumer_created_ms; /* the registration (a re-registered name is another consumer) */
    uint32_t shard;
};

/* Makes `owner` the live subscription of `k`, started at now_ms (a monotonic clock:
 * clock_mono_ms, so a wall-clock step neither extends nor cuts the takeover wait).
 * Returns 0 (and *evicted = the previous owner, which started >= LEASES_TAKEOVER_MS ago, or
 * NULL); -EBUSY when the previous owner started less than LEASES_TAKEOVER_MS ago (nothing
 * changes); -ENOSPC when the table is full. The table keeps the key strings (copied). */
int leases_acquire(const struct lease_key *k, void *owner, int64_t now_ms, void **evicted);

/* Removes k's entry if `owner` still holds it; returns whether it did. */
bool leases_release(const struct lease_key *k, void *owner);

/* Removes every entry of consumer (stream, consumer) (any registration, any shard) and writes up
 * to max of their owners to out[]. Returns how many were written (entries beyond max stay). */
size_t leases_take_consumer(const char *stream, const char *consumer, void **out, size_t max);

/* Live entries (tests, stats). */
size_t leases_count(void);

#endif
