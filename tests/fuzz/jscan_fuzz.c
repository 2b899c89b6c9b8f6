/* libFuzzer harness for the request JSON scanner (server/jscan.c), which reads every PutRecord(s)
 * body a client sends.
 *
 * Properties: no crash / leak / UB / read past the body's NUL; jscan and jansson agree. Every text
 * jscan accepts, jansson accepts too, with the same tree: same types, same member keys, same
 * string bytes after unescaping, the same integers. Every text jansson accepts is accepted by
 * jscan unless jscan's documented limits refuse it (nesting deeper than JSCAN_DEPTH_MAX) or
 * jansson's own do the reverse (integers beyond 64 bits, reals that overflow a double), or the
 * text holds a NUL byte, which jansson 2.14 lets through right after a number ("[1\0]") and JSON
 * does not allow. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/common.h"
#include "server/jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t depth_of(const json_t *j)
{
    size_t d = 0;
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
            d = SC_MAX(d, depth_of(v));
        return d + 1;
    }
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
            d = SC_MAX(d, depth_of(v));
        return d + 1;
    }
    return 0;
}

static void same_string(const struct jscan_val *v, const char *want, size_t want_len)
{
    char *scratch = NULL;
    size_t len;
    const char *s = jscan_string(v, &len, &scratch);
    ASSERT(len == want_len && memcmp(s, want, len) == 0);
    ASSERT(v->escaped || scratch == NULL);
    free(scratch);
}

/* The jscan value v against jansson's j (both from the same text). */
static void same_tree(const struct jscan_val *v, const json_t *j)
{
    struct jscan_iter it;
    struct jscan_val key, val;
    switch (v->type) {
    case JSCAN_NULL:
        ASSERT(json_is_null(j));
        break;
    case JSCAN_TRUE:
        ASSERT(json_is_true(j));
        break;
    case JSCAN_FALSE:
        ASSERT(json_is_false(j));
        break;
    case JSCAN_STRING:
        ASSERT(json_is_string(j));
        same_string(v, json_string_value(j), json_string_length(j));
        break;
    case JSCAN_NUMBER:
        ASSERT(json_is_number(j));
        if (v->integer) {
            ASSERT(json_is_integer(j));
            char text[32];
            int n = snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
            /* "-0" is an integer to both, printed "0" by jansson. */
            ASSERT((size_t)n == v->len ? memcmp(text, v->p, v->len) == 0
                                       : json_integer_value(j) == 0);
        } else {
            ASSERT(json_is_real(j));
        }
        break;
    case JSCAN_ARRAY: {
        ASSERT(json_is_array(j));
        size_t i = 0;
        jscan_iter_init(v, &it);
        while (jscan_next_elem(&it, &val))
            same_tree(&val, json_array_get(j, i++));
        ASSERT(i == json_array_size(j));
        break;
    }
    case JSCAN_OBJECT: {
        ASSERT(json_is_object(j));
        size_t members = 0;
        jscan_iter_init(v, &it);
        while (jscan_next_member(&it, &key, &val))
            members++;
        /* A repeated key: jansson keeps only the last value, so compare keys alone. */
        bool unique = members == json_object_size(j);
        ASSERT(members >= json_object_size(j));
        jscan_iter_init(v, &it);
        while (jscan_next_member(&it, &key, &val)) {
            ASSERT(key.type == JSCAN_STRING);
            char *scratch = NULL;
            size_t klen;
            const char *k = jscan_string(&key, &klen, &scratch);
            /* jansson keys are C strings: a key with "\u0000" cannot exist (both refuse it). */
            ASSERT(memchr(k, 0, klen) == NULL);
            char *kz = sc_malloc(klen + 1);
            memcpy(kz, k, klen);
            kz[klen] = '\0';
            const json_t *jv = json_object_get(j, kz);
            ASSERT(jv != NULL && jscan_key_is(&key, kz));
            if (unique)
                same_tree(&val, jv);
            free(kz);
            free(scratch);
        }
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The transport NUL-terminates bodies; jscan may rely on that byte and no further. */
    char *buf = sc_malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    struct jscan_val root;
    char err[128];
    int rc = jscan_parse(buf, size, &root, err, sizeof(err));
    json_error_t je;
    json_t *j = json_loadb(buf, size, JSON_DECODE_ANY, &je);
    if (rc == 0) {
        if (j == NULL) {
            /* Only jansson's numeric range may refuse what JSON allows. */
            ASSERT(strstr(je.text, "too big") != NULL || strstr(je.text, "overflow") != NULL);
        } else {
            same_tree(&root, j);
        }
    } else {
        ASSERT(err[0] != '\0');
        if (j != NULL && memchr(buf, '\0', size) == NULL)
            ASSERT(depth_of(j) > JSCAN_DEPTH_MAX);
    }
    json_decref(j);
    free(buf);
    return 0;
}
