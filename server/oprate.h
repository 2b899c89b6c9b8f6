/* oprate.h — the control-plane call rates AWS documents per operation, enforced under
 * `--limits aws`: a one-second token bucket per operation for the account (CreateStream 5/s,
 * DescribeStream 10/s, ...) or per operation and stream (ListShards 1000/s, DescribeStreamConsumer
 * 20/s, ...). The table is in oprate.c, with where each number comes from.
 *
 * Any worker thread (one mutex; these are control-plane calls). Per-stream buckets live in a
 * fixed table: an entry idle for a second is as good as new (its bucket is full again), so it is
 * reused; when every slot of a name's probe run is busy the call is admitted (bounded memory over
 * exactness: that takes more than OPRATE_SLOTS streams called within one second). */
#ifndef SC_OPRATE_H
#define SC_OPRATE_H

#include <stdbool.h>
#include <stdint.h>

enum oprate_scope { OPRATE_NONE, OPRATE_ACCOUNT, OPRATE_STREAM };

/* Resets every bucket; `enforce` false admits everything. Call before the workers start. */
void oprate_init(bool enforce);
/* The scope of op's documented rate (OPRATE_NONE: not limited here). */
enum oprate_scope oprate_scope_of(const char *op);
/* Admits one call of op at now_ns. stream: the stream the call names (needed for per-stream
 * operations; NULL or an invalid name admits, the operation's validation answers it). */
bool oprate_admit(const char *op, const char *stream, uint64_t now_ns);

#endif
