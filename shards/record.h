/* record.h — the stored wire form of one record: the exact JSON object both read paths emit
 * (GetRecords `Records[]` element and SubscribeToShardEvent `Records[]` element):
 *
 *   {"SequenceNumber":"<56 digits>","ApproximateArrivalTimestamp":1700000000.123,
 *    "Data":"<base64 as received>","PartitionKey":"<json-escaped>"}
 *
 * Key order is fixed as above (the order AWS itself emits), no spaces. The timestamp is epoch
 * seconds with exactly three decimals, never an exponent. Data is the request's base64 text copied
 * once — the caller has validated it — never decoded and re-encoded. PartitionKey is escaped as a
 * JSON string: `"` and `\` are backslashed, control characters use \b \f \n \r \t or \u00XX, every
 * other byte (UTF-8 included) passes through. This is a byte formatter, not a JSON library.
 * Pure functions, any thread. */
#ifndef SC_RECORD_H
#define SC_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* One record as handed to the log by the PutRecord/PutRecords path. The pointers are borrowed
 * for the duration of the shardlog_append() call only. */
struct record_in {
    const char *data_b64; /* validated base64 text from the request (may be empty) */
    size_t data_b64_len;
    const char *pkey; /* partition key, UTF-8, unescaped (1..256 chars, checked by caller) */
    size_t pkey_len;
};

/* The fixed part of the wire form besides Data, PartitionKey and the digits. */
#define RECORD_WIRE_FIXED                                                                          \
    (sizeof("{\"SequenceNumber\":\"\",\"ApproximateArrivalTimestamp\":,\"Data\":\"\","             \
            "\"PartitionKey\":\"\"}") -                                                            \
     1)
/* Upper bound of the timestamp text: up to 13 integer digits (beyond year 2286 is not ours), '.',
 * 3 decimals. */
#define RECORD_TS_MAX 17

/* A KMS stream's record on both read paths: the stored object without its closing brace, then
 * this (AWS adds the member for encrypted streams only). */
#define RECORD_KMS_END ",\"EncryptionType\":\"KMS\"}"
#define RECORD_KMS_END_LEN (sizeof(RECORD_KMS_END) - 1)


/* Bytes the escaped partition key occupies inside the quotes. */
size_t record_escaped_len(const char *s, size_t len);

/* An upper bound of record_format()'s output for r, for sizing buffers. */
size_t record_wire_max(const struct record_in *r);

/* Writes the wire form into out (at least record_wire_max(r) bytes) and returns its length.
 * seqnum: the 56 digits; arrival_ms >= 0. No NUL is written. */
size_t record_format(char *out, const char *seqnum, int64_t arrival_ms, const struct record_in *r);

/* Writes arrival_ms as "S.mmm" (no NUL), returns the length. */
size_t record_format_ts(char *out, int64_t arrival_ms);

#endif
