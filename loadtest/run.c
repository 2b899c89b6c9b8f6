/* run.c — setup (stream, shards, consumers), the run timeline and delivery accounting. */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/clock.h"
#include "common/common.h"

#define LT_SETUP_WAIT_MS 60000
#define LT_REGISTER_WAVE 5

int64_t run_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool run_bit(const uint8_t *bm, uint64_t id)
{
    return (bm[id >> 3] >> (id & 7)) & 1;
}

void run_fail(struct run *r, int exit_code, const char *fmt, ...)
{
    if (r->failure[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->failure, sizeof(r->failure), fmt, ap);
        va_end(ap);
        LOG_ERROR("%s", r->failure);
        r->exit_code = exit_code;
    }
    r->stopped = true;
}

static void record_leg(struct hist *h, int64_t ns)
{
    hist_record(h, ns > 0 ? (uint64_t)ns / 1000u : 0);
}

bool run_on_record(struct lt_consumer *c, const uint8_t *data, size_t len, int64_t stored_ms,
                   int64_t now_ns)
{
    struct run *r = c->run;
    if (len < LT_PAYLOAD_MIN || memcmp(data, LT_MAGIC, 4) != 0)
        return false; /* not ours (a shared stream) */
    uint64_t sent = 0, id = 0;
    for (int i = 0; i < 8; i++) {
        sent = sent << 8 | data[4 + i];
        id = id << 8 | data[12 + i];
    }
    if ((int64_t)sent < r->measure_start_ns || id >= r->id_cap)
        return false; /* warm-up, or a previous run's record */
    if (run_bit(c->seen, id)) {
        c->duplicates++;
        return false;
    }
    c->seen[id >> 3] |= (uint8_t)(1u << (id & 7));
    c->received++;
    c->bytes += (uint64_t)r->cfg.record_size;
    record_leg(&c->hist, now_ns - (int64_t)sent);
    int64_t second = ((int64_t)sent - r->measure_start_ns) / 1000000000;
    /* The producer stops by the monotonic clock, the stamp is wall time: a record sent at the
     * very end belongs to the last second, not past it. */
    if (second == r->timeline_n && second > 0 && r->cfg.duration_s <= LT_TIMELINE_MAX_S)
        second = r->timeline_n - 1;
    if (second < r->timeline_n)
        record_leg(&r->timeline[c->path][second], now_ns - (int64_t)sent);
    if (stored_ms >= 0) {
        record_leg(&c->leg_in, stored_ms * 1000000 - (int64_t)sent);
        record_leg(&c->leg_out, now_ns - stored_ms * 1000000);
    }
    return true;
}

bool run_on_record_b64(struct lt_consumer *c, const char *b64, size_t b64_len, int64_t stored_ms,
                       int64_t now_ns)
{
    uint8_t buf[32];
    if (b64_len < 28)
        return false;
    /* 28 base64 chars decode to 21 bytes: the 20-byte header and one padding byte. */
    int n = EVP_DecodeBlock(buf, (const unsigned char *)b64, 28);
    return n >= LT_PAYLOAD_MIN && run_on_record(c, buf, (size_t)n, stored_ms, now_ns);
}

uint64_t run_missing(const struct run *r, const struct lt_consumer *c)
{
    if (!r->have_first_measured)
        return 0;
    uint64_t missing = 0, end = SC_MIN(r->next_id, r->id_cap);
    for (uint64_t id = r->first_measured_id; id < end; id++)
        if (run_bit(r->acked, id) && !run_bit(c->seen, id))
            missing++;
    return missing;
}

/* Classifies a setup failure into an exit code with a clear message. */
static int setup_error(struct run *r, const char *op, int rv, const char *type)
{
    if (rv < 0) {
        run_fail(r, LT_EXIT_UNREACHABLE, "endpoint %s unreachable (%s: %s)", r->cfg.endpoint, op,
                 strerror(-rv));
        return LT_EXIT_UNREACHABLE;
    }
    static const char *auth[] = {
        "UnrecognizedClientException",  "InvalidSignatureException",
        "AccessDeniedException",        "MissingAuthenticationTokenException",
        "IncompleteSignatureException", "ExpiredTokenException"};
    for (size_t i = 0; i < SC_ARRAY_LEN(auth); i++) {
        if (strcmp(type, auth[i]) == 0) {
            run_fail(r, LT_EXIT_UNREACHABLE, "credentials refused by %s (%s: %s)", r->cfg.endpoint,
                     op, type);
            return LT_EXIT_UNREACHABLE;
        }
    }
    run_fail(r, LT_EXIT_FAILED, "%s failed: %s", op, type);
    return LT_EXIT_FAILED;
}

static int ensure_stream(struct run *r)
{
    uint64_t deadline = clock_mono_ns() + LT_SETUP_WAIT_MS * 1000000ull;
    for (;;) {
        json_t *resp = NULL;
        char type[64];
        int rv = kapi_call_sync(&r->api, r->ctl, "DescribeStream",
                                json_pack("{s:s, s:i}", "StreamName", r->cfg.stream, "Limit", 1),
                                &resp, type);
        if (rv == 1 && strcmp(type, "ResourceNotFoundException") == 0 && !r->created_stream) {
            json_t *req =
                json_pack("{s:s, s:i}", "StreamName", r->cfg.stream, "ShardCount", r->cfg.shards);
            int kib = (r->cfg.record_size + LT_KEY_MAX + 1023) / 1024;
            if (kib > 1024) /* AWS's large records: only then, so other endpoints see the old call */
                json_object_set_new(req, "MaxRecordSizeInKiB", json_integer(kib));
            rv = kapi_call_sync(&r->api, r->ctl, "CreateStream", req, &resp, type);
            json_decref(resp);
            if (rv != 0 && !(rv == 1 && strcmp(type, "ResourceInUseException") == 0))
                return setup_error(r, "CreateStream", rv, type);
            r->created_stream = rv == 0;
            if (!r->cfg.quiet)
                fprintf(stderr, "created stream %s with %d shards\n", r->cfg.stream, r->cfg.shards);
            continue;
        }
        if (rv != 0 && !(rv == 1 && strcmp(type, "ResourceNotFoundException") == 0))
            return setup_error(r, "DescribeStream", rv, type);
        json_t *d = json_object_get(resp, "StreamDescription");
        const char *status = json_string_value(json_object_get(d, "StreamStatus"));
        const char *arn = json_string_value(json_object_get(d, "StreamARN"));
        if (arn)
            snprintf(r->stream_arn, sizeof(r->stream_arn), "%s", arn);
        bool active = status && (strcmp(status, "ACTIVE") == 0 || strcmp(status, "UPDATING") == 0);
        json_decref(resp);
        if (active)
            return 0;
        if (clock_mono_ns() > deadline) {
            run_fail(r, LT_EXIT_FAILED, "stream %s not ACTIVE after %d ms", r->cfg.stream,
                     LT_SETUP_WAIT_MS);
            return LT_EXIT_FAILED;
        }
        kapi_sleep_ms(&r->api, 100);
    }
}

static int list_shards(struct run *r)
{
    char next[4096] = "";
    for (int page = 0; page < 100; page++) {
        json_t *req = next[0] ? json_pack("{s:s}", "NextToken", next)
                              : json_pack("{s:s}", "StreamName", r->cfg.stream);
        json_t *resp = NULL;
        char type[64];
        int rv = kapi_call_sync(&r->api, r->ctl, "ListShards", req, &resp, type);
        if (rv != 0)
            return setup_error(r, "ListShards", rv, type);
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(resp, "Shards"), i, s)
        {
            json_t *range = json_object_get(s, "SequenceNumberRange");
            if (json_string_value(json_object_get(range, "EndingSequenceNumber")))
                continue; /* closed (kinesis-mock sends null for open ones) */
            r->shard_ids = sc_realloc(r->shard_ids, sizeof(char *) * (size_t)(r->n_shards + 1));
            r->shard_ids[r->n_shards++] =
                sc_strdup(json_string_value(json_object_get(s, "ShardId")) ?: "");
        }
        const char *tok = json_string_value(json_object_get(resp, "NextToken"));
        snprintf(next, sizeof(next), "%s", tok ? tok : "");
        json_decref(resp);
        if (!tok)
            break;
    }
    if (r->n_shards == 0) {
        run_fail(r, LT_EXIT_FAILED, "stream %s has no open shards", r->cfg.stream);
        return LT_EXIT_FAILED;
    }
    return 0;
}

static int start_consumers(struct run *r)
{
    bool classic = r->cfg.mode & LT_MODE_CLASSIC, efo = r->cfg.mode & LT_MODE_EFO;
    int n = (classic ? r->cfg.pollers : 0) + (efo ? r->cfg.consumers : 0);
    r->consumers = sc_calloc((size_t)SC_MAX(n, 1), sizeof(*r->consumers));
    double total = r->cfg.rate * (r->cfg.duration_s + r->cfg.warmup_s) * 1.2 + 1024;
    r->timeline_n = (int)SC_MIN(ceil(r->cfg.duration_s), (double)LT_TIMELINE_MAX_S);
    for (int p = 0; p < LT_PATH_N; p++) {
        r->timeline[p] = sc_calloc((size_t)SC_MAX(r->timeline_n, 1), sizeof(struct hist));
        for (int k = 0; k < r->timeline_n; k++)
            hist_init(&r->timeline[p][k]);
    }
    for (int i = 0; i < n; i++) {
        struct lt_consumer *c = &r->consumers[i];
        c->run = r;
        c->path = classic && i < r->cfg.pollers ? LT_PATH_CLASSIC : LT_PATH_EFO;
        c->idx = c->path == LT_PATH_CLASSIC ? i : i - (classic ? r->cfg.pollers : 0);
        snprintf(c->name, sizeof(c->name), "%s-%d", r->cfg.consumer_prefix, c->idx);
        c->seen = sc_calloc(1, (size_t)total / 8 + 1);
        hist_init(&c->hist);
        hist_init(&c->leg_in);
        hist_init(&c->leg_out);
        r->n_consumers++;
        int rv = c->path == LT_PATH_CLASSIC ? poller_start(c) : efo_register(c);
        if (rv < 0)
            return setup_error(
                r, c->path == LT_PATH_CLASSIC ? "GetShardIterator" : "RegisterStreamConsumer",
                rv == -EIO ? 1 : rv, r->failure[0] ? r->failure : "error");
        if (r->stopped)
            return r->exit_code;
        /* Enhanced consumers are registered LT_REGISTER_WAVE at a time, then awaited: AWS
         * allows 5 consumers CREATING at once, and waiting for each alone made setting up 20
         * consumers take 20 transition times. */
        bool wave_end = i + 1 == n || (c->idx + 1) % LT_REGISTER_WAVE == 0;
        for (int k = i; c->path == LT_PATH_EFO && wave_end && k >= 0; k--) {
            struct lt_consumer *w = &r->consumers[k];
            if (w->path != LT_PATH_EFO || w->efo_conns)
                break;
            rv = efo_await(w);
            if (rv < 0)
                return setup_error(r, "DescribeStreamConsumer", rv == -EIO ? 1 : rv,
                                   r->failure[0] ? r->failure : "error");
        }
    }
    /* Subscriptions start at LATEST: wait until every one is live before producing. Slow
     * emulators need about 30 ms per subscription; 15 s at least, 120 s at most. */
    int subs = 0;
    for (int i = 0; i < r->n_consumers; i++)
        subs += r->consumers[i].path == LT_PATH_EFO ? r->n_shards : 0;
    uint64_t wait_ms = SC_MIN(SC_MAX(15000ull, (uint64_t)subs * 30u), 120000ull);
    uint64_t deadline = clock_mono_ns() + wait_ms * 1000000u;
    for (int i = 0; i < r->n_consumers; i++)
        if (r->consumers[i].path == LT_PATH_EFO && efo_start(&r->consumers[i]) < 0)
            return setup_error(r, "SubscribeToShard", 1, "could not start");
    for (;;) {
        int want = 0, live = 0;
        for (int i = 0; i < r->n_consumers; i++) {
            if (r->consumers[i].path != LT_PATH_EFO)
                continue;
            want += r->n_shards;
            live += efo_live(&r->consumers[i]);
        }
        if (live == want || r->stopped)
            break;
        if (clock_mono_ns() > deadline) {
            run_fail(r, LT_EXIT_FAILED, "only %d of %d subscriptions live after %llu ms", live,
                     want, (unsigned long long)wait_ms);
            break;
        }
        kapi_sleep_ms(&r->api, 20);
    }
    return r->stopped ? r->exit_code : 0;
}

static bool all_delivered(const struct run *r)
{
    for (int i = 0; i < r->n_consumers; i++)
        if (run_missing(r, &r->consumers[i]) > 0)
            return false;
    return true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct run *r = arg;
    static uint64_t last_progress;
    uint64_t now = clock_mono_ns();
    if (r->stopped || now > r->deadline_mono_ns) {
        if (!r->stopped)
            run_fail(r, LT_EXIT_FAILED, "hard deadline reached");
        event_base_loopbreak(r->base);
        return;
    }
    for (int i = 0; i < r->n_consumers; i++) {
        if (r->consumers[i].path == LT_PATH_CLASSIC)
            poller_tick(&r->consumers[i]);
        else
            efo_tick(&r->consumers[i]);
    }
    if (!r->producing && r->in_flight == 0) {
        if (!r->draining) {
            r->draining = true;
            r->drain_start_mono_ns = now;
        }
        if (all_delivered(r) ||
            now > r->drain_start_mono_ns + (uint64_t)r->cfg.drain_ms * 1000000u) {
            event_base_loopbreak(r->base);
            return;
        }
    }
    if (!r->cfg.quiet && now - last_progress >= 1000000000u) {
        last_progress = now;
        report_progress(r);
    }
}

int run_execute(struct run *r)
{
    if (sigv4_creds_from_env(&r->api.creds) == 0)
        r->api.sign = true;
    r->api.base = r->base;
    r->api.ep = &r->ep;
    r->api.timeout_ms = (uint32_t)r->cfg.timeout_ms;
    r->ctl = hconn_create(r->base, &r->ep, (uint32_t)r->cfg.timeout_ms);
    int rv = ensure_stream(r);
    if (rv == 0)
        rv = list_shards(r);
    if (rv == 0)
        rv = start_consumers(r);
    if (rv != 0)
        return rv;
    if (!r->cfg.quiet)
        fprintf(stderr, "stream %s: %d open shards, %d consumers; warm-up %.1f s, run %.1f s\n",
                r->cfg.stream, r->n_shards, r->n_consumers, r->cfg.warmup_s, r->cfg.duration_s);
    uint64_t now = clock_mono_ns();
    r->t0_mono_ns = now;
    r->measure_start_ns = run_wall_ns() + (int64_t)(r->cfg.warmup_s * 1e9);
    r->measure_mono_ns = now + (uint64_t)(r->cfg.warmup_s * 1e9);
    r->produce_end_mono_ns = r->measure_mono_ns + (uint64_t)(r->cfg.duration_s * 1e9);
    r->deadline_mono_ns =
        r->produce_end_mono_ns + (uint64_t)r->cfg.drain_ms * 1000000u + 30000000000ull;
    if (producer_start(r) < 0)
        return LT_EXIT_FAILED;
    r->tick = event_new(r->base, -1, EV_PERSIST, on_tick, r);
    struct timeval tv = {0, 10000};
    event_add(r->tick, &tv);
    event_base_dispatch(r->base);
    r->ended_mono_ns = clock_mono_ns();
    event_del(r->tick);
    producer_stop(r);
    if (!r->cfg.quiet)
        fputc('\n', stderr);
    return 0;
}

void run_disconnect(struct run *r)
{
    if (r->tick)
        event_del(r->tick);
    producer_stop(r);
    for (int i = 0; i < r->n_consumers; i++) {
        struct lt_consumer *c = &r->consumers[i];
        if (c->path == LT_PATH_EFO) {
            efo_disconnect(c);
        } else {
            hconn_destroy(c->conn);
            c->conn = NULL;
        }
    }
}

static void cleanup_note(struct run *r, const char *what, const char *why)
{
    size_t n = strlen(r->cleanup_left);
    snprintf(r->cleanup_left + n, sizeof(r->cleanup_left) - n, "%s%s (%s)", n ? "; " : "", what,
             why);
}

/* One cleanup call: 0 when done (or already gone), else the reason in why. */
static int cleanup_call(struct run *r, const char *op, json_t *req, char why[64])
{
    json_t *resp = NULL;
    int rv = kapi_call_sync(&r->api, r->ctl, op, req, &resp, why);
    json_decref(resp);
    if (rv == 1 && strcmp(why, "ResourceNotFoundException") == 0)
        return 0;
    if (rv < 0)
        snprintf(why, 64, "%s", strerror(-rv));
    return rv;
}

void run_cleanup(struct run *r)
{
    char why[64];
    r->cleanup_ran = true;
    if (hconn_is_dead(r->ctl)) {
        hconn_destroy(r->ctl);
        r->ctl = hconn_create(r->base, &r->ep, (uint32_t)r->cfg.timeout_ms);
    }
    for (int i = 0; i < r->n_consumers; i++)
        r->cleanup_consumers_created += r->consumers[i].created;
    if (r->created_stream) {
        /* Deleting the stream takes its consumers with it. */
        if (cleanup_call(
                r, "DeleteStream",
                json_pack("{s:s, s:b}", "StreamName", r->cfg.stream, "EnforceConsumerDeletion", 1),
                why) == 0) {
            r->cleanup_stream_deleted = true;
            r->cleanup_consumers_deleted = r->cleanup_consumers_created;
        } else {
            char what[200];
            snprintf(what, sizeof(what), "stream %s and %d consumers", r->cfg.stream,
                     r->cleanup_consumers_created);
            cleanup_note(r, what, why);
        }
        return;
    }
    for (int i = 0; i < r->n_consumers; i++) {
        struct lt_consumer *c = &r->consumers[i];
        if (!c->created)
            continue;
        if (cleanup_call(
                r, "DeregisterStreamConsumer",
                json_pack("{s:s, s:s}", "StreamARN", r->stream_arn, "ConsumerName", c->name),
                why) == 0)
            r->cleanup_consumers_deleted++;
        else
            cleanup_note(r, c->name, why);
    }
}

void run_dispose(struct run *r)
{
    for (int i = 0; i < r->n_consumers; i++) {
        struct lt_consumer *c = &r->consumers[i];
        if (c->path == LT_PATH_CLASSIC)
            poller_stop(c);
        else
            efo_stop(c);
        free(c->seen);
    }
    free(r->consumers);
    for (int p = 0; p < LT_PATH_N; p++)
        free(r->timeline[p]);
    if (r->tick)
        event_free(r->tick);
    if (r->ptimer)
        event_free(r->ptimer);
    hconn_destroy(r->pconn);
    hconn_destroy(r->ctl);
    for (int i = 0; i < r->n_shards; i++)
        free(r->shard_ids[i]);
    free(r->shard_ids);
    free(r->acked);
    free(r->payload);
    free(r->b64);
    free(r->stream_json);
}
