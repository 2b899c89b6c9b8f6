/* evframe.h — SubscribeToShardEvent messages built around stored records without copying them
 * (architecture.md §4, kinesis-protocol.md §6.2–6.5).
 *
 * shards/ stores each record once as its JSON wire form inside a refcounted block, together with
 * the CRC32 of exactly those bytes. An event message is
 *     prelude | 3 string headers | {"ContinuationSequenceNumber":"..","MillisBehindLatest":n,
 *     "Records":[ rec , rec , ... ] [,"ChildShards":[..]] } | message CRC
 * Only the small parts around the records are written; record bytes are referenced, and the
 * message CRC is combined from the stored per-record CRCs (crc32_concat), so building an
 * event never reads a record byte.
 *
 * Two ways to use it:
 *  - evframe_add_event(): one consumer (catch-up pipe) — appends straight to its evbuffer.
 *  - struct evframe: built once per append batch, then evframe_append() to every caught-up pipe;
 *    per pipe that costs O(parts) evbuffer_add_reference calls and one atomic add, no bytes.
 * Frames are immutable once built: any thread may append or drop them (atomic counts).
 *
 * CBOR subscribers (application/x-amz-cbor-1.1 requests) need the same events with CBOR payloads:
 * evframe_to_cbor() transcodes a built event into a new flat message, a copy per frame: records
 * are stored as JSON, and CBOR's lengths come before the bytes, so no part can be referenced. */
#ifndef SC_EVFRAME_H
#define SC_EVFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subscribe/eventstream.h"

struct evbuffer;
struct iovec;
struct refbuf;

/* One stored record: its wire-form JSON object, the CRC32 of exactly ptr[0..len), and the
 * block that keeps ptr alive (a reference is taken for as long as the bytes are queued). */
struct evframe_record {
    const uint8_t *ptr;
    size_t len; /* > 0 */
    uint32_t wire_crc;
    struct refbuf *owner;
};

/* One SubscribeToShardEvent. */
struct evframe_event {
    const struct evframe_record *records; /* may be NULL when n_records is 0 (heartbeat) */
    size_t n_records;
    /* Decimal digits (<= 128), or NULL to omit the member: only in the final event of a closed
     * shard, together with child_shards_json. */
    const char *continuation_seq;
    uint64_t millis_behind;
    /* NULL, or the JSON array text of ChildShards placed verbatim (server-made, not checked). */
    const char *child_shards_json;
    /* Records of a KMS-encrypted stream: each record's closing brace becomes
     * `,"EncryptionType":"KMS"}` (as GetRecords answers), still without reading the record: its
     * CRC loses the brace by crc32_unappend. Stored records end with '}'. */
    bool kms;
};

/* Longest continuation sequence accepted (ours are 56 digits). */
#define EVFRAME_SEQ_MAX 128u

/* Exact length of the event's message, or 0 when it would exceed EVENTSTREAM_MAX_LEN — lets a
 * pipe pack records under the 16 MiB ceiling (each record adds len + 1 for the comma, and 23
 * more with kms). */
size_t evframe_event_len(const struct evframe_event *ev);

/* Appends the event's message to `out`: prelude, headers, payload prefix and suffix and the CRC
 * are copied; each record is added with evbuffer_add_reference holding a reference on its owner
 * (dropped by refbuf_evbuffer_cleanup when libevent frees the chain). *total_len (may be NULL)
 * gets the message length. Returns 0, EVENTSTREAM_ERR_TOO_LONG (nothing appended), or -ENOMEM
 * when libevent failed (out may hold part of a message: the pipe must be torn down).
 * Thread: the caller owns `out`. */
int evframe_add_event(struct evbuffer *out, const struct evframe_event *ev, size_t *total_len);

/* ---- shared frames ------------------------------------------------------------------------ */

struct evframe; /* opaque, refcounted, immutable */

/* Builds a shared frame for `ev` into *out (one reference, owned by the caller); the frame holds
 * references on the records' owners until it dies. Returns 0 or EVENTSTREAM_ERR_TOO_LONG.
 * Heartbeat: n_records 0. */
int evframe_create_event(const struct evframe_event *ev, struct evframe **out);

/* Wraps a whole encoded message (from eventstream_encode*) as a frame; takes its own reference
 * on msg (the caller keeps and drops its own). Never fails. */
struct evframe *evframe_create_message(struct refbuf *msg);

/* The initial-response event (payload {} / CBOR A0) as a frame. Never fails. */
struct evframe *evframe_create_initial_response(enum eventstream_codec codec);

/* A mid-stream exception message (§6.2 item 4) as a frame, e.g. type "ResourceInUseException".
 * Returns 0 or an eventstream_encode_exception() error. */
int evframe_create_exception(const char *exception_type, enum eventstream_codec codec,
                             const char *message, struct evframe **out);

/* The CBOR twin of a SubscribeToShardEvent frame from evframe_create_event(): the same headers
 * but :content-type application/x-amz-cbor-1.1, the payload through awscbor_from_json (Data as
 * byte strings, ApproximateArrivalTimestamp as tag 1 + millis). A new flat frame into *out (one
 * reference, the caller's); f is untouched. Returns 0, an AWSCBOR_ERR_* (a stored record that
 * is not JSON), or EVENTSTREAM_ERR_TOO_LONG. */
int evframe_to_cbor(const struct evframe *f, struct evframe **out);
/* The same twin, built once per frame and cached in it (the first caller builds it under a
 * lock that callers asking for the same frame meanwhile wait on; later ones take it without a
 * lock): every CBOR pipe of every worker handed a shared tail frame takes this one. *out gets a
 * reference. Returns 1 when this call transcoded, 0 when the twin was there, or
 * evframe_to_cbor()'s error. The twin lives as long as f, so holding f holds both. */
int evframe_cbor_twin(struct evframe *f, struct evframe **out);

void evframe_incref(struct evframe *f);
/* Drops one reference; the last one releases the record owners and frees the frame. NULL ok. */
void evframe_decref(struct evframe *f);

/* Appends the whole frame to `out` by reference only; no byte is copied. The frame stays alive
 * until libevent frees the last chain. Cost: one evbuffer_add_reference per part, and libevent
 * 2.1 allocates a ~1 KiB chain for each, so a frame of many small records costs a pipe more
 * memory than its bytes: tail pipes should rather queue {frame, offset} and use evframe_peek()
 * (subscribe/README.md). Returns 0 or -ENOMEM when libevent refuses a chain (allocation failure
 * or a frozen buffer; out may then hold part of the message: tear the pipe down). Thread: the
 * caller owns `out`; the frame may be shared. */
int evframe_append(struct evframe *f, struct evbuffer *out);

size_t evframe_len(const struct evframe *f);
uint32_t evframe_crc(const struct evframe *f); /* the message CRC (last 4 bytes) */
/* Number of evbuffer chains evframe_append() adds (records, separators, small parts). */
size_t evframe_parts(const struct evframe *f);

/* Zero-copy view for writers that keep a per-pipe {frame, offset} cursor (nghttp2 NO_COPY +
 * writev): fills up to max_iov iovecs with the message bytes from `offset` (<= evframe_len()),
 * at most max_bytes in all; returns how many were filled, 0 at the end. The iovecs point into
 * the frame and the record blocks: valid while the caller holds a frame reference; never write
 * through them. O(log parts + filled). */
size_t evframe_peek(const struct evframe *f, size_t offset, size_t max_bytes, struct iovec *iov,
                    size_t max_iov);

/* Copies message bytes [offset, offset + len) to dst (asserted in range): for writers that must
 * copy anyway (TLS records, nghttp2 without NO_COPY). */
void evframe_copyout(const struct evframe *f, size_t offset, void *dst, size_t len);

/* Copies the whole message into dst (evframe_len() bytes). For tests, dumps and diagnostics. */
void evframe_flatten(const struct evframe *f, uint8_t *dst);

/* Test walker: flattens, recomputes both CRCs the slow way and parses the message. Returns 0 or
 * the EVENTSTREAM_ERR_* it found (a record whose wire_crc lied shows as _MESSAGE_CRC). */
int evframe_check(const struct evframe *f);

#endif
