/* report.c — the live progress line (stderr), the final side-by-side table (stdout),
 * results.json and an SVG CDF plot in --out. The plot is written by hand: a log-scale latency
 * axis (1 µs .. max) against cumulative fraction, one polyline per path. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/common.h"
#include "run.h"

static const char *path_names[LT_PATH_N] = {"standard", "enhanced"};

struct path_summary {
    bool present;
    int consumers;
    struct hist hist, leg_in, leg_out;
    uint64_t received, duplicates, bytes, expected, missing;
    double seconds;
};

static void summarize(const struct run *r, struct path_summary s[LT_PATH_N])
{
    /* Rates are over the measured window actually produced (shorter when a run failed). */
    uint64_t end = SC_MIN(r->produce_end_mono_ns, r->ended_mono_ns);
    double secs = end > r->measure_mono_ns ? (double)(end - r->measure_mono_ns) / 1e9 : 0;
    if (secs < 0.001)
        secs = 0.001;
    memset(s, 0, sizeof(struct path_summary) * LT_PATH_N);
    for (int p = 0; p < LT_PATH_N; p++) {
        hist_init(&s[p].hist);
        hist_init(&s[p].leg_in);
        hist_init(&s[p].leg_out);
        s[p].seconds = secs;
    }
    for (int i = 0; i < r->n_consumers; i++) {
        const struct lt_consumer *c = &r->consumers[i];
        struct path_summary *ps = &s[c->path];
        ps->present = true;
        ps->consumers++;
        hist_merge(&ps->hist, &c->hist);
        hist_merge(&ps->leg_in, &c->leg_in);
        hist_merge(&ps->leg_out, &c->leg_out);
        ps->received += c->received;
        ps->duplicates += c->duplicates;
        ps->bytes += c->bytes;
        ps->expected += r->measured_acked;
        ps->missing += run_missing(r, c);
    }
}

void report_progress(const struct run *r)
{
    uint64_t now = clock_mono_ns();
    double t = (double)(now - r->t0_mono_ns) / 1e9;
    const char *phase = r->draining ? "drain" : now < r->measure_mono_ns ? "warmup" : "run";
    uint64_t got[LT_PATH_N] = {0}, p99[LT_PATH_N] = {0};
    struct hist h;
    for (int p = 0; p < LT_PATH_N; p++) {
        hist_init(&h);
        for (int i = 0; i < r->n_consumers; i++)
            if ((int)r->consumers[i].path == p)
                hist_merge(&h, &r->consumers[i].hist);
        got[p] = h.total;
        p99[p] = hist_percentile(&h, 99.0);
    }
    fprintf(stderr,
            "\r[%6.1fs %-6s] sent %llu acked %llu fail %llu | std recv %llu p99 %.1fms thr %llu | "
            "enh recv %llu p99 %.1fms   ",
            t, phase, (unsigned long long)r->sent, (unsigned long long)r->acked_n,
            (unsigned long long)r->put_failed, (unsigned long long)got[0], (double)p99[0] / 1e3,
            (unsigned long long)r->stats[LT_PATH_CLASSIC].throttled, (unsigned long long)got[1],
            (double)p99[1] / 1e3);
    fflush(stderr);
}

static void fmt_ms(char *out, size_t n, bool present, const struct hist *h, double pct)
{
    if (!present || h->total == 0) {
        snprintf(out, n, "-");
        return;
    }
    uint64_t v = pct > 100 ? h->max_us : hist_percentile(h, pct);
    snprintf(out, n, "%.3f", (double)v / 1e3);
}

static void print_table(const struct run *r, const struct path_summary s[LT_PATH_N])
{
    static const struct {
        const char *label;
        double pct;
    } rows[] = {
        {"p50 ms", 50}, {"p90 ms", 90}, {"p99 ms", 99}, {"p99.9 ms", 99.9}, {"max ms", 101}};
    printf("\n%-26s %16s %16s\n", "", "standard", "enhanced");
    for (size_t i = 0; i < SC_ARRAY_LEN(rows); i++) {
        char a[32], b[32];
        fmt_ms(a, sizeof(a), s[0].present, &s[0].hist, rows[i].pct);
        fmt_ms(b, sizeof(b), s[1].present, &s[1].hist, rows[i].pct);
        printf("%-26s %16s %16s\n", rows[i].label, a, b);
    }
    /* Where the delay is: before the server stamped the record, or after. */
    static const struct {
        const char *label;
        bool out; /* leg_out, else leg_in */
        double pct;
    } legs[] = {{"send->arrival p50 ms", false, 50},
                {"send->arrival p99 ms", false, 99},
                {"arrival->delivery p50 ms", true, 50},
                {"arrival->delivery p99 ms", true, 99}};
    for (size_t i = 0; i < SC_ARRAY_LEN(legs); i++) {
        char v[LT_PATH_N][32];
        for (int p = 0; p < LT_PATH_N; p++)
            fmt_ms(v[p], sizeof(v[p]), s[p].present, legs[i].out ? &s[p].leg_out : &s[p].leg_in,
                   legs[i].pct);
        printf("%-26s %16s %16s\n", legs[i].label, v[0], v[1]);
    }
    char v[LT_PATH_N][32];
#define ROW(label, expr)                                                                           \
    do {                                                                                           \
        for (int p = 0; p < LT_PATH_N; p++)                                                        \
            if (s[p].present)                                                                      \
                expr;                                                                              \
            else                                                                                   \
                snprintf(v[p], sizeof(v[p]), "-");                                                 \
        printf("%-26s %16s %16s\n", label, v[0], v[1]);                                            \
    } while (0)
    ROW("consumers", snprintf(v[p], 32, "%d", s[p].consumers));
    ROW("records delivered", snprintf(v[p], 32, "%llu", (unsigned long long)s[p].received));
    ROW("records missing", snprintf(v[p], 32, "%llu", (unsigned long long)s[p].missing));
    ROW("records/s delivered", snprintf(v[p], 32, "%.1f", (double)s[p].received / s[p].seconds));
    ROW("bytes/s delivered", snprintf(v[p], 32, "%.0f", (double)s[p].bytes / s[p].seconds));
    ROW("throttled calls", snprintf(v[p], 32, "%llu", (unsigned long long)r->stats[p].throttled));
    ROW("MillisBehindLatest max",
        snprintf(v[p], 32, "%lld", (long long)r->stats[p].millis_behind_max));
#undef ROW
    /* A tail from a few stalled seconds reads differently from one spread over the run. */
    for (int p = 0; p < LT_PATH_N && r->timeline_n <= 60; p++) {
        if (!s[p].present || s[p].hist.total == 0)
            continue;
        printf("%s p99 ms by second:", path_names[p]);
        for (int k = 0; k < r->timeline_n; k++)
            printf(" %.1f", (double)hist_percentile(&r->timeline[p][k], 99) / 1e3);
        printf("\n");
    }
    printf("produced: %llu records sent, %llu acknowledged, %llu failed (%llu throttled), "
           "%llu behind schedule; measured %llu\n",
           (unsigned long long)r->sent, (unsigned long long)r->acked_n,
           (unsigned long long)r->put_failed, (unsigned long long)r->put_throttled,
           (unsigned long long)r->behind, (unsigned long long)r->measured_acked);
    if (r->put_hist.total)
        printf("PutRecords call latency: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
               (double)hist_percentile(&r->put_hist, 50) / 1e3,
               (double)hist_percentile(&r->put_hist, 99) / 1e3, (double)r->put_hist.max_us / 1e3);
    if (r->failure[0]) {
        printf("FAILED: %s\n", r->failure);
        /* What the failure cost, so a failed run is still read correctly. */
        printf("lost:");
        for (int p = 0; p < LT_PATH_N; p++)
            if (s[p].present)
                printf(" %s %llu of %llu expected deliveries;", path_names[p],
                       (unsigned long long)s[p].missing, (unsigned long long)s[p].expected);
        printf(" producer %llu records refused, %llu never sent (behind schedule)\n",
               (unsigned long long)r->put_failed, (unsigned long long)r->behind);
    }
}

void report_cleanup(const struct run *r, FILE *f)
{
    int consumers = 0;
    for (int i = 0; i < r->n_consumers; i++)
        consumers += r->consumers[i].created;
    if (!r->cleanup_ran) {
        if (r->created_stream || consumers > 0)
            fprintf(f, "kept: %s%s%s%d consumer(s) created by this run (--cleanup deletes them)\n",
                    r->created_stream ? "stream " : "", r->created_stream ? r->cfg.stream : "",
                    r->created_stream ? " and " : "", consumers);
        return;
    }
    fprintf(f, "cleanup: %s%s%sderegistered %d of %d consumer(s) created by this run%s%s\n",
            r->cleanup_stream_deleted ? "deleted stream " : "",
            r->cleanup_stream_deleted ? r->cfg.stream : "",
            r->cleanup_stream_deleted ? " (with its consumers); " : "",
            r->cleanup_consumers_deleted, r->cleanup_consumers_created,
            r->cleanup_left[0] ? "; LEFT BEHIND: " : "", r->cleanup_left);
}

static json_t *hist_json(const struct hist *h)
{
    json_t *cdf = json_array();
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (!h->counts[i])
            continue;
        uint64_t lo, hi;
        hist_bucket_range(i, &lo, &hi);
        seen += h->counts[i];
        json_array_append_new(cdf,
                              json_pack("[I, f]", (json_int_t)hi, (double)seen / (double)h->total));
    }
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "count", (json_int_t)h->total, "p50_us",
        (json_int_t)hist_percentile(h, 50), "p90_us", (json_int_t)hist_percentile(h, 90), "p99_us",
        (json_int_t)hist_percentile(h, 99), "p999_us", (json_int_t)hist_percentile(h, 99.9),
        "min_us", (json_int_t)(h->total ? h->min_us : 0), "max_us", (json_int_t)h->max_us,
        "mean_us", hist_mean(h), "cdf", cdf);
}

static json_t *timeline_json(const struct run *r, int path)
{
    json_t *a = json_array();
    for (int k = 0; k < r->timeline_n; k++) {
        const struct hist *h = &r->timeline[path][k];
        json_array_append_new(
            a, json_pack("{s:i, s:I, s:I, s:I, s:I}", "second", k, "records", (json_int_t)h->total,
                         "p50_us", (json_int_t)hist_percentile(h, 50), "p99_us",
                         (json_int_t)hist_percentile(h, 99), "max_us", (json_int_t)h->max_us));
    }
    return a;
}

static json_t *pipes_json(const struct run *r, double secs)
{
    json_t *a = json_array();
    for (int i = 0; i < r->n_consumers; i++) {
        const struct lt_consumer *c = &r->consumers[i];
        for (int k = 0; c->pipes && k < r->n_shards; k++) {
            const struct lt_pipe *p = &c->pipes[k];
            json_array_append_new(
                a, json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:i}", "path", path_names[c->path],
                             "consumer", c->name, "shard", r->shard_ids[k], "records",
                             (json_int_t)p->records, "bytes", (json_int_t)p->bytes, "mib_per_s",
                             (double)p->bytes / 1048576.0 / secs, "subscribes", p->subscribes));
        }
    }
    return a;
}

static json_t *stress_json(const struct run *r, double secs);

static int write_json(const struct run *r, const struct path_summary s[LT_PATH_N], const char *path)
{
    json_t *paths = json_object();
    for (int p = 0; p < LT_PATH_N; p++) {
        if (!s[p].present)
            continue;
        json_t *o = json_pack(
            "{s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:I, s:o}", "consumers",
            s[p].consumers, "delivered", (json_int_t)s[p].received, "expected",
            (json_int_t)s[p].expected, "missing", (json_int_t)s[p].missing, "duplicates",
            (json_int_t)s[p].duplicates, "records_per_s", (double)s[p].received / s[p].seconds,
            "bytes_per_s", (double)s[p].bytes / s[p].seconds, "calls",
            (json_int_t)r->stats[p].calls, "throttled", (json_int_t)r->stats[p].throttled, "errors",
            (json_int_t)r->stats[p].errors, "millis_behind_latest_max",
            (json_int_t)r->stats[p].millis_behind_max, "latency", hist_json(&s[p].hist));
        json_object_set_new(o, "latency_send_to_arrival", hist_json(&s[p].leg_in));
        json_object_set_new(o, "latency_arrival_to_delivery", hist_json(&s[p].leg_out));
        json_object_set_new(o, "timeline", timeline_json(r, p));
        json_object_set_new(paths, path_names[p], o);
    }
    const char *mode = r->cfg.mode == LT_MODE_BOTH  ? "both"
                       : r->cfg.mode == LT_MODE_EFO ? "efo"
                                                    : "classic";
    json_t *root = json_pack(
        "{s:{s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:i, s:i, s:f, s:f, s:s, s:b, s:b, s:b}, "
        "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:s?, s:b}",
        "config", "endpoint", r->cfg.endpoint, "stream", r->cfg.stream, "shards", r->n_shards,
        "consumers", r->cfg.consumers, "pollers", r->cfg.pollers, "poll_interval_ms",
        r->cfg.poll_interval_ms, "rate", r->cfg.rate, "tick_ms", r->cfg.tick_ms, "record_size",
        r->cfg.record_size, "duration_s", r->cfg.duration_s, "warmup_s", r->cfg.warmup_s, "mode",
        mode, "h1", r->cfg.h1, "stress", r->cfg.stress, "cbor", r->cfg.cbor, "producer", "sent",
        (json_int_t)r->sent, "acked", (json_int_t)r->acked_n, "failed", (json_int_t)r->put_failed,
        "throttled", (json_int_t)r->put_throttled, "calls", (json_int_t)r->put_calls, "behind",
        (json_int_t)r->behind, "measured", (json_int_t)r->measured_acked, "paths", paths, "pipes",
        pipes_json(r, s[0].seconds), "failure", r->failure[0] ? r->failure : NULL, "ok",
        r->exit_code == 0);
    json_object_set_new(json_object_get(root, "producer"), "put_latency", hist_json(&r->put_hist));
    json_object_set_new(root, "cleanup",
                        json_pack("{s:b, s:b, s:b, s:i, s:i, s:s?}", "requested", r->cfg.cleanup,
                                  "stream_created", r->created_stream, "stream_deleted",
                                  r->cleanup_stream_deleted, "consumers_created",
                                  r->cleanup_consumers_created, "consumers_deleted",
                                  r->cleanup_consumers_deleted, "left_behind",
                                  r->cleanup_left[0] ? r->cleanup_left : NULL));
    if (r->cfg.stress)
        json_object_set_new(root, "stress", stress_json(r, s[0].seconds));
    int rv = json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    return rv == 0 ? 0 : -EIO;
}

/* Grid, tick labels and axis titles of the CDF plot: decades of latency on x, 0..1 on y. */
static void svg_axes(FILE *f, double w, double h, double ml, double mt, double pw, double ph,
                     double d0, double d1)
{
    (void)w;
    for (double d = d0; d <= d1; d++) {
        double x = ml + (d - d0) / (d1 - d0) * pw;
        double us = pow(10, d);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%g ms</text>\n",
                x, mt, x, mt + ph, x, mt + ph + 18, us / 1e3);
    }
    for (int i = 0; i <= 10; i++) {
        double y = mt + ph - i / 10.0 * ph;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>\n"
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n",
                ml, y, ml + pw, y, ml - 6, y + 4, i / 10.0);
    }
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">latency (log scale)</text>\n"
            "<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" "
            "text-anchor=\"middle\">fraction of records</text>\n",
            ml + pw / 2, h - 16, mt + ph / 2, mt + ph / 2);
}

/* CDF plot: x = log10(latency µs) from 10 µs-ish to the max decade, y = fraction 0..1. */
static int write_svg(const struct path_summary s[LT_PATH_N], const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    const double w = 800, h = 480, ml = 70, mr = 20, mt = 40, mb = 60;
    uint64_t lo = UINT64_MAX, hi = 1;
    for (int p = 0; p < LT_PATH_N; p++) {
        if (s[p].hist.total) {
            lo = SC_MIN(lo, s[p].hist.min_us);
            hi = SC_MAX(hi, s[p].hist.max_us);
        }
    }
    if (lo == UINT64_MAX)
        lo = 1;
    double d0 = floor(log10((double)SC_MAX(lo, 1u))), d1 = ceil(log10((double)hi + 1));
    if (d1 <= d0)
        d1 = d0 + 1;
    double pw = w - ml - mr, ph = h - mt - mb;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n<text x=\"%.0f\" y=\"24\" font-size=\"16\">Propagation delay "
            "CDF (sent -&gt; received)</text>\n",
            w, h, ml);
    svg_axes(f, w, h, ml, mt, pw, ph, d0, d1);
    static const char *colors[LT_PATH_N] = {"#d62728", "#1f77b4"};
    static const char *labels[LT_PATH_N] = {"standard (GetRecords)", "enhanced (SubscribeToShard)"};
    int legend = 0;
    for (int p = 0; p < LT_PATH_N; p++) {
        const struct hist *hh = &s[p].hist;
        if (!hh->total)
            continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[p]);
        uint64_t seen = 0;
        double prev_y = mt + ph;
        for (unsigned i = 0; i < HIST_BUCKETS; i++) {
            if (!hh->counts[i])
                continue;
            uint64_t blo, bhi;
            hist_bucket_range(i, &blo, &bhi);
            seen += hh->counts[i];
            double x = ml + (log10((double)SC_MAX(bhi, 1u)) - d0) / (d1 - d0) * pw;
            double y = mt + ph - (double)seen / (double)hh->total * ph;
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", x, prev_y, x, y);
            prev_y = y;
        }
        fprintf(f,
                "\"/>\n<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%.0f\">%s: p50 %.2f ms, p99 %.2f ms (n=%llu)</text>\n",
                ml + 10, mt + 12 + legend * 18, colors[p], ml + 30, mt + 17 + legend * 18,
                labels[p], (double)hist_percentile(hh, 50) / 1e3,
                (double)hist_percentile(hh, 99) / 1e3, (unsigned long long)hh->total);
        legend++;
    }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -errno;
}

struct stress_sum {
    int pipes, live, resubscribes;
    double min, mean, max, total; /* MiB/s */
};

static void stress_sum(const struct run *r, double secs, struct stress_sum *ss)
{
    *ss = (struct stress_sum){.min = 0};
    double min = 1e18, max = 0, sum = 0;
    for (int i = 0; i < r->n_consumers; i++) {
        const struct lt_consumer *c = &r->consumers[i];
        if (c->path != LT_PATH_EFO || !c->pipes)
            continue;
        for (int k = 0; k < r->n_shards; k++) {
            double mibs = (double)c->pipes[k].bytes / 1048576.0 / secs;
            min = SC_MIN(min, mibs);
            max = SC_MAX(max, mibs);
            sum += mibs;
            ss->pipes++;
            ss->live += c->pipes[k].live;
            ss->resubscribes += SC_MAX(c->pipes[k].subscribes - 1, 0);
        }
    }
    if (ss->pipes > 0)
        *ss = (struct stress_sum){ss->pipes, ss->live, ss->resubscribes, min, sum / ss->pipes,
                                  max,       sum};
}

static json_t *stress_json(const struct run *r, double secs)
{
    struct stress_sum ss;
    stress_sum(r, secs, &ss);
    return json_pack("{s:i, s:i, s:i, s:f, s:f, s:f, s:f}", "pipes", ss.pipes, "live", ss.live,
                     "resubscribes", ss.resubscribes, "pipe_mib_per_s_min", ss.min,
                     "pipe_mib_per_s_mean", ss.mean, "pipe_mib_per_s_max", ss.max,
                     "egress_mib_per_s", ss.total);
}

static void print_stress(const struct run *r, double secs)
{
    struct stress_sum ss;
    stress_sum(r, secs, &ss);
    if (ss.pipes == 0)
        return;
    printf("fan-out: %d pipes (shards x consumers), %d went live, %d resubscribes; per-pipe "
           "delivered MiB/s min %.3f mean %.3f max %.3f; total egress %.2f MiB/s (measured "
           "records' Data bytes)\n",
           ss.pipes, ss.live, ss.resubscribes, ss.min, ss.mean, ss.max, ss.total);
}

int report_final(struct run *r)
{
    struct path_summary s[LT_PATH_N];
    summarize(r, s);
    for (int p = 0; p < LT_PATH_N; p++) {
        if (!s[p].present)
            continue;
        if (s[p].missing > 0 && r->exit_code == 0) {
            r->exit_code = LT_EXIT_FAILED;
            snprintf(r->failure, sizeof(r->failure),
                     "%s path lost %llu of %llu expected deliveries", path_names[p],
                     (unsigned long long)s[p].missing, (unsigned long long)s[p].expected);
        }
    }
    if (r->measured_acked == 0 && r->exit_code == 0) {
        r->exit_code = LT_EXIT_FAILED;
        snprintf(r->failure, sizeof(r->failure), "no record was acknowledged during the run");
    }
    print_table(r, s);
    if (r->cfg.stress)
        print_stress(r, s[0].seconds);
    report_cleanup(r, stdout);
    if (r->cfg.out_dir) {
        char p[4096];
        mkdir(r->cfg.out_dir, 0755);
        snprintf(p, sizeof(p), "%s/results.json", r->cfg.out_dir);
        if (write_json(r, s, p) < 0)
            LOG_ERROR("cannot write %s", p);
        snprintf(p, sizeof(p), "%s/latency-cdf.svg", r->cfg.out_dir);
        if (write_svg(s, p) < 0)
            LOG_ERROR("cannot write %s", p);
    }
    fflush(stdout);
    return r->exit_code;
}
