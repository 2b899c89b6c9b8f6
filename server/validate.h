/* validate.h — model validation of JSON request members, producing AWS's (Coral/kinesalite)
 * messages, reusable by every operation.
 *
 * Usage: validate_init(), then one call per member in the model's member order (messages are
 * listed in call order), then validate_finish(). Wrong JSON types are SerializationException
 * and win over constraint violations (kinesalite checks types first). Each member reports at
 * most one constraint violation (the first of: null, range, length, enum, pattern).
 *   "1 validation error detected: Value 'x!' at 'streamName' failed to satisfy constraint:
 *    Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
 * `path` is the lowerCamel member path used in messages ("records.1.member.partitionKey").
 *
 * Thread rule: a struct validate is used by one thread. jansson values are borrowed. */
#ifndef SC_VALIDATE_H
#define SC_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VALIDATE_NAME_PATTERN "[a-zA-Z0-9_.-]+"

struct validate {
    int nerr;
    bool serialization;
    char ser_msg[256];
    char msg[4096];
    size_t len;
};

void validate_init(struct validate *v);

/* Records a constraint violation for `path`; `shown` is the value text (NULL prints "null",
 * otherwise wrapped in quotes). Exposed for operation-specific rules. */
void validate_fail(struct validate *v, const char *shown, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* String member `name` of obj. Length counted in characters (UTF-8 code points); `pattern`
 * NULL or VALIDATE_NAME_PATTERN (the only pattern the model uses for names). Returns the
 * borrowed string or NULL when absent/invalid. */
const char *validate_string(struct validate *v, json_t *obj, const char *name, const char *path,
                            bool required, size_t min_len, size_t max_len, const char *pattern);

/* Integer member. Returns true and sets *out if present and valid. A float with an integral
 * value is accepted (JavaScript numbers); other floats -> SerializationException. */
bool validate_int(struct validate *v, json_t *obj, const char *name, const char *path,
                  bool required, int64_t min, int64_t max, int64_t *out);

bool validate_bool(struct validate *v, json_t *obj, const char *name, bool *out);

/* Enum member: returns the index in `values` (n entries), or -1 when absent/invalid. */
int validate_enum(struct validate *v, json_t *obj, const char *name, const char *path,
                  bool required, const char *const *values, size_t n);

/* Timestamp member (epoch seconds, integer or fraction). Sets *out_ms. */
bool validate_timestamp(struct validate *v, json_t *obj, const char *name, const char *path,
                        bool required, int64_t *out_ms);

/* Object / array members (type-checked, presence and size for arrays/maps). Borrowed. */
json_t *validate_object(struct validate *v, json_t *obj, const char *name, const char *path,
                        bool required);
json_t *validate_array(struct validate *v, json_t *obj, const char *name, const char *path,
                       bool required, size_t min, size_t max);
/* Map (JSON object of string values) with a number of entries in [min, max]. */
json_t *validate_map(struct validate *v, json_t *obj, const char *name, const char *path,
                     bool required, size_t min, size_t max);

/* Length of a UTF-8 string as the model's constraints count it: UTF-16 code units (Java's
 * String.length(); an emoji counts two). */
size_t validate_len(const char *s);

/* 0 when no error, else KERR_SERIALIZATION or KERR_VALIDATION with *msg pointing into v. */
int validate_finish(struct validate *v, const char **msg);

#endif
