/* jscan.h — a strict JSON scanner that yields values as spans into the request body, for the
 * write path (PutRecord/PutRecords), where copying every string the way a DOM library does would
 * copy each record's bytes once more (architecture.md §3: the record is copied once, into the
 * log).
 *
 * Usage: jscan_parse() validates the whole text once (RFC 8259: one value, no trailing commas,
 * no leading zeros, escapes and UTF-8 checked, \u0000 refused, nesting at most JSCAN_DEPTH_MAX)
 * and returns the root. Then walk containers with jscan_iter_init() + jscan_next_member() /
 * jscan_next_elem(); these only re-scan text the parse already validated. String values come
 * as raw spans between the quotes; when `escaped` is set, jscan_string() unescapes into a
 * caller-owned scratch allocation (rare: e.g. a client writing "\/" inside base64).
 *
 * Nothing is allocated except by jscan_string() for escaped strings. Pure functions over the
 * caller's buffer, any thread; spans stay valid as long as the buffer. */
#ifndef SC_JSCAN_H
#define SC_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define JSCAN_DEPTH_MAX 64

enum jscan_type {
    JSCAN_NULL,
    JSCAN_FALSE,
    JSCAN_TRUE,
    JSCAN_NUMBER,
    JSCAN_STRING,
    JSCAN_ARRAY,
    JSCAN_OBJECT,
};

struct jscan_val {
    enum jscan_type type;
    const char *p; /* string: first byte after the opening quote; else the value's first byte */
    size_t len;    /* string: raw bytes between the quotes; else the length of the value's text */
    bool escaped;  /* string only: holds backslash escapes (use jscan_string) */
    bool integer;  /* number only: no fraction and no exponent */
};

/* Validates buf[0..len) as one JSON value surrounded by optional whitespace. buf[len] must be
 * readable (the transport NUL-terminates bodies). Returns 0 and *root, or -1 with a message
 * ("<what> at offset N") in err[errcap]. */
int jscan_parse(const char *buf, size_t len, struct jscan_val *root, char *err, size_t errcap);

struct jscan_iter {
    const char *p;
};

/* Starts walking an object's members or an array's elements (v from a successful parse). */
void jscan_iter_init(const struct jscan_val *v, struct jscan_iter *it);
/* Next member of an object: key (a string value) and value. false at the end. */
bool jscan_next_member(struct jscan_iter *it, struct jscan_val *key, struct jscan_val *val);
/* Next element of an array. false at the end. */
bool jscan_next_elem(struct jscan_iter *it, struct jscan_val *val);

/* A string value's contents: v->p itself when not escaped, else a malloc'd unescaped copy stored
 * in *scratch (the caller frees it; *scratch untouched when not escaped). *len gets the length.
 * The result is NUL-terminated only when it was unescaped. */
const char *jscan_string(const struct jscan_val *v, size_t *len, char **scratch);

/* True when the string value `key` equals name (escapes resolved). */
bool jscan_key_is(const struct jscan_val *key, const char *name);

#endif
