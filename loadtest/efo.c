/* efo.c — an enhanced fan-out consumer: RegisterStreamConsumer (or reuse an existing one),
 * wait for ACTIVE, then one SubscribeToShard per shard, decoding the event stream as it
 * arrives. A subscription that ends (AWS closes them after 5 minutes, or the connection drops)
 * is renewed with AFTER_SEQUENCE_NUMBER = the last ContinuationSequenceNumber, so no record is
 * lost or repeated, at most once per second per shard (the AWS rate limit). Subscriptions are
 * spread over connections of at most EFO_STREAMS_PER_CONN streams, below the usual
 * SETTINGS_MAX_CONCURRENT_STREAMS of 100. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/common.h"
#include "jkey.h"
#include "run.h"
#include "subscribe/awscbor.h"
#include "subscribe/eventstream.h"

#define EFO_STREAMS_PER_CONN 100
#define EFO_RETRY_NS 1000000000ull
#define EFO_WAIT_MS 60000
#define EFO_CBOR "application/x-amz-cbor-1.1"

struct efo_conns {
    struct hconn **v;
    int n;
};

static struct efo_conns *conns_of(struct lt_consumer *c)
{
    return c->efo_conns;
}

static struct hconn *pipe_conn(struct lt_pipe *p)
{
    return conns_of(p->c)->v[p->shard / EFO_STREAMS_PER_CONN];
}

static int describe_until_active(struct lt_consumer *c)
{
    struct run *r = c->run;
    uint64_t deadline = clock_mono_ns() + EFO_WAIT_MS * 1000000ull;
    for (;;) {
        json_t *resp = NULL;
        char type[64];
        int rv = kapi_call_sync(
            &r->api, r->ctl, "DescribeStreamConsumer",
            json_pack("{s:s, s:s}", "StreamARN", r->stream_arn, "ConsumerName", c->name), &resp,
            type);
        if (rv != 0) {
            snprintf(r->failure, sizeof(r->failure), "DescribeStreamConsumer: %s", type);
            return rv < 0 ? rv : -EIO;
        }
        json_t *d = json_object_get(resp, "ConsumerDescription");
        const char *st = json_string_value(json_object_get(d, "ConsumerStatus"));
        const char *arn = json_string_value(json_object_get(d, "ConsumerARN"));
        if (arn)
            snprintf(c->arn, sizeof(c->arn), "%s", arn);
        bool active = st && strcmp(st, "ACTIVE") == 0;
        json_decref(resp);
        if (active)
            return 0;
        if (clock_mono_ns() > deadline) {
            snprintf(r->failure, sizeof(r->failure), "consumer %s not ACTIVE after %d ms", c->name,
                     EFO_WAIT_MS);
            return -EIO;
        }
        kapi_sleep_ms(&r->api, 100);
    }
}

int efo_register(struct lt_consumer *c)
{
    struct run *r = c->run;
    json_t *resp = NULL;
    char type[64];
    int rv = kapi_call_sync(
        &r->api, r->ctl, "RegisterStreamConsumer",
        json_pack("{s:s, s:s}", "StreamARN", r->stream_arn, "ConsumerName", c->name), &resp, type);
    json_decref(resp);
    if (rv < 0)
        return rv;
    if (rv == 1 && strcmp(type, "ResourceInUseException") != 0) {
        snprintf(r->failure, sizeof(r->failure), "RegisterStreamConsumer: %s", type);
        return -EIO;
    }
    c->created = rv == 0;
    return 0;
}

int efo_await(struct lt_consumer *c)
{
    struct run *r = c->run;
    int rv = describe_until_active(c);
    if (rv < 0)
        return rv;
    int n_conns = (r->n_shards + EFO_STREAMS_PER_CONN - 1) / EFO_STREAMS_PER_CONN;
    struct efo_conns *cs = sc_calloc(1, sizeof(*cs));
    cs->v = sc_calloc((size_t)n_conns, sizeof(*cs->v));
    cs->n = n_conns;
    for (int i = 0; i < n_conns; i++)
        cs->v[i] = hconn_create(r->base, &r->ep, (uint32_t)r->cfg.timeout_ms);
    c->efo_conns = cs;
    c->pipes = sc_calloc((size_t)r->n_shards, sizeof(*c->pipes));
    for (int i = 0; i < r->n_shards; i++) {
        c->pipes[i].c = c;
        c->pipes[i].shard = i;
        c->pipes[i].es = evbuffer_new();
        eventstream_decoder_init(&c->pipes[i].dec, 0);
    }
    return 0;
}

/* A string header's value as a NUL-terminated copy in out ("" when absent or not a string),
 * cut to out_len - 1 bytes. Called twice per event: no snprintf (it showed in profiles). */
static void header_str(const struct eventstream_message *m, const char *name, char *out,
                       size_t out_len)
{
    struct eventstream_header h;
    size_t n = 0;
    if (eventstream_message_header(m, name, &h) && h.type == EVENTSTREAM_STRING) {
        n = SC_MIN((size_t)h.v.bytes.len, out_len - 1);
        memcpy(out, h.v.bytes.ptr, n);
    }
    out[n] = '\0';
}

/* A SubscribeToShardEvent payload, scanned instead of parsed: at tens of thousands of records/s
 * a full JSON parse of every base64 Data string costs more CPU than the server under test
 * spends sending them. Only the first 28 base64 characters of each Data (our 20-byte header)
 * are decoded. */
void efo_scan_event(struct lt_pipe *p, const char *json, size_t len, int64_t now_wall)
{
    struct lt_consumer *c = p->c;
    struct lt_pathstats *st = &c->run->stats[LT_PATH_EFO];
    const char *cur = json, *end = json + len;
    size_t n;
    const char *data;
    static const char data_key[] = "\"Data\":\"";
    const size_t dk = sizeof(data_key) - 1;
    while ((data = jkey_str(cur, end, "Data", &n)) != NULL) {
        int64_t stored_ms;
        if (data - json < (ptrdiff_t)dk || memcmp(data - dk, data_key, dk) != 0 ||
            !jkey_seconds_before(json, data - dk, "ApproximateArrivalTimestamp", &stored_ms))
            stored_ms = -1;
        if (run_on_record_b64(c, data, n, stored_ms, now_wall)) {
            p->records++;
            p->bytes += n / 4 * 3 - (n >= 1 && data[n - 1] == '=') - (n >= 2 && data[n - 2] == '=');
        }
        cur = data + n + 1;
    }
    /* Key order is not guaranteed; a key pattern cannot match inside a value, so search all. */
    const char *cont = jkey_str(json, end, "ContinuationSequenceNumber", &n);
    if (cont && n < sizeof(p->continuation)) {
        memcpy(p->continuation, cont, n);
        p->continuation[n] = '\0';
    } else if (!cont) {
        const char *ch = jkey_value(json, end, "ChildShards");
        if (ch && ch + 1 < end && *ch == '[' && *jkey_skip_ws(ch + 1, end) != ']')
            p->ended = true;
    }
    uint64_t mbl;
    if (jkey_uint(json, end, "MillisBehindLatest", &mbl)) {
        st->millis_behind_last = (int64_t)mbl;
        st->millis_behind_max = SC_MAX(st->millis_behind_max, st->millis_behind_last);
    }
}

static void on_event(struct lt_pipe *p, const struct eventstream_message *m, int64_t now_wall)
{
    struct lt_consumer *c = p->c;
    struct run *r = c->run;
    struct lt_pathstats *st = &r->stats[LT_PATH_EFO];
    char mtype[32], etype[64];
    header_str(m, ":message-type", mtype, sizeof(mtype));
    header_str(m, ":event-type", etype, sizeof(etype));
    if (strcmp(mtype, "event") == 0 && strcmp(etype, "initial-response") == 0) {
        p->live = true;
        return;
    }
    if (strcmp(mtype, "event") != 0) {
        char t[64];
        header_str(m, strcmp(mtype, "exception") == 0 ? ":exception-type" : ":error-code", t,
                   sizeof(t));
        st->errors++;
        if (st->errors <= 5)
            LOG_WARN("%s %s: event-stream %s %s", c->name, r->shard_ids[p->shard], mtype, t);
        if (strcmp(t, "ResourceNotFoundException") == 0)
            run_fail(r, LT_EXIT_FAILED, "stream or consumer disappeared (SubscribeToShard)");
        return;
    }
    if (strcmp(etype, "SubscribeToShardEvent") != 0)
        return;
    p->live = true; /* kinesis-mock sends no initial-response: the first event marks it */
    if (!r->cfg.cbor) {
        efo_scan_event(p, (const char *)m->payload, m->payload_len, now_wall);
        return;
    }
    /* The codec's own JSON form (Data as base64, times as seconds) is what the scanner reads:
     * one conversion per event, the price a CBOR client pays too. */
    char *json;
    size_t len;
    int rc = awscbor_to_json(m->payload, m->payload_len, &json, &len, NULL);
    if (rc != 0) {
        run_fail(r, LT_EXIT_FAILED, "undecodable CBOR event from %s (%s)",
                 r->shard_ids[p->shard], awscbor_strerror(rc));
        return;
    }
    efo_scan_event(p, json, len, now_wall);
    free(json);
}

static void sub_on_headers(void *arg, int status)
{
    struct lt_pipe *p = arg;
    p->http_status = status;
    LOG_DEBUG("SubscribeToShard %s %s: HTTP %d", p->c->name, p->c->run->shard_ids[p->shard],
              status);
}

static void sub_on_data(void *arg, const uint8_t *data, size_t len)
{
    struct lt_pipe *p = arg;
    int64_t now_wall = run_wall_ns();
    LOG_DEBUG("SubscribeToShard %s: %zu bytes", p->c->run->shard_ids[p->shard], len);
    if (p->http_status != 200) {
        evbuffer_add(p->es, data, len); /* an error body, read whole in sub_on_done */
        return;
    }
    while (len > 0) {
        struct eventstream_message m;
        size_t used = 0;
        int rv = eventstream_decoder_next(&p->dec, data, len, &used, &m);
        if (rv == 0)
            return;
        if (rv < 0) {
            run_fail(p->c->run, LT_EXIT_FAILED, "undecodable event stream from %s (%s)",
                     p->c->run->shard_ids[p->shard], eventstream_strerror(rv));
            return;
        }
        on_event(p, &m, now_wall);
        data += used;
        len -= used;
    }
}

static void sub_on_done(void *arg, int err, int status, const uint8_t *body, size_t len)
{
    (void)body;
    (void)len;
    struct lt_pipe *p = arg;
    struct run *r = p->c->run;
    struct lt_pathstats *st = &r->stats[LT_PATH_EFO];
    p->sub_open = false;
    p->next_ns = clock_mono_ns() + EFO_RETRY_NS;
    LOG_DEBUG("SubscribeToShard %s ended: err %d HTTP %d", r->shard_ids[p->shard], err, status);
    if (err == 0 && status != 200) {
        size_t n = evbuffer_get_length(p->es);
        const char *text = (const char *)evbuffer_pullup(p->es, -1);
        char *conv = NULL;
        size_t conv_len;
        if (r->cfg.cbor && n > 0 &&
            awscbor_to_json((const uint8_t *)text, n, &conv, &conv_len, NULL) == 0) {
            text = conv;
            n = conv_len;
        }
        json_t *j = json_loadb(text, n, 0, NULL);
        free(conv);
        char type[64];
        kapi_error_type(j, type);
        json_decref(j);
        if (kapi_is_throttle(type) || strcmp(type, "ResourceInUseException") == 0) {
            st->throttled++;
        } else if (strcmp(type, "ResourceNotFoundException") == 0) {
            run_fail(r, LT_EXIT_FAILED, "stream or consumer disappeared (SubscribeToShard: %s)",
                     type);
        } else {
            st->errors++;
            if (st->errors <= 5)
                LOG_WARN("SubscribeToShard %s: HTTP %d %s", r->shard_ids[p->shard], status, type);
        }
    } else if (err < 0) {
        st->errors++;
    }
    evbuffer_drain(p->es, evbuffer_get_length(p->es));
}

static const struct hreq_cbs sub_cbs = {
    .on_headers = sub_on_headers, .on_data = sub_on_data, .on_done = sub_on_done};

static int subscribe(struct lt_pipe *p)
{
    struct lt_consumer *c = p->c;
    struct run *r = c->run;
    json_t *pos = p->continuation[0] ? json_pack("{s:s, s:s}", "Type", "AFTER_SEQUENCE_NUMBER",
                                                 "SequenceNumber", p->continuation)
                                     : json_pack("{s:s}", "Type", "LATEST");
    json_t *req = json_pack("{s:s, s:s, s:o}", "ConsumerARN", c->arn, "ShardId",
                            r->shard_ids[p->shard], "StartingPosition", pos);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    size_t body_len = strlen(body);
    if (r->cfg.cbor) {
        uint8_t *cbor;
        int rc = awscbor_from_json(body, body_len, &cbor, &body_len);
        ASSERT(rc == 0); /* our own JSON */
        free(body);
        body = (char *)cbor;
    }
    struct hheader hdrs[8];
    char storage[1024];
    size_t n = kapi_headers(&r->api, "SubscribeToShard", r->cfg.cbor ? EFO_CBOR : NULL, body,
                            body_len, hdrs, storage, sizeof(storage));
    p->http_status = 0;
    eventstream_decoder_dispose(&p->dec);
    eventstream_decoder_init(&p->dec, 0); /* a new stream starts on a message boundary */
    p->sub_open = true;
    p->subscribes++;
    r->stats[LT_PATH_EFO].calls++;
    int rv = hconn_request(pipe_conn(p), hdrs, n, body, body_len, true, &sub_cbs, p);
    free(body);
    if (rv < 0) {
        p->sub_open = false;
        p->next_ns = clock_mono_ns() + EFO_RETRY_NS;
    }
    return rv;
}

int efo_start(struct lt_consumer *c)
{
    for (int i = 0; i < c->run->n_shards; i++)
        subscribe(&c->pipes[i]);
    return 0;
}

void efo_tick(struct lt_consumer *c)
{
    struct run *r = c->run;
    struct efo_conns *cs = conns_of(c);
    for (int k = 0; k < cs->n; k++) {
        if (!hconn_is_dead(cs->v[k]))
            continue;
        bool open = false;
        for (int i = k * EFO_STREAMS_PER_CONN;
             i < SC_MIN(r->n_shards, (k + 1) * EFO_STREAMS_PER_CONN); i++)
            open |= c->pipes[i].sub_open;
        if (open)
            continue;
        hconn_destroy(cs->v[k]);
        cs->v[k] = hconn_create(r->base, &r->ep, (uint32_t)r->cfg.timeout_ms);
        c->reconnects++;
    }
    uint64_t now = clock_mono_ns();
    for (int i = 0; i < r->n_shards; i++) {
        struct lt_pipe *p = &c->pipes[i];
        if (!p->sub_open && !p->ended && now >= p->next_ns)
            subscribe(p);
    }
}

int efo_live(const struct lt_consumer *c)
{
    int n = 0;
    for (int i = 0; c->pipes && i < c->run->n_shards; i++)
        n += c->pipes[i].live;
    return n;
}

void efo_disconnect(struct lt_consumer *c)
{
    struct efo_conns *cs = conns_of(c);
    if (!cs)
        return;
    for (int k = 0; k < cs->n; k++)
        hconn_destroy(cs->v[k]);
    free(cs->v);
    free(cs);
    c->efo_conns = NULL;
    for (int i = 0; c->pipes && i < c->run->n_shards; i++)
        c->pipes[i].sub_open = false;
}

void efo_stop(struct lt_consumer *c)
{
    efo_disconnect(c);
    for (int i = 0; c->pipes && i < c->run->n_shards; i++) {
        evbuffer_free(c->pipes[i].es);
        eventstream_decoder_dispose(&c->pipes[i].dec);
    }
    free(c->pipes);
    c->pipes = NULL;
}
