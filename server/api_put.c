/* api_put.c — PutRecord and PutRecords (kinesis-protocol.md §5, §7.3; architecture.md §3).
 *
 * The body is scanned with jscan (never jansson): Data base64 and PartitionKey are spans into the
 * request body, handed to shardlog_append as struct record_in, whose record_format() is the one
 * copy of a record's bytes on the write path. Entries are routed by MD5 (or ExplicitHashKey) to
 * the open shard, grouped per shard in request order, admitted per entry by the shard's write
 * buckets, and appended with one shardlog_append per shard group. The response goes out after
 * every append callback ran (the --fsync ack rule). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "common/utf8.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/config.h"
#include "server/http.h"
#include "server/jscan.h"
#include "shards/registry.h"
#include "shards/shardtab.h"

#define PUT_RECORDS_MAX 500
/* PutRecords: all data + keys. AWS raised it from 5 MiB with large records, for every stream. */
#define PUT_REQUEST_BYTES_MAX (10u << 20)
#define PUT_KEY_CHARS_MAX 256
#define PUT_ROUTE_ATTEMPTS 3 /* a shard sealed by a reshard mid-request: route again */

enum put_status { PS_ROUTE, PS_QUEUED, PS_OK, PS_THROTTLED, PS_FAILED };

struct put_entry {
    const char *data, *key; /* spans in the body (or a scratch string) */
    size_t data_len, key_len;
    uint64_t bytes; /* decoded data + key bytes */
    u128 hash;
    const char *ehk; /* ExplicitHashKey span (NULL when absent) */
    size_t ehk_len;
    uint32_t group;
    enum put_status status;
    uint64_t position;
    int64_t arrival_ms;
};

struct put_req;

struct put_group {
    struct put_req *req;
    struct shard_rt *rt;
    u128 start, end;
    bool dead;     /* sealed under us: never route to it again */
    uint32_t n;    /* entries queued in this group's append */
    uint32_t *idx; /* their indexes, request order */
};

struct put_req {
    struct api_ctx *c;
    bool single; /* PutRecord */
    bool kms;    /* the stream is encrypted: answers say EncryptionType KMS */
    /* The stream's maximum record size in bytes: Data alone and data + partition key must fit
     * it; also the shard's write burst. */
    uint64_t max_record;
    char stream[REG_NAME_MAX + 1];
    uint32_t n;
    struct put_entry *e;
    /* Each group is its own allocation: an append in flight holds its group as the callback
     * argument while a later routing pass may still add groups (a sealed shard's entries go
     * to its children), and growing an array of groups moved them under those appends. */
    struct put_group **g;
    uint32_t ngroups, cap_groups;
    uint32_t pending;                       /* appends awaiting their callback */
    char *scratch[3 * PUT_RECORDS_MAX + 4]; /* Data, ExplicitHashKey, PartitionKey each */
    uint32_t nscratch;
    struct jscan_val ordering; /* PutRecord SequenceNumberForOrdering (type NULL if absent) */
    const char *ord;           /* its text, unescaped (a client may write "\u0031") */
    size_t ord_len;
};

/* ---- input ---------------------------------------------------------------------------------- */

static const char *jtype_name(const struct jscan_val *v)
{
    switch (v->type) {
    case JSCAN_STRING: return "STRING_VALUE";
    case JSCAN_TRUE: return "TRUE_VALUE";
    case JSCAN_FALSE: return "FALSE_VALUE";
    case JSCAN_NUMBER: return v->integer ? "NUMBER_VALUE" : "DECIMAL_VALUE";
    default: return "VALUE";
    }
}

/* Type mismatch -> SerializationException, worded as validate.c (the Jackson deserializer). */
static bool type_ok(struct put_req *r, const struct jscan_val *v, enum jscan_type want,
                    const char *to)
{
    if (v->type == want)
        return true;
    struct validate *val = &r->c->v;
    if (val->serialization)
        return false;
    val->serialization = true;
    if (v->type == JSCAN_OBJECT)
        snprintf(val->ser_msg, sizeof(val->ser_msg),
                 "Start of structure or map found where not expected.");
    else if (v->type == JSCAN_ARRAY)
        snprintf(val->ser_msg, sizeof(val->ser_msg), "Start of list found where not expected");
    else
        snprintf(val->ser_msg, sizeof(val->ser_msg), "%s can not be converted to %s", jtype_name(v),
                 to);
    return false;
}

/* A string value's bytes, unescaped into a request-owned scratch when needed. */
static const char *str_of(struct put_req *r, const struct jscan_val *v, size_t *len)
{
    char *scratch = NULL;
    const char *s = jscan_string(v, len, &scratch);
    if (scratch != NULL) {
        ASSERT(r->nscratch < SC_ARRAY_LEN(r->scratch));
        r->scratch[r->nscratch++] = scratch;
    }
    return s;
}

/* NUL-terminated copy for messages and small fields (truncated to cap - 1, never inside a UTF-8
 * sequence: the message quoting it would not be UTF-8). */
static void cstr(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = len < cap ? len : utf8_cut_len(s, cap - 1);
    memcpy(out, s, n);
    out[n] = '\0';
}


/* The model's 0|([1-9]\d{0,N-1}) patterns: ExplicitHashKey (N 39), SequenceNumberForOrdering
 * (N 129). */
static bool decimal_pattern(const char *s, size_t len, size_t max_digits)
{
    if (len == 0 || len > max_digits || (s[0] == '0' && len > 1))
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* A member's path in validation messages ("data", or "records.3.member.data" for entry 3 of a
 * PutRecords: member 0 is PutRecord's own). Built only when a message needs it. */
static const char *member_path(char *buf, size_t cap, uint32_t member, const char *name)
{
    if (member == 0)
        snprintf(buf, cap, "%s", name);
    else
        snprintf(buf, cap, "records.%u.member.%s", member, name);
    return buf;
}

/* Checks one record's Data / ExplicitHashKey / PartitionKey (model order) into e. `member` is
 * 0 (PutRecord) or the 1-based entry of a PutRecords, for messages. */
static void entry_validate(struct put_req *r, struct put_entry *e, const struct jscan_val *data,
                           const struct jscan_val *ehk, const struct jscan_val *pkey,
                           uint32_t member)
{
    struct validate *v = &r->c->v;
    char path[64];
    if (data->type == JSCAN_NULL) {
        validate_fail(v, NULL, member_path(path, sizeof(path), member, "data"),
                      "Member must not be null");
    } else if (type_ok(r, data, JSCAN_STRING, "a Blob")) {
        e->data = str_of(r, data, &e->data_len);
        size_t dec = 0;
        if (!base64_check(e->data, e->data_len, &dec)) {
            if (!v->serialization)
                snprintf(v->ser_msg, sizeof(v->ser_msg),
                         "Base64 encoded value is not valid: could not decode Data");
            v->serialization = true;
        } else if (dec > r->max_record) {
            char shown[96];
            snprintf(shown, sizeof(shown), "java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]", dec,
                     dec);
            validate_fail(v, shown, member_path(path, sizeof(path), member, "data"),
                          "Member must have length less than or equal to %llu",
                          (unsigned long long)r->max_record);
        }
        e->bytes = dec;
    }
    if (ehk->type != JSCAN_NULL && type_ok(r, ehk, JSCAN_STRING, "a String")) {
        e->ehk = str_of(r, ehk, &e->ehk_len);
        if (!decimal_pattern(e->ehk, e->ehk_len, 39)) {
            char *shown = sc_malloc(e->ehk_len + 1);
            cstr(shown, e->ehk_len + 1, e->ehk, e->ehk_len);
            validate_fail(v, shown, member_path(path, sizeof(path), member, "explicitHashKey"),
                          "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
            free(shown);
        }
    }
    if (pkey->type == JSCAN_NULL) {
        validate_fail(v, NULL, member_path(path, sizeof(path), member, "partitionKey"),
                      "Member must not be null");
    } else if (type_ok(r, pkey, JSCAN_STRING, "a String")) {
        e->key = str_of(r, pkey, &e->key_len);
        size_t chars = utf8_utf16_len(e->key, e->key_len);
        if (chars < 1 || chars > PUT_KEY_CHARS_MAX) {
            char *shown = sc_malloc(e->key_len + 1);
            cstr(shown, e->key_len + 1, e->key, e->key_len);
            member_path(path, sizeof(path), member, "partitionKey");
            if (chars < 1)
                validate_fail(v, shown, path, "Member must have length greater than or equal to 1");
            else
                validate_fail(v, shown, path, "Member must have length less than or equal to %d",
                              PUT_KEY_CHARS_MAX);
            free(shown);
        }
        e->bytes += e->key_len;
    }
}

/* Duplicate members would let a request mean two things; refuse them like the other ops. */
static bool dup(struct put_req *r, bool *seen, const char *name)
{
    if (*seen && !r->c->v.serialization) {
        r->c->v.serialization = true;
        snprintf(r->c->v.ser_msg, sizeof(r->c->v.ser_msg), "duplicate object key '%s'", name);
    }
    *seen = true;
    return !r->c->v.serialization;
}

/* One PutRecords entry (an object) into r->e[i]. */
static void records_entry(struct put_req *r, uint32_t i, const struct jscan_val *obj)
{
    static const struct jscan_val none = {.type = JSCAN_NULL};
    if (!type_ok(r, obj, JSCAN_OBJECT, "a Structure"))
        return;
    struct jscan_val data = none, ehk = none, pkey = none, k, v;
    bool sd = false, se = false, sp = false;
    struct jscan_iter it;
    jscan_iter_init(obj, &it);
    while (jscan_next_member(&it, &k, &v)) {
        if (jscan_key_is(&k, "Data") && dup(r, &sd, "Data"))
            data = v;
        else if (jscan_key_is(&k, "ExplicitHashKey") && dup(r, &se, "ExplicitHashKey"))
            ehk = v;
        else if (jscan_key_is(&k, "PartitionKey") && dup(r, &sp, "PartitionKey"))
            pkey = v;
    }
    entry_validate(r, &r->e[i], &data, &ehk, &pkey, i + 1);
}

/* The Records list: counts, then validates each entry. */
static void records_parse(struct put_req *r, const struct jscan_val *list)
{
    struct validate *v = &r->c->v;
    if (list->type == JSCAN_NULL) {
        validate_fail(v, NULL, "records", "Member must not be null");
        return;
    }
    if (!type_ok(r, list, JSCAN_ARRAY, "a List"))
        return;
    struct jscan_iter it;
    struct jscan_val el;
    uint32_t n = 0;
    jscan_iter_init(list, &it);
    while (jscan_next_elem(&it, &el) && n <= PUT_RECORDS_MAX)
        n++;
    if (n < 1 || n > PUT_RECORDS_MAX) {
        validate_fail(v, n ? "[...]" : "[]", "records",
                      n ? "Member must have length less than or equal to %d"
                        : "Member must have length greater than or equal to %d",
                      n ? PUT_RECORDS_MAX : 1);
        return;
    }
    r->n = n;
    r->e = sc_calloc(n, sizeof(*r->e));
    jscan_iter_init(list, &it);
    for (uint32_t i = 0; jscan_next_elem(&it, &el); i++)
        records_entry(r, i, &el);
}

/* StreamName / StreamARN / StreamId, validated like api_sel_validate; copies into name/arn. */
static void sel_parse(struct put_req *r, const struct jscan_val *sn, const struct jscan_val *sa,
                      const struct jscan_val *sid, struct api_sel *sel, char *name, char *arn)
{
    struct validate *v = &r->c->v;
    sel->name = sel->arn = NULL;
    if (sn->type != JSCAN_NULL && type_ok(r, sn, JSCAN_STRING, "a String")) {
        size_t len;
        const char *s = str_of(r, sn, &len);
        char shown[300];
        cstr(shown, sizeof(shown), s, len);
        bool pat = len > 0;
        for (size_t i = 0; i < len && pat; i++)
            pat = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                  (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-';
        size_t chars = utf8_utf16_len(s, len);
        if (chars < 1)
            validate_fail(v, shown, "streamName",
                          "Member must have length greater than or equal to 1");
        else if (chars > REG_NAME_MAX)
            validate_fail(v, shown, "streamName",
                          "Member must have length less than or equal to %d", REG_NAME_MAX);
        else if (!pat)
            validate_fail(v, shown, "streamName",
                          "Member must satisfy regular expression pattern: %s",
                          VALIDATE_NAME_PATTERN);
        else {
            cstr(name, REG_NAME_MAX + 1, s, len);
            sel->name = name;
        }
    }
    if (sa->type != JSCAN_NULL && type_ok(r, sa, JSCAN_STRING, "a String")) {
        size_t len;
        const char *s = str_of(r, sa, &len);
        char shown[300];
        cstr(shown, sizeof(shown), s, len);
        if (len < 1 || utf8_utf16_len(s, len) > ARN_MAX) {
            validate_fail(v, shown, "streamARN",
                          len < 1 ? "Member must have length greater than or equal to 1"
                                  : "Member must have length less than or equal to 2048");
        } else if (len > ARN_MAX) {
            /* 2048 characters of UTF-8 need not fit the 2048 bytes arn_parse_stream takes; cut
             * to fit, "arn:aws<1000 accented letters>:kinesis:...:stream/fz<more of them>" named
             * stream fz. An ARN that long is not one (api_sel_resolve answers the same). */
            validate_fail(v, shown, "streamARN",
                          "Member must satisfy regular expression pattern: "
                          "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
        } else {
            cstr(arn, ARN_MAX + 1, s, len);
            sel->arn = arn;
        }
    }
    if (sid->type != JSCAN_NULL)
        (void)type_ok(r, sid, JSCAN_STRING, "a String");
}

/* The selected stream's maximum record size, for the checks of model validation, and its
 * encryption, for the answer (one registry lookup per request). While the stream is not known
 * the model's own 10 MiB applies: a bad selector or a missing stream is answered after
 * validation, as AWS orders them. */
static void stream_view(struct put_req *r, const struct api_sel *sel)
{
    char n[REG_NAME_MAX + 1], region[64], account[16];
    const char *name = sel->name;
    if (name == NULL && sel->arn != NULL && arn_parse_stream(sel->arn, n, region, account) == 0)
        name = n;
    struct reg_put_view view = {REG_ENC_NONE, REG_RECORD_KIB_MAX};
    if (name != NULL)
        (void)registry_stream_put_view(api_registry(), name, &view);
    r->kms = view.encryption == REG_ENC_KMS;
    r->max_record = (uint64_t)view.max_record_kib << 10;
}

/* ---- request -------------------------------------------------------------------------------- */

static void req_free(struct put_req *r)
{
    for (uint32_t i = 0; i < r->ngroups; i++) {
        shard_rt_decref(r->g[i]->rt);
        free(r->g[i]->idx);
        free(r->g[i]);
    }
    for (uint32_t i = 0; i < r->nscratch; i++)
        free(r->scratch[i]);
    free(r->g);
    free(r->e);
    free(r);
}

/* Scans the body and runs model validation. false after replying (the request is freed). */
static bool req_parse(struct put_req *r, char *name, char *arn, struct api_sel *sel)
{
    static const struct jscan_val none = {.type = JSCAN_NULL};
    const struct http_request *hr = r->c->req;
    struct jscan_val root;
    char err[160];
    const char *body = hr->body_len ? (const char *)hr->body : "{}";
    if (jscan_parse(body, hr->body_len ? hr->body_len : 2, &root, err, sizeof(err)) != 0) {
        api_reply_error(r->c, KERR_SERIALIZATION, "%s", err);
        return false;
    }
    struct jscan_val sn = none, sa = none, sid = none, recs = none, data = none, pkey = none,
                     ehk = none, k, v;
    r->ordering = none;
    if (type_ok(r, &root, JSCAN_OBJECT, "a Structure")) {
        bool seen[8] = {0};
        static const char *const keys[] = {
            "StreamName", "StreamARN",    "StreamId",        "Records",
            "Data",       "PartitionKey", "ExplicitHashKey", "SequenceNumberForOrdering"};
        struct jscan_val *dst[] = {&sn, &sa, &sid, &recs, &data, &pkey, &ehk, &r->ordering};
        struct jscan_iter it;
        jscan_iter_init(&root, &it);
        while (jscan_next_member(&it, &k, &v)) {
            for (size_t i = 0; i < SC_ARRAY_LEN(keys); i++) {
                if ((i >= 3 && (i == 3) != !r->single) || !jscan_key_is(&k, keys[i]))
                    continue; /* members of the other operation are unknown here: ignored */
                if (dup(r, &seen[i], keys[i]))
                    *dst[i] = v;
            }
        }
        sel_parse(r, &sn, &sa, &sid, sel, name, arn);
        stream_view(r, sel);
        if (r->single) {
            r->n = 1;
            r->e = sc_calloc(1, sizeof(*r->e));
            entry_validate(r, &r->e[0], &data, &ehk, &pkey, 0);
            if (r->ordering.type != JSCAN_NULL &&
                type_ok(r, &r->ordering, JSCAN_STRING, "a String"))
                r->ord = str_of(r, &r->ordering, &r->ord_len);
            if (r->ord != NULL && !decimal_pattern(r->ord, r->ord_len, 129)) {
                char shown[300];
                cstr(shown, sizeof(shown), r->ord, r->ord_len);
                validate_fail(&r->c->v, shown, "sequenceNumberForOrdering",
                              "Member must satisfy regular expression pattern: "
                              "0|([1-9]\\d{0,128})");
            }
        } else {
            records_parse(r, &recs);
        }
    }
    if (api_invalid(r->c))
        return false;
    return true;
}

/* Business rules on the whole request before anything is routed: hash key range, sizes. */
static bool req_check(struct put_req *r)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        struct put_entry *e = &r->e[i];
        if (e->ehk != NULL) {
            char buf[U128_DEC_MAX];
            cstr(buf, sizeof(buf), e->ehk, e->ehk_len);
            if (u128_parse(buf, &e->hash) != 0) {
                api_reply_error(r->c, KERR_INVALID_ARGUMENT,
                                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
                                "[0, 2^128-1]. Specified value was %s",
                                buf);
                return false;
            }
        } else {
            e->hash = u128_md5(e->key, e->key_len);
        }
        if (e->bytes > r->max_record) {
            api_reply_error(r->c, KERR_INVALID_ARGUMENT,
                            "Record size of %llu bytes (data + partition key) exceeds the "
                            "maximum record size of %llu bytes.",
                            (unsigned long long)e->bytes, (unsigned long long)r->max_record);
            return false;
        }
        total += e->bytes;
    }
    if (total > PUT_REQUEST_BYTES_MAX) {
        api_reply_error(r->c, KERR_INVALID_ARGUMENT,
                        "Records size of %llu bytes (data + partition keys) exceeds the limit of "
                        "%u bytes per PutRecords request.",
                        (unsigned long long)total, PUT_REQUEST_BYTES_MAX);
        return false;
    }
    return true;
}

/* ---- routing and appends -------------------------------------------------------------------- */

/* The group whose shard holds hash (routing through the table once per shard). */
static int group_for(struct put_req *r, uint32_t from, u128 hash, uint32_t *out)
{
    /* Groups before `from` belong to an earlier pass: submitted already, or dead. */
    for (uint32_t g = from; g < r->ngroups; g++) {
        if (!r->g[g]->dead && r->g[g]->start <= hash && hash <= r->g[g]->end) {
            *out = g;
            return 0;
        }
    }
    struct shard_rt *rt;
    int rc = shardtab_route(api_shardtab(), r->stream, hash, &rt);
    if (rc != 0)
        return rc;
    if (r->ngroups == r->cap_groups) {
        r->cap_groups = r->cap_groups ? r->cap_groups * 2 : 4;
        r->g = sc_realloc(r->g, r->cap_groups * sizeof(*r->g));
    }
    struct put_group *g = sc_calloc(1, sizeof(*g));
    r->g[r->ngroups] = g;
    g->req = r;
    g->rt = rt;
    shard_rt_hash_range(rt, &g->start, &g->end);
    *out = r->ngroups++;
    return 0;
}

static void finish(struct put_req *r);

static void on_appended(void *arg, int err, uint64_t first, uint32_t count, int64_t arrival_ms)
{
    struct put_group *g = arg;
    struct put_req *r = g->req;
    if (err != 0)
        LOG_ERROR("put: append to shard %u of %s failed: %s", shard_rt_index(g->rt), r->stream,
                  strerror(-err));
    for (uint32_t k = 0; k < g->n; k++) {
        struct put_entry *e = &r->e[g->idx[k]];
        if (err == 0 && k < count) {
            e->status = PS_OK;
            e->position = first + k;
            e->arrival_ms = arrival_ms;
        } else {
            e->status = PS_FAILED;
        }
    }
    ASSERT(r->pending > 0);
    if (--r->pending == 0)
        finish(r);
}

/* Appends group g's queued entries. Returns 0 (callback pending), or with the entries marked:
 * -EPIPE (sealed: they go back to routing), other errors (throttled or failed). */
static int group_append(struct put_req *r, struct put_group *g)
{
    struct record_in recs[PUT_RECORDS_MAX];
    for (uint32_t k = 0; k < g->n; k++) {
        const struct put_entry *e = &r->e[g->idx[k]];
        recs[k] = (struct record_in){e->data, e->data_len, e->key, e->key_len};
    }
    r->pending++;
    int rc = shardlog_append(shard_rt_log(g->rt), api_worker_sio(), recs, g->n, on_appended, g);
    if (rc == 0)
        return 0;
    r->pending--;
    enum put_status st = rc == -EPIPE ? PS_ROUTE : rc == -ENOBUFS ? PS_THROTTLED : PS_FAILED;
    if (rc == -EPIPE)
        g->dead = true;
    else if (rc != -ENOBUFS)
        LOG_ERROR("put: append to shard %u of %s refused: %s", shard_rt_index(g->rt), r->stream,
                  strerror(-rc));
    for (uint32_t k = 0; k < g->n; k++)
        r->e[g->idx[k]].status = st;
    g->n = 0;
    return rc;
}

/* One routing pass over the entries still to route: group, admit, append. Returns 0, or a
 * routing error (the stream is gone: the caller replies). */
static int route_pass(struct put_req *r, uint64_t now_ns, uint32_t first_group)
{
    for (uint32_t i = 0; i < r->n; i++) {
        struct put_entry *e = &r->e[i];
        if (e->status != PS_ROUTE)
            continue;
        int rc = group_for(r, first_group, e->hash, &e->group);
        if (rc != 0)
            return rc;
        struct put_group *g = r->g[e->group];
        if (!shard_rt_admit_write(g->rt, e->bytes, 1, r->max_record, now_ns)) {
            e->status = PS_THROTTLED;
            continue;
        }
        if (g->idx == NULL)
            g->idx = sc_malloc(r->n * sizeof(*g->idx));
        g->idx[g->n++] = i;
        e->status = PS_QUEUED;
    }
    /* Groups created in earlier passes are dead or already submitted. */
    for (uint32_t g = first_group; g < r->ngroups; g++)
        if (r->g[g]->n > 0)
            (void)group_append(r, r->g[g]);
    return 0;
}

/* PutRecord's SequenceNumberForOrdering: a number of the target shard (kinesis-protocol §5). */
static bool ordering_ok(struct put_req *r)
{
    if (r->ordering.type != JSCAN_STRING)
        return true;
    uint32_t gi;
    int rc = group_for(r, 0, r->e[0].hash, &gi);
    if (rc != 0)
        return true; /* route_pass reports it */
    struct shard_rt *rt = r->g[gi]->rt;
    char first[SEQNUM_BUF];
    struct seqnum_fields f;
    shardlog_seqnum(shard_rt_log(rt), 0, 0, first);
    ASSERT(seqnum_parse(first, SEQNUM_DIGITS, &f) == 0);
    uint64_t pos;
    if (seqnum_position(r->ord, r->ord_len, f.shard_secs, shard_rt_index(rt), SEQNUM_AT, &pos) == 0)
        return true;
    char shown[160];
    cstr(shown, sizeof(shown), r->ord, r->ord_len);
    api_reply_error(r->c, KERR_INVALID_ARGUMENT,
                    "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under "
                    "account %s is invalid.",
                    shown, r->stream, api_config()->account_id);
    return false;
}

/* ---- response ------------------------------------------------------------------------------- */

/* AWS adds the member only for encrypted streams (kinesis-protocol.md §7). */
#define ENCRYPTION_KMS ",\"EncryptionType\":\"KMS\""

static void reply_single(struct put_req *r)
{
    const struct put_entry *e = &r->e[0];
    const char *acct = api_config()->account_id;
    char id[24];
    if (e->status == PS_THROTTLED) {
        registry_shard_id_print(shard_rt_index(r->g[e->group]->rt), id);
        api_reply_error(r->c, KERR_THROUGHPUT_EXCEEDED,
                        "Rate exceeded for shard %s in stream %s under account %s.", id, r->stream,
                        acct);
    } else if (e->status != PS_OK) {
        api_reply_error(r->c, KERR_INTERNAL, "Internal service failure.");
    } else {
        const struct shard_rt *rt = r->g[e->group]->rt;
        char seq[SEQNUM_BUF], body[160];
        shardlog_seqnum(shard_rt_log(rt), e->position, e->arrival_ms, seq);
        int n = snprintf(body, sizeof(body), "{\"ShardId\":\"%s\",\"SequenceNumber\":\"%s\"%s}",
                         registry_shard_id_print(shard_rt_index(rt), id), seq,
                         r->kms ? ENCRYPTION_KMS : "");
        api_reply_raw(r->c, body, (size_t)n);
    }
}

static size_t put_lit(char *out, size_t len, const char *s, size_t n)
{
    memcpy(out + len, s, n);
    return len + n;
}

/* sep{"SequenceNumber":"<56>","ShardId":"<id>"} at out + len; returns the new length. */
static size_t put_ok_entry(char *out, size_t len, const char *sep, const char *seq, const char *id)
{
    static const char a[] = "{\"SequenceNumber\":\"", b[] = "\",\"ShardId\":\"", c[] = "\"}";
    len = put_lit(out, len, sep, strlen(sep));
    len = put_lit(out, len, a, sizeof(a) - 1);
    len = put_lit(out, len, seq, SEQNUM_DIGITS);
    len = put_lit(out, len, b, sizeof(b) - 1);
    len = put_lit(out, len, id, strlen(id));
    return put_lit(out, len, c, sizeof(c) - 1);
}

/* {"FailedRecordCount":N,"Records":[...]} in request order, written by hand: 500 jansson
 * objects per request would cost more than the rest of the path. */
static void reply_records(struct put_req *r)
{
    const char *acct = api_config()->account_id;
    size_t cap = 64 + (size_t)r->n * (200 + REG_NAME_MAX + strlen(acct)), len = 0;
    char *out = sc_malloc(cap);
    uint32_t failed = 0;
    for (uint32_t i = 0; i < r->n; i++)
        failed += r->e[i].status != PS_OK;
    len += (size_t)snprintf(out, cap, "{\"FailedRecordCount\":%u,\"Records\":[", failed);
    for (uint32_t i = 0; i < r->n; i++) {
        const struct put_entry *e = &r->e[i];
        char id[24], seq[SEQNUM_BUF];
        const char *sep = i ? "," : "";
        if (e->status == PS_OK) {
            const struct shard_rt *rt = r->g[e->group]->rt;
            shardlog_seqnum(shard_rt_log(rt), e->position, e->arrival_ms, seq);
            registry_shard_id_print(shard_rt_index(rt), id);
            len = put_ok_entry(out, len, sep, seq, id); /* the hot line: no printf */
        } else if (e->status == PS_THROTTLED) {
            registry_shard_id_print(shard_rt_index(r->g[e->group]->rt), id);
            len += (size_t)snprintf(out + len, cap - len,
                                    "%s{\"ErrorCode\":\"ProvisionedThroughputExceededException\","
                                    "\"ErrorMessage\":\"Rate exceeded for shard %s in stream %s "
                                    "under account %s.\"}",
                                    sep, id, r->stream, acct);
        } else {
            len += (size_t)snprintf(out + len, cap - len,
                                    "%s{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":"
                                    "\"Internal service failure.\"}",
                                    sep);
        }
        ASSERT(len < cap);
    }
    len += (size_t)snprintf(out + len, cap - len, "]%s}", r->kms ? ENCRYPTION_KMS : "");
    ASSERT(len < cap);
    api_reply_raw(r->c, out, len);
    free(out);
}

static void finish(struct put_req *r)
{
    if (r->c == NULL) /* replied already (routing failed while appends were in flight) */
        ;
    else if (r->single)
        reply_single(r);
    else
        reply_records(r);
    req_free(r);
}

/* ---- handlers ------------------------------------------------------------------------------- */

static void put(struct api_ctx *c, bool single)
{
    struct put_req *r = sc_calloc(1, sizeof(*r));
    r->c = c;
    r->single = single;
    char name[REG_NAME_MAX + 1], arn[ARN_MAX + 1];
    struct api_sel sel;
    if (!req_parse(r, name, arn, &sel) || !api_sel_resolve(c, &sel, r->stream) || !req_check(r) ||
        (single && !ordering_ok(r))) {
        req_free(r);
        return;
    }
    uint64_t now_ns = clock_mono_ns();
    r->pending = 1; /* held until every pass submitted, so no callback finishes r early */
    for (int attempt = 0; attempt < PUT_ROUTE_ATTEMPTS; attempt++) {
        int rc = route_pass(r, now_ns, attempt == 0 ? 0 : r->ngroups);
        if (rc != 0) {
            /* Some appends may be in flight: finish when they are, with the error reply. */
            for (uint32_t i = 0; i < r->n; i++)
                if (r->e[i].status == PS_ROUTE)
                    r->e[i].status = PS_FAILED;
            if (r->ngroups > 0 && rc != KERR_RESOURCE_NOT_FOUND)
                LOG_WARN("put: routing records of %s failed on pass %d: %s; they fail as "
                         "InternalFailure", r->stream, attempt + 1, kerr_name(rc));
            if (r->ngroups == 0 || rc == KERR_RESOURCE_NOT_FOUND) {
                if (rc == KERR_RESOURCE_NOT_FOUND)
                    api_reply_not_found(c, r->stream);
                else if (rc == -EAGAIN)
                    api_reply_error(c, KERR_SERVICE_UNAVAILABLE,
                                    "Stream %s is being re-created; retry.", r->stream);
                else
                    api_reply_error(c, KERR_INTERNAL, "Internal service failure.");
                r->c = NULL;
            }
            break;
        }
        bool again = false;
        for (uint32_t i = 0; i < r->n; i++)
            again = again || r->e[i].status == PS_ROUTE;
        if (!again)
            break;
    }
    uint32_t unrouted = 0;
    for (uint32_t i = 0; i < r->n; i++)
        if (r->e[i].status == PS_ROUTE) {
            r->e[i].status = PS_FAILED;
            unrouted++;
        }
    if (unrouted > 0)
        LOG_WARN("put: %u records of %s found their shard sealed on each of %d passes; they fail "
                 "as InternalFailure", unrouted, r->stream, PUT_ROUTE_ATTEMPTS);
    if (--r->pending == 0)
        finish(r);
}

void api_put_record(struct api_ctx *c)
{
    put(c, true);
}

void api_put_records(struct api_ctx *c)
{
    put(c, false);
}
