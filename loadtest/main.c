/* main.c — shardcast-loadtest command line: standard (GetRecords) vs enhanced
 * (SubscribeToShard) propagation delay against any Kinesis endpoint. See README.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/common.h"
#include "run.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shardcast-loadtest --endpoint URL [options]\n"
            "  --endpoint URL        http://host:port (h2c) or https://host (TLS, ALPN h2)\n"
            "  --stream NAME         stream to use, created when missing (default shardcast-lt)\n"
            "  --shards N            shard count when creating the stream (default 1)\n"
            "  --consumers N         enhanced fan-out consumers (default 1)\n"
            "  --pollers N           classic GetRecords consumers (default 1)\n"
            "  --poll-interval-ms N  GetRecords period per shard (default 200 = 5 calls/s)\n"
            "  --rate N              records/s produced (default 100)\n"
            "  --tick-ms N           producer pacing: every N ms one PutRecords batch of the\n"
            "                        records due (default 5)\n"
            "  --record-size N       bytes per record, %d - %d (default 100); past 1 MiB the\n"
            "                        stream is created with MaxRecordSizeInKiB for them\n"
            "  --duration S          measured seconds (default 10)\n"
            "  --warmup S            unmeasured seconds first (default 2)\n"
            "  --drain-ms N          wait for late deliveries after producing (default 5000)\n"
            "  --timeout-ms N        per request (default 10000)\n"
            "  --mode efo|classic|both  (default both)\n"
            "  --stress              fan-out stress: report per-pipe MiB/s and total egress\n"
            "  --cbor                subscribe in CBOR (application/x-amz-cbor-1.1), as the Java\n"
            "                        SDKs and KCL do; events are decoded from CBOR\n"
            "  --consumer-prefix P   enhanced consumer names P-0.. (default shardcast-lt)\n"
            "  --cleanup             delete at the end what this run created: the stream (with\n"
            "                        its consumers) or else the consumers it registered\n"
            "  --out DIR             write results.json and latency-cdf.svg there\n"
            "  --h1                  HTTP/1.1 instead of HTTP/2 (classic path only)\n"
            "  --insecure            do not verify the TLS certificate\n"
            "  --quiet               no progress line\n"
            "Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN],\n"
            "region AWS_REGION or AWS_DEFAULT_REGION; requests are unsigned without them.\n"
            "Exit: 0 ok, 1 run failed or records lost, 2 usage, 3 endpoint unreachable or\n"
            "credentials refused.\n",
            LT_PAYLOAD_MIN, LT_PAYLOAD_MAX);
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

enum {
    O_POLL = 256,
    O_SIZE,
    O_DRAIN,
    O_TIMEOUT,
    O_PREFIX,
    O_H1,
    O_INSECURE,
    O_STRESS,
    O_CLEANUP,
    O_CBOR,
    O_TICK
};

static const struct option lt_options[] = {{"endpoint", 1, 0, 'e'},
                                           {"stream", 1, 0, 's'},
                                           {"shards", 1, 0, 'n'},
                                           {"consumers", 1, 0, 'c'},
                                           {"pollers", 1, 0, 'p'},
                                           {"poll-interval-ms", 1, 0, O_POLL},
                                           {"rate", 1, 0, 'r'},
                                           {"tick-ms", 1, 0, O_TICK},
                                           {"record-size", 1, 0, O_SIZE},
                                           {"duration", 1, 0, 'd'},
                                           {"warmup", 1, 0, 'w'},
                                           {"drain-ms", 1, 0, O_DRAIN},
                                           {"timeout-ms", 1, 0, O_TIMEOUT},
                                           {"mode", 1, 0, 'm'},
                                           {"out", 1, 0, 'o'},
                                           {"consumer-prefix", 1, 0, O_PREFIX},
                                           {"h1", 0, 0, O_H1},
                                           {"insecure", 0, 0, O_INSECURE},
                                           {"stress", 0, 0, O_STRESS},
                                           {"cbor", 0, 0, O_CBOR},
                                           {"cleanup", 0, 0, O_CLEANUP},
                                           {"quiet", 0, 0, 'q'},
                                           {"help", 0, 0, 'h'},
                                           {0, 0, 0, 0}};

/* Numeric options: range and destination (an int or a double field of lt_config). */
static bool apply_numeric(int o, const char *arg, struct lt_config *cfg, bool *ok)
{
    static const struct {
        int opt;
        double lo, hi;
        size_t off;
        bool is_double;
    } nums[] = {
        {'n', 1, 10000, offsetof(struct lt_config, shards), false},
        {'c', 0, 10000, offsetof(struct lt_config, consumers), false},
        {'p', 0, 10000, offsetof(struct lt_config, pollers), false},
        {O_POLL, 1, 60000, offsetof(struct lt_config, poll_interval_ms), false},
        {'r', 0.1, 10e6, offsetof(struct lt_config, rate), true},
        {O_TICK, 1, 1000, offsetof(struct lt_config, tick_ms), false},
        {O_SIZE, LT_PAYLOAD_MIN, LT_PAYLOAD_MAX, offsetof(struct lt_config, record_size), false},
        {'d', 0.1, 86400, offsetof(struct lt_config, duration_s), true},
        {'w', 0, 3600, offsetof(struct lt_config, warmup_s), true},
        {O_DRAIN, 0, 600000, offsetof(struct lt_config, drain_ms), false},
        {O_TIMEOUT, 100, 600000, offsetof(struct lt_config, timeout_ms), false},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(nums); i++) {
        if (nums[i].opt != o)
            continue;
        double v = 0;
        *ok = parse_num(arg, nums[i].lo, nums[i].hi, &v);
        char *field = (char *)cfg + nums[i].off;
        if (nums[i].is_double)
            *(double *)(void *)field = v;
        else
            *(int *)(void *)field = (int)v;
        return true;
    }
    return false;
}

/* Applies one option; false for a bad value or an unknown option. */
static bool apply_option(int o, const char *arg, struct lt_config *cfg)
{
    bool ok = true;
    if (apply_numeric(o, arg, cfg, &ok))
        return ok;
    switch (o) {
    case 'e': cfg->endpoint = arg; break;
    case 's': cfg->stream = arg; break;
    case 'o': cfg->out_dir = arg; break;
    case O_PREFIX: cfg->consumer_prefix = arg; break;
    case O_H1: cfg->h1 = true; break;
    case O_INSECURE: cfg->insecure = true; break;
    case O_STRESS: cfg->stress = true; break;
    case O_CBOR: cfg->cbor = true; break;
    case O_CLEANUP: cfg->cleanup = true; break;
    case 'q': cfg->quiet = true; break;
    case 'm':
        if (strcmp(arg, "efo") == 0)
            cfg->mode = LT_MODE_EFO;
        else if (strcmp(arg, "classic") == 0)
            cfg->mode = LT_MODE_CLASSIC;
        else if (strcmp(arg, "both") == 0)
            cfg->mode = LT_MODE_BOTH;
        else
            return false;
        break;
    case 'h': usage(stdout); exit(0);
    default: return false;
    }
    return true;
}

static int parse_args(int argc, char **argv, struct lt_config *cfg)
{
    *cfg = (struct lt_config){.stream = "shardcast-lt",
                              .consumer_prefix = "shardcast-lt",
                              .shards = 1,
                              .consumers = 1,
                              .pollers = 1,
                              .poll_interval_ms = 200,
                              .rate = 100,
                              .tick_ms = 5,
                              .record_size = 100,
                              .duration_s = 10,
                              .warmup_s = 2,
                              .drain_ms = 5000,
                              .timeout_ms = 10000,
                              .mode = LT_MODE_BOTH};
    int o;
    while ((o = getopt_long(argc, argv, "e:s:n:c:p:r:d:w:m:o:qh", lt_options, NULL)) != -1) {
        if (!apply_option(o, optarg, cfg)) {
            if (optarg && o != '?')
                fprintf(stderr, "shardcast-loadtest: bad value for option: %s\n", optarg);
            return -1;
        }
    }
    if (optind != argc || !cfg->endpoint) {
        fprintf(stderr, "shardcast-loadtest: %s\n",
                optind != argc ? "unexpected argument" : "--endpoint is required");
        return -1;
    }
    if (cfg->stress)
        cfg->mode = LT_MODE_EFO;
    if ((cfg->mode == LT_MODE_CLASSIC && cfg->pollers == 0) ||
        (cfg->mode == LT_MODE_EFO && cfg->consumers == 0) ||
        (cfg->mode == LT_MODE_BOTH && cfg->pollers + cfg->consumers == 0)) {
        fprintf(stderr, "shardcast-loadtest: no consumer for the selected --mode\n");
        return -1;
    }
    if (cfg->h1 && (cfg->mode & LT_MODE_EFO) && cfg->consumers > 0) {
        fprintf(stderr, "shardcast-loadtest: --h1 supports only --mode classic\n");
        return -1;
    }
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct run *r = arg;
    run_fail(r, LT_EXIT_FAILED, "interrupted by signal %d", (int)sig);
    event_base_loopbreak(r->base);
}

int main(int argc, char **argv)
{
    struct run r = {0};
    if (parse_args(argc, argv, &r.cfg) < 0) {
        usage(stderr);
        return LT_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    int rv = endpoint_init(&r.ep, r.cfg.endpoint, r.cfg.h1, r.cfg.insecure);
    if (rv == -EINVAL) {
        fprintf(stderr, "shardcast-loadtest: bad --endpoint %s (want http[s]://host[:port])\n",
                r.cfg.endpoint);
        return LT_EXIT_USAGE;
    }
    if (rv < 0) {
        fprintf(stderr, "shardcast-loadtest: cannot resolve %s\n", r.cfg.endpoint);
        return LT_EXIT_UNREACHABLE;
    }
    r.base = event_base_new();
    /* SIGINT/SIGTERM end the run as a failure, so the report and --cleanup still happen. */
    struct event *sigs[2] = {evsignal_new(r.base, SIGINT, on_signal, &r),
                             evsignal_new(r.base, SIGTERM, on_signal, &r)};
    for (int i = 0; i < 2; i++)
        evsignal_add(sigs[i], NULL);
    rv = run_execute(&r);
    run_disconnect(&r);
    if (r.cfg.cleanup)
        run_cleanup(&r);
    if (rv == 0) {
        rv = report_final(&r);
    } else {
        fprintf(stderr, "shardcast-loadtest: %s\n", r.failure[0] ? r.failure : "setup failed");
        report_cleanup(&r, stderr);
    }
    for (int i = 0; i < 2; i++)
        event_free(sigs[i]);
    run_dispose(&r);
    event_base_free(r.base);
    endpoint_dispose(&r.ep);
    return rv;
}
