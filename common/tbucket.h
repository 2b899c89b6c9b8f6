/* tbucket.h — token bucket with caller-supplied time (nghttp2 lib/nghttp2_ratelim.c), for the
 * per-shard write/read limits and the 2 MiB/s per-pipe push rate. Not thread-safe: the owner
 * serialises calls (a shard lock, or the one worker that owns a pipe). */
#ifndef SC_TBUCKET_H
#define SC_TBUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct tbucket {
    uint64_t rate_per_s; /* tokens added per second; 0 = unlimited */
    uint64_t burst;      /* most tokens held */
    int64_t tokens;      /* may go negative after tbucket_charge(): a debt */
    uint64_t stamp_ns; /* time of the last refill */
    uint64_t frac;     /* sub-token remainder (token * 1e9 units) carried between refills */
};

/* A full bucket. rate_per_s 0 makes every take succeed. */
void tbucket_init(struct tbucket *tb, uint64_t rate_per_s, uint64_t burst, uint64_t now_ns);
/* Take n tokens if all are there; returns whether it did. */
bool tbucket_take(struct tbucket *tb, uint64_t n, uint64_t now_ns);
/* Take up to n tokens, returns how many were taken (possibly 0). */
uint64_t tbucket_take_upto(struct tbucket *tb, uint64_t n, uint64_t now_ns);
/* Take n tokens even if that leaves a debt that later refills must pay back first. */
void tbucket_charge(struct tbucket *tb, uint64_t n, uint64_t now_ns);
/* Changes the most tokens held (a stream's write burst follows its maximum record size). A full
 * bucket stays full (an idle shard's, or one created a moment ago with the default burst); one
 * in use fills the new room at the rate; a lower burst caps what is held now. */
void tbucket_set_burst(struct tbucket *tb, uint64_t burst, uint64_t now_ns);
/* Tokens available now. */
uint64_t tbucket_available(struct tbucket *tb, uint64_t now_ns);
/* Nanoseconds until n tokens (capped at burst) are available; 0 if they are now. */
uint64_t tbucket_wait_ns(struct tbucket *tb, uint64_t n, uint64_t now_ns);

#endif
