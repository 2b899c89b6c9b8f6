/* stats.h — process-wide counters for tests and operators, served as JSON on GET /stats.
 * Relaxed atomics: any thread. */
#ifndef SC_STATS_H
#define SC_STATS_H

#include <stdint.h>

struct evbuffer;

/* HTTP/2 DATA payload bytes moved to the socket buffer as whole chains (by reference) and bytes
 * evbuffer_remove_buffer had to copy because a frame ended inside a chain. */
void stats_h2_data(uint64_t ref_bytes, uint64_t copied_bytes);

/* Appends the JSON object: {"h2_data_ref_bytes":..,"h2_data_copied_bytes":..,"pipes_open":..,
 * "tail_frames_built":..,"tail_frames_handed":..,"tail_bytes_flattened":..,"catchup_frames":..,
 * "pulled_bytes":..,"pulled_chains":..,"tail_drops":..,"rate_waits":..,"leases":..,
 * "worker_connections":[..]} (the last one once stats_set_workers was called). */
void stats_json(struct evbuffer *out);

/* fn appends a JSON array of connections per worker (worker_stats_json); NULL removes it. */
void stats_set_workers(void (*fn)(struct evbuffer *out));

struct http_exchange;
/* Answers GET /stats: 200 application/json with stats_json(). The exchange's worker thread. */
void stats_handle(struct http_exchange *x);

#endif
