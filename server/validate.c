#include "server/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/errors.h"
#include "common/utf8.h"

#define SC_VALIDATE_CLAMP(x, hi) ((x) < (hi) ? (x) : (hi))
#define VALIDATE_SHOWN_MAX 512 /* bytes of a value quoted in a message */

void validate_init(struct validate *v)
{
    memset(v, 0, sizeof(*v));
}

static void ser_fail(struct validate *v, const char *msg)
{
    if (!v->serialization)
        snprintf(v->ser_msg, sizeof(v->ser_msg), "%s", msg);
    v->serialization = true;
}

void validate_fail(struct validate *v, const char *shown, const char *path, const char *fmt, ...)
{
    char c[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c, sizeof(c), fmt, ap);
    va_end(ap);
    size_t cap = sizeof(v->msg) - v->len;
    int n;
    /* A long value is shown cut (at a character), so the path and the constraint still fit in
     * the message (api_reply_error keeps 2 KiB of it). */
    size_t shown_len = shown ? strlen(shown) : 0;
    bool cut = shown_len > VALIDATE_SHOWN_MAX;
    if (cut)
        shown_len = utf8_cut_len(shown, VALIDATE_SHOWN_MAX);
    if (shown)
        n = snprintf(v->msg + v->len, cap,
                     "%sValue '%.*s%s' at '%s' failed to satisfy constraint: %s",
                     v->nerr ? "; " : "", (int)shown_len, shown, cut ? "..." : "", path, c);
    else
        n = snprintf(v->msg + v->len, cap, "%sValue null at '%s' failed to satisfy constraint: %s",
                     v->nerr ? "; " : "", path, c);
    if (n > 0)
        v->len = SC_VALIDATE_CLAMP(v->len + (size_t)n, sizeof(v->msg) - 1);
    v->nerr++;
}

/* Type mismatch -> SerializationException, worded like the Java (Jackson) deserializer. */
static bool type_ok(struct validate *v, json_t *val, json_type want)
{
    if (json_typeof(val) == want)
        return true;
    if (want == JSON_TRUE && json_is_boolean(val))
        return true;
    if (want == JSON_INTEGER && json_is_real(val)) {
        double d = json_real_value(val);
        if (d > -9.2e18 && d < 9.2e18 && (double)(int64_t)d == d)
            return true;
        ser_fail(v, "DECIMAL_VALUE can not be converted to an Integer");
        return false;
    }
    if (json_is_object(val)) {
        ser_fail(v, "Start of structure or map found where not expected.");
        return false;
    }
    if (json_is_array(val)) {
        ser_fail(v, "Start of list found where not expected");
        return false;
    }
    const char *got = json_is_string(val)    ? "STRING_VALUE"
                      : json_is_boolean(val) ? (json_is_true(val) ? "TRUE_VALUE" : "FALSE_VALUE")
                      : json_is_integer(val) ? "NUMBER_VALUE"
                                             : "DECIMAL_VALUE";
    const char *to = want == JSON_STRING    ? "a String"
                     : want == JSON_INTEGER ? "an Integer"
                     : want == JSON_TRUE    ? "a Boolean"
                     : want == JSON_REAL    ? "a Timestamp"
                     : want == JSON_ARRAY   ? "a List"
                                            : "a Structure";
    char m[128];
    snprintf(m, sizeof(m), "%s can not be converted to %s", got, to);
    ser_fail(v, m);
    return false;
}

/* Fetches member `name`; JSON null counts as absent (SDKs never send it; kinesalite agrees). */
static json_t *member(struct validate *v, json_t *obj, const char *name, const char *path,
                      bool required)
{
    json_t *val = obj ? json_object_get(obj, name) : NULL;
    if (val == NULL || json_is_null(val)) {
        if (required)
            validate_fail(v, NULL, path, "Member must not be null");
        return NULL;
    }
    return val;
}

size_t validate_len(const char *s)
{
    return utf8_utf16_len(s, strlen(s));
}

static bool name_pattern_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

const char *validate_string(struct validate *v, json_t *obj, const char *name, const char *path,
                            bool required, size_t min_len, size_t max_len, const char *pattern)
{
    json_t *val = member(v, obj, name, path, required);
    if (val == NULL || !type_ok(v, val, JSON_STRING))
        return NULL;
    const char *s = json_string_value(val);
    size_t n = validate_len(s);
    if (n < min_len) {
        validate_fail(v, s, path, "Member must have length greater than or equal to %zu", min_len);
        return NULL;
    }
    if (n > max_len) {
        validate_fail(v, s, path, "Member must have length less than or equal to %zu", max_len);
        return NULL;
    }
    if (pattern != NULL && !name_pattern_ok(s)) {
        validate_fail(v, s, path, "Member must satisfy regular expression pattern: %s", pattern);
        return NULL;
    }
    return s;
}

bool validate_int(struct validate *v, json_t *obj, const char *name, const char *path,
                  bool required, int64_t min, int64_t max, int64_t *out)
{
    json_t *val = member(v, obj, name, path, required);
    if (val == NULL || !type_ok(v, val, JSON_INTEGER))
        return false;
    int64_t x =
        json_is_integer(val) ? (int64_t)json_integer_value(val) : (int64_t)json_real_value(val);
    char shown[32];
    snprintf(shown, sizeof(shown), "%lld", (long long)x);
    if (x < min) {
        validate_fail(v, shown, path, "Member must have value greater than or equal to %lld",
                      (long long)min);
        return false;
    }
    if (x > max) {
        validate_fail(v, shown, path, "Member must have value less than or equal to %lld",
                      (long long)max);
        return false;
    }
    *out = x;
    return true;
}

bool validate_bool(struct validate *v, json_t *obj, const char *name, bool *out)
{
    json_t *val = member(v, obj, name, name, false);
    if (val == NULL || !type_ok(v, val, JSON_TRUE))
        return false;
    *out = json_is_true(val);
    return true;
}

int validate_enum(struct validate *v, json_t *obj, const char *name, const char *path,
                  bool required, const char *const *values, size_t n)
{
    json_t *val = member(v, obj, name, path, required);
    if (val == NULL || !type_ok(v, val, JSON_STRING))
        return -1;
    const char *s = json_string_value(val);
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, values[i]) == 0)
            return (int)i;
    char set[512];
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(set); i++)
        len += (size_t)snprintf(set + len, sizeof(set) - len, "%s%s", i ? ", " : "", values[i]);
    validate_fail(v, s, path, "Member must satisfy enum value set: [%s]", set);
    return -1;
}

bool validate_timestamp(struct validate *v, json_t *obj, const char *name, const char *path,
                        bool required, int64_t *out_ms)
{
    json_t *val = member(v, obj, name, path, required);
    if (val == NULL)
        return false;
    /* Seconds beyond +-1e14 (3 million years) would overflow the milliseconds: a client's
     * -2^63 did, found by tests/integration/wire_fuzz_test.py. */
    if (json_is_integer(val)) {
        json_int_t secs = json_integer_value(val);
        if (secs <= -100000000000000 || secs >= 100000000000000) {
            ser_fail(v, "Timestamp out of range");
            return false;
        }
        *out_ms = (int64_t)secs * 1000;
        return true;
    }
    if (json_is_real(val)) {
        double d = json_real_value(val);
        if (!(d > -1e14 && d < 1e14)) { /* also rejects NaN */
            ser_fail(v, "Timestamp out of range");
            return false;
        }
        double ms = d * 1000.0; /* round half away from zero, without libm */
        *out_ms = (int64_t)(ms < 0 ? ms - 0.5 : ms + 0.5);
        return true;
    }
    (void)type_ok(v, val, JSON_REAL);
    return false;
}

json_t *validate_object(struct validate *v, json_t *obj, const char *name, const char *path,
                        bool required)
{
    json_t *val = member(v, obj, name, path, required);
    if (val == NULL || !type_ok(v, val, JSON_OBJECT))
        return NULL;
    return val;
}

static json_t *sized(struct validate *v, json_t *val, const char *path, size_t n, size_t min,
                     size_t max)
{
    if (n < min) {
        validate_fail(v, "[]", path, "Member must have length greater than or equal to %zu", min);
        return NULL;
    }
    if (n > max) {
        validate_fail(v, "[...]", path, "Member must have length less than or equal to %zu", max);
        return NULL;
    }
    return val;
}

json_t *validate_array(struct validate *v, json_t *obj, const char *name, const char *path,
                       bool required, size_t min, size_t max)
{
    json_t *val = member(v, obj, name, path, required);
    if (val == NULL || !type_ok(v, val, JSON_ARRAY))
        return NULL;
    return sized(v, val, path, json_array_size(val), min, max);
}

json_t *validate_map(struct validate *v, json_t *obj, const char *name, const char *path,
                     bool required, size_t min, size_t max)
{
    json_t *val = member(v, obj, name, path, required);
    if (val == NULL || !type_ok(v, val, JSON_OBJECT))
        return NULL;
    const char *k;
    json_t *x;
    json_object_foreach(val, k, x)
    {
        if (!json_is_null(x) && !type_ok(v, x, JSON_STRING))
            return NULL;
    }
    return sized(v, val, path, json_object_size(val), min, max);
}

int validate_finish(struct validate *v, const char **msg)
{
    if (v->serialization) {
        *msg = v->ser_msg;
        return KERR_SERIALIZATION;
    }
    if (v->nerr == 0)
        return 0;
    /* Prefix the count now that it is known. */
    char head[64];
    int h = snprintf(head, sizeof(head), "%d validation error%s detected: ", v->nerr,
                     v->nerr == 1 ? "" : "s");
    size_t hl = (size_t)h;
    size_t keep = SC_VALIDATE_CLAMP(v->len, sizeof(v->msg) - 1 - hl);
    memmove(v->msg + hl, v->msg, keep);
    memcpy(v->msg, head, hl);
    v->msg[hl + keep] = '\0';
    v->len = hl + keep;
    *msg = v->msg;
    return KERR_VALIDATION;
}
