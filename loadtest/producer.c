/* producer.c — PutRecords at --rate records/s. A --tick-ms timer computes how many records are due
 * since the start (so a late timer catches up instead of drifting), and sends them in batches
 * of at most 500 records / 4 MiB (AWS limits). At most LT_PUT_INFLIGHT calls are in flight;
 * records that cannot be sent because of that are counted as `behind`, not silently dropped. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/clock.h"
#include "common/common.h"
#include "jkey.h"
#include "run.h"

#define LT_PUT_INFLIGHT 64
#define LT_PUT_BATCH_MAX 500
#define LT_PUT_BYTES_MAX (4u << 20)

/* One in-flight PutRecords call; slots live in a fixed array so nothing leaks when the run
 * ends with calls still pending. */
struct put_ctx {
    struct run *r;
    bool used;
    uint64_t first_id;
    uint32_t n;
    uint32_t record_size;
    uint64_t sent_mono_ns;
};

static struct put_ctx put_slots[LT_PUT_INFLIGHT];

static struct put_ctx *slot_get(void)
{
    for (size_t i = 0; i < LT_PUT_INFLIGHT; i++)
        if (!put_slots[i].used)
            return &put_slots[i];
    return NULL;
}

static void bit_set(uint8_t *bm, uint64_t id)
{
    bm[id >> 3] |= (uint8_t)(1u << (id & 7));
}

static void put_acked(struct run *r, uint64_t id, uint32_t record_size)
{
    r->acked_n++;
    r->produced_bytes += record_size;
    if (id < r->id_cap) {
        bit_set(r->acked, id);
        if (r->have_first_measured && id >= r->first_measured_id)
            r->measured_acked++;
    }
}

static void put_done(void *arg, int err, int status, const char *body, size_t len,
                     const char *err_type)
{
    struct put_ctx *p = arg;
    struct run *r = p->r;
    r->in_flight--;
    r->put_calls++;
    if (err == 0 && status == 200)
        hist_record(&r->put_hist, (clock_mono_ns() - p->sent_mono_ns) / 1000u);
    if (err < 0 || status != 200) {
        if (err == 0 && kapi_is_throttle(err_type))
            r->put_throttled += p->n;
        else
            r->put_errors++;
        r->put_failed += p->n;
        if (err == 0 && strcmp(err_type, "ResourceNotFoundException") == 0)
            run_fail(r, LT_EXIT_FAILED, "stream %s disappeared (PutRecords: %s)", r->cfg.stream,
                     err_type);
        else if (err == 0 && !kapi_is_throttle(err_type) && r->put_errors <= 3)
            LOG_WARN("PutRecords failed: HTTP %d %s", status, err_type);
        p->used = false;
        return;
    }
    uint64_t failed;
    if (jkey_uint(body, body + len, "FailedRecordCount", &failed) && failed == 0) {
        /* the usual answer, every entry stored: nothing else to read in it */
        for (uint32_t i = 0; i < p->n; i++)
            put_acked(r, p->first_id + i, p->record_size);
        p->used = false;
        return;
    }
    json_t *resp = json_loadb(body, len, 0, NULL);
    json_t *recs = json_object_get(resp, "Records");
    for (uint32_t i = 0; i < p->n; i++) {
        json_t *rec = json_array_get(recs, i);
        const char *code = json_string_value(json_object_get(rec, "ErrorCode"));
        if (!rec || code) {
            r->put_failed++;
            if (code && kapi_is_throttle(code))
                r->put_throttled++;
            continue;
        }
        put_acked(r, p->first_id + i, p->record_size);
    }
    json_decref(resp);
    p->used = false;
}

/* The base64 Data of every record: the padding after the 20-byte header never changes, and
 * base64 maps each 3 input bytes to 4 output characters on their own, so only the first 28
 * characters (bytes 0..20) are encoded per record; the rest is encoded once. */
static void b64_init(struct run *r)
{
    size_t size = (size_t)r->cfg.record_size;
    r->payload = sc_calloc(1, size);
    memset(r->payload, 'x', size);
    memcpy(r->payload, LT_MAGIC, 4);
    r->b64_len = 4 * ((size + 2) / 3);
    r->b64 = sc_malloc(r->b64_len + 1);
    EVP_EncodeBlock((unsigned char *)r->b64, r->payload, (int)size);
    json_t *name = json_string(r->cfg.stream);
    r->stream_json = json_dumps(name, JSON_ENCODE_ANY);
    json_decref(name);
    ASSERT(r->stream_json);
}

/* Rewrites the header (send time, id) of the cached base64 Data. */
static void encode_header(struct run *r, uint64_t id, int64_t now_ns)
{
    uint8_t *pl = r->payload;
    for (int i = 0; i < 8; i++) {
        pl[4 + i] = (uint8_t)((uint64_t)now_ns >> (56 - 8 * i));
        pl[12 + i] = (uint8_t)(id >> (56 - 8 * i));
    }
    if (r->cfg.record_size <= 21) {
        EVP_EncodeBlock((unsigned char *)r->b64, pl, r->cfg.record_size);
        return;
    }
    char head[32];
    EVP_EncodeBlock((unsigned char *)head, pl, 21); /* 21 bytes -> exactly 28 characters */
    memcpy(r->b64, head, 28);
}

/* The PutRecords body, written directly: at tens of thousands of 1 KiB records/s building it
 * with jansson (which checks every byte of every base64 string) cost more CPU than the server
 * spent storing them. Only the stream name needs JSON escaping. */
static char *batch_body(struct run *r, uint32_t n, int64_t now, size_t *len)
{
    const char *name = r->stream_json;
    size_t cap = strlen(name) + 64 + (size_t)n * (r->b64_len + 64), off = 0;
    char *body = sc_malloc(cap);
    off += (size_t)snprintf(body, cap, "{\"StreamName\":%s,\"Records\":[", name);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = r->next_id + i;
        encode_header(r, id, now);
        off += (size_t)snprintf(body + off, cap - off, "%s{\"Data\":\"", i ? "," : "");
        memcpy(body + off, r->b64, r->b64_len);
        off += r->b64_len;
        off += (size_t)snprintf(body + off, cap - off, "\",\"PartitionKey\":\"%llu\"}",
                                (unsigned long long)id);
    }
    off += (size_t)snprintf(body + off, cap - off, "]}");
    ASSERT(off < cap);
    *len = off;
    return body;
}

static int send_batch(struct run *r, uint32_t n)
{
    int64_t now = run_wall_ns();
    if (!r->have_first_measured && now >= r->measure_start_ns) {
        r->have_first_measured = true;
        r->first_measured_id = r->next_id;
    }
    struct put_ctx *p = slot_get();
    ASSERT(p); /* the caller keeps in_flight < LT_PUT_INFLIGHT */
    *p = (struct put_ctx){r, true, r->next_id, n, (uint32_t)r->cfg.record_size, clock_mono_ns()};
    size_t len;
    char *body = batch_body(r, n, now, &len);
    r->next_id += n;
    r->sent += n;
    r->in_flight++; /* before the call: a dead connection may answer synchronously */
    int rv = kapi_call_body(&r->api, r->pconn, "PutRecords", body, len, put_done, p);
    free(body);
    if (rv < 0) {
        r->in_flight--;
        p->used = false;
        r->put_failed += n;
        return rv;
    }
    return 0;
}

static void on_ptimer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct run *r = arg;
    if (!r->producing)
        return;
    uint64_t now = clock_mono_ns();
    if (now >= r->produce_end_mono_ns) {
        producer_stop(r);
        return;
    }
    if (hconn_is_dead(r->pconn)) {
        if (r->in_flight > 0)
            return; /* callbacks already fired; wait for the counter to settle */
        hconn_destroy(r->pconn);
        r->pconn = hconn_create(r->base, &r->ep, (uint32_t)r->cfg.timeout_ms);
    }
    double elapsed = (double)(now - r->t0_mono_ns) / 1e9;
    uint64_t due = (uint64_t)(elapsed * r->cfg.rate);
    uint64_t owed = due > r->sent + r->behind ? due - r->sent - r->behind : 0;
    /* At least one: a record past 2 MiB goes alone (a call may carry 10 MiB). */
    uint32_t per_batch = (uint32_t)SC_MAX(
        1, SC_MIN((uint64_t)LT_PUT_BATCH_MAX,
                  LT_PUT_BYTES_MAX / ((uint64_t)r->cfg.record_size * 2)));
    while (owed > 0) {
        if (r->in_flight >= LT_PUT_INFLIGHT) {
            /* Keep a bounded backlog: beyond one second of records we give up on them. */
            if (owed > (uint64_t)r->cfg.rate + LT_PUT_BATCH_MAX)
                r->behind += owed - (uint64_t)r->cfg.rate;
            return;
        }
        uint32_t n = (uint32_t)SC_MIN(owed, (uint64_t)per_batch);
        if (send_batch(r, n) < 0)
            return;
        owed -= n;
    }
}

int producer_start(struct run *r)
{
    hist_init(&r->put_hist);
    b64_init(r);
    double total = r->cfg.rate * (r->cfg.duration_s + r->cfg.warmup_s) * 1.2 + 1024;
    r->id_cap = (uint64_t)total;
    r->acked = sc_calloc(1, (size_t)(r->id_cap / 8 + 1));
    r->pconn = hconn_create(r->base, &r->ep, (uint32_t)r->cfg.timeout_ms);
    if (!r->pconn)
        return -ENOMEM;
    r->ptimer = event_new(r->base, -1, EV_PERSIST, on_ptimer, r);
    struct timeval tv = {r->cfg.tick_ms / 1000, (r->cfg.tick_ms % 1000) * 1000};
    event_add(r->ptimer, &tv);
    r->producing = true;
    return 0;
}

void producer_stop(struct run *r)
{
    if (!r->producing)
        return;
    r->producing = false;
    if (r->ptimer)
        event_del(r->ptimer);
}
