/* run.h — the state of one load-test run, shared by the producer, the classic pollers, the
 * enhanced consumers and the report. Everything runs on one event_base thread.
 *
 * Timeline: setup (stream, shards, consumers; blocking calls) -> consumers positioned at LATEST
 * -> producer starts -> warm-up (records sent then are delivered but not measured) ->
 * measurement for --duration -> producer stops -> drain until every acknowledged record reached
 * every consumer or --drain-ms passed -> report. A hard deadline stops the loop in any case. */
#ifndef LT_RUN_H
#define LT_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include <event2/buffer.h>

#include "hclient.h"
#include "hist.h"
#include "kapi.h"
#include "subscribe/eventstream.h"

enum lt_mode { LT_MODE_CLASSIC = 1, LT_MODE_EFO = 2, LT_MODE_BOTH = 3 };
enum lt_path { LT_PATH_CLASSIC, LT_PATH_EFO, LT_PATH_N };

/* Exit codes: the CLI contract of shardcast-loadtest. */
enum lt_exit { LT_EXIT_OK = 0, LT_EXIT_FAILED = 1, LT_EXIT_USAGE = 2, LT_EXIT_UNREACHABLE = 3 };

/* Payload layout inside each record's Data: magic, send time (CLOCK_REALTIME ns, compared
 * with the receiver's wall clock), record id, then padding up to --record-size. */
#define LT_MAGIC "SCLT"
#define LT_PAYLOAD_MIN 20
/* A record's data + partition key (the id, at most 20 digits) within Kinesis's 10 MiB; past
 * 1 MiB the stream must allow large records (created so when this run creates it). */
#define LT_KEY_MAX 20
#define LT_PAYLOAD_MAX ((10 << 20) - LT_KEY_MAX)
/* The per-second timeline covers at most this many seconds of the measured window. */
#define LT_TIMELINE_MAX_S 600

struct lt_config {
    const char *endpoint;
    const char *stream;
    const char *out_dir;
    const char *consumer_prefix;
    int shards;
    int consumers; /* enhanced */
    int pollers;   /* classic */
    int poll_interval_ms;
    double rate; /* records/s */
    int tick_ms; /* producer pacing period */
    int record_size;
    double duration_s;
    double warmup_s;
    int drain_ms;
    int timeout_ms; /* per request */
    enum lt_mode mode;
    bool h1;
    bool insecure;
    bool stress;
    bool cbor; /* SubscribeToShard in application/x-amz-cbor-1.1, as the Java SDKs and KCL */
    bool quiet;
    bool cleanup; /* delete what this run created (stream, consumers) at the end */
};

/* One logical consumer: a classic poller or an enhanced (registered) consumer, each reading
 * every shard through one connection. */
struct lt_consumer;
struct efo_conns;
struct lt_pipe {
    struct lt_consumer *c;
    int shard;
    bool in_flight;
    bool ended;
    uint64_t next_ns; /* monotonic time of the next poll / resubscribe */
    uint64_t records; /* measured records delivered first time through this pipe */
    uint64_t bytes;   /* their decoded Data bytes */
    /* classic */
    char *iterator;
    /* enhanced */
    bool live; /* initial-response seen */
    bool sub_open;
    int subscribes;
    char continuation[160];
    struct evbuffer *es; /* error body of a refused subscription */
    struct eventstream_decoder dec;
    int http_status;
};

struct lt_consumer {
    struct run *run;
    enum lt_path path;
    int idx;
    char name[128];
    char arn[1024];
    bool created;                /* registered by this run (not reused): --cleanup deregisters it */
    struct hconn *conn;          /* classic: one connection for every shard */
    struct efo_conns *efo_conns; /* enhanced: subscriptions spread over several */
    int reconnects;
    struct lt_pipe *pipes; /* one per shard */
    uint8_t *seen;         /* bitmap over record ids */
    uint64_t received;     /* measured records, first delivery */
    uint64_t duplicates;
    uint64_t bytes;
    struct hist hist; /* send -> delivery */
    /* The same delay split at the record's ApproximateArrivalTimestamp (the server's clock,
     * millisecond resolution; meaningful when server and load generator share a clock): before
     * it is the ingest (PutRecords), after it the read path. Records whose arrival could not be
     * read are in neither. */
    struct hist leg_in, leg_out;
};

struct lt_pathstats {
    uint64_t calls;
    uint64_t throttled;
    uint64_t errors;
    int64_t millis_behind_last;
    int64_t millis_behind_max;
};

struct run {
    struct lt_config cfg;
    struct event_base *base;
    struct endpoint ep;
    struct kapi api;
    struct hconn *ctl; /* setup / control plane connection */
    char stream_arn[1024];
    char **shard_ids;
    int n_shards;
    bool created_stream;

    uint64_t t0_mono_ns;      /* producer start */
    int64_t measure_start_ns; /* wall clock: records sent at/after this are measured */
    uint64_t measure_mono_ns;
    uint64_t produce_end_mono_ns;
    uint64_t deadline_mono_ns;
    uint64_t drain_start_mono_ns; /* producer stopped and its last call answered */
    uint64_t ended_mono_ns;       /* the loop stopped (end of drain, failure or deadline) */
    bool producing;
    bool draining;
    bool stopped;
    int exit_code;
    char failure[256]; /* first fatal condition, reported */

    /* producer */
    struct hconn *pconn;
    struct event *ptimer;
    uint64_t next_id;
    uint64_t id_cap; /* bitmap capacity */
    uint8_t *acked;  /* ids acknowledged by PutRecords */
    uint64_t first_measured_id;
    bool have_first_measured;
    uint64_t sent, acked_n, put_failed, put_throttled, put_calls, put_errors, in_flight;
    uint64_t measured_acked;
    uint64_t produced_bytes;
    uint64_t behind;      /* records the producer could not send on time */
    struct hist put_hist; /* successful PutRecords calls, send to answer (µs): a slow ingest
                             shows here, not only in the delivery delay */
    uint8_t *payload;     /* one record's Data, header rewritten per record */
    char *b64;            /* its base64, NUL-terminated */
    size_t b64_len;
    char *stream_json; /* the stream name as a JSON string, quoted and escaped */

    /* --cleanup outcome */
    bool cleanup_ran;
    bool cleanup_stream_deleted;
    int cleanup_consumers_created, cleanup_consumers_deleted;
    char cleanup_left[512]; /* what is left behind and why ("" when nothing) */

    /* Delay by second of the measured window (by send time), per path: a tail made of a few
     * bad seconds (the box stalled) reads differently from one spread over the whole run. */
    struct hist *timeline[LT_PATH_N];
    int timeline_n;

    struct lt_consumer *consumers; /* pollers then enhanced consumers */
    int n_consumers;
    struct lt_pathstats stats[LT_PATH_N];
    struct event *tick;
};

/* Runs setup and the timeline on r->base (r->cfg, r->ep, r->base set by the caller).
 * Returns 0 when the run completed (the report decides the exit code) or an lt_exit code. */
int run_execute(struct run *r);
/* Stops the timeline tick and closes every consumer connection (open subscriptions end); the
 * per-pipe counters stay for the report. Idempotent. */
void run_disconnect(struct run *r);
/* --cleanup: DeleteStream (EnforceConsumerDeletion) when this run created the stream, else
 * DeregisterStreamConsumer for every consumer it registered. Blocking, bounded by timeout_ms
 * per call; records the outcome in r->cleanup_*. Call after run_disconnect. */
void run_cleanup(struct run *r);
void run_dispose(struct run *r);

/* Sets *r->failure (first one wins), sets the exit code and stops the run at the next tick. */
void run_fail(struct run *r, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Called by pipes for every received record's decoded payload; measures and marks delivery.
 * stored_ms is the record's ApproximateArrivalTimestamp in ms (-1 when unknown); now_ns the
 * wall-clock time of reception. Returns true for a measured record's first delivery to c
 * (false: warm-up, duplicate, or not ours). */
bool run_on_record(struct lt_consumer *c, const uint8_t *data, size_t len, int64_t stored_ms,
                   int64_t now_ns);
/* Decodes a base64 Data field's first bytes (b64_len: the whole field's length) and passes
 * them to run_on_record; same return. */
bool run_on_record_b64(struct lt_consumer *c, const char *b64, size_t b64_len, int64_t stored_ms,
                       int64_t now_ns);
int64_t run_wall_ns(void);
bool run_bit(const uint8_t *bm, uint64_t id);
/* Records still expected by consumer c: acknowledged, measured, not yet seen. */
uint64_t run_missing(const struct run *r, const struct lt_consumer *c);

/* producer.c */
int producer_start(struct run *r);
void producer_stop(struct run *r);

/* poller.c: GetShardIterator(LATEST) for every shard, then GetRecords every poll interval.
 * poller_start returns 0 once every iterator is obtained, <0 on failure. */
int poller_start(struct lt_consumer *c);
void poller_tick(struct lt_consumer *c);
void poller_stop(struct lt_consumer *c);

/* efo.c: RegisterStreamConsumer (an existing one is reused), wait ACTIVE, SubscribeToShard per
 * shard, resubscribe with AFTER_SEQUENCE_NUMBER when a subscription ends. */
int efo_register(struct lt_consumer *c);
/* Waits (bounded) until the registered consumer is ACTIVE, then opens its connections. */
int efo_await(struct lt_consumer *c);
int efo_start(struct lt_consumer *c);
void efo_tick(struct lt_consumer *c);
void efo_stop(struct lt_consumer *c);
/* Number of subscriptions that received their initial-response. */
int efo_live(const struct lt_consumer *c);
/* One SubscribeToShardEvent JSON payload (json, len; not NUL-terminated): every Data goes to
 * run_on_record_b64; the pipe's records/bytes, continuation, ended flag and the path's
 * MillisBehindLatest are updated. Exposed for tests/loadtest/efo_scan_test.c. */
void efo_scan_event(struct lt_pipe *p, const char *json, size_t len, int64_t now_wall);
/* Closes the consumer's connections (its subscriptions end); pipes stay for the report. */
void efo_disconnect(struct lt_consumer *c);

/* report.c */
void report_progress(const struct run *r);
int report_final(struct run *r);
/* One line on f saying what --cleanup deleted and what it left behind (nothing without
 * --cleanup: then it names what the run created and kept). */
void report_cleanup(const struct run *r, FILE *f);

#endif
