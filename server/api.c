/* api.c — the AWS JSON 1.1 front door: GET /health, then for POST the checks of
 * kinesis-protocol §1.1 in order (content type, target, auth, JSON object), then the operation
 * table (server/api_ops.c). Responses per §1.2/§1.3. CBOR requests (§1.5) are transcoded to JSON
 * here and their responses back to CBOR in respond_buf (subscribe/awscbor.h), so handlers only
 * ever see and write JSON. */
#include "server/api.h"

#include <errno.h>
#include <event2/buffer.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "common/utf8.h"
#include "server/api_internal.h"
#include "server/arn.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/errmap.h"
#include "server/http.h"
#include "server/iterator.h"
#include "server/oprate.h"
#include "server/stats.h"
#include "shards/registry.h"
#include "shards/shardtab.h"
#include "shards/sio.h"
#include "subscribe/awscbor.h"

static const char CT_JSON11[] = "application/x-amz-json-1.1";
static const char CT_JSON[] = "application/json";
static const char CT_CBOR[] = "application/x-amz-cbor-1.1";
#define TARGET_PREFIX "Kinesis_20131202."

static struct registry *g_reg;
static struct shardtab *g_tab;
static const struct config *g_cfg;

/* The workers' sios (server/api_worker.c registers them). They outlive their workers: a log may
 * still hold a worker's sio as its writer until the table is destroyed (shards/README.log.md). */
static pthread_mutex_t g_sios_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sio **g_sios;
static size_t g_nsios;
static _Thread_local struct sio *tls_sio;

struct registry *api_registry(void)
{
    return g_reg;
}

struct shardtab *api_shardtab(void)
{
    return g_tab;
}

const struct config *api_config(void)
{
    return g_cfg;
}

struct sio *api_worker_sio(void)
{
    ASSERT(tls_sio != NULL);
    return tls_sio;
}

void api_sio_adopt(struct sio *s)
{
    tls_sio = s;
    pthread_mutex_lock(&g_sios_mu);
    g_sios = sc_realloc(g_sios, (g_nsios + 1) * sizeof(*g_sios));
    g_sios[g_nsios++] = s;
    pthread_mutex_unlock(&g_sios_mu);
}

/* Registry hook -> table. The registry exists before the table, so it reaches it through here. */
static int seal_trampoline(void *arg, const char *stream, uint32_t index, uint64_t *ending)
{
    struct shardtab *t = *(struct shardtab *const *)arg;
    if (t == NULL) {
        *ending = 0;
        return 0;
    }
    return shardtab_seal(t, stream, index, ending);
}

int api_init(const struct config *cfg)
{
    g_cfg = cfg;
    oprate_init(cfg->limits == LIMITS_AWS);
    struct registry_opts o = {
        .data_dir = cfg->data_dir[0] ? cfg->data_dir : NULL,
        .transition_ms = cfg->stream_transition_ms,
        .consumer_transition_ms = cfg->consumer_transition_ms,
        .shard_limit = cfg->shard_limit,
        .max_consumers = cfg->max_consumers,
        .max_creating = 5,
        .limit_daily = cfg->limits == LIMITS_AWS,
        .seal = seal_trampoline,
        .hook_arg = &g_tab,
    };
    int rc = registry_create(&o, &g_reg);
    if (rc == -EBADMSG)
        LOG_ERROR("api: metadata in %s/meta is corrupt; not starting (see the line above)",
                  cfg->data_dir);
    else if (rc != 0)
        LOG_ERROR("api: cannot load metadata from %s: %s", cfg->data_dir, kerr_name(rc));
    if (rc != 0)
        return rc;
    static const enum shardlog_durability dur[] = {
        [FSYNC_ALWAYS] = SHARDLOG_SYNC_ALWAYS,
        [FSYNC_INTERVAL] = SHARDLOG_SYNC_INTERVAL,
        [FSYNC_NEVER] = SHARDLOG_SYNC_NEVER,
    };
    struct shardtab_opts to = {
        .data_dir = cfg->data_dir[0] ? cfg->data_dir : ".",
        .durability = dur[cfg->fsync],
        .sync_interval_ms = cfg->fsync_interval_ms,
        .segment_bytes_max = cfg->segment_bytes,
        .limits = cfg->limits == LIMITS_AWS,
    };
    rc = shardtab_create(g_reg, &to, &g_tab);
    if (rc != 0) {
        LOG_ERROR("api: cannot open the shard logs in %s/streams: %s", to.data_dir,
                  strerror(-rc));
        registry_destroy(g_reg);
        g_reg = NULL;
        return rc;
    }
    /* Load (or create) the iterator key now: a damaged or unwritable DATA/meta/iterator.key
     * must stop the start, not turn every GetShardIterator into InternalFailure later. */
    rc = api_iterator_init(cfg->data_dir);
    if (rc != 0) {
        LOG_ERROR("api: cannot load the iterator key %s/meta/iterator.key: %s", cfg->data_dir,
                  rc == -EBADMSG ? "wrong size (damaged?)" : strerror(-rc));
        shardtab_destroy(g_tab);
        g_tab = NULL;
        registry_destroy(g_reg);
        g_reg = NULL;
    }
    return rc;
}

void api_shutdown(void)
{
    /* Workers are joined: their sios are idle unless a shutdown grace cut requests short. */
    for (size_t i = 0; i < g_nsios; i++)
        if (sio_drain(g_sios[i], 5000) != 0)
            LOG_ERROR("api: a worker still has file I/O in flight at shutdown");
    shardtab_destroy(g_tab); /* closes the logs: writes and syncs what is left */
    g_tab = NULL;
    registry_destroy(g_reg);
    g_reg = NULL;
    for (size_t i = 0; i < g_nsios; i++)
        sio_destroy(g_sios[i]);
    free(g_sios);
    g_sios = NULL;
    g_nsios = 0;
}

/* ---- responses ----------------------------------------------------------------------------- */

/* Request ids need uniqueness, not secrecy: a per-thread splitmix64 seeded once from the CSPRNG.
 * RAND_bytes per response cost a getpid() syscall each (OpenSSL's fork check) on every call. */
static uint64_t id_next(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        if (RAND_bytes((unsigned char *)&state, sizeof(state)) != 1)
            state = (uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)&state;
        seeded = true;
    }
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void api_response_ids(char rid[API_RID_LEN], char id2[API_ID2_LEN])
{
    uint64_t w[6];
    for (size_t i = 0; i < SC_ARRAY_LEN(w); i++)
        w[i] = id_next();
    unsigned char *b = (unsigned char *)w;
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    snprintf(rid, API_RID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    /* x-amz-id-2: opaque base64 (KCL logs it); 32 bytes -> 44 characters. */
    EVP_EncodeBlock((unsigned char *)id2, b + 16, 32);
}

static void hdr(struct http_header *h, const char *name, const char *value)
{
    h->name = name;
    h->value = value;
    h->name_len = strlen(name);
    h->value_len = strlen(value);
}

static void free_cleanup(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)(uintptr_t)data);
}

/* Replaces the JSON text in b with its CBOR form. false when it is not JSON (a bug of ours:
 * handlers write JSON), b then drained. */
static bool body_to_cbor(struct evbuffer *b)
{
    size_t len = evbuffer_get_length(b);
    const char *json = (const char *)evbuffer_pullup(b, -1);
    uint8_t *cbor;
    size_t clen;
    int rc = awscbor_from_json(json, len, &cbor, &clen);
    evbuffer_drain(b, len);
    if (rc != 0) {
        LOG_ERROR("api: response body is not JSON (%s); answering InternalFailure",
                  awscbor_strerror(rc));
        return false;
    }
    if (evbuffer_add_reference(b, cbor, clen, free_cleanup, NULL) != 0) {
        free(cbor);
        ASSERT(!"evbuffer_add_reference failed");
    }
    return true;
}

/* Sends status + the bytes of `b` (drained by the transport, references travel uncopied) with the
 * common headers; `type` adds x-amzn-ErrorType. The caller keeps and frees `b` itself. A CBOR
 * exchange's JSON body is transcoded here, the one place every reply passes (a copy per
 * response: the JSON path keeps its references). */
static void respond_buf(struct http_exchange *x, int status, const char *ctype, const char *type,
                        struct evbuffer *b)
{
    if (ctype == CT_CBOR && evbuffer_get_length(b) > 0 && !body_to_cbor(b)) {
        /* {"__type":"InternalFailure"} in CBOR: no second transcoding that could fail too. */
        static const uint8_t internal[] = {0xa1, 0x66, '_', '_', 't', 'y', 'p', 'e',
                                           0x6f, 'I',  'n', 't', 'e', 'r', 'n', 'a',
                                           'l',  'F',  'a', 'i', 'l', 'u', 'r', 'e'};
        status = 500;
        type = "InternalFailure";
        evbuffer_add(b, internal, sizeof(internal));
    }
    char rid[API_RID_LEN], id2[API_ID2_LEN];
    api_response_ids(rid, id2);
    struct http_header h[4];
    size_t n = 0;
    hdr(&h[n++], "content-type", ctype);
    hdr(&h[n++], "x-amzn-requestid", rid);
    hdr(&h[n++], "x-amz-id-2", id2);
    if (type)
        hdr(&h[n++], "x-amzn-errortype", type);
    http_exchange_respond(x, status, h, n, b);
}

static void respond(struct http_exchange *x, int status, const char *ctype, const char *type,
                    const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    ASSERT(b != NULL);
    if (len)
        evbuffer_add(b, body, len);
    respond_buf(x, status, ctype, type, b);
    evbuffer_free(b);
}

/* msg as a JSON string. Messages quote what the client sent: a value cut to fit a buffer may end
 * inside a UTF-8 sequence, and header bytes (auth's messages) need not be UTF-8 at all. jansson
 * refuses such text, and the answer went out without its message; the cut sequence is dropped
 * now, and any other ill-formed byte shows as U+FFFD. */
static json_t *message_json(const char *msg)
{
    size_t len = utf8_cut_len(msg, strlen(msg));
    json_t *s = json_stringn(msg, len);
    if (s == NULL) {
        char *clean = sc_malloc(3 * len + 1);
        s = json_stringn(clean, utf8_scrub(clean, msg, len));
        free(clean);
    }
    return s;
}

static void respond_error(struct http_exchange *x, const char *ctype, int status, const char *type,
                          const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "__type", json_string(type));
    if (msg != NULL)
        json_object_set_new(o, "message", message_json(msg));
    char *s = json_dumps(o, API_JSON_FLAGS);
    json_decref(o);
    respond(x, status, ctype, type, s, strlen(s));
    free(s);
}

void api_ctx_end(struct api_ctx *c)
{
    json_decref(c->in);
    free(c->json_body);
    free(c);
}

void api_reply_json(struct api_ctx *c, json_t *out)
{
    if (out == NULL) {
        respond(c->x, 200, c->content_type, NULL, "", 0);
    } else {
        char *s = json_dumps(out, API_JSON_FLAGS);
        json_decref(out);
        respond(c->x, 200, c->content_type, NULL, s, strlen(s));
        free(s);
    }
    api_ctx_end(c);
}

void api_reply_raw(struct api_ctx *c, const char *body, size_t len)
{
    respond(c->x, 200, c->content_type, NULL, body, len);
    api_ctx_end(c);
}

void api_reply_evbuffer(struct api_ctx *c, struct evbuffer *body)
{
    respond_buf(c->x, 200, c->content_type, NULL, body);
    api_ctx_end(c);
}

void api_reply_type(struct api_ctx *c, int status, const char *type, const char *msg)
{
    respond_error(c->x, c->content_type, status, type, msg);
    api_ctx_end(c);
}

void api_reply_error(struct api_ctx *c, int kerr, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int status;
    const char *type = errmap_type(kerr, &status);
    /* A 503 is a race the client retries (a stream re-created under it), not our fault. */
    if (status == 503)
        LOG_INFO("api: %s: %s", c->op_name, msg);
    else if (status >= 500)
        LOG_ERROR("api: %s failed: %s (%s)", c->op_name, msg, kerr_name(kerr));
    api_reply_type(c, status, type, msg);
}

void api_reply_daily_quota(struct api_ctx *c, const char *name, const char *what, int per_day,
                           const char *next, int64_t retry_ms)
{
    char when[32] = "";
    time_t t = (time_t)(retry_ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    api_reply_error(c, KERR_LIMIT_EXCEEDED,
                    "%s failed for stream %s under account %s: %s at most %d times in a rolling "
                    "24-hour period; the next %s is allowed after %s.",
                    c->op_name, name, g_cfg->account_id, what, per_day, next, when);
}

bool api_invalid(struct api_ctx *c)
{
    const char *msg;
    int rc = validate_finish(&c->v, &msg);
    if (rc == 0)
        return false;
    api_reply_error(c, rc, "%s", msg);
    return true;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Media type without parameters ("application/json; charset=utf-8"). */
static const char *content_type_known(const char *ct)
{
    if (ct == NULL)
        return NULL;
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    if (n == sizeof(CT_JSON11) - 1 && strncasecmp(ct, CT_JSON11, n) == 0)
        return CT_JSON11;
    if (n == sizeof(CT_JSON) - 1 && strncasecmp(ct, CT_JSON, n) == 0)
        return CT_JSON;
    if (n == sizeof(CT_CBOR) - 1 && strncasecmp(ct, CT_CBOR, n) == 0)
        return CT_CBOR;
    return NULL;
}

static void handle_health(struct http_exchange *x)
{
    static const struct http_header h[] = {{"content-type", "text/plain", 12, 10}};
    struct evbuffer *body = evbuffer_new();
    ASSERT(body != NULL);
    evbuffer_add(body, "ok\n", 3);
    http_exchange_respond(x, 200, h, 1, body);
    evbuffer_free(body);
}

/* The pre-operation checks; returns the op or NULL after replying. */
static const struct api_op *gate(struct http_exchange *x, const struct http_request *req,
                                 const char **ctype)
{
    const char *raw_ct = http_request_header(req, "content-type");
    *ctype = content_type_known(raw_ct);
    const char *target = http_request_header(req, "x-amz-target");
    if (*ctype == NULL) {
        /* Without a known codec there is no Kinesis operation to talk to. */
        respond_error(x, CT_JSON11, 400, "UnknownOperationException", NULL);
        return NULL;
    }
    const struct api_op *op = NULL;
    if (target && strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)) == 0)
        op = api_op_find(target + strlen(TARGET_PREFIX));
    if (op == NULL || op->fn == NULL) {
        respond_error(x, *ctype, 400, "UnknownOperationException", NULL);
        return NULL;
    }
    char msg[1024];
    enum auth_result ar = auth_check(req, msg, sizeof(msg));
    if (ar != AUTH_OK) {
        respond_error(x, *ctype, 400, auth_result_type(ar), msg);
        return NULL;
    }
    return op;
}

/* A CBOR body becomes the JSON text the handlers parse: c->req turns into a copy of the request
 * whose body is that text (owned by c). false after replying SerializationException. */
static bool request_from_cbor(struct api_ctx *c)
{
    size_t len, off;
    int rc = awscbor_to_json(c->req->body, c->req->body_len, &c->json_body, &len, &off);
    if (rc != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Invalid CBOR request body: %s at byte %zu",
                 awscbor_strerror(rc), off);
        api_reply_type(c, 400, "SerializationException", msg);
        return false;
    }
    c->req_json = *c->req;
    c->req_json.body = (const uint8_t *)c->json_body;
    c->req_json.body_len = len;
    c->req = &c->req_json;
    return true;
}

bool api_admit_rate(struct api_ctx *c, const char *stream)
{
    if (oprate_admit(c->op_name, stream, clock_mono_ns()))
        return true;
    /* c->in's strings are valid UTF-8 (jansson); a name too long to be one is not quoted. */
    if (stream != NULL && strlen(stream) <= REG_NAME_MAX)
        api_reply_error(c, KERR_LIMIT_EXCEEDED, "Rate exceeded for stream %s under account %s.",
                        stream, g_cfg->account_id);
    else
        api_reply_error(c, KERR_LIMIT_EXCEEDED, "Rate exceeded for account %s.",
                        g_cfg->account_id);
    return false;
}

/* The control-plane call rate of c's operation, before its validation as AWS's front end
 * throttles first; false after replying. The stream is the one the request names, by
 * StreamName, StreamARN or ConsumerARN (ListShards by NextToken alone: its handler). */
static bool admit_rate(struct api_ctx *c)
{
    if (oprate_scope_of(c->op_name) == OPRATE_NONE)
        return true;
    char name[REG_NAME_MAX + 1], consumer[REG_NAME_MAX + 1];
    int64_t secs;
    const char *stream = json_string_value(json_object_get(c->in, "StreamName"));
    const char *arn = json_string_value(json_object_get(c->in, "StreamARN"));
    const char *carn = json_string_value(json_object_get(c->in, "ConsumerARN"));
    if (stream == NULL && arn != NULL && arn_parse_stream(arn, name, NULL, NULL) == 0)
        stream = name;
    if (stream == NULL && carn != NULL &&
        arn_parse_consumer(carn, name, consumer, &secs, NULL, NULL) == 0)
        stream = name;
    return api_admit_rate(c, stream);
}

void api_handle(struct http_exchange *x)
{
    const struct http_request *req = http_exchange_request(x);
    if (strcmp(req->method, "GET") == 0 && strncmp(req->path, "/health", 7) == 0 &&
        (req->path[7] == '\0' || req->path[7] == '?')) {
        handle_health(x);
        return;
    }
    if (strcmp(req->method, "GET") == 0 && strcmp(req->path, "/stats") == 0) {
        stats_handle(x); /* counters for tests and operators (server/stats.h) */
        return;
    }
    const char *ctype;
    const struct api_op *op = gate(x, req, &ctype);
    if (op == NULL)
        return;
    struct api_ctx *c = sc_calloc(1, sizeof(*c));
    c->x = x;
    c->req = req;
    c->content_type = ctype;
    c->cbor = ctype == CT_CBOR;
    c->op_name = op->name;
    if (c->cbor && req->body_len > 0 && !request_from_cbor(c))
        return;
    if (op->fn == api_put_record || op->fn == api_put_records) {
        /* The write path scans the raw body itself (server/jscan.h): no copy of the records. */
    } else if (c->req->body_len == 0) {
        c->in = json_object(); /* tolerate a missing body for ops without input */
    } else {
        json_error_t jerr;
        c->in =
            json_loadb((const char *)c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (c->in != NULL && !json_is_object(c->in)) {
            json_decref(c->in);
            c->in = NULL;
            snprintf(jerr.text, sizeof(jerr.text), "Request body must be a JSON object");
        }
        if (c->in == NULL) {
            api_reply_type(c, 400, "SerializationException", jerr.text);
            return;
        }
    }
    /* PutRecord(s) (c->in NULL: scanned by their handlers) have no control-plane rate. */
    if (c->in != NULL && !admit_rate(c))
        return;
    validate_init(&c->v);
    op->fn(c);
}

/* ---- shared helpers ------------------------------------------------------------------------ */

json_t *api_timestamp(int64_t ms)
{
    if (ms % 1000 == 0)
        return json_integer(ms / 1000);
    return json_real((double)ms / 1000.0);
}

char *api_stream_arn(char *buf, const char *name)
{
    return arn_stream(buf, ARN_MAX + 1, g_cfg->region, g_cfg->account_id, name);
}

void api_sel_validate(struct api_ctx *c, struct api_sel *sel, bool arn_required)
{
    sel->name = arn_required ? NULL
                             : validate_string(&c->v, c->in, "StreamName", "streamName", false, 1,
                                               REG_NAME_MAX, VALIDATE_NAME_PATTERN);
    sel->arn =
        validate_string(&c->v, c->in, "StreamARN", "streamARN", arn_required, 1, ARN_MAX, NULL);
    /* StreamId is accepted and ignored (kinesis-protocol §4: never route on it). */
    json_t *id = json_object_get(c->in, "StreamId");
    if (id != NULL && !json_is_string(id) && !json_is_null(id))
        (void)validate_string(&c->v, c->in, "StreamId", "streamId", false, 0, 24, NULL);
}

bool api_sel_resolve(struct api_ctx *c, const struct api_sel *sel, char *name)
{
    if (sel->arn != NULL) {
        char n[REG_NAME_MAX + 1], region[64], account[16];
        if (arn_parse_stream(sel->arn, n, region, account) != 0) {
            api_reply_error(c, KERR_VALIDATION,
                            "1 validation error detected: Value '%s' at 'streamARN' failed to "
                            "satisfy constraint: Member must satisfy regular expression pattern: "
                            "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
                            sel->arn);
            return false;
        }
        if (sel->name != NULL && strcmp(sel->name, n) != 0) {
            api_reply_error(c, KERR_INVALID_ARGUMENT,
                            "StreamARN %s and StreamName %s do not refer to the same stream.",
                            sel->arn, sel->name);
            return false;
        }
        if (strcmp(account, g_cfg->account_id) != 0 || strcmp(region, g_cfg->region) != 0) {
            api_reply_error(c, KERR_RESOURCE_NOT_FOUND, "Stream %s under account %s not found.", n,
                            account);
            return false;
        }
        strcpy(name, n);
        return true;
    }
    if (sel->name == NULL) {
        api_reply_error(c, KERR_INVALID_ARGUMENT,
                        "Either StreamName or StreamARN must be provided.");
        return false;
    }
    strcpy(name, sel->name);
    return true;
}

void api_reply_not_found(struct api_ctx *c, const char *stream)
{
    api_reply_error(c, KERR_RESOURCE_NOT_FOUND, "Stream %s under account %s not found.", stream,
                    g_cfg->account_id);
}

static const char *status_name(enum reg_status s)
{
    static const char *const names[] = {"CREATING", "DELETING", "ACTIVE", "UPDATING"};
    return names[s];
}

void api_reply_registry_error(struct api_ctx *c, int err, const char *stream)
{
    if (err == KERR_RESOURCE_NOT_FOUND) {
        api_reply_not_found(c, stream);
    } else if (err == KERR_RESOURCE_IN_USE) {
        struct reg_stream_info info;
        if (registry_stream_get(g_reg, stream, &info) == 0 && info.status != REG_ACTIVE)
            api_reply_error(c, err, "Stream %s under account %s not ACTIVE, instead in state %s",
                            stream, g_cfg->account_id, status_name(info.status));
        else
            api_reply_error(c, err, "Stream %s under account %s is in use.", stream,
                            g_cfg->account_id);
    } else if (err == KERR_LIMIT_EXCEEDED) {
        api_reply_error(c, err, "Limit exceeded for stream %s under account %s.", stream,
                        g_cfg->account_id);
    } else if (err == -EAGAIN) {
        /* shardtab: the new incarnation of a re-created stream waits until the old one's logs
         * are closed (a housekeeping turn). Retryable, as PutRecord(s) answer it; it was a 500
         * InternalFailure on the read path. */
        api_reply_error(c, KERR_SERVICE_UNAVAILABLE, "Stream %s is being re-created; retry.",
                        stream);
    } else {
        api_reply_error(c, err < -4095 ? err : KERR_INTERNAL, "Internal service failure: %s",
                        kerr_name(err));
    }
}

/* ---- tokens -------------------------------------------------------------------------------- */

void api_reply_result(struct api_ctx *c, int rc, const char *stream)
{
    if (rc != 0)
        api_reply_registry_error(c, rc, stream);
    else
        api_reply_json(c, NULL);
}

#define TOKEN_RAW_MAX 600
#define TOKEN_TEXT_MAX ((TOKEN_RAW_MAX + ITERATOR_MAC_BYTES + 2) / 3 * 4)
STATIC_ASSERT(TOKEN_TEXT_MAX <= ITERATOR_B64_MAX, "tokens decode with the iterator base64");
#define TOKEN_LIFETIME_MS 300000

char *api_token_make(const char *kind, const char *stream, const char *cursor)
{
    const struct iterator_key *key = api_key();
    ASSERT(key != NULL); /* loaded by api_init, or the server did not start */
    uint8_t raw[TOKEN_RAW_MAX + ITERATOR_MAC_BYTES];
    int n = snprintf((char *)raw, TOKEN_RAW_MAX, "%s\n%s\n%s\n%lld", kind, stream, cursor,
                     (long long)clock_now_ms());
    ASSERT(n > 0 && n < TOKEN_RAW_MAX);
    iterator_key_mac(key, raw, (size_t)n, raw + n);
    char *out = sc_malloc(TOKEN_TEXT_MAX + 1);
    EVP_EncodeBlock((unsigned char *)out, raw, n + ITERATOR_MAC_BYTES);
    return out;
}

int api_token_parse(const char *tok, const char *kind, char *stream, char *cursor,
                    size_t cursor_cap)
{
    const struct iterator_key *key = api_key();
    size_t len = strlen(tok);
    if (key == NULL || len > TOKEN_TEXT_MAX)
        return KERR_INVALID_ARGUMENT;
    uint8_t raw[TOKEN_TEXT_MAX / 4 * 3 + 1];
    int n = iterator_b64_decode(tok, len, raw, sizeof(raw) - 1);
    if (n <= ITERATOR_MAC_BYTES)
        return KERR_INVALID_ARGUMENT;
    size_t body = (size_t)n - ITERATOR_MAC_BYTES;
    uint8_t want[ITERATOR_MAC_BYTES];
    iterator_key_mac(key, raw, body, want);
    if (CRYPTO_memcmp(want, raw + body, ITERATOR_MAC_BYTES) != 0)
        return KERR_INVALID_ARGUMENT;
    /* Authentic from here on: api_token_make wrote it. Still parsed defensively. */
    raw[body] = '\0';
    char *save = NULL, *k = strtok_r((char *)raw, "\n", &save);
    char *s = strtok_r(NULL, "\n", &save);
    char *cur = strtok_r(NULL, "\n", &save);
    char *t = strtok_r(NULL, "\n", &save);
    if (!k || !s || !cur || !t || strcmp(k, kind) != 0 || strlen(s) > REG_NAME_MAX ||
        strlen(cur) >= cursor_cap)
        return KERR_INVALID_ARGUMENT;
    char *end;
    errno = 0;
    long long issued = strtoll(t, &end, 10);
    if (*end != '\0' || errno != 0)
        return KERR_INVALID_ARGUMENT;
    strcpy(stream, s);
    strcpy(cursor, cur);
    /* Compared without a subtraction that could overflow. */
    if (issued < clock_now_ms() - TOKEN_LIFETIME_MS)
        return KERR_EXPIRED_NEXT_TOKEN;
    return 0;
}
