/* jkey.h — finds keys in JSON text without parsing it, for answers too frequent to parse whole
 * (SubscribeToShardEvent payloads, PutRecords answers). Inside a JSON string every quote is
 * escaped, so `"key"` followed by a colon only matches a real key. No state; any thread. */
#ifndef LT_JKEY_H
#define LT_JKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

const char *jkey_skip_ws(const char *p, const char *end);
/* The first byte of the value of `"key" : <value>` in [p, end), or NULL. */
const char *jkey_value(const char *p, const char *end, const char *key);
/* The raw content of a string value (between the quotes, escapes untouched) and *len, or NULL. */
const char *jkey_str(const char *p, const char *end, const char *key, size_t *len);
/* A non-negative integer value (at most 2^50) into *out; false when absent or not digits. */
bool jkey_uint(const char *p, const char *end, const char *key, uint64_t *out);
/* The number in `"key":<decimal seconds>,` ending right before p (nothing else in between:
 * the compact layout AWS and shardcast give a record, ApproximateArrivalTimestamp just before
 * "Data"), in milliseconds (fraction truncated to 3 digits). False when [lo, p) does not end
 * that way. Reads only backwards from p, so a caller already at a "Data" key pays no search. */
bool jkey_seconds_before(const char *lo, const char *p, const char *key, int64_t *ms);

#endif
