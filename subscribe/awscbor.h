/* awscbor.h — the CBOR variant of the AWS JSON 1.1 protocol, `application/x-amz-cbor-1.1`
 * (kinesis-protocol.md §1.5; RFC 8949), as a transcoder to and from the JSON text the rest of
 * shardcast speaks. Requests become JSON before any handler sees them; response bodies and
 * SubscribeToShard event payloads become CBOR on their way out. So stored records, handlers and
 * model validation stay one code path, and CBOR costs a pass over each body (never the JSON
 * clients: they do not come here).
 *
 * The conventions of the model's CBOR (Java SDK v1 and v2, the only clients that send it):
 *  - blobs are byte strings; the JSON side carries them as base64 text. Kinesis has one blob
 *    member, `Data`.
 *  - timestamps are epoch MILLISECONDS: Java writes tag 1 + an integer (C1 1B 0000018BCFE5687B =
 *    1700000000123 ms), although RFC 8949 §3.4.2 says tag 1 counts seconds, and Java v2 reads
 *    payload timestamps as integer millis (UNIX_TIMESTAMP_MILLIS). The JSON side carries epoch
 *    seconds with up to 3 decimals (1700000000.123). Every Kinesis timestamp member's name ends in
 *    `Timestamp` (ApproximateArrivalTimestamp, StreamCreationTimestamp, ConsumerCreationTimestamp,
 *    Timestamp); no member is a float.
 * Pure functions over the caller's buffers; any thread. */
#ifndef SC_AWSCBOR_H
#define SC_AWSCBOR_H

#include <stddef.h>
#include <stdint.h>

/* Containers and tags nested deeper than this are refused (Kinesis shapes nest 4 deep). */
#define AWSCBOR_DEPTH_MAX 32

/* Failures. Below KERR_MIN and beside eventstream's -42xx; server/ answers a request's as
 * SerializationException. */
enum awscbor_err {
    AWSCBOR_ERR_TRUNCATED = -4220, /* the input ends inside an item */
    AWSCBOR_ERR_MALFORMED = -4221, /* reserved additional info, a stray break, a bad chunk */
    AWSCBOR_ERR_DEPTH = -4222,     /* nested deeper than AWSCBOR_DEPTH_MAX */
    AWSCBOR_ERR_KEY = -4223,       /* a map key that is not a text string */
    AWSCBOR_ERR_TRAILING = -4224,  /* bytes after the one top-level item */
    AWSCBOR_ERR_UTF8 = -4225,      /* a text string (chunk) that is not UTF-8 */
    AWSCBOR_ERR_VALUE = -4226,     /* no JSON form: NaN, infinity, a simple value, a huge time */
    AWSCBOR_ERR_TOO_LONG = -4227,  /* the output would pass its bound (see below) */
    AWSCBOR_ERR_JSON = -4228,      /* awscbor_from_json: the input is not JSON text */
};

/* A stable name for an AWSCBOR_ERR_* code ("truncated", ...; "unknown" otherwise). */
const char *awscbor_strerror(int err);

/* One CBOR item in[0..len) (a request body) -> JSON text.
 *  - maps and arrays of definite or indefinite length (Jackson writes 0xBF .. 0xFF); keys must
 *    be text strings; text strings definite or chunked (each chunk UTF-8, RFC 8949 §3.2.3)
 *    -> JSON strings (quote, backslash and controls escaped);
 *  - byte strings (chunked too) -> base64 strings with padding (the JSON path's `Data`);
 *  - integers of every width, negative ones down to -2^64 -> JSON integers; float16/32/64 ->
 *    the shortest decimal that reads back the same; false/true/null (undefined -> null);
 *  - a number under tag 1, or the value of a member whose name ends in "Timestamp", is epoch
 *    milliseconds (the SDKs' convention above, also for a float, rounded to whole millis) ->
 *    epoch seconds "S" or "S.mmm"; every other tag is skipped and its value kept.
 * Declared lengths and counts are checked against the bytes left before anything is read or
 * written; the JSON is at most 8 * len + 64 bytes (worst cases: `false` in an array, 6 bytes per
 * input byte; a negative subnormal float16, 23 per 3), else AWSCBOR_ERR_TOO_LONG.
 * Returns 0 with *out (malloc'd, NUL-terminated, the caller frees) and *out_len; or an
 * AWSCBOR_ERR_* with *err_offset (may be NULL) = the input offset where decoding stopped. */
int awscbor_to_json(const uint8_t *in, size_t len, char **out, size_t *out_len, size_t *err_offset);

/* JSON text in[0..len) (a response body or an event payload the server made) -> one CBOR item
 * with definite lengths throughout:
 *  - the string value of a member named "Data" -> a byte string of its base64 decoding (kept
 *    as text when it is not base64);
 *  - a number that is the value of a member whose name ends in "Timestamp" (epoch seconds) ->
 *    tag 1 + integer epoch milliseconds, exact for up to 3 decimals;
 *  - other integers -> CBOR integers (float64 past 64 bits); other numbers -> float64; strings
 *    -> text (escapes decoded; UTF-8 is not re-checked: our JSON comes from validated input);
 *    true/false/null; arrays; objects -> maps (keys in their order).
 * Nesting deeper than AWSCBOR_DEPTH_MAX -> AWSCBOR_ERR_DEPTH; the CBOR is at most
 * 4 * len + 64 bytes (a one-digit timestamp: 4 bytes) else AWSCBOR_ERR_TOO_LONG.
 * Returns 0 with *out (malloc'd, the caller frees; NULL when *out_len is 0, never for valid
 * input) and *out_len, or AWSCBOR_ERR_JSON / _DEPTH / _TOO_LONG. */
int awscbor_from_json(const char *in, size_t len, uint8_t **out, size_t *out_len);

#endif
