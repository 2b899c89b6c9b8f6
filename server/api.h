/* api.h — the Kinesis API layer: routes each request (AWS JSON 1.1 on POST /, GET /health) to
 * an operation and answers through http.h. Owns the mapping from enum kerr to AWS error types.
 *
 * api_init/api_shutdown run on the main thread before workers start / after they stopped.
 * api_worker_init/dispose run on each worker's thread at its start / end.
 * api_handle runs on the worker thread that owns the exchange. */
#ifndef SC_API_H
#define SC_API_H

struct config;
struct http_exchange;
struct worker;

/* Opens/creates the data dir and loads persisted metadata. 0 or -errno (logged). */
int api_init(const struct config *cfg);
void api_shutdown(void);

int api_worker_init(struct worker *w);
void api_worker_dispose(struct worker *w);

/* Every request the transports parse. Answers exactly once (http.h). */
void api_handle(struct http_exchange *x);

#endif
